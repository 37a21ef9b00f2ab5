using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ClusterActors.Node.Drills;

/// <summary>Gap distribution of one fault kind over a session's runs, ms.</summary>
public sealed record GapDistribution(string Kind, int Runs, int Passed, double Min, double Median, double P90, double Max, double LostMedian, double LostMax);

/// <summary>One violation with what replays it.</summary>
public sealed record ChaosViolationRow(long Seed, int Run, string Fault, string Invariant, string Detail, string Replay);

/// <summary>A chaos session over its runs: faults by kind, the gap distribution per kind, every violation with its replay.</summary>
public sealed record ChaosSummary
{
    public required long Seed { get; init; }
    public required string Mode { get; init; }
    public required double RatePps { get; init; }
    public required DrillTimers Timers { get; init; }
    public required int Runs { get; init; }
    public required int Passed { get; init; }
    public double DurationS { get; init; }
    /// <summary>When the invocation started (its folder's name) and ended; null while it runs or when it was interrupted.</summary>
    public DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    /// <summary>The runs asked for; fewer in <see cref="Runs"/> while the session runs (the summary is rewritten after every run).</summary>
    public int RunsPlanned { get; init; }
    /// <summary>False until every planned run is done: an interrupted session leaves the summary of the runs it finished.</summary>
    public bool Complete => FinishedAt is not null && Runs == RunsPlanned;
    public required IReadOnlyDictionary<string, int> FaultsByKind { get; init; }
    public required IReadOnlyList<GapDistribution> Gaps { get; init; }
    public required IReadOnlyList<ChaosViolationRow> Violations { get; init; }
    /// <summary>Runs that stopped on a step that could not be carried out, with their replay.</summary>
    public required IReadOnlyList<ChaosViolationRow> Errors { get; init; }
    /// <summary>Runs before which the lab had to be brought up fresh (the run before left it unhealed).</summary>
    public required IReadOnlyList<int> LabRebuiltBefore { get; init; }
    /// <summary>Kinds of fault this build does not inject yet, named so that a reader knows they were not tried.</summary>
    public IReadOnlyList<string> NotInCatalog { get; init; } = [];

    public static ChaosSummary Of(IReadOnlyList<ChaosRunResult> runs, ChaosSettings settings, DrillTimers timers, double durationS,
        IReadOnlyList<ChaosFaultKind> catalog, DateTimeOffset startedAt = default, DateTimeOffset? finishedAt = null) => new()
    {
        StartedAt = startedAt, FinishedAt = finishedAt, RunsPlanned = settings.Runs.Count,
        Seed = settings.Seed, Mode = runs.FirstOrDefault()?.Mode ?? settings.Mode, RatePps = settings.RatePps, Timers = timers,
        Runs = runs.Count, Passed = runs.Count(r => r.Passed), DurationS = Math.Round(durationS, 1),
        FaultsByKind = catalog.ToDictionary(k => k.Name, k => runs.Count(r => r.Fault.Kind == k.Name)),
        Gaps = catalog.Select(k => runs.Where(r => r.Fault.Kind == k.Name && r.Error is null).ToList()).Where(g => g.Count > 0)
            .Select(g => Distribution(g[0].Fault.Kind, g)).ToList(),
        Violations = runs.SelectMany(r => r.Violations.Select(v => new ChaosViolationRow(r.Seed, r.Run, r.Fault.Short, v.Invariant, v.Detail, r.Replay))).ToList(),
        Errors = runs.Where(r => r.Error is not null).Select(r => new ChaosViolationRow(r.Seed, r.Run, r.Fault.Short, "run", r.Error!, r.Replay)).ToList(),
        LabRebuiltBefore = runs.Where(r => r.LabRebuilt is not null).Select(r => r.Run).ToList(),
        NotInCatalog = ChaosReport.NotYet,
    };

