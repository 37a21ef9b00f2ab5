using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using ClusterActors.Actors.Persistence;
using ClusterActors.Protocol.History;
using Xunit;
using Xunit.Abstractions;

namespace ClusterActors.Actors.Tests.Persistence;

/// <summary>
/// What must outlive a unit restart, run against each database. Every "incarnation" is a fresh ActorSystem
/// on the same storage, as a restarted clusteractors process would be. Serials are unique per test so reruns
/// against a long-lived PostgreSQL never see each other's rows.
/// </summary>
public abstract class PersistenceSurvivalSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly Config _config;
    private readonly List<ActorSystem> _incarnations = new();
    private int _incarnation;

    protected PersistenceSurvivalSpecs(Config config, ITestOutputHelper output) : base(config, "persist-specs", output)
    {
        _config = config;
    }

    protected static string NewSerial() => $"FGT60F-{Guid.NewGuid():N}";

    /// <summary>Rows currently stored for a persistence id in the plugin's default-mapping table ("journal" or "snapshot").</summary>
    protected abstract long CountRows(string table, string persistenceId);

    private ActorSystem StartIncarnation()
    {
        var system = ActorSystem.Create($"unit-{++_incarnation}", _config);
        _incarnations.Add(system);
        return system;
    }

    private async Task StopIncarnation(ActorSystem system)
    {
        await system.Terminate().WaitAsync(Patience);
        _incarnations.Remove(system);
    }

    private T Ask<T>(ActorSystem system, IActorRef actor, object message)
    {
        var probe = CreateTestProbe(system);
        probe.Send(actor, message);
        return probe.ExpectMsg<T>(Patience);
    }

    [Fact]
    public async Task Ha_history_survives_the_actor_system_and_is_read_back_in_order()
    {
        var serial = NewSerial();

        var first = StartIncarnation();
        var journal = first.ActorOf(HaHistoryJournal.Props(serial));
        journal.Tell(new RecordHaEvent("member FGT-B joined"));
        journal.Tell(new RecordHaEvent("FGT-A is selected as the primary"));
        journal.Tell(new RecordHaEvent("override enabled, FGT-A became primary"));
        var before = Ask<HaHistory>(first, journal, ReadHaHistory.Instance).Entries;
        Assert.Equal(["member FGT-B joined", "FGT-A is selected as the primary", "override enabled, FGT-A became primary"],
            before.Select(e => e.Text));
        await StopIncarnation(first);

        var second = StartIncarnation();
        var after = Ask<HaHistory>(second, second.ActorOf(HaHistoryJournal.Props(serial)), ReadHaHistory.Instance).Entries;
        Assert.Equal(before, after); // same texts and the same timestamps, byte for byte
    }

    [Fact]
    public void An_event_acknowledged_by_a_read_survives_a_process_that_never_shut_down()
    {
        // kill -9 stand-in: the first incarnation is abandoned without Terminate, so nothing is flushed on the way out.
        var serial = NewSerial();
        var crashed = StartIncarnation();
        var journal = crashed.ActorOf(HaHistoryJournal.Props(serial));
        journal.Tell(new RecordHaEvent("heartbeat lost on port4"));
        Assert.Single(Ask<HaHistory>(crashed, journal, ReadHaHistory.Instance).Entries);
        crashed.Stop(journal); // make sure the abandoned writer cannot write again; the journal row is already committed

        var next = StartIncarnation();
        var entries = Ask<HaHistory>(next, next.ActorOf(HaHistoryJournal.Props(serial)), ReadHaHistory.Instance).Entries;
        Assert.Equal("heartbeat lost on port4", Assert.Single(entries).Text);
    }

    [Fact]
    public async Task Only_the_last_512_of_600_events_remain_in_order_and_the_database_stays_bounded()
    {
        var serial = NewSerial();
        var pid = HaHistoryJournal.PersistenceIdFor(serial);
        var expected = Enumerable.Range(600 - HaHistoryJournal.MaxEntries + 1, HaHistoryJournal.MaxEntries)
            .Select(i => $"event {i:D4}").ToArray();

        var first = StartIncarnation();
        var journal = first.ActorOf(HaHistoryJournal.Props(serial));
        for (var i = 1; i <= 600; i++) journal.Tell(new RecordHaEvent($"event {i:D4}"));
        var live = Ask<HaHistory>(first, journal, ReadHaHistory.Instance).Entries;
        Assert.Equal(expected, live.Select(e => e.Text));

        // Snapshot at 576 covers everything before it: at most the 24 newer events (+ the plugin's
        // sequence-number marker row) and a single snapshot stay in the database.
        await AwaitAssertAsync(() =>
        {
            Assert.InRange(CountRows("journal", pid), 1, HaHistoryJournal.SnapshotEvery + 1);
            Assert.Equal(1, CountRows("snapshot", pid));
        }, Patience, TimeSpan.FromMilliseconds(200));
        await StopIncarnation(first);

        var second = StartIncarnation();
        var journal2 = second.ActorOf(HaHistoryJournal.Props(serial));
        var recovered = Ask<HaHistory>(second, journal2, ReadHaHistory.Instance).Entries;
        Assert.Equal(live, recovered);

        // The window keeps sliding after recovery from the snapshot.
        journal2.Tell(new RecordHaEvent("event 0601"));
        var slid = Ask<HaHistory>(second, journal2, ReadHaHistory.Instance).Entries;
        Assert.Equal(HaHistoryJournal.MaxEntries, slid.Count);
        Assert.Equal("event 0090", slid[0].Text);
        Assert.Equal("event 0601", slid[^1].Text);
    }

    [Fact]
    public async Task Config_changes_replay_in_order_after_restart_and_sequences_continue()
    {
        var serial = NewSerial();

        var first = StartIncarnation();
        var journal = first.ActorOf(ConfigJournal.Props(serial));
        for (var i = 1; i <= 5; i++)
        {
            var accepted = Ask<ConfigChangeAccepted>(first, journal, new JournalConfigChange("cli", $"config system global\nset hostname unit-{i}\nend"));
            Assert.Equal(i, accepted.Sequence);
        }
        await StopIncarnation(first);

        var second = StartIncarnation();
        var journal2 = second.ActorOf(ConfigJournal.Props(serial));
        var replay = Ask<JournaledConfig>(second, journal2, ReadJournaledConfig.Instance).Changes;
        Assert.Equal([1L, 2, 3, 4, 5], replay.Select(c => c.Sequence));
        Assert.Equal(Enumerable.Range(1, 5).Select(i => $"config system global\nset hostname unit-{i}\nend"), replay.Select(c => c.Script));
        Assert.All(replay, c => Assert.Equal("cli", c.Source));
        Assert.Equal(6, Ask<ConfigChangeAccepted>(second, journal2, new JournalConfigChange("sync", "set x")).Sequence);
    }

    [Fact]
    public async Task More_than_100_config_changes_are_snapshotted_without_losing_any_or_their_order()
    {
        var serial = NewSerial();
        var pid = ConfigJournal.PersistenceIdFor(serial);

        var first = StartIncarnation();
        var journal = first.ActorOf(ConfigJournal.Props(serial));
        for (var i = 1; i <= 130; i++)
            Assert.Equal(i, Ask<ConfigChangeAccepted>(first, journal, new JournalConfigChange("cli", $"script {i}")).Sequence);
        await AwaitAssertAsync(() => Assert.Equal(1, CountRows("snapshot", pid)), Patience, TimeSpan.FromMilliseconds(200));
        await StopIncarnation(first);

        var second = StartIncarnation();
        var journal2 = second.ActorOf(ConfigJournal.Props(serial));
        var replay = Ask<JournaledConfig>(second, journal2, ReadJournaledConfig.Instance).Changes;
        Assert.Equal(Enumerable.Range(1, 130).Select(i => (long)i), replay.Select(c => c.Sequence));
        Assert.Equal(Enumerable.Range(1, 130).Select(i => $"script {i}"), replay.Select(c => c.Script));
        Assert.Equal(131, Ask<ConfigChangeAccepted>(second, journal2, new JournalConfigChange("cli", "script 131")).Sequence);
    }

    protected override void AfterAll()
    {
        foreach (var system in _incarnations.ToArray())
            system.Terminate().Wait(Patience);
        _incarnations.Clear();
        base.AfterAll();
    }
}
