using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>The bounds from the timers, and the verdict from measured values: pure, with synthetic inputs.</summary>
public sealed class DrillVerdictSpec
{
    [Fact]
    public void Loss_bounds_follow_the_timers_and_the_rate()
    {
        var fast = DrillSamples.Fast;
        // (200 ms × 6 + 200 ms) × 1000 pps; (router (14 + 1) × 100 ms + 200 ms) × 1000 pps.
        Assert.Equal(1400, DrillBounds.Loss(LossBoundKind.Fgcp, fast, 1000));
        Assert.Equal(1700, DrillBounds.Loss(LossBoundKind.Router, fast, 1000));
        Assert.Equal(200, DrillBounds.Loss(LossBoundKind.NoFailover, fast, 1000));
        Assert.Null(DrillBounds.Loss(LossBoundKind.None, fast, 1000));
        Assert.Equal(700, DrillBounds.Loss(LossBoundKind.Fgcp, fast, 500));
        // The VM defaults the seed keeps: hb-lost-threshold 20 (4 s), and the router's probe then outlasts it (42 misses).
        var vm = fast with { HbLostThreshold = 20, ProbeMisses = 42 };
        Assert.Equal(4200, DrillBounds.Loss(LossBoundKind.Fgcp, vm, 1000));
        Assert.Equal(4500, DrillBounds.Loss(LossBoundKind.Router, vm, 1000));
    }

    [Fact]
    public void Detection_bounds_follow_the_mechanism_that_detects()
    {
        var t = DrillSamples.Fast;
        Assert.Equal(1400, DrillBounds.DetectionMs(DetectionKind.BecomesPrimary, t));
        Assert.Equal(1400, DrillBounds.DetectionMs(DetectionKind.SplitBrain, t));
        Assert.Equal(1700, DrillBounds.DetectionMs(DetectionKind.RouterWithdraws, t));
        Assert.Equal(5000, DrillBounds.DetectionMs(DetectionKind.RejoinsAsSecondary, t));
        Assert.Equal(600, DrillBounds.DetectionMs(DetectionKind.OnePrimary, t));
    }

    [Fact]
    public void Timers_come_from_the_config_and_the_router_probe_the_lab_derives_from_it()
    {
        var unit = LoopbackLab.ScenarioConfig("DC2_VM1", ClusterActors.Node.Scenario.EmbeddedScenarioDriver.FastTimers);
        var probe = ClusterActors.Node.Scenario.EmbeddedScenarioDriver.RouterProbeAbove([unit]);
        var timers = DrillTimers.From(unit, probe);
        Assert.Equal(new DrillTimers(200, 6, 5, 300, 100, 14), timers);
        Assert.Equal(1200, timers.FgcpDetectionMs);
        Assert.Equal(1500, timers.RouterDetectionMs);
    }

    /// <summary>hb-interval counts 10 ms units with `hb-interval-in-milliseconds 10ms` (FortiOS 7.x): 2 × 5 = 100 ms, so
    /// the router needs only its minimum of 3 misses; counted in 100 ms units it waited 12, ten times FGCP's detection.</summary>
    [Fact]
    public void The_router_probe_follows_hb_interval_in_its_unit_of_10_ms()
    {
        var unit = ClusterActors.Protocol.Config.FortiConfig.Parse("""
            config system ha
                set group-id 1
                set group-name "DC2_VM12"
                set mode a-p
                set hbdev "port4" 50
                set hb-interval 2
                set hb-interval-in-milliseconds 10ms
                set hb-lost-threshold 5
            end
            """).Value!;
        Assert.Equal(TimeSpan.FromMilliseconds(100), unit.Ha.LostAfter);
        var probe = ClusterActors.Node.Scenario.EmbeddedScenarioDriver.RouterProbeAbove([unit]);
        Assert.Equal(3, probe.MissedProbes);
    }

    [Fact]
    public void A_run_within_every_bound_passes()
    {
        var r = DrillSamples.Passing();
        Assert.True(r.Passed, string.Join("\n", r.Checks.Where(c => c.Ok == false)));
        Assert.Equal("pass", r.Verdict);
        Assert.Contains(r.Checks, c => c.What == "packets lost" && c.Measured == "1200 of 3700" && c.Expected == "≤ 1400" && c.Ok == true);
        Assert.Contains(r.Checks, c => c.What.StartsWith("detection: DC2_VM2") && c.Measured == "1150 ms" && c.Expected == "≤ 1400 ms");
        Assert.Contains(r.Checks, c => c.What.StartsWith("traffic gap") && c.Ok == null);
    }

