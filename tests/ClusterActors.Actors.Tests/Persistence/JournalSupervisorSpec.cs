using Akka.Actor;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Persistence;
using ClusterActors.Protocol.History;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace ClusterActors.Actors.Tests.Persistence;

/// <summary>
/// The supervisor's rules (README "Storage faults", mid-run) against a stand-in journal whose database a test switches
/// off and on: it fails and stops as a persistent actor does when its write or replay fails.
/// </summary>
public sealed class JournalSupervisorSpec : TestKit
{
    private sealed class Database
    {
        public volatile bool Up = true;
        public int Starts;

        /// <summary>How long a failing write takes before the journal gives up: requests queue up behind it meanwhile.</summary>
        public TimeSpan FailAfter = TimeSpan.Zero;
    }

    /// <summary>As a persistent actor on that database: replays at start, stops on a failed replay or write.</summary>
    private sealed class StandInJournal : ReceiveActor
    {
        public StandInJournal(Database db, IActorRef written)
        {
            Interlocked.Increment(ref db.Starts);
            if (!db.Up)
            {
                Context.Parent.Tell(new JournalFailed(new TimeoutException("database down"), "replay"));
                Context.Stop(Self);
                return;
            }
            Context.Parent.Tell(JournalRecovered.Instance);
            Receive<RecordHaEvent>(e =>
            {
                if (!db.Up) Fail(new TimeoutException("database down"), e);
                else written.Tell(e);
            });
            Receive<JournalConfigChange>(c =>
            {
                if (!db.Up)
                {
                    // as SnapshottingJournal.OnPersistFailure: the supervisor hears first, then the caller
                    Fail(new TimeoutException("database down"));
                    Sender.Tell(new Status.Failure(new JournalUnavailableException("config journal could not write")));
                }
                else Sender.Tell(new ConfigChangeAccepted(1));
            });
            _db = db;
        }

        private readonly Database _db = null!;

        private void Fail(Exception cause, RecordHaEvent? unwritten = null)
        {
            Thread.Sleep(_db.FailAfter);
            Context.Parent.Tell(new JournalFailed(cause, "write")
            {
                Unwritten = unwritten is null ? null : RecordHaEvent.Unwritten(new HaHistoryEntry(unwritten.At ?? DateTimeOffset.MinValue, unwritten.Text)),
            });
            Context.Stop(Self);
        }
    }

    private static readonly StorageBackoff Fast = new(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(400));

    [Fact]
    public void A_journal_stopped_by_a_failed_write_is_started_again_and_takes_writes_when_the_database_is_back()
    {
        var db = new Database();
        var written = CreateTestProbe();
        var supervisor = Sys.ActorOf(JournalSupervisor.Props(Props.Create(() => new StandInJournal(db, written.Ref)), "config journal", Fast));
        supervisor.Tell(new JournalConfigChange("cli", "x"));
        ExpectMsg<ConfigChangeAccepted>();

        db.Up = false;
        supervisor.Tell(new JournalConfigChange("cli", "lost?"));
        var refused = ExpectMsg<Status.Failure>();
        Assert.IsType<JournalUnavailableException>(refused.Cause);
        // while the journal waits to restart, a request is refused at once, not kept
        supervisor.Tell(new JournalConfigChange("cli", "again"));
        Assert.IsType<JournalUnavailableException>(ExpectMsg<Status.Failure>(TimeSpan.FromSeconds(1)).Cause);

        db.Up = true;
        AwaitAssert(() =>
        {
            supervisor.Tell(new JournalConfigChange("cli", "back"));
            ExpectMsg<ConfigChangeAccepted>(TimeSpan.FromMilliseconds(300));
        }, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(100));
        Assert.True(db.Starts >= 2, "the journal was never started again");
    }

    [Fact]
    public void Requests_queued_behind_a_failing_write_are_refused_not_lost()
    {
        var db = new Database { FailAfter = TimeSpan.FromMilliseconds(300) };
        var written = CreateTestProbe();
        var supervisor = Sys.ActorOf(JournalSupervisor.Props(Props.Create(() => new StandInJournal(db, written.Ref)), "config journal", Fast));
        supervisor.Tell(new JournalConfigChange("cli", "x"));
        ExpectMsg<ConfigChangeAccepted>();

        db.Up = false;
        supervisor.Tell(new JournalConfigChange("cli", "fails"));
        // forwarded while the journal is still up and busy with the failing write: they sit in its mailbox when it stops
        var callers = Enumerable.Range(0, 3).Select(_ => CreateTestProbe()).ToArray();
        foreach (var caller in callers) supervisor.Tell(new JournalConfigChange("cli", "queued"), caller.Ref);

        Assert.IsType<JournalUnavailableException>(ExpectMsg<Status.Failure>(TimeSpan.FromSeconds(3)).Cause);
        foreach (var caller in callers)
            Assert.IsType<JournalUnavailableException>(caller.ExpectMsg<Status.Failure>(TimeSpan.FromSeconds(3)).Cause);
    }

