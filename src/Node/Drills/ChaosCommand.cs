using System.Diagnostics;
using System.Globalization;
using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Drills;

/// <summary>
/// `clusteractors drill [seed] chaos [--mode embedded|docker] [--runs N | --run R] [--seed S] [--rate PPS] [--out DIR]`:
/// N runs (or the one run R) of one random fault each on one lab kept healed between runs, under PC1's traffic, each
/// checked against <see cref="ChaosInvariants"/>; per-run `chaos-R.md`/`.json`/`.svg` and a `summary.md`/`.json`, all in the
/// invocation's own folder under --out (`OUT/2026-12-06T00-35-10Z-chaos/`, <see cref="DrillCommand.InvocationFolder"/>), the
/// summary rewritten after every run so an interrupted session leaves the one of the runs it finished.
/// Always on the fast timers (FGCP detection 1.2 s): a hundred runs on the VM defaults (4 s detection, 4.3 s router)
/// would take half an hour. Exit 0 when no invariant broke, 1 otherwise, 2 on a usage error.
/// </summary>
public static class ChaosCommand
{
    public const string Name = "chaos";

    /// <summary>The chaos drill as a definition, for the lab's config changes and the lab factory: no scripted phases.</summary>
    public static readonly DrillDefinition Definition = new(
        Name, "Chaos: one random fault per run under PC1's traffic, healed, invariants checked",
        "Each run injects one fault planned from (seed, run) and heals it; the lab is kept between runs.",
        DrillCatalog.Vm1, null, [], [], [], []);

    public static async Task<int> RunAsync(DrillCommand.Request request, TextWriter stdout, TextWriter stderr, CancellationToken ct,
        DrillCommand.LabFactory? labFactory = null, TimeProvider? clock = null)
    {
        if (request.Mode is not ("embedded" or "docker")) throw new UsageException($"--mode is embedded or docker, not '{request.Mode}'");
        if (request.Client != DrillCommand.FortiGateClient)
            throw new UsageException("the chaos drill dials with our CLIENT1 (anti-replay counted); --client strongswan is for the scripted drills");
        if (!(request.Rate is > 0 and <= 20_000)) throw new UsageException("--rate is packets per second, from 1 to 20000");
        if (request.Runs is < 1 or > 1000) throw new UsageException("--runs is from 1 to 1000 for chaos");
        if (request.Run is < 1) throw new UsageException("--run is a run number from 1");
        var seed = request.Seed ?? Random.Shared.NextInt64(1, 1_000_000);
        IReadOnlyList<int> runs = request.Run is { } one ? [one] : Enumerable.Range(1, request.Runs).ToList();
        var settings = new ChaosSettings(seed, runs, request.Rate, request.Mode);
        clock ??= TimeProvider.System;
        var startedAt = clock.GetUtcNow();
        var outDir = DrillCommand.InvocationFolder(request.Out ?? DrillCommand.DefaultOut, Name, startedAt);
        await stdout.WriteLineAsync($"reports in {outDir}");
        var topology = labFactory is null ? DrillCommand.LabTopology(request, ClusterActors.Node.Scenario.EmbeddedScenarioDriver.Scenario) : null;
        var changes = DrillCommand.Changes(Definition, fastTimers: true, units: topology?.UnitNames);
        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"== chaos, seed {seed}: {(request.Run is { } r ? $"run {r}" : $"{runs.Count} runs")} ({request.Mode}, {request.Rate} pps, fast timers); "
            + $"faults: {string.Join(", ", ChaosCatalog.All.Select(k => k.Name))}"));

        var wall = Stopwatch.StartNew();
        var runner = new ChaosRunner(() => labFactory?.Invoke(Definition, changes) ?? (request.Mode == "docker"
            ? new DockerDrillLab(changes, stdout, topology: topology)
            : new EmbeddedDrillLab(changes, topology)), stdout);
        DrillTimers? timers = null;
        IReadOnlyList<ChaosRunResult> results;
        var done = new List<ChaosRunResult>();
        try
        {
            results = await runner.RunAsync(settings, async result =>
            {
                timers ??= result.Timers;
                done.Add(result);
                foreach (var path in ChaosReport.WriteRun(result, outDir)) await stdout.WriteLineAsync($"  wrote {path}");
                ChaosReport.WriteSummary(ChaosSummary.Of(done, settings, timers, wall.Elapsed.TotalSeconds, ChaosCatalog.All, startedAt), outDir);
                await stdout.WriteLineAsync(result.Passed
                    ? $"  chaos run {result.Run}: PASS"
                    : $"  chaos run {result.Run}: FAIL ({string.Join("; ", result.Error is { } e ? [e] : result.Violations.Select(v => $"{v.Invariant}: {v.Detail}"))})");
                await stdout.FlushAsync();
            }, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await stderr.WriteLineAsync("clusteractors: drill interrupted");
            return 130;
        }
        catch (Exception e) when (e is DrillStepException or TimeoutException or InvalidOperationException)
        {
            await stderr.WriteLineAsync($"clusteractors: chaos: the lab could not be brought up: {e.Message}");
            return DrillCommand.Failed;
        }
        if (results.Count == 0) return DrillCommand.Failed;
        var summary = ChaosSummary.Of(results, settings, timers ?? results[0].Timers, wall.Elapsed.TotalSeconds, ChaosCatalog.All, startedAt, clock.GetUtcNow());
        foreach (var path in ChaosReport.WriteSummary(summary, outDir)) await stdout.WriteLineAsync($"  wrote {path}");
        await stdout.WriteAsync(ChaosReport.SummaryText(summary));
        await stdout.WriteLineAsync($"reports in {outDir}");
        return summary.Passed == summary.Runs ? DrillCommand.Passed : DrillCommand.Failed;
    }
}
