using System.Buffers.Binary;
using System.Net;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.Drills;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// The embedded lab's capture of the units' ESP names the sender of a frame CLIENT1 refused as a replay, and the chaos
/// drill's `anti-replay` violation prints it (chaos seed 1 run 39 reported only "1 drop" and nobody could tell which
/// unit had sent it).
/// </summary>
public sealed class EspSenderTraceSpec
{
    private static byte[] Esp(IPAddress from, uint spi, uint seq, bool udp = false)
    {
        var esp = new byte[40];
        BinaryPrimitives.WriteUInt32BigEndian(esp, spi);
        BinaryPrimitives.WriteUInt32BigEndian(esp.AsSpan(4), seq);
        return udp
            ? new Ipv4Packet(from, IPAddress.Parse("192.168.129.1"), Ipv4Packet.ProtocolUdp, UdpEncap.Wrap(esp)).ToBytes()
            : new Ipv4Packet(from, IPAddress.Parse("192.168.129.1"), Ipv4Packet.ProtocolEsp, esp).ToBytes();
    }

    [Fact]
    public void A_drop_names_the_unit_that_sent_the_refused_frame_and_the_one_that_sent_the_windows_highest()
    {
        var fabric = new InMemoryFabric();
        fabric.Cable("DC2_VM1", "port2", "dc-uplink");
        fabric.Cable("DC2_VM2", "port2", "dc-uplink");
        fabric.Cable("router", "port1", "dc-uplink");
        var trace = new EspSenderTrace(["DC2_VM1", "DC2_VM2"]);
        fabric.Delivered += trace.Observe;
        var router = fabric.Host("router").Open("port1", [InterfaceAddress.Parse("192.168.129.1/24")], (_, _) => { });
        var vm1 = fabric.Host("DC2_VM1").Open("port2", [InterfaceAddress.Parse("192.168.129.254/24")], (_, _) => { });
        var vm2 = fabric.Host("DC2_VM2").Open("port2", [InterfaceAddress.Parse("192.168.129.253/24")], (_, _) => { });
        var to = IPAddress.Parse("192.168.129.1");

        Assert.True(vm1.Send(to, Esp(IPAddress.Parse("192.168.129.254"), 0xc565eeb7, 0x20000101)));
        Assert.True(vm2.Send(to, Esp(IPAddress.Parse("192.168.129.253"), 0xc565eeb7, 0x100004d2, udp: true)));
        // The router relaying ESP is no unit: not captured as a sender.
        Assert.True(router.Send(IPAddress.Parse("192.168.129.254"), Esp(to, 0xc565eeb7, 0x7)));

        var drop = new AntiReplayDropTrace(DateTimeOffset.UnixEpoch, 0xc565eeb7, 0x100004d2, EspDropReason.TooOld, 0x20000101);
        var line = Assert.Single(trace.Describe([drop]));
        Assert.Contains("spi c565eeb7 seq 100004d2 too old (window highest 20000101", line);
        Assert.Contains("sent by DC2_VM2 at", line);
        Assert.Contains("; highest sent by DC2_VM1 at", line);
        Assert.Equal("sender not captured", trace.Sender(0xc565eeb7, 0x7));
    }

    [Fact]
    public void The_anti_replay_violation_prints_the_traced_drops()
    {
        var observation = ChaosInvariantsSpec.Good() with
        {
            AntiReplayAfter = 1,
            AntiReplayTrace = ["05:11:40.123 spi c565eeb7 seq 100004d2 too old (window highest 20000101, 268434479 behind) sent by DC2_VM2"],
        };
        var v = Assert.Single(ChaosInvariants.Check(observation), x => x.Invariant == ChaosInvariants.AntiReplay);
        Assert.Equal("CLIENT1 anti-replay drops: 1 during the run: 05:11:40.123 spi c565eeb7 seq 100004d2 too old (window highest 20000101, 268434479 behind) sent by DC2_VM2", v.Detail);
    }
}
