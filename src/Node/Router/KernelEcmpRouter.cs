using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Text;
using ClusterActors.Actors.DataPlane;

namespace ClusterActors.Node.Router;

/// <summary>One ECMP route the router role keeps in the kernel, and how its next hops are probed.</summary>
public sealed record KernelEcmpRoute(string Prefix, IReadOnlyList<IPAddress> NextHops, ProbeOptions Probe);

/// <summary>
/// The `ip` commands that make the kernel's route match the live next hops, as pure functions. The kernel hashes
/// flows over the next hops of one route (with net.ipv4.fib_multipath_hash_policy = 0: source and destination address
/// only, so a client's IKE and ESP take the same path, as the in-process router does). A route with no live next hop
/// becomes `unreachable`, so the router answers the client with an ICMP error instead of a default route.
/// </summary>
public static class IpRoute
{
    public static IReadOnlyList<string> Replace(string prefix, IReadOnlyList<IPAddress> alive)
    {
        if (alive.Count == 0) return ["route", "replace", "unreachable", prefix];
        if (alive.Count == 1) return ["route", "replace", prefix, "via", alive[0].ToString()];
        var args = new List<string> { "route", "replace", prefix };
        foreach (var hop in alive) args.AddRange(["nexthop", "via", hop.ToString(), "weight", "1"]);
        return args;
    }
}

/// <summary>
/// The router role of the container lab: real kernel ECMP routes, rewritten when a next hop stops answering its
/// probes (ICMP echo every interval; dead after the configured misses, back on the first answer), with the same
/// liveness rules as the in-process DC router (<see cref="NextHopHealth"/>). Only the changed route is rewritten,
/// and only when its set of live next hops changes.
/// </summary>
public sealed class KernelEcmpRouter : IDisposable
{
    private sealed class Hop(IPAddress address, int misses)
    {
        public IPAddress Address { get; } = address;
        public NextHopHealth Health { get; } = new(misses);
    }

    private readonly KernelEcmpRoute _route;
    private readonly Func<IReadOnlyList<string>, Task<(int Exit, string Error)>> _ip;
    private readonly Func<IPAddress, TimeSpan, Task<bool>> _ping;
    private readonly Action<string> _log;
    private readonly Hop[] _hops;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private Task? _loop;
    private string _applied = "";
    private long _rewrites;

    /// <param name="ip">Runs `ip` with these arguments; by default the system's iproute2.</param>
    /// <param name="ping">Sends one echo request and says whether the reply came within the time; by default ICMP.</param>
    public KernelEcmpRouter(KernelEcmpRoute route, Action<string> log,
        Func<IReadOnlyList<string>, Task<(int Exit, string Error)>>? ip = null, Func<IPAddress, TimeSpan, Task<bool>>? ping = null)
    {
        if (!route.Probe.Enabled) throw new ArgumentException("the router role probes its next hops: give an interval and a number of misses");
        _route = route;
        _log = log;
        _ip = ip ?? RunIp;
        _ping = ping ?? PingOnce;
        _hops = route.NextHops.Select(h => new Hop(h, route.Probe.MissedProbes)).ToArray();
    }

    public long Rewrites => Interlocked.Read(ref _rewrites);

    /// <summary>Installs the route with every next hop, then probes until disposed.</summary>
    public async Task StartAsync()
    {
        await Apply(force: true);
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
            if (changed) await Apply(force: false);
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
        lock (_gate) changed = Log(hop, hop.Health.Answered(seq, _clock.Elapsed));
        if (changed) await Apply(force: false);
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

    private async Task Apply(bool force)
    {
        IReadOnlyList<string> args;
        lock (_gate)
        {
            args = IpRoute.Replace(_route.Prefix, _hops.Where(h => h.Health.Alive).Select(h => h.Address).ToList());
            var text = string.Join(' ', args);
            if (!force && text == _applied) return;
            _applied = text;
        }
        var (exit, error) = await _ip(args);
        Interlocked.Increment(ref _rewrites);
        _log(exit == 0 ? $"ip {string.Join(' ', args)}" : $"ip {string.Join(' ', args)} failed ({exit}): {error.Trim()}");
    }

    /// <summary>The route and its next hops as plain text, like the in-process router's `Describe`.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        lock (_gate)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{_route.Prefix} ecmp (kernel, flow hash: source+destination, {_route.Probe})\n");
            foreach (var h in _hops)
            {
                var state = h.Health.Alive ? "alive" : "dead ";
                var detail = h.Health.Alive
                    ? $"probes sent {h.Health.ProbesSent}, missed {h.Health.ProbesMissed}"
                    : string.Create(CultureInfo.InvariantCulture, $"{h.Health.ConsecutiveMissed} missed probes, down since {h.Health.DownSince?.TotalSeconds:0.000} s");
                sb.Append(CultureInfo.InvariantCulture, $"    via {h.Address} {state}    {detail}\n");
            }
            sb.Append("installed: ip ").Append(_applied).Append('\n');
        }
        return sb.ToString();
    }

    private static async Task<bool> PingOnce(IPAddress address, TimeSpan timeout)
    {
        using var ping = new Ping();
        var reply = await ping.SendPingAsync(address, timeout, new byte[8]);
        return reply.Status == IPStatus.Success;
    }

    private static async Task<(int, string)> RunIp(IReadOnlyList<string> args)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start) ?? throw new InvalidOperationException("cannot run ip (iproute2)");
        var error = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, error);
    }

    public void Dispose()
    {
        _stop.Cancel();
        try { _loop?.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
    }
}
