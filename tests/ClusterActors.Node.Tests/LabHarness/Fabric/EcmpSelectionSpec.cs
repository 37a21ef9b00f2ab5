using System.Net;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Tests.LabHarness.Fabric;

/// <summary>
/// The DC router's ECMP choice as a table (flow in, next hop out) plus the rendezvous properties per-tunnel failover
/// depends on, on synthetic flows; no router, no timer.
/// </summary>
public class EcmpSelectionSpec
{
    private const string C1 = "192.168.129.254";
    private const string C2 = "192.168.130.254";
    private const string C3 = "192.168.131.254";
    private const string Lb1 = "192.168.202.35";

    /// <summary>One row: a flow, the live next hops, the hash seed, the expected next hop (null: none alive).</summary>
    public sealed record Row(string Name, string Source, string Destination, string[] Alive, ulong Seed, string? Expected);

    /// <summary>
    /// Pinned values (computed once by an independent implementation of the same hash): a change here is a change of
    /// which cluster owns which client, in every saved scenario.
    /// </summary>
    private static readonly Row[] Table =
    [
        new("CLIENT1, seed 0", "192.168.7.2", Lb1, [C1, C2], 0, C2),
        new("CLIENT1, seed 1 (the scenario's: cluster 1 as in the seed)", "192.168.7.2", Lb1, [C1, C2], 1, C1),
        new(".3 seed 0", "192.168.7.3", Lb1, [C1, C2], 0, C2),
        new(".4 seed 0", "192.168.7.4", Lb1, [C1, C2], 0, C1),
        new(".5 seed 0", "192.168.7.5", Lb1, [C1, C2], 0, C2),
        new(".10 seed 0", "192.168.7.10", Lb1, [C1, C2], 0, C1),
        new(".11 seed 0", "192.168.7.11", Lb1, [C1, C2], 0, C1),
        new("10.0.0.1 seed 0", "10.0.0.1", Lb1, [C1, C2], 0, C2),
        new("172.16.5.9 seed 0", "172.16.5.9", Lb1, [C1, C2], 0, C1),
        new(".10 seed 1", "192.168.7.10", Lb1, [C1, C2], 1, C2),
        new("172.16.5.9 seed 1", "172.16.5.9", Lb1, [C1, C2], 1, C2),
        new("reverse direction is another flow", Lb1, "192.168.7.2", [C1, C2], 0, C2),
        new("3 next hops: .3 moves to the third", "192.168.7.3", Lb1, [C1, C2, C3], 0, C3),
        new("3 next hops: .2 stays", "192.168.7.2", Lb1, [C1, C2, C3], 0, C2),
        new("3 next hops, seed 1: .4 to the third", "192.168.7.4", Lb1, [C1, C2, C3], 1, C3),
        new("3 next hops, seed 1: .5 stays", "192.168.7.5", Lb1, [C1, C2, C3], 1, C1),
        new("C2 dead: .2 falls to C1", "192.168.7.2", Lb1, [C1], 0, C1),
        new("only C2 alive", "192.168.7.4", Lb1, [C2], 0, C2),
        new("none alive", "192.168.7.2", Lb1, [], 0, null),
    ];

    public static TheoryData<string> Rows() => new(Table.Select(r => r.Name));

    [Theory]
    [MemberData(nameof(Rows))]
    public void Choose_picks_the_pinned_next_hop(string name)
    {
        var row = Table.Single(r => r.Name == name);
        var alive = row.Alive.Select(IPAddress.Parse).ToArray();

        var chosen = EcmpSelection.Choose(IPAddress.Parse(row.Source), IPAddress.Parse(row.Destination), alive, row.Seed);

        Assert.Equal(row.Expected, chosen?.ToString());
        // The configured order of the next hops changes nothing: weights belong to addresses, not positions.
        Assert.Equal(chosen, EcmpSelection.Choose(IPAddress.Parse(row.Source), IPAddress.Parse(row.Destination), alive.Reverse().ToArray(), row.Seed));
    }

