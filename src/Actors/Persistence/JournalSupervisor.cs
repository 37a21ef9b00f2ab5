using Akka.Actor;
using Akka.Event;
using ClusterActors.Protocol.History;

namespace ClusterActors.Actors.Persistence;

/// <summary>A journal tells its supervisor that it has replayed its events and takes commands.</summary>
public sealed record JournalRecovered
{
    public static readonly JournalRecovered Instance = new();
}

/// <summary>A journal tells its supervisor why it is about to stop (replay or write failed): the supervisor logs it, rate-limited.</summary>
public sealed record JournalFailed(Exception Cause, string During)
{
    /// <summary>The HA history line whose write failed: the supervisor keeps it and writes it again, first.</summary>
    public RecordHaEvent? Unwritten { get; init; }
}

/// <summary>
/// Keeps one of the unit's journals alive across database outages. Akka.Persistence stops a persistent actor whose
/// replay or write fails; this parent starts it again after <see cref="StorageBackoff"/> (1 s doubling to 10 s, back to 1 s once
/// it has stayed up that long), for as long as the unit runs. The database connections belong to the Akka.Persistence.Sql
/// plugin, not to the restarting journal, so nothing is lost with it.
/// While the journal is not up:
/// <list type="bullet">
/// <item><see cref="RecordHaEvent"/> (fire-and-forget) is kept, at most <see cref="MaxBuffered"/> (the history's own
/// size; the oldest drop off and are counted) and written once the journal is back, so the HA history survives an outage.</item>
/// <item>requests (<see cref="JournalConfigChange"/>, reads) are refused at once with a <see cref="JournalUnavailableException"/>
/// while the journal waits to restart; while it replays they wait, at most <see cref="MaxPending"/> of them.</item>
/// </list>
/// Failures are logged once, then at most once per 30 s with a count, never once per attempt or per write.
/// </summary>
public sealed class JournalSupervisor : ReceiveActor, IWithTimers
{
    public const int MaxBuffered = HaHistoryJournal.MaxEntries;
    public const int MaxPending = 64;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Props _journalProps;
    private readonly string _what;
    private readonly StorageBackoff _backoff;
    private readonly RateLimitedLog _failureLog;
    private readonly TimeProvider _clock;
    private readonly List<(object Message, IActorRef Sender)> _buffered = new();
    private int _rescued;
    private readonly Queue<(object Message, IActorRef Sender)> _pending = new();
    private IActorRef? _journal;
    private int _failures;
    private long _dropped;
    private string _lastFault = "starting";
    private bool _up;

    public ITimerScheduler Timers { get; set; } = null!;

    public JournalSupervisor(Props journalProps, string what, StorageBackoff? backoff = null, TimeProvider? clock = null)
    {
        _journalProps = journalProps;
        _what = what;
        _backoff = backoff ?? StorageBackoff.Default;
        _clock = clock ?? TimeProvider.System;
        _failureLog = new RateLimitedLog(TimeSpan.FromSeconds(30), _clock);

        Receive<JournalRecovered>(_ => Sender.Equals(_journal), _ => OnRecovered());
        Receive<JournalFailed>(f => Sender.Equals(_journal), f =>
        {
            // The journal stops right after telling this: from now on nothing is forwarded to it (a request would
            // reach a stopping actor and be lost); requests wait in _pending and are refused when it has stopped.
            _up = false;
            if (f.Unwritten is { } line) Rescue(line, ActorRefs.NoSender);
            var fault = StorageFault.Classify(f.Cause);
            _lastFault = $"{fault.Kind}: {fault.Why}";
            if (_failureLog.Allow(out var suppressed))
                _log.Error("{0} {1} failed ({2}); it restarts with backoff{3}", _what, f.During, _lastFault,
                    suppressed > 0 ? $" ({suppressed} similar failures not logged)" : "");
        });
        Receive<Terminated>(t => t.ActorRef.Equals(_journal), _ => OnStopped());
        Receive<Restart>(_ => StartJournal());
        Receive<Stable>(_ =>
        {
            if (_failures > 0) _log.Info("{0} is back: up for {1:0} s after {2} failure(s)", _what, _backoff.Max.TotalSeconds, _failures);
            _failures = 0;
            _failureLog.Reset();
        });
        Receive<RecordHaEvent>(e =>
        {
            if (_up) _journal!.Forward(e);
            else Buffer(e);
        });
        Receive<DeadLetter>(d => IsOneOfOurJournals(d.Recipient), OnLostToStoppedJournal);
        ReceiveAny(Request);
    }

    public static Props Props(Props journalProps, string what, StorageBackoff? backoff = null, TimeProvider? clock = null) =>
        Akka.Actor.Props.Create(() => new JournalSupervisor(journalProps, what, backoff, clock));

    private sealed record Restart
    {
        public static readonly Restart Instance = new();
    }

