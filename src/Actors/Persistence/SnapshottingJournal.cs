using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using ClusterActors.Protocol.History;

namespace ClusterActors.Actors.Persistence;

/// <summary>
/// Housekeeping shared by the unit's journals: after a snapshot, the events and snapshots it covers are deleted so
/// the database stays bounded. Deletes run one at a time: with the plugin's parallel writers, two overlapping deletes
/// of one persistence id deadlock in PostgreSQL (seen under load) and the loser's rows would stay. A request that
/// arrives while a delete runs waits, then covers everything the earlier one did.
/// </summary>
public abstract class SnapshottingJournal : ReceivePersistentActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private long _deleteWanted;
    private long _deleteIssued;
    private bool _deleting;

    protected abstract string What { get; }

    /// <summary>Who waits for the event being persisted (a config change's CLI): told when it cannot be written.</summary>
    protected IActorRef? AwaitingWrite { get; set; }

    /// <summary>
    /// Replay succeeded: the supervisor (<see cref="JournalSupervisor"/>) may forward commands again.
    /// </summary>
    protected override void OnReplaySuccess()
    {
        base.OnReplaySuccess();
        Context.Parent.Tell(JournalRecovered.Instance);
    }

    /// <summary>
    /// Akka.Persistence stops this actor after this returns. Instead of the default error with a stack trace on every
    /// attempt, the supervisor logs it rate-limited and starts a new incarnation with backoff.
    /// </summary>
    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _log.Debug("{0} replay failed for {1}: {2}", What, PersistenceId, reason.Message);
        Context.Parent.Tell(new JournalFailed(reason, "replay"));
    }

    /// <summary>The write failed (database gone, disk full): the waiting caller is refused now; Akka.Persistence then stops this actor.</summary>
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _log.Debug("{0} write #{1} failed for {2}: {3}", What, sequenceNr, PersistenceId, cause.Message);
        // The supervisor first, then the caller: once the caller hears of the failure, the supervisor already
        // forwards nothing more to this stopping journal.
        Context.Parent.Tell(new JournalFailed(cause, "write")
        {
            Unwritten = @event is HaEventRecorded lost ? RecordHaEvent.Unwritten(lost.Entry) : null,
        });
        RefuseAwaitingWrite(cause);
    }

    /// <summary>The journal refused this one event (it stays up): the waiting caller is refused.</summary>
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _log.Warning("{0} write #{1} rejected for {2}: {3}", What, sequenceNr, PersistenceId, cause.Message);
        RefuseAwaitingWrite(cause);
    }

    private void RefuseAwaitingWrite(Exception cause)
    {
        var fault = StorageFault.Classify(cause);
        AwaitingWrite?.Tell(new Status.Failure(new JournalUnavailableException($"{What} could not write ({fault.Kind}: {fault.Why})", cause)));
        AwaitingWrite = null;
    }

    /// <summary>Call last in the subclass constructor: it registers the snapshot and delete replies.</summary>
    protected void HandleSnapshotHousekeeping()
    {
        Command<SaveSnapshotSuccess>(ok =>
        {
            DeleteUpTo(ok.Metadata.SequenceNr);
            DeleteSnapshots(new SnapshotSelectionCriteria(ok.Metadata.SequenceNr - 1));
        });
        Command<SaveSnapshotFailure>(f =>
            _log.Warning(f.Cause, "{0} snapshot at {1} failed for {2}; events kept", What, f.Metadata.SequenceNr, PersistenceId));
        Command<DeleteMessagesSuccess>(_ => DeleteFinished());
        Command<DeleteMessagesFailure>(f =>
        {
            _log.Warning(f.Cause, "deleting {0} events up to {1} failed for {2}; the next snapshot retries", What, f.ToSequenceNr, PersistenceId);
            DeleteFinished();
        });
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning(f.Cause, "deleting old {0} snapshots failed for {1}", What, PersistenceId));
    }

    private void DeleteUpTo(long sequenceNr)
    {
        _deleteWanted = Math.Max(_deleteWanted, sequenceNr);
        if (_deleting) return;
        _deleting = true;
        _deleteIssued = _deleteWanted;
        DeleteMessages(_deleteWanted);
    }

    private void DeleteFinished()
    {
        _deleting = false;
        if (_deleteWanted > _deleteIssued) DeleteUpTo(_deleteWanted);
    }
}
