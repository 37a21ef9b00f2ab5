using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;

namespace ClusterActors.Node.Hosting;

/// <summary>
/// Akka's scheduler (`akka.scheduler.implementation`, hocon/cluster.conf) on .NET's timer queue instead of Akka's
/// <see cref="HashedWheelTimerScheduler"/>. The wheel wakes every `tick-duration` (10 ms) whether anything is due or not:
/// 100 wake-ups a second per unit, each a timer fire and a thread-pool hand-off, measured at about 15 ms CPU per second
/// per idle unit (src/Node/README.md, "Idle footprint"). Here each scheduled item is one <see cref="Timer"/> armed for its
/// own due time, so an idle unit wakes only when something is due; and the resolution is the OS timer's (~1 ms on
/// Linux) instead of the wheel's 10 ms ticks.
/// Semantics kept from the wheel: a repeated item keeps its rate: its next deadline is the previous deadline +
/// `interval`, so a late run does not push every later one back (after a pause longer than the interval it runs once at
/// once and goes on from there, no burst of catch-up runs). Deadlines are in Environment.TickCount64, the clock .NET's
/// timer queue counts in, which on Linux is the coarse monotonic clock (4 ms steps here): each run may be up to a step
/// late, but the error no longer accumulates. Re-armed for "interval from now", 10 ms FGCP heartbeats came out every
/// ~12 ms (4,950 a minute instead of 6,000, `hb-soak`); deadlines on the high-resolution clock instead made timers fire
/// "early" against it and doubled the timer thread's wake-ups. A cancelled item never runs again; an item that throws
/// is logged and not run again; once disposed (the ActorSystem terminating) nothing new can be scheduled and every
/// item still pending runs once, so an Ask's timeout still completes its task.
/// </summary>
public sealed class TimerQueueScheduler : SchedulerBase, IDateTimeOffsetNowTimeProvider, IDisposable
{
    /// <summary>The longest due time a <see cref="Timer"/> takes; a later deadline is reached in steps.</summary>
    private static readonly TimeSpan MaxTimerDue = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    private readonly ConcurrentDictionary<Item, byte> _pending = new();
    private volatile bool _stopped;

    public TimerQueueScheduler(Config scheduler, ILoggingAdapter log) : base(scheduler, log)
    {
    }

    /// <summary>Items armed and not yet done or cancelled (for specs: a cancelled timer leaves nothing behind).</summary>
    public int Pending => _pending.Count;

    protected override DateTimeOffset TimeNow => DateTimeOffset.Now;

    private static readonly long Started = System.Diagnostics.Stopwatch.GetTimestamp();

    public override TimeSpan MonotonicClock => System.Diagnostics.Stopwatch.GetElapsedTime(Started);

    public override TimeSpan HighResMonotonicClock => System.Diagnostics.Stopwatch.GetElapsedTime(Started);

    protected override void InternalScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        Arm(delay, TimeSpan.Zero, new ScheduledTell(receiver, message, sender), cancelable);