    private static GapDistribution Distribution(string kind, IReadOnlyList<ChaosRunResult> runs)
    {
        var gaps = runs.Select(r => r.LongestGapMs).OrderBy(x => x).ToList();
        var lost = runs.Select(r => (double)r.Lost).ToList();
        return new GapDistribution(kind, runs.Count, runs.Count(r => r.Passed), gaps[0], DrillCommand.Median(gaps), Percentile(gaps, 0.9), gaps[^1],
            DrillCommand.Median(lost), lost.Max());
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}

/// <summary>The chaos drill's files: per run `chaos-R.md`, `.json` and `.svg`, per session `summary.md` and `.json` (the invocation's folder).</summary>
public static class ChaosReport
{
    /// <summary>The issue's fault kinds this build's labs cannot inject yet (no IDrillLab method): listed in every summary.
    /// Empty: every kind of issue 10 point 7 is in <see cref="ChaosCatalog.All"/>.</summary>
    public static readonly IReadOnlyList<string> NotYet = [];

    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    public static IReadOnlyList<string> WriteRun(ChaosRunResult r, string outDir)
    {
        var stem = Path.Combine(outDir, $"chaos-{r.Run}");
        File.WriteAllText(stem + ".json", JsonSerializer.Serialize(r, JsonReport.Options) + "\n");
        File.WriteAllText(stem + ".md", RunMarkdown(r) + $"\nTimeline from the fault (packets per 100 ms through each unit): [chaos-{r.Run}.svg](chaos-{r.Run}.svg)\n");
        File.WriteAllText(stem + ".svg", SvgTimeline.Render(AsDrill(r)));
        return [stem + ".md", stem + ".json", stem + ".svg"];
    }

    /// <summary>The run as the scripted drills' result, for their SVG: PASS/FAIL and the title from the chaos run.</summary>
    public static DrillRunResult AsDrill(ChaosRunResult r) => new()
    {
        Drill = "chaos", Title = $"{r.Fault.Short} (seed {r.Seed})", Summary = r.FaultDescription, Run = r.Run, Scenario = "seed", Mode = r.Mode,
        StartedAt = r.StartedAt, RatePps = r.RatePps, FastTimers = true, Timers = r.Timers, ExpectedDialedVia = "", DialedVia = "",
        AntiReplayDrops = 0, IcvFailures = 0, Timeline = r.Timeline, Events = r.Events,
        Error = r.Passed ? null : r.Error ?? $"{r.Violations.Count} violation(s)",
    };

    /// <summary>The session's `summary.md` and `summary.json` in its own folder (the names every drill invocation uses).</summary>
    public static IReadOnlyList<string> WriteSummary(ChaosSummary s, string outDir)
    {
        var md = Path.Combine(outDir, DrillCommand.SummaryMarkdown);
        var json = Path.Combine(outDir, DrillCommand.SummaryJson);
        File.WriteAllText(json, JsonSerializer.Serialize(s, JsonReport.Options) + "\n");
        File.WriteAllText(md, SummaryMarkdown(s));
        return [md, json];
    }

