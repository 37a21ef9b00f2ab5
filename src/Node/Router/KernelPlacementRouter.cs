using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Text;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Router;

/// <summary>
/// One route the router role places flows on: <see cref="Prefix"/> over <see cref="NextHops"/>, each probed per
/// <see cref="Probe"/>; every flow from an address of <see cref="Clients"/> to an address of <see cref="Prefix"/> is
/// placed by <see cref="EcmpSelection"/> with <see cref="HashSeed"/> (the embedded DC router's rule and seed).
/// </summary>
public sealed record PlacementRoute(string Prefix, IReadOnlyList<IPAddress> NextHops, ProbeOptions Probe,
    IReadOnlyList<string> Clients, ulong HashSeed)
{
    /// <summary>The embedded scenario's DC router seed (<see cref="ScenarioFabricOptions.EcmpHashSeed"/>): the same rule in both labs.</summary>
    public static ulong DefaultHashSeed { get; } = new ScenarioFabricOptions().EcmpHashSeed;
}

/// <summary>One flow the router places: its source and destination, and the kernel routing table that holds its route.</summary>
public readonly record struct PlacedFlow(uint Source, uint Destination, int Table)
{
    public string From => Ipv4Address.Format(Source);
    public string To => Ipv4Address.Format(Destination);
}

/// <summary>
/// The kernel side of the placement as pure functions: which flows exist, which next hop each takes, and the `ip`
/// batch lines that make the kernel agree. Every flow (one client address, one destination address) has its own policy
/// rule (`from S/32 to D/32 lookup T`, installed once) and its own table T holding one single-next-hop route, so the
/// kernel never hashes (no multipath route anywhere: <c>net.ipv4.fib_multipath_hash_seed</c> plays no part) and moving
/// a flow is one atomic `route replace` in its table. The prefix itself is `unreachable` in the main table: a source
/// outside the client prefixes gets an ICMP error, never a kernel-chosen path.
/// </summary>
public static class FlowPlacement
{
    /// <summary>Tables FirstTable.. hold one flow each (well clear of main 254, local 255, the DC core's 101/102).</summary>
    public const int FirstTable = 10_000;

    /// <summary>Every flow rule has this priority (the selectors are disjoint /32 pairs, so their order does not matter).</summary>
    public const int RulePriority = 900;

    /// <summary>At most this many flows (client addresses × destinations): one rule each, scanned per packet.</summary>
    public const int MaxFlows = 4096;

    /// <summary>The host addresses of a prefix (network and broadcast left out for /30 and shorter).</summary>
    public static IEnumerable<uint> Hosts(Ipv4Prefix prefix)
    {
        ulong size = 1UL << (32 - prefix.Length);
        ulong first = prefix.Network, last = prefix.Network + size - 1;
        if (prefix.Length <= 30) { first++; last--; }
        for (ulong a = first; a <= last; a++) yield return (uint)a;
    }

    /// <summary>Every (client, destination) flow of the route, in a fixed order, each with its table.</summary>
    public static IReadOnlyList<PlacedFlow> Flows(PlacementRoute route)
    {
        var destinations = Ipv4Prefix.Parse(route.Prefix);
        var clients = route.Clients.Select(Ipv4Prefix.Parse).ToList();
        // Bound the size before enumerating (a /8 of clients would be 16 million rules): each prefix alone at most 4 × MaxFlows addresses.
        if (clients.Append(destinations).Any(p => p.Length < 32 - 14))
            throw new ArgumentException($"{string.Join(", ", route.Clients)} to {route.Prefix} is more than {MaxFlows} flows: give narrower client prefixes or a narrower route");
        var flows = new List<PlacedFlow>();
        foreach (var source in clients.SelectMany(Hosts).Distinct())
        foreach (var destination in Hosts(destinations))
        {
            if (flows.Count == MaxFlows)
                throw new ArgumentException($"{string.Join(", ", route.Clients)} to {route.Prefix} is more than {MaxFlows} flows");
            flows.Add(new PlacedFlow(source, destination, FirstTable + flows.Count));
        }
        if (flows.Count == 0) throw new ArgumentException("no client address to place: give at least one client prefix");
        return flows;
    }

