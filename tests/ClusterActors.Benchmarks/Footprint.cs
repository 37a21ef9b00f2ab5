using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using ClusterActors.Node.Hosting;

/// <summary>
/// Idle footprint (issue 13, goal 1 "idle costs nothing"): the seed scenario's four units as `clusteractors node` OS
/// processes on loopback with their shipped configs (fresh SQLite data folders, free ports, Akka mutual TLS as
/// shipped), settled into one Akka cluster with FGCP elected in both clusters, then left alone for --seconds while this
/// process samples each one once a second from /proc: CPU = utime + stime of /proc/PID/stat (clock ticks), RSS =
/// VmRSS of /proc/PID/status, wake-ups = voluntary + involuntary context switches summed over /proc/PID/task/*.
/// Prints per unit ms CPU per s (mean over the window and the busiest second), RSS (end and peak), wake-ups per s,
/// threads, the threads that used the CPU (by name) and the managed heap as of the unit's last GC (the unit's opt-in
/// trace file, `# gc-heap`, see src/Node/Hosting/TunnelTrace.cs). Nothing is sent to the units during the window.
/// --env NAME=VALUE (repeatable) sets a variable in the units' environment and --hocon TEXT appends HOCON to their
/// wiring, to measure a runtime or Akka setting without rebuilding. Every wait is bounded; the processes this
/// benchmark started are stopped by pid at the end and on failure.
/// </summary>
internal static class Footprint
{
    private static readonly string[] Units = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];

    public sealed record Settings(TimeSpan Settle, TimeSpan Window, IReadOnlyList<(string Name, string Value)> Environment, string ExtraHocon);

    /// <summary>`footprint [--seconds 30] [--settle 20] [--env NAME=VALUE]... [--hocon TEXT]`, parsed with System.CommandLine.</summary>
    public static async Task<int> Main(string[] args)
    {
        var seconds = new Option<int>("--seconds") { Description = "idle window sampled, in seconds (5 to 600)", DefaultValueFactory = _ => 30 };
        var settle = new Option<int>("--settle") { Description = "seconds left alone after the lab formed, before sampling (0 to 600)", DefaultValueFactory = _ => 20 };
        var env = new Option<string[]>("--env") { Description = "NAME=VALUE set in the units' environment (repeatable), e.g. DOTNET_gcServer=1", AllowMultipleArgumentsPerToken = false };
        var hocon = new Option<string>("--hocon") { Description = "HOCON appended to every unit's wiring, e.g. 'akka.cluster.failure-detector.heartbeat-interval = 1s'" };
        var cmd = new RootCommand("footprint: the idle cost of the seed lab's four units as OS processes") { seconds, settle, env, hocon };
        var exit = 2;
        cmd.SetAction(async (pr, _) =>
        {
            var s = pr.GetValue(seconds);
            var w = pr.GetValue(settle);
            if (s is < 5 or > 600 || w is < 0 or > 600)
            {
                Console.Error.WriteLine("--seconds: 5 to 600; --settle: 0 to 600");
                exit = 2;
                return;
            }
            var vars = new List<(string, string)>();
            foreach (var e in pr.GetValue(env) ?? [])
            {
                var eq = e.IndexOf('=');
                if (eq <= 0)
                {
                    Console.Error.WriteLine($"--env {e}: NAME=VALUE");
                    exit = 2;
                    return;
                }
                vars.Add((e[..eq], e[(eq + 1)..]));
            }
            exit = await Run(new Settings(TimeSpan.FromSeconds(w), TimeSpan.FromSeconds(s), vars, pr.GetValue(hocon) ?? ""));
        });
        var parse = cmd.Parse(args);
        var code = await parse.InvokeAsync();
        return parse.Errors.Count > 0 || code != 0 ? (code == 0 ? 2 : code) : exit;
    }

    public static async Task<int> Run(Settings s)
    {
        var root = Path.Combine(Path.GetTempPath(), "clusteractors-footprint-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        var units = new List<Unit>();
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCtrlC = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        EventHandler onExit = (_, _) => units.ForEach(u => u.Stop());
        Console.CancelKeyPress += onCtrlC;
        AppDomain.CurrentDomain.ProcessExit += onExit;
        try
        {
            Console.WriteLine("footprint: the seed lab's four units as `clusteractors node` OS processes on loopback, shipped configs, left idle");
            Console.WriteLine($"machine: {Machine.Line()} (1/5/15 min) at start, .NET {Environment.Version}; clock ticks {ProcStat.TicksPerSecond}/s");
            if (s.Environment.Count > 0) Console.WriteLine($"  units' environment: {string.Join(' ', s.Environment.Select(e => $"{e.Name}={e.Value}"))}");
            if (s.ExtraHocon.Length > 0) Console.WriteLine($"  extra HOCON: {s.ExtraHocon}");
            Console.WriteLine($"  data, wiring, traces and logs under {root}");
            units = Define(root, s.ExtraHocon);
            foreach (var u in units) u.Start(root, s.Environment);
            var ct = cancel.Token;

            var formed = await Until(() => Task.FromResult(units.All(u => u.MembersUp() >= 4)), TimeSpan.FromSeconds(120), "all four units Up in one Akka cluster", units, ct);
            Console.WriteLine($"  four units Up in one Akka cluster after {formed.TotalSeconds:0.0} s");
            var elected = await Until(async () => await Elected(units[0], units[1]) && await Elected(units[2], units[3]), TimeSpan.FromSeconds(120),
                "FGCP elected a primary in each cluster", units, ct);
            Console.WriteLine($"  FGCP elected in both clusters {elected.TotalSeconds:0.0} s later; settling {s.Settle.TotalSeconds:0} s, then {s.Window.TotalSeconds:0} s sampled");
            await Task.Delay(s.Settle, ct);

            // The window: nothing but /proc reads, once a second.
            var samples = units.ToDictionary(u => u.Name, _ => new List<ProcStat.Sample>());
            var first = units.ToDictionary(u => u.Name, u => ProcStat.Read(u.Pid));
            var sw = Stopwatch.StartNew();
            for (var i = 1; i <= (int)s.Window.TotalSeconds; i++)
            {
                var due = TimeSpan.FromSeconds(i) - sw.Elapsed;
                if (due > TimeSpan.Zero) await Task.Delay(due, ct);
                foreach (var u in units)
                {
                    if (u.Exited) throw new TimeoutException($"{u.Name} exited (code {u.ExitCode}) during the idle window");
                    samples[u.Name].Add(ProcStat.Read(u.Pid));
                }
            }
            var wall = sw.Elapsed.TotalSeconds;
            await Task.Delay(TimeSpan.FromMilliseconds(500), ct); // the trace's last flush

            Console.WriteLine();
            Console.WriteLine($"idle {wall:0.0} s, load {Machine.LoadAverage()} at the end (other engineers share these cores)");
            Console.WriteLine("unit      pid      CPU ms/s (mean, busiest s)   RSS MiB (end, peak; anon+file)   PSS MiB   heap MiB   gen0/1/2 GCs   wake-ups/s   threads   busiest threads (CPU ms over the window)");
            var totalCpuMs = 0.0;
            var wakeLines = new List<string>();
            foreach (var u in units)
            {
                var list = samples[u.Name];
                var last = list[^1];
                var cpuMs = (last.CpuTicks - first[u.Name].CpuTicks) * 1000.0 / ProcStat.TicksPerSecond;
                totalCpuMs += cpuMs;
                var perSecond = list.Zip(new[] { first[u.Name] }.Concat(list), (b, a) => (b.CpuTicks - a.CpuTicks) * 1000.0 / ProcStat.TicksPerSecond).Max();
                var wakeUps = (last.ContextSwitches - first[u.Name].ContextSwitches) / wall;
                var heap = u.Heap();
                var threads = last.ThreadCpu
                    .Select(t => (t.Key, Ms: (t.Value.Ticks - (first[u.Name].ThreadCpu.TryGetValue(t.Key, out var f) ? f.Ticks : 0)) * 1000.0 / ProcStat.TicksPerSecond, t.Value.Name))
                    .Where(t => t.Ms > 0).GroupBy(t => t.Name).Select(g => (Name: g.Key, Ms: g.Sum(x => x.Ms), Count: g.Count()))
                    .OrderByDescending(t => t.Ms).Take(6).Select(t => $"{t.Name}{(t.Count > 1 ? $" x{t.Count}" : "")} {t.Ms:0}");
                // Where the wake-ups go: context switches per second by thread name (threads that ended are not counted).
                var wakers = last.ThreadCpu
                    .Select(t => (t.Value.Name, Sw: t.Value.Switches - (first[u.Name].ThreadCpu.TryGetValue(t.Key, out var f) ? f.Switches : 0)))
                    .Where(t => t.Sw > 0).GroupBy(t => t.Name).Select(g => (Name: g.Key, PerS: g.Sum(x => x.Sw) / wall))
                    .OrderByDescending(t => t.PerS).Take(6).Select(t => $"{t.Name} {t.PerS:0}");
                wakeLines.Add($"{u.Name,-9} wake-ups/s by thread: {string.Join(", ", wakers)}");
                Console.WriteLine($"{u.Name,-9} {u.Pid,-8} {cpuMs / wall,8:0.0} {perSecond,8:0}              {last.RssKiB / 1024.0,6:0.0} {list.Max(x => x.RssKiB) / 1024.0,6:0.0}; {last.AnonKiB / 1024.0:0}+{last.FileKiB / 1024.0:0}   {last.PssKiB / 1024.0,6:0.0}   " +
                                  $"{(heap is { } h ? (h.Bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) : "n/a"),6}   " +
                                  $"{(heap is { } g ? $"{g.Gen0}/{g.Gen1}/{g.Gen2}" : "n/a"),-14} {wakeUps,8:0}     {last.Threads,5}     {string.Join(", ", threads)}");
            }
            wakeLines.ForEach(Console.WriteLine);
            Console.WriteLine($"all four: {totalCpuMs / wall:0.0} ms CPU per s = {totalCpuMs / wall / 10:0.00} % of one core; RSS {units.Sum(u => samples[u.Name][^1].RssKiB) / 1024.0:0} MiB, PSS {units.Sum(u => samples[u.Name][^1].PssKiB) / 1024.0:0} MiB");
            Console.WriteLine("target (issue 13, goal 1): <= 5 ms CPU per s and <= 80 MiB RSS per idle unit; the lab <= 2 % of one core");
            return 0;
        }
        catch (TimeoutException e)
        {
            Console.Error.WriteLine($"footprint: {e.Message}");
            foreach (var u in units) Console.Error.WriteLine($"--- tail of {u.Name}'s log:\n{u.LogTail()}");
            return 1;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine("footprint: interrupted");
            return 130;
        }
        finally
        {
            foreach (var u in units) u.Stop();
            Console.CancelKeyPress -= onCtrlC;
            AppDomain.CurrentDomain.ProcessExit -= onExit;
            try { Directory.Delete(root, true); } catch (Exception e) { Console.Error.WriteLine($"could not delete {root}: {e.Message}"); }
        }
    }

    private static Task<TimeSpan> Until(Func<Task<bool>> condition, TimeSpan within, string what, List<Unit> units, CancellationToken ct) =>
        ProcessLab.Until(condition, within, what, units, TimeSpan.FromMilliseconds(200), ct);

    /// <summary>Both members of an FGCP pair see two members in state work and name the same primary.</summary>
    private static async Task<bool> Elected(Unit a, Unit b) => await ProcessLab.AgreedPrimary(a, b) is not null;

    // The shipped configs as they are: their HA timers are what an idle unit runs.
    private static List<Unit> Define(string root, string extraHocon) =>
        ProcessLab.Write(root, Units, name => LoopbackLab.ScenarioConfig(name), extraHocon)
            .Select(l => new Unit(l.Name, l.Admin, l.Trace, l.Args)).ToList();

    /// <summary>One `clusteractors node` process this benchmark started; only it is ever stopped, by its pid.</summary>
    private sealed class Unit(string name, IPEndPoint admin, string trace, string args) : UnitProcess(name, admin, args)
    {
        private string[] TraceLines()
        {
            try
            {
                using var f = new FileStream(trace, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var r = new StreamReader(f);
                return r.ReadToEnd().Split('\n');
            }
            catch (FileNotFoundException) { return []; }
        }

        public int MembersUp() => TraceLines().Where(l => l.StartsWith("# member-up ", StringComparison.Ordinal)).Distinct().Count();

        /// <summary>The latest `# gc-heap BYTES GEN2 [GEN0 GEN1]` line of the unit's trace: the managed heap as of its last GC.</summary>
        public (long Bytes, int Gen0, int Gen1, int Gen2)? Heap()
        {
            var line = TraceLines().LastOrDefault(l => l.StartsWith("# gc-heap ", StringComparison.Ordinal));
            if (line is null) return null;
            var p = line.Split(' ');
            int At(int i) => p.Length > i ? int.Parse(p[i], CultureInfo.InvariantCulture) : -1;
            return (long.Parse(p[2], CultureInfo.InvariantCulture), At(4), At(5), At(3));
        }
    }
}

/// <summary>What /proc tells about one process: CPU, RSS, context switches and per-thread CPU by thread name.</summary>
internal static class ProcStat
{
    public sealed record Sample(long CpuTicks, long RssKiB, long AnonKiB, long FileKiB, long PssKiB, long ContextSwitches, int Threads, Dictionary<int, (string Name, long Ticks, long Switches)> ThreadCpu);

    [DllImport("libc", SetLastError = true)]
    private static extern long sysconf(int name);

    private const int ScClkTck = 2; // _SC_CLK_TCK on Linux

    /// <summary>USER_HZ: the unit of utime and stime in /proc/PID/stat.</summary>
    public static readonly long TicksPerSecond = sysconf(ScClkTck) is > 0 and var t ? t : 100;

    /// <summary>utime + stime: fields 14 and 15 of /proc/PID/stat, counted after the parenthesised comm (which may hold spaces).</summary>
    public static long CpuTicks(string stat)
    {
        var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(rest[11], CultureInfo.InvariantCulture) + long.Parse(rest[12], CultureInfo.InvariantCulture);
    }

    public static Sample Read(int pid)
    {
        var cpu = CpuTicks(File.ReadAllText($"/proc/{pid}/stat"));
        long rss = 0, anon = 0, file = 0;
        var threads = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Field(line);
            else if (line.StartsWith("RssAnon:", StringComparison.Ordinal)) anon = Field(line);
            else if (line.StartsWith("RssFile:", StringComparison.Ordinal)) file = Field(line);
            else if (line.StartsWith("Threads:", StringComparison.Ordinal)) threads = (int)Field(line);
        }
        // PSS: the file-backed pages (framework and Akka assemblies) shared between the four units count once in total,
        // a quarter in each, instead of whole in each RSS.
        long pss = 0;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
                if (line.StartsWith("Pss:", StringComparison.Ordinal)) pss = Field(line);
        }
        catch (IOException) { /* kernel without smaps_rollup: PSS reported as 0 */ }
        long switches = 0;
        var perThread = new Dictionary<int, (string, long, long)>();
        foreach (var dir in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var tid = int.Parse(Path.GetFileName(dir), CultureInfo.InvariantCulture);
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var name = stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')];
                long own = 0;
                foreach (var line in File.ReadLines(Path.Combine(dir, "status")))
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                        own += Field(line);
                switches += own;
                perThread[tid] = (name, CpuTicks(stat), own);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* the thread ended between the listing and the read */ }
        }
        return new Sample(cpu, rss, anon, file, pss, switches, threads, perThread);
    }

    private static long Field(string line) =>
        long.Parse(line.Split(' ', '\t').Where(x => x.Length > 0).Skip(1).First(), CultureInfo.InvariantCulture);
}
