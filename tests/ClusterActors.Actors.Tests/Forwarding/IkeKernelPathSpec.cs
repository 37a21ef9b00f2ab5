using System.Collections.Concurrent;
using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Tests.Client;
using ClusterActors.Actors.Unit;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Packets;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Actors.Tests.Forwarding;

/// <summary>
/// IKE on the kernel-packet path (the container lab's raw-socket ports): the forwarding plane tells the unit each
/// datagram (no Ask per datagram) and keeps at most <see cref="ForwardingActor.MaxIkeInFlight"/> unanswered; a flood
/// beyond that is shed and counted, and an honest client still dials through the IKE front.
/// </summary>
public sealed class IkeKernelPathSpec() : TestKit(ConfigurationFactory.ParseString("""
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp.hostname = 127.0.0.1
    akka.remote.dot-netty.tcp.port = 0
    akka.loglevel = WARNING
    """))
{
    private const string Serial = "FGVM02TM22000001";
    private static readonly IPAddress GatewayAddress = IPAddress.Parse("192.168.129.254");
    private static readonly IPAddress ClientAddress = IPAddress.Parse("192.168.129.10");

    private const string Config = """
        config system ha
            set group-id 1
        end
        config system interface
            edit "port2"
                set ip 192.168.129.254 255.255.255.0
            next
        end
        config vpn ipsec phase1-interface
            edit "vpn1"
                set type dynamic
                set interface "port2"
                set ike-version 2
                set local-gw 192.168.129.254
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

    /// <summary>
    /// Stands in for FortiGateUnit's DeliverIke routing (to the phase1's IKE front, the sender kept), but holds every
    /// datagram while closed: a gateway slower than the flood. <see cref="Held"/> answers how many it holds.
    /// </summary>
    private sealed class GatedUnit : ReceiveActor
    {
        public sealed record Open;
        public sealed record Held;

        public GatedUnit(IActorRef front)
        {
            var held = new List<(IkeDatagram, IActorRef)>();
            var open = false;
            Receive<DeliverIke>(d =>
            {
                if (open) front.Tell(d.Datagram, Sender);
                else held.Add((d.Datagram, Sender));
            });
            Receive<Open>(_ =>
            {
                open = true;
                foreach (var (d, from) in held) front.Tell(d, from);
                held.Clear();
                Sender.Tell(Done.Instance);
            });
            Receive<Held>(_ => Sender.Tell(held.Count));
            ReceiveAny(_ => { });
        }
    }

    private sealed record Done
    {
        public static readonly Done Instance = new();
    }

    private sealed record Rig(IActorRef Forwarding, IActorRef Unit, IActorRef Front, TestPort Client, ConcurrentQueue<byte[]> ToClient);

    private Rig Start(TimeSpan? answerTimeout = null, TimeProvider? time = null)
    {
        var config = FortiConfig.Parse(Config).Value!;
        var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Serial, config, config.Phase1.Single()));
        var front = Sys.ActorOf(IkeFrontActor.Props(Serial, config, config.Phase1.Single(), phase1));
        var unit = Sys.ActorOf(Props.Create(() => new GatedUnit(front)));
        var wan = new TestLink("wan");
        var forwarding = Sys.ActorOf(ForwardingActor.Props(Serial, config, new TestHostIo("fgt", new Dictionary<string, TestLink> { ["port2"] = wan }),
            unit, answerTimeout, time));
        var primary = new HaRoleChanged(Serial, HaRole.Primary, Serial);
        foreach (var a in new[] { phase1, front, forwarding }) a.Tell(primary);
        var toClient = new ConcurrentQueue<byte[]>();
        var client = (TestPort)new TestHostIo("client", new Dictionary<string, TestLink> { ["eth0"] = wan })
            .Open("eth0", [new InterfaceAddress(ClientAddress, 24)], (_, bytes) => toClient.Enqueue(bytes));
        AwaitCondition(() => forwarding.Ask<ForwardingStatus>(GetForwardingStatus.Instance).Result.Answering, TimeSpan.FromSeconds(5));
        return new Rig(forwarding, unit, front, client, toClient);
    }

    private static IkeInitiator NewClient() =>
        new(new IkeInitiatorSettings("scenario-psk", "Nokia_Peer", ["aes128-sha1"], [2], [TrafficSelector.FromCidr("10.10.1.0/24")], [TrafficSelector.Any]),
            GatewayAddress);

    /// <summary>IKE from <paramref name="from"/>:500 to the gateway's port 500, as the raw socket would hand it over.</summary>
    private static void Send(TestPort port, IPAddress from, byte[] ike) =>
        Assert.True(port.Send(GatewayAddress, UdpPacket.InIpv4(from, 500, GatewayAddress, 500, ike).ToBytes()));

    private static ForwardingStatus Status(IActorRef forwarding) =>
        forwarding.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(5)).Result;

    /// <summary>The next IKE datagram the client receives on port 500.</summary>
    private byte[] Answer(Rig rig)
    {
        byte[]? ike = null;
        AwaitCondition(() =>
        {
            while (rig.ToClient.TryDequeue(out var bytes))
            {
                if (!Ipv4Packet.TryParse(bytes, out var p, out _) || !UdpEncap.TryParse(p.Payload, out var udp) || udp.DestinationPort != 500) continue;
                ike = udp.Payload.ToArray();
                return true;
            }
            return false;
        }, TimeSpan.FromSeconds(10));
        return ike!;
    }

    [Fact]
    public void A_flood_beyond_the_in_flight_bound_is_shed_and_counted_and_an_honest_client_still_dials()
    {
        var rig = Start();
        const int flood = 3000;
        var inits = Enumerable.Range(0, 20).Select(_ => NewClient().Start()).ToArray();
        for (var i = 0; i < flood; i++)
            Send(rig.Client, new IPAddress([198, 18, (byte)(i >> 8), (byte)i]), inits[i % inits.Length]);

        AwaitCondition(() => Status(rig.Forwarding).Received == flood, TimeSpan.FromSeconds(20));
        var during = Status(rig.Forwarding);
        // The gateway has not answered one: exactly the bound waits, the rest was shed at the forwarding plane.
        Assert.True(during.IkeInFlight == ForwardingActor.MaxIkeInFlight, string.Join(", ", during.Drops.Select(d => $"{d.Key}={d.Value}")) + $" in flight {during.IkeInFlight}");
        Assert.Equal(flood - ForwardingActor.MaxIkeInFlight, during.Drops.GetValueOrDefault("ike shed"));
        Assert.Equal(ForwardingActor.MaxIkeInFlight, rig.Unit.Ask<int>(new GatedUnit.Held(), TimeSpan.FromSeconds(5)).Result);

        // The gateway catches up: every waiting datagram is answered (cookies), the slots are free again.
        rig.Unit.Ask<Done>(new GatedUnit.Open(), TimeSpan.FromSeconds(5)).Wait();
        AwaitCondition(() => Status(rig.Forwarding).IkeInFlight == 0, TimeSpan.FromSeconds(20));

        // An honest client on its own address: a cookie (10 spoofed half-open SAs are held), then the tunnel.
        var client = NewClient();
        Send(rig.Client, ClientAddress, client.Start());
        var first = client.Handle(Answer(rig));
        Assert.IsType<IkeRetrying>(Assert.Single(first.Events));
        Send(rig.Client, ClientAddress, Assert.Single(first.Replies));
        var auth = Assert.Single(client.Handle(Answer(rig)).Replies);
        Send(rig.Client, ClientAddress, auth);
        Assert.IsType<IkeSaEstablished>(Assert.Single(client.Handle(Answer(rig)).Events));

        var admission = rig.Front.Ask<IkeAdmissionStatus>(GetIkeAdmissionStatus.Instance, TimeSpan.FromSeconds(5)).Result;
        Assert.True(admission.Counters[IkeDropCause.CookieRequired] >= ForwardingActor.MaxIkeInFlight - 10, admission.Counters.ToString());
    }

    [Fact]
    public void Slots_of_datagrams_the_gateway_never_answers_are_freed_exactly_at_the_answer_timeout_of_the_units_clock()
    {
        var time = new FakeTimeProvider();
        var rig = Start(answerTimeout: TimeSpan.FromSeconds(10), time: time);
        var init = NewClient().Start();
        for (var i = 0; i <= ForwardingActor.MaxIkeInFlight; i++)
            Send(rig.Client, new IPAddress([198, 18, (byte)(i >> 8), (byte)i]), init);
        AwaitCondition(() => Status(rig.Forwarding).Received == ForwardingActor.MaxIkeInFlight + 1, TimeSpan.FromSeconds(10));
        Assert.Equal(1, Status(rig.Forwarding).Drops.GetValueOrDefault("ike shed"));

        // One tick before the bound (no real time passes): every slot still waits, the next datagram is shed.
        time.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        Send(rig.Client, ClientAddress, init);
        AwaitCondition(() => Status(rig.Forwarding).Received == ForwardingActor.MaxIkeInFlight + 2, TimeSpan.FromSeconds(10));
        var before = Status(rig.Forwarding);
        Assert.Equal(2, before.Drops.GetValueOrDefault("ike shed"));
        Assert.Equal(0, before.Drops.GetValueOrDefault("ike not answered"));
        Assert.Equal(ForwardingActor.MaxIkeInFlight, before.IkeInFlight);

        // At the bound: all of them are given up and the next datagram is told to the unit.
        time.Advance(TimeSpan.FromTicks(1));
        Send(rig.Client, ClientAddress, init);
        AwaitCondition(() => Status(rig.Forwarding).Received == ForwardingActor.MaxIkeInFlight + 3, TimeSpan.FromSeconds(10));
        var after = Status(rig.Forwarding);
        Assert.Equal(ForwardingActor.MaxIkeInFlight, after.Drops.GetValueOrDefault("ike not answered"));
        Assert.Equal(2, after.Drops.GetValueOrDefault("ike shed"));
        Assert.Equal(1, after.IkeInFlight);
        Assert.Equal(ForwardingActor.MaxIkeInFlight + 1, rig.Unit.Ask<int>(new GatedUnit.Held(), TimeSpan.FromSeconds(5)).Result);
    }

    [Fact]
    public void An_oversized_init_is_dropped_before_the_unit()
    {
        var rig = Start();
        var init = NewClient().Start();
        var m = IkeCodec.Decode(init);
        var big = IkeCodec.Encode(m.Header, [new VendorIdPayload(new byte[60_000]), .. m.Payloads]);
        Send(rig.Client, ClientAddress, big);
        AwaitCondition(() => Status(rig.Forwarding).Received == 1, TimeSpan.FromSeconds(5));
        Assert.Equal(1, Status(rig.Forwarding).Drops.GetValueOrDefault("ike oversized"));
        Assert.Equal(0, Status(rig.Forwarding).IkeInFlight);
    }
}
