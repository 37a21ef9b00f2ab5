using System.Buffers.Binary;
using System.Net;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Tests.Forwarding;

/// <summary>
/// The forwarding plane finds a dialup instance through <see cref="TunnelPaths"/> and follows every change of path:
/// ESP by inbound SPI (two instances synced from two units can share one; the client's address decides), traffic by
/// the narrowest remote selector, and nothing for an instance that is gone. The dictionary and scan it replaced sent a
/// shared SPI's ESP to whichever instance was told last, forgot the SPI for both when either went, and sent traffic to
/// whichever overlapping instance it enumerated first.
/// </summary>
public sealed class TunnelPathWiringSpec : TestKit
{
    private const string Config = """
        config system interface
            edit "port2"
                set ip 192.168.202.35 255.255.255.0
            next
            edit "port3"
                set ip 172.31.129.254 255.255.255.0
            next
        end
        """;

    private static readonly IPAddress Unit = IPAddress.Parse("192.168.202.35"), UnitDc = IPAddress.Parse("172.31.129.254");
    private static readonly IPAddress Client1 = IPAddress.Parse("192.168.202.1"), Client2 = IPAddress.Parse("192.168.202.2"),
        Client3 = IPAddress.Parse("192.168.202.3");

    private (IActorRef Forwarding, IPacketPort Wan, IPacketPort Server) Lab()
    {
        var fabric = new InMemoryFabric();
        fabric.Cable("unit", "port2", "wan");
        fabric.Cable("unit", "port3", "dc");
        fabric.Cable("clients", "eth0", "wan");
        fabric.Cable("server", "eth0", "dc");
        var config = FortiConfig.Parse(Config).Value!;
        var forwarding = Sys.ActorOf(ForwardingActor.Props("FGVM02TM22000001", config, fabric.Host("unit"), TestActor));
        forwarding.Tell(new HaRoleChanged("FGVM02TM22000001", HaRole.Primary, "FGVM02TM22000001"));
        var wan = fabric.Host("clients").Open("eth0", [InterfaceAddress.Parse("192.168.202.1/24")], (_, _) => { });
        var server = fabric.Host("server").Open("eth0", [InterfaceAddress.Parse("172.31.129.1/24")], (_, _) => { });
        // The ports answer once the role has reached the actor.
        AwaitCondition(() => forwarding.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(3)).Result.Answering);
        return (forwarding, wan, server);
    }

    private static TunnelPathChanged Path(string key, uint spi, IPAddress gateway, string remote, IActorRef tunnel)
    {
        var selector = InterfaceAddress.Parse(remote);
        var start = Ipv4Address.ToUInt32(selector.Address);
        var end = start | (selector.PrefixLength == 0 ? uint.MaxValue : (1u << (32 - selector.PrefixLength)) - 1);
        return new TunnelPathChanged(key, "vpn1", spi, [(start, end)], tunnel) { RemoteGateway = gateway };
    }

    /// <summary>ESP (IP protocol 50) from a client to the unit: SPI, sequence number, and some bytes.</summary>
    private static void Esp(IPacketPort wan, IPAddress from, uint spi, uint seq)
    {
        var esp = new byte[32];
        BinaryPrimitives.WriteUInt32BigEndian(esp, spi);
        BinaryPrimitives.WriteUInt32BigEndian(esp.AsSpan(4), seq);
        Assert.True(wan.Send(Unit, new Ipv4Packet(from, Unit, Ipv4Packet.ProtocolEsp, esp).ToBytes()));
    }

    private static void ToPc(IPacketPort server, string pc) =>
        Assert.True(server.Send(UnitDc, IcmpEcho.Request(7, 1, new byte[8]).InIpv4(IPAddress.Parse("172.31.129.1"), IPAddress.Parse(pc), ttl: 64).ToBytes()));

    private static long Drops(IActorRef forwarding, string why) =>
        forwarding.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(3)).Result.Drops.GetValueOrDefault(why);

    [Fact]
    public void Two_instances_that_share_an_inbound_SPI_each_get_their_own_clients_ESP_and_keep_it_when_the_other_goes()
    {
        var (forwarding, wan, _) = Lab();
        TestProbe a = CreateTestProbe(), b = CreateTestProbe();
        // Synced from two units, each of which picked 0x1000 for its own client.
        forwarding.Tell(Path("vpn1/a", 0x1000, Client1, "10.10.1.0/24", a));
        forwarding.Tell(Path("vpn1/b", 0x1000, Client2, "10.10.2.0/24", b));

        Esp(wan, Client1, 0x1000, 1);
        Assert.Equal(Client1, a.ExpectMsg<EspArrived>().From);
        Esp(wan, Client2, 0x1000, 1);
        Assert.Equal(Client2, b.ExpectMsg<EspArrived>().From);
        a.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // a's client deleted its tunnel: b's ESP still finds b.
        forwarding.Tell(new TunnelPathRemoved("vpn1/a"));
        Esp(wan, Client2, 0x1000, 2);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32BigEndian(b.ExpectMsg<EspArrived>().Esp.AsSpan(4)));
        Assert.Equal(0, Drops(forwarding, "esp unknown spi"));
    }

    [Fact]
    public void A_path_that_changes_takes_the_next_packet_ESP_to_a_new_SPI_and_from_a_new_client_address()
    {
        var (forwarding, wan, _) = Lab();
        TestProbe a = CreateTestProbe(), b = CreateTestProbe();
        forwarding.Tell(Path("vpn1/a", 0x1000, Client1, "10.10.1.0/24", a));
        forwarding.Tell(Path("vpn1/b", 0x1000, Client2, "10.10.2.0/24", b));

        // a's client now reaches the unit from another address: its ESP goes to a, b's stays with b.
        forwarding.Tell(Path("vpn1/a", 0x1000, Client3, "10.10.1.0/24", a));
        Esp(wan, Client3, 0x1000, 1);
        Assert.Equal(Client3, a.ExpectMsg<EspArrived>().From);
        Esp(wan, Client2, 0x1000, 1);
        Assert.Equal(Client2, b.ExpectMsg<EspArrived>().From);
        a.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // b rekeyed (new inbound SPI): ESP to the new SPI reaches it, the old SPI is a's alone now.
        forwarding.Tell(Path("vpn1/b", 0x2000, Client2, "10.10.2.0/24", b));
        Esp(wan, Client2, 0x2000, 1);
        b.ExpectMsg<EspArrived>();
        Esp(wan, Client2, 0x1000, 2);
        a.ExpectMsg<EspArrived>(); // a's keys will not open it: the instance drops it on its ICV, as it would a forgery
        b.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Traffic_goes_into_the_narrowest_instance_and_never_into_one_that_is_gone()
    {
        var (forwarding, wan, server) = Lab();
        TestProbe wide = CreateTestProbe(), narrow = CreateTestProbe();
        // A client that claims everything (0.0.0.0/0) dialed before PC1's client.
        forwarding.Tell(Path("vpn1/wide", 0x1000, Client1, "0.0.0.0/0", wide));
        forwarding.Tell(Path("vpn1/narrow", 0x2000, Client2, "10.10.1.0/24", narrow));

        ToPc(server, "10.10.1.2");
        narrow.ExpectMsg<EncryptForTunnel>();
        wide.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // PC1's client is gone: its subnet's traffic falls to the route that is left, the wide instance.
        forwarding.Tell(new TunnelPathRemoved("vpn1/narrow"));
        ToPc(server, "10.10.1.2");
        wide.ExpectMsg<EncryptForTunnel>();
        narrow.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // And with no instance left, nothing goes into any tunnel; its ESP is for no one.
        forwarding.Tell(new TunnelPathRemoved("vpn1/wide"));
        ToPc(server, "10.10.1.2");
        AwaitCondition(() => Drops(forwarding, "no route") == 1);
        Esp(wan, Client1, 0x1000, 1);
        Esp(wan, Client2, 0x2000, 1);
        AwaitCondition(() => Drops(forwarding, "esp unknown spi") == 2);
        wide.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        narrow.ExpectNoMsg(TimeSpan.FromMilliseconds(10));
    }
}
