using Akka.Actor;
using Akka.Event;

namespace ClusterActors.Actors.Fgcp;

/// <summary>
/// Keeps FGCP running: when the FGCP actor fails it is stopped and started again after a backoff (doubling from
/// <c>minBackoff</c> to <c>maxBackoff</c>, back to the minimum once it has run for <see cref="StableAfter"/>), so a
/// fault that repeats cannot spin. Everything sent here is forwarded to the current FGCP actor; while it is down,
/// messages go to dead letters (askers time out, as when a unit is busy). The hbdev sockets are the host's, so each
/// new FGCP actor beats on the same ones.
/// (Akka's BackoffSupervisor is not used: with OnFailure it gave up after the first failure in our tests.)
/// </summary>
public sealed class FgcpSupervisor : ReceiveActor, IWithTimers
{
    /// <summary>A run this long without failure resets the backoff to its minimum.</summary>
    public static readonly TimeSpan StableAfter = TimeSpan.FromSeconds(30);

    private sealed record StartChild
    {
        public static readonly StartChild Instance = new();
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Props _child;
    private readonly string _childName;
    private readonly TimeSpan _minBackoff;
    private readonly TimeSpan _maxBackoff;
    private IActorRef? _current;
    private DateTime _startedAt;
    private TimeSpan _nextBackoff;
    private int _restarts;

    public ITimerScheduler Timers { get; set; } = null!;

    public FgcpSupervisor(Props child, string childName, TimeSpan minBackoff, TimeSpan maxBackoff)
    {
        _child = child;
        _childName = childName;
        _minBackoff = _nextBackoff = minBackoff;
        _maxBackoff = maxBackoff;

        Receive<StartChild>(_ => Start());
        Receive<Terminated>(t => t.ActorRef.Equals(_current), t =>
        {
            _current = null;
            if (DateTime.UtcNow - _startedAt >= StableAfter) _nextBackoff = _minBackoff;
            _restarts++;
            _log.Warning("FGCP stopped after a failure; starting it again in {0} ms (restart {1})", (int)_nextBackoff.TotalMilliseconds, _restarts);
            Timers.StartSingleTimer("start", StartChild.Instance, _nextBackoff);
            _nextBackoff = TimeSpan.FromTicks(Math.Min(_nextBackoff.Ticks * 2, _maxBackoff.Ticks));
        });
        ReceiveAny(m =>
        {
            if (_current is not null) _current.Forward(m);
            else Context.System.DeadLetters.Forward(m);
        });
    }

    // A failed FGCP actor is stopped, not restarted in place: the new one comes after the backoff.
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    protected override void PreStart() => Start();

    private void Start()
    {
        // A child with the same name may still be stopping: a fresh name avoids the clash, the path is internal.
        var name = _restarts == 0 ? _childName : $"{_childName}-{_restarts}";
        _current = Context.Watch(Context.ActorOf(_child, name));
        _startedAt = DateTime.UtcNow;
    }
}
