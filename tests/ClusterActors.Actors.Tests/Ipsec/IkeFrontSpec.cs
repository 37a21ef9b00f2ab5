using System.Diagnostics;
using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// The phase1's IKE front: IKE_SA_INIT and half-open SAs are answered there, established SAs by the phase1 actor
/// (which runs role changes and SA sync); an IKE_SA_INIT flood never reaches the phase1 actor.
/// </summary>
public sealed class IkeFrontSpec() : TestKit(ConfigurationFactory.ParseString("""
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp.hostname = 127.0.0.1
    akka.remote.dot-netty.tcp.port = 0
    akka.loglevel = WARNING
    """))
{
    private const string Serial = "FGVM02TM22000001";
    private static readonly IPAddress Client = IPAddress.Parse("192.168.7.2");

    private const string Config = Phase1SpecConfig.Dialup;

    private static IkeInitiator NewClient() =>
        new(new IkeInitiatorSettings("scenario-psk", "Nokia_Peer", ["aes128-sha1"], [2], [TrafficSelector.FromCidr("10.10.1.0/24")], [TrafficSelector.Any]),
            IPAddress.Parse("192.168.202.35"));

    private (IActorRef Front, IActorRef Phase1) Start(IkeAdmissionSettings settings, IActorRef? phase1 = null)
    {
        var config = FortiConfig.Parse(Config).Value!;
        var p1 = phase1 ?? Sys.ActorOf(IpsecPhase1Actor.Props(Serial, config, config.Phase1.Single()));
        var front = Sys.ActorOf(IkeFrontActor.Props(Serial, config, config.Phase1.Single(), p1, settings));
        var primary = new HaRoleChanged(Serial, HaRole.Primary, Serial);
        p1.Tell(primary);
        front.Tell(primary);
        return (front, p1);
    }

    private static byte[] Exchange(IActorRef front, byte[] datagram, IPAddress? from = null) =>
        Assert.Single(front.Ask<IkeReplies>(new IkeDatagram(from ?? Client, 500, datagram), TimeSpan.FromSeconds(5)).Result.Datagrams);

    [Fact]
    public async Task Above_the_threshold_the_client_retries_with_the_cookie_and_the_phase1_takes_the_established_SA_over()
    {
        var (front, phase1) = Start(new IkeAdmissionSettings { CookieThreshold = 0 });
        var client = NewClient();
        var cookie = Exchange(front, client.Start());
        var retry = client.Handle(cookie);
        Assert.IsType<IkeRetrying>(Assert.Single(retry.Events));
        var auth = Assert.Single(client.Handle(Exchange(front, Assert.Single(retry.Replies))).Replies);
        Assert.IsType<IkeSaEstablished>(Assert.Single(client.Handle(Exchange(front, auth)).Events));

        // The phase1 holds the tunnel and answers the established SA's DPD, through the front.
        var list = await phase1.Ask<TunnelList>(GetTunnelList.Instance, TimeSpan.FromSeconds(5));
        Assert.Equal("vpn1_1", Assert.Single(list.Tunnels).Name);
        Assert.IsType<IkeDpdConfirmed>(Assert.Single(client.Handle(Exchange(front, client.Dpd())).Events));

        var status = await front.Ask<IkeAdmissionStatus>(GetIkeAdmissionStatus.Instance, TimeSpan.FromSeconds(5));
        Assert.Equal(1, status.Counters[IkeDropCause.CookieRequired]);
        Assert.Equal(1, status.Counters.CookiesAccepted);
        Assert.Equal(0, status.Counters.HalfOpen);
    }

    /// <summary>
    /// Stop 21's trial: the front answered IKE_AUTH itself, so the client had its SA while the unit's forwarding plane had
    /// no path yet, and on a loaded machine PC1's first 0.9 s of ESP was dropped. The answer now comes from the phase1
    /// actor through its parent (the unit actor) after the new tunnel's path: the parent sees them in that order.
    /// </summary>
    [Fact]
    public void The_IKE_AUTH_answer_leaves_through_the_parent_after_the_new_tunnels_path()
    {
        var config = FortiConfig.Parse(Config).Value!;
        var seen = CreateTestProbe();
        var parent = Sys.ActorOf(Akka.Actor.Props.Create(() => new RelayingParent(config, seen)));
        var p1 = parent.Ask<IActorRef>("phase1", TimeSpan.FromSeconds(5)).Result;
        var (front, _) = Start(new IkeAdmissionSettings(), p1);
        var client = NewClient();
        var auth = Assert.Single(client.Handle(Exchange(front, client.Start())).Replies);

        var answered = front.Ask<IkeReplies>(new IkeDatagram(Client, 500, auth), TimeSpan.FromSeconds(5));

        seen.FishForMessage(m => m is ClusterActors.Actors.Forwarding.TunnelPathChanged, TimeSpan.FromSeconds(5));
        var relay = seen.FishForMessage<RelayIkeReplies>(_ => true, TimeSpan.FromSeconds(5));
        Assert.IsType<IkeSaEstablished>(Assert.Single(client.Handle(Assert.Single(relay.Replies.Datagrams)).Events));
        Assert.Same(relay.Replies, answered.Result);
    }

    /// <summary>The unit actor's part: creates the phase1 with relayViaParent, passes relays on, shows what it receives.</summary>
    private sealed class RelayingParent : ReceiveActor
    {
        public RelayingParent(ClusterActors.Protocol.Config.ConfigDocument config, Akka.TestKit.TestProbe seen)
        {
            var p1 = Context.ActorOf(IpsecPhase1Actor.Props(Serial, config, config.Phase1.Single(), relayViaParent: true));
            Receive<string>(_ => Sender.Tell(p1));
            Receive<RelayIkeReplies>(r =>
            {
                seen.Ref.Tell(r);
                r.ReplyTo.Tell(r.Replies);
            });
            ReceiveAny(m => seen.Ref.Tell(m));
        }
    }

    [Fact]
    public void A_secondary_answers_nothing()
    {
        var config = FortiConfig.Parse(Config).Value!;
        var p1 = Sys.ActorOf(IpsecPhase1Actor.Props(Serial, config, config.Phase1.Single()));
        var front = Sys.ActorOf(IkeFrontActor.Props(Serial, config, config.Phase1.Single(), p1));
        var replies = front.Ask<IkeReplies>(new IkeDatagram(Client, 500, NewClient().Start()), TimeSpan.FromSeconds(5)).Result;
        Assert.Empty(replies.Datagrams);
        Assert.Equal("not the FGCP primary", replies.Refused);
    }

    /// <summary>
    /// Stands in for the phase1 actor and counts every IKE_SA_INIT that reaches it; also answers as soon as it gets a
    /// probe, which is how long a role change or a sync push would wait behind its mailbox.
    /// </summary>
    private sealed class Phase1Probe : ReceiveActor
    {
        public sealed record Ping;

        public Phase1Probe(IActorRef real, Action<IkeDatagram> seen)
        {
            Receive<IkeDatagram>(d =>
            {
                seen(d);
                real.Forward(d);
            });
            Receive<Ping>(_ => Sender.Tell("pong"));
            ReceiveAny(m => real.Forward(m));
        }
    }

    [Fact]
    public async Task An_init_flood_never_reaches_the_phase1_actor_and_an_honest_client_still_dials()
    {
        var config = FortiConfig.Parse(Config).Value!;
        var real = Sys.ActorOf(IpsecPhase1Actor.Props(Serial, config, config.Phase1.Single()));
        var initsAtPhase1 = 0;
        Action<IkeDatagram> seen = d =>
        {
            if (d.Data.Length >= 28 && (ExchangeType)d.Data[18] == ExchangeType.IkeSaInit) Interlocked.Increment(ref initsAtPhase1);
        };
        var probe = Sys.ActorOf(Akka.Actor.Props.Create(() => new Phase1Probe(real, seen)));
        var (front, _) = Start(new IkeAdmissionSettings(), probe);
        real.Tell(new HaRoleChanged(Serial, HaRole.Primary, Serial));

        // 5,000 IKE_SA_INITs from spoofed 127.x sources (nobody there to answer a cookie), 50 distinct requests.
        var inits = Enumerable.Range(0, 50).Select(_ => NewClient().Start()).ToArray();
        for (var i = 0; i < 5000; i++)
            front.Tell(new IkeDatagram(new IPAddress([127, 1, (byte)(i >> 8), (byte)i]), 1024 + i % 60000, inits[i % inits.Length]), ActorRefs.Nobody);

        // Meanwhile the phase1's own mailbox is free: a probe is answered at once.
        var ping = Stopwatch.StartNew();
        await probe.Ask<string>(new Phase1Probe.Ping(), TimeSpan.FromSeconds(5));
        Assert.True(ping.Elapsed < TimeSpan.FromMilliseconds(500), $"the phase1 actor answered after {ping.ElapsedMilliseconds} ms");

        // An honest client (its own address) dials through: a cookie first, then the tunnel.
        var client = NewClient();
        var sw = Stopwatch.StartNew();
        var first = client.Handle(Exchange(front, client.Start()));
        var auth = first.Events.Any(e => e is IkeRetrying)
            ? Assert.Single(client.Handle(Exchange(front, Assert.Single(first.Replies))).Replies)
            : Assert.Single(first.Replies);
        Assert.IsType<IkeSaEstablished>(Assert.Single(client.Handle(Exchange(front, auth)).Events));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"the honest dial took {sw.ElapsedMilliseconds} ms");

        var status = await front.Ask<IkeAdmissionStatus>(GetIkeAdmissionStatus.Instance, TimeSpan.FromSeconds(5));
        Assert.Equal(0, Volatile.Read(ref initsAtPhase1));
        Assert.True(status.Counters.HalfOpen <= new IkeAdmissionSettings().CookieThreshold, status.Counters.ToString());
        Assert.True(status.Counters[IkeDropCause.CookieRequired] >= 5000 - new IkeAdmissionSettings().CookieThreshold, status.Counters.ToString());
    }

    /// <summary>Holds every task queued to it until <see cref="Release"/>: stands in for cores busy elsewhere.</summary>
    private sealed class HeldPool : TaskScheduler
    {
        private readonly List<Task> _held = [];
        private bool _released;

        public int Queued
        {
            get { lock (_held) return _held.Count; }
        }

        public void Release()
        {
            List<Task> run;
            lock (_held)
            {
                _released = true;
                run = [.. _held];
                _held.Clear();
            }
            foreach (var t in run) ThreadPool.QueueUserWorkItem(_ => TryExecuteTask(t));
        }

        protected override void QueueTask(Task task)
        {
            lock (_held)
            {
                if (!_released)
                {
                    _held.Add(task);
                    return;
                }
            }
            ThreadPool.QueueUserWorkItem(_ => TryExecuteTask(task));
        }

        protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

        protected override IEnumerable<Task> GetScheduledTasks()
        {
            lock (_held) return [.. _held];
        }
    }

    [Fact]
    public async Task The_DH_of_IKE_SA_INIT_runs_on_the_workers_several_at_once_while_the_front_goes_on_answering()
    {
        var config = FortiConfig.Parse(Config).Value!;
        var p1 = Sys.ActorOf(IpsecPhase1Actor.Props(Serial, config, config.Phase1.Single()));
        var pool = new HeldPool();
        var front = Sys.ActorOf(IkeFrontActor.Props(Serial, config, config.Phase1.Single(), p1, new IkeAdmissionSettings { CookieThreshold = 1000 },
            workers: new IkeDhWorkers(pool, concurrency: 2)));
        var primary = new HaRoleChanged(Serial, HaRole.Primary, Serial);
        p1.Tell(primary);
        front.Tell(primary);

        var clients = Enumerable.Range(0, 3).Select(_ => NewClient()).ToArray();
        var sources = Enumerable.Range(1, 3).Select(i => IPAddress.Parse($"192.168.7.{i}")).ToArray();
        var inits = clients.Select(c => c.Start()).ToArray();
        var answers = inits.Select((init, i) => front.Ask<IkeReplies>(new IkeDatagram(sources[i], 500, init), TimeSpan.FromSeconds(10))).ToArray();

        // Three DHs are out and none is answered yet, yet the front answers at once: the DH is not on its thread.
        await AwaitConditionAsync(async () =>
            (await front.Ask<IkeAdmissionStatus>(GetIkeAdmissionStatus.Instance, TimeSpan.FromSeconds(5))).DhInFlight == 3, TimeSpan.FromSeconds(5));
        Assert.All(answers, a => Assert.False(a.IsCompleted));
        // Two workers were started for three queued DHs: they run in parallel, up to the concurrency.
        Assert.Equal(2, pool.Queued);
        // A retransmission of an INIT whose DH is out costs no second DH (answered empty; the answer follows).
        var again = await front.Ask<IkeReplies>(new IkeDatagram(sources[0], 500, inits[0]), TimeSpan.FromSeconds(5));
        Assert.Empty(again.Datagrams);
        Assert.Equal(3, (await front.Ask<IkeAdmissionStatus>(GetIkeAdmissionStatus.Instance, TimeSpan.FromSeconds(5))).Counters.HalfOpen);

        pool.Release();
        for (var i = 0; i < 3; i++)
        {
            var init = Assert.Single((await answers[i]).Datagrams);
            var auth = Assert.Single(clients[i].Handle(init).Replies);
            Assert.IsType<IkeSaEstablished>(Assert.Single(clients[i].Handle(Exchange(front, auth, sources[i])).Events));
        }
        var status = await front.Ask<IkeAdmissionStatus>(GetIkeAdmissionStatus.Instance, TimeSpan.FromSeconds(5));
        Assert.Equal((0, 3L, 0), (status.DhInFlight, status.DhComputed, status.Counters.HalfOpen));
    }

    [Fact]
    public async Task The_embryonic_limit_comes_from_config_system_ike_and_follows_a_change()
    {
        var config = FortiConfig.Parse(Config + "\nconfig system ike\n    set embryonic-limit 50\nend\n").Value!;
        var p1 = Sys.ActorOf(IpsecPhase1Actor.Props(Serial, config, config.Phase1.Single()));
        var front = Sys.ActorOf(IkeFrontActor.Props(Serial, config, config.Phase1.Single(), p1,
            new IkeAdmissionSettings { CookieThreshold = 100_000, HalfOpenPerSource = 100_000 }));
        front.Tell(new HaRoleChanged(Serial, HaRole.Primary, Serial));

        async Task<int> Dial(int from, int count)
        {
            var answered = 0;
            for (var i = from; i < from + count; i++)
                if ((await front.Ask<IkeReplies>(new IkeDatagram(new IPAddress([198, 18, 0, (byte)i]), 500, NewClient().Start()), TimeSpan.FromSeconds(10))).Datagrams.Count > 0)
                    answered++;
            return answered;
        }

        Assert.Equal(50, await Dial(1, 60));
        var status = await front.Ask<IkeAdmissionStatus>(GetIkeAdmissionStatus.Instance, TimeSpan.FromSeconds(5));
        Assert.Equal(10, status.Counters[IkeDropCause.EmbryonicLimit]);

        front.Tell(new UnitConfigChanged(config.Apply("config system ike\nset embryonic-limit 55\nend").Value!, null, true, "cli"));
        Assert.Equal(5, await Dial(100, 10));
        Assert.Equal(55, (await front.Ask<IkeAdmissionStatus>(GetIkeAdmissionStatus.Instance, TimeSpan.FromSeconds(5))).Counters.HalfOpen);
    }

    /// <summary>
    /// The expiry check runs only while half-open SAs exist (an idle front does not wake for it): it must start again with
    /// each new half-open SA after it stopped, or a later embryonic SA would hold its slot for ever.
    /// </summary>
    [Fact]
    public async Task Half_open_SAs_expire_and_the_check_starts_again_for_the_next_one()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var config = FortiConfig.Parse(Config).Value!;
        var p1 = Sys.ActorOf(IpsecPhase1Actor.Props(Serial, config, config.Phase1.Single()));
        var settings = new IkeAdmissionSettings { CookieThreshold = 100_000 };
        var front = Sys.ActorOf(IkeFrontActor.Props(Serial, config, config.Phase1.Single(), p1, settings, time));
        front.Tell(new HaRoleChanged(Serial, HaRole.Primary, Serial));

        async Task<IkeAdmissionCounters> Counters() => (await front.Ask<IkeAdmissionStatus>(GetIkeAdmissionStatus.Instance, TimeSpan.FromSeconds(5))).Counters;

        for (var round = 1; round <= 2; round++)
        {
            Assert.Single((await front.Ask<IkeReplies>(new IkeDatagram(Client, 500, NewClient().Start()), TimeSpan.FromSeconds(10))).Datagrams);
            Assert.Equal(1, (await Counters()).HalfOpen);
            time.Advance(settings.HalfOpenTimeout + TimeSpan.FromSeconds(1));
            var expected = round;
            await AwaitConditionAsync(async () => (await Counters()) is { HalfOpen: 0 } c && c[IkeDropCause.HalfOpenExpired] == expected,
                TimeSpan.FromSeconds(5));
            // Nothing half-open: the check has stopped; the next round's INIT must start it again.
            await Task.Delay(1500);
        }
    }
}
