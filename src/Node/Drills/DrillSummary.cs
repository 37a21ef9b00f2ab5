using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ClusterActors.Node.Drills;

/// <summary>Per drill and fault over an invocation's runs: how many passed, the gap and loss (median, max) against the bound, the detection (median).</summary>
public sealed record DrillSummaryRow(string Drill, string? Fault, int Runs, int Passed, double? GapMedianMs, double? GapMaxMs, double? LostMedian,
    double? LostMax, long? LossBound, double? DetectionMedianMs);

/// <summary>A drill the lab has no role for (e.g. fgcp-failover where the owner has no FGCP peer): reported, not run, not failed.</summary>
public sealed record DrillNotApplicable(string Drill, string Why);

/// <summary>One run of the invocation: its verdict, what failed, and its report files (names inside the invocation's folder);
/// <paramref name="Svg"/> null for a run without a traffic timeline (heartbeat-loss, fgsp-dpd-flush).</summary>
public sealed record DrillSummaryRun(string Drill, int Run, string Verdict, IReadOnlyList<string> Failed, string Markdown, string Json, string? Svg);

/// <summary>
/// What one `clusteractors drill` invocation did, written as `summary.md` and `summary.json` into its own folder beside
/// the per-run files: the request (scenario, drill or all, mode, client, rate, timers), when it started and ended, every
/// run with its verdict, and the table over the runs. It is rewritten after every run, so an interrupted invocation
/// still leaves the summary of the runs it finished (<see cref="Complete"/> false).
/// </summary>
public sealed record DrillSummary
{
    public required string Scenario { get; init; }
    public required string Drill { get; init; }
    public required string Mode { get; init; }
    public required string Client { get; init; }
    public required double RatePps { get; init; }
    public required bool FastTimers { get; init; }

    /// <summary>`--hb-10ms`; left out of the JSON when false, so summaries without it read as before.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool Hb10Ms { get; init; }
    public required int RunsEach { get; init; }

    /// <summary>The seed of a drill that draws from one (heartbeat-loss, flapping-uplink): `--seed` replays it. Left out when none.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public long? Seed { get; init; }

    /// <summary>For `all`: the drills this lab has roles for that `all` leaves out (too long for it), each with the command that runs it.</summary>
    public IReadOnlyList<string> NotInAll { get; init; } = [];
    public required DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public bool Complete { get; init; }
    public IReadOnlyList<DrillSummaryRun> Runs { get; init; } = [];
    public IReadOnlyList<DrillSummaryRow> Faults { get; init; } = [];

    /// <summary>The drills of the invocation this lab has no role for, each with why; they count neither as passed nor failed.</summary>
    public IReadOnlyList<DrillNotApplicable> NotApplicable { get; init; } = [];

    public int Passed => Runs.Count(r => r.Verdict == "pass");

    /// <summary>"pass" when every run passed, "fail" when one failed, "none" before the first run ended.</summary>
    public string Verdict => Runs.Count == 0 ? "none" : Passed == Runs.Count ? "pass" : "fail";

    /// <summary>The summary of <paramref name="results"/> so far, with each run's files as <see cref="DrillCommand.Write"/> names them.</summary>
    public DrillSummary With(IReadOnlyList<DrillRunResult> results) => this with
    {
        Runs = results.Select(r =>
        {
            var stem = DrillCommand.Stem(r);
            return new DrillSummaryRun(r.Drill, r.Run, r.Verdict,
                r.Failures,
                stem + ".md", stem + ".json", r.HasTimeline ? stem + ".svg" : null);
        }).ToList(),
        Faults = Rows(results),
    };