    protected override void InternalScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, ICanTell receiver, object message,
        IActorRef sender, ICancelable cancelable) =>
        Arm(initialDelay, interval, new ScheduledTell(receiver, message, sender), cancelable);

    protected override void InternalScheduleOnce(TimeSpan delay, Action action, ICancelable cancelable) =>
        Arm(delay, TimeSpan.Zero, new ActionRunnable(action), cancelable);

    protected override void InternalScheduleOnce(TimeSpan delay, IRunnable action, ICancelable cancelable) =>
        Arm(delay, TimeSpan.Zero, action, cancelable);

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action, ICancelable cancelable) =>
        Arm(initialDelay, interval, new ActionRunnable(action), cancelable);

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, IRunnable action, ICancelable cancelable) =>
        Arm(initialDelay, interval, action, cancelable);

    private void Arm(TimeSpan delay, TimeSpan interval, IRunnable work, ICancelable? cancelable)
    {
        if (_stopped) throw new SchedulerException("cannot enqueue after timer shutdown");
        if (cancelable is { IsCancellationRequested: true }) return;
        var item = new Item(this, work, cancelable, interval);
        _pending.TryAdd(item, 0);
        item.Start(delay < TimeSpan.Zero ? TimeSpan.Zero : delay);
    }

    /// <summary>Stops every timer; what was still pending runs once (as Akka's wheel does on shutdown).</summary>
    public void Dispose()
    {
        if (_stopped) return;
        _stopped = true;
        foreach (var item in _pending.Keys.ToList())
        {
            if (!item.Stop()) continue;
            try
            {
                item.Work.Run();
            }
            catch (SchedulerException)
            {
                // from actors already terminated
            }
            catch (Exception e)
            {
                Log.Error(e, "Exception while executing timer task at scheduler shutdown.");
            }
        }
    }

    private sealed class Item
    {
        private const int Armed = 0, Running = 1, Done = 2;

        private readonly TimerQueueScheduler _owner;
        private readonly ICancelable? _cancelable;
        private readonly TimeSpan _interval;
        private readonly Timer _timer;
        private CancellationTokenRegistration _registration;
        private long _deadline; // Environment.TickCount64 ms: the clock the timer queue itself counts in
        private int _state;

        public Item(TimerQueueScheduler owner, IRunnable work, ICancelable? cancelable, TimeSpan interval)
        {
            _owner = owner;
            Work = work;
            _cancelable = cancelable;
            _interval = interval;
            _timer = new Timer(static s => ((Item)s!).Fire(), this, Timeout.Infinite, Timeout.Infinite);
        }

        public IRunnable Work { get; }

        public void Start(TimeSpan delay)
        {
            if (_cancelable is not null)
                _registration = _cancelable.Token.Register(static s => ((Item)s!).Stop(), this);
            var now = Environment.TickCount64;
            Volatile.Write(ref _deadline, now + (long)Math.Ceiling(delay.TotalMilliseconds));
            ArmUntilDeadline(now);
        }

        /// <summary>Arms the timer for what is left until the deadline (at once when it has passed).</summary>
        private void ArmUntilDeadline(long now)
        {
            var left = TimeSpan.FromMilliseconds(Math.Max(0, Volatile.Read(ref _deadline) - now));
            try
            {
                _timer.Change(left < MaxTimerDue ? left : MaxTimerDue, Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // stopped meanwhile
            }
        }

        private void Fire()
        {
            var now = Environment.TickCount64;
            // A deadline beyond one Timer's reach: wait for the rest. (On the timer queue's own clock a timer never
            // fires before its due time, so this does not cost a second wake-up per item.)
            if (Volatile.Read(ref _deadline) > now && Volatile.Read(ref _state) == Armed)
            {
                ArmUntilDeadline(now);
                return;
            }
            if (Interlocked.CompareExchange(ref _state, Running, Armed) != Armed) return;
            if (_cancelable is { IsCancellationRequested: true } || _owner._stopped)
            {
                Stop();
                return;
            }
            try
            {
                Work.Run();
            }
            catch (Exception e)
            {
                _owner.Log.Error(e, "Error while executing scheduled task {0}", Work);
                Stop();
                return;
            }
            if (_interval > TimeSpan.Zero && Interlocked.CompareExchange(ref _state, Armed, Running) == Running)
            {
                // Fixed rate: the next deadline follows this one, not the moment this run ended; past already (a pause
                // longer than the interval), the next run is now and the rate goes on from there.
                now = Environment.TickCount64;
                var next = Volatile.Read(ref _deadline) + (long)Math.Ceiling(_interval.TotalMilliseconds);
                Volatile.Write(ref _deadline, next > now ? next : now);
                ArmUntilDeadline(now);
                return;
            }
            Stop();
        }

        /// <summary>Never to run again; true when this call stopped it before it was done.</summary>
        public bool Stop()
        {
            var before = Interlocked.Exchange(ref _state, Done);
            if (before == Done) return false;
            _timer.Dispose();
            _registration.Dispose();
            _owner._pending.TryRemove(this, out _);
            return before == Armed;
        }
    }

    private sealed class ScheduledTell(ICanTell receiver, object message, IActorRef sender) : IRunnable
    {
        public void Run() => receiver.Tell(message, sender);

        public void Execute() => Run();

        public override string ToString() => $"[{receiver}.Tell({message}, {sender})]";
    }
}
