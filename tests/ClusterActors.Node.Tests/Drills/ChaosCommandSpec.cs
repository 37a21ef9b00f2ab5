using System.Text.Json;
using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>`clusteractors drill seed chaos` on the fake lab: the planned faults go in and are healed, the files, the
/// summary, the replay of one run, the exit codes.</summary>
public sealed class ChaosCommandSpec(ITestOutputHelper output) : IDisposable
{
    /// <summary>A seed whose first two runs are short on the fake lab's timers: a restart and a kill.</summary>
    private const long Seed = 1;

    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-chaos-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private Task<(int Exit, string Out, List<FakeDrillLab> Labs)> Run(DrillCommand.Request request, Action<FakeDrillLab>? setup = null) =>
        DrillCommandHarness.Run(request, _dir, output, setup);

    /// <summary>The one invocation's folder under --out (`START-chaos`); the specs that run twice ask for the newest.</summary>
    private string Session() => Directory.GetDirectories(_dir, "*-chaos*").OrderBy(d => Directory.GetCreationTimeUtc(d)).ThenBy(d => d, StringComparer.Ordinal).Last();

    private static IReadOnlyList<string> Expected(ChaosFault f) => f.Kind switch
    {
        "kill" or "restart" => [$"kill {f.Unit}", $"start {f.Unit}"],
        "sigstop" => [$"freeze {f.Unit}", $"thaw {f.Unit}"],
        "heartbeat-cut" => [$"{f.Unit} heartbeat out", $"{f.Unit} heartbeat in"],
        "port-down" => [$"{f.Unit} {f.Port} cable out", $"{f.Unit} {f.Port} cable in"],
        "akka-partition" => [.. ChaosCatalog.AkkaCutPairs(f, ChaosTargets.Seed.Clusters).Select(p => $"akka cut {p.A} {p.B}"),
            .. ChaosCatalog.AkkaCutPairs(f, ChaosTargets.Seed.Clusters).Select(p => $"akka heal {p.A} {p.B}")],
        // The change made while the database is stopped (refused), then the one after it returns (journaled at once here).
        "database-stop" => [$"database stop {f.Unit}", $"change {f.Unit}", $"database start {f.Unit}", $"change {f.Unit}"],
        _ => throw new ArgumentOutOfRangeException(nameof(f)),
    };

