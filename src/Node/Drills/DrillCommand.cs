using System.Globalization;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Scenario;

namespace ClusterActors.Node.Drills;

/// <summary>
/// `clusteractors drill [SCENARIO] DRILL [--mode embedded|docker] [--client fortigate|strongswan] [--rate PPS] [--runs N] [--out DIR] [--fast-timers|--hb-10ms]`:
/// runs one drill (or `all`) N times on a fresh lab each. Each invocation writes into its own folder under `--out`,
/// named by its start (UTC) and the drill (`drill-reports/2026-12-05T21-03-12Z-fgcp-failover/`), so no invocation
/// overwrites another's reports: `DRILL-N.md`, `.json` and `.svg` per run and `summary.md` + `summary.json` over the
/// runs. It prints the folder, progress, the paths and, for several runs, a summary. Exit 0 when every expectation
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
    /// <param name="Topology">A topology file instead of the shipped scenario's.</param>
    /// <param name="Clients">The topology's first client entry dialed this many times (`count: N`): every tunnel counted
    /// per owner before the faults and after each phase; null: the file's count.</param>
    public sealed record Request(IReadOnlyList<string> Words, string Mode = "embedded", double Rate = DefaultRate, int Runs = 1, string? Out = null,
        bool FastTimers = false, string Client = FortiGateClient, long? Seed = null, int? Run = null, string? Topology = null, bool Hb10Ms = false,
        string? Suite = null, int? Clients = null);

    /// <summary>
    /// The lab a drill runs on: the topology file given, or the shipped scenario's. The catalog names roles, bound to
    /// the topology's units by <see cref="DrillCast.Resolve"/>, so any topology with a DC router, a client and FGSP
    /// members runs, embedded or in its container lab (the seed's is the root docker-compose.yml, any other topology's
    /// is generated, as `lab up` does).
    /// </summary>
    public static ClusterActors.Protocol.Topology.LabTopology LabTopology(Request request, string scenario) =>
        Scenarios.Topology(request.Topology ?? scenario, request.Clients);

    /// <summary>A lab for a drill: the embedded one unless a test brings its own.</summary>
    public delegate IDrillLab LabFactory(DrillDefinition drill, IReadOnlyDictionary<string, string> changes);

    /// <param name="clock">The clock the invocation's folder is named by (tests fix it to make two invocations start in the same second).</param>
    public static async Task<int> RunAsync(Request request, TextWriter stdout, TextWriter stderr, CancellationToken ct, LabFactory? labFactory = null,
        TimeProvider? clock = null)
    {
        if (request.Words.FirstOrDefault(w => w.StartsWith('-')) is { } option)
            throw new UsageException($"unknown option '{option}' (options: --mode, --client, --suite, --rate, --runs, --out, --fast-timers, --hb-10ms, --seed, --run, --topology, --clients)");
        var (scenario, drillName) = request.Words.Count switch
        {
            1 => (EmbeddedScenarioDriver.Scenario, request.Words[0]),
            2 => (request.Words[0], request.Words[1]),
            0 => throw new UsageException("give the drill to run: drill [SCENARIO] DRILL, e.g. drill seed fgcp-failover "
                                          + $"(drills: {string.Join(", ", DrillCatalog.Names)}, or all)"),
            _ => throw new UsageException($"one drill at a time: drill [SCENARIO] DRILL, not '{string.Join(" ", request.Words)}' (all runs every drill)"),
        };
        if (request.Topology is not null && request.Words.Count == 2)
            throw new UsageException("give a scenario name or --topology FILE, not both");
        if (request.Topology is null)
            Scenarios.Directory(scenario); // unknown scenario: a usage error naming the known ones
        if (request.Clients is { } n)
        {
            if (n is < 1 or > ClusterActors.Protocol.Topology.TopologyFile.MaxClientCount)
                throw new UsageException($"--clients is from 1 to {ClusterActors.Protocol.Topology.TopologyFile.MaxClientCount}, not {n}");
            if (drillName == ChaosCommand.Name || DrillCatalog.OwnRunners.Any(d => d.Name == drillName))
                throw new UsageException($"--clients is for the catalog's drills ({string.Join(", ", DrillCatalog.Names)}, all), not {drillName}");
            if (request.Mode == "docker")
                throw new UsageException("--clients dials our FortiGate clients in the embedded lab; the container lab dials one client (drop --mode docker)");
        }
        if (drillName == ChaosCommand.Name) return await ChaosCommand.RunAsync(request, stdout, stderr, ct, labFactory, clock);
        if (drillName == DpdFlushDrill.Name) return await DpdFlushDrill.RunCommand(request, LabTopology(request, scenario), stdout, ct, clock);
        if (drillName == HeartbeatLossDrill.Name) return await HeartbeatLossDrill.RunCommand(request, LabTopology(request, scenario), stdout, ct, clock);
        if (drillName == FlappingUplinkDrill.Name)
            return await FlappingUplinkDrill.RunCommand(request, LabTopology(request, scenario), stdout, ct, labFactory, clock);
        if (request.Seed is not null || request.Run is not null) throw new UsageException("--seed and --run are the chaos drill's options");
        if (request.FastTimers && request.Hb10Ms) throw new UsageException("--fast-timers or --hb-10ms, not both: each sets hb-lost-threshold");
        var drills = DrillCatalog.SelectRoles(drillName);
        switch (request.Mode)
        {
            case "embedded": break;
            case "docker": break;
            default: throw new UsageException($"--mode is embedded or docker, not '{request.Mode}'");
        }
        // Every located error of the topology before anything starts; the cast (who plays each role) from it, purely.
        var topology = LabTopology(request, scenario);
        scenario = topology.Name;
        var cast = DrillCast.Resolve(topology);
        switch (request.Client)
        {
            case FortiGateClient: break;
            case StrongSwanClient when request.Mode == "docker" && !DockerDrillLab.IsShippedSeed(topology):
                throw new UsageException($"--client strongswan runs in the seed's container lab only, not {scenario}");
            case StrongSwanClient when request.Mode == "docker": break;
            case StrongSwanClient: throw new UsageException("--client strongswan runs in the container lab only: add --mode docker");
            default: throw new UsageException($"--client is {FortiGateClient} or {StrongSwanClient}, not '{request.Client}'");
        }
        var suite = request.Suite is null ? null
            : request.Client == StrongSwanClient ? StrongSwanSuite.Named(request.Suite)
            : throw new UsageException("--suite is strongSwan's proposal family: add --client strongswan --mode docker");
        if (!(request.Rate is > 0 and <= 20_000)) throw new UsageException("--rate is packets per second, from 1 to 20000");
        if (request.Runs is < 1 or > 100) throw new UsageException("--runs is from 1 to 100");
        if (request.Mode == "docker" && labFactory is null)
        {
            // Every reason the container lab cannot be laid (one line each, exit 2), and a missing docker, engine or
            // image in one line (exit 1), before any report folder is made.
            DockerDrillCast.From(topology);
            await DockerDrillLab.Preflight(ct);
        }

        clock ??= TimeProvider.System;
        var (outDir, summary) = await Begin(request, scenario, drillName, request.Rate, null, stdout, clock);
        if (drillName == "all")
        {
            // The drills `all` leaves out (README "Not in all"): named with the command that runs each, once, up front.
            summary = summary with
            {
                NotInAll = DrillCatalog.NotInAll(cast, request.Topology is null ? scenario : $"--topology {request.Topology}", request.FastTimers),
            };
            if (summary.NotInAll.Count > 0)
                await stdout.WriteLineAsync($"not in all (too long for it, each runs alone): {string.Join("; ", summary.NotInAll)}");
        }
        var settings = new DrillSettings(scenario, request.Rate, request.FastTimers, GapBounded: request.Client == StrongSwanClient);
        var results = new List<DrillRunResult>();
        var notApplicable = new List<DrillNotApplicable>();
        foreach (var roleDrill in drills)
        {
            if (roleDrill.NotApplicable(cast) is { } why)
            {
                // A role this lab does not have: reported, not failed, and no lab is started for it.
                await stdout.WriteLineAsync($"== {roleDrill.Name}: not applicable to {scenario}: {why}");
                notApplicable.Add(new DrillNotApplicable(roleDrill.Name, why));
                summary = summary with { NotApplicable = notApplicable.ToList() };
                WriteSummary(summary.With(results), outDir);
                continue;
            }
            var drill = roleDrill.Bind(cast);
            for (var run = 1; run <= request.Runs; run++)
            {
                await stdout.WriteLineAsync($"== {drill.Name}, run {run} of {request.Runs}: {drill.Title} ({request.Mode}, "
                                            + (request.Client == StrongSwanClient ? $"strongSwan client{(suite is null ? "" : " " + suite.Name)}, " : "")
                                            + $"{request.Rate.ToString(CultureInfo.InvariantCulture)} pps{(request.FastTimers ? ", fast timers" : request.Hb10Ms ? ", 10 ms heartbeats" : "")})");
                var changes = Changes(drill, request.FastTimers, request.Client, topology.UnitNames, request.Hb10Ms, suite);
                DrillRunResult result;
                await using (var lab = labFactory?.Invoke(drill, changes) ?? (request.Mode == "docker"
                                 ? new DockerDrillLab(changes, stdout, request.Client, topology, suite)
                                 : (IDrillLab)new EmbeddedDrillLab(changes, topology)))
                {
                    result = await new DrillRunner(lab, stdout).RunAsync(drill, settings, run, Describe(changes), ct);
                    result = WithPackets(result, lab.SavePackets(outDir, Stem(result)));
                    await stdout.WriteAsync("  lab down … ");
                    await stdout.FlushAsync();
                }
                await stdout.WriteLineAsync("done");
                await Report(result, summary, results, outDir, stdout);
                if (ct.IsCancellationRequested)
                {
                    await stderr.WriteLineAsync("clusteractors: drill interrupted");
                    return 130;
                }
            }
        }
        return await End(summary, results, outDir, stdout, clock);
    }

    /// <summary>Claims the invocation's folder, says where the reports go and writes the summary of no run yet (verdict
    /// "none", incomplete), so a run that dies leaves a summary that says so.</summary>
    private static async Task<(string OutDir, DrillSummary Summary)> Begin(Request request, string scenario, string drillName, double ratePps, long? seed,
        TextWriter stdout, TimeProvider clock)
    {
        var startedAt = clock.GetUtcNow();
        var outDir = InvocationFolder(request.Out ?? DefaultOut, drillName, startedAt);
        await stdout.WriteLineAsync($"reports in {outDir}");
        var summary = new DrillSummary
        {
            Scenario = scenario, Drill = drillName, Mode = request.Mode, Client = request.Client, RatePps = ratePps, FastTimers = request.FastTimers,
            Hb10Ms = request.Hb10Ms, RunsEach = request.Runs, StartedAt = startedAt, Seed = seed,
        };
        WriteSummary(summary, outDir);
        return (outDir, summary);
    }

    /// <summary>One finished run: its files (`wrote …`), the summary so far, and its PASS or FAIL line with what failed.</summary>
    private static async Task Report(DrillRunResult result, DrillSummary summary, List<DrillRunResult> results, string outDir, TextWriter stdout)
    {
        results.Add(result);
        foreach (var path in Write(result, outDir)) await stdout.WriteLineAsync($"  wrote {path}");
        WriteSummary(summary.With(results), outDir);
        await stdout.WriteLineAsync(result.Passed
            ? $"  {result.Drill} run {result.Run}: PASS"
            : $"  {result.Drill} run {result.Run}: FAIL ({string.Join("; ", result.Failures)})");
        await stdout.FlushAsync();
    }

    /// <summary>The invocation's end: the table over several runs, the complete summary, the folder again; the exit code.</summary>
    private static async Task<int> End(DrillSummary summary, IReadOnlyList<DrillRunResult> results, string outDir, TextWriter stdout, TimeProvider clock)
    {
        if (results.Count > 1) await stdout.WriteAsync(Summary(results));
        foreach (var path in WriteSummary(summary.With(results) with { FinishedAt = clock.GetUtcNow(), Complete = true }, outDir))
            await stdout.WriteLineAsync($"wrote {path}");
        await stdout.WriteLineAsync($"reports in {outDir}");
        return results.All(r => r.Passed) ? Passed : Failed;
    }

    /// <summary>
    /// A drill with its own runner (<see cref="DrillCatalog.OwnRunners"/>: heartbeat-loss, flapping-uplink,
    /// fgsp-dpd-flush) as an invocation of one run, in the same shape as the scripted drills': its own folder under
    /// --out, `DRILL-1.md`/`.json` (and `.svg` when it sampled PC1's traffic), `summary.md`/`.json`, the `wrote …` and
    /// `reports in …` lines, exit 0 on PASS and 1 on FAIL. <paramref name="run"/> runs the drill and returns its report.
    /// </summary>
    public static async Task<int> RunOwn(Request request, string scenario, string drillName, double ratePps, long? seed, TextWriter stdout,
        Func<Task<DrillRunResult>> run, TimeProvider? clock = null) =>
        await RunOwn(request, scenario, drillName, ratePps, seed, stdout, _ => run(), clock);

    /// <summary><see cref="RunOwn(Request, string, string, double, long?, TextWriter, Func{Task{DrillRunResult}}, TimeProvider?)"/>
    /// for a drill that saves files next to its report (its pcaps): <paramref name="run"/> gets the report folder.</summary>
    public static async Task<int> RunOwn(Request request, string scenario, string drillName, double ratePps, long? seed, TextWriter stdout,
        Func<string, Task<DrillRunResult>> run, TimeProvider? clock = null)
    {
        clock ??= TimeProvider.System;
        var (outDir, summary) = await Begin(request, scenario, drillName, ratePps, seed, stdout, clock);
        var results = new List<DrillRunResult>();
        await Report(await run(outDir), summary, results, outDir, stdout);
        return await End(summary, results, outDir, stdout, clock);
    }

    /// <summary>The CLI lines applied to each unit's shipped config for <paramref name="drill"/> (and the client:
    /// strongSwan needs <see cref="NatTraversal"/> on every unit, the tunnel's standbys included). <paramref name="hb10Ms"/>:
    /// <see cref="EmbeddedScenarioDriver.Hb10Ms"/> instead of the shipped heartbeat.</summary>
    public static IReadOnlyDictionary<string, string> Changes(DrillDefinition drill, bool fastTimers, string client = FortiGateClient,
        IReadOnlyList<string>? units = null, bool hb10Ms = false, StrongSwanSuite? suite = null) =>
        (units ?? Scenarios.Units(EmbeddedScenarioDriver.Scenario)).ToDictionary(u => u, u =>
            (fastTimers ? EmbeddedScenarioDriver.FastTimers : hb10Ms ? EmbeddedScenarioDriver.Hb10Ms : DrillCatalog.HelloHolddown)
            + (drill.HaChange ?? "")
            + (client == StrongSwanClient ? NatTraversal : "")
            + (suite?.UnitChange ?? ""));

    /// <summary>One line per distinct `set` and the units it went to: `DC2_VM1, DC2_VM2, DC2_VM3, DC2_VM4: config system ha / set hello-holddown 5`.</summary>
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

    /// <summary>
    /// Creates and claims the invocation's own folder under <paramref name="outRoot"/>: `START-DRILL`, START the UTC time
    /// to the second with `-` for `:` (`2026-12-05T21-03-12Z`, a valid name everywhere), DRILL the drill or `all`. The
    /// folder is claimed by creating its `summary.json` with CreateNew, which only one process can do: an invocation
    /// that finds it taken (another started in the same second, or the clock went back) takes `-2`, `-3`, …
    /// </summary>
    public static string InvocationFolder(string outRoot, string drill, DateTimeOffset startedAt)
    {
        var name = startedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH-mm-ss'Z'", CultureInfo.InvariantCulture) + "-" + drill;
        for (var n = 1; n <= 1000; n++)
        {
            var dir = Path.Combine(outRoot, n == 1 ? name : $"{name}-{n}");
            Directory.CreateDirectory(dir);
            try
            {
                using (new FileStream(Path.Combine(dir, SummaryJson), FileMode.CreateNew, FileAccess.Write)) { }
                return dir;
            }
            catch (IOException) when (File.Exists(Path.Combine(dir, SummaryJson)))
            {
                // Taken: the next suffix.
            }
        }
        throw new IOException($"{outRoot}: no free folder for {name} after 1000 tries");
    }

    public const string SummaryJson = "summary.json", SummaryMarkdown = "summary.md";

    /// <summary>Writes the invocation's `summary.md` and `summary.json`; returns their paths.</summary>
    public static IReadOnlyList<string> WriteSummary(DrillSummary summary, string outDir)
    {
        var md = Path.Combine(outDir, SummaryMarkdown);
        var json = Path.Combine(outDir, SummaryJson);
        File.WriteAllText(json, summary.ToJson());
        File.WriteAllText(md, summary.ToMarkdown());
        return [md, json];
    }

    /// <summary>The run's captures and the tshark command that decrypts its ESP (the capture of CLIENT1's segment).</summary>
    public static DrillRunResult WithPackets(DrillRunResult result, DrillPackets? packets)
    {
        if (packets is null || packets.Files.Count == 0) return result;
        var esp = packets.Files.FirstOrDefault(f => f.Segment == packets.EspSegment) ?? packets.Files[0];
        var command = ClusterActors.Protocol.Esp.WiresharkEspSa.Command(esp.File, packets.Sas, out var why);
        return result with { Pcaps = packets.Files, TsharkCommand = command ?? $"(no tshark command: {why})" };
    }

    /// <summary>The run's file names without extension: `DRILL-N`.</summary>
    public static string Stem(DrillRunResult result) => $"{result.Drill}-{result.Run}";

    /// <summary>Writes the files of a run (Markdown, JSON, and the SVG when it has a timeline); returns their paths.</summary>
    public static IReadOnlyList<string> Write(DrillRunResult result, string outDir)
    {
        var stem = Stem(result);
        var md = Path.Combine(outDir, stem + ".md");
        var json = Path.Combine(outDir, stem + ".json");
        File.WriteAllText(json, JsonReport.Render(result));
        if (!result.HasTimeline)
        {
            // No traffic was sampled (heartbeat-loss, fgsp-dpd-flush): no timeline to draw.
            File.WriteAllText(md, MarkdownReport.Render(result));
            return [md, json];
        }
        var svg = Path.Combine(outDir, stem + ".svg");
        File.WriteAllText(svg, SvgTimeline.Render(result));
        File.WriteAllText(md, MarkdownReport.Render(result, stem + ".svg"));
        return [md, json, svg];
    }

    /// <summary>Per drill and fault: runs passed, gap and loss median/max, detection median.</summary>
    public static string Summary(IReadOnlyList<DrillRunResult> results)
    {
        var c = CultureInfo.InvariantCulture;
        var rows = new List<string[]> { new[] { "drill", "fault", "runs", "passed", "gap median", "gap max", "lost median", "lost max", "bound", "detection median" } };
        foreach (var f in DrillSummary.Rows(results))
            rows.Add([f.Drill, f.Fault ?? "—", $"{f.Runs}", $"{f.Passed}", Ms(f.GapMedianMs), Ms(f.GapMaxMs), N(f.LostMedian), N(f.LostMax),
                f.LossBound is { } b ? b.ToString(c) : "—", Ms(f.DetectionMedianMs)]);
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

        static string Ms(double? v) => v is { } x ? x.ToString("0", CultureInfo.InvariantCulture) + " ms" : "—";
        static string N(double? v) => v is { } x ? x.ToString("0", CultureInfo.InvariantCulture) : "—";
    }

    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.OrderBy(v => v).ToList();
        var mid = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
