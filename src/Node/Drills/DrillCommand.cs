using System.Globalization;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Scenario;

namespace ClusterActors.Node.Drills;

/// <summary>
/// `clusteractors drill [SCENARIO] DRILL [--mode embedded|docker] [--client fortigate|strongswan] [--rate PPS] [--runs N] [--out DIR] [--fast-timers]`:
/// runs one drill (or `all`) N times on a fresh lab each, writes `DRILL-N.md`, `.json` and `.svg` per run into the
/// output folder and prints progress, the paths and, for several runs, a summary. Exit 0 when every expectation
/// held, 1 when one failed, 2 on a usage error.
/// </summary>
public static class DrillCommand
{
    public const int Passed = 0, Failed = 1, Usage = 2;

    public const string DefaultOut = "drill-reports";

    /// <summary>The clients a drill can dial with: our CLIENT1 with PC1, or (docker mode) a real strongSwan.</summary>
    public const string FortiGateClient = "fortigate", StrongSwanClient = "strongswan";

    /// <summary>PC1's rate when none is given; strongSwan's ping from its LAN side runs at 100 pps (`ping -i 0.01`).</summary>
    public const double DefaultRate = 1000, DefaultStrongSwanRate = 100;

    /// <summary>What strongSwan's vpn1 needs from the units: ESP in UDP 4500 (kernel-libipsec, `encap = yes`).</summary>
    public const string NatTraversal = "config vpn ipsec phase1-interface\nedit \"vpn1\"\nset nattraversal enable\nnext\nend\n";

    /// <param name="Words">The positional words: DRILL, or SCENARIO DRILL.</param>
    /// <param name="Client"><see cref="FortiGateClient"/> or <see cref="StrongSwanClient"/> (docker mode only).</param>
    /// <param name="Seed">The chaos drill's seed (random when null); <paramref name="Run"/> replays that one run of it.</param>
    public sealed record Request(IReadOnlyList<string> Words, string Mode = "embedded", double Rate = DefaultRate, int Runs = 1, string? Out = null,
        bool FastTimers = false, string Client = FortiGateClient, long? Seed = null, int? Run = null);

    /// <summary>A lab for a drill: the embedded one unless a test brings its own.</summary>
    public delegate IDrillLab LabFactory(DrillDefinition drill, IReadOnlyDictionary<string, string> changes);