    [Fact]
    public async Task Each_run_injects_its_planned_fault_heals_it_on_one_lab_and_the_session_ends_with_a_summary()
    {
        var (exit, text, labs) = await Run(new DrillCommand.Request(["seed", "chaos"], Runs: 2, Seed: Seed));
        Assert.Equal(DrillCommand.Passed, exit);
        var lab = Assert.Single(labs); // kept healed between runs
        Assert.True(lab.Disposed);
        var plans = new[] { 1, 2 }.Select(r => ChaosPlan.Fault(Seed, r, ChaosCatalog.All, ChaosTargets.Seed, DrillSamples.Fast)).ToList();
        Assert.Equal(plans.SelectMany(Expected), lab.Calls);
        Assert.Contains($"== chaos run 1 (seed {Seed}): {plans[0].Short}\n", text);
        Assert.Contains("  chaos run 2: PASS\n", text);
        Assert.Contains("2 of 2 runs passed, 0 violation(s), 0 run(s) stopped\n", text);
        var dir = Session();
        Assert.Contains($"reports in {dir}\n", text);
        foreach (var file in new[] { "chaos-1.md", "chaos-1.json", "chaos-1.svg", "chaos-2.md", "chaos-2.json", "chaos-2.svg", "summary.md", "summary.json" })
            Assert.True(File.Exists(Path.Combine(dir, file)), file);
        using var summary = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "summary.json")));
        Assert.True(summary.RootElement.GetProperty("complete").GetBoolean());
        Assert.Equal(2, summary.RootElement.GetProperty("runs").GetInt32());
        Assert.Equal(Seed, summary.RootElement.GetProperty("seed").GetInt64());
        Assert.Equal(1, summary.RootElement.GetProperty("faults_by_kind").GetProperty(plans[0].Kind).GetInt32() - (plans[1].Kind == plans[0].Kind ? 1 : 0));
        Assert.Equal(0, summary.RootElement.GetProperty("violations").GetArrayLength());
        Assert.Equal(0, summary.RootElement.GetProperty("not_in_catalog").GetArrayLength());
        using var run1 = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "chaos-1.json")));
        Assert.Equal("pass", run1.RootElement.GetProperty("verdict").GetString());
        Assert.Equal($"clusteractors drill seed chaos --mode embedded --seed {Seed} --run 1", run1.RootElement.GetProperty("replay").GetString());
        Assert.Contains("| fault | runs | passed | gap min | median | p90 | max |", await File.ReadAllTextAsync(Path.Combine(dir, "summary.md")));
        var svg = await File.ReadAllTextAsync(Path.Combine(dir, "chaos-1.svg"));
        Assert.Contains("chaos run 1: PASS", svg);
        Assert.Contains("class=\"marker fault\"", svg);
    }

    /// <summary>Issue 10 point 8: each invocation writes into its own folder under --out, named by its UTC start; a
    /// second one (even in the same second) never overwrites the first's reports, and nothing lands in --out itself.</summary>
    [Fact]
    public async Task Each_chaos_invocation_writes_into_its_own_timestamped_folder_with_a_summary()
    {
        var before = DateTimeOffset.UtcNow;
        var (_, first, _) = await Run(new DrillCommand.Request(["chaos"], Seed: Seed, Run: 1));
        var (_, second, _) = await Run(new DrillCommand.Request(["chaos"], Seed: Seed, Run: 1));
        var folders = Directory.GetDirectories(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(2, folders.Count);
        Assert.Empty(Directory.GetFiles(_dir));
        foreach (var folder in folders)
        {
            Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z-chaos(-\d+)?$", folder);
            var started = DateTimeOffset.ParseExact(folder![..20], "yyyy-MM-dd'T'HH-mm-ss'Z'", System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal);
            Assert.True(started >= before.AddSeconds(-1) && started <= DateTimeOffset.UtcNow, folder);
            foreach (var file in new[] { "chaos-1.md", "chaos-1.json", "chaos-1.svg", "summary.md", "summary.json" })
                Assert.True(File.Exists(Path.Combine(_dir, folder, file)), $"{folder}/{file}");
            using var summary = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_dir, folder, "summary.json")));
            Assert.Equal(1, summary.RootElement.GetProperty("runs").GetInt32());
            Assert.True(summary.RootElement.GetProperty("complete").GetBoolean());
        }
        Assert.Contains($"reports in {Path.Combine(_dir, folders[0]!)}\n", first + second);
        Assert.Contains($"reports in {Path.Combine(_dir, folders[1]!)}\n", first + second);
    }

    [Fact]
    public async Task Run_R_of_a_seed_replays_that_runs_fault_alone()
    {
        var (exit, _, labs) = await Run(new DrillCommand.Request(["chaos"], Seed: Seed, Run: 2));
        Assert.Equal(DrillCommand.Passed, exit);
        Assert.Equal(Expected(ChaosPlan.Fault(Seed, 2, ChaosCatalog.All, ChaosTargets.Seed, DrillSamples.Fast)), labs.Single().Calls);
        Assert.False(File.Exists(Path.Combine(Session(), "chaos-1.json")));
        Assert.True(File.Exists(Path.Combine(Session(), "chaos-2.json")));
    }

    [Fact]
    public async Task A_broken_invariant_exits_1_and_the_summary_names_the_run_that_replays_it()
    {
        var (exit, text, _) = await Run(new DrillCommand.Request(["chaos"], Seed: Seed, Run: 1), lab => lab.AntiReplayDropsPerFault = 4);
        Assert.Equal(DrillCommand.Failed, exit);
        Assert.Contains("  chaos run 1: FAIL (anti-replay: CLIENT1 anti-replay drops: 4 during the run)\n", text);
        Assert.Contains($"[clusteractors drill seed chaos --mode embedded --seed {Seed} --run 1]", text);
        using var summary = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Session(), "summary.json")));
        var violation = summary.RootElement.GetProperty("violations")[0];
        Assert.Equal(1, violation.GetProperty("run").GetInt32());
        Assert.Equal(Seed, violation.GetProperty("seed").GetInt64());
        Assert.Equal("anti-replay", violation.GetProperty("invariant").GetString());
    }

    [Fact]
    public async Task A_run_that_leaves_the_lab_unhealed_gets_the_next_run_a_fresh_lab()
    {
        var made = 0;
        var (exit, text, labs) = await Run(new DrillCommand.Request(["chaos"], Runs: 2, Seed: Seed), lab => lab.HealBreaksTraffic = made++ == 0);
        Assert.Equal(DrillCommand.Failed, exit);
        Assert.Equal(2, labs.Count);
        Assert.Contains("  chaos run 1: FAIL (traffic-flows: PC1's traffic did not flow again after the heal", text);
        Assert.Contains("  the lab is not healed (run 1 left it unhealed: not healed ", text);
        Assert.Contains("  chaos run 2: PASS\n", text);
        using var summary = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Session(), "summary.json")));
        Assert.Equal(2, summary.RootElement.GetProperty("lab_rebuilt_before")[0].GetInt32());
    }

    /// <summary>Seed 1 run 6: database-stop of DC2_VM4 (ChaosPlanSpec pins it).</summary>
    [Fact]
    public async Task A_database_stop_run_makes_a_change_while_it_is_stopped_and_one_after_it_returns()
    {
        var (exit, text, labs) = await Run(new DrillCommand.Request(["chaos"], Seed: Seed, Run: 6));
        Assert.Equal(DrillCommand.Passed, exit);
        Assert.Equal(["database stop DC2_VM4", "change DC2_VM4", "database start DC2_VM4", "change DC2_VM4"], labs.Single().Calls);
        Assert.Contains("config change while DC2_VM4's database is stopped: refused (-61: change not applied", text);
        using var run = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Session(), "chaos-6.json")));
        Assert.Equal(-61, run.RootElement.GetProperty("change_while_stopped").GetProperty("exit_code").GetInt32());
        Assert.True(run.RootElement.GetProperty("change_journaled_ms").GetDouble() < 1000);
    }

    [Fact]
    public async Task A_change_taken_while_the_database_is_stopped_or_never_journaled_after_fails_the_run()
    {
        var (exit, text, _) = await Run(new DrillCommand.Request(["chaos"], Seed: Seed, Run: 6), lab => lab.AcceptsChangesWithoutDatabase = true);
        Assert.Equal(DrillCommand.Failed, exit);
        Assert.Contains("database-refused: a config change was accepted while the unit's database was stopped", text);

        var (exit2, text2, _) = await Run(new DrillCommand.Request(["chaos"], Seed: Seed, Run: 6), lab => lab.RefusedAfterReturn = int.MaxValue);
        Assert.Equal(DrillCommand.Failed, exit2);
        Assert.Contains("database-journaled: no config change was journaled after the database returned", text2);
    }

    /// <summary>Seed 1 run 8: akka-partition between DC2_VM3's cluster and the other (ChaosPlanSpec pins it).</summary>
    [Fact]
    public async Task An_akka_partition_run_cuts_every_cross_pair_and_heals_them()
    {
        var (exit, _, labs) = await Run(new DrillCommand.Request(["chaos"], Seed: Seed, Run: 8));
        Assert.Equal(DrillCommand.Passed, exit);
        Assert.Equal(["akka cut DC2_VM3 DC2_VM1", "akka cut DC2_VM3 DC2_VM2", "akka cut DC2_VM4 DC2_VM1", "akka cut DC2_VM4 DC2_VM2",
            "akka heal DC2_VM3 DC2_VM1", "akka heal DC2_VM3 DC2_VM2", "akka heal DC2_VM4 DC2_VM1", "akka heal DC2_VM4 DC2_VM2"], labs.Single().Calls);
    }

    [Theory]
    [InlineData("docker", DrillCommand.StrongSwanClient, 1, 1000, "--client strongswan is for the scripted drills")]
    [InlineData("podman", DrillCommand.FortiGateClient, 1, 1000, "--mode is embedded or docker")]
    [InlineData("embedded", DrillCommand.FortiGateClient, 0, 1000, "--run is a run number from 1")]
    [InlineData("embedded", DrillCommand.FortiGateClient, 1, 0, "--rate")]
    public async Task Bad_chaos_options_are_usage_errors(string mode, string client, int run, double rate, string message)
    {
        var e = await Assert.ThrowsAsync<UsageException>(() => DrillCommand.RunAsync(
            new DrillCommand.Request(["chaos"], mode, rate, Client: client, Run: run), TextWriter.Null, TextWriter.Null, CancellationToken.None,
            (_, _) => throw new InvalidOperationException("a usage error must stop before any lab")));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public async Task Seed_and_run_belong_to_the_chaos_drill()
    {
        var e = await Assert.ThrowsAsync<UsageException>(() => DrillCommand.RunAsync(
            new DrillCommand.Request(["fgcp-failover"], Seed: 3), TextWriter.Null, TextWriter.Null, CancellationToken.None,
            (_, _) => throw new InvalidOperationException("a usage error must stop before any lab")));
        Assert.Contains("--seed and --run are the chaos drill's options", e.Message);
    }
}
