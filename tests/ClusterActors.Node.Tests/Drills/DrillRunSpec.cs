using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using ClusterActors.Node.Drills;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>The whole command on a fake lab: progress, the files, the summary and the exit code.</summary>
public sealed class DrillRunSpec(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-drill-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>The folder the last invocation wrote into: the only one under <see cref="_dir"/>.</summary>
    private string Reports => Assert.Single(Directory.GetDirectories(_dir));

    private Task<(int Exit, string Out, List<FakeDrillLab> Labs)> Run(DrillCommand.Request request, Action<FakeDrillLab>? setup = null) =>
        DrillCommandHarness.Run(request, _dir, output, setup);

    [Fact]
    public async Task A_drill_whose_expectations_hold_exits_0_and_writes_its_three_files()
    {
        var (exit, text, labs) = await Run(new DrillCommand.Request(["seed", "fgsp-failover"]));
        Assert.Equal(DrillCommand.Passed, exit);
        Assert.Equal(["kill DC2_VM1", "DC2_VM2 port2 down"], labs.Single().Calls);
        Assert.True(labs.Single().Disposed);
        Assert.Contains("== fgsp-failover, run 1 of 1: FGSP failover", text);
        Assert.Contains("  lab up … 4 units (fake)\n", text);
        Assert.Contains("  tunnel up via DC2_VM1 (router next hop 192.168.129.254 DC2_VM1+DC2_VM2; spi in 0000abcd out 0000dcba)\n", text);
        Assert.Contains("  vpn1_1 synced to every unit (DC2_VM1 sync-primary, DC2_VM2 standby, DC2_VM3 standby, DC2_VM4 standby)\n", text);
        Assert.Matches(@"  setup: kill DC2_VM1 at \d\.\d{3} s; vpn1_1 on DC2_VM2 after \d\.\d{3} s\n", text);
        Assert.Contains("  traffic 1000 pps steady through DC2_VM2\n", text);
        Assert.Matches(@"  fault: DC2_VM2 port2 down at \d\.\d{3} s \(the call returned after \d+ ms\)\n", text);
        Assert.Matches(@"  the DC router withdraws DC2_VM2's next hop after 0\.\d{3} s\n", text);
        Assert.Contains("  traffic steady again through DC2_VM3\n", text);
        Assert.Contains("  fgsp-failover run 1: PASS\n", text);
        foreach (var ext in new[] { "md", "json", "svg" })
        {
            var path = Path.Combine(Reports, $"fgsp-failover-1.{ext}");
            Assert.True(File.Exists(path), path);
            Assert.Contains($"  wrote {path}\n", text);
        }
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Reports, "fgsp-failover-1.json")));
        Assert.Equal("pass", json.RootElement.GetProperty("verdict").GetString());
        Assert.Equal("DC2_VM3", json.RootElement.GetProperty("phases")[0].GetProperty("owners_after")[0].GetString());
        Assert.True(json.RootElement.GetProperty("timeline").GetProperty("at_ms").GetArrayLength() > 10, "sampled every 100 ms");
    }

    /// <summary>
    /// CI, the container lab with strongSwan: DC2_VM2's Primary came back from a poll 4,367 ms after the kill, against
    /// 4,300, while PC1's echoes already flowed through DC2_VM2 after 4,203 ms. The bound is on the unit, so where the
    /// unit logs its change the drill takes that time, and prints the poll's beside it.
    /// </summary>
    [Fact]
    public async Task Detection_is_the_units_own_logged_time_when_the_lab_keeps_one_not_a_slow_polls()
    {
        var (exit, text, _) = await Run(new DrillCommand.Request(["fgcp-failover"]), lab =>
        {
            lab.HaAnswerDelay = TimeSpan.FromMilliseconds(1600); // beyond the fast timers' bound of 1,400 ms by itself
            lab.KeepsRoleLog = true;
        });
        Assert.Matches(@"  DC2_VM2 reports itself Primary after 0\.\d{3} s \(by its own log; the drill's poll saw it after [1-9]\.\d{3} s\)\n", text);
        Assert.Equal(DrillCommand.Passed, exit);
    }

    /// <summary>
    /// CI (stop 19), the embedded lab: the drill's poll saw EDGE_1's next hop dead 1,784 ms after the kill against a
    /// bound of 1,700 ms. The bound is on the router, so its own stamp of the withdrawal is the detection.
    /// </summary>
    [Fact]
    public async Task Router_detection_is_the_routers_own_stamp_when_the_lab_keeps_one_not_a_slow_reads()
    {
        var (exit, text, _) = await Run(new DrillCommand.Request(["seed", "fgsp-failover"]), lab =>
        {
            lab.RouterSeenAfter = TimeSpan.FromMilliseconds(1800); // beyond the fast timers' router bound by itself
            lab.KeepsRouterStamp = true;
        });
        Assert.Matches(@"  the DC router withdraws DC2_VM2's next hop after 0\.\d{3} s \(by the router's own clock; the drill's poll saw it after [1-9]\.\d{3} s\)\n", text);
        Assert.Equal(DrillCommand.Passed, exit);
    }

    /// <summary>
    /// CI trial of stop 20, the embedded three-member lab under the full suite's load: the router's own stamp of EDGE_1's
    /// withdrawal came 1,824 ms after the kill against (14 + 1) × 100 + 200 ms: its probe thread ran late. The rounds'
    /// lateness is the lab's, measured by the router; it is added to the bound and said, and without it the run fails.
    /// </summary>
    [Theory]
    [InlineData(300, true)]
    [InlineData(0, false)]
    public async Task The_routers_late_probe_rounds_since_the_fault_are_added_to_its_detection_bound(int lateMs, bool passes)
    {
        var (exit, text, _) = await Run(new DrillCommand.Request(["seed", "fgsp-failover"]), lab =>
        {
            lab.KeepsRouterStamp = true;
            lab.RouterWithdrawsAfter = TimeSpan.FromMilliseconds(1850); // beyond the fast timers' router bound of 1,700 ms
            lab.RouterLate = TimeSpan.FromMilliseconds(lateMs);
        });
        Assert.Equal(passes ? DrillCommand.Passed : DrillCommand.Failed, exit);
        if (passes) Assert.Contains("  the lab router's probe rounds ran 300 ms late in all since the fault: its detection bound is 2000 ms\n", text);
        else Assert.DoesNotContain("probe rounds ran", text);
    }

    /// <summary>
    /// Stop 20's CI: a DPD flush 885 ms beyond its bound while the same drill alone keeps well inside it. A unit's
    /// detection runs on its own timers; the detecting unit's measured lateness since the fault (never the fault's own
    /// unit's) is added to the bound and said, and without it a late detection fails. The detection is the unit's own
    /// stamp, 1,600 ms after the kill: stop 22's CI trial, under the full suite, polled a 1,600 ms answer after 2,772 ms,
    /// beyond even the widened bound, so the spec measured its own machine's load instead of the rule.
    /// </summary>
    [Theory]
    [InlineData(600, true)]
    [InlineData(0, false)]
    public async Task The_detecting_units_late_timers_since_the_fault_are_added_to_its_detection_bound(int lateMs, bool passes)
    {
        var (exit, text, _) = await Run(new DrillCommand.Request(["fgcp-failover"]), lab =>
        {
            lab.HaAnswerDelay = TimeSpan.FromMilliseconds(1600); // the poll's Primary comes beyond the 1,400 ms bound
            lab.KeepsRoleLog = true;
            lab.RoleLoggedAfter = TimeSpan.FromMilliseconds(1600); // and so does the unit's own stamp
            lab.UnitLate = TimeSpan.FromMilliseconds(lateMs);
        });
        Assert.Equal(passes ? DrillCommand.Passed : DrillCommand.Failed, exit);
        if (passes) Assert.Contains("  DC2_VM2's timers ran 600 ms late in all since the fault: its detection bound is 2000 ms\n", text);
        else Assert.DoesNotContain("timers ran", text);
    }

    /// <summary>
    /// The container lab cannot read a unit's timers; it gives how long the machine stood still since the fault, seen by
    /// a sleeping thread of the drill's process (<see cref="MachineStalls"/>): added to the bound as the units' own
    /// lateness would be, and said for what it is. Stop 22's CI: DC2_VM2 primary 4,346 ms after the kill against 4,300.
    /// </summary>
    [Theory]
    [InlineData(600, true)]
    [InlineData(0, false)]
    public async Task The_container_labs_machine_stalls_since_the_fault_are_added_to_a_detection_bound_and_said_as_such(int lateMs, bool passes)
    {
        var (exit, text, _) = await Run(new DrillCommand.Request(["fgcp-failover"]), lab =>
        {
            lab.HaAnswerDelay = TimeSpan.FromMilliseconds(1600);
            lab.KeepsRoleLog = true;
            lab.RoleLoggedAfter = TimeSpan.FromMilliseconds(1600);
            lab.UnitLate = TimeSpan.FromMilliseconds(lateMs);
            lab.LatenessIsMachineWide = true;
        });
        Assert.Equal(passes ? DrillCommand.Passed : DrillCommand.Failed, exit);
        if (passes) Assert.Contains("  the machine stood still 600 ms in all since the fault (the drill's sleeping probe): DC2_VM2's detection bound is 2000 ms\n", text);
        else Assert.DoesNotContain("stood still", text);
        Assert.DoesNotContain("timers ran", text);
    }

    /// <summary>
    /// CI trial 12 of the fourteenth session: fgsp-sync-disabled lost 962 against 600; the router withdrew on time
    /// (359 ms) and the new owner claimed at 1,088 ms while the whole process stood still (the drill's own poll saw the
    /// withdrawal 700 ms late). After a router's detection the outage lasts until the new owner's claim carries the
    /// traffic: that unit's timer lateness from the fault until the traffic is steady is added to the loss bound and
    /// said; without it the same loss fails.
    /// </summary>
    [Theory]
    [InlineData(600, true)]
    [InlineData(0, false)]
    public async Task A_router_phases_new_owners_late_timers_until_the_traffic_is_steady_are_added_to_its_loss_bound(int lateMs, bool passes)
    {
        var bound = DrillBounds.Loss(LossBoundKind.Router, DrillSamples.Fast, 1000)!.Value;
        var (exit, text, _) = await Run(new DrillCommand.Request(["seed", "fgsp-failover"]), lab =>
        {
            lab.LostPerFault = bound + 300; // 300 ms of traffic beyond the router's window
            lab.UnitLate = TimeSpan.FromMilliseconds(lateMs);
        });
        output.WriteLine(text);
        Assert.Equal(passes ? DrillCommand.Passed : DrillCommand.Failed, exit);
        if (passes) Assert.Matches(@"  DC2_VM\d's timers ran 600 ms late in all from the fault until the traffic was steady: added to the loss bound\n", text);
        else
        {
            Assert.DoesNotContain("timers ran", text);
            Assert.Contains($"packets lost: {bound + 300} of", text);
        }
    }

    [Fact]
    public void A_sleeping_probe_counts_only_what_a_wake_up_came_later_than_its_period_and_grain()
    {
        long Ms(double ms) => (long)(ms / 1000 * System.Diagnostics.Stopwatch.Frequency);
        Assert.Equal(0, MachineStalls.LateBy(Ms(20)));
        Assert.Equal(0, MachineStalls.LateBy(Ms(29)));        // within the grain: a sleep's ordinary lateness
        Assert.Equal(Ms(500), MachineStalls.LateBy(Ms(530)), Ms(1)); // a 500 ms stall beyond period + grain
        Assert.Equal(0, MachineStalls.LateBy(Ms(5)));         // an early wake-up adds nothing
    }

    /// <summary>The container lab: no stamp in the next-hop view, but the router's log has it (stop 21's trial: read
    /// after 980 ms against 700 while the traffic already flowed through the other member after 352 ms).</summary>
    [Fact]
    public async Task With_the_routers_log_a_late_read_of_its_next_hops_still_passes()
    {
        var (exit, text, _) = await Run(new DrillCommand.Request(["seed", "fgsp-failover"]), lab =>
        {
            lab.RouterSeenAfter = TimeSpan.FromMilliseconds(1800);
            lab.KeepsRouterLog = true;
        });
        Assert.Equal(DrillCommand.Passed, exit);
        Assert.Matches(@"the DC router withdraws DC2_VM2's next hop after \d\.\d{3} s \(by the router's own clock; the drill's poll saw it after \d\.\d{3} s\)", text);
    }

    [Fact]
    public async Task Without_the_routers_stamp_a_late_read_of_its_next_hops_fails_the_detection()
    {
        var (exit, text, _) = await Run(new DrillCommand.Request(["seed", "fgsp-failover"]), lab => lab.RouterSeenAfter = TimeSpan.FromMilliseconds(1800));
        Assert.Equal(DrillCommand.Failed, exit);
        Assert.Matches(@"fgsp-failover run 1: FAIL \(1: DC2_VM2 port2 down: detection: the DC router withdraws DC2_VM2's next hop: \d+ ms, expected ≤ \d+ ms\)", text);
    }

    [Fact]
    public async Task Without_a_units_own_record_the_polls_time_is_the_detection_and_a_late_one_fails()
    {
        var (exit, text, _) = await Run(new DrillCommand.Request(["fgcp-failover"]), lab => lab.HaAnswerDelay = TimeSpan.FromMilliseconds(1600));
        Assert.Equal(DrillCommand.Failed, exit);
        Assert.Matches(@"fgcp-failover run 1: FAIL \(1: kill DC2_VM1: detection: DC2_VM2 reports itself Primary: \d+ ms, expected ≤ 1400 ms\)", text);
    }

    [Fact]
    public async Task A_failed_expectation_exits_1_and_says_which()
    {
        var (exit, text, _) = await Run(new DrillCommand.Request(["fgcp-failover"]), lab => lab.AntiReplayDrops = 2);
        Assert.Equal(DrillCommand.Failed, exit);
        Assert.Contains("fgcp-failover run 1: FAIL (run: CLIENT1 anti-replay drops: 2, expected 0)", text);
        Assert.StartsWith("# Drill fgcp-failover, run 1: FAIL", await File.ReadAllTextAsync(Path.Combine(Reports, "fgcp-failover-1.md")));
    }

    [Fact]
    public async Task Several_runs_write_a_file_set_each_and_end_with_a_summary()
    {
        var (exit, text, labs) = await Run(new DrillCommand.Request(["fgcp-failover"], Runs: 2));
        Assert.Equal(DrillCommand.Passed, exit);
        Assert.Equal(2, labs.Count);
        Assert.True(File.Exists(Path.Combine(Reports, "fgcp-failover-2.svg")));
        Assert.Contains("\nsummary\n", text);
        Assert.Matches(@"fgcp-failover\s+kill DC2_VM1\s+2\s+2\s+3 ms\s+3 ms\s+0\s+0\s+1400", text);
        Assert.Contains("2 of 2 runs passed", text);
    }

    [Fact]
    public async Task Faults_wait_until_the_standby_copies_are_on_every_unit()
    {
        var (exit, text, labs) = await Run(new DrillCommand.Request(["fgcp-failover"]), lab => lab.SyncedAfter = TimeSpan.FromMilliseconds(400));
        Assert.Equal(DrillCommand.Passed, exit);
        Assert.Contains("  vpn1_1 synced to every unit (DC2_VM1 sync-primary, DC2_VM2 standby, DC2_VM3 standby, DC2_VM4 standby)\n", text);
        Assert.Equal(["kill DC2_VM1"], labs.Single().Calls);
    }

    [Fact]
    public async Task A_tunnel_never_synced_stops_the_run_before_any_fault()
    {
        var (exit, text, labs) = await Run(new DrillCommand.Request(["fgcp-failover"]), lab => lab.SyncedAfter = null);
        Assert.Equal(DrillCommand.Failed, exit);
        Assert.Contains("  stopped: vpn1_1 was not synced to DC2_VM2, DC2_VM3, DC2_VM4 within 10 s\n", text);
        Assert.Empty(labs.Single().Calls);
    }

    [Fact]
    public async Task A_started_unit_is_timed_to_its_HA_answering_and_its_rejoin_bound_counts_from_there()
    {
        var (exit, text, labs) = await Run(new DrillCommand.Request(["fgcp-failback"]));
        Assert.Equal(DrillCommand.Passed, exit);
        Assert.Equal(["kill DC2_VM1", "start DC2_VM1"], labs.Single().Calls);
        Assert.Matches(@"  DC2_VM1 runs again \(HA answers\) after \d\.\d{3} s\n", text);
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Reports, "fgcp-failback-1.json")));
        var phase = json.RootElement.GetProperty("phases")[0];
        var up = phase.GetProperty("unit_up_ms").GetDouble();
        Assert.Equal(up + DrillSamples.Fast.HelloHolddownSeconds * 1000.0, phase.GetProperty("detection_bound_ms").GetDouble(), 1);
        Assert.Contains("the started unit ran again (its HA answered)", await File.ReadAllTextAsync(Path.Combine(Reports, "fgcp-failback-1.md")));
        Assert.Contains("unit runs again", await File.ReadAllTextAsync(Path.Combine(Reports, "fgcp-failback-1.svg")));
    }

    [Fact]
    public async Task Each_invocation_writes_into_its_own_timestamped_folder_with_a_summary_over_its_runs_and_prints_the_folder()
    {
        var (exit, text, _) = await Run(new DrillCommand.Request(["fgcp-failover"], Runs: 2));
        Assert.Equal(DrillCommand.Passed, exit);
        var folder = Reports;
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z-fgcp-failover$", Path.GetFileName(folder));
        Assert.StartsWith($"reports in {folder}\n", text);
        Assert.EndsWith($"reports in {folder}\n", text);
        Assert.Equal(["fgcp-failover-1.json", "fgcp-failover-1.md", "fgcp-failover-1.svg", "fgcp-failover-2.json", "fgcp-failover-2.md",
            "fgcp-failover-2.svg", "summary.json", "summary.md"], Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Contains($"wrote {Path.Combine(folder, "summary.md")}\n", text);

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "summary.json")));
        var root = json.RootElement;
        Assert.Equal("pass", root.GetProperty("verdict").GetString());
        Assert.True(root.GetProperty("complete").GetBoolean());
        Assert.Equal("fgcp-failover", root.GetProperty("drill").GetString());
        Assert.Equal(2, root.GetProperty("passed").GetInt32());
        Assert.Equal(["fgcp-failover-1.md", "fgcp-failover-2.md"], root.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("markdown").GetString()));
        var fault = Assert.Single(root.GetProperty("faults").EnumerateArray());
        Assert.Equal("kill DC2_VM1", fault.GetProperty("fault").GetString());
        Assert.Equal(2, fault.GetProperty("runs").GetInt32());
        Assert.Equal(1400, fault.GetProperty("loss_bound").GetInt64());

        var md = await File.ReadAllTextAsync(Path.Combine(folder, "summary.md"));
        Assert.StartsWith("# Drill fgcp-failover on seed: PASS, 2 of 2 runs passed\n", md);
        Assert.Contains("| fgcp-failover | 2 | ✓ pass | — | [fgcp-failover-2.md](fgcp-failover-2.md), [json](fgcp-failover-2.json), [svg](fgcp-failover-2.svg) |", md);
        Assert.Matches(@"\| fgcp-failover \| kill DC2_VM1 \| 2 \| 2 \| 3 ms \| 3 ms \| 0 \| 0 \| 1400 \| \d+ ms \|", md);
    }

    [Fact]
    public async Task Two_invocations_with_the_same_out_never_overwrite_each_other_even_in_the_same_second()
    {
        // Both invocations start at the same second: only the claim of the folder keeps them apart.
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 5, 21, 3, 12, TimeSpan.Zero));
        async Task<int> Invoke(long antiReplayDrops) => await DrillCommand.RunAsync(new DrillCommand.Request(["fgcp-failover"], Out: _dir),
            TextWriter.Null, TextWriter.Null, CancellationToken.None, (_, _) => new FakeDrillLab { AntiReplayDrops = antiReplayDrops }, clock);

        Assert.Equal(DrillCommand.Passed, await Invoke(0));
        var first = Path.Combine(_dir, "2026-12-05T21-03-12Z-fgcp-failover");
        var before = Directory.GetFiles(first).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        Assert.Equal(5, before.Count);

        Assert.Equal(DrillCommand.Failed, await Invoke(2));
        Assert.Equal([first, first + "-2"], Directory.GetDirectories(_dir).Order(StringComparer.Ordinal));
        foreach (var (name, bytes) in before) Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(first, name)));
        Assert.StartsWith("# Drill fgcp-failover, run 1: PASS", await File.ReadAllTextAsync(Path.Combine(first, "fgcp-failover-1.md")));
        Assert.StartsWith("# Drill fgcp-failover, run 1: FAIL", await File.ReadAllTextAsync(Path.Combine(first + "-2", "fgcp-failover-1.md")));
        using var second = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(first + "-2", "summary.json")));
        Assert.Equal("fail", second.RootElement.GetProperty("verdict").GetString());
    }
}
