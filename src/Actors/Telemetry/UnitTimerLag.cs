using System.Diagnostics;
using Akka.Actor;

namespace ClusterActors.Actors.Telemetry;

/// <summary>
/// How late a unit's ActorSystem runs its timers, summed while watched: a periodic timer on the unit's own scheduler to
/// an actor on its own default dispatcher (the path a phase1's DPD check or an FGCP heartbeat takes), each tick's gap
/// beyond the period counted as late. On a loaded machine (CI's two cores, the test assembly's other collections
/// beside a drill) the thread pool is not run on time and every timer of the unit waits as long: stop 20's CI saw a DPD
/// flush 6,085 ms after the loss against a 5,200 ms bound, where the same drill alone flushes in 4.3–4.8 s. A drill adds
/// what accrued between the fault and the observation to the rule's bound, and prints it, as it does for the lab
/// router's probe rounds (`LabRouter.ProbeRoundsLate` in src/Node); the rule under
/// test is unchanged. A harness instrument: nothing of the unit reads it (here, beside the unit's telemetry, so that the
/// actor specs can use it as the drills do).
/// </summary>
public sealed class UnitTimerLag : IDisposable
{
    /// <summary>Short against a DPD check (250 ms) so a stall shows in the sum whenever it falls, long enough to cost nothing.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromMilliseconds(50);

    private readonly ActorSystem _system;
    private readonly IActorRef _meter;
    private long _lateTicks;

    private UnitTimerLag(ActorSystem system)
    {
        _system = system;
        _meter = system.ActorOf(Props.Create(() => new Meter(this)), "drill-timer-lag-" + Guid.NewGuid().ToString("N")[..8]);
    }

    /// <summary>Starts watching <paramref name="system"/>'s timers from now.</summary>
    public static UnitTimerLag Watch(ActorSystem system) => new(system ?? throw new ArgumentNullException(nameof(system)));

    /// <summary>The summed lateness of the timer's ticks since <see cref="Watch"/>.</summary>
    public TimeSpan Late => TimeSpan.FromSeconds((double)Interlocked.Read(ref _lateTicks) / Stopwatch.Frequency);

    /// <summary>Akka's scheduler fires on its own ticks (akka.scheduler.tick-duration, 10 ms): a tick that late is the
    /// scheduler's grain, not a stall, and summed over seconds it would add tens of ms that delayed nothing.</summary>
    public static readonly TimeSpan SchedulerGrain = TimeSpan.FromMilliseconds(10);

    /// <summary>One tick's share: how far its gap from the previous one went beyond <paramref name="period"/> and the
    /// scheduler's grain; a tick that comes early (a burst after a stall) adds nothing, so one stall is counted once.</summary>
    public static long LateBy(long gapTicks, TimeSpan period) =>
        Math.Max(0, gapTicks - (long)((period + SchedulerGrain).TotalSeconds * Stopwatch.Frequency));

    public void Dispose()
    {
        if (!_system.WhenTerminated.IsCompleted) _system.Stop(_meter);
    }

    private sealed class Meter : ReceiveActor, IWithTimers
    {
        private sealed class Tick
        {
            public static readonly Tick Instance = new();
        }

        private long _last = Stopwatch.GetTimestamp();

        public ITimerScheduler Timers { get; set; } = null!;

        public Meter(UnitTimerLag owner)
        {
            Receive<Tick>(_ =>
            {
                var now = Stopwatch.GetTimestamp();
                Interlocked.Add(ref owner._lateTicks, LateBy(now - _last, Period));
                _last = now;
            });
        }

        protected override void PreStart() => Timers.StartPeriodicTimer("tick", Tick.Instance, Period);
    }
}
