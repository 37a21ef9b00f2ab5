using System.Text.Json;
using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// The drills with their own runner (fgsp-dpd-flush, heartbeat-loss, flapping-uplink) write the scripted drills' report
/// folder: `DRILL-1.md`, `.json` (and `.svg` where PC1's traffic was sampled), `summary.md`/`.json`, `wrote …` and
/// `reports in …`, exit 1 on a failed expectation. Their checks are pure functions of their results, held here one
/// value at a time (like <see cref="DrillVerdictSpec"/>); flapping-uplink goes through <see cref="IDrillLab"/> and runs
/// on the fake lab. The embedded runs of each are in DpdFlushDrillSpec and ImpairmentDrillSpec.
/// </summary>
public sealed class OwnRunnerReportSpec(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-own-runner-reports-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static readonly DateTimeOffset At = new(2026, 12, 6, 16, 0, 0, TimeSpan.Zero);

    internal static DpdFlushDrill.Result Dpd() => new()
    {
        Scenario = "fgsp-standalone", Owner = "DC1_VM4", Tunnel = "vpn1_1", Client = "CLIENT1", Seed = 0, SpiBefore = 0x10ab2aca, EncSpiBefore = 0xefde7c2d,
        SpiAfter = 0x09bfe2bd, ClientSpiChanged = true, LossToFlushMs = 4_358, BoundMs = 5_200, FlushLimitMs = 12_400, RetryIntervalSeconds = 1,
        RetryCount = 3, Polls = 90, TwoOwners = [], OtherHolders = [], ListedAfterFlush = [], AntiReplayDrops = 0, IcvFailures = 0,
        Timers = DrillSamples.Fast, Cast = [new CastEntry("owner", "DC1_VM4", "fgsp-sync disabled")], StartedAt = At, DurationS = 30,
        DialNextHop = "192.168.128.254", Lines = ["fgsp-dpd-flush: owner DC1_VM4", "  PASS"],
    };

    internal static HeartbeatLossDrill.Result HeartbeatLoss() => new()
    {
        Scenario = "seed", Seed = 11, Owner = "DC2_VM1", Peer = "DC2_VM2", Hbdev = "port4", HbIntervalMs = 200, HbLostThreshold = 6,
        FalseFailoverAtLoss = 100, FalseFailoverAfterMs = 1_250, FalseFailoverSeen = "DC2_VM2 Primary with both units alive",
        Steps =
        [
            new(0, TimeSpan.FromSeconds(5), 25, 0, 25, 0, 50, 0, 0, 0),
            new(100, TimeSpan.FromSeconds(1.3), 7, 7, 7, 7, 13, 2, 1, 1),
        ],
        HealedAfterMs = 180, HealWithinMs = 7_400, FastTimers = true, Impair = true, Hold = TimeSpan.FromSeconds(5), Timers = DrillSamples.Fast,
        Cast = [new CastEntry("owner", "DC2_VM1", "the router's hash")], StartedAt = At, DurationS = 20, DialedVia = "DC2_VM1",
        AntiReplayDrops = 0, IcvFailures = 0, Lines = ["heartbeat-loss: seed 11"],
    };

    internal static FlappingUplinkDrill.Result Flapping() => new()
    {
        Scenario = "seed", Seed = 5, Owner = "DC2_VM1", Uplink = "port2", Period = TimeSpan.FromSeconds(6), Polls = 120, TwoOwnerPolls = 0,
        Flaps = [new(1, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3), "vpn1_1: DC2_VM3", "vpn1_1: DC2_VM1")],
        TwoOwnersAt = [], Transients = ["100 ms after flap 1 up: vpn1_1: DC2_VM1+DC2_VM3"], AllowanceMs = 2_000, FlowingAfterMs = 110,
        FlowingBoundMs = 6_500, AntiReplayDrops = 0, IcvFailures = 0, Sent = 1_400, Answered = 1_100, LongestGapMs = 1_480, RatePps = 200,
        FastTimers = true, Mode = "embedded", Timers = DrillSamples.Fast, Cast = [], StartedAt = At, DurationS = 25, DialedVia = "DC2_VM1",
        Lines = ["flapping-uplink: seed 5"],
    };

    /// <summary>
    /// <paramref name="report"/> written as its command writes it (<see cref="DrillCommand.RunOwn"/>) into a fresh folder under
    /// <paramref name="outRoot"/>: the exit code, the folder's file names, and the run's JSON. For the embedded specs, which
    /// hold a real run's report to the same shape.
    /// </summary>
    internal static async Task<(int Exit, IReadOnlyList<string> Files, JsonElement Run)> Written(DrillRunResult report, string outRoot)
    {
        var exit = await DrillCommand.RunOwn(new DrillCommand.Request([report.Drill], Out: outRoot), report.Scenario, report.Drill, report.RatePps, null,
            TextWriter.Null, () => Task.FromResult(report));
        var folder = Assert.Single(Directory.GetDirectories(outRoot), d => d.EndsWith("-" + report.Drill, StringComparison.Ordinal));
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, $"{report.Drill}-1.json")));
        return (exit, Directory.GetFiles(folder).Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToList(), json.RootElement.Clone());
    }

    private static DrillCheck Failing(DrillRunResult r) => Assert.Single(r.Checks, c => c.Ok == false);

    [Fact]
    public void The_samples_pass_with_their_own_checks_in_the_verdict()
    {
        foreach (var report in new[] { Dpd().Report, HeartbeatLoss().Report, Flapping().Report })
        {
            Assert.True(report.Passed, string.Join("; ", report.Checks.Where(c => c.Ok == false).Select(c => c.Failure)));
            Assert.NotEmpty(report.OwnChecks);
            Assert.All(report.OwnChecks, c => Assert.Contains(c, report.Checks));
            Assert.Contains(report.Checks, c => c.What == "CLIENT1 anti-replay drops" && c.Ok == true);
        }
    }

    public static TheoryData<string, string> DpdFaults => new()
    {
        { "late", "flushes vpn1_1 after CLIENT1 is lost" },
        { "never", "flushes vpn1_1 after CLIENT1 is lost" },
        { "listed after", "units listing vpn1_1 once DC1_VM4 flushed it" },
        { "other holder", "units but DC1_VM4 listing a tunnel" },
        { "two owners", "owners of vpn1_1 at once" },
        { "same SPIs", "dials again" },
        { "client kept its SA", "dials again" },
        { "no redial", "dials again" },
        { "anti-replay", "CLIENT1 anti-replay drops" },
    };

    [Theory]
    [MemberData(nameof(DpdFaults))]
    public void Each_dpd_flush_expectation_fails_its_own_check(string fault, string what)
    {
        var r = Dpd();
        r = fault switch
        {
            "late" => r with { LossToFlushMs = 5_201 },
            "never" => r with { LossToFlushMs = double.NaN },
            "listed after" => r with { ListedAfterFlush = ["DC1_VM1"] },
            "other holder" => r with { OtherHolders = ["poll 3: DC1_VM1 lists vpn1_1"] },
            "two owners" => r with { TwoOwners = ["poll 7: DC1_VM1+DC1_VM4"] },
            "same SPIs" => r with { SpiAfter = r.SpiBefore },
            "client kept its SA" => r with { ClientSpiChanged = false },
            "no redial" => r with { SpiAfter = 0 },
            "anti-replay" => r with { AntiReplayDrops = 4 },
            _ => throw new ArgumentOutOfRangeException(nameof(fault)),
        };
        Assert.Contains(what, Failing(r.Report).What);
        Assert.False(r.Passed);
        Assert.Contains(r.Violations, v => v.Contains(what));
    }

    [Fact]
    public void The_owners_measured_timer_lateness_since_the_loss_is_added_to_the_dpd_bound_and_said()
    {
        // Stop 20's CI: 6,085 ms against 5,200 on a loaded machine. The same flush with 900 ms of the owner's timers
        // measured late passes, and the bound says why; without that lateness it fails.
        var loaded = Dpd() with { LossToFlushMs = 6_085, TimersLateMs = 900 };
        Assert.True(loaded.Passed, string.Join("; ", loaded.Violations));
        var flush = loaded.Checks.First(c => c.Phase == "flush");
        Assert.Equal("≤ 6100 ms ((dpd-retrycount 3 + 1) × (dpd-retryinterval 1 s + 250 ms check) + 200 ms + 900 ms DC1_VM4's timers ran late)", flush.Expected);
        Assert.False((loaded with { TimersLateMs = 0 }).Passed);
        Assert.False((loaded with { TimersLateMs = 884 }).Passed);
    }

    [Fact]
    public void Heartbeat_loss_judges_the_steps_before_the_false_failover_and_the_heal_and_only_reports_the_failover_step()
    {
        var r = HeartbeatLoss();
        // The false failover's own step saw two primaries and two owners: the finding, reported, not judged.
        Assert.Contains(r.Checks, c => c.Phase == "loss 100%" && c.What.StartsWith("polls with two primaries") && c.Ok == null && c.Measured == "2 / 1 of 13");
        Assert.Contains(r.Checks, c => c.Phase == "result" && c.Measured.StartsWith("at 100% loss, 1250 ms into the step") && c.Ok == null);

        var twoOwners = r with { Steps = [r.Steps[0] with { TwoOwnerPolls = 1 }, r.Steps[1]] };
        Assert.Equal("loss 0%", Failing(twoOwners.Report).Phase);
        var twoPrimaries = r with { Steps = [r.Steps[0] with { TwoPrimaryPolls = 1 }, r.Steps[1]] };
        Assert.Equal("0 / 0", Failing(twoPrimaries.Report).Expected);
        // With no false failover every step is judged, the last one too.
        var none = r with { FalseFailoverAtLoss = null, FalseFailoverAfterMs = null, FalseFailoverSeen = null };
        Assert.Equal("loss 100%", Failing(none.Report).Phase);
        var notHealed = r with { HealedAfterMs = null, NotHealed = "2 primaries, tunnels vpn1_1: DC2_VM1+DC2_VM2" };
        Assert.Equal("heal", Failing(notHealed.Report).Phase);
        Assert.False(notHealed.Passed);
    }

    [Fact]
    public void Flapping_uplink_fails_on_two_owners_outside_the_allowance_and_on_traffic_not_back_but_only_reports_transients()
    {
        var r = Flapping();
        Assert.Contains(r.Checks, c => c.What.StartsWith("transient double claims") && c.Ok == null && c.Measured.StartsWith("1: "));
        Assert.Contains(r.Checks, c => c.Phase == "flap 1" && c.Measured == "vpn1_1: DC2_VM3 / vpn1_1: DC2_VM1");
        Assert.Contains("two owners", Failing((r with { TwoOwnerPolls = 1, TwoOwnersAt = ["poll 40, 2500 ms after flap 1 down: vpn1_1: DC2_VM1+DC2_VM3"] }).Report).What);
        Assert.Equal("after the last flap", Failing((r with { FlowingAfterMs = null }).Report).Phase);
        Assert.Equal("after the last flap", Failing((r with { FlowingAfterMs = 6_501 }).Report).Phase);
    }

    private async Task<(int Exit, string Out, string Folder, JsonElement Summary)> Own(Func<TextWriter, Task<int>> run)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var exit = await run(stdout);
        output.WriteLine(stdout.ToString());
        var folder = Assert.Single(Directory.GetDirectories(_dir));
        using var summary = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, DrillCommand.SummaryJson)));
        return (exit, stdout.ToString(), folder, summary.RootElement.Clone());
    }

    [Fact]
    public async Task A_run_without_traffic_writes_md_json_and_the_summary_no_svg_and_a_failed_expectation_exits_1()
    {
        var failing = Dpd() with { LossToFlushMs = 6_000 };
        var (exit, text, folder, summary) = await Own(o => DrillCommand.RunOwn(new DrillCommand.Request(["fgsp-standalone", DpdFlushDrill.Name], Out: _dir),
            "fgsp-standalone", DpdFlushDrill.Name, 0, null, o, () => Task.FromResult(failing.Report)));

        Assert.Equal(DrillCommand.Failed, exit);
        Assert.EndsWith("-fgsp-dpd-flush", folder);
        Assert.Equal(["fgsp-dpd-flush-1.json", "fgsp-dpd-flush-1.md", "summary.json", "summary.md"],
            Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.StartsWith($"reports in {folder}\n", text);
        Assert.Contains($"  wrote {Path.Combine(folder, "fgsp-dpd-flush-1.md")}\n", text);
        Assert.Contains($"  wrote {Path.Combine(folder, "fgsp-dpd-flush-1.json")}\n", text);
        Assert.Contains("  fgsp-dpd-flush run 1: FAIL (flush: DC1_VM4 flushes vpn1_1 after CLIENT1 is lost (DPD): 6000 ms, expected ≤ 5200 ms", text);
        Assert.EndsWith($"wrote {Path.Combine(folder, "summary.json")}\nreports in {folder}\n", text);

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "fgsp-dpd-flush-1.json")));
        Assert.Equal("fail", json.RootElement.GetProperty("verdict").GetString());
        Assert.Contains(json.RootElement.GetProperty("checks").EnumerateArray(),
            c => c.GetProperty("phase").GetString() == "flush" && c.GetProperty("ok").ValueKind == JsonValueKind.False);
        Assert.Equal(2, json.RootElement.GetProperty("log").GetArrayLength());
        Assert.Equal("fail", summary.GetProperty("verdict").GetString());
        Assert.True(summary.GetProperty("complete").GetBoolean());
        var run = Assert.Single(summary.GetProperty("runs").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, run.GetProperty("svg").ValueKind);
        var md = await File.ReadAllTextAsync(Path.Combine(folder, "fgsp-dpd-flush-1.md"));
        Assert.StartsWith("# Drill fgsp-dpd-flush, run 1: FAIL", md);
        Assert.Contains("- Traffic: none through the tunnel", md);
        Assert.Contains("## Log", md);
        Assert.DoesNotContain("## Roles afterwards", md);
        Assert.DoesNotContain(".svg", md);
    }

    [Fact]
    public async Task A_passing_heartbeat_loss_report_exits_0_with_its_seed_in_the_summary()
    {
        var (exit, text, folder, summary) = await Own(o => DrillCommand.RunOwn(new DrillCommand.Request([HeartbeatLossDrill.Name], Out: _dir, FastTimers: true),
            "seed", HeartbeatLossDrill.Name, 0, 11, o, () => Task.FromResult(HeartbeatLoss().Report)));
        Assert.Equal(DrillCommand.Passed, exit);
        Assert.Contains("  heartbeat-loss run 1: PASS\n", text);
        Assert.Equal("pass", summary.GetProperty("verdict").GetString());
        Assert.Equal(11, summary.GetProperty("seed").GetInt64());
        Assert.Contains("`--seed 11`", await File.ReadAllTextAsync(Path.Combine(folder, DrillCommand.SummaryMarkdown)));
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "heartbeat-loss-1.json")));
        Assert.Equal("pass", json.RootElement.GetProperty("verdict").GetString());
    }

    private Task<int> Flap(TextWriter stdout, Action<FakeDrillLab>? setup = null) =>
        FlappingUplinkDrill.RunCommand(new DrillCommand.Request([FlappingUplinkDrill.Name], Out: _dir, FastTimers: true), Scenarios.Topology("seed"), stdout,
            CancellationToken.None, (_, _) =>
            {
                var lab = new FakeDrillLab();
                setup?.Invoke(lab);
                return lab;
            }, options: new FlappingUplinkDrill.Options(Seed: 3, Flaps: 1, Period: TimeSpan.FromSeconds(1), FastTimers: true));

    [Fact]
    public async Task Flapping_uplink_on_the_fake_lab_writes_md_json_svg_and_the_summary_with_its_verdict()
    {
        var (exit, text, folder, summary) = await Own(o => Flap(o));

        Assert.Equal(DrillCommand.Passed, exit);
        Assert.EndsWith("-flapping-uplink", folder);
        Assert.Equal(["flapping-uplink-1.json", "flapping-uplink-1.md", "flapping-uplink-1.svg", "summary.json", "summary.md"],
            Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Contains($"  wrote {Path.Combine(folder, "flapping-uplink-1.svg")}\n", text);
        Assert.Contains("  flapping-uplink run 1: PASS\n", text);
        Assert.Equal("pass", summary.GetProperty("verdict").GetString());
        Assert.Equal(3, summary.GetProperty("seed").GetInt64());
        Assert.Equal("flapping-uplink-1.svg", Assert.Single(summary.GetProperty("runs").EnumerateArray()).GetProperty("svg").GetString());

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "flapping-uplink-1.json")));
        var root = json.RootElement;
        Assert.Equal("pass", root.GetProperty("verdict").GetString());
        Assert.Equal("DC2_VM1", root.GetProperty("dialed_via").GetString());
        Assert.Contains(root.GetProperty("checks").EnumerateArray(), c => c.GetProperty("what").GetString() == "PC1's traffic flowing again"
                                                                         && c.GetProperty("ok").GetBoolean());
        Assert.True(root.GetProperty("timeline").GetProperty("at_ms").GetArrayLength() > 5, "PC1's timeline sampled");
        Assert.Equal(["flap 1: port2 out", "flap 1: port2 in"], root.GetProperty("events").EnumerateArray()
            .Where(e => e.GetProperty("kind").GetString() == "fault").Select(e => e.GetProperty("text").GetString()));
        var md = await File.ReadAllTextAsync(Path.Combine(folder, "flapping-uplink-1.md"));
        Assert.Contains("| 1 | ", md);
        Assert.Contains("flap 1: port2 out", md);
        Assert.Contains("[flapping-uplink-1.svg](flapping-uplink-1.svg)", md);
    }

    [Fact]
    public async Task Flapping_uplink_with_anti_replay_drops_is_FAIL_in_the_json_and_exits_1()
    {
        var (exit, text, folder, summary) = await Own(o => Flap(o, lab => lab.AntiReplayDropsPerFault = 5));

        Assert.Equal(DrillCommand.Failed, exit);
        Assert.Contains("  flapping-uplink run 1: FAIL (run: CLIENT1 anti-replay drops: 5, expected 0)", text);
        Assert.Equal("fail", summary.GetProperty("verdict").GetString());
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "flapping-uplink-1.json")));
        Assert.Equal("fail", json.RootElement.GetProperty("verdict").GetString());
    }

    [Fact]
    public void All_names_the_drills_it_leaves_out_that_the_lab_has_roles_for_with_the_command_that_runs_each()
    {
        Assert.Equal(["clusteractors drill seed heartbeat-loss --fast-timers", "clusteractors drill seed flapping-uplink --fast-timers"],
            DrillCatalog.NotInAll(DrillCatalog.SeedCast, "seed", fastTimers: true));
        Assert.Equal(["clusteractors drill fgsp-standalone fgsp-dpd-flush", "clusteractors drill fgsp-standalone flapping-uplink"],
            DrillCatalog.NotInAll(DrillCast.Resolve(Scenarios.Topology("fgsp-standalone")), "fgsp-standalone", fastTimers: false));
    }
}
