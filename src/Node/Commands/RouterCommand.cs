using System.Globalization;
using System.Net;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Router;

namespace ClusterActors.Node.Commands;

/// <summary>
/// `clusteractors router`: the DC router of the container lab (dc_router). Places each client flow towards the
/// clusters' port2 addresses by the embedded DC router's rule, one policy route per flow rewritten from ICMP probes
/// (<see cref="KernelPlacementRouter"/>) until SIGTERM, logging each change; writes
/// <see cref="KernelPlacementRouter.Describe"/> to a status file every second for `router show`.
/// </summary>
public static class RouterCommand
{
    public const string DefaultStatus = "/run/clusteractors-router.status";

    public sealed record Request(string Route, IReadOnlyList<string> Via, string? ProbeInterval, int? ProbeMisses, string? Status,
        IReadOnlyList<string>? Clients = null, ulong? HashSeed = null);

    /// <summary>The route and its probing from the command's words; a usage error says what is wrong.</summary>
    public static PlacementRoute Parse(Request r)
    {
        if (string.IsNullOrWhiteSpace(r.Route) || !TryPrefix(r.Route))
            throw new UsageException($"--route is a prefix like 192.168.202.35/32, not '{r.Route}'");
        if (r.Via.Count == 0) throw new UsageException("give at least one --via ADDRESS (the next hops of the ECMP route)");
        var hops = new List<IPAddress>();
        foreach (var v in r.Via)
        {
            if (!IPAddress.TryParse(v, out var a) || a.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                throw new UsageException($"--via is an IPv4 address, not '{v}'");
            if (hops.Contains(a)) throw new UsageException($"--via {v} is given twice");
            hops.Add(a);
        }
        var interval = r.ProbeInterval is null ? TimeSpan.FromMilliseconds(100) : ParseDuration(r.ProbeInterval, "--probe-interval");
        if (interval < TimeSpan.FromMilliseconds(10) || interval > TimeSpan.FromSeconds(60))
            throw new UsageException("--probe-interval is from 10ms to 60s");
        var misses = r.ProbeMisses ?? 3;
        if (misses is < 1 or > 1000) throw new UsageException("--probe-misses is from 1 to 1000");
        var clients = r.Clients ?? [];
        if (clients.Count == 0) throw new UsageException("give at least one --clients PREFIX (the client-side subnet whose flows are placed, e.g. 192.168.7.0/24)");
        foreach (var c in clients)
            if (!TryPrefix(c)) throw new UsageException($"--clients is a prefix like 192.168.7.0/24, not '{c}'");
        var route = new PlacementRoute(r.Route, hops, new ProbeOptions(interval, misses), clients, r.HashSeed ?? PlacementRoute.DefaultHashSeed);
        try { _ = FlowPlacement.Flows(route); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        return route;
    }

    /// <summary>"100ms", "1s", "1.5s" or a bare number of milliseconds.</summary>
    public static TimeSpan ParseDuration(string text, string option)
    {
        var t = text.Trim();
        double factor = 1;
        if (t.EndsWith("ms", StringComparison.Ordinal)) t = t[..^2];
        else if (t.EndsWith('s')) { t = t[..^1]; factor = 1000; }
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || v < 0)
            throw new UsageException($"{option} is a duration like 100ms or 1s, not '{text}'");
        return TimeSpan.FromMilliseconds(v * factor);
    }

    private static bool TryPrefix(string text)
    {
        var parts = text.Split('/');
        return parts.Length == 2 && IPAddress.TryParse(parts[0], out _) && int.TryParse(parts[1], out var len) && len is >= 0 and <= 32;
    }

    public static async Task<int> RunAsync(Request r, TextWriter output, CancellationToken cancel)
    {
        var route = Parse(r);
        var status = r.Status ?? DefaultStatus;
        KernelPlacementRouter? current = null;
        void Log(string line)
        {
            lock (output)
            {
                output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} router: {line}");
                output.Flush();
            }
            // A next hop that dies or comes back is in the status file at once, not at the next second: the docker
            // drills time the router's detection from it.
            if (current is not null) WriteStatus(status, current.Describe());
        }
        using var router = current = new KernelPlacementRouter(route, Log);
        await router.StartAsync();
        Log($"{route.Prefix} via {string.Join(", ", route.NextHops)}, each flow from {string.Join(", ", route.Clients)} placed by rendezvous (seed {route.HashSeed}); probes every {route.Probe.Interval.TotalMilliseconds:0} ms, dead after {route.Probe.MissedProbes} misses; status in {status}");
        var stopped = new TaskCompletionSource();
        using var reg = cancel.Register(() => stopped.TrySetResult());
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            stopped.TrySetResult();
        });
        while (!stopped.Task.IsCompleted)
        {
            WriteStatus(status, router.Describe());
            await Task.WhenAny(stopped.Task, Task.Delay(TimeSpan.FromSeconds(1)));
        }
        Log("stopping (the route stays as it is)");
        return 0;
    }

    private static readonly object StatusGate = new();

    private static void WriteStatus(string path, string text)
    {
        lock (StatusGate)
        try
        {
            var tmp = path + ".tmp";
            File.WriteAllText(tmp, $"{DateTime.UtcNow:yyyy-MM-dd HH:mm:ss.fff} UTC\n{text}");
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* show says the file is missing or old */ }
    }

    public static int Show(string? status, TextWriter output, TextWriter error)
    {
        var path = status ?? DefaultStatus;
        if (!File.Exists(path))
        {
            error.WriteLine($"clusteractors router show: no status at {path}: is `clusteractors router` running here?");
            return 3;
        }
        output.Write(File.ReadAllText(path));
        return 0;
    }
}