    /// <summary>Index of the next hop <paramref name="flow"/> takes with these next hops alive, or -1 (none alive): <see cref="EcmpSelection.Choose(uint, uint, ReadOnlySpan{uint}, uint, ulong)"/>.</summary>
    public static int Choose(PlacedFlow flow, IReadOnlyList<IPAddress> nextHops, uint aliveMask, ulong seed)
    {
        Span<uint> keys = stackalloc uint[nextHops.Count];
        for (int i = 0; i < keys.Length; i++) keys[i] = Ipv4Address.ToUInt32(nextHops[i]);
        return EcmpSelection.Choose(flow.Source, flow.Destination, keys, aliveMask, seed);
    }

    /// <summary>The lines of `ip -force -batch -` that remove the flows' rules a previous run of the router left (each may be missing: errors mean nothing).</summary>
    public static IReadOnlyList<string> Remove(IReadOnlyList<PlacedFlow> flows) =>
        flows.Select(f => $"rule del from {f.From}/32 to {f.To}/32 priority {RulePriority}").ToList();

    /// <summary>The lines of `ip -force -batch -` that install the flows' rules and the main table's catch-all for the prefix.</summary>
    public static IReadOnlyList<string> Install(string prefix, IReadOnlyList<PlacedFlow> flows)
    {
        var lines = new List<string>(flows.Count + 1) { $"route replace unreachable {prefix}" };
        foreach (var f in flows)
            lines.Add($"rule add from {f.From}/32 to {f.To}/32 lookup {f.Table} priority {RulePriority}");
        return lines;
    }

    /// <summary>
    /// The `route replace` lines for the flows whose choice differs from <paramref name="applied"/> (all when it is
    /// null), and the new choices. A next hop removed from the live set moves exactly its own flows: the rendezvous rule.
    /// </summary>
    public static (IReadOnlyList<string> Lines, int[] Choices) Place(IReadOnlyList<PlacedFlow> flows, IReadOnlyList<IPAddress> nextHops,
        uint aliveMask, ulong seed, int[]? applied)
    {
        var choices = new int[flows.Count];
        var lines = new List<string>();
        for (int i = 0; i < flows.Count; i++)
        {
            var f = flows[i];
            choices[i] = Choose(f, nextHops, aliveMask, seed);
            if (applied is not null && applied[i] == choices[i]) continue;
            lines.Add(choices[i] < 0
                ? $"route replace unreachable {f.To}/32 table {f.Table}"
                : $"route replace {f.To}/32 via {nextHops[choices[i]]} table {f.Table}");
        }
        return (lines, choices);
    }
}

/// <summary>
/// The router role of the container lab: places every client flow on one next hop by the embedded DC router's rule
/// (<see cref="EcmpSelection"/>, rendezvous over the live next hops, L3 flow, same seed) through per-flow policy routes
/// (<see cref="FlowPlacement"/>), never through the kernel's multipath hash. Next hops are probed (ICMP echo every
/// interval; dead after the configured misses, back on the first answer) with the in-process router's liveness rules
/// (<see cref="NextHopHealth"/>); when the live set changes, only the flows whose choice changed are rewritten.
/// </summary>
public sealed class KernelPlacementRouter : IDisposable
{
    private sealed class Hop(IPAddress address, int misses)
    {
        public IPAddress Address { get; } = address;
        public NextHopHealth Health { get; } = new(misses);

        /// <summary>When the last probe answer came (router clock), or null before the first.</summary>
        public TimeSpan? LastAnswer { get; set; }
    }

    /// <summary>
    /// A next hop that stays alive but leaves at least this many probes in a row unanswered gets a line when it answers
    /// again: how long it was silent and how much of the dead margin that used. An FGCP failover inside a cluster is
    /// such a silence (the old primary dead, the new one not yet answering for the address); the line is how close
    /// the router came to withdrawing a cluster that was only failing over.
    /// </summary>
    public const int SilenceWorthLogging = 3;

    private readonly PlacementRoute _route;
    private readonly IReadOnlyList<PlacedFlow> _flows;
    private readonly Func<IReadOnlyList<string>, Task<(int Exit, string Error)>> _ip;
    private readonly Func<IPAddress, TimeSpan, Task<bool>> _ping;
    private readonly Action<string> _log;
    private readonly Hop[] _hops;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    /// <summary>One rewrite at a time, in the order the live set changed.</summary>
    private readonly SemaphoreSlim _applying = new(1, 1);
    private Task? _loop;
    private uint _appliedMask = uint.MaxValue;
    private int[]? _applied;
    private long _rewrites;
    private string _lastRewrite = "";

