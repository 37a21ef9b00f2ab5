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
/// Two Akka clusters that downed each other merge again (src/Node/Hosting/README.md, "Two clusters that downed each
/// other"). The Akka path between the two FGCP clusters is cut (heartbeats flow within each cluster), each side downs
/// and removes the other side's units, so both live on as Akka clusters of their own, each having quarantined the
/// other's incarnations: Akka remoting drops every send between them locally, for good. During the cut each side takes
/// or makes tunnels (cluster 2 takes vpn1_1 over by traffic, each side dials one, cluster 2 rekeys its CHILD SA). After
/// the heal the signed datagram probe lets the side whose lowest member address is the higher notice the other
/// cluster, restart its ActorSystems as new incarnations and join: one Akka cluster within <see cref="MergeBound"/>,
/// every tunnel one owner with its current SAs on every unit, nothing lost, and sync runs again across the halves.
/// Without the datagram probe the halves stay apart for good ("not within 25000 ms").
/// </summary>
[Collection("multi-node")]
public sealed class AkkaClusterMergeSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string[] All = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];
    private static readonly string[] C1 = ["DC2_VM1", "DC2_VM2"], C2 = ["DC2_VM3", "DC2_VM4"];

    /// <summary>
    /// The stated bound from the heal to one Akka cluster with every tunnel converged: a datagram probe once a second,
    /// the evidence held <c>rejoin-confirm-after</c> (5 s), the ActorSystem's restart and journal recovery, the join
    /// through the other cluster's members (seed-node process, retried every 2 s), and the owners' push.
    /// </summary>
    private static readonly TimeSpan MergeBound = TimeSpan.FromSeconds(25);

    private readonly LoopbackLab _lab = new() { AkkaCuts = true, ExtraHocon = "akka.loglevel = WARNING" };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private async Task StartUnits()
    {
        _lab.Define(All.Select(u => (u, LoopbackLab.ScenarioConfig(u, EmbeddedScenarioDriver.FastTimers
            + (u is "DC2_VM1" or "DC2_VM3" ? "config system ha\n    set priority 200\nend\n" : "")))).ToList());
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

    /// <summary>The addresses of the live members <paramref name="unit"/> sees.</summary>
    private IReadOnlySet<string> MembersSeenBy(string unit) =>
        Cluster.Get(_lab.Units[unit].System).State.Members.Where(m => m.Status == MemberStatus.Up).Select(m => m.Address.ToString()).ToHashSet();

    /// <summary>For a failure's message: each unit's incarnation and Akka view, every member with its uid, status,
    /// reachability and serial role (trial 9's "DC2_VM1 sees 4 Up, DC2_VM3 (incarnation 2) sees 2 Up" did not say which).</summary>
    private string Views() => string.Join(" | ", All.Select(u =>
    {
        var state = Cluster.Get(_lab.Units[u].System).State;
        return $"{u} (incarnation {_lab.Units[u].Incarnations}, {Cluster.Get(_lab.Units[u].System).SelfUniqueAddress.Uid}) sees "
               + string.Join(", ", state.Members.Select(m => $"{m.Address.Port}#{m.UniqueAddress.Uid} {m.Status}"
                                                             + (state.Unreachable.Contains(m) ? " unreachable" : "")
                                                             + " " + string.Join("/", m.Roles.Where(r => r.StartsWith("serial:")))));
    }));

    private string AddressOf(string unit) => Cluster.Get(_lab.Units[unit].System).SelfAddress.ToString();

    /// <summary>Every expected tunnel (by SPI) on every unit, exactly one owner, every standby with the owner's SAs,
    /// no instance name twice on a unit.</summary>
    private async Task<string?> Converged(IReadOnlyCollection<uint> expected)
    {
        var views = new Dictionary<string, IReadOnlyList<DialupTunnelState>>();
        foreach (var u in All) views[u] = await Tunnels(u);
        foreach (var u in All)
            if (views[u].Select(t => t.Name).Distinct().Count() != views[u].Count)
                return $"{u} shows an instance name twice: {string.Join(",", views[u].Select(t => t.Name))}";
        foreach (var spi in expected)
        {
            var copies = All.Select(u => (Unit: u, T: views[u].FirstOrDefault(t => t.Sa.Dec.Spi == spi))).ToList();
            if (copies.Any(c => c.T is null)) return $"tunnel dec {spi:x8} missing on {string.Join(",", copies.Where(c => c.T is null).Select(c => c.Unit))}";
            var owners = copies.Where(c => c.T!.Role == TunnelRole.SyncPrimary).ToList();
            if (owners.Count != 1) return $"tunnel dec {spi:x8}: {owners.Count} owners ({string.Join(",", owners.Select(o => o.Unit))})";
            var owner = owners[0].T!;
            foreach (var c in copies.Where(c => c.T!.Role != TunnelRole.SyncPrimary))
                if (c.T!.Sa.Enc.Spi != owner.Sa.Enc.Spi || !c.T.Sa.Dec.EncKey.SequenceEqual(owner.Sa.Dec.EncKey) ||
                    !c.T.Sa.Enc.EncKey.SequenceEqual(owner.Sa.Enc.EncKey) || c.T.Sa.ProxyIdSerial != owner.Sa.ProxyIdSerial)
                    return $"tunnel dec {spi:x8}: {c.Unit}'s standby SAs differ from owner {owners[0].Unit}'s";
        }
        return null;
    }

    private async Task SetCut(bool cut)
    {
        foreach (var a in C1)
        foreach (var b in C2)
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

    [Fact]
    public async Task Two_Akka_clusters_that_downed_each_other_merge_after_the_heal_with_every_tunnel_one_owner_and_nothing_lost()
    {
        await StartUnits();
        var shared = await _lab.Dial("DC2_VM1");
        await LoopbackLab.Eventually(async () => await Converged([shared.Child.OutboundSpi]) is null, TimeSpan.FromSeconds(5), "vpn1_1 synced");

        // The cut, and each side downs and removes the other: two Akka clusters, each quarantining the other's incarnations.
        await SetCut(cut: true);
        await DownAndRemove("DC2_VM1", C2);
        await DownAndRemove("DC2_VM3", C1);
        foreach (var (side, other) in new[] { (C1, C2), (C2, C1) })
        foreach (var u in side)
            await LoopbackLab.Eventually(() => Task.FromResult(MembersSeenBy(u).SetEquals(side.Select(AddressOf))), TimeSpan.FromSeconds(10),
                $"{u}'s Akka cluster is its own side only");

        // During the cut: cluster 2 takes vpn1_1 over by traffic (two owners), each side dials a tunnel, and cluster 2
        // rekeys its new tunnel's CHILD SA.
        _lab.Units["DC2_VM3"].System.ActorSelection("/user/fortigate/phase1-vpn1")
            .Tell(new ClaimTunnelByTraffic(TunnelRecord.KeyOf("vpn1", shared.Sa.SpiI, shared.Sa.SpiR)));
        await LoopbackLab.Eventually(async () => (await Tunnels("DC2_VM3")).Single().Role == TunnelRole.SyncPrimary
                                                 && (await Tunnels("DC2_VM1")).Single().Role == TunnelRole.SyncPrimary,
            TimeSpan.FromSeconds(5), "two owners of vpn1_1, one per side of the cut");
        var onC1 = await _lab.Dial("DC2_VM1");
        var client = await _lab.DialClient("DC2_VM3");
        var rekeyed = client.Initiator!.Handle((await _lab.Exchange("DC2_VM3", client.Initiator.RekeyChild()))[0]);
        var onC2 = rekeyed.Events.OfType<Protocol.Ike.Exchanges.ChildSaRekeyed>().Single().New;
        Assert.NotEqual(client.Established!.Child.OutboundSpi, onC2.OutboundSpi);
        await LoopbackLab.Eventually(async () => (await Tunnels("DC2_VM4")).Any(t => t.Sa.Dec.Spi == onC2.OutboundSpi)
                                                 && (await Tunnels("DC2_VM2")).Any(t => t.Sa.Dec.Spi == onC1.Child.OutboundSpi),
            TimeSpan.FromSeconds(5), "each side's tunnel synced within its side");
        // The cut lasts a while longer; nobody restarts while it lasts (nothing crosses it, the probe neither).
        await Task.Delay(TimeSpan.FromSeconds(4));
        Assert.All(All, u => Assert.Equal(1, _lab.Units[u].Incarnations));

        await SetCut(cut: false);
        var sw = Stopwatch.StartNew();
        string? why = "not checked";
        uint[] tunnels = [shared.Child.OutboundSpi, onC1.Child.OutboundSpi, onC2.OutboundSpi];
        var restartSeen = new Dictionary<string, long>();
        try
        {
            await LoopbackLab.Eventually(async () =>
            {
                foreach (var u in All.Where(u => _lab.Units[u].Incarnations > 1)) restartSeen.TryAdd(u, sw.ElapsedMilliseconds);
                return OneAkkaCluster() && (why = await Converged(tunnels)) is null;
            }, MergeBound,
                "one Akka cluster again and every tunnel one owner with its SAs everywhere");
        }
        catch (TimeoutException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}; last: {why}; {Views()}");
        }
        var merged = sw.Elapsed;
        output.WriteLine($"after the heal: one Akka cluster, every tunnel one owner with its SAs everywhere, {merged.TotalMilliseconds:0} ms");

        // Exactly one side restarted, each of its units once: the side whose lowest member address is the higher.
        var restarted = All.Where(u => _lab.Units[u].Incarnations > 1).ToList();
        output.WriteLine($"restarted (ms after the heal, seen within the poll): {string.Join(", ", restartSeen.Select(r => $"{r.Key} {r.Value}"))}");
        Assert.True(restarted.SequenceEqual(C1) || restarted.SequenceEqual(C2), $"exactly one side restarted, not {string.Join(",", restarted)}");
        Assert.All(restarted, u => Assert.Equal(2, _lab.Units[u].Incarnations));
        var stayed = restarted.SequenceEqual(C1) ? C2 : C1;
        Assert.True(string.CompareOrdinal(stayed.Select(AddressOf).Min(StringComparer.Ordinal), restarted.Select(AddressOf).Min(StringComparer.Ordinal)) < 0,
            "the side with the lower lowest address stayed");
        // FGCP never noticed: both primaries kept their role.
        Assert.True(await _lab.IsRole("DC2_VM1", HaRole.Primary));
        Assert.True(await _lab.IsRole("DC2_VM3", HaRole.Primary));

        // Sync resumes across the halves: a tunnel dialed after the heal on each side reaches every unit with one
        // owner, and a config change on each primary reaches its secondary.
        var afterC1 = await _lab.Dial("DC2_VM1");
        var afterC2 = await _lab.Dial("DC2_VM3");
        uint[] everything = [.. tunnels, afterC1.Child.OutboundSpi, afterC2.Child.OutboundSpi];
        await LoopbackLab.Eventually(async () => (why = await Converged(everything)) is null, TimeSpan.FromSeconds(10),
            "tunnels dialed after the heal reached every unit").ContinueWith(t =>
        {
            if (t.IsFaulted) throw new Xunit.Sdk.XunitException($"{t.Exception!.InnerException!.Message}; last: {why}");
        });
        foreach (var (primary, secondary) in new[] { ("DC2_VM1", "DC2_VM2"), ("DC2_VM3", "DC2_VM4") })
        {
            var alias = "merged-" + primary.ToLowerInvariant().Replace("_", "");
            Assert.Equal(0, (await _lab.Units[primary].CliAsync($"config system global\n    set alias {alias}\nend")).ExitCode);
            try
            {
                await LoopbackLab.Eventually(async () => (await _lab.Units[secondary].CliAsync("show system global")).Output.Contains(alias),
                    TimeSpan.FromSeconds(10), $"config sync: {secondary} has the alias set on {primary} after the heal");
            }
            catch (TimeoutException e)
            {
                // CI trial 10 of the thirteenth session failed here once with no more said: the views and the secondary's
                // FGCP state, so that a next failure shows whether the primary had one destination for the sync.
                var ha = await _lab.Status(secondary);
                throw new Xunit.Sdk.XunitException($"{e.Message}; {secondary} is {ha.Role} with primary {ha.PrimarySerial}; {Views()}");
            }
        }
        // Nothing lost: every unit holds all five tunnels, each under one name of its own.
        foreach (var u in All)
        {
            var list = await Tunnels(u);
            output.WriteLine($"{u}: {string.Join(", ", list.Select(t => $"{t.Name}={t.Sa.Dec.Spi:x8}/{t.Role}"))}");
            Assert.Equal(everything.Length, list.Count);
            Assert.Equal(list.Count, list.Select(t => t.Name).Distinct().Count());
        }
    }
}
