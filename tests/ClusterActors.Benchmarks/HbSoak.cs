using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Scenario;

/// <summary>
/// `hb-soak --minutes N [--pps 1000]` (issue 13 goal 6): the embedded seed lab (four units in this process) with 10 ms
/// heartbeats (hb-interval-in-milliseconds 10ms, hb-interval 1, hb-lost-threshold 5: lost after 50 ms), N minutes idle
/// and then N minutes with PC1's echo traffic through the tunnel. Counts what must stay zero, false failovers: role
/// changes (HA id changes), elections and members lost (HA history lines) after the lab formed; and measures their
/// enemies: GC pauses (GC.GetTotalPauseDuration, collections per generation), the heartbeat timer's lateness per unit
/// (gap between two heartbeats − hb-interval, by bucket, and FGCP's stall count) and the thread pool's queue (sampled
/// every 100 ms). One line a minute, a table per phase at the end. Exit 0 when no false failover, 1 otherwise.
/// </summary>
internal static class HbSoak
{
    public static Command Command()
    {
        var minutes = new Option<double>("--minutes") { Description = "minutes of each phase: idle, then traffic (the issue asks 30 + 30)", DefaultValueFactory = _ => 5 };
        var pps = new Option<double>("--pps") { Description = "PC1's echo requests per second through the tunnel in the traffic phase", DefaultValueFactory = _ => 1000 };
        var cmd = new Command("hb-soak", "false failovers at 10 ms heartbeats: the embedded seed idle, then with traffic; GC pauses, timer lateness, thread-pool queue")
            { minutes, pps };
        cmd.SetAction(async (pr, ct) =>
        {
            var m = pr.GetValue(minutes);
            var rate = pr.GetValue(pps);
            if (m is < 0.1 or > 240) { Console.Error.WriteLine("--minutes: 0.1 to 240"); return 2; }
            if (rate is < 1 or > 20_000) { Console.Error.WriteLine("--pps: 1 to 20000"); return 2; }
            return await Run(TimeSpan.FromMinutes(m), rate, ct);
        });
        return cmd;
    }

    private sealed record UnitFigures(long HaIdChanges, long Elections, long Lost, long Stalls, long Beats, IReadOnlyList<long> LateBuckets, TimeSpan MaxLate,
        IReadOnlyList<string> ElectionLines);