    private sealed record Stable
    {
        public static readonly Stable Instance = new();
    }

    protected override void PreStart()
    {
        // A request forwarded before the journal failed can still sit in its mailbox or in Akka.Persistence's stash
        // while it persists; when it stops, those become dead letters. Watching them is how none is lost silently.
        Context.System.EventStream.Subscribe(Self, typeof(DeadLetter));
        StartJournal();
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self, typeof(DeadLetter));

    /// <summary>
    /// Should this supervisor itself restart (it does not throw by design), its old journal is being stopped with it:
    /// the new journal starts after the backoff's minimum instead of at once, when that name is free again.
    /// </summary>
    protected override void PostRestart(Exception reason) =>
        Timers.StartSingleTimer(Restart.Instance, Restart.Instance, _backoff.Min);

    /// <summary>Journal exceptions in a command handler restart it in place, as Akka's default; a failed replay or write stops it, handled above.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(Decider.From(Directive.Restart));

    /// <summary>
    /// A message that reached one of this supervisor's journals after it had stopped (journals are always named
    /// "journal"; the current one, while up, never has dead letters).
    /// </summary>
    private bool IsOneOfOurJournals(IActorRef recipient) =>
        recipient.Path.Parent.Equals(Self.Path) && recipient.Path.Name == "journal";

    /// <summary>
    /// A request is refused to its caller. An HA history line is kept like one recorded during the outage, ahead of
    /// those: it reached this supervisor before the journal failed, so it is older than any line buffered since.
    /// </summary>
    private void OnLostToStoppedJournal(DeadLetter d)
    {
        switch (d.Message)
        {
            case RecordHaEvent e when _up:
                _journal!.Tell(e, d.Sender);
                break;
            case RecordHaEvent e:
                Rescue(e, d.Sender);
                break;
            case IJournalRequest:
                Refuse(d.Message, d.Sender);
                break;
        }
    }

    /// <summary>A line forwarded before the journal failed: older than every line buffered since, so it goes ahead of them.</summary>
    private void Rescue(RecordHaEvent e, IActorRef sender) => Keep(Math.Min(_rescued++, _buffered.Count), e, sender);

    private void StartJournal()
    {
        _journal = Context.Watch(Context.ActorOf(_journalProps, "journal"));
    }

    private void OnRecovered()
    {
        if (_failures > 0 && (_buffered.Count > 0 || _dropped > 0))
            _log.Info("{0} replayed again after {1} failure(s); writing {2} buffered HA history line(s){3}", _what, _failures,
                _buffered.Count, _dropped > 0 ? $", {_dropped} older line(s) dropped during the outage" : "");
        _up = true;
        _dropped = 0;
        // The backoff starts again from its minimum only once the journal has stayed up: a disk that is still full lets
        // the journal replay, then fails its next write, and that cycle must keep backing off and stay quiet.
        Timers.StartSingleTimer(Stable.Instance, Stable.Instance, _backoff.Max);
        foreach (var b in _buffered) _journal!.Tell(b.Message, b.Sender);
        _buffered.Clear();
        _rescued = 0;
        while (_pending.TryDequeue(out var p)) _journal!.Tell(p.Message, p.Sender);
    }

    private void OnStopped()
    {
        Timers.Cancel(Stable.Instance);
        _up = false;
        _journal = null;
        while (_pending.TryDequeue(out var p)) Refuse(p.Message, p.Sender);
        var delay = _backoff.Delay(_failures);
        _failures++;
        Timers.StartSingleTimer(Restart.Instance, Restart.Instance, delay);
    }

    private void Buffer(RecordHaEvent e) => Keep(_buffered.Count, e, Sender);

    /// <summary>
    /// Keeps a line at <paramref name="index"/> of the buffer, stamped with the time it was kept unless it has one (it is
    /// written later with that time, not the time the database came back); the oldest lines drop off first, counted.
    /// </summary>
    private void Keep(int index, RecordHaEvent e, IActorRef sender)
    {
        _buffered.Insert(index, (e.At is null ? e with { At = _clock.GetUtcNow() } : e, sender));
        var excess = _buffered.Count - MaxBuffered;
        if (excess <= 0) return;
        _buffered.RemoveRange(0, excess);
        _rescued = Math.Max(0, _rescued - excess);
        _dropped += excess;
    }

    private void Request(object message)
    {
        if (_up) _journal!.Forward(message);
        else if (_journal is not null && _pending.Count < MaxPending) _pending.Enqueue((message, Sender));
        else Refuse(message, Sender);
    }

    private void Refuse(object message, IActorRef sender)
    {
        if (sender.IsNobody() || sender.Equals(Context.System.DeadLetters)) return;
        sender.Tell(new Status.Failure(new JournalUnavailableException(
            $"{_what} unavailable ({_lastFault}); retrying with backoff")));
    }
}