    /// <param name="ip">Runs `ip -force -batch -` with these lines on its input; by default the system's iproute2.</param>
    /// <param name="ping">Sends one echo request and says whether the reply came within the time; by default ICMP.</param>
    public KernelPlacementRouter(PlacementRoute route, Action<string> log,
        Func<IReadOnlyList<string>, Task<(int Exit, string Error)>>? ip = null, Func<IPAddress, TimeSpan, Task<bool>>? ping = null)
    {
        if (!route.Probe.Enabled) throw new ArgumentException("the router role probes its next hops: give an interval and a number of misses");
        if (route.NextHops.Count is 0 or > EcmpSelection.MaxNextHops) throw new ArgumentException($"1..{EcmpSelection.MaxNextHops} next hops");
        _route = route;
        _flows = FlowPlacement.Flows(route);
        _log = log;
        _ip = ip ?? RunIpBatch;
        _ping = ping ?? PingOnce;
        _hops = route.NextHops.Select(h => new Hop(h, route.Probe.MissedProbes)).ToArray();
    }

    public long Rewrites => Interlocked.Read(ref _rewrites);

    public IReadOnlyList<PlacedFlow> Flows => _flows;

    /// <summary>Installs every flow's rule and route (all next hops alive), then probes until disposed.</summary>
    public async Task StartAsync()
    {
        await _ip(FlowPlacement.Remove(_flows)); // a restarted router finds its own rules: errors only say a rule was not there
        var (exit, error) = await _ip(FlowPlacement.Install(_route.Prefix, _flows));
        _log(exit == 0
            ? $"{_flows.Count} flow rules from {string.Join(", ", _route.Clients)} to {_route.Prefix} (tables {FlowPlacement.FirstTable}..{FlowPlacement.FirstTable + _flows.Count - 1}); {_route.Prefix} itself unreachable in main"
            : $"installing the flow rules failed ({exit}): {error.Trim()}");
        await Apply();
        _loop = Task.Run(Loop);
    }

