using System.Diagnostics;

namespace ClusterActors.Node.Drills;

/// <summary>
/// What stood the drill's own process still between two moments: the garbage collector's pauses, a sleeping probe
/// thread's lateness (<see cref="MachineStalls"/>: the machine, or anything that stops every thread), and the thread
/// pool's growth (the runtime adds workers, about one or two a second, only when queued work waits: starvation). The
/// embedded lab runs every unit, the router and PC1 in this process, so when its timers ran late (CI: 0.7–0.9 s, every
/// unit at once) these say which of the three it was. A harness instrument; nothing of a unit reads it.
/// </summary>
public sealed class ProcessPauses : IDisposable
{
    private readonly MachineStalls _probe = MachineStalls.Watch();
    private readonly Snapshot _start = Snapshot.Take();

    public readonly record struct Snapshot(TimeSpan GcPaused, int Gen0, int Gen1, int Gen2, int PoolThreads, TimeSpan Cpu)
    {
        public static Snapshot Take()
        {
            using var self = Process.GetCurrentProcess();
            return new(GC.GetTotalPauseDuration(), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
                ThreadPool.ThreadCount, self.TotalProcessorTime);
        }
    }

    public static ProcessPauses Watch() => new();

    /// <summary>Since <see cref="Watch"/>, in one line: "GC paused it N ms (gen0/1/2 collections a/b/c), a sleeping
    /// probe woke M ms late in all, thread pool X → Y threads (Q queued now), CPU C ms in W ms".</summary>
    public string Describe(TimeSpan wall)
    {
        var now = Snapshot.Take();
        return $"GC paused it {(now.GcPaused - _start.GcPaused).TotalMilliseconds:0} ms ({now.Gen0 - _start.Gen0}/{now.Gen1 - _start.Gen1}/{now.Gen2 - _start.Gen2} " +
               $"gen0/1/2 collections), a sleeping probe thread woke {_probe.Late.TotalMilliseconds:0} ms late in all, thread pool " +
               $"{_start.PoolThreads} → {now.PoolThreads} threads ({ThreadPool.PendingWorkItemCount} items queued now), " +
               $"CPU {(now.Cpu - _start.Cpu).TotalMilliseconds:0} ms in {wall.TotalMilliseconds:0} ms";
    }

    public void Dispose() => _probe.Dispose();
}