    private sealed record Snapshot(IReadOnlyDictionary<string, UnitFigures> Units, TimeSpan GcPause, int Gen0, int Gen1, int Gen2, TimeSpan Cpu, DateTime At);

    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    private static async Task<int> Run(TimeSpan phase, double pps, CancellationToken ct)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.CurrentCulture = C; // figures with a decimal point
        Console.WriteLine($"hb-soak: the embedded seed with 10 ms heartbeats, {phase.TotalMinutes:0.#} min idle then {phase.TotalMinutes:0.#} min at {pps.ToString(C)} pps");
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}, server GC {System.Runtime.GCSettings.IsServerGC}, "
                          + $"GC latency mode {System.Runtime.GCSettings.LatencyMode}, load average {LoadAverage()}");
        var topology = Scenarios.Topology(EmbeddedScenarioDriver.Scenario);
        await using var lab = new EmbeddedDrillLab(topology.UnitNames.ToDictionary(u => u, _ => EmbeddedScenarioDriver.Hb10Ms), topology);
        Console.WriteLine($"timers: hb-interval {lab.Timers.HbIntervalMs} ms x hb-lost-threshold {lab.Timers.HbLostThreshold} = {lab.Timers.FgcpDetectionMs:0} ms");
        Console.WriteLine(await lab.Up(DrillCatalog.Preferred, ct));
        var dial = await lab.Dial(ct);
        Console.WriteLine($"tunnel up via {string.Join("+", dial.NextHopUnits)}");

        using var sampler = new PoolSampler();
        var start = await Take(lab);
        Console.WriteLine("idle phase");
        var idleEnd = await Soak(lab, start, phase, traffic: false, pps, sampler, ct);
        var idlePool = sampler.TakeAndReset();

        Console.WriteLine("traffic phase");
        var echoes = new List<ClusterActors.Node.LabHarness.Client.EchoReport>();
        var trafficEnd = await Soak(lab, idleEnd, phase, traffic: true, pps, sampler, ct, echoes);
        var trafficPool = sampler.TakeAndReset();

        Console.WriteLine();
        var falseFailovers = Report("idle", start, idleEnd, idlePool, []) + Report("traffic", idleEnd, trafficEnd, trafficPool, echoes);
        Console.WriteLine(falseFailovers == 0 ? "no false failover" : $"{falseFailovers} false failover event(s)");
        return falseFailovers == 0 ? 0 : 1;
    }

    /// <summary>One phase: a line a minute; with traffic, PC1's echo runs of at most 5 minutes each (a run is bounded at 10).</summary>
    private static async Task<Snapshot> Soak(EmbeddedDrillLab lab, Snapshot from, TimeSpan phase, bool traffic, double pps, PoolSampler sampler,
        CancellationToken ct, List<ClusterActors.Node.LabHarness.Client.EchoReport>? echoes = null)
    {
        var sw = Stopwatch.StartNew();
        var runStarted = TimeSpan.Zero;
        if (traffic) lab.TrafficStart(pps);
        var last = from;
        while (sw.Elapsed < phase && !ct.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromSeconds(Math.Min(60, (phase - sw.Elapsed).TotalSeconds)), ct).ContinueWith(_ => { });
            if (traffic && (sw.Elapsed - runStarted >= TimeSpan.FromMinutes(5) || sw.Elapsed >= phase))
            {
                echoes!.Add(await lab.TrafficStop());
                if (sw.Elapsed < phase)
                {
                    lab.TrafficStart(pps);
                    runStarted = sw.Elapsed;
                }
            }
            var now = await Take(lab);
            var p = sampler.Peek();
            Console.WriteLine(($"  {sw.Elapsed.TotalMinutes,5:0.0} min: HA id changes {Sum(now, from, f => f.HaIdChanges)}, elections {Sum(now, from, f => f.Elections)}, "
                                               + $"lost {Sum(now, from, f => f.Lost)}, stalls {Sum(now, from, f => f.Stalls)}; beats late >25 ms {LateOver(now, last, 3)}, max late {MaxLate(now):0} ms (since start); "
                                               + $"GC pause +{(now.GcPause - last.GcPause).TotalMilliseconds:0} ms, gen2 +{now.Gen2 - last.Gen2}; pool queue max {p.MaxQueue}, threads {p.MaxThreads}"
                                               + (traffic ? $"; traffic sent {lab.TrafficProgress().Sent}, answered {lab.TrafficProgress().Answered}" : "")));
            last = now;
        }
        return await Take(lab);
    }

    private static long Sum(Snapshot now, Snapshot from, Func<UnitFigures, long> f) =>
        now.Units.Sum(u => f(u.Value) - (from.Units.TryGetValue(u.Key, out var b) ? f(b) : 0));

    /// <summary>Heartbeats later than the edge of bucket <paramref name="bucket"/> − 1 since <paramref name="from"/>, all units.</summary>
    private static long LateOver(Snapshot now, Snapshot from, int bucket) =>
        now.Units.Sum(u => u.Value.LateBuckets.Skip(bucket).Sum() - (from.Units.TryGetValue(u.Key, out var b) ? b.LateBuckets.Skip(bucket).Sum() : 0));

    private static double MaxLate(Snapshot s) => s.Units.Values.Max(u => u.MaxLate.TotalMilliseconds);

    private static int Report(string name, Snapshot from, Snapshot to, PoolFigures pool, IReadOnlyList<ClusterActors.Node.LabHarness.Client.EchoReport> echoes)
    {
        var wall = to.At - from.At;
        Console.WriteLine(($"== {name}: {wall.TotalMinutes:0.0} min"));
        Console.WriteLine("  unit      HA-id-changes  elections  lost  stalls  beats    late<=5  <=10  <=25  <=50  <=100  >100 ms");
        var events = 0L;
        foreach (var (unit, t) in to.Units.OrderBy(u => u.Key, StringComparer.Ordinal))
        {
            var f = from.Units.GetValueOrDefault(unit) ?? t with { HaIdChanges = 0, Elections = 0, Lost = 0, Stalls = 0, Beats = 0, LateBuckets = new long[t.LateBuckets.Count], ElectionLines = [] };
            var b = t.LateBuckets.Select((v, i) => v - f.LateBuckets[i]).ToList();
            var changes = t.HaIdChanges - f.HaIdChanges;
            var elections = t.Elections - f.Elections;
            var lost = t.Lost - f.Lost;
            events += changes + elections + lost;
            // What counted, so that an election can be told from the formation's lines journaled late.
            foreach (var line in t.ElectionLines.Skip(f.ElectionLines.Count)) Console.WriteLine($"    {unit}: {line.Trim()}");
            Console.WriteLine(($"  {unit,-8}  {changes,13}  {elections,9}  {lost,4}  {t.Stalls - f.Stalls,6}  {t.Beats - f.Beats,7}  {b[0],8}  {b[1],4}  {b[2],4}  {b[3],4}  {b[4],5}  {b[5],4}"));
        }
        Console.WriteLine(($"  max heartbeat lateness since the lab started: {MaxLate(to):0.0} ms"));
        Console.WriteLine(($"  GC: pause {(to.GcPause - from.GcPause).TotalMilliseconds:0} ms in all, collections gen0 {to.Gen0 - from.Gen0}, gen1 {to.Gen1 - from.Gen1}, gen2 {to.Gen2 - from.Gen2}; "
                                           + $"process CPU {(to.Cpu - from.Cpu).TotalSeconds:0.0} s ({(to.Cpu - from.Cpu).TotalMilliseconds / wall.TotalSeconds:0} ms per s)"));
        Console.WriteLine(($"  thread pool (every 100 ms): queue max {pool.MaxQueue}, mean {pool.MeanQueue:0.0}; threads max {pool.MaxThreads}; sampler late max {pool.MaxSamplerLate.TotalMilliseconds:0} ms"));
        foreach (var e in echoes)
            Console.WriteLine(($"  traffic: sent {e.Sent}, lost {e.Lost}, longest gap {e.LongestGap.TotalMilliseconds:0} ms"));
        Console.WriteLine(($"  false failovers (HA id changes + elections + members lost): {events}"));
        return (int)events;
    }

    private static async Task<Snapshot> Take(EmbeddedDrillLab lab)
    {
        var units = new Dictionary<string, UnitFigures>();
        foreach (var unit in lab.Units)
        {
            var s = await lab.Loopback.Status(unit);
            var history = (await lab.Cli(unit, "diagnose sys ha history read")).Output.Split('\n');
            units[unit] = new UnitFigures(s.HaIdChanges,
                history.Count(l => l.Contains("is selected as the primary", StringComparison.Ordinal)),
                history.Count(l => l.Contains("is lost: no heartbeat", StringComparison.Ordinal)),
                s.HeartbeatTimer.Stalls, s.HeartbeatTimer.Beats, s.HeartbeatTimer.LateBuckets, s.HeartbeatTimer.MaxLate,
                history.Where(l => l.Contains("is selected as the primary", StringComparison.Ordinal) || l.Contains("is lost", StringComparison.Ordinal)).ToList());
        }
        return new Snapshot(units, GC.GetTotalPauseDuration(), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
            Process.GetCurrentProcess().TotalProcessorTime, DateTime.UtcNow);
    }

    private static string LoadAverage()
    {
        try { return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "unknown"; }
    }

    private sealed record PoolFigures(long MaxQueue, double MeanQueue, int MaxThreads, TimeSpan MaxSamplerLate);

    /// <summary>The thread pool's queue and threads, every 100 ms on a thread of its own (a starved pool must not starve the sampler).</summary>
    private sealed class PoolSampler : IDisposable
    {
        private readonly Thread _thread;
        private volatile bool _stop;
        private readonly object _gate = new();
        private long _maxQueue, _sumQueue, _samples;
        private int _maxThreads;
        private TimeSpan _maxLate;

        public PoolSampler()
        {
            _thread = new Thread(Loop) { IsBackground = true, Name = "hb-soak pool sampler" };
            _thread.Start();
        }

        private void Loop()
        {
            var period = TimeSpan.FromMilliseconds(100);
            var last = Stopwatch.GetTimestamp();
            while (!_stop)
            {
                Thread.Sleep(period);
                var now = Stopwatch.GetTimestamp();
                var late = Stopwatch.GetElapsedTime(last, now) - period;
                last = now;
                lock (_gate)
                {
                    var q = ThreadPool.PendingWorkItemCount;
                    _maxQueue = Math.Max(_maxQueue, q);
                    _sumQueue += q;
                    _samples++;
                    _maxThreads = Math.Max(_maxThreads, ThreadPool.ThreadCount);
                    if (late > _maxLate) _maxLate = late;
                }
            }
        }

        public PoolFigures Peek()
        {
            lock (_gate) return new(_maxQueue, _samples == 0 ? 0 : (double)_sumQueue / _samples, _maxThreads, _maxLate);
        }

        public PoolFigures TakeAndReset()
        {
            lock (_gate)
            {
                var f = new PoolFigures(_maxQueue, _samples == 0 ? 0 : (double)_sumQueue / _samples, _maxThreads, _maxLate);
                (_maxQueue, _sumQueue, _samples, _maxThreads, _maxLate) = (0, 0, 0, 0, TimeSpan.Zero);
                return f;
            }
        }

        public void Dispose()
        {
            _stop = true;
            _thread.Join(TimeSpan.FromSeconds(1));
        }
    }
}