    public static string RunMarkdown(ChaosRunResult r)
    {
        var sb = new StringBuilder();
        sb.Append(C, $"# Chaos run {r.Run} (seed {r.Seed}): {(r.Passed ? "PASS" : "FAIL")}\n\n");
        sb.Append(C, $"- Fault: **{r.Fault.Kind}**: {r.FaultDescription}.\n");
        sb.Append(C, $"- Replay: `{r.Replay}`.\n");
        sb.Append(C, $"- Lab: {MarkdownReport.LabText(r.Mode)}; started {r.StartedAt:yyyy-MM-dd HH:mm:ss} UTC, {r.DurationS.ToString("0.0", C)} s");
        sb.Append(r.LabRebuilt is null ? ", the lab of the run before (healed).\n" : $", a fresh lab (the previous run left it unhealed: {r.LabRebuilt}).\n");
        var t = r.Timers;
        sb.Append(C, $"- Timers: FGCP detection {t.FgcpDetectionMs:0} ms (hb-interval {t.HbIntervalMs} ms × hb-lost-threshold {t.HbLostThreshold}), ");
        sb.Append(C, $"router detection {t.RouterDetectionMs:0} ms, hello-holddown {t.HelloHolddownSeconds} s; PC1 at {r.RatePps.ToString(C)} pps.\n\n");

        sb.Append("## Measured (ms after the fault unless said)\n\n| what | value |\n|---|---|\n");
        Row(sb, "owners before", Owners(r.OwnersBefore));
        Row(sb, "heal at", Ms(r.HealAtMs));
        if (r.UnitUpMs is { } up) Row(sb, $"{r.Fault.Unit} answers again", $"{Ms(up)} after the heal");
        Row(sb, "every tunnel one owner again after the fault", $"{Ms(r.FaultSettledMs)} (bound {Ms(r.FaultBoundMs)} + 500 ms)");
        Row(sb, "… after the heal", $"{Ms(r.HealSettledMs)} after the heal (bound {Ms(r.HealBoundMs)} + 500 ms)");
        foreach (var d in r.DoubleOwners) Row(sb, "two owners at once", d);
        Row(sb, "owners at the end", Owners(r.OwnersAfter));
        Row(sb, "PC1's traffic flows again", r.FlowsAgainMs is { } f ? $"{Ms(f)} after the heal" : "not seen");
        Row(sb, "PC1's traffic", $"sent {r.Sent}, answered {r.Answered}, lost {r.Lost}, longest gap {Ms(r.LongestGapMs)}");
        Row(sb, "CLIENT1 anti-replay drops / ICV failures", $"{Opt(r.AntiReplayDrops)} / {Opt(r.IcvFailures)}");
        Row(sb, "SAs", r.Sa);
        if (r.Fault.Kind == ChaosCatalog.DatabaseStop.Name)
        {
            Row(sb, "config change while the database was stopped", r.ChangeWhileStopped is not { } c ? "not made"
                : c.ExitCode is null ? $"no answer: {c.Output.Trim()}" : c.ExitCode == 0 ? "accepted" : $"refused ({c.ExitCode}): {c.Output.Trim()}");
            Row(sb, "config change journaled after the database returned", r.ChangeJournaledMs is { } j ? $"{Ms(j)} after the heal" : "never");
        }
        Row(sb, "synced-config checksums", string.Join(", ", r.Checksums.Select(kv => $"{kv.Key} {kv.Value ?? "unreadable"}")));
        Row(sb, "observed until", Ms(r.ObservedUntilMs));
        sb.Append('\n');

        sb.Append("## Verdict\n\n");
        if (r.Error is not null) sb.Append(C, $"**FAIL**: the run stopped: {r.Error}\n");
        else if (r.Violations.Count == 0) sb.Append("**PASS**: every invariant held (one owner per tunnel in bound, traffic flows again, no anti-replay drops or ICV failures, SAs reused, HA history intact, checksums equal in each cluster, for a stopped database its change refused and the next one journaled, lab healed).\n");
        else
        {
            sb.Append(C, $"**FAIL**: {r.Violations.Count} violation(s):\n\n");
            foreach (var v in r.Violations) sb.Append(C, $"- `{v.Invariant}`: {v.Detail}\n");
        }
        return sb.ToString();
    }

