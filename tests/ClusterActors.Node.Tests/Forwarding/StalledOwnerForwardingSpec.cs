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
/// A unit that stalls (SIGSTOP) while it owns a tunnel: the frames that waited through the stall are dropped, and every
/// dialup instance hears of the stall before the first frame forwarded after it, so the owner moves its outbound numbers
/// past its peer's takeover before it encrypts again (chaos seed 1 runs 1 and 57: 4–8 anti-replay drops at CLIENT1 from
/// the frames that reached the resumed owner before its peer's takeover record did).
/// </summary>
public sealed class StalledOwnerForwardingSpec : TestKit
{
    /// <summary>hb-interval 200 ms × hb-lost-threshold 6: the stall tolerance is 600 ms.</summary>
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
            edit "port3"
                set ip 172.31.129.254 255.255.255.0
            next
        end
        """;

    private static byte[] Reply(ushort seq) =>
        IcmpEcho.Request(7, seq, new byte[8]).ToReply().InIpv4(IPAddress.Parse("10.10.101.2"), IPAddress.Parse("10.10.1.2"), ttl: 64).ToBytes();

    [Fact]
    public void Frames_that_waited_through_a_stall_are_dropped_and_the_tunnels_hear_of_it_before_the_next_frame()
    {
        var fabric = new InMemoryFabric();
        fabric.Cable("unit", "port3", "dc");
        fabric.Cable("server", "eth0", "dc");
        var forwarding = Sys.ActorOf(ForwardingActor.Props("FGVM02TM22000001", FortiConfig.Parse(Config).Value!, fabric.Host("unit"), TestActor));
        forwarding.Tell(new HaRoleChanged("FGVM02TM22000001", HaRole.Primary, "FGVM02TM22000001"));
        forwarding.Tell(new TunnelPathChanged("vpn1_0", "vpn1", 0x1000, [(0x0A0A0100u, 0x0A0A01FFu)], TestActor));
        var server = fabric.Host("server").Open("eth0", [InterfaceAddress.Parse("172.31.129.1/24")], (_, _) => { });
        var unit = IPAddress.Parse("172.31.129.254");
        // Running: a reply from the Server goes into the tunnel.
        AwaitAssert(() =>
        {
            Assert.True(server.Send(unit, Reply(1)));
            FishForMessage<EncryptForTunnel>(_ => true, TimeSpan.FromMilliseconds(300));
        }, TimeSpan.FromSeconds(5));
        // The readiness loop above may have sent Reply(1) more than once, and on a loaded machine the first one can wait
        // past the 600 ms tolerance while the actor starts (dropped as stale, counted: an eleventh drop). The status ask
        // returns once every frame sent so far is handled; the stall's drops are counted from there.
        var staleBefore = forwarding.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(3)).Result
            .Drops.GetValueOrDefault("stale after stall");
        ReceiveWhile<object>(TimeSpan.FromMilliseconds(200), m => m);

        // SIGSTOP: the unit's actors do not run; what the Server sends meanwhile waits in the forwarding plane's input.
        var frozen = (IInternalActorRef)forwarding;
        frozen.Suspend();
        Thread.Sleep(100);
        for (ushort i = 2; i < 12; i++) Assert.True(server.Send(unit, Reply(i)));
        Thread.Sleep(900); // longer than the 600 ms tolerance
        frozen.Resume();
        Assert.True(server.Send(unit, Reply(12)));

        // Generous waits, the order still exact: ExpectMsg fails on any other next message. With one second for both,
        // CI (2 cores, the other test classes running beside) once saw the stall told and the fresh frame not yet.
        Assert.True(ExpectMsg<UnitStalled>(TimeSpan.FromSeconds(5)).Waited > TimeSpan.FromMilliseconds(600));
        ExpectMsg<EncryptForTunnel>(TimeSpan.FromSeconds(5)); // the fresh frame, after the stall was told; none of the ten that waited
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        var status = forwarding.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(3)).Result;
        Assert.Equal(10, status.Drops.GetValueOrDefault("stale after stall") - staleBefore);
    }
}