    [Fact]
    public void HA_history_lines_behind_a_failing_write_and_the_failed_line_itself_are_written_later_in_order_with_their_times()
    {
        var db = new Database { FailAfter = TimeSpan.FromMilliseconds(300) };
        var written = CreateTestProbe();
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-06T10:00:00Z"));
        var supervisor = Sys.ActorOf(JournalSupervisor.Props(Props.Create(() => new StandInJournal(db, written.Ref)), "HA history", Fast, clock));
        supervisor.Tell(new RecordHaEvent("line 0"));
        written.ExpectMsg<RecordHaEvent>(e => Assert.Equal("line 0", e.Text));

        db.Up = false;
        // line 1 fails to write; lines 2 and 3 are forwarded behind it, before the supervisor hears of the failure
        supervisor.Tell(new RecordHaEvent("line 1") { At = clock.GetUtcNow() });
        supervisor.Tell(new RecordHaEvent("line 2") { At = clock.GetUtcNow() });
        supervisor.Tell(new RecordHaEvent("line 3") { At = clock.GetUtcNow() });
        Thread.Sleep(TimeSpan.FromMilliseconds(600));
        // recorded during the outage: stamped now, not when the database is back
        clock.Advance(TimeSpan.FromMinutes(1));
        supervisor.Tell(new RecordHaEvent("line 4"));
        var recordedAt = clock.GetUtcNow();
        // a request the supervisor answers after it has taken line 4 (refused: the journal is down)
        supervisor.Tell(ReadHaHistory.Instance);
        ExpectMsg<Status.Failure>(TimeSpan.FromSeconds(3));
        clock.Advance(TimeSpan.FromMinutes(1));

        db.Up = true;
        var rewritten = Enumerable.Range(1, 4).Select(_ => written.ExpectMsg<RecordHaEvent>(TimeSpan.FromSeconds(5))).ToArray();
        Assert.Equal(["line 1", "line 2", "line 3", "line 4"], rewritten.Select(e => e.Text));
        Assert.Equal(recordedAt, rewritten[3].At);
        written.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_line_recorded_during_an_outage_keeps_the_time_it_was_recorded()
    {
        var db = new Database { Up = false };
        var written = CreateTestProbe();
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-06T10:00:00Z"));
        var supervisor = Sys.ActorOf(JournalSupervisor.Props(Props.Create(() => new StandInJournal(db, written.Ref)), "HA history", Fast, clock));
        supervisor.Tell(new RecordHaEvent("during the outage"));
        supervisor.Tell(ReadHaHistory.Instance);
        ExpectMsg<Status.Failure>(TimeSpan.FromSeconds(3));
        var recordedAt = clock.GetUtcNow();
        clock.Advance(TimeSpan.FromMinutes(5));

        db.Up = true;
        Assert.Equal(recordedAt, written.ExpectMsg<RecordHaEvent>(TimeSpan.FromSeconds(5)).At);
    }

    [Fact]
    public void HA_history_lines_recorded_during_an_outage_are_kept_bounded_and_written_when_the_journal_is_back()
    {
        var db = new Database { Up = false };
        var written = CreateTestProbe();
        var supervisor = Sys.ActorOf(JournalSupervisor.Props(Props.Create(() => new StandInJournal(db, written.Ref)), "HA history", Fast));
        for (var i = 0; i < JournalSupervisor.MaxBuffered + 10; i++) supervisor.Tell(new RecordHaEvent($"line {i}"));
        written.ExpectNoMsg(TimeSpan.FromMilliseconds(500));

        db.Up = true;
        // the oldest 10 dropped (bounded), the rest written in order
        var first = written.ExpectMsg<RecordHaEvent>(TimeSpan.FromSeconds(5));
        Assert.Equal("line 10", first.Text);
        for (var i = 11; i < JournalSupervisor.MaxBuffered + 10; i++) Assert.Equal($"line {i}", written.ExpectMsg<RecordHaEvent>().Text);
        written.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void The_restarts_back_off_while_the_database_stays_down()
    {
        var db = new Database { Up = false };
        var written = CreateTestProbe();
        Sys.ActorOf(JournalSupervisor.Props(Props.Create(() => new StandInJournal(db, written.Ref)), "HA history", Fast));
        Thread.Sleep(TimeSpan.FromSeconds(2));
        // 100, 200, 400, 400, 400 ms…: about 6 starts in 2 s, not one per message or per millisecond
        Assert.InRange(db.Starts, 3, 8);
    }
}
