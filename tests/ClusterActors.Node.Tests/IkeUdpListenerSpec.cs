using ClusterActors.Actors.Tests.Ipsec;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Unit;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Node.Tests;

/// <summary>
/// The unit's plain UDP IKE socket (<see cref="IkeUdpListener"/>) under a flood, over real loopback UDP: it has the
/// kernel path's front (<see cref="IkeAnswerWindow{TWaiting}"/>): each datagram told to the unit with a tag and answered
/// to one long-lived actor (no Ask per datagram), at most <see cref="IkeUdpListener.MaxInFlight"/> waiting, the rest
/// shed and counted, oversized datagrams dropped before the unit, unanswered slots freed at the answer timeout.
/// </summary>
public sealed class IkeUdpListenerSpec() : TestKit(ConfigurationFactory.ParseString("""
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp.hostname = 127.0.0.1
    akka.remote.dot-netty.tcp.port = 0
    akka.loglevel = WARNING
    """))
{
    private const string Serial = "FGVM02TM22000001";
    private static readonly IPAddress LocalGateway = IPAddress.Parse("192.168.202.35");

    /// <summary>
    /// Stands in for FortiGateUnit's DeliverIke routing (to the phase1's IKE front, the sender kept), but holds every
    /// datagram while closed: a gateway slower than the flood. Remembers who each datagram was sent by.
    /// </summary>
    private sealed class GatedUnit : ReceiveActor
    {
        public sealed record Open;
        public sealed record Held;
        public sealed record Senders;

        public GatedUnit(IActorRef front)
        {
            var held = new List<(IkeDatagram, IActorRef)>();
            var senders = new HashSet<string>();
            var open = false;
            Receive<DeliverIke>(d =>
            {
                senders.Add(Sender.Path.ToString());
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
            Receive<Senders>(_ => Sender.Tell(senders.ToList()));
            ReceiveAny(_ => { });
        }
    }

    private sealed record Done
    {
        public static readonly Done Instance = new();
    }

    private sealed record Rig(IkeUdpListener Listener, IActorRef Unit, IActorRef Front) : IDisposable
    {
        public void Dispose() => Listener.Dispose();
    }

    private Rig Start(TimeProvider? time = null)
    {
        var config = FortiConfig.Parse(Phase1SpecConfig.Dialup).Value!;
        var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Serial, config, config.Phase1.Single()));
        var front = Sys.ActorOf(IkeFrontActor.Props(Serial, config, config.Phase1.Single(), phase1));
        var unit = Sys.ActorOf(Props.Create(() => new GatedUnit(front)));
        var primary = new HaRoleChanged(Serial, HaRole.Primary, Serial);
        phase1.Tell(primary);
        front.Tell(primary);
        var listener = IkeUdpListener.Start(new IPEndPoint(IPAddress.Loopback, 0), LocalGateway, () => (Sys, unit), time: time);
        return new Rig(listener, unit, front);
    }

    private static byte[] NewInit() => new IkeInitiator(DialupClient.ScenarioSettings("x"), LocalGateway).Start();

    /// <summary>Flooders on 127.0.20.1–8 (spoofed sources as far as the gateway can tell); nobody reads their answers.</summary>
    private static Socket[] Flooders() => Enumerable.Range(1, 8).Select(i =>
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(new IPAddress([127, 0, 20, (byte)i]), 0));
        return s;
    }).ToArray();

    /// <summary>Sends in chunks the socket buffer holds, each read by the listener before the next (loopback UDP drops only on a full buffer).</summary>
    private void Flood(Rig rig, Socket[] from, IReadOnlyList<byte[]> datagrams)
    {
        var start = rig.Listener.Received;
        for (var i = 0; i < datagrams.Count; i++)
        {
            from[i % from.Length].SendTo(datagrams[i], rig.Listener.EndPoint);
            if (i % 50 == 49 || i == datagrams.Count - 1)
            {
                var expected = start + i + 1;
                AwaitCondition(() => rig.Listener.Received == expected, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(5),
                    $"the listener read {expected} datagrams");
            }
        }
    }

    /// <summary>The scenario's client over UDP from 127.0.0.1: each request resent after 250 ms, doubling, 5 tries.</summary>
    private static async Task<IkeSaEstablished> Dial(IPEndPoint gateway)
    {
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var client = new DialupClient(DialupClient.ScenarioSettings("scenario-psk"), LocalGateway);
        return await client.DialAsync(async request =>
        {
            var wait = TimeSpan.FromMilliseconds(250);
            for (var attempt = 0; attempt < 5; attempt++, wait *= 2)
            {
                await udp.SendAsync(request, gateway);
                using var timeout = new CancellationTokenSource(wait);
                try
                {
                    return [(await udp.ReceiveAsync(timeout.Token)).Buffer];
                }
                catch (OperationCanceledException) { }
            }
            return [];
        });
    }

    [Fact]
    public async Task A_flood_beyond_the_in_flight_bound_is_told_not_asked_shed_and_counted_and_an_honest_client_still_dials()
    {
        // Frozen time: however long the flood takes on a loaded machine, no slot reaches the answer timeout meanwhile.
        using var rig = Start(new FakeTimeProvider());
        var flooders = Flooders();
        try
        {
            const int flood = 3000;
            var inits = Enumerable.Range(0, 20).Select(_ => NewInit()).ToArray();
            var m = IkeCodec.Decode(inits[0]);
            var oversized = IkeCodec.Encode(m.Header, [new VendorIdPayload(new byte[60_000]), .. m.Payloads]);
            Flood(rig, flooders, [oversized, .. Enumerable.Range(0, flood).Select(i => inits[i % inits.Length])]);

            // The gateway has answered none: exactly the bound waits at the unit, the rest was shed at the socket, the
            // 60 KB INIT never reached the unit.
            Assert.Equal((IkeUdpListener.MaxInFlight, flood - IkeUdpListener.MaxInFlight, 1L),
                (rig.Listener.InFlight, rig.Listener.DroppedInFlight, rig.Listener.DroppedOversized));
            Assert.Equal(IkeUdpListener.MaxInFlight, await rig.Unit.Ask<int>(new GatedUnit.Held(), TimeSpan.FromSeconds(5)));
            // Told, not asked: every datagram came from one long-lived actor, none from an Ask's temporary actor.
            var senders = await rig.Unit.Ask<List<string>>(new GatedUnit.Senders(), TimeSpan.FromSeconds(5));
            Assert.True(senders.Count == 1 && !senders[0].Contains("/temp/"), $"{senders.Count} senders, e.g. {senders.FirstOrDefault()}");

            // The gateway catches up: every waiting datagram is answered (cookies and INIT answers), the slots free again.
            await rig.Unit.Ask<Done>(new GatedUnit.Open(), TimeSpan.FromSeconds(5));
            AwaitCondition(() => rig.Listener.InFlight == 0, TimeSpan.FromSeconds(20), "every waiting datagram answered");
            Assert.Equal(0, rig.Listener.NotAnswered);

            // An honest client on its own address dials through the socket (through a cookie: the flooders hold half-open SAs).
            var established = await Dial(rig.Listener.EndPoint);
            Assert.NotNull(established);
            var admission = await rig.Front.Ask<IkeAdmissionStatus>(GetIkeAdmissionStatus.Instance, TimeSpan.FromSeconds(5));
            Assert.True(admission.CookiesRequired, admission.Counters.ToString());
        }
        finally
        {
            foreach (var s in flooders) s.Dispose();
        }
    }

    [Fact]
    public async Task Slots_the_unit_never_answers_are_freed_exactly_at_the_answer_timeout_of_the_listeners_clock()
    {
        var time = new FakeTimeProvider();
        using var rig = Start(time);
        var flooders = Flooders();
        try
        {
            var init = NewInit();
            Flood(rig, flooders, Enumerable.Repeat(init, IkeUdpListener.MaxInFlight + 1).ToList());
            Assert.Equal((IkeUdpListener.MaxInFlight, 1L), (rig.Listener.InFlight, rig.Listener.DroppedInFlight));

            // One tick before the bound (no real time passes): every slot still waits, the next datagram is shed.
            time.Advance(IkeAnswerWindow<IPEndPoint>.DefaultAnswerTimeout - TimeSpan.FromTicks(1));
            Flood(rig, flooders, [init]);
            Assert.Equal((IkeUdpListener.MaxInFlight, 2L, 0L), (rig.Listener.InFlight, rig.Listener.DroppedInFlight, rig.Listener.NotAnswered));

            // At the bound: all of them are given up, and the next datagram reaches the unit.
            time.Advance(TimeSpan.FromTicks(1));
            Flood(rig, flooders, [init]);
            Assert.Equal((1, 2L, (long)IkeUdpListener.MaxInFlight), (rig.Listener.InFlight, rig.Listener.DroppedInFlight, rig.Listener.NotAnswered));
            Assert.Equal(IkeUdpListener.MaxInFlight + 1, await rig.Unit.Ask<int>(new GatedUnit.Held(), TimeSpan.FromSeconds(5)));
        }
        finally
        {
            foreach (var s in flooders) s.Dispose();
        }
    }
}
