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

    private const string Config = """
        config system ha
            set group-id 1
        end
        config vpn ipsec phase1-interface
            edit "vpn1"
                set type dynamic
                set interface "port2"
                set ike-version 2
                set local-gw 192.168.202.35
                set peertype one
                set proposal aes128-sha1
                set dhgrp 2
                set nattraversal disable
                set peerid "Nokia_Peer"
                set psksecret "scenario-psk"
            next
        end
        config vpn ipsec phase2-interface
            edit "vpn1"
                set phase1name "vpn1"
                set proposal aes128-sha1
            next
        end
        """;

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
}
