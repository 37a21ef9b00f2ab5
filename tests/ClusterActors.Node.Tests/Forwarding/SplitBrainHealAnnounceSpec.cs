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
/// An FGCP pair on the in-memory fabric: FGCP and forwarding of each unit under a stand-in for the unit actor, the
/// heartbeat on an in-memory hbdev that can be cut. After a split brain heals, the unit that stayed primary (DC2_VM1)
/// announces its addresses again, so the router's traffic to the cluster address reaches it, not the unit that
/// announced last during the split; steady heartbeats and a lost member announce nothing.
/// </summary>
public sealed class SplitBrainHealAnnounceSpec() : TestKit("akka.loglevel = WARNING")
{
    private const string Vm1 = "FGVM02TM22000001";
    private const string Vm2 = "FGVM02TM22000002";
    private static readonly IPAddress Router = IPAddress.Parse("10.0.0.1");
    private static readonly IPAddress Cluster = IPAddress.Parse("10.0.0.254");

    private static ConfigDocument Config(string hostname, int priority) => FortiConfig.Parse($$"""
        config system global
            set hostname "{{hostname}}"
        end
        config system interface
            edit "port2"
                set ip 10.0.0.254 255.255.255.0
            next
        end
        config system ha
            set group-id 1
            set group-name "cluster1"
            set mode a-p
            set hbdev "port4" 50
            set hb-interval 1
            set hb-lost-threshold 10
            set priority {{priority}}
        end
        """).Value!;

    /// <summary>One heartbeat segment (the port4 cable between the two units).</summary>
    private sealed class HbSegment
    {
        public readonly List<MemoryHbdevLink> Links = new();
    }

    private sealed class MemoryHbdevLink(HbSegment segment) : IHbdevLink
    {
        private volatile bool _up = true;
        private Action<byte[]>? _heard;

        public string Interface => "port4";
        public bool IsUp => _up;
        public void SetUp(bool up) => _up = up;
        public void Start(Action<byte[]> onDatagram) => _heard = onDatagram;

        public void Send(byte[] datagram)
        {
            if (!_up) return;
            foreach (var link in segment.Links)
                if (link != this && link._up) link._heard?.Invoke(datagram);
        }

        public void CountDropped() { }

        public HbdevCounters Counters => new(0, 0, 0, 0, 0);
        public void Dispose() { }
    }

    /// <summary>What FortiGateUnit does for these two children: FGCP's role and re-announce go to forwarding.</summary>
    private sealed class UnitStandIn : ReceiveActor
    {
        public UnitStandIn(string serial, ConfigDocument config, IPacketIo io, IHbdevLink hbdev)
        {
            var forwarding = Context.ActorOf(ForwardingActor.Props(serial, config, io, Self), "forwarding");
            var fgcp = Context.ActorOf(FgcpActor.Props(serial, config, new Dictionary<string, IHbdevLink> { ["port4"] = hbdev },
                ActorRefs.Nobody, ActorRefs.Nobody), "fgcp");
            Receive<HaRoleChanged>(r => forwarding.Tell(r));
            Receive<SendGratuitousArps>(g => forwarding.Tell(g));
            Receive<SetLinkState>(l => fgcp.Forward(l));
            Receive<GetHaStatus>(q => fgcp.Forward(q));
            Receive<GetForwardingStatus>(q => forwarding.Forward(q));
            Receive<Akka.Done>(_ => { });
        }
    }

    private HaRole? Role(IActorRef unit)
    {
        var s = unit.Ask<HaStatusSnapshot>(GetHaStatus.Instance, TimeSpan.FromSeconds(3)).Result;
        return s.State == HaState.Work ? s.Role : null;
    }