    public static async Task<int> RunAsync(Request request, TextWriter stdout, TextWriter stderr, CancellationToken ct, LabFactory? labFactory = null)
    {
        if (request.Words.FirstOrDefault(w => w.StartsWith('-')) is { } option)
            throw new UsageException($"unknown option '{option}' (options: --mode, --client, --rate, --runs, --out, --fast-timers, --seed, --run)");
        var (scenario, drillName) = request.Words.Count switch
        {
            1 => (EmbeddedScenarioDriver.Scenario, request.Words[0]),
            2 => (request.Words[0], request.Words[1]),
            0 => throw new UsageException("give the drill to run: drill [SCENARIO] DRILL, e.g. drill seed fgcp-failover "
                                          + $"(drills: {string.Join(", ", DrillCatalog.Names)}, or all)"),
            _ => throw new UsageException($"one drill at a time: drill [SCENARIO] DRILL, not '{string.Join(" ", request.Words)}' (all runs every drill)"),
        };
        Scenarios.Directory(scenario); // unknown scenario: a usage error naming the known ones
        if (scenario != EmbeddedScenarioDriver.Scenario)
            throw new UsageException($"the drills are written for the {EmbeddedScenarioDriver.Scenario} scenario's cast (DC2_VM1..DC2_VM4); '{scenario}' has none");
        if (drillName == ChaosCommand.Name) return await ChaosCommand.RunAsync(request, stdout, stderr, ct, labFactory);
        if (request.Seed is not null || request.Run is not null) throw new UsageException("--seed and --run are the chaos drill's options");
        var drills = DrillCatalog.Select(drillName);
        switch (request.Mode)
        {
            case "embedded": break;
            case "docker": break;
            default: throw new UsageException($"--mode is embedded or docker, not '{request.Mode}'");
        }
        switch (request.Client)
        {
            case FortiGateClient: break;
            case StrongSwanClient when request.Mode == "docker": break;
            case StrongSwanClient: throw new UsageException("--client strongswan runs in the container lab only: add --mode docker");
            default: throw new UsageException($"--client is {FortiGateClient} or {StrongSwanClient}, not '{request.Client}'");
        }
        if (!(request.Rate is > 0 and <= 20_000)) throw new UsageException("--rate is packets per second, from 1 to 20000");
        if (request.Runs is < 1 or > 100) throw new UsageException("--runs is from 1 to 100");

        var outDir = request.Out ?? DefaultOut;
        Directory.CreateDirectory(outDir);
        var settings = new DrillSettings(scenario, request.Rate, request.FastTimers, GapBounded: request.Client == StrongSwanClient);
        var results = new List<DrillRunResult>();
        foreach (var drill in drills)
        {
            for (var run = 1; run <= request.Runs; run++)
            {
                await stdout.WriteLineAsync($"== {drill.Name}, run {run} of {request.Runs}: {drill.Title} ({request.Mode}, "
                                            + (request.Client == StrongSwanClient ? "strongSwan client, " : "")
                                            + $"{request.Rate.ToString(CultureInfo.InvariantCulture)} pps{(request.FastTimers ? ", fast timers" : "")})");
                var changes = Changes(drill, request.FastTimers, request.Client);
                DrillRunResult result;
                await using (var lab = labFactory?.Invoke(drill, changes) ?? (request.Mode == "docker"
                                 ? new DockerDrillLab(changes, stdout, request.Client, drill.InitialOwner)
                                 : (IDrillLab)new EmbeddedDrillLab(changes)))
                {
                    result = await new DrillRunner(lab, stdout).RunAsync(drill, settings, run, Describe(changes), ct);
                    await stdout.WriteAsync("  lab down … ");
                    await stdout.FlushAsync();
                }
                await stdout.WriteLineAsync("done");
                results.Add(result);
                foreach (var path in Write(result, outDir)) await stdout.WriteLineAsync($"  wrote {path}");
                var failed = result.Checks.Where(x => x.Ok == false).ToList();
                await stdout.WriteLineAsync(failed.Count == 0
                    ? $"  {drill.Name} run {run}: PASS"
                    : $"  {drill.Name} run {run}: FAIL ({string.Join("; ", failed.Select(f => $"{f.Phase}: {f.What}: {f.Measured}, expected {f.Expected}"))})");
                await stdout.FlushAsync();
                if (ct.IsCancellationRequested)
                {
                    await stderr.WriteLineAsync("clusteractors: drill interrupted");
                    return 130;
                }
            }
        }
        if (results.Count > 1) await stdout.WriteAsync(Summary(results));
        return results.All(r => r.Passed) ? Passed : Failed;
    }

    /// <summary>The CLI lines applied to each unit's shipped config for <paramref name="drill"/> (and the client:
    /// strongSwan needs <see cref="NatTraversal"/> on every unit, the tunnel's standbys included).</summary>
    public static IReadOnlyDictionary<string, string> Changes(DrillDefinition drill, bool fastTimers, string client = FortiGateClient) =>
        Scenarios.Units(EmbeddedScenarioDriver.Scenario).ToDictionary(u => u, u =>
            (fastTimers ? EmbeddedScenarioDriver.FastTimers : DrillCatalog.HelloHolddown)
            + (DrillCatalog.Preferred.Contains(u) ? DrillCatalog.PreferredChange : "")
            + (drill.HaChange ?? "")
            + (client == StrongSwanClient ? NatTraversal : ""));

