using System.Diagnostics;

namespace ClusterActors.Node.Drills;

/// <summary>
/// How long this machine stood still, as one sleeping thread of the drill's own process sees it: the thread sleeps
/// <see cref="Period"/> in a loop and every wake-up later than the period and a 10 ms grain adds its excess to
/// <see cref="Late"/>, counted as its twin <see cref="ClusterActors.Actors.Telemetry.UnitTimerLag.LateBy"/> counts a
/// unit's timer ticks (a Linux sleep ends up to ~1 ms late when all is well). The container lab cannot reach into a unit's ActorSystem to measure its timers
/// (<see cref="ClusterActors.Actors.Telemetry.UnitTimerLag"/>, the embedded lab's), but its units are processes on the
/// same two cores: when the machine stands still (CI's trials logged gaps of 0.3–1.4 s at 40–70 % idle CPU, a sleeping
/// probe seeing them as every process does), every unit's timers wait as long. Stop 22's CI run saw DC2_VM2 report
/// itself primary 4,346 ms after DC2_VM1's kill against a 4,300 ms bound (3.9–4.0 s in every earlier run); the drill adds
/// what this meter accrued from the fault to the detection to the bound and says so, as for the embedded lab's timers.
/// A harness instrument in the drill's process; nothing of a unit reads it.
/// </summary>
public sealed class MachineStalls : IDisposable
{
    public static readonly TimeSpan Period = TimeSpan.FromMilliseconds(20);

    private volatile bool _stop;
    private long _lateTicks;

    private MachineStalls()
    {
        new Thread(Loop) { IsBackground = true, Name = "drill-machine-stalls" }.Start();
    }

    /// <summary>Starts measuring from now.</summary>
    public static MachineStalls Watch() => new();

    /// <summary>The summed stalls since <see cref="Watch"/>.</summary>
    public TimeSpan Late => TimeSpan.FromSeconds((double)Interlocked.Read(ref _lateTicks) / Stopwatch.Frequency);

    /// <summary>One wake-up's share: how far its gap went beyond the period and the grain.</summary>
    public static long LateBy(long gapTicks) => ClusterActors.Actors.Telemetry.UnitTimerLag.LateBy(gapTicks, Period);

    private void Loop()
    {
        var last = Stopwatch.GetTimestamp();
        while (!_stop)
        {
            Thread.Sleep(Period);
            var now = Stopwatch.GetTimestamp();
            Interlocked.Add(ref _lateTicks, LateBy(now - last));
            last = now;
        }
    }

    public void Dispose() => _stop = true;
}