    [Fact]
    public void The_alive_mask_selects_which_next_hops_compete()
    {
        uint[] hops = [Ipv4Address.Parse(C1), Ipv4Address.Parse(C2), Ipv4Address.Parse(C3)];
        uint src = Ipv4Address.Parse("192.168.7.3"), dst = Ipv4Address.Parse(Lb1);

        Assert.Equal(2, EcmpSelection.Choose(src, dst, hops, 0b111));
        Assert.Equal(1, EcmpSelection.Choose(src, dst, hops, 0b011)); // .3 with C1, C2 → C2 (table above)
        Assert.Equal(0, EcmpSelection.Choose(src, dst, hops, 0b001));
        Assert.Equal(-1, EcmpSelection.Choose(src, dst, hops, 0));
        Assert.Equal(-1, EcmpSelection.Choose(src, dst, [], uint.MaxValue));
    }

    private static (uint Src, uint Dst)[] SyntheticFlows(int n) =>
        Enumerable.Range(0, n).Select(i => (Ipv4Address.Parse($"10.{i / 250 % 250}.{i % 250}.{1 + i % 7}"), Ipv4Address.Parse(Lb1))).ToArray();

    private static uint[] Addresses(params string[] a) => a.Select(Ipv4Address.Parse).ToArray();

    private static uint[] Assign((uint Src, uint Dst)[] flows, uint[] hops, uint mask) =>
        flows.Select(f => { int i = EcmpSelection.Choose(f.Src, f.Dst, hops, mask); return i < 0 ? 0u : hops[i]; }).ToArray();

    [Theory]
    [InlineData(2, 0)]
    [InlineData(2, 1)]
    [InlineData(3, 0)]
    [InlineData(3, 1)]
    [InlineData(3, 2)]
    [InlineData(4, 3)]
    public void Removing_a_next_hop_moves_only_its_flows_and_restoring_it_moves_exactly_those_back(int hopCount, int removed)
    {
        var flows = SyntheticFlows(1_000);
        var hops = Addresses(C1, C2, C3, "192.168.132.254")[..hopCount];
        uint all = (1u << hopCount) - 1;
        uint without = all & ~(1u << removed);

        var before = Assign(flows, hops, all);
        var during = Assign(flows, hops, without);
        var after = Assign(flows, hops, all);

        int moved = 0;
        for (int i = 0; i < flows.Length; i++)
        {
            if (before[i] == hops[removed])
            {
                Assert.NotEqual(hops[removed], during[i]);
                moved++;
            }
            else
                Assert.Equal(before[i], during[i]); // flows of the surviving next hops stay put
        }
        Assert.Equal(before, after);                 // restore: exactly the moved flows come back
        Assert.InRange(moved, 1_000 / hopCount / 2, 1_000 * 3 / hopCount / 2);
    }

    [Fact]
    public void Adding_a_next_hop_takes_flows_only_onto_itself()
    {
        var flows = SyntheticFlows(1_000);
        var hops = Addresses(C1, C2, C3);

        var two = Assign(flows, hops, 0b011);
        var three = Assign(flows, hops, 0b111);

        for (int i = 0; i < flows.Length; i++)
            if (three[i] != two[i])
                Assert.Equal(hops[2], three[i]);
    }

    [Theory]
    [InlineData(2, 0UL)]
    [InlineData(2, 1UL)]
    [InlineData(3, 0UL)]
    public void Flows_spread_evenly(int hopCount, ulong seed)
    {
        var flows = SyntheticFlows(2_000);
        var hops = Addresses(C1, C2, C3)[..hopCount];
        var counts = new int[hopCount];
        foreach (var (src, dst) in flows)
            counts[EcmpSelection.Choose(src, dst, hops, (1u << hopCount) - 1, seed)]++;

        double share = 1.0 / hopCount;
        foreach (var c in counts)
            Assert.InRange(c / 2_000.0, share * 0.85, share * 1.15);
    }

    [Fact]
    public void The_hash_seed_reshuffles_flows_and_seed_zero_is_the_plain_hash()
    {
        var flows = SyntheticFlows(1_000);
        var hops = Addresses(C1, C2);
        int differ = flows.Count(f => EcmpSelection.Choose(f.Src, f.Dst, hops, 0b11, 0) != EcmpSelection.Choose(f.Src, f.Dst, hops, 0b11, 7));

        Assert.InRange(differ, 350, 650); // an independent split, not the same one
        Assert.Equal(EcmpSelection.FlowHash(1, 2), EcmpSelection.FlowHash(1, 2, 0));
        Assert.NotEqual(EcmpSelection.FlowHash(1, 2), EcmpSelection.FlowHash(2, 1));
    }
}
