using Akka.Actor;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Persistence;
using ClusterActors.Protocol.History;
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
                if (!db.Up) Fail(new TimeoutException("database down"));
                else written.Tell(e);
            });
            Receive<JournalConfigChange>(c =>
            {
                if (!db.Up)
                {
                    Sender.Tell(new Status.Failure(new JournalUnavailableException("config journal could not write")));
                    Fail(new TimeoutException("database down"));
                }
                else Sender.Tell(new ConfigChangeAccepted(1));
            });
        }

        private void Fail(Exception cause)
        {
            Context.Parent.Tell(new JournalFailed(cause, "write"));
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
