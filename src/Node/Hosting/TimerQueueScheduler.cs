using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;

namespace ClusterActors.Node.Hosting;

/// <summary>
/// Akka's scheduler (`akka.scheduler.implementation`, hocon/cluster.conf) on one thread of its own that sleeps until the
/// earliest deadline, instead of Akka's <see cref="HashedWheelTimerScheduler"/>. The wheel wakes every `tick-duration`
/// (10 ms) whether anything is due or not: 100 wake-ups a second per unit, measured at about 15 ms CPU per second per
/// idle unit (src/Node/README.md, "Idle footprint"). Here an idle unit wakes only when something is due, and the
/// resolution is the OS's timed wait (~1 ms on Linux) instead of the wheel's 10 ms ticks.
/// Items wait in one queue ordered by (deadline, order scheduled). Each wake-up takes every item due and runs them in
/// that order, one after the other, as the wheel runs a tick's bucket: two timers of one actor (FGCP's heartbeat and
/// its loss check) arrive in due order. The thread is the scheduler's own, as the wheel's is, so a starved thread pool
/// delays the actors that receive the ticks but not the ticks. (The first version armed one .NET timer per item, whose
/// callbacks run on the pool: a late pool ran them out of order, and a spec caught 200 ms delivered before 100 ms.)
/// Inserting and cancelling are O(log n), so a hub's thousands of timers cost no scan.
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
    private readonly ConcurrentDictionary<Item, byte> _pending = new();
    private readonly object _gate = new();
    private readonly SortedSet<Item> _queue = new(DueOrder.Instance); // under _gate
    private readonly Thread _thread;
    private long _nextSeq; // under _gate
    private volatile bool _stopped;

    public TimerQueueScheduler(Config scheduler, ILoggingAdapter log) : base(scheduler, log)
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = "clusteractors-scheduler" };
        _thread.Start();
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
        var item = new Item(this, work, cancelable, (long)Math.Ceiling(interval.TotalMilliseconds));
        _pending.TryAdd(item, 0);
        var dueMs = delay < TimeSpan.Zero ? 0 : (long)Math.Ceiling(delay.TotalMilliseconds);
        Enqueue(item, Environment.TickCount64 + dueMs);
        item.WatchCancellation();
    }

    /// <summary>Queues the item for its deadline; the thread is woken when this is now the first one due.</summary>
    private void Enqueue(Item item, long deadline)
    {
        lock (_gate)
        {
            if (item.IsDone) return;
            item.Deadline = deadline;
            item.Seq = _nextSeq++;
            _queue.Add(item);
            if (ReferenceEquals(_queue.Min, item)) Monitor.Pulse(_gate);
        }
    }

    /// <summary>Takes a cancelled item out of the queue (the thread, if it waited for it, finds nothing due and waits on).</summary>
    private void Dequeue(Item item)
    {
        lock (_gate) _queue.Remove(item);
    }

    /// <summary>
    /// The scheduler's thread: sleeps until the first deadline (or an earlier item's arrival), takes every item due in
    /// due order and runs them one after the other outside the lock; periodic items queue themselves again for their
    /// next deadline as they run.
    /// </summary>
    private void Loop()
    {
        var due = new List<Item>();
        while (true)
        {
            lock (_gate)
            {
                while (true)
                {
                    if (_stopped) return;
                    var now = Environment.TickCount64;
                    if (_queue.Count > 0 && _queue.Min!.Deadline <= now) break;
                    var wait = _queue.Count == 0 ? Timeout.Infinite : (int)Math.Min(_queue.Min!.Deadline - now, int.MaxValue);
                    Monitor.Wait(_gate, wait);
                }
                var until = Environment.TickCount64;
                while (_queue.Count > 0 && _queue.Min!.Deadline <= until)
                {
                    var first = _queue.Min;
                    _queue.Remove(first);
                    due.Add(first);
                }
            }
            foreach (var item in due) item.Run();
            due.Clear();
        }
    }

    /// <summary>Stops the thread; what was still pending runs once (as Akka's wheel does on shutdown).</summary>
    public void Dispose()
    {
        if (_stopped) return;
        lock (_gate)
        {
            _stopped = true;
            Monitor.Pulse(_gate);
        }
        // The ActorSystem may be terminated from a scheduled action, on this very thread: it ends after that action.
        if (Thread.CurrentThread != _thread) _thread.Join(TimeSpan.FromSeconds(5));
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

    /// <summary>Due order: deadline, then the order items were queued in (the wheel's order within one tick).</summary>
    private sealed class DueOrder : IComparer<Item>
    {
        public static readonly DueOrder Instance = new();

        public int Compare(Item? x, Item? y)
        {
            if (ReferenceEquals(x, y)) return 0;
            var byDeadline = x!.Deadline.CompareTo(y!.Deadline);
            return byDeadline != 0 ? byDeadline : x.Seq.CompareTo(y.Seq);
        }
    }

    private sealed class Item(TimerQueueScheduler owner, IRunnable work, ICancelable? cancelable, long intervalMs)
    {
        private const int Armed = 0, Running = 1, Done = 2;

        private CancellationTokenRegistration _registration;
        private int _state;

        public IRunnable Work { get; } = work;

        /// <summary>Environment.TickCount64 ms, the clock the timer queue itself counts in; set under the owner's gate
        /// while the item is out of the queue.</summary>
        public long Deadline { get; set; }

        public long Seq { get; set; }

        public bool IsDone => Volatile.Read(ref _state) == Done;

        public void WatchCancellation()
        {
            if (cancelable is not null)
                _registration = cancelable.Token.Register(static s => ((Item)s!).Stop(), this);
        }

        /// <summary>Runs the work once (on the owner's wake-up) and queues a periodic item for its next deadline.</summary>
        public void Run()
        {
            if (Interlocked.CompareExchange(ref _state, Running, Armed) != Armed) return;
            if (cancelable is { IsCancellationRequested: true } || owner._stopped)
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
                owner.Log.Error(e, "Error while executing scheduled task {0}", Work);
                Stop();
                return;
            }
            if (intervalMs > 0 && Interlocked.CompareExchange(ref _state, Armed, Running) == Running)
            {
                // Fixed rate: the next deadline follows this one, not the moment this run ended; past already (a pause
                // longer than the interval), the next run is now and the rate goes on from there.
                var now = Environment.TickCount64;
                var next = Deadline + intervalMs;
                owner.Enqueue(this, next > now ? next : now);
                return;
            }
            Stop();
        }

        /// <summary>Never to run again; true when this call stopped it before it was done.</summary>
        public bool Stop()
        {
            var before = Interlocked.Exchange(ref _state, Done);
            if (before == Done) return false;
            owner.Dequeue(this);
            _registration.Dispose();
            owner._pending.TryRemove(this, out _);
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
