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
/// <c># gc-heap BYTES GEN2-COUNT GEN0-COUNT GEN1-COUNT</c> after GCs: the managed heap size as of the unit's last GC and
/// how many GCs of each generation ran, and <c># owner SERIAL KEY OWNER GENERATION TIMESTAMP</c> when a tunnel it holds
/// changes owner on it (<see cref="TunnelOwnerChanged"/>: a failover's claims). Buffered; flushed 200 ms after the first line written since the last flush, and
/// when the ActorSystem stops: nothing runs while nothing happens (a trace on a periodic timer would itself be the idle
/// cost the footprint benchmark measures). Absent or empty key: nothing is started.
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
    private static readonly TimeSpan FlushDelay = TimeSpan.FromMilliseconds(200);

    private readonly string _path;
    private readonly GcWatch.Switch _gcWatch = new();
    private StreamWriter? _writer;

    public ITimerScheduler Timers { get; set; } = null!;

    public TraceWriter(string path)
    {
        _path = path;
        Receive<TunnelPresent>(p => Write(string.Create(CultureInfo.InvariantCulture,
            $"{p.Serial} {p.Key} {(p.Owned ? "true" : "false")} {p.Timestamp}\n")));
        Receive<TunnelOwnerChanged>(o => Write(string.Create(CultureInfo.InvariantCulture,
            $"# owner {o.Serial} {o.Key} {o.Owner} {o.Generation} {o.Timestamp}\n")));
        Receive<ClusterEvent.MemberUp>(e => Write($"# member-up {e.Member.Address}\n"));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<GcHappened>(_ => Write(HeapLine()));
        Receive<Flush>(_ => _writer!.Flush());
    }

    /// <summary>The managed heap as of the last GC, and how many GCs of each generation ran.</summary>
    private static string HeapLine() => string.Create(CultureInfo.InvariantCulture,
        $"# gc-heap {GC.GetGCMemoryInfo().HeapSizeBytes} {GC.CollectionCount(2)} {GC.CollectionCount(0)} {GC.CollectionCount(1)}\n");

    private void Write(string line)
    {
        _writer!.Write(line);
        if (!Timers.IsTimerActive("flush")) Timers.StartSingleTimer("flush", Flush.Instance, FlushDelay);
    }

    protected override void PreStart()
    {
        _writer = new StreamWriter(new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 1 << 16)) { AutoFlush = false };
        Context.System.EventStream.Subscribe(Self, typeof(TunnelPresent));
        Context.System.EventStream.Subscribe(Self, typeof(TunnelOwnerChanged));
        Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberUp));
        Write(HeapLine());
        GcWatch.Start(Self, _gcWatch);
    }

    protected override void PostStop()
    {
        _gcWatch.Off = true;
        Context.System.EventStream.Unsubscribe(Self);
        Cluster.Get(Context.System).Unsubscribe(Self);
        _writer?.Dispose(); // flushes what is buffered
    }

    private sealed class Flush
    {
        public static readonly Flush Instance = new();
    }

    internal sealed class GcHappened
    {
        public static readonly GcHappened Instance = new();
    }

    /// <summary>
    /// An unreferenced object whose finalizer runs after the GC that found it, tells the writer and leaves a new one for
    /// the next GC: a heap line after every GC, with no timer.
    /// </summary>
    private sealed class GcWatch
    {
        public sealed class Switch
        {
            public volatile bool Off;
        }

        private readonly IActorRef _writer;
        private readonly Switch _switch;

        private GcWatch(IActorRef writer, Switch @switch) => (_writer, _switch) = (writer, @switch);

        public static void Start(IActorRef writer, Switch @switch) => _ = new GcWatch(writer, @switch);

        ~GcWatch()
        {
            if (_switch.Off || Environment.HasShutdownStarted) return;
            _writer.Tell(GcHappened.Instance);
            Start(_writer, _switch);
        }
    }
}
