using Akka.Event;
using Akka.Persistence;

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
