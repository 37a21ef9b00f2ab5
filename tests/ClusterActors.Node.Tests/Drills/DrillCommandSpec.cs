using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>`clusteractors drill` usage: what it accepts, and the clear errors (exit 2) for what it does not.</summary>
public sealed class DrillCommandSpec
{
    private static Task<int> Run(params string[] words) => Run(new DrillCommand.Request(words));

    private static Task<int> Run(DrillCommand.Request request) =>
        DrillCommand.RunAsync(request, TextWriter.Null, TextWriter.Null, CancellationToken.None,
            (_, _) => throw new InvalidOperationException("a usage error must stop before any lab"));

    [Theory]
    [InlineData(new[] { "fgcp-failovr" }, "unknown drill 'fgcp-failovr'; did you mean 'fgcp-failover'?")]
    [InlineData(new[] { "seed", "heartbeat-cutt" }, "did you mean 'heartbeat-cut'?")]
    [InlineData(new string[0], "give the drill to run: drill [SCENARIO] DRILL")]
    [InlineData(new[] { "seed", "fgcp-failover", "fgsp-failover" }, "one drill at a time")]
    [InlineData(new[] { "nosuch", "fgcp-failover" }, "unknown scenario 'nosuch'")]
    [InlineData(new[] { "fgcp-failover", "--bogus" }, "unknown option '--bogus'")]
    public async Task Bad_words_are_usage_errors_that_say_what_is_known(string[] words, string message)
    {
        var e = await Assert.ThrowsAsync<UsageException>(() => Run(words));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("podman", 1000, 1, "--mode is embedded or docker")]
    [InlineData("embedded", 0, 1, "--rate")]
    [InlineData("embedded", 1000, 0, "--runs")]
    public async Task Out_of_range_options_are_usage_errors(string mode, double rate, int runs, string message)
    {
        var e = await Assert.ThrowsAsync<UsageException>(() => Run(new DrillCommand.Request(["fgcp-failover"], mode, rate, runs)));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Every_drill_starts_from_the_cast_and_all_selects_the_six()
    {
        Assert.Equal(["fgcp-failover", "fgsp-failover", "fgcp-failback", "heartbeat-cut", "full-scenario", "forced-failover"], DrillCatalog.Select("all").Select(d => d.Name));
        foreach (var drill in DrillCatalog.All)
        {
            Assert.Equal("DC2_VM1", drill.InitialOwner);
            Assert.Equal(4, drill.ExpectedAfter.Count);
            Assert.Single(drill.ExpectedAfter, e => e.Tunnel == "sync-primary");
            Assert.NotEmpty(drill.Phases);
        }
    }

    [Fact]
    public void The_lab_changes_keep_hello_holddown_short_add_the_drills_own_and_never_recast_a_unit()
    {
        var slow = DrillCommand.Changes(DrillCatalog.FgcpFailover, fastTimers: false);
        Assert.All(slow.Values, c => Assert.Contains("set hello-holddown 5", c));
        Assert.All(slow.Values, c => Assert.DoesNotContain("hb-lost-threshold", c));
        var fast = DrillCommand.Changes(DrillCatalog.FgcpFailback, fastTimers: true);
        Assert.All(fast.Values, c => Assert.Contains("set hb-lost-threshold 6", c));
        Assert.All(fast.Values, c => Assert.Contains("set ha-uptime-diff-margin 1", c));
        // The cast is the shipped configs' (the document's priority 200 on DC2_VM1 and DC2_VM3): no drill changes a
        // unit's priority or override, so a drill's lab is the lab a user of the shipped scenario gets.
        foreach (var drill in DrillCatalog.All)
        foreach (var client in new[] { DrillCommand.FortiGateClient, DrillCommand.StrongSwanClient })
        foreach (var changes in new[] { DrillCommand.Changes(drill, false, client), DrillCommand.Changes(drill, true, client) })
            Assert.All(changes.Values, c => Assert.DoesNotMatch("priority|override", c));
        foreach (var (unit, change) in fast)
        {
            // Every change is valid FortiOS for the shipped configs, and leaves the shipped priorities.
            var config = LoopbackLab.ScenarioConfig(unit, change);
            Assert.Equal(DrillCatalog.Preferred.Contains(unit) ? 200 : 100, config.Ha.Priority);
        }
        Assert.Equal(["DC2_VM1", "DC2_VM3"], DrillCatalog.Preferred);
        Assert.Contains("DC2_VM1, DC2_VM2, DC2_VM3, DC2_VM4: `config system ha` / `set ha-uptime-diff-margin 1`", DrillCommand.Describe(fast));
    }

    /// <summary>`--hb-10ms` (issue 13 goal 6): FortiOS 7.x's 10 ms heartbeats on every unit, so the drill's bounds follow 50 ms.</summary>
    [Fact]
    public void Hb_10ms_gives_every_unit_10_ms_heartbeats_lost_after_50_ms_and_excludes_fast_timers()
    {
        var changes = DrillCommand.Changes(DrillCatalog.FgcpFailover, fastTimers: false, hb10Ms: true);
        foreach (var (unit, change) in changes)
        {
            var config = LoopbackLab.ScenarioConfig(unit, change);
            Assert.Equal((TimeSpan.FromMilliseconds(10), 5, TimeSpan.FromMilliseconds(50), 5),
                (config.Ha.HeartbeatInterval, config.Ha.HbLostThreshold, config.Ha.LostAfter, config.Ha.HelloHolddown));
            var timers = DrillTimers.From(config, ClusterActors.Node.Scenario.EmbeddedScenarioDriver.RouterProbeAbove([config]));
            Assert.Equal(250, DrillBounds.DetectionMs(DetectionKind.BecomesPrimary, timers)); // 10 ms × 5 + the 200 ms slack
        }
        Assert.Contains("DC2_VM1, DC2_VM2, DC2_VM3, DC2_VM4: `config system ha` / `set hb-interval-in-milliseconds 10ms`", DrillCommand.Describe(changes));
    }

    [Fact]
    public async Task Fast_timers_and_hb_10ms_together_are_a_usage_error()
    {
        var e = await Assert.ThrowsAsync<UsageException>(() => Run(new DrillCommand.Request(["fgcp-failover"], FastTimers: true, Hb10Ms: true)));
        Assert.Contains("--fast-timers or --hb-10ms, not both", e.Message);
    }
}
