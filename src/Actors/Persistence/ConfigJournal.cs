using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using ClusterActors.Protocol.History;

namespace ClusterActors.Actors.Persistence;

/// <summary>
/// Runtime configuration changes of one unit (CLI scripts accepted after start), replayed in order on top of
/// the unit's config file when it starts again. A change is acknowledged only once it is durable.
/// When more than <see cref="SnapshotAfter"/> changes have accumulated since the last snapshot, a snapshot of
/// all changes is taken and the events it covers are deleted; the sequence numbers keep counting.
/// </summary>
public sealed class ConfigJournal : SnapshottingJournal
{
    public const int SnapshotAfter = 100;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<ConfigChangeJournaled> _changes = new();
    private readonly TimeProvider _clock;
    private long _snapshotSeq;

    public ConfigJournal(string serial, TimeProvider? clock = null)
    {
        PersistenceId = PersistenceIdFor(serial);
        _clock = clock ?? TimeProvider.System;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is not JournaledConfigSnapshot snapshot)
            {
                _log.Warning("ignoring unknown snapshot {0} for {1}", offer.Snapshot?.GetType().Name ?? "null", PersistenceId);
                return;
            }
            _changes.Clear();
            _changes.AddRange(snapshot.Changes);
            _snapshotSeq = offer.Metadata.SequenceNr;
        });
        Recover<ConfigChangeJournaled>(c => _changes.Add(c));

        Command<JournalConfigChange>(cmd =>
        {
            var evt = new ConfigChangeJournaled(LastSequenceNr + 1, _clock.GetUtcNow(), cmd.Source, cmd.Script);
            AwaitingWrite = Sender;
            Persist(evt, e =>
            {
                AwaitingWrite = null;
                _changes.Add(e);
                Sender.Tell(new ConfigChangeAccepted(e.Sequence));
                if (LastSequenceNr - _snapshotSeq > SnapshotAfter)
                {
                    _snapshotSeq = LastSequenceNr;
                    SaveSnapshot(new JournaledConfigSnapshot(_changes.ToArray()));
                }
            });
        });
        Command<ReadJournaledConfig>(_ => Sender.Tell(new JournaledConfig(_changes.ToArray())));

        HandleSnapshotHousekeeping();
    }

    public override string PersistenceId { get; }

    protected override string What => "config journal";

    public static string PersistenceIdFor(string serial) => $"config-{serial}";

    public static Props Props(string serial, TimeProvider? clock = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(serial);
        return Akka.Actor.Props.Create(() => new ConfigJournal(serial, clock));
    }

    /// <summary>The journal under a <see cref="JournalSupervisor"/>: what a unit runs, so a database outage never stops it for good.</summary>
    public static Props Supervised(string serial, StorageBackoff? backoff = null) =>
        JournalSupervisor.Props(Props(serial), "config journal", backoff);
}