    /// <summary>Per drill and fault, in the drills' order and the faults' order within a drill; a drill that never reached a fault gets one row without one.</summary>
    public static IReadOnlyList<DrillSummaryRow> Rows(IReadOnlyList<DrillRunResult> results)
    {
        var rows = new List<DrillSummaryRow>();
        foreach (var drill in results.GroupBy(r => r.Drill))
        {
            var runs = drill.ToList();
            var passed = runs.Count(r => r.Passed);
            var faults = runs.SelectMany(r => r.Phases).GroupBy(p => (p.Index, p.Fault)).OrderBy(g => g.Key.Index).ToList();
            if (faults.Count == 0) rows.Add(new DrillSummaryRow(drill.Key, null, runs.Count, passed, null, null, null, null, null, null));
            foreach (var f in faults)
            {
                var gaps = f.Select(p => p.LongestGapMs).ToList();
                var lost = f.Select(p => (double)p.Lost).ToList();
                var detections = f.Where(p => p.DetectionMs is not null).Select(p => p.DetectionMs!.Value).ToList();
                rows.Add(new DrillSummaryRow(drill.Key, f.Key.Fault, runs.Count, passed, DrillCommand.Median(gaps), gaps.Max(), DrillCommand.Median(lost),
                    lost.Max(), f.First().LossBound, detections.Count == 0 ? null : DrillCommand.Median(detections)));
            }
        }
        return rows;
    }

    public string ToJson() => JsonSerializer.Serialize(this, JsonReport.Options) + "\n";

    public string ToMarkdown()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(c, $"# Drill {Drill} on {Scenario}: {(Complete ? Verdict.ToUpperInvariant() : "INCOMPLETE")}, {Passed} of {Runs.Count} runs passed\n\n");
        sb.Append(c, $"- `clusteractors drill {Scenario} {Drill} --mode {Mode}` with the {Client} client at {RatePps.ToString(c)} pps, "
                     + $"{RunsEach} run(s) each{(FastTimers ? ", `--fast-timers`" : Hb10Ms ? ", `--hb-10ms`" : "")}{(Seed is { } seed ? $", `--seed {seed}`" : "")}.\n");
        sb.Append(c, $"- Started {StartedAt:yyyy-MM-dd HH:mm:ss} UTC");
        sb.Append(FinishedAt is { } end ? string.Create(c, $", ended {end:yyyy-MM-dd HH:mm:ss} UTC.\n") : ", not ended (interrupted, or still running).\n");
        sb.Append("\n## Runs\n\n| drill | run | verdict | what failed | report |\n|---|---:|---|---|---|\n");
        foreach (var r in Runs)
            sb.Append(c, $"| {r.Drill} | {r.Run} | {(r.Verdict == "pass" ? MarkdownReport.Pass : MarkdownReport.Fail)} {r.Verdict} | "
                         + $"{(r.Failed.Count == 0 ? "—" : Cell(string.Join("; ", r.Failed)))} | [{r.Markdown}]({r.Markdown}), [json]({r.Json}){(r.Svg is null ? "" : $", [svg]({r.Svg})")} |\n");
        if (NotApplicable.Count > 0)
        {
            sb.Append("\n## Not applicable to this lab\n\n| drill | why |\n|---|---|\n");
            foreach (var n in NotApplicable) sb.Append(c, $"| {n.Drill} | {Cell(n.Why)} |\n");
        }
        if (NotInAll.Count > 0)
        {
            sb.Append("\n## Not run by all (each runs alone)\n\n");
            foreach (var n in NotInAll) sb.Append(c, $"- `{n}`\n");
        }
        sb.Append("\n## Per drill and fault\n\n| drill | fault | runs | passed | gap median | gap max | lost median | lost max | loss bound | detection median |\n");
        sb.Append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        foreach (var f in Faults)
            sb.Append(c, $"| {f.Drill} | {Cell(f.Fault ?? "—")} | {f.Runs} | {f.Passed} | {Ms(f.GapMedianMs)} | {Ms(f.GapMaxMs)} | {N(f.LostMedian)} | "
                         + $"{N(f.LostMax)} | {(f.LossBound is { } b ? b.ToString(c) : "—")} | {Ms(f.DetectionMedianMs)} |\n");
        return sb.ToString();

        static string Ms(double? v) => v is { } x ? x.ToString("0", CultureInfo.InvariantCulture) + " ms" : "—";
        static string N(double? v) => v is { } x ? x.ToString("0", CultureInfo.InvariantCulture) : "—";
        static string Cell(string s) => s.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
    }
}
