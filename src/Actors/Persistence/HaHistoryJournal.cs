using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using ClusterActors.Protocol.History;

namespace ClusterActors.Actors.Persistence;

/// <summary>
/// The unit's `diagnose sys ha history read`: the last <see cref="MaxEntries"/> FGCP history lines, surviving restarts.
/// Every line is persisted with <c>Persist</c> (not PersistAsync), so a later <see cref="ReadHaHistory"/> is stashed
/// until the write is durable. Every <see cref="SnapshotEvery"/> events the window is snapshotted and the older
/// events and snapshots are deleted, so the database stays bounded however long the lab runs.
/// </summary>
public sealed class HaHistoryJournal : ReceivePersistentActor
{
    /// <summary>FortiOS keeps 512 HA history entries; older ones drop off.</summary>
    public const int MaxEntries = 512;

    public const int SnapshotEvery = 64;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Queue<HaHistoryEntry> _entries = new();
    private readonly TimeProvider _clock;

    public HaHistoryJournal(string serial, TimeProvider? clock = null)
    {
        PersistenceId = PersistenceIdFor(serial);
        _clock = clock ?? TimeProvider.System;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is not HaHistorySnapshot snapshot)
            {
                _log.Warning("ignoring unknown snapshot {0} for {1}", offer.Snapshot?.GetType().Name ?? "null", PersistenceId);
                return;
            }
            _entries.Clear();
            foreach (var entry in snapshot.Entries) Append(entry);
        });
        Recover<HaEventRecorded>(e => Append(e.Entry));

        Command<RecordHaEvent>(cmd =>
        {
            var evt = new HaEventRecorded(new HaHistoryEntry(_clock.GetUtcNow(), cmd.Text));
            Persist(evt, e =>
            {
                Append(e.Entry);
                if (LastSequenceNr % SnapshotEvery == 0)
                    SaveSnapshot(new HaHistorySnapshot(_entries.ToArray()));
            });
        });
        Command<ReadHaHistory>(_ => Sender.Tell(new HaHistory(_entries.ToArray())));

        Command<SaveSnapshotSuccess>(ok =>
        {
            // Everything up to the snapshot is in it: drop those events and every older snapshot.
            DeleteMessages(ok.Metadata.SequenceNr);
            DeleteSnapshots(new SnapshotSelectionCriteria(ok.Metadata.SequenceNr - 1));
        });
        Command<SaveSnapshotFailure>(f =>
            _log.Warning(f.Cause, "HA history snapshot at {0} failed for {1}; events kept", f.Metadata.SequenceNr, PersistenceId));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f =>
            _log.Warning(f.Cause, "deleting HA history events up to {0} failed for {1}", f.ToSequenceNr, PersistenceId));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f =>
            _log.Warning(f.Cause, "deleting old HA history snapshots failed for {0}", PersistenceId));
    }

    public override string PersistenceId { get; }

    public static string PersistenceIdFor(string serial) => $"ha-history-{serial}";

    public static Props Props(string serial, TimeProvider? clock = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(serial);
        return Akka.Actor.Props.Create(() => new HaHistoryJournal(serial, clock));
    }

    private void Append(HaHistoryEntry entry)
    {
        _entries.Enqueue(entry);
        while (_entries.Count > MaxEntries) _entries.Dequeue();
    }
}
