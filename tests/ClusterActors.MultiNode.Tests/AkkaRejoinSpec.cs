using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Scenario;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ipsec;
using Xunit.Abstractions;

namespace ClusterActors.MultiNode.Tests;

/// <summary>
/// Safety net (b) (src/Node/Hosting/README.md): a unit that the others downed and removed while only its Akka path was
/// cut (its FGCP heartbeats flowing) restarts its ActorSystem as a new incarnation after the heal and rejoins, keeping
/// its FGCP role (FGCP parked and resumed on the host's sockets, heartbeats bridged) and the tunnels it owns (records
/// carried and re-claimed). Every tunnel ends with exactly one owner and the owner's SAs everywhere; a tunnel made
/// during the cut survives. Akka's own behaviour without it: the removed unit stays a cluster of its own for good.
/// </summary>
[Collection("multi-node")]
public sealed class AkkaRejoinSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string[] All = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];
    private static readonly string[] C1 = ["DC2_VM1", "DC2_VM2"], C2 = ["DC2_VM3", "DC2_VM4"];

    /// <summary>
    /// The stated bound from the heal to one Akka cluster with every tunnel converged: the rejoin rule's evidence
    /// (immediate when quarantined, else <c>rejoin-confirm-after</c> 5 s of probes), the ActorSystem's restart and
    /// journal recovery, the join (seed-node process), and the owners' push. Measured figures are printed.
    /// </summary>
    private static readonly TimeSpan RejoinBound = TimeSpan.FromSeconds(25);

    private readonly LoopbackLab _lab = new() { AkkaCuts = true, ExtraHocon = "akka.loglevel = WARNING" };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private static int Group(string unit) => unit is "DC2_VM1" or "DC2_VM2" ? 1 : 2;

    private async Task StartUnits()
    {
        _lab.Define(All.Select(u => (u, LoopbackLab.ScenarioConfig(u, EmbeddedScenarioDriver.FastTimers))).ToList());
        foreach (var u in All) await _lab.Start(u);
        await LoopbackLab.Eventually(async () =>
        {
            foreach (var u in new[] { "DC2_VM1", "DC2_VM3" })
                if (!await _lab.IsRole(u, HaRole.Primary) || (await _lab.Status(u)).Members.Count != 2) return false;
            return All.All(u => _lab.AkkaMembersUp(u) == All.Length);
        }, TimeSpan.FromSeconds(40), "FGCP clusters formed (DC2_VM1 / DC2_VM3 primary) and one Akka cluster");
    }

    private async Task<IReadOnlyList<DialupTunnelState>> Tunnels(string unit)
    {
        var phase1 = _lab.Units[unit].System.ActorSelection("/user/fortigate/phase1-vpn1");
        return (await phase1.Ask<TunnelList>(GetTunnelList.Instance, TimeSpan.FromSeconds(5))).Tunnels;
    }

    private bool OneAkkaCluster() => All.All(u =>
    {
        var state = Cluster.Get(_lab.Units[u].System).State;
        return state.Unreachable.Count == 0 && state.Members.Count(m => m.Status == MemberStatus.Up) == All.Length;
    });

    /// <summary>Every tunnel (by SPI) on every unit, exactly one owner, every standby with the owner's SAs.</summary>
    private async Task<string?> Converged(IReadOnlyCollection<uint> expected)
    {
        var views = new Dictionary<string, IReadOnlyList<DialupTunnelState>>();
        foreach (var u in All) views[u] = await Tunnels(u);
        foreach (var spi in expected)
        {
            var copies = All.Select(u => (Unit: u, T: views[u].FirstOrDefault(t => t.Sa.Dec.Spi == spi))).ToList();
            if (copies.Any(c => c.T is null)) return $"tunnel dec {spi:x8} missing on {string.Join(",", copies.Where(c => c.T is null).Select(c => c.Unit))}";
            var owners = copies.Where(c => c.T!.Role == TunnelRole.SyncPrimary).ToList();
            if (owners.Count != 1) return $"tunnel dec {spi:x8}: {owners.Count} owners ({string.Join(",", owners.Select(o => o.Unit))})";
            var owner = owners[0].T!;
            foreach (var c in copies.Where(c => c.T!.Role != TunnelRole.SyncPrimary))
                if (c.T!.Sa.Enc.Spi != owner.Sa.Enc.Spi || !c.T.Sa.Enc.EncKey.SequenceEqual(owner.Sa.Enc.EncKey) || c.T.Sa.ProxyIdSerial != owner.Sa.ProxyIdSerial)
                    return $"tunnel dec {spi:x8}: {c.Unit}'s standby SAs differ from owner {owners[0].Unit}'s";
        }
        return null;
    }

    private async Task SetCut(IEnumerable<string> sideA, IEnumerable<string> sideB, bool cut)
    {
        foreach (var a in sideA)
        foreach (var b in sideB)
            await _lab.SetAkkaPath(a, b, cut);
    }

    /// <summary><paramref name="by"/> downs <paramref name="units"/> and waits until its cluster has removed them.</summary>
    private async Task DownAndRemove(string by, params string[] units)
    {
        var cluster = Cluster.Get(_lab.Units[by].System);
        var addresses = units.Select(u => Cluster.Get(_lab.Units[u].System).SelfAddress).ToList();
        await LoopbackLab.Eventually(() => Task.FromResult(addresses.All(a => cluster.State.Unreachable.Any(m => m.Address == a))),
            TimeSpan.FromSeconds(10), $"{by} sees {string.Join(",", units)} unreachable");
        foreach (var a in addresses) cluster.Down(a);
        await LoopbackLab.Eventually(() => Task.FromResult(addresses.All(a => cluster.State.Members.All(m => m.Address != a))),
            TimeSpan.FromSeconds(15), $"{by}'s cluster removed {string.Join(",", units)}");
    }

    private async Task<string> History(string unit) => (await _lab.Units[unit].CliAsync("diagnose sys ha history read")).Output;

    private async Task<(TimeSpan Restarted, TimeSpan Converged)> HealAndRejoin(IReadOnlyList<string> restarting, IReadOnlyCollection<uint> tunnels)
    {
        var sw = Stopwatch.StartNew();
        var restarted = await LoopbackLab.Eventually(() => Task.FromResult(restarting.All(u => _lab.Units[u].Incarnations == 2)),
            RejoinBound, $"{string.Join(",", restarting)} restarted as a new incarnation");
        string? why = "not checked";
        try
        {
            await LoopbackLab.Eventually(async () => OneAkkaCluster() && (why = await Converged(tunnels)) is null, RejoinBound - sw.Elapsed,
                "one Akka cluster again and every tunnel one owner with its SAs everywhere");
        }
        catch (TimeoutException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}; last: {why}");
        }
        output.WriteLine($"after the heal: restarted {restarted.TotalMilliseconds:0} ms, one cluster and every tunnel converged {sw.ElapsedMilliseconds} ms");
        return (restarted, sw.Elapsed);
    }

    [Fact]
    public async Task A_unit_downed_by_the_others_while_its_heartbeats_flow_rejoins_as_a_new_incarnation_with_its_role_and_tunnels()
    {
        await StartUnits();
        var before = await _lab.Dial("DC2_VM1");
        await LoopbackLab.Eventually(async () => await Converged([before.Child.OutboundSpi]) is null, TimeSpan.FromSeconds(5), "vpn1_1 synced");
        var oldIncarnation = Cluster.Get(_lab.Units["DC2_VM1"].System).SelfUniqueAddress;
        var changesBefore = (await _lab.Status("DC2_VM1")).HaIdChanges;

        await SetCut(["DC2_VM1"], All.Skip(1), cut: true);
        await DownAndRemove("DC2_VM2", "DC2_VM1");
        // During the cut the FGCP primary DC2_VM1 still answers IKE: a tunnel only its side knows.
        var during = await _lab.Dial("DC2_VM1");
        Assert.Equal(2, (await Tunnels("DC2_VM1")).Count);
        Assert.Single(await Tunnels("DC2_VM2"));

        await SetCut(["DC2_VM1"], All.Skip(1), cut: false);
        await HealAndRejoin(["DC2_VM1"], [before.Child.OutboundSpi, during.Child.OutboundSpi]);

        var now = Cluster.Get(_lab.Units["DC2_VM1"].System).SelfUniqueAddress;
        Assert.Equal(oldIncarnation.Address, now.Address);
        Assert.NotEqual(oldIncarnation.Uid, now.Uid);
        foreach (var u in All.Skip(1))
            Assert.All(Cluster.Get(_lab.Units[u].System).State.Members.Where(m => m.Address == now.Address), m => Assert.Equal(now.Uid, m.UniqueAddress.Uid));
        foreach (var u in All.Skip(1)) Assert.Equal(1, _lab.Units[u].Incarnations);
        // FGCP never noticed: DC2_VM1 stayed primary with no new negotiation, DC2_VM2 never lost it.
        Assert.True(await _lab.IsRole("DC2_VM1", HaRole.Primary));
        Assert.True(await _lab.IsRole("DC2_VM2", HaRole.Secondary));
        Assert.Equal(changesBefore, (await _lab.Status("DC2_VM1")).HaIdChanges);
        Assert.DoesNotContain("member 'FGVM02TM22000001' is lost", await History("DC2_VM2"));
        Assert.Equal(TunnelRole.SyncPrimary, (await Tunnels("DC2_VM1")).Single(t => t.Sa.Dec.Spi == during.Child.OutboundSpi).Role);
    }
}
