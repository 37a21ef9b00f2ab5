using System.Collections.Concurrent;
using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Config;

namespace ClusterActors.Node.Tests;

/// <summary>
/// The units' Akka scheduler (<see cref="TimerQueueScheduler"/>, selected in hocon/cluster.conf): one .NET timer per
/// scheduled item instead of Akka's wheel that wakes every 10 ms. These specs hold it to the wheel's contract as actors
/// use it (ITimerScheduler single and periodic timers, cancellation, Ask timeouts, shutdown) and to what it is for:
/// nothing left armed once timers are cancelled, so an idle unit has nothing to wake for.
/// </summary>
public sealed class TimerQueueSchedulerSpec() : TestKit(ConfigurationFactory.ParseString("""
    akka.scheduler.implementation = "ClusterActors.Node.Hosting.TimerQueueScheduler, clusteractors"
    akka.loglevel = WARNING
    """))
{
    private TimerQueueScheduler Scheduler => (TimerQueueScheduler)Sys.Scheduler;

    [Fact]
    public void The_akka_scheduler_implementation_key_selects_it()
    {
        // The key's value as hocon/cluster.conf writes it (The_shipped_cluster_conf_selects_it) makes an ActorSystem run on it.
        const string implementation = "ClusterActors.Node.Hosting.TimerQueueScheduler, clusteractors";
        var system = ActorSystem.Create("shipped", ConfigurationFactory.ParseString($"akka.scheduler.implementation = \"{implementation}\""));
        try
        {
            Assert.IsType<TimerQueueScheduler>(system.Scheduler);
        }
        finally
        {
            system.Terminate().Wait(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public void The_shipped_cluster_conf_selects_it()
    {
        // The HOCON a unit is started with (UnitHost.BuildAkkaConfig: hocon/cluster.conf as copied next to the
        // executable, then the unit's endpoints) names this scheduler: the idle footprint's largest single saving
        // (src/Node/README.md, "Idle footprint") is not lost by a config edit that goes back to Akka's wheel.
        var config = FortiConfig.Parse("#serialno=FGVM02TM00000001\nconfig system global\n    set hostname \"SCHED\"\nend\n").Value!;
        var options = new UnitOptions("SCHED", config, "FGVM02TM00000001", Path.GetTempPath(), new IPEndPoint(IPAddress.Loopback, 0),
            new IPEndPoint(IPAddress.Loopback, 0), [], [], []) { InsecureAkka = true };
        var implementation = UnitHost.BuildAkkaConfig(options, "").GetString("akka.scheduler.implementation");
        Assert.Equal(typeof(TimerQueueScheduler), Type.GetType(implementation, throwOnError: false));
    }

    [Fact]
    public void Items_due_at_different_times_arrive_in_due_order_whatever_order_they_were_scheduled_in()
    {
        // Akka's wheel delivers by due tick; one .NET timer per item must too (FGCP's heartbeat and loss check are two
        // timers of one actor). 100 ms apart: far above the OS timer's resolution, so only a wrong order fails this.
        foreach (var due in new[] { 500, 100, 400, 200, 300 })
            Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(due), TestActor, due, ActorRefs.NoSender);
        foreach (var due in new[] { 100, 200, 300, 400, 500 })
            ExpectMsg(due, TimeSpan.FromSeconds(3));
        AwaitCondition(() => Scheduler.Pending == 0, TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void Many_items_due_close_together_run_one_after_another_in_due_order()
    {
        // The same rule where it broke: with one .NET timer per item, the timer queue handed every item due in one of
        // its scans to the thread pool at once, and a busy pool ran them in any order (CI saw 200 ms arrive before
        // 100 ms). 1,000 items at 40 deadlines 5 ms apart, scheduled shuffled: each is recorded with the deadline the
        // scheduler gave it (Environment.TickCount64 + delay, read before and after the call; the few that straddle a
        // clock step are left out of the check), and the runs must come in deadline order, never two at once.
        var random = new Random(7);
        var delays = Enumerable.Range(0, 1000).Select(i => 100 + 5 * (i % 40)).OrderBy(_ => random.Next()).ToArray();
        var deadlines = new long?[delays.Length];
        var ran = new ConcurrentQueue<int>();
        var running = 0;
        var overlapped = 0;
        for (var i = 0; i < delays.Length; i++)
        {
            var n = i;
            var before = Environment.TickCount64;
            Sys.Scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(delays[i]), () =>
            {
                if (Interlocked.Increment(ref running) > 1) Interlocked.Increment(ref overlapped);
                ran.Enqueue(n);
                Thread.SpinWait(200);
                Interlocked.Decrement(ref running);
            });
            if (Environment.TickCount64 == before) deadlines[i] = before + delays[i];
        }
        AwaitCondition(() => ran.Count == delays.Length, TimeSpan.FromSeconds(10));
        var order = ran.Where(n => deadlines[n] is not null).Select(n => deadlines[n]!.Value).ToList();
        Assert.True(order.Count > 500, $"only {order.Count} items had a known deadline");
        var inversions = order.Zip(order.Skip(1)).Count(p => p.Item2 < p.Item1);
        Assert.Equal(0, inversions);
        Assert.Equal(0, Volatile.Read(ref overlapped));
        AwaitCondition(() => Scheduler.Pending == 0, TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void A_periodic_item_cancelled_from_its_own_run_does_not_run_again()
    {
        var runs = 0;
        var cancelable = new Cancelable(Sys.Scheduler);
        Sys.Scheduler.Advanced.ScheduleRepeatedly(TimeSpan.Zero, TimeSpan.FromMilliseconds(20), () =>
        {
            if (Interlocked.Increment(ref runs) == 3) cancelable.Cancel();
        }, cancelable);
        AwaitCondition(() => Volatile.Read(ref runs) >= 3, TimeSpan.FromSeconds(3));
        Thread.Sleep(200);
        Assert.Equal(3, Volatile.Read(ref runs));
        Assert.Equal(0, Scheduler.Pending);
    }

    private sealed class Timed : ReceiveActor, IWithTimers
    {
        public ITimerScheduler Timers { get; set; } = null!;

        public Timed(IActorRef probe)
        {
            Receive<string>(s => s.StartsWith("once ", StringComparison.Ordinal), s => Timers.StartSingleTimer("once", "fired once", TimeSpan.FromMilliseconds(int.Parse(s[5..]))));
            Receive<string>(s => s == "periodic", _ => Timers.StartPeriodicTimer("tick", "tick", TimeSpan.FromMilliseconds(50)));
            Receive<string>(s => s == "cancel", _ =>
            {
                Timers.CancelAll();
                Sender.Tell("cancelled");
            });
            ReceiveAny(m => probe.Tell(m));
        }
    }

    [Fact]
    public void A_single_timer_fires_once_at_its_due_time_and_leaves_nothing_armed()
    {
        var actor = Sys.ActorOf(Props.Create(() => new Timed(TestActor)));
        var sent = DateTime.UtcNow;
        actor.Tell("once 300");
        ExpectMsg("fired once", TimeSpan.FromSeconds(3));
        var after = DateTime.UtcNow - sent;
        Assert.True(after >= TimeSpan.FromMilliseconds(290), $"fired after {after.TotalMilliseconds:0} ms, due at 300 ms");
        ExpectNoMsg(TimeSpan.FromMilliseconds(400));
        AwaitCondition(() => Scheduler.Pending == 0, TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void A_periodic_timer_repeats_until_cancelled_and_then_nothing_is_armed()
    {
        var actor = Sys.ActorOf(Props.Create(() => new Timed(TestActor)));
        actor.Tell("periodic");
        for (var i = 0; i < 4; i++) ExpectMsg("tick", TimeSpan.FromSeconds(3));
        actor.Tell("cancel");
        FishForMessage(m => m is "cancelled", TimeSpan.FromSeconds(3));
        ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // a tick already in the mailbox is dropped by the TimerScheduler
        AwaitCondition(() => Scheduler.Pending == 0, TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void A_cancelled_item_never_runs()
    {
        var ran = 0;
        var cancelable = new Cancelable(Sys.Scheduler);
        Sys.Scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(200), () => Interlocked.Increment(ref ran), cancelable);
        cancelable.Cancel();
        Thread.Sleep(500);
        Assert.Equal(0, Volatile.Read(ref ran));
        Assert.Equal(0, Scheduler.Pending);
    }

    [Fact]
    public void An_item_that_throws_is_not_run_again_and_the_scheduler_goes_on()
    {
        var runs = 0;
        Sys.Scheduler.Advanced.ScheduleRepeatedly(TimeSpan.Zero, TimeSpan.FromMilliseconds(20), () =>
        {
            Interlocked.Increment(ref runs);
            throw new InvalidOperationException("scheduled work failed");
        });
        Thread.Sleep(300);
        Assert.Equal(1, Volatile.Read(ref runs));
        Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(10), TestActor, "still scheduling", ActorRefs.NoSender);
        ExpectMsg("still scheduling", TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task An_ask_times_out_on_it()
    {
        var silent = Sys.ActorOf(Props.Create(() => new Timed(ActorRefs.Nobody)));
        await Assert.ThrowsAsync<AskTimeoutException>(() => silent.Ask<string>(42, TimeSpan.FromMilliseconds(200)));
    }

    [Fact]
    public void Many_items_due_together_all_run()
    {
        var ran = new ConcurrentBag<int>();
        for (var i = 0; i < 1000; i++)
        {
            var n = i;
            Sys.Scheduler.Advanced.ScheduleOnce(TimeSpan.FromMilliseconds(50 + i % 50), () => ran.Add(n));
        }
        AwaitCondition(() => ran.Count == 1000, TimeSpan.FromSeconds(5));
        Assert.Equal(1000, ran.Distinct().Count());
    }

    [Fact]
    public void At_shutdown_pending_items_run_once_and_nothing_new_is_accepted()
    {
        var system = ActorSystem.Create("shutdown", ConfigurationFactory.ParseString(
            "akka.scheduler.implementation = \"ClusterActors.Node.Hosting.TimerQueueScheduler, clusteractors\""));
        var scheduler = (TimerQueueScheduler)system.Scheduler;
        var ran = 0;
        ((IScheduler)scheduler).Advanced.ScheduleOnce(TimeSpan.FromHours(1), () => Interlocked.Increment(ref ran));
        system.Terminate().Wait(TimeSpan.FromSeconds(10));
        // As Akka's wheel: what was pending at shutdown runs then (an Ask's timeout completes its task), once.
        AwaitCondition(() => Volatile.Read(ref ran) == 1, TimeSpan.FromSeconds(5));
        Assert.Throws<SchedulerException>(() => ((IScheduler)scheduler).Advanced.ScheduleOnce(TimeSpan.FromSeconds(1), () => { }));
        Assert.Equal(0, scheduler.Pending);
    }
}
