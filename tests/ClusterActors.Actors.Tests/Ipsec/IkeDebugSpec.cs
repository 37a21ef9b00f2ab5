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
/// `diagnose debug application ike`: FortiOS's `ike 0:…` lines for a unit's IKE events (pure formatter and ring, by
/// table), and an IKE exchange through the front seen by a console's reads, bounded under a flood.
/// </summary>
public sealed class IkeDebugSpec() : TestKit(ConfigurationFactory.ParseString("""
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp.hostname = 127.0.0.1
    akka.remote.dot-netty.tcp.port = 0
    akka.loglevel = WARNING
    """))
{
    private const string Serial = "FGVM02TM22000001";
    private static readonly IPAddress Peer = IPAddress.Parse("192.168.7.2");
    private static readonly DateTimeOffset T0 = new(2026, 12, 6, 11, 0, 0, TimeSpan.Zero);

    private static IkeDebugObserved E(IkeDebugKind kind, IkeDebugHeader? header = null, string? detail = null, string phase1 = "vpn1",
        string peer = "192.168.7.2", string? local = "192.168.202.35") =>
        new(Serial, phase1, kind, IPAddress.Parse(peer), 500, 500, T0) { Header = header, Detail = detail, LocalAddress = local };

    private static readonly IkeDebugHeader InitRequest = new(0x2ecbf90464c2e03a, 0, ExchangeType.IkeSaInit, false, 0, 320);
    private static readonly IkeDebugHeader InitResponse = new(0x2ecbf90464c2e03a, 0xc81df8c224f77489, ExchangeType.IkeSaInit, true, 0, 288);
    private static readonly IkeDebugHeader AuthRequest = new(0x2ecbf90464c2e03a, 0xc81df8c224f77489, ExchangeType.IkeAuth, false, 1, 256);
    private static readonly IkeDebugHeader ChildRequest = new(0x2ecbf90464c2e03a, 0xc81df8c224f77489, ExchangeType.CreateChildSa, false, 3, 496);

    public static TheoryData<IkeDebugObserved, string> Lines => new()
    {
        { E(IkeDebugKind.Received, InitRequest), "ike 0: IKEv2 exchange=SA_INIT id=2ecbf90464c2e03a/0000000000000000:00000000 len=320" },
        { E(IkeDebugKind.Received, AuthRequest), "ike 0: IKEv2 exchange=AUTH id=2ecbf90464c2e03a/c81df8c224f77489:00000001 len=256" },
        { E(IkeDebugKind.Received, ChildRequest), "ike 0: IKEv2 exchange=CREATE_CHILD id=2ecbf90464c2e03a/c81df8c224f77489:00000003 len=496" },
        { E(IkeDebugKind.Received), "ike 0: comes 192.168.7.2:500, too short for an IKE header" },
        {
            E(IkeDebugKind.Sent, InitResponse),
            "ike 0:vpn1: sent IKE msg (SA_INIT_RESPONSE): 192.168.202.35:500->192.168.7.2:500, len=288, vrf=0, id=2ecbf90464c2e03a/c81df8c224f77489:00000000"
        },
        {
            E(IkeDebugKind.Sent, InitResponse, local: null),
            "ike 0:vpn1: sent IKE msg (SA_INIT_RESPONSE): 0.0.0.0:500->192.168.7.2:500, len=288, vrf=0, id=2ecbf90464c2e03a/c81df8c224f77489:00000000"
        },
        { E(IkeDebugKind.Established, detail: "2ecbf90464c2e03a/c81df8c224f77489"), "ike 0:vpn1: established IKE SA 2ecbf90464c2e03a/c81df8c224f77489" },
        { E(IkeDebugKind.Refused, detail: "no proposal chosen"), "ike 0:vpn1: negotiation failure from 192.168.7.2:500: no proposal chosen" },
        { E(IkeDebugKind.Dropped, detail: "Malformed: truncated"), "ike 0:vpn1: dropped from 192.168.7.2:500: Malformed: truncated" },
    };

    [Theory]
    [MemberData(nameof(Lines))]
    public void Debug_line_of_an_event(IkeDebugObserved e, string line) => Assert.Equal(line, IkeDebugFormat.Line(e));

    [Theory]
    [InlineData(null, null, "vpn1,vpn1_3,vpn2")]
    [InlineData("vpn1", null, "vpn1,vpn1_3")]
    [InlineData("vpn1_3", null, "vpn1_3")]
    [InlineData(null, "10.0.0.9", "vpn2")]
    [InlineData("vpn1", "10.0.0.9", "")]
    public void Log_filter_name_and_dst_addr4(string? name, string? dst, string printed)
    {
        var ring = new IkeDebugRing(10);
        ring.Add(E(IkeDebugKind.Established, detail: "a", phase1: "vpn1"));
        ring.Add(E(IkeDebugKind.Established, detail: "b", phase1: "vpn1_3"));
        ring.Add(E(IkeDebugKind.Established, detail: "c", phase1: "vpn2", peer: "10.0.0.9"));
        var (lines, _, _) = ring.Read(0, new IkeDebugFilter(name, dst is null ? null : IPAddress.Parse(dst)), 10);
        Assert.Equal(printed, string.Join(",", lines.Select(l => l.Split(':')[1])));
    }

    [Theory]
    // capacity, events added, cursor, max per read → lines, next cursor, missed
    [InlineData(4, 3, 0, 10, 3, 3, 0)]
    [InlineData(4, 3, 3, 10, 0, 3, 0)]
    [InlineData(4, 10, 0, 10, 4, 10, 6)]
    [InlineData(4, 10, 7, 10, 3, 10, 0)]
    [InlineData(100, 50, 0, 20, 20, 20, 0)]
    public void The_ring_keeps_the_last_events_and_says_how_many_a_reader_missed(int capacity, int added, long cursor, int max,
        int lines, long next, long missed)
    {
        var ring = new IkeDebugRing(capacity);
        for (var i = 0; i < added; i++) ring.Add(E(IkeDebugKind.Established, detail: i.ToString()));
        var read = ring.Read(cursor, IkeDebugFilter.None, max);
        Assert.Equal((lines, next, missed), (read.Lines.Count, read.Next, read.Missed));
        if (lines > 0) Assert.EndsWith(" " + (next - 1), read.Lines[^1]);
    }

    private IkeDebugLines Read(IActorRef debug, long cursor, IkeDebugFilter? filter = null) =>
        debug.Ask<IkeDebugLines>(new ReadIkeDebug(cursor, filter ?? IkeDebugFilter.None), TimeSpan.FromSeconds(5)).Result;

    private (IActorRef Front, IActorRef Debug) Start()
    {
        var config = FortiConfig.Parse(Phase1SpecConfig.Dialup).Value!;
        var p1 = Sys.ActorOf(IpsecPhase1Actor.Props(Serial, config, config.Phase1.Single()));
        var front = Sys.ActorOf(IkeFrontActor.Props(Serial, config, config.Phase1.Single(), p1));
        var primary = new HaRoleChanged(Serial, HaRole.Primary, Serial);
        p1.Tell(primary);
        front.Tell(primary);
        // Started (and so subscribed to IkeDebugListening) before a console's first read arms the debug keeper.
        front.Ask<IkeAdmissionStatus>(GetIkeAdmissionStatus.Instance, TimeSpan.FromSeconds(5)).Wait();
        return (front, Sys.ActorOf(IkeDebugActor.Props(Serial)));
    }

    private static IkeInitiator NewClient() =>
        new(new IkeInitiatorSettings("scenario-psk", "Nokia_Peer", ["aes128-sha1"], [2], [TrafficSelector.FromCidr("10.10.1.0/24")], [TrafficSelector.Any]),
            IPAddress.Parse("192.168.202.35"));

    private static byte[] Exchange(IActorRef front, byte[] datagram) =>
        Assert.Single(front.Ask<IkeReplies>(new IkeDatagram(Peer, 500, datagram), TimeSpan.FromSeconds(5)).Result.Datagrams);

    [Fact]
    public void A_console_reading_sees_the_exchange_as_FortiOS_debug_lines()
    {
        var (front, debug) = Start();
        var cursor = Read(debug, -1).Next;
        var client = NewClient();
        var auth = Assert.Single(client.Handle(Exchange(front, client.Start())).Replies);
        Assert.IsType<IkeSaEstablished>(Assert.Single(client.Handle(Exchange(front, auth)).Events));

        var lines = AwaitResult(() => Read(debug, cursor), r => r.Lines.Count >= 5).Lines;
        Assert.Matches(@"^ike 0: IKEv2 exchange=SA_INIT id=[0-9a-f]{16}/0{16}:00000000 len=\d+$", lines[0]);
        Assert.Matches(@"^ike 0:vpn1: sent IKE msg \(SA_INIT_RESPONSE\): [\d.]+:500->192\.168\.7\.2:500, len=\d+, vrf=0, id=[0-9a-f]{16}/[0-9a-f]{16}:00000000$", lines[1]);
        Assert.Matches(@"^ike 0: IKEv2 exchange=AUTH id=[0-9a-f]{16}/[0-9a-f]{16}:00000001 len=\d+$", lines[2]);
        Assert.Matches(@"^ike 0:vpn1: established IKE SA [0-9a-f]{16}/[0-9a-f]{16}$", lines[3]);
        Assert.Matches(@"^ike 0:vpn1: sent IKE msg \(AUTH_RESPONSE\): ", lines[4]);

        // A filter on another peer's address prints none of it.
        Assert.Empty(Read(debug, cursor, new IkeDebugFilter(DstAddr4: IPAddress.Parse("10.9.9.9"))).Lines);
    }

    [Fact]
    public void With_no_console_reading_the_front_builds_no_debug_events()
    {
        var (front, _) = Start();
        var probe = CreateTestProbe();
        Sys.EventStream.Subscribe(probe.Ref, typeof(IkeDebugObserved));
        var client = NewClient();
        var auth = Assert.Single(client.Handle(Exchange(front, client.Start())).Replies);
        Assert.IsType<IkeSaEstablished>(Assert.Single(client.Handle(Exchange(front, auth)).Events));
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void A_flood_of_IKE_gives_a_console_a_bounded_read_and_the_count_it_missed()
    {
        var (front, debug) = Start();
        var cursor = Read(debug, -1).Next;
        var junk = new byte[10];
        for (var i = 0; i < 3000; i++) front.Tell(new IkeDatagram(Peer, 500, junk), ActorRefs.Nobody);
        // Every datagram gives a Received and a Dropped event: 6,000, the ring keeps the last 1,000.
        var read = AwaitResult(() => Read(debug, cursor), r => r.Missed >= 6000 - IkeDebugActor.RingCapacity);
        Assert.Equal(6000 - IkeDebugActor.RingCapacity, read.Missed);
        Assert.Equal(IkeDebugActor.MaxPerRead, read.Lines.Count);
        Assert.Equal(cursor + read.Missed + IkeDebugActor.MaxPerRead, read.Next);
        Assert.Equal("ike 0: comes 192.168.7.2:500, too short for an IKE header", read.Lines[0]);
    }

    private static T AwaitResult<T>(Func<T> get, Func<T, bool> done)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var r = get();
            if (done(r) || DateTime.UtcNow > until) return r;
            Thread.Sleep(50);
        }
    }
}
