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
/// Akka-only partitions and their heal (src/Node/Hosting/README.md). Only the Akka path is cut, by Akka.Remote's
/// throttler (blackhole, as Akka's TestConductor does): FGCP heartbeats go on over their own UDP links, so FGCP keeps
/// seeing both units. The cut lasts <see cref="Cut"/>, longer than failure detection plus the 8 s after which the old
/// ClusterJanitor downed an unreachable member: with that janitor the halves were removed from each other and never
/// merged, and every spec here fails (no tunnel made during the cut reaches the other side). Heal bound: the Akka
/// failure detector's acceptable pause (3 s) plus a gossip round and a push; measured figures are printed.
/// </summary>
[Collection("multi-node")]
public sealed class AkkaPartitionHealSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string[] All = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];
    private static readonly TimeSpan Cut = TimeSpan.FromSeconds(14);
    /// <summary>The stated bound from heal to one Akka cluster with every tunnel converged (measured: see the output).</summary>
    private static readonly TimeSpan HealBound = TimeSpan.FromSeconds(10);

    private readonly LoopbackLab _lab = new() { AkkaCuts = true, ExtraHocon = "akka.loglevel = WARNING" };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private async Task StartUnits(params string[] units)
    {
        _lab.Define(units.Select(u => (u, LoopbackLab.ScenarioConfig(u, EmbeddedScenarioDriver.FastTimers
            + (u is "DC2_VM1" or "DC2_VM3" ? "config system ha\n    set priority 200\nend\n" : "")))).ToList());
        foreach (var u in units) await _lab.Start(u);
        await LoopbackLab.Eventually(async () =>
        {
            foreach (var u in units.Where(u => u is "DC2_VM1" or "DC2_VM3"))
                if (!await _lab.IsRole(u, HaRole.Primary) || (await _lab.Status(u)).Members.Count != units.Count(o => Group(o) == Group(u)))
                    return false;
            return units.All(u => _lab.AkkaMembersUp(u) == units.Length);
        }, TimeSpan.FromSeconds(40), "FGCP clusters formed (DC2_VM1 / DC2_VM3 primary) and one Akka cluster");
    }

    private static int Group(string unit) => unit is "DC2_VM1" or "DC2_VM2" ? 1 : 2;

    private async Task<IReadOnlyList<DialupTunnelState>> Tunnels(string unit)
    {
        var phase1 = _lab.Units[unit].System.ActorSelection("/user/fortigate/phase1-vpn1");
        return (await phase1.Ask<TunnelList>(GetTunnelList.Instance, TimeSpan.FromSeconds(5))).Tunnels;
    }

    private async Task<int> FgcpMembers(string unit) => (await _lab.Status(unit)).Members.Count;

    private static bool OneAkkaCluster(LoopbackLab lab, IReadOnlyList<string> units) => AkkaViews(lab, units) is null;

    /// <summary>Null when every unit sees all of them Up and none unreachable; else each unit's view, for the failure
    /// message (stop 22's CI trial timed out here with nothing said of which unit saw what).</summary>
    private static string? AkkaViews(LoopbackLab lab, IReadOnlyList<string> units)
    {
        var views = units.Select(u =>
        {
            var state = Cluster.Get(lab.Units[u].System).State;
            var ok = state.Unreachable.Count == 0 && state.Members.Count(m => m.Status == MemberStatus.Up) == units.Count;
            return (Ok: ok, Text: $"{u}: {string.Join(" ", state.Members.Select(m => $"{m.Address.Port}={m.Status}"))}"
                                  + (state.Unreachable.Count == 0 ? "" : $" unreachable {string.Join(" ", state.Unreachable.Select(m => m.Address.Port))}"));
        }).ToList();
        return views.All(v => v.Ok) ? null : "Akka: " + string.Join("; ", views.Select(v => v.Text));
    }

    /// <summary>
    /// Every tunnel (by its SPI pair) has exactly one owner across <paramref name="units"/>, and every other unit holds it
    /// as standby with the owner's current SAs (SPIs and keys). <paramref name="expected"/> tunnels must all be there.
    /// </summary>
    private async Task<string?> Converged(IReadOnlyList<string> units, IReadOnlyCollection<uint> expected)
    {
        var views = new Dictionary<string, IReadOnlyList<DialupTunnelState>>();
        foreach (var u in units) views[u] = await Tunnels(u);
        foreach (var spi in expected)
        {
            var copies = units.Select(u => (Unit: u, T: views[u].FirstOrDefault(t => t.Sa.Dec.Spi == spi))).ToList();
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

    private async Task CutBetween(IEnumerable<string> sideA, IEnumerable<string> sideB, bool cut)
    {
        foreach (var a in sideA)
        foreach (var b in sideB)
            if (cut) await _lab.CutAkka(a, b);
            else await _lab.HealAkka(a, b);
    }

    /// <summary>Waits out the cut while checking that FGCP (own heartbeats) still sees its members the whole time.</summary>
    private async Task HoldCut(IReadOnlyList<string> units, Stopwatch since)
    {
        while (since.Elapsed < Cut)
        {
            foreach (var u in units)
                Assert.Equal(units.Count(o => Group(o) == Group(u)), await FgcpMembers(u));
            await Task.Delay(500);
        }
    }

    private async Task<TimeSpan> HealAndConverge(IReadOnlyList<string> units, IReadOnlyCollection<uint> tunnels)
    {
        var sw = Stopwatch.StartNew();
        string? why = "not checked";
        await LoopbackLab.Eventually(async () => (why = AkkaViews(_lab, units)) is null && (why = await Converged(units, tunnels)) is null,
            HealBound, "one Akka cluster again and every tunnel converged").ContinueWith(t =>
        {
            if (t.IsFaulted) throw new Xunit.Sdk.XunitException($"{t.Exception!.InnerException!.Message}; last: {why}");
        });
        output.WriteLine($"healed: one Akka cluster and every tunnel converged {sw.ElapsedMilliseconds} ms after the heal");
        return sw.Elapsed;
    }

    [Fact]
    public async Task A_cut_between_the_two_units_of_an_FGCP_cluster_heals_and_the_secondary_gets_what_it_missed()
    {
        string[] units = ["DC2_VM1", "DC2_VM2"];
        await StartUnits(units);
        var before = await _lab.Dial("DC2_VM1");
        await LoopbackLab.Eventually(async () => await Converged(units, [before.Child.OutboundSpi]) is null, TimeSpan.FromSeconds(5), "vpn1_1 synced");

        await _lab.CutAkka("DC2_VM1", "DC2_VM2");
        var sw = Stopwatch.StartNew();
        await LoopbackLab.Eventually(() => Task.FromResult(!Cluster.Get(_lab.Units["DC2_VM1"].System).State.Unreachable.IsEmpty),
            TimeSpan.FromSeconds(10), "DC2_VM1 sees DC2_VM2 unreachable");
        // During the cut: a new tunnel on the primary, and a change of the synced config (FGCP config sync runs over Akka).
        var during = await _lab.Dial("DC2_VM1");
        var change = await _lab.Units["DC2_VM1"].CliAsync("config system global\n    set alias partition-heal\nend");
        Assert.Equal(0, change.ExitCode);
        await HoldCut(units, sw);
        Assert.DoesNotContain(await Tunnels("DC2_VM2"), t => t.Sa.Dec.Spi == during.Child.OutboundSpi);

        await _lab.HealAkka("DC2_VM1", "DC2_VM2");
        await HealAndConverge(units, [before.Child.OutboundSpi, during.Child.OutboundSpi]);
        await LoopbackLab.Eventually(async () => (await _lab.Units["DC2_VM2"].CliAsync("show system global")).Output.Contains("partition-heal"),
            TimeSpan.FromSeconds(5), "config sync resumed: DC2_VM2 has the alias set on the primary during the cut");
        Assert.True(await _lab.IsRole("DC2_VM1", HaRole.Primary));
        Assert.True(await _lab.IsRole("DC2_VM2", HaRole.Secondary));
    }

    [Fact]
    public async Task A_cut_between_the_clusters_heals_to_one_owner_per_tunnel_and_keeps_tunnels_made_on_either_side()
    {
        await StartUnits(All);
        string[] c1 = ["DC2_VM1", "DC2_VM2"], c2 = ["DC2_VM3", "DC2_VM4"];
        var shared = await _lab.Dial("DC2_VM1");
        await LoopbackLab.Eventually(async () => await Converged(All, [shared.Child.OutboundSpi]) is null, TimeSpan.FromSeconds(5), "vpn1_1 synced");

        await CutBetween(c1, c2, cut: true);
        var sw = Stopwatch.StartNew();
        // Two owners across the cut: the router sent the client's traffic to cluster 2, whose primary takes the tunnel
        // over (generation + 1), while cluster 1 still owns it on its side.
        _lab.Units["DC2_VM3"].System.ActorSelection("/user/fortigate/phase1-vpn1")
            .Tell(new ClaimTunnelByTraffic(TunnelRecord.KeyOf("vpn1", shared.Sa.SpiI, shared.Sa.SpiR)));
        await LoopbackLab.Eventually(async () => (await Tunnels("DC2_VM3")).Single().Role == TunnelRole.SyncPrimary
                                                 && (await Tunnels("DC2_VM1")).Single().Role == TunnelRole.SyncPrimary,
            TimeSpan.FromSeconds(5), "two owners of vpn1_1, one per side of the cut");
        // A tunnel made on each side during the cut.
        var onC1 = await _lab.Dial("DC2_VM1");
        var onC2 = await _lab.Dial("DC2_VM3");
        await HoldCut(All, sw);

        await CutBetween(c1, c2, cut: false);
        await HealAndConverge(All, [shared.Child.OutboundSpi, onC1.Child.OutboundSpi, onC2.Child.OutboundSpi]);
        // The claim's higher generation wins everywhere: DC2_VM3 owns vpn1_1, DC2_VM1 stepped down to standby.
        Assert.Equal(TunnelRole.SyncPrimary, (await Tunnels("DC2_VM3")).Single(t => t.Sa.Dec.Spi == shared.Child.OutboundSpi).Role);
        Assert.Equal(TunnelRole.Standby, (await Tunnels("DC2_VM1")).Single(t => t.Sa.Dec.Spi == shared.Child.OutboundSpi).Role);
    }

    /// <summary>
    /// Two claims from one record (src/Actors/Ipsec/README.md, "Two claims from one record"), made certain by a cut: the
    /// many-clients census found them by timing alone. DC2_VM1 owns vpn1_1 (generation 1) and is killed while cluster 1
    /// is cut from cluster 2: DC2_VM2, its cluster's new primary, claims it (generation 2), and DC2_VM3 claims it by
    /// traffic (the router sent the client to cluster 2) from DC2_VM1's record, generation 2 too. After the heal one of
    /// the two must own it everywhere. Before the rule each refused the other's record and both stayed sync-primary.
    /// </summary>
    /// <remarks>
    /// Held long, Akka marks the other side unreachable and the heal pushes every owned tunnel again. Held only until both
    /// claims are made (shorter than the failure detector's pause), no unit is marked and nothing is pushed: Distributed
    /// Data's gossip alone carries one of the two entries, whose clocks tie (same generation, no sync yet), by Akka's
    /// node order; the unit whose claim wins by serial answers the other's with a push (<c>AnswerCrossedClaim</c>).
    /// </remarks>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Claims_of_one_generation_made_on_both_sides_of_a_cut_heal_to_one_owner(bool holdTheCut)
    {
        await StartUnits(All);
        string[] survivors = ["DC2_VM2", "DC2_VM3", "DC2_VM4"];
        var shared = await _lab.Dial("DC2_VM1");
        await LoopbackLab.Eventually(async () => await Converged(All, [shared.Child.OutboundSpi]) is null, TimeSpan.FromSeconds(5), "vpn1_1 synced");

        await CutBetween(["DC2_VM1", "DC2_VM2"], ["DC2_VM3", "DC2_VM4"], cut: true);
        var sw = Stopwatch.StartNew();
        await _lab.Kill("DC2_VM1");
        _lab.Units["DC2_VM3"].System.ActorSelection("/user/fortigate/phase1-vpn1")
            .Tell(new ClaimTunnelByTraffic(TunnelRecord.KeyOf("vpn1", shared.Sa.SpiI, shared.Sa.SpiR)));
        await LoopbackLab.Eventually(async () => (await Tunnels("DC2_VM2")).Single().Role == TunnelRole.SyncPrimary
                                                 && (await Tunnels("DC2_VM3")).Single().Role == TunnelRole.SyncPrimary,
            TimeSpan.FromSeconds(10), "DC2_VM2 (FGCP failover) and DC2_VM3 (traffic) each claimed vpn1_1 on its side of the cut");
        var records = await Task.WhenAll(new[] { "DC2_VM2", "DC2_VM3" }.Select(async u =>
            Assert.Single((await _lab.Units[u].System.ActorSelection("/user/fortigate/phase1-vpn1")
                .Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(5))).Records)));
        Assert.Equal((2L, 2L), (records[0].Generation, records[1].Generation));
        // Held as long as the other cuts (Akka marks the other side unreachable); FGCP's own view is not what this is about.
        while (holdTheCut && sw.Elapsed < Cut) await Task.Delay(500);
        output.WriteLine($"cut held {sw.ElapsedMilliseconds} ms; unreachable on DC2_VM3: {Cluster.Get(_lab.Units["DC2_VM3"].System).State.Unreachable.Count}");

        await CutBetween(["DC2_VM2"], ["DC2_VM3", "DC2_VM4"], cut: false);
        // DC2_VM1 stays dead (an unreachable member), so not HealAndConverge's one-cluster check: the tunnel's owners only.
        var healed = Stopwatch.StartNew();
        string? why = null;
        await LoopbackLab.Eventually(async () => (why = await Converged(survivors, [shared.Child.OutboundSpi])) is null, HealBound,
            "one owner of vpn1_1 after the heal").ContinueWith(t =>
        {
            if (t.IsFaulted) throw new Xunit.Sdk.XunitException($"{t.Exception!.InnerException!.Message}; last: {why}");
        });
        output.WriteLine($"healed: one owner of vpn1_1 {healed.ElapsedMilliseconds} ms after the heal");
    }

    [Fact]
    public async Task A_unit_cut_from_every_other_unit_rejoins_and_gets_the_tunnels_made_while_it_was_away()
    {
        await StartUnits(All);
        var before = await _lab.Dial("DC2_VM3");
        await LoopbackLab.Eventually(async () => await Converged(All, [before.Child.OutboundSpi]) is null, TimeSpan.FromSeconds(5), "vpn1_1 synced");

        await CutBetween(["DC2_VM2"], All.Where(u => u != "DC2_VM2"), cut: true);
        var sw = Stopwatch.StartNew();
        var onC1 = await _lab.Dial("DC2_VM1");
        var onC2 = await _lab.Dial("DC2_VM3");
        await HoldCut(All, sw);
        Assert.Single(await Tunnels("DC2_VM2"));

        await CutBetween(["DC2_VM2"], All.Where(u => u != "DC2_VM2"), cut: false);
        await HealAndConverge(All, [before.Child.OutboundSpi, onC1.Child.OutboundSpi, onC2.Child.OutboundSpi]);
    }

    /// <summary>
    /// Dialup instance names across a cut (src/Actors/Ipsec/README.md, "Instance names"): each side names the tunnels
    /// dialed on it `vpn1_2`, `vpn1_3` while it cannot see the other side's, so after the heal two tunnels came with
    /// each name. Every unit must still show each tunnel under one name of its own, no name twice, the names it showed
    /// before the heal unchanged, and exactly one owner per tunnel. Before the rule both copies showed as vpn1_2 on
    /// every unit (`diagnose vpn tunnel list name vpn1_2` matched two tunnels).
    /// </summary>
    [Fact]
    public async Task Tunnels_dialed_on_both_sides_of_a_cut_keep_distinct_names_and_one_owner_on_every_unit_after_the_heal()
    {
        await StartUnits(All);
        string[] c1 = ["DC2_VM1", "DC2_VM2"], c2 = ["DC2_VM3", "DC2_VM4"];
        var first = await _lab.Dial("DC2_VM1");
        await LoopbackLab.Eventually(async () => await Converged(All, [first.Child.OutboundSpi]) is null, TimeSpan.FromSeconds(5), "vpn1_1 synced");

        await CutBetween(c1, c2, cut: true);
        await LoopbackLab.Eventually(() => Task.FromResult(!Cluster.Get(_lab.Units["DC2_VM1"].System).State.Unreachable.IsEmpty
                                                           && !Cluster.Get(_lab.Units["DC2_VM3"].System).State.Unreachable.IsEmpty),
            TimeSpan.FromSeconds(10), "each side sees the other unreachable");
        // Two different clients (two IKE SAs) on each side of the cut.
        var onC1 = new[] { await _lab.Dial("DC2_VM1"), await _lab.Dial("DC2_VM1") };
        var onC2 = new[] { await _lab.Dial("DC2_VM3"), await _lab.Dial("DC2_VM3") };
        var spis = new[] { first }.Concat(onC1).Concat(onC2).Select(t => t.Child.OutboundSpi).ToList();
        // What each unit shows before the heal: its own side's three tunnels, named vpn1_1 … vpn1_3 on both sides.
        var before = new Dictionary<string, Dictionary<uint, string>>();
        await LoopbackLab.Eventually(async () =>
        {
            foreach (var u in All) before[u] = (await Tunnels(u)).ToDictionary(t => t.Sa.Dec.Spi, t => t.Name);
            return All.All(u => before[u].Count == 3);
        }, TimeSpan.FromSeconds(5), "each side's two new tunnels synced within the side");
        foreach (var (unit, side) in new[] { ("DC2_VM2", onC1), ("DC2_VM4", onC2) })
            Assert.Equal(["vpn1_2", "vpn1_3"], side.Select(t => before[unit][t.Child.OutboundSpi]).Order());

        await CutBetween(c1, c2, cut: false);
        await HealAndConverge(All, spis);
        foreach (var u in All)
        {
            var tunnels = await Tunnels(u);
            output.WriteLine($"{u}: {string.Join(", ", tunnels.Select(t => $"{t.Name}={t.Sa.Dec.Spi:x8}/{t.Role}"))}");
            Assert.Equal(5, tunnels.Count);
            Assert.Equal(tunnels.Count, tunnels.Select(t => t.Name).Distinct().Count());
            Assert.All(tunnels, t => Assert.Equal($"vpn1_{t.Index}", t.Name));
            foreach (var (spi, name) in before[u]) Assert.Equal(name, tunnels.Single(t => t.Sa.Dec.Spi == spi).Name);
        }
        // One owner per tunnel: the side it was dialed on.
        foreach (var (owner, side) in new[] { ("DC2_VM1", onC1), ("DC2_VM3", onC2) })
        foreach (var t in side)
            Assert.Equal(TunnelRole.SyncPrimary, (await Tunnels(owner)).Single(x => x.Sa.Dec.Spi == t.Child.OutboundSpi).Role);
    }

    /// <summary>
    /// Why downing is not dropped altogether: a member that stays dead blocks Akka's convergence, and a restarted unit's
    /// old incarnation (marked Down by Akka when the new one tries to join) is removed only on convergence; until then
    /// the new incarnation cannot join at all. UnreachableDowning downs the dead member once it has been unreachable
    /// 8 s while that change waits. Fails with no downing at all (the restarted unit never rejoins).
    /// </summary>
    [Fact]
    public async Task A_unit_restarted_while_another_stays_dead_rejoins_and_gets_the_tunnels()
    {
        string[] units = ["DC2_VM1", "DC2_VM2", "DC2_VM3"];
        await StartUnits(units);
        var tunnel = await _lab.Dial("DC2_VM1");
        await LoopbackLab.Eventually(async () => await Converged(units, [tunnel.Child.OutboundSpi]) is null, TimeSpan.FromSeconds(5), "vpn1_1 synced");

        await _lab.Kill("DC2_VM3"); // stays dead
        await LoopbackLab.Eventually(() => Task.FromResult(!Cluster.Get(_lab.Units["DC2_VM1"].System).State.Unreachable.IsEmpty),
            TimeSpan.FromSeconds(10), "DC2_VM1 sees DC2_VM3 unreachable");
        await _lab.Kill("DC2_VM2");
        var sw = Stopwatch.StartNew();
        await _lab.Start("DC2_VM2");
        var vm2 = Cluster.Get(_lab.Units["DC2_VM2"].System).SelfUniqueAddress;
        await LoopbackLab.Eventually(() => Task.FromResult(Cluster.Get(_lab.Units["DC2_VM1"].System).State.Members
                .Any(m => m.UniqueAddress.Equals(vm2) && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp)),
            TimeSpan.FromSeconds(25), "the restarted DC2_VM2 is a member again");
        output.WriteLine($"restarted DC2_VM2 a member {sw.ElapsedMilliseconds} ms after its start, DC2_VM3 still dead");
        await LoopbackLab.Eventually(async () => await Converged(["DC2_VM1", "DC2_VM2"], [tunnel.Child.OutboundSpi]) is null,
            TimeSpan.FromSeconds(10), "the restarted DC2_VM2 holds vpn1_1 as standby");
    }
}
