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
public sealed class HaHistoryJournal : SnapshottingJournal
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
            var evt = new HaEventRecorded(new HaHistoryEntry(cmd.At ?? _clock.GetUtcNow(), cmd.Text));
            Persist(evt, e =>
            {
                Append(e.Entry);
                if (LastSequenceNr % SnapshotEvery == 0)
                    SaveSnapshot(new HaHistorySnapshot(_entries.ToArray()));
            });
        });
        Command<ReadHaHistory>(_ => Sender.Tell(new HaHistory(_entries.ToArray())));

        HandleSnapshotHousekeeping();
    }

    public override string PersistenceId { get; }

    protected override string What => "HA history";

    public static string PersistenceIdFor(string serial) => $"ha-history-{serial}";

    public static Props Props(string serial, TimeProvider? clock = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(serial);
        return Akka.Actor.Props.Create(() => new HaHistoryJournal(serial, clock));
    }

    /// <summary>The journal under a <see cref="JournalSupervisor"/>: what a unit runs, so a database outage never stops it for good.</summary>
    public static Props Supervised(string serial, StorageBackoff? backoff = null) =>
        JournalSupervisor.Props(Props(serial), "HA history", backoff);

    private void Append(HaHistoryEntry entry)
    {
        _entries.Enqueue(entry);
        while (_entries.Count > MaxEntries) _entries.Dequeue();
    }
}