    public static string SummaryMarkdown(ChaosSummary s)
    {
        var sb = new StringBuilder();
        sb.Append(C, $"# Chaos drill, seed {s.Seed}: {s.Passed} of {s.Runs} runs passed\n\n");
        sb.Append(C, $"- Started {s.StartedAt:yyyy-MM-dd HH:mm:ss} UTC");
        sb.Append(s.FinishedAt is { } end
            ? string.Create(C, $", ended {end:yyyy-MM-dd HH:mm:ss} UTC; {s.Runs} of {s.RunsPlanned} planned runs.\n")
            : string.Create(C, $", not ended (interrupted, or still running): {s.Runs} of {s.RunsPlanned} planned runs so far.\n"));
        sb.Append(C, $"- Lab: {MarkdownReport.LabText(s.Mode)}, {s.DurationS.ToString("0.0", C)} s; PC1 at {s.RatePps.ToString(C)} pps; ");
        sb.Append(C, $"FGCP detection {s.Timers.FgcpDetectionMs:0} ms, router detection {s.Timers.RouterDetectionMs:0} ms.\n");
        sb.Append(C, $"- Replay one run: `clusteractors drill seed chaos --mode {s.Mode} --seed {s.Seed} --run R`.\n");
        if (s.LabRebuiltBefore.Count > 0) sb.Append(C, $"- A fresh lab was brought up before runs {string.Join(", ", s.LabRebuiltBefore)} (the run before left it unhealed).\n");
        if (s.NotInCatalog.Count > 0) sb.Append(C, $"- Not injected by this build (no lab method yet): {string.Join("; ", s.NotInCatalog)}.\n");
        sb.Append("\n## Faults and PC1's longest gap per kind\n\n| fault | runs | passed | gap min | median | p90 | max | lost median | lost max |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        foreach (var (kind, count) in s.FaultsByKind)
        {
            var g = s.Gaps.FirstOrDefault(x => x.Kind == kind);
            sb.Append(g is null
                ? string.Create(C, $"| {kind} | {count} | — | — | — | — | — | — | — |\n")
                : string.Create(C, $"| {kind} | {count} | {g.Passed} | {g.Min:0} | {g.Median:0} | {g.P90:0} | {g.Max:0} | {g.LostMedian:0} | {g.LostMax:0} |\n"));
        }
        sb.Append("\nGaps in ms: PC1's longest time without a reply over the run (fault and heal); runs that stopped early are left out.\n\n");
        sb.Append("## Violations\n\n");
        if (s.Violations.Count + s.Errors.Count == 0) sb.Append("None.\n");
        else
        {
            sb.Append("| run | fault | invariant | detail | replay |\n|--:|---|---|---|---|\n");
            foreach (var v in s.Errors.Concat(s.Violations).OrderBy(v => v.Run))
                sb.Append(C, $"| {v.Run} | {Cell(v.Fault)} | {v.Invariant} | {Cell(v.Detail)} | `{v.Replay}` |\n");
        }
        return sb.ToString();
    }

    /// <summary>The summary table for stdout.</summary>
    public static string SummaryText(ChaosSummary s)
    {
        var sb = new StringBuilder("\nchaos summary\n");
        sb.Append(C, $"{"fault",-14} {"runs",5} {"passed",7} {"gap min",8} {"median",8} {"p90",8} {"max",8}\n");
        foreach (var (kind, count) in s.FaultsByKind)
        {
            var g = s.Gaps.FirstOrDefault(x => x.Kind == kind);
            sb.Append(g is null
                ? string.Create(C, $"{kind,-14} {count,5} {"—",7}\n")
                : string.Create(C, $"{kind,-14} {count,5} {g.Passed,7} {g.Min,8:0} {g.Median,8:0} {g.P90,8:0} {g.Max,8:0}\n"));
        }
        foreach (var v in s.Errors.Concat(s.Violations).OrderBy(v => v.Run))
            sb.Append(C, $"run {v.Run} ({v.Fault}): {v.Invariant}: {v.Detail}  [{v.Replay}]\n");
        sb.Append(C, $"{s.Passed} of {s.Runs} runs passed, {s.Violations.Count} violation(s), {s.Errors.Count} run(s) stopped\n");
        return sb.ToString();
    }

    private static void Row(StringBuilder sb, string what, string value) => sb.Append(C, $"| {what} | {Cell(value)} |\n");

    private static string Owners(IReadOnlyDictionary<string, IReadOnlyList<string>> owners) =>
        owners.Count == 0 ? "no tunnel" : string.Join("; ", owners.Select(kv => $"{kv.Key}: {(kv.Value.Count == 0 ? "none" : string.Join("+", kv.Value))}"));

    private static string Ms(double? ms) => ms is { } v ? v.ToString("0", C) + " ms" : "never";

    private static string Opt(long? n) => n is { } v ? v.ToString(C) : "not counted";

    private static string Cell(string text) => text.Replace("|", "\\|").Replace("\n", " ");
}
