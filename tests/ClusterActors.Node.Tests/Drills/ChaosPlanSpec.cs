using ClusterActors.Node.Drills;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>The chaos plan is a pure function of (seed, run): the same fault every time, every kind and target reachable.</summary>
public sealed class ChaosPlanSpec(ITestOutputHelper output)
{
    private static readonly DrillTimers Fast = DrillSamples.Fast;

    private static ChaosFault Plan(long seed, int run) => ChaosPlan.Fault(seed, run, ChaosCatalog.All, ChaosTargets.Seed, Fast);

    /// <summary>Pinned: a replay (`--seed S --run R`) must inject what the session did, on any runtime and any later build
    /// that keeps the catalog. A change here breaks every recorded replay command.</summary>
    [Theory]
[InlineData(1, 1, "sigstop", "DC2_VM1", null, 5798, null)]
    [InlineData(1, 2, "restart", "DC2_VM2", null, 523, null)]
    [InlineData(1, 3, "heartbeat-cut", "DC2_VM3", null, 2593, null)]
    [InlineData(1, 4, "akka-partition", "DC2_VM3", null, 12479, "isolate")]
    [InlineData(1, 6, "database-stop", "DC2_VM4", null, 6796, null)]
    [InlineData(1, 8, "akka-partition", "DC2_VM3", null, 11020, "clusters")]
    [InlineData(1, 13, "port-down", "DC2_VM1", "port2", 2935, null)]
    [InlineData(1, 57, "sigstop", "DC2_VM1", null, 4893, null)]
    [InlineData(42, 1, "port-down", "DC2_VM1", "port5", 2836, null)]
    [InlineData(-7, 1000, "heartbeat-cut", "DC2_VM3", null, 2483, null)]
    public void The_same_seed_and_run_give_the_same_fault(long seed, int run, string kind, string unit, string? port, double hold, string? scope)
    {
        var fault = Plan(seed, run);
        output.WriteLine($"[InlineData({seed}, {run}, \"{fault.Kind}\", \"{fault.Unit}\", {Q(fault.Port)}, {fault.HoldMs}, {Q(fault.Scope)})]");
        Assert.Equal(new ChaosFault(kind, unit, port, hold, scope), fault);
        Assert.Equal(fault, Plan(seed, run));
    }

    private static string Q(string? s) => s is null ? "null" : $"\"{s}\"";

    [Fact]
    public void A_run_depends_on_its_seed_and_number_only()
    {
        var session = Enumerable.Range(1, 50).Select(r => Plan(9, r)).ToList();
        // Replaying run 37 alone, after planning other seeds, gives run 37 of the session.
        _ = Plan(10, 37);
        _ = Plan(9, 36);
        Assert.Equal(session[36], Plan(9, 37));
        Assert.True(session.Distinct().Count() > 40, "runs of one seed differ");
        Assert.NotEqual(Enumerable.Range(1, 20).Select(r => Plan(1, r)), Enumerable.Range(1, 20).Select(r => Plan(2, r)));
    }

