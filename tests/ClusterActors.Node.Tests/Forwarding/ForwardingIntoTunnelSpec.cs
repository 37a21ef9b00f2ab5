using System.Net;
using Akka.Actor;
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
/// The unit routes traffic for a dialup client's subnet into the tunnel as a router: one hop, TTL decremented, and a
/// packet whose TTL runs out is dropped, not encrypted. Found with a real strongSwan client (src/Node/lab/strongswan):
/// the Server's replies reached it with TTL 64 through the unit.
/// </summary>
public sealed class ForwardingIntoTunnelSpec : TestKit
{
    private const string Config = """
        config system interface
            edit "port3"
                set ip 172.31.129.254 255.255.255.0
            next
        end
        """;

    private (IActorRef Forwarding, IPacketPort Server) Lab()
    {
        var fabric = new InMemoryFabric();
        fabric.Cable("unit", "port3", "dc");
        fabric.Cable("server", "eth0", "dc");
        var config = FortiConfig.Parse(Config).Value!;
        var forwarding = Sys.ActorOf(ForwardingActor.Props("FGVM02TM22000001", config, fabric.Host("unit"), TestActor));
        forwarding.Tell(new HaRoleChanged("FGVM02TM22000001", HaRole.Primary, "FGVM02TM22000001"));
        var server = fabric.Host("server").Open("eth0", [InterfaceAddress.Parse("172.31.129.1/24")], (_, _) => { });
        // The dialup instance for PC1's subnet is the test actor.
        forwarding.Tell(new TunnelPathChanged("vpn1_0", "vpn1", 0x1000, [(0x0A0A0100u, 0x0A0A01FFu)], TestActor));
        return (forwarding, server);
    }

    [Fact]
    public void A_packet_routed_into_the_tunnel_has_its_TTL_decremented()
    {
        var (_, server) = Lab();
        AwaitAssert(() =>
        {
            Assert.True(server.Send(IPAddress.Parse("172.31.129.254"),
                IcmpEcho.Request(7, 1, new byte[8]).ToReply().InIpv4(IPAddress.Parse("10.10.101.2"), IPAddress.Parse("10.10.1.2"), ttl: 64).ToBytes()));
            var encrypt = FishForMessage<EncryptForTunnel>(_ => true, TimeSpan.FromMilliseconds(300));
            Assert.True(Ipv4Packet.TryParse(encrypt.InnerPacket, out var inner, out _)); // header checksum recomputed
            Assert.Equal(63, inner.Ttl);
        }, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void A_packet_whose_TTL_runs_out_is_dropped_not_encrypted()
    {
        var (forwarding, server) = Lab();
        AwaitCondition(() => server.Send(IPAddress.Parse("172.31.129.254"),
            IcmpEcho.Request(7, 1, new byte[8]).InIpv4(IPAddress.Parse("10.10.101.2"), IPAddress.Parse("10.10.1.2"), ttl: 1).ToBytes()));
        AwaitAssert(() =>
        {
            var status = forwarding.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(3)).Result;
            Assert.Equal(1, status.Drops.GetValueOrDefault("ttl exceeded"));
        }, TimeSpan.FromSeconds(5));
        foreach (var m in ReceiveWhile<object>(TimeSpan.FromMilliseconds(300), m => m)) Assert.IsNotType<EncryptForTunnel>(m);
    }
}
