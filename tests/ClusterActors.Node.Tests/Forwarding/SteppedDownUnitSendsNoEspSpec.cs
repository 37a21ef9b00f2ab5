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
/// The hand-back after a stalled owner resumes (chaos seed 1 run 39: SIGSTOP DC2_VM1 3.75 s, one anti-replay drop at
/// CLIENT1). DC2_VM2 owned the tunnel during the stall; when DC2_VM1 came back the traffic moved to it and it encrypted
/// from two jumps on, while a frame that had reached DC2_VM2 just before was still in DC2_VM2's pipeline (forwarding →
/// instance → forwarding). DC2_VM2 sent it after DC2_VM1's first frame, numbered 2^28 below it: left of CLIENT1's window.
/// A unit that stepped down to FGCP secondary forwards nothing, so ESP its instance hands back after the step-down is
/// dropped and counted, never sent.
/// </summary>
public sealed class SteppedDownUnitSendsNoEspSpec : TestKit
{
    private const string Vm2 = "FGVM02TM22000002", Vm1 = "FGVM02TM22000001";

    private const string Config = """
        config system ha
            set group-id 1
            set group-name "DC2_VM12"
            set mode a-p
            set hbdev "port4" 50
            set hb-interval 2
            set hb-lost-threshold 6
        end
        config system interface
            edit "port2"
                set ip 192.168.129.254 255.255.255.0
            next
            edit "port3"
                set ip 172.31.129.254 255.255.255.0
            next
        end
        config router static
            edit 1
                set dst 0.0.0.0 0.0.0.0
                set gateway 192.168.129.1
                set device "port2"
            next
        end
        """;

    private static readonly IPAddress Client = IPAddress.Parse("203.0.113.10"), Gateway = IPAddress.Parse("192.168.129.254");

    private static byte[] Reply(ushort seq) =>
        IcmpEcho.Request(7, seq, new byte[8]).ToReply().InIpv4(IPAddress.Parse("10.10.101.2"), IPAddress.Parse("10.10.1.2"), ttl: 64).ToBytes();

    /// <summary>The ESP the instance would hand back: outer header to the client, the ESP bytes stand in (the forwarding plane does not open them).</summary>
    private static TunnelEncrypted Esp(uint seq)
    {
        var esp = new byte[40];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(esp, 0x5425ec6e);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(esp.AsSpan(4), seq);
        return new TunnelEncrypted(new Ipv4Packet(Gateway, Client, Ipv4Packet.ProtocolEsp, esp).ToBytes());
    }

    [Fact]
    public void ESP_its_instance_hands_back_after_the_unit_stepped_down_to_secondary_is_dropped_never_sent()
    {
        var fabric = new InMemoryFabric();
        fabric.Cable("DC2_VM2", "port2", "dc-uplink");
        fabric.Cable("DC2_VM2", "port3", "dc");
        fabric.Cable("router", "port1", "dc-uplink");
        fabric.Cable("server", "eth0", "dc");
        var sent = new List<uint>();
        var router = fabric.Host("router").Open("port1", [InterfaceAddress.Parse("192.168.129.1/24")], (port, bytes) =>
        {
            if (Ipv4Packet.TryParse(bytes, out var p, out _) && p.Protocol == Ipv4Packet.ProtocolEsp)
                lock (sent) sent.Add(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(p.Payload.AsSpan(4)));
        });
        var server = fabric.Host("server").Open("eth0", [InterfaceAddress.Parse("172.31.129.1/24")], (_, _) => { });
        var forwarding = Sys.ActorOf(ForwardingActor.Props(Vm2, FortiConfig.Parse(Config).Value!, fabric.Host("DC2_VM2"), TestActor));
        forwarding.Tell(new HaRoleChanged(Vm2, HaRole.Primary, Vm2));
        forwarding.Tell(new TunnelPathChanged("vpn1_0", "vpn1", 0x1000, [(0x0A0A0100u, 0x0A0A01FFu)], TestActor));

        // DC2_VM2 primary and owner: a reply from the Server goes into the tunnel and its ESP leaves port2.
        AwaitAssert(() =>
        {
            Assert.True(server.Send(IPAddress.Parse("172.31.129.254"), Reply(1)));
            FishForMessage<EncryptForTunnel>(_ => true, TimeSpan.FromMilliseconds(300));
        }, TimeSpan.FromSeconds(5));
        forwarding.Tell(Esp(0x10000101));
        AwaitCondition(() => { lock (sent) return sent.Contains(0x10000101u); }, TimeSpan.FromSeconds(3));

        // A second reply reaches it; while its instance encrypts, DC2_VM1 (resumed, priority 200) wins and DC2_VM2 steps down.
        Assert.True(server.Send(IPAddress.Parse("172.31.129.254"), Reply(2)));
        FishForMessage<EncryptForTunnel>(_ => true, TimeSpan.FromSeconds(3));
        forwarding.Tell(new HaRoleChanged(Vm2, HaRole.Secondary, Vm1));
        forwarding.Tell(Esp(0x10000102)); // the instance's answer, after the step-down

        var status = forwarding.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(3)).Result;
        Assert.False(status.Answering);
        Assert.Equal(1, status.Drops.GetValueOrDefault("esp while not primary"));
        lock (sent) Assert.Equal([0x10000101u], sent);
    }
}
