using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using ClusterActors.Actors.Telemetry;

namespace ClusterActors.Actors.Tests.Telemetry;

/// <summary>
/// The drills' measure of how late a unit's timers ran (<see cref="UnitTimerLag"/>): a stall of the unit's dispatcher is
/// counted once, by its length; ticks on time count nothing.
/// </summary>
public sealed class UnitTimerLagSpec
{
    private static long Ms(double ms) => (long)(ms / 1000 * Stopwatch.Frequency);

    [Fact]
    public void A_tick_counts_only_its_gap_beyond_the_period_and_an_early_tick_counts_nothing()
    {
        var period = TimeSpan.FromMilliseconds(50);
        Assert.Equal(0, UnitTimerLag.LateBy(Ms(50), period));
        Assert.Equal(0, UnitTimerLag.LateBy(Ms(59), period)); // within the scheduler's 10 ms grain
        Assert.Equal(0, UnitTimerLag.LateBy(Ms(3), period)); // a burst after a stall
        Assert.Equal(Ms(390), UnitTimerLag.LateBy(Ms(450), period), Ms(1));
    }

    [Fact]
    public async Task A_stalled_dispatcher_shows_as_late_by_about_the_stall()
    {
        // One dispatcher thread: an actor that blocks it stalls every timer of the system, as a starved thread pool does.
        var config = ConfigurationFactory.ParseString("""
            akka.actor.default-dispatcher {
              type = ForkJoinDispatcher
              throughput = 100
              dedicated-thread-pool { thread-count = 1 }
            }
            """);
        using var system = ActorSystem.Create("timer-lag-" + Guid.NewGuid().ToString("N")[..6], config);
        try
        {
            var sinceWatch = Stopwatch.StartNew();
            using var lag = UnitTimerLag.Watch(system);
            await Task.Delay(400);
            var calm = lag.Late;
            var blocker = system.ActorOf(Props.Create(() => new Blocker()));
            blocker.Tell(600);
            await Task.Delay(1_000);
            var late = lag.Late - calm;
            // At least the stall (less a period and the scheduler's tick); at most the time that passed since the watch
            // began, whatever else the machine stalled meanwhile. Not since `calm` was read: a tick counts its whole gap
            // when it arrives, so a starved thread pool that delayed the tick due before `calm` adds that earlier time
            // after it (CI stop 22: 1.54 s late in the 1 s after `calm`, its tick late since before it).
            Assert.InRange(late.TotalMilliseconds, 450, sinceWatch.Elapsed.TotalMilliseconds);
        }
        finally
        {
            await system.Terminate();
        }
    }

    private sealed class Blocker : ReceiveActor
    {
        public Blocker() => Receive<int>(ms => Thread.Sleep(ms));
    }
}
