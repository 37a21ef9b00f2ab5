using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Config;

/// <summary>
/// SA sync across four OS processes: the scenario's units run as `clusteractors node` processes (real Akka remoting,
/// real UDP heartbeats and IKE on loopback, fresh SQLite data folders under /tmp); this process dials N tunnels over
/// UDP into cluster 1's primary, many clients with distinct IKE SPIs and a bounded number in flight.
/// Each unit traces when a tunnel record becomes present on it (`clusteractors.unit.trace-tunnels`, see
/// src/Node/Hosting/TunnelTrace.cs): SERIAL KEY OWNED TIMESTAMP, the timestamp being Stopwatch.GetTimestamp(), i.e.
/// CLOCK_MONOTONIC, comparable between processes on one machine. Per tunnel, latency = the latest of its three
/// copies' timestamps − the owner's (IKE_AUTH done). Memory is each process's VmRSS from /proc/PID/status.
/// Every wait is bounded; the processes this benchmark started are stopped by pid at the end and on failure.
/// </summary>
internal static class SaSyncProcesses
{
    private static readonly string[] Units = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];
    private const string Phase1 = "vpn1";
    /// <param name="WarmUp">Tunnels dialed and synced first, not counted: the units' code is still tier-0 JIT at first
    /// (in a 10,000-tunnel run the dial rate doubled over the first ~3,000).</param>
    /// <param name="Failover">After the sync, SIGKILL of the owner: its FGCP peer claims every tunnel as the new primary,
    /// and the figures say when each unit applied each claim (issue 13 goal 5, claims in batches).</param>
    public sealed record Settings(int Tunnels, int Concurrency, TimeSpan Budget, int WarmUp, bool Failover = false);

    public static async Task<int> Run(Settings s)
    {
        var deadline = Stopwatch.StartNew();
        var root = Path.Combine(Path.GetTempPath(), "clusteractors-sabench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        var units = new List<Unit>();
        var succeeded = false;
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCtrlC = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        EventHandler onExit = (_, _) => StopAll(units);
        Console.CancelKeyPress += onCtrlC;
        AppDomain.CurrentDomain.ProcessExit += onExit;
        try
        {
            Console.WriteLine($"SA sync: {s.Tunnels} dialup tunnels dialed over UDP into cluster 1's primary and synced to the three other units " +
                              $"(four `clusteractors node` OS processes on loopback, {s.Concurrency} dials in flight)");
            Console.WriteLine($"machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}, load {Load()} (1/5/15 min) at start");
            Console.WriteLine($"  data, wiring, traces and logs under {root}");
            units = Define(root);
            foreach (var u in units) u.Start(root);
            var ct = cancel.Token;

            // All four Up in one Akka cluster (as each unit sees it), FGCP elected in both clusters.
            var traces = new Traces(units);
            var up = await Until(() =>
            {
                traces.Read();
                return Task.FromResult(units.All(u => traces.MembersUp(u.Name) >= 4));
            }, TimeSpan.FromSeconds(120), "all four units Up in one Akka cluster", units, ct);
            Console.WriteLine($"  four units Up in one Akka cluster after {up.TotalSeconds:0.0} s");
            Unit owner = null!;
            var elected = await Until(async () =>
            {
                var c1 = await Primary(units[0], units[1]);
                var c2 = await Primary(units[2], units[3]);
                if (c1 is null || c2 is null) return false;
                owner = c1;
                return true;
            }, TimeSpan.FromSeconds(120), "FGCP elected a primary in each cluster", units, ct);
            Console.WriteLine($"  FGCP elected: {owner.Name} is cluster 1's primary ({elected.TotalSeconds:0.0} s later); dialing its IKE socket {owner.Ike}");

            using var dialer = new UdpDialer(owner.Ike);
            var psk = owner.Config.Phase1.First(p => p.Type == Phase1Type.Dynamic).PskSecret!.Clear;
            var localGw = IPAddress.Parse(owner.Config.Phase1.First(p => p.Type == Phase1Type.Dynamic).LocalGw);
            var client = DialupClient.ScenarioSettings(psk);

            // Warm-up (JIT on both sides, the peers' first pushes); not counted.
            var warm = new ConcurrentBag<string>();
            await Parallel.ForEachAsync(Enumerable.Range(0, s.WarmUp), new ParallelOptions { MaxDegreeOfParallelism = s.Concurrency, CancellationToken = ct },
                async (_, token) => warm.Add(await dialer.Dial(client, localGw, token)));
            await Until(() =>
            {
                traces.Read();
                return Task.FromResult(warm.All(k => traces.Complete(k, owner.Name)));
            }, TimeSpan.FromSeconds(120), $"{s.WarmUp} warm-up tunnels on all four units", units, ct);
            await Task.Delay(2000, ct);
            traces.Read();
            var rssBefore = units.ToDictionary(u => u.Name, u => u.RssKiB());
            var heapBefore = units.ToDictionary(u => u.Name, u => traces.Heap(u.Name));
            Console.WriteLine($"  {s.WarmUp} warm-up tunnels synced (not counted); RSS before: {string.Join(", ", units.Select(u => $"{u.Name} {rssBefore[u.Name] / 1024.0:0} MiB"))}");

            // Dial N, at most Concurrency in flight; stop dialing when the budget's dial share is spent.
            var syncReserve = TimeSpan.FromMinutes(Math.Min(3, s.Budget.TotalMinutes / 5));
            var dialDeadline = s.Budget - syncReserve;
            var keys = new ConcurrentBag<string>();
            var failures = 0;
            var dialedCount = 0;
            var loadDuring = "";
            var cpuBefore = units.ToDictionary(u => u.Name, u => u.Cpu());
            var benchCpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var start = Stopwatch.GetTimestamp();
            using var stopDialing = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var progressEvery = Math.Max(1, s.Tunnels / 10);
            try
            {
                await Parallel.ForEachAsync(Enumerable.Range(0, s.Tunnels),
                    new ParallelOptions { MaxDegreeOfParallelism = s.Concurrency, CancellationToken = stopDialing.Token },
                    async (_, token) =>
                    {
                        if (deadline.Elapsed > dialDeadline)
                        {
                            await stopDialing.CancelAsync();
                            return;
                        }
                        try
                        {
                            keys.Add(await dialer.Dial(client, localGw, token));
                        }
                        catch (DialFailedException)
                        {
                            Interlocked.Increment(ref failures);
                        }
                        var n = Interlocked.Increment(ref dialedCount);
                        if (n % progressEvery == 0)
                        {
                            var t = Stopwatch.GetElapsedTime(start).TotalSeconds;
                            if (n == s.Tunnels / 2) loadDuring = Load();
                            Console.WriteLine($"  {n} dialed, {t:0.0} s ({n / t:0}/s), load {Load()}");
                        }
                    });
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                Console.WriteLine($"  dialing stopped by the budget ({s.Budget.TotalMinutes:0} min, {syncReserve.TotalMinutes:0.0} min kept for the sync) after {dialedCount} tunnels");
            }
            var dialed = Stopwatch.GetElapsedTime(start);
            var loadAfterDial = Load();
            var dialedKeys = keys.ToList();

            // Until every dialed tunnel is on all four units, bounded by what is left of the budget.
            var syncWait = s.Budget - deadline.Elapsed;
            if (syncWait < TimeSpan.FromSeconds(30)) syncWait = TimeSpan.FromSeconds(30);
            var allSynced = true;
            try
            {
                await Until(() =>
                {
                    traces.Read();
                    return Task.FromResult(dialedKeys.All(k => traces.Complete(k, owner.Name)));
                }, syncWait, "every dialed tunnel on all four units", units, ct);
            }
            catch (TimeoutException e)
            {
                allSynced = false;
                Console.WriteLine($"  {e.Message}");
            }
            await Task.Delay(1500, ct); // a fresh `# gc-heap` line from every unit
            traces.Read();
            var rssAfter = units.ToDictionary(u => u.Name, u => u.RssKiB());
            var heapAfter = units.ToDictionary(u => u.Name, u => traces.Heap(u.Name));
            var loadEnd = Load();
            var stillPrimary = await Primary(units[0], units[1]);
            var cpu = units.ToDictionary(u => u.Name, u => u.Cpu() - cpuBefore[u.Name]);
            var benchCpu = Process.GetCurrentProcess().TotalProcessorTime - benchCpuBefore;
            var wall = Stopwatch.GetElapsedTime(start);

            // Figures.
            var complete = dialedKeys.Where(k => traces.Complete(k, owner.Name)).ToList();
            var latencies = complete.Select(k => traces.Latency(k, owner.Name).TotalMilliseconds).Order().ToList();
            var lastPresent = complete.Count == 0 ? start : complete.Max(k => traces.LastPresent(k));
            Console.WriteLine();
            Console.WriteLine($"machine: {Environment.ProcessorCount} cores; load {loadDuring switch { "" => loadAfterDial, var l => l }} while dialing, {loadAfterDial} after dialing, {loadEnd} at the end (1/5/15 min; other engineers share these cores)");
            Console.WriteLine($"owner IKE_AUTH done -> present on all 3 other units: {Describe(latencies)} over {latencies.Count} tunnels");
            foreach (var other in units.Where(u => u != owner))
            {
                var per = complete.Select(k => traces.LatencyTo(k, owner.Name, other.Name).TotalMilliseconds).Order().ToList();
                Console.WriteLine($"  -> {other.Name}{(other.Config.Ha.GroupId == owner.Config.Ha.GroupId ? " (same FGCP cluster)" : " (other cluster)")}: {Describe(per)}");
            }
            Console.WriteLine($"{dialedKeys.Count} tunnels dialed in {dialed.TotalSeconds:0.0} s ({dialedKeys.Count / dialed.TotalSeconds:0} tunnels/s, {s.Concurrency} in flight, " +
                              $"{failures} dials failed, {dialer.Retransmits} IKE retransmits, {dialer.DpdAnswered} DPD probes answered); " +
                              $"established and on all four units {Stopwatch.GetElapsedTime(start, lastPresent).TotalSeconds:0.0} s after the first dial" +
                              (allSynced ? "" : $" — INCOMPLETE: {dialedKeys.Count - complete.Count} tunnels not on all four units"));
            Console.WriteLine($"CPU from the first dial to the end of the sync ({wall.TotalSeconds:0.0} s wall, {Environment.ProcessorCount} cores shared): " +
                              string.Join(", ", units.Select(u => $"{u.Name} {cpu[u.Name].TotalSeconds:0.0} s")) + $", this process (the clients) {benchCpu.TotalSeconds:0.0} s");
            double PerTunnel(double bytes) => dialedKeys.Count == 0 ? 0 : bytes / dialedKeys.Count;
            Console.WriteLine("memory before dialing -> after sync: VmRSS (/proc/PID/status); managed heap as of the unit's last GC (its trace), full GCs so far");
            foreach (var u in units)
            {
                var delta = (rssAfter[u.Name] - rssBefore[u.Name]) * 1024.0;
                var (hb, gb) = heapBefore[u.Name];
                var (ha, ga) = heapAfter[u.Name];
                Console.WriteLine($"  {u.Name} pid {u.Pid}: RSS {rssBefore[u.Name] / 1024.0:0.0} -> {rssAfter[u.Name] / 1024.0:0.0} MiB " +
                                  $"({delta / 1048576:+0.0;-0.0} MiB, {PerTunnel(delta):0} B per tunnel); heap {hb / 1048576.0:0.0} -> {ha / 1048576.0:0.0} MiB " +
                                  $"({PerTunnel(ha - hb):0} B per tunnel), gen2 GCs {gb} -> {ga}{(u == owner ? "; owner" : "")}");
            }
            var total = units.Sum(u => rssAfter[u.Name] - rssBefore[u.Name]) * 1024.0;
            var totalHeap = units.Sum(u => (double)heapAfter[u.Name].Bytes - heapBefore[u.Name].Bytes);
            Console.WriteLine($"  all four: RSS {total / 1048576:+0.0;-0.0} MiB ({PerTunnel(total) / 4:0} B per tunnel per unit), heap {totalHeap / 1048576:+0.0;-0.0} MiB " +
                              $"({PerTunnel(totalHeap) / 4:0} B per tunnel per unit); both include garbage not yet collected");
            if (stillPrimary != owner)
                Console.WriteLine($"WARNING: cluster 1's primary is now {stillPrimary?.Name ?? "unknown"}, not {owner.Name}: an FGCP failover during the run skews the figures");
            var failedOver = !s.Failover || await Failover(units, owner, [.. warm, .. complete], traces, ct);
            succeeded = allSynced && failedOver;
            return allSynced && failures == 0 && failedOver ? 0 : 1;
        }
        catch (Exception e) when (e is TimeoutException or DialFailedException)
        {
            Console.Error.WriteLine($"sa-sync --processes: {e.Message}");
            foreach (var u in units) Console.Error.WriteLine($"--- tail of {u.Name}'s log:\n{u.LogTail()}");
            return 1;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine("sa-sync --processes: interrupted");
            return 130;
        }
        finally
        {
            StopAll(units);
            Console.CancelKeyPress -= onCtrlC;
            AppDomain.CurrentDomain.ProcessExit -= onExit;
            // A run that found something wrong keeps its units' logs and traces to look into (they are in /tmp).
            if (!succeeded) Console.WriteLine($"kept for inspection: {root}");
            else try { Directory.Delete(root, true); } catch (Exception e) { Console.Error.WriteLine($"could not delete {root}: {e.Message}"); }
        }
    }

    /// <summary>
    /// SIGKILL of the owner of every tunnel; its FGCP peer, primary once it stops hearing it (hb-interval 2 ×
    /// hb-lost-threshold 6 = 1.2 s), claims them all. When each of the three live units applied each claim, from their
    /// traces' `# owner` lines (Stopwatch timestamps, comparable between processes), measured from the kill.
    /// </summary>
    private static async Task<bool> Failover(List<Unit> units, Unit owner, IReadOnlyList<string> keys, Traces traces, CancellationToken ct)
    {
        var peer = units.First(u => u != owner && u.Config.Ha.GroupId == owner.Config.Ha.GroupId);
        var others = units.Where(u => u != owner).ToList();
        Console.WriteLine();
        Console.WriteLine($"failover: SIGKILL of {owner.Name} (pid {owner.Pid}), the owner of {keys.Count} tunnels; {peer.Name}, primary once it stops " +
                          "hearing it (1.2 s), claims them all; load " + Load());
        var cpuBefore = others.ToDictionary(u => u.Name, u => u.Cpu());
        var killedAt = Stopwatch.GetTimestamp();
        owner.Stop();
        var ok = true;
        try
        {
            await Until(() =>
            {
                traces.Read();
                return Task.FromResult(others.All(u => keys.All(k => traces.OwnerOn(u.Name, k) is { } o && o.Owner == peer.Serial)));
            }, TimeSpan.FromSeconds(120), $"every claim of {peer.Name} applied on the three live units", others, ct);
        }
        catch (TimeoutException e)
        {
            ok = false;
            Console.WriteLine($"  {e.Message}");
        }
        await Task.Delay(500, ct);
        traces.Read();
        foreach (var u in others)
        {
            var at = keys.Select(k => traces.OwnerOn(u.Name, k)).Where(o => o is { } x && x.Owner == peer.Serial)
                .Select(o => Stopwatch.GetElapsedTime(killedAt, o!.Value.At).TotalMilliseconds).Order().ToList();
            var cpu = u.Cpu() - cpuBefore[u.Name];
            Console.WriteLine($"  {u.Name}{(u == peer ? " (claims)" : "")}: {at.Count} of {keys.Count} claims applied; " +
                              (at.Count == 0 ? "none" : $"first {at[0]:0} ms, {Describe(at)} after the kill") + $"; CPU {cpu.TotalSeconds:0.00} s since the kill");
        }
        // Remoting drops a message over maximum-frame-size (128,000 bytes) and logs it; a Distributed Data delta or gossip
        // so dropped is rebuilt and dropped again at the next round (src/Actors/Ipsec/README.md, "Distributed Data at scale").
        Console.WriteLine("  frames dropped as oversized, per unit's log (Akka's words: \"Discarding oversized payload\"):");
        foreach (var u in units)
        {
            var dropped = u.LogLinesContaining("oversized payload")
                .Select(l => Regex.Match(l, @"encoded (\S+) was (\d+) bytes"))
                .Where(m => m.Success).GroupBy(m => m.Groups[1].Value)
                .Select(g => $"{g.Count()} {g.Key} (largest {g.Max(m => long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)):N0} bytes)").ToList();
            Console.WriteLine($"    {u.Name}: {(dropped.Count == 0 ? "none" : string.Join(", ", dropped))}");
        }
        return ok;
    }

    private static string Describe(List<double> sorted)
    {
        if (sorted.Count == 0) return "no samples";
        double P(double q) => sorted[Math.Min(sorted.Count - 1, Math.Max(0, (int)Math.Ceiling(q * sorted.Count) - 1))];
        return $"p50 {P(0.50):0.0} ms, p90 {P(0.90):0.0} ms, p99 {P(0.99):0.0} ms, max {sorted[^1]:0.0} ms (min {sorted[0]:0.0}, mean {sorted.Average():0.0})";
    }

    private static string Load()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static void StopAll(List<Unit> units)
    {
        foreach (var u in units) u.Stop();
    }

    private static Task<TimeSpan> Until(Func<Task<bool>> condition, TimeSpan within, string what, List<Unit> units, CancellationToken ct) =>
        ProcessLab.Until(condition, within, what, units, TimeSpan.FromMilliseconds(100), ct);

    /// <summary>The unit both members of an FGCP pair name as their primary, once both see two members in state work.</summary>
    private static async Task<Unit?> Primary(Unit a, Unit b)
    {
        var primary = await ProcessLab.AgreedPrimary(a, b);
        return primary == a.Serial ? a : primary == b.Serial ? b : null;
    }

    // As the in-process mode: DC2_VM1 wins cluster 1's election by its shipped priority 200; hello-holddown 5 to be working
    // sooner. Per-tunnel INFO lines on four consoles would cost more than the sync being measured.
    private static List<Unit> Define(string root) =>
        ProcessLab.Write(root, Units, name => LoopbackLab.ScenarioConfig(name, "config system ha\nset hb-lost-threshold 6\nset hello-holddown 5\nend"),
                "akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING")
            .Select(l => new Unit(l.Name, l.Config, l.Admin, l.Ike, l.Trace, l.Args)).ToList();

    /// <summary>One `clusteractors node` process this benchmark started; only it is ever stopped, by its pid.</summary>
    private sealed class Unit(string name, ClusterActors.Protocol.Config.ConfigDocument config, IPEndPoint admin, IPEndPoint ike, string trace, string args)
        : UnitProcess(name, admin, args)
    {
        public ClusterActors.Protocol.Config.ConfigDocument Config => config;
        public string Serial => config.SerialNumber!;
        public IPEndPoint Ike => ike;
        public string TracePath => trace;

        public long RssKiB()
        {
            var line = File.ReadLines($"/proc/{Pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
    }

    /// <summary>The four units' trace files, read incrementally as they grow.</summary>
    private sealed class Traces(List<Unit> units)
    {
        private readonly Dictionary<string, long> _position = units.ToDictionary(u => u.Name, _ => 0L);
        private readonly Dictionary<string, string> _partial = units.ToDictionary(u => u.Name, _ => "");
        private readonly Dictionary<string, HashSet<string>> _membersUp = units.ToDictionary(u => u.Name, _ => new HashSet<string>());
        private readonly Dictionary<string, Dictionary<string, long>> _present = new(); // key -> unit -> timestamp
        private readonly HashSet<string> _owned = new(); // "unit key" where the line said owned
        private readonly Dictionary<string, (long Bytes, int FullGcs)> _heap = new();

        private readonly Dictionary<(string Unit, string Key), (string Owner, long At)> _owners = new(); // the latest `# owner` line

        /// <summary>The owner the unit last applied for the tunnel, and when, or null when it never changed there.</summary>
        public (string Owner, long At)? OwnerOn(string unit, string key) => _owners.TryGetValue((unit, key), out var o) ? o : null;

        public int MembersUp(string unit) => _membersUp[unit].Count;

        /// <summary>The unit's managed heap as of its last GC, from its latest `# gc-heap` line (written about once a second).</summary>
        public (long Bytes, int FullGcs) Heap(string unit) => _heap.TryGetValue(unit, out var h) ? h : (0, 0);

        public void Read()
        {
            foreach (var u in units)
            {
                if (!File.Exists(u.TracePath)) continue;
                using var f = new FileStream(u.TracePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                if (f.Length <= _position[u.Name]) continue;
                f.Position = _position[u.Name];
                using var reader = new StreamReader(f);
                var text = _partial[u.Name] + reader.ReadToEnd();
                _position[u.Name] = f.Length;
                var end = text.LastIndexOf('\n');
                _partial[u.Name] = text[(end + 1)..];
                if (end < 0) continue;
                foreach (var line in text[..end].Split('\n'))
                {
                    if (line.StartsWith("# member-up ", StringComparison.Ordinal))
                    {
                        _membersUp[u.Name].Add(line["# member-up ".Length..]);
                        continue;
                    }
                    if (line.StartsWith("# owner ", StringComparison.Ordinal))
                    {
                        var o = line.Split(' ');
                        if (o.Length == 7) _owners[(u.Name, o[3])] = (o[4], long.Parse(o[6], CultureInfo.InvariantCulture));
                        continue;
                    }
                    if (line.StartsWith("# gc-heap ", StringComparison.Ordinal))
                    {
                        var heap = line.Split(' ');
                        _heap[u.Name] = (long.Parse(heap[2], CultureInfo.InvariantCulture), int.Parse(heap[3], CultureInfo.InvariantCulture));
                        continue;
                    }
                    var parts = line.Split(' ');
                    if (parts.Length != 4) continue;
                    var at = _present.TryGetValue(parts[1], out var d) ? d : _present[parts[1]] = new();
                    at.TryAdd(u.Name, long.Parse(parts[3], CultureInfo.InvariantCulture));
                    if (parts[2] == "true") _owned.Add(u.Name + " " + parts[1]);
                }
            }
        }

        /// <summary>Owned on the owner and present on all three others.</summary>
        public bool Complete(string key, string owner) =>
            _present.TryGetValue(key, out var at) && at.Count == units.Count && _owned.Contains(owner + " " + key);

        public TimeSpan Latency(string key, string owner)
        {
            var at = _present[key];
            return Stopwatch.GetElapsedTime(at[owner], at.Where(p => p.Key != owner).Max(p => p.Value));
        }

        public TimeSpan LatencyTo(string key, string owner, string other) => Stopwatch.GetElapsedTime(_present[key][owner], _present[key][other]);

        public long LastPresent(string key) => _present[key].Values.Max();
    }

    /// <summary>
    /// Many IKEv2 initiators over one UDP socket: answers are matched to their request by initiator SPI and message ID;
    /// the gateway's own requests (DPD on idle) are answered by the client whose IKE SA they name, so no tunnel is
    /// flushed as dead while the benchmark runs. The unit keys tunnels by SPIs, not by the peer's port.
    /// </summary>
    private sealed class UdpDialer : IDisposable
    {
        private readonly UdpClient _udp = new(new IPEndPoint(IPAddress.Loopback, 0));
        private readonly IPEndPoint _gateway;
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentDictionary<(ulong SpiI, uint MessageId), TaskCompletionSource<byte[]>> _pending = new();
        private readonly ConcurrentDictionary<ulong, DialupClient> _clients = new();
        private int _retransmits;
        private int _dpdAnswered;

        public UdpDialer(IPEndPoint gateway)
        {
            _gateway = gateway;
            _udp.Client.ReceiveBufferSize = 4 << 20;
            _ = Loop();
        }

        public int Retransmits => _retransmits;
        public int DpdAnswered => _dpdAnswered;

        private static TimeSpan PerAttempt => TimeSpan.FromSeconds(2);

        public async Task<string> Dial(ClusterActors.Protocol.Ike.Exchanges.IkeInitiatorSettings settings, IPAddress localGateway, CancellationToken ct)
        {
            var client = new DialupClient(settings, localGateway);
            var est = await client.DialAsync(request => Exchange(request, ct), ct);
            _clients[est.Sa.SpiI] = client;
            return TunnelRecord.KeyOf(Phase1, est.Sa.SpiI, est.Sa.SpiR);
        }

        private async Task<IReadOnlyList<byte[]>> Exchange(byte[] request, CancellationToken ct)
        {
            var id = (BinaryPrimitives.ReadUInt64BigEndian(request), BinaryPrimitives.ReadUInt32BigEndian(request.AsSpan(20)));
            var answer = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
            _pending[id] = answer;
            try
            {
                // UDP loses datagrams: retransmit as RFC 7296 §2.1 wants, a few times, before giving up.
                for (var attempt = 0; attempt < 4; attempt++)
                {
                    if (attempt > 0) Interlocked.Increment(ref _retransmits);
                    await _udp.SendAsync(request, _gateway, ct);
                    try
                    {
                        return [await answer.Task.WaitAsync(PerAttempt, ct)];
                    }
                    catch (TimeoutException) { }
                }
                return [];
            }
            finally
            {
                _pending.TryRemove(id, out _);
            }
        }

        private async Task Loop()
        {
            while (!_stop.IsCancellationRequested)
            {
                UdpReceiveResult r;
                try
                {
                    r = await _udp.ReceiveAsync(_stop.Token);
                }
                catch (OperationCanceledException) { return; }
                catch (ObjectDisposedException) { return; }
                catch (SocketException) { continue; }
                var d = r.Buffer;
                if (d.Length < 28) continue;
                var spiI = BinaryPrimitives.ReadUInt64BigEndian(d);
                if ((d[19] & 0x20) != 0)
                {
                    if (_pending.TryRemove((spiI, BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(20))), out var waiting)) waiting.TrySetResult(d);
                }
                else if (_clients.TryGetValue(spiI, out var client))
                {
                    ClusterActors.Protocol.Ike.Exchanges.IkeOutput output;
                    lock (client) output = client.Initiator!.Handle(d);
                    foreach (var reply in output.Replies)
                    {
                        try { _udp.Send(reply, reply.Length, _gateway); } catch (SocketException) { }
                    }
                    Interlocked.Increment(ref _dpdAnswered);
                }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _udp.Dispose();
        }
    }
}