    private long Received(IActorRef unit) => unit.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(3)).Result.Received;

    [Fact]
    public async Task After_a_split_brain_heals_the_primary_that_stayed_primary_announces_again_and_receives_the_traffic()
    {
        var fabric = new InMemoryFabric();
        fabric.Cable("router", "port1", "dc-uplink");
        fabric.Cable("DC2_VM1", "port2", "dc-uplink", answeringOnOpen: false);
        fabric.Cable("DC2_VM2", "port2", "dc-uplink", answeringOnOpen: false);
        var router = fabric.Host("router").Open("port1", [InterfaceAddress.Parse("10.0.0.1/24")], (_, _) => { });
        var hb = new HbSegment();
        hb.Links.AddRange([new MemoryHbdevLink(hb), new MemoryHbdevLink(hb)]);
        var vm1 = Sys.ActorOf(Props.Create(() => new UnitStandIn(Vm1, Config("DC2_VM1", 200), fabric.Host("DC2_VM1"), hb.Links[0])), "vm1");
        var vm2 = Sys.ActorOf(Props.Create(() => new UnitStandIn(Vm2, Config("DC2_VM2", 100), fabric.Host("DC2_VM2"), hb.Links[1])), "vm2");
        long Announcements(string host) => fabric.Wiring.Single(w => w.Host == host).Announcements;
        ushort seq = 0;
        // The DC router pings the cluster address; whoever the link delivers it to counts it as received.
        bool Ping() => router.Send(Cluster, IcmpEcho.Request(0x4b10, ++seq, new byte[8]).InIpv4(Router, Cluster).ToBytes());

        AwaitCondition(() => Role(vm1) == HaRole.Primary && Role(vm2) == HaRole.Secondary, TimeSpan.FromSeconds(10));
        AwaitCondition(() => Announcements("DC2_VM1") == 1, TimeSpan.FromSeconds(3));
        var (vm1Before, vm2Before) = (Received(vm1), Received(vm2));
        Assert.True(Ping());
        AwaitCondition(() => Received(vm1) == vm1Before + 1, TimeSpan.FromSeconds(3));
        // Steady state: heartbeats every 100 ms announce nothing.
        Thread.Sleep(TimeSpan.FromSeconds(1));
        Assert.Equal((1, 0), (Announcements("DC2_VM1"), Announcements("DC2_VM2")));

        // Cut DC2_VM2's heartbeat cable: split brain, DC2_VM2 becomes primary and announces last.
        await vm2.Ask<Akka.Done>(new SetLinkState("port4", false), TimeSpan.FromSeconds(3));
        AwaitCondition(() => Role(vm2) == HaRole.Primary && Announcements("DC2_VM2") == 1, TimeSpan.FromSeconds(8));
        Assert.Equal(HaRole.Primary, Role(vm1));
        var vm2Split = Received(vm2);
        Assert.True(Ping());
        AwaitCondition(() => Received(vm2) == vm2Split + 1, TimeSpan.FromSeconds(3));
        // DC2_VM1 lost its member and stayed primary: nobody else took its addresses because of that, no announcement.
        Assert.Equal(1, Announcements("DC2_VM1"));

        // Plug it back: the two primaries negotiate, DC2_VM1 (priority 200) stays primary and announces again.
        await vm2.Ask<Akka.Done>(new SetLinkState("port4", true), TimeSpan.FromSeconds(3));
        AwaitCondition(() => Role(vm1) == HaRole.Primary && Role(vm2) == HaRole.Secondary, TimeSpan.FromSeconds(5));
        AwaitCondition(() => Announcements("DC2_VM1") >= 2, TimeSpan.FromSeconds(3));
        Assert.Equal(1, Announcements("DC2_VM2"));
        var (vm1Healed, vm2Healed) = (Received(vm1), Received(vm2));
        for (var i = 0; i < 5; i++) Assert.True(Ping());
        AwaitCondition(() => Received(vm1) == vm1Healed + 5, TimeSpan.FromSeconds(3));
        Assert.Equal(vm2Healed, Received(vm2));
        // The heal is announced once per negotiation it causes (one, or two when a second "two primaries" heartbeat
        // crossed it), and no more once the cluster is steady again.
        var afterHeal = Announcements("DC2_VM1");
        Assert.InRange(afterHeal, 2, 3);
        Thread.Sleep(TimeSpan.FromSeconds(1));
        Assert.Equal(afterHeal, Announcements("DC2_VM1"));
    }
}