    [Fact]
    public void Every_kind_unit_and_port_is_reachable_and_holds_stay_in_their_ranges()
    {
        var faults = Enumerable.Range(1, 400).Select(r => Plan(1, r)).ToList();
        Assert.Equal(ChaosCatalog.All.Select(k => k.Name).OrderBy(n => n), faults.Select(f => f.Kind).Distinct().OrderBy(n => n));
        foreach (var kind in ChaosCatalog.All)
            Assert.Equal(ChaosTargets.Seed.Units, faults.Where(f => f.Kind == kind.Name).Select(f => f.Unit).Distinct().Order());
        Assert.Equal(["port2", "port3", "port5"], faults.Where(f => f.Kind == "port-down").Select(f => f.Port!).Distinct().Order());
        Assert.All(faults.Where(f => f.Kind != "port-down"), f => Assert.Null(f.Port));
        Assert.Equal(["clusters", "isolate", "pair"], faults.Where(f => f.Kind == "akka-partition").Select(f => f.Scope!).Distinct().Order());
        Assert.All(faults.Where(f => f.Kind != "akka-partition"), f => Assert.Null(f.Scope));
        Assert.All(faults.Where(f => f.Kind == "akka-partition"), f => Assert.InRange(f.HoldMs, 4000, 14000));
        Assert.All(faults.Where(f => f.Kind == "database-stop"), f => Assert.InRange(f.HoldMs, 6000, 10000));
        Assert.All(faults.Where(f => f.Kind == "sigstop"), f => Assert.InRange(f.HoldMs, 2000, 6000));
        Assert.All(faults.Where(f => f.Kind == "restart"), f => Assert.InRange(f.HoldMs, 200, 200 + 2 * Fast.FgcpDetectionMs));
        // A killed unit is held until the cluster must have failed over and one steady window after.
        Assert.All(faults.Where(f => f.Kind == "kill"), f => Assert.InRange(f.HoldMs, 1400 + 500 + 500, 1400 + 500 + 1000));
        // Each kind near its fair share (400 / 7 ≈ 57): no kind starved.
        var share = 400.0 / ChaosCatalog.All.Count;
        Assert.All(faults.GroupBy(f => f.Kind), g => Assert.InRange(g.Count(), share * 0.6, share * 1.4));
    }

    /// <summary>The Akka partition's three targets in the seed's two clusters: the unit and its FGCP peer; the unit's
    /// cluster and the other one (every cross pair); the unit and every other unit. Each pair once.</summary>
    [Fact]
    public void An_akka_partition_cuts_the_pair_the_clusters_or_around_the_unit()
    {
        IReadOnlyList<(string, string)> Pairs(string scope) =>
            ChaosCatalog.AkkaCutPairs(new ChaosFault("akka-partition", "DC2_VM3", null, 5000, scope), ChaosTargets.Seed.Clusters);
        Assert.Equal([("DC2_VM3", "DC2_VM4")], Pairs("pair"));
        Assert.Equal([("DC2_VM3", "DC2_VM1"), ("DC2_VM3", "DC2_VM2"), ("DC2_VM4", "DC2_VM1"), ("DC2_VM4", "DC2_VM2")], Pairs("clusters"));
        Assert.Equal([("DC2_VM3", "DC2_VM1"), ("DC2_VM3", "DC2_VM2"), ("DC2_VM3", "DC2_VM4")], Pairs("isolate"));
        Assert.Throws<ArgumentException>(() => Pairs("everything"));
    }

    [Fact]
    public void Only_targets_the_lab_has_are_picked()
    {
        var noPort5 = ChaosTargets.Seed with
        {
            Ports = ChaosTargets.Seed.Ports.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)kv.Value.Where(p => p != "port5").ToList()),
        };
        var faults = Enumerable.Range(1, 300).Select(r => ChaosPlan.Fault(3, r, [ChaosCatalog.PortDown], noPort5, Fast)).ToList();
        Assert.DoesNotContain(faults, f => f.Port == "port5");
        Assert.Contains(faults, f => f.Port == "port3");
        var none = noPort5 with { Ports = noPort5.Ports.ToDictionary(kv => kv.Key, _ => (IReadOnlyList<string>)[]) };
        Assert.Throws<ArgumentException>(() => ChaosPlan.Fault(3, 1, [ChaosCatalog.PortDown], none, Fast));
        Assert.Throws<ArgumentException>(() => ChaosPlan.Fault(3, 1, [], ChaosTargets.Seed, Fast));
    }

    [Fact]
    public void The_seed_targets_are_the_four_units_their_data_ports_and_the_two_clusters()
    {
        Assert.Equal(["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"], ChaosTargets.Seed.Units);
        Assert.All(ChaosTargets.Seed.Ports.Values, ports => Assert.Equal(["port2", "port3", "port5"], ports.Order()));
        Assert.Equal([["DC2_VM1", "DC2_VM2"], ["DC2_VM3", "DC2_VM4"]], ChaosTargets.Seed.Clusters);
    }
}