    private async Task Loop()
    {
        var interval = _route.Probe.Interval;
        var next = _clock.Elapsed;
        while (!_stop.IsCancellationRequested)
        {
            var now = _clock.Elapsed;
            var changed = false;
            foreach (var hop in _hops)
            {
                ushort seq;
                lock (_gate)
                {
                    changed |= Log(hop, hop.Health.ProbeDue(now));
                    seq = hop.Health.Sequence;
                }
                _ = Probe(hop, seq, interval);
            }
            if (changed) await Apply();
            next += interval;
            var wait = next - _clock.Elapsed;
            if (wait < TimeSpan.Zero) next = _clock.Elapsed; // fell behind: probe on from now rather than in a burst
            else
            {
                try { await Task.Delay(wait, _stop.Token); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    private async Task Probe(Hop hop, ushort seq, TimeSpan timeout)
    {
        bool answered;
        try { answered = await _ping(hop.Address, timeout); }
        catch (Exception) { answered = false; }
        if (!answered || _stop.IsCancellationRequested) return;
        bool changed;
        lock (_gate)
        {
            var now = _clock.Elapsed;
            var (missed, wasAlive, answeredBefore) = (hop.Health.ConsecutiveMissed, hop.Health.Alive, hop.Health.ProbesAnswered);
            changed = Log(hop, hop.Health.Answered(seq, now));
            if (hop.Health.ProbesAnswered > answeredBefore)
            {
                if (wasAlive && missed >= SilenceWorthLogging && hop.LastAnswer is { } last)
                    _log(string.Create(CultureInfo.InvariantCulture,
                        $"{now.TotalSeconds:0.000} {hop.Address} answers after {(now - last).TotalMilliseconds:0} ms without an answer ({missed} missed probes of the {hop.Health.MissedProbesToDead} that withdraw it)"));
                hop.LastAnswer = now;
            }
        }
        if (changed) await Apply();
    }

    private bool Log(Hop hop, HealthChange change)
    {
        if (change == HealthChange.None) return false;
        var at = _clock.Elapsed.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);
        _log(change == HealthChange.WentDown
            ? $"{at} {hop.Address} dead after {hop.Health.ConsecutiveMissed} missed probes"
            : $"{at} {hop.Address} answers again");
        return true;
    }

    private uint AliveMask()
    {
        uint mask = 0;
        for (int i = 0; i < _hops.Length; i++)
            if (_hops[i].Health.Alive) mask |= 1u << i;
        return mask;
    }

    /// <summary>Rewrites the flows whose next hop changed since the last rewrite (every flow the first time).</summary>
    private async Task Apply()
    {
        await _applying.WaitAsync();
        try
        {
            uint mask;
            lock (_gate) mask = AliveMask();
            if (_applied is not null && mask == _appliedMask) return;
            var (lines, choices) = FlowPlacement.Place(_flows, _route.NextHops, mask, _route.HashSeed, _applied);
            var (exit, error) = lines.Count == 0 ? (0, "") : await _ip(lines);
            var summary = $"{lines.Count} of {_flows.Count} flows rewritten for live next hops {LiveText(mask)}";
            if (exit != 0)
            {
                _log($"{summary} failed ({exit}): {error.Trim()}");
                return; // the next change rewrites from the last state the kernel accepted
            }
            lock (_gate)
            {
                _applied = choices;
                _appliedMask = mask;
                _lastRewrite = summary;
            }
            Interlocked.Increment(ref _rewrites);
            _log(summary);
        }
        finally
        {
            _applying.Release();
        }
    }

    private string LiveText(uint mask)
    {
        var live = _hops.Where((_, i) => (mask & (1u << i)) != 0).Select(h => h.Address.ToString()).ToList();
        return live.Count == 0 ? "(none: every flow unreachable)" : string.Join(", ", live);
    }

    /// <summary>The route, its next hops and how many flows each carries, as plain text, like the in-process router's `Describe`.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        lock (_gate)
        {
            sb.Append(CultureInfo.InvariantCulture,
                $"{_route.Prefix} placed per flow (rendezvous over live next hops, flow = source+destination, seed {_route.HashSeed}, {_route.Probe}; never the kernel's multipath hash)\n");
            foreach (var (h, i) in _hops.Select((h, i) => (h, i)))
            {
                var state = h.Health.Alive ? "alive" : "dead ";
                var carried = _applied?.Count(c => c == i) ?? 0;
                var detail = h.Health.Alive
                    ? $"probes sent {h.Health.ProbesSent}, missed {h.Health.ProbesMissed}"
                    : string.Create(CultureInfo.InvariantCulture, $"{h.Health.ConsecutiveMissed} missed probes, down since {h.Health.DownSince?.TotalSeconds:0.000} s");
                sb.Append(CultureInfo.InvariantCulture, $"    via {h.Address} {state}    {detail}; {carried} flows\n");
            }
            sb.Append(CultureInfo.InvariantCulture, $"flows: {_flows.Count} from {string.Join(", ", _route.Clients)}; last rewrite: {_lastRewrite}\n");
            sb.Append("a flow's next hop: ip route get DESTINATION from SOURCE iif LEG\n");
        }
        return sb.ToString();
    }

    private static async Task<bool> PingOnce(IPAddress address, TimeSpan timeout)
    {
        using var ping = new Ping();
        var reply = await ping.SendPingAsync(address, timeout, new byte[8]);
        return reply.Status == IPStatus.Success;
    }

    /// <summary>`ip [-n NETNS] -force -batch -`: every line is tried; the exit says whether all succeeded, the error text which did not.</summary>
    public static async Task<(int, string)> RunIpBatch(IReadOnlyList<string> lines, string? netns)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
        if (netns is not null) { start.ArgumentList.Add("-n"); start.ArgumentList.Add(netns); }
        foreach (var a in new[] { "-force", "-batch", "-" }) start.ArgumentList.Add(a);
        using var p = Process.Start(start) ?? throw new InvalidOperationException("cannot run ip (iproute2)");
        var error = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        foreach (var line in lines) await p.StandardInput.WriteLineAsync(line);
        p.StandardInput.Close();
        await p.WaitForExitAsync();
        await output;
        return (p.ExitCode, await error);
    }

    private static Task<(int, string)> RunIpBatch(IReadOnlyList<string> lines) => RunIpBatch(lines, null);

    public void Dispose()
    {
        _stop.Cancel();
        try { _loop?.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
    }
}
