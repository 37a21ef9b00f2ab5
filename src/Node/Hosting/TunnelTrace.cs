using System.Globalization;
using Akka.Actor;
using Akka.Cluster;
using ClusterActors.Actors.Ipsec;

namespace ClusterActors.Node.Hosting;

/// <summary>
/// Opt-in trace for the SA-sync benchmark across OS processes (tests/ClusterActors.Benchmarks, `sa-sync --processes`).
/// With <c>clusteractors.unit.trace-tunnels = "/path/file"</c> in one of the unit's --hocon files, the unit appends
/// to that file one line per tunnel record that becomes present on it (<see cref="TunnelPresent"/>):
/// <code>SERIAL KEY OWNED TIMESTAMP</code>
/// OWNED is true on the unit where IKE_AUTH completed, false for a synced copy; TIMESTAMP is
/// <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> at that moment, which on Linux is CLOCK_MONOTONIC and so
/// comparable between processes on one machine. It also writes <c># member-up AKKA-ADDRESS</c> for every Akka member
/// this unit sees Up (itself included), so the benchmark knows when all units are in one cluster, and about once a
/// second <c># gc-heap BYTES GEN2-COUNT</c>: the managed heap size as of the unit's last GC and how many full GCs ran.
/// Buffered; flushed every 200 ms and when the ActorSystem stops. Absent or empty key: nothing is started.
/// </summary>
public static class TunnelTrace
{
    public const string ConfigKey = "clusteractors.unit.trace-tunnels";

    /// <summary>Starts the trace when <see cref="ConfigKey"/> names a file; call right after the ActorSystem is created.</summary>
    public static void StartIfConfigured(ActorSystem system)
    {
        var path = system.Settings.Config.GetString(ConfigKey, null);
        if (string.IsNullOrWhiteSpace(path)) return;
        system.ActorOf(Props.Create(() => new TraceWriter(path)), "tunnel-trace");
    }
}

internal sealed class TraceWriter : ReceiveActor, IWithTimers
{
    private readonly string _path;
    private StreamWriter? _writer;
    private long _flushes;

    public ITimerScheduler Timers { get; set; } = null!;

    public TraceWriter(string path)
    {
        _path = path;
        Receive<TunnelPresent>(p => _writer!.Write(string.Create(CultureInfo.InvariantCulture,
            $"{p.Serial} {p.Key} {(p.Owned ? "true" : "false")} {p.Timestamp}\n")));
        Receive<ClusterEvent.MemberUp>(e => _writer!.Write($"# member-up {e.Member.Address}\n"));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<Flush>(_ =>
        {
            if (++_flushes % 5 == 0) // about once a second: the managed heap as of the last GC, and how many full GCs ran
                _writer!.Write(string.Create(CultureInfo.InvariantCulture, $"# gc-heap {GC.GetGCMemoryInfo().HeapSizeBytes} {GC.CollectionCount(2)}\n"));
            _writer!.Flush();
        });
    }

    protected override void PreStart()
    {
        _writer = new StreamWriter(new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 1 << 16)) { AutoFlush = false };
        Context.System.EventStream.Subscribe(Self, typeof(TunnelPresent));
        Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberUp));
        Timers.StartPeriodicTimer("flush", Flush.Instance, TimeSpan.FromMilliseconds(200));
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        Cluster.Get(Context.System).Unsubscribe(Self);
        _writer?.Dispose(); // flushes what is buffered
    }

    private sealed class Flush
    {
        public static readonly Flush Instance = new();
    }
}