    /// <summary>One line per distinct `set` and the units it went to: `DC2_VM1, DC2_VM3: config system ha / set priority 200`.</summary>
    public static IReadOnlyList<string> Describe(IReadOnlyDictionary<string, string> changes)
    {
        var sets = new List<(string Line, string Unit)>();
        foreach (var (unit, script) in changes.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var section = "";
            foreach (var raw in script.Split('\n'))
            {
                var line = raw.Trim();
                if (line.StartsWith("config ", StringComparison.Ordinal)) section = line;
                else if (line.StartsWith("set ", StringComparison.Ordinal)) sets.Add(($"`{section}` / `{line}`", unit));
            }
        }
        return sets.GroupBy(s => s.Line).Select(g => $"{string.Join(", ", g.Select(s => s.Unit).Distinct())}: {g.Key}").ToList();
    }

    /// <summary>Writes the three files of a run; returns their paths.</summary>
    public static IReadOnlyList<string> Write(DrillRunResult result, string outDir)
    {
        var stem = $"{result.Drill}-{result.Run}";
        var md = Path.Combine(outDir, stem + ".md");
        var json = Path.Combine(outDir, stem + ".json");
        var svg = Path.Combine(outDir, stem + ".svg");
        File.WriteAllText(svg, SvgTimeline.Render(result));
        File.WriteAllText(json, JsonReport.Render(result));
        File.WriteAllText(md, MarkdownReport.Render(result, stem + ".svg"));
        return [md, json, svg];
    }

    /// <summary>Per drill and fault: runs passed, gap and loss median/max, detection median.</summary>
    public static string Summary(IReadOnlyList<DrillRunResult> results)
    {
        var c = CultureInfo.InvariantCulture;
        var rows = new List<string[]> { new[] { "drill", "fault", "runs", "passed", "gap median", "gap max", "lost median", "lost max", "bound", "detection median" } };
        foreach (var drill in results.GroupBy(r => r.Drill))
        {
            var runs = drill.ToList();
            var passed = runs.Count(r => r.Passed);
            var faults = runs.SelectMany(r => r.Phases).GroupBy(p => (p.Index, p.Fault)).OrderBy(g => g.Key.Index).ToList();
            if (faults.Count == 0) rows.Add([drill.Key, "—", $"{runs.Count}", $"{passed}", "—", "—", "—", "—", "—", "—"]);
            foreach (var f in faults)
            {
                var gaps = f.Select(p => p.LongestGapMs).ToList();
                var lost = f.Select(p => (double)p.Lost).ToList();
                var detections = f.Where(p => p.DetectionMs is not null).Select(p => p.DetectionMs!.Value).ToList();
                var bound = f.First().LossBound;
                rows.Add([drill.Key, f.Key.Fault, $"{runs.Count}", $"{passed}", Ms(Median(gaps)), Ms(gaps.Max()), Median(lost).ToString("0", c),
                    lost.Max().ToString("0", c), bound is null ? "—" : bound.Value.ToString(c), detections.Count == 0 ? "—" : Ms(Median(detections))]);
            }
        }
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        var sb = new System.Text.StringBuilder("\nsummary\n");
        foreach (var (row, index) in rows.Select((r, i) => (r, i)))
        {
            sb.Append(string.Join("  ", row.Select((cell, i) => i < 2 ? cell.PadRight(widths[i]) : cell.PadLeft(widths[i]))).TrimEnd()).Append('\n');
            if (index == 0) sb.Append(string.Join("  ", widths.Select(w => new string('-', w)))).Append('\n');
        }
        var total = results.Count;
        sb.Append(c, $"{results.Count(r => r.Passed)} of {total} runs passed\n");
        return sb.ToString();

        static string Ms(double v) => v.ToString("0", CultureInfo.InvariantCulture) + " ms";
    }

    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.OrderBy(v => v).ToList();
        var mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