    [Fact]
    public void A_client_without_replay_counters_is_reported_as_not_counted_never_as_zero()
    {
        var r = DrillSamples.Passing() with { AntiReplayDrops = null, IcvFailures = null };
        Assert.True(r.Passed);
        Assert.Contains(r.Checks, c => c.What == "client anti-replay drops" && c.Measured == "not counted by this client (strongSwan)" && c.Ok == null);
        Assert.Contains(r.Checks, c => c.What == "client ICV failures" && c.Ok == null);
        Assert.DoesNotContain(r.Checks, c => c.What.StartsWith("CLIENT1 ", StringComparison.Ordinal));
    }

    /// <summary>
    /// Stop 21's trial (CI load): 858 lost against 600, of which 517 in two outages at the traffic's start, over before it
    /// was steady and long before the fault; the failover's own 341 held. Those are reported, not charged to the fault;
    /// one more lost after the steady point is.
    /// </summary>
    [Fact]
    public void Packets_lost_before_the_traffic_was_steady_are_reported_but_not_held_against_the_faults_bound()
    {
        var phase = DrillSamples.Phase() with { Lost = 1200 + 517, LostBeforeSteady = 517 };
        var r = DrillSamples.Passing() with { Phases = [phase] };
        Assert.Contains(r.Checks, c => c.What == "packets lost" && c.Measured == "1717 of 3700 (517 before the traffic was steady, not the fault's)"
                                       && c.Expected == "≤ 1400" && c.Ok == true);
        var more = r with { Phases = [phase with { Lost = 1401 + 517 }] };
        Assert.Contains(more.Checks, c => c.What == "packets lost" && c.Ok == false);
        Assert.Contains("517 of them lost before the traffic was steady", MarkdownReport.Render(r));
    }

    [Fact]
    public void The_lab_running_late_during_the_detection_lengthens_the_loss_window_at_the_rate()
    {
        var t = DrillSamples.Fast;
        Assert.Equal(DrillBounds.Loss(LossBoundKind.Router, t, 1000)! + 997, DrillBounds.Loss(LossBoundKind.Router, t, 1000, lateMs: 997));
        Assert.Equal(DrillBounds.Loss(LossBoundKind.Fgcp, t, 100)! + 30, DrillBounds.Loss(LossBoundKind.Fgcp, t, 100, lateMs: 300));
        Assert.Null(DrillBounds.Loss(LossBoundKind.None, t, 1000, lateMs: 300));
    }

    public static TheoryData<string, Func<DrillRunResult, DrillRunResult>> Failures => new()
    {
        { "packets lost", r => r with { Phases = [DrillSamples.Phase() with { Lost = 1401 }] } },
        { "detection: DC2_VM2 reports itself Primary", r => r with { Phases = [DrillSamples.Phase() with { DetectionMs = 1401 }] } },
        { "detection: DC2_VM2 reports itself Primary", r => r with { Phases = [DrillSamples.Phase() with { DetectionMs = null }] } },
        { "role change: DC2_VM2 lists vpn1_1 as sync-primary", r => r with { Phases = [DrillSamples.Phase() with { RoleChangeMs = null }] } },
        { "vpn1_1's owner once settled", r => r with { Phases = [DrillSamples.Phase() with { OwnersAfter = ["DC2_VM1", "DC2_VM2"] }] } },
        { "traffic steady again", r => r with { Phases = [DrillSamples.Phase() with { ForwarderAfter = null }] } },
        { "SAs", r => r with { Phases = [DrillSamples.Phase() with { Sa = "renegotiated" }] } },
        { "CLIENT1 anti-replay drops", r => r with { AntiReplayDrops = 3 } },
        { "CLIENT1's tunnel came up on", r => r with { DialedVia = "DC2_VM3" } },
        { "DC2_VM2 HA / tunnel role", r => r with { Roles = [.. r.Roles.Select(x => x.Unit == "DC2_VM2" ? x with { ActualHa = "Secondary" } : x)] } },
        { "units owning vpn1_1", r => r with { Roles = [.. r.Roles.Select(x => x.Unit == "DC2_VM3" ? x with { ExpectedTunnel = "sync-primary", ActualTunnel = "sync-primary" } : x)] } },
        { "the drill ran to the end", r => r with { Error = "TimeoutException: the lab did not form" } },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void One_value_out_of_its_expectation_fails_the_run_and_says_which(string what, Func<DrillRunResult, DrillRunResult> change)
    {
        var r = change(DrillSamples.Passing());
        Assert.False(r.Passed);
        Assert.Equal("fail", r.Verdict);
        Assert.Contains(r.Checks, c => c.Ok == false && c.What == what);
    }

    [Fact]
    public void A_phase_without_an_expected_owner_reports_what_happened_without_judging_it()
    {
        var cut = DrillSamples.Phase() with
        {
            Fault = "heartbeat cut at DC2_VM2", ExpectedOwner = null, LossBound = null, LossBoundKind = "none",
            OwnersAfter = ["DC2_VM2"], RoleChangeOwners = ["DC2_VM1", "DC2_VM2"], DoubleOwners = ["DC2_VM1+DC2_VM2 at 2.256 s for 26 ms"],
            Lost = 5000,
        };
        var r = DrillSamples.Passing() with { Phases = [cut] };
        Assert.True(r.Passed, string.Join("\n", r.Checks.Where(c => c.Ok == false)));
        Assert.Contains(r.Checks, c => c.What == "two owners at once" && c.Measured.StartsWith("DC2_VM1+DC2_VM2") && c.Ok == null);
        Assert.Contains(r.Checks, c => c.What == "packets lost" && c.Expected == "measured" && c.Ok == null);
        Assert.Contains(r.Checks, c => c.What == "role change: vpn1_1's owner after the fault" && c.Measured == "DC2_VM1+DC2_VM2 after 1160 ms");
    }

    [Fact]
    public void A_failback_expects_the_owner_to_stay()
    {
        var stays = DrillSamples.Phase() with { OwnerMoves = false, ExpectedOwner = "DC2_VM2", OwnersAfter = ["DC2_VM1"] };
        var r = DrillSamples.Passing() with { Phases = [stays] };
        Assert.Contains(r.Checks, c => c.What == "vpn1_1 stays on" && c.Measured == "DC2_VM1" && c.Expected == "DC2_VM2" && c.Ok == false);
        Assert.DoesNotContain(r.Checks, c => c.What.StartsWith("role change"));
    }

    [Fact]
    public void Forwarded_during_a_phase_survives_kills_and_restarts()
    {
        static Dictionary<string, long> D(long? v) => v is { } x ? new() { ["u"] = x } : new();
        Assert.Equal(900, DrillRunner.ForwardedDuring("u", D(100), D(500), D(1000))); // ran throughout
        Assert.Equal(400, DrillRunner.ForwardedDuring("u", D(100), D(500), D(null))); // killed: counts until just before the fault
        Assert.Equal(700, DrillRunner.ForwardedDuring("u", D(null), D(null), D(700))); // started during the phase
        Assert.Equal(30, DrillRunner.ForwardedDuring("u", D(100), D(500), D(30)));    // restarted: its counter began again
        Assert.Equal(0, DrillRunner.ForwardedDuring("u", D(null), D(null), D(null)));
    }

    [Fact]
    public void The_timeline_counts_packets_per_interval_through_restarts_and_absences()
    {
        TimelineSample S(double at, long answered, params (string, long)[] tunnelIn) => new(at, tunnelIn.ToDictionary(x => x.Item1, x => x.Item2), answered);
        var samples = new[]
        {
            S(100, 0, ("a", 0), ("b", 0)),
            S(200, 90, ("a", 100), ("b", 0)),
            S(300, 190, ("b", 0)),                // a killed
            S(400, 60, ("a", 5), ("b", 100)),     // a restarted; a new echo run began
            S(500, 160, ("a", 25), ("b", 200)),
        };
        var t = TimelineSampler.Build(samples, ["a", "b"], 100);
        Assert.Equal([100.0, 200, 300, 400, 500], t.AtMs);
        Assert.Equal([0L, 100, 0, 0, 20], t.Forwarded["a"]);
        Assert.Equal([0L, 0, 0, 100, 100], t.Forwarded["b"]);
        Assert.Equal([0L, 90, 100, 60, 100], t.Answered);
    }
}
