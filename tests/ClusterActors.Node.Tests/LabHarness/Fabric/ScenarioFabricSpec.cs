using System.Diagnostics;
using System.Net;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Tests.LabHarness.Fabric;

public class ScenarioFabricSpec
{
    private const string Lb1 = "192.168.202.35";
    private static readonly ScenarioFabricOptions Stepped = new() { Router = new LabRouterOptions { ProbeTimers = false } };

    [Fact]
    public void The_wiring_is_the_seed_scenarios_table()
    {
        string[] expected =
        [
            "CLIENT1 port1 wan 192.168.7.2/24",
            "dc-router wan wan 192.168.7.1/24",
            "DC2_VM1 port2 c1-port2 192.168.129.254/24",
            "DC2_VM2 port2 c1-port2 192.168.129.254/24",
            "dc-router c1 c1-port2 192.168.129.1/24",
            "DC2_VM3 port2 c2-port2 192.168.130.254/24",
            "DC2_VM4 port2 c2-port2 192.168.130.254/24",
            "dc-router c2 c2-port2 192.168.130.1/24",
            "DC2_VM1 port3 c1-port3 172.31.129.254/24",
            "DC2_VM2 port3 c1-port3 172.31.129.254/24",
            "dc-core c1 c1-port3 172.31.129.1/24",
            "DC2_VM3 port3 c2-port3 172.31.130.254/24",
            "DC2_VM4 port3 c2-port3 172.31.130.254/24",
            "dc-core c2 c2-port3 172.31.130.1/24",
            "dc-core srv server 10.10.101.1/24",
            "Server eth0 server 10.10.101.2/24",
            "DC2_VM1 port5 fgsp 172.31.2.1/24",
            "DC2_VM2 port5 fgsp 172.31.2.1/24",
            "DC2_VM3 port5 fgsp 172.31.2.2/24",
            "DC2_VM4 port5 fgsp 172.31.2.2/24",
            "CLIENT1 port2 lan 10.10.1.1/24",
            "PC1 eth0 lan 10.10.1.2/24",
        ];

        Assert.Equal(expected, ScenarioFabric.Wiring.Select(w => $"{w.Host} {w.Interface} {w.Segment} {w.Address}"));
        foreach (var w in ScenarioFabric.Wiring)
        {
            var segment = Assert.Single(ScenarioFabric.Segments, s => s.Name == w.Segment);
            Assert.True(segment.Prefix.Contains(w.Address.Address), $"{w.Host} {w.Interface} {w.Address} is outside {segment.Prefix}");
            Assert.Equal(segment.Prefix.Length, w.Address.PrefixLength);
        }
        Assert.Equal(ScenarioFabric.Lb1, ScenarioFabric.AddressOf("DC2_VM4", "lb1"));
        Assert.Equal("192.168.202.35/32", ScenarioFabric.Lb1.ToString());
        Assert.Throws<ArgumentException>(() => ScenarioFabric.AddressOf("DC2_VM1", "port4"));
    }

    [Fact]
    public void Every_host_route_leaves_through_its_own_interface_to_a_router_leg_on_that_link()
    {
        foreach (var r in ScenarioFabric.HostRoutes)
        {
            var iface = Assert.Single(ScenarioFabric.Wiring, w => w.Host == r.Host && w.Interface == r.Interface);
            var gateway = Assert.Single(ScenarioFabric.Wiring, w => w.Address.Address.Equals(r.Via));
            Assert.Equal(iface.Segment, gateway.Segment);
            Assert.Contains(gateway.Host, new[] { ScenarioFabric.DcRouterHost, ScenarioFabric.DcCoreHost, ScenarioFabric.Client1Host });
        }
    }

    [Fact]
    public void Build_lays_every_cable_and_leaves_the_units_CLIENT1_and_PC1_to_open_their_own_interfaces()
    {
        using var lab = ScenarioFabric.Build(Stepped);
        var (fabric, router, core, server) = lab;

        Assert.Equal(ScenarioFabric.Wiring.Count, fabric.Wiring.Count);
        Assert.Equal(
            ["dc-router wan", "dc-router c1", "dc-router c2", "dc-core c1", "dc-core c2", "dc-core srv", "Server eth0"],
            fabric.Wiring.Where(w => w.Open).Select(w => $"{w.Host} {w.Interface}"));
        foreach (var w in ScenarioFabric.Wiring.Where(w => !fabric.Wiring.Single(c => c.Host == w.Host && c.Interface == w.Interface).Open))
            using (fabric.Host(w.Host).Open(w.Interface, [w.Address], (_, _) => { })) { }
        var uncabled = Assert.Throws<InvalidOperationException>(() => fabric.Host("DC2_VM1").Open("lb1", [ScenarioFabric.Lb1], (_, _) => { }));
        Assert.Contains("port2, port3, port5", uncabled.Message);

        Assert.Equal("dc-router", router.Name);
        Assert.Equal("dc-core", core.Name);
        Assert.Equal(IPAddress.Parse("10.10.101.1"), server.Gateway);
        Assert.Contains("192.168.202.35/32 ecmp (flow hash: source+destination seed 1, probe 100ms x 3)\n", router.Describe());
        Assert.Contains("    via 192.168.129.254 dev c1 alive    ", router.Describe());
        Assert.Contains("10.10.1.0/24 reverse-path", core.Describe());
        var wiring = ScenarioFabric.DescribeWiring();
        Assert.Contains("c1-port2 192.168.129.0/24  (cluster 1 (DC2_VM1/2) port2 to the DC router)\n", wiring);
        Assert.Contains("    DC2_VM2 port2", wiring);
        Assert.Contains("lb1 192.168.202.35/32 on DC2_VM1, DC2_VM2, DC2_VM3, DC2_VM4 (loopback, not cabled)", wiring);
    }

    [Fact]
    public void The_hash_seed_puts_CLIENT1_on_cluster_1_as_in_the_seed_and_the_options_reach_the_fabric()
    {
        using var seeded = ScenarioFabric.Build(Stepped);
        using var plain = ScenarioFabric.Build(Stepped with { EcmpHashSeed = 0, UnitsAnswerOnOpen = false });
        var client = IPAddress.Parse("192.168.7.2");

        Assert.Equal("192.168.129.254", seeded.DcRouter.Resolve(client, IPAddress.Parse(Lb1))!.NextHop.ToString());
        Assert.Equal("192.168.130.254", plain.DcRouter.Resolve(client, IPAddress.Parse(Lb1))!.NextHop.ToString());
        Assert.True(seeded.Fabric.Host("DC2_VM1").Open("port2", [ScenarioFabric.AddressOf("DC2_VM1", "port2")], (_, _) => { }).Answering);
        Assert.False(plain.Fabric.Host("DC2_VM1").Open("port2", [ScenarioFabric.AddressOf("DC2_VM1", "port2")], (_, _) => { }).Answering);
        Assert.True(plain.Fabric.Host("CLIENT1").Open("port1", [ScenarioFabric.AddressOf("CLIENT1", "port1")], (_, _) => { }).Answering);
    }

    private static TestNode Unit(InMemoryFabric fabric, string unit, string iface, bool answering)
    {
        var address = ScenarioFabric.AddressOf(unit, iface);
        var gateway = ScenarioFabric.HostRoutes.First(r => r.Host == unit && r.Interface == iface).Via.ToString();
        var node = new TestNode(fabric.Host(unit), iface, address.ToString(), gateway, [Lb1]);
        node.Port.Answering = answering;
        return node;
    }

    /// <summary>Whether echo request <paramref name="seq"/> from the client reached <paramref name="unit"/> and its reply came back.</summary>
    private static bool RoundTrip(TestNode client, TestNode unit, ushort seq) =>
        unit.Received.Any(p => p.Source.Equals(client.Address.Address) && IcmpEcho.TryParse(p.Payload, out var e) && e.Sequence == seq)
        && client.Received.Any(p => p.Source.ToString() == Lb1 && IcmpEcho.TryParse(p.Payload, out var e) && e.Type == IcmpEchoType.Reply && e.Sequence == seq);

    /// <summary>Pings lb1 every 20 ms until a ping makes the round trip through <paramref name="expectedUnit"/>.</summary>
    private static bool ReplyWithin(TestNode client, TestNode expectedUnit, TimeSpan limit, ref ushort seq)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < limit)
        {
            client.Ping(Lb1, id: 0x77, seq: ++seq);
            if (RoundTrip(client, expectedUnit, seq))
                return true;
            Thread.Sleep(20);
        }
        return false;
    }

    [Fact]
    public void End_to_end_a_cluster_failover_is_invisible_to_the_router_and_a_dead_cluster_loses_its_flow_to_the_other()
    {
        using var lab = ScenarioFabric.Build(); // real probe timers, 100 ms x 3
        var vm1 = Unit(lab.Fabric, "DC2_VM1", "port2", answering: true);
        var vm2 = Unit(lab.Fabric, "DC2_VM2", "port2", answering: false);
        var vm3 = Unit(lab.Fabric, "DC2_VM3", "port2", answering: true);
        var vm4 = Unit(lab.Fabric, "DC2_VM4", "port2", answering: false);
        var client = new TestNode(lab.Fabric.Host("CLIENT1"), "port1", "192.168.7.2/24", "192.168.7.1");
        ushort seq = 0;

        // The seed: CLIENT1's traffic to lb1 lands on cluster 1's primary.
        Assert.True(client.Ping(Lb1, id: 0x77, seq: ++seq));
        Assert.True(RoundTrip(client, vm1, seq));

        // FGCP failover inside cluster 1: VM1 dies, VM2 takes the address (GARP). Same next hop for the router.
        vm1.Dispose();
        vm2.Port.Answering = true;
        Assert.True(ReplyWithin(client, vm2, TimeSpan.FromSeconds(1), ref seq));
        Assert.DoesNotContain("dead", lab.DcRouter.Describe());

        // Cluster 1 gone from the link: the router's probes miss, the flow moves to cluster 2's primary.
        var pulled = Stopwatch.StartNew();
        lab.Fabric.SetCable("DC2_VM2", "port2", plugged: false);
        Assert.True(ReplyWithin(client, vm3, TimeSpan.FromSeconds(2), ref seq), lab.DcRouter.Describe());
        Assert.True(pulled.Elapsed < TimeSpan.FromSeconds(2));
        Assert.Contains("    via 192.168.129.254 dev c1 dead     3 missed probes, down since ", lab.DcRouter.Describe());
        Assert.DoesNotContain(vm4.Received, p => p.Source.Equals(client.Address.Address));

        // Cluster 1 back: the first answered probe restores it and the flow returns.
        lab.Fabric.SetCable("DC2_VM2", "port2", plugged: true);
        Assert.True(ReplyWithin(client, vm2, TimeSpan.FromSeconds(2), ref seq), lab.DcRouter.Describe());
        Assert.True(lab.DcRouter.Counters.DroppedUnreachable > 0); // the blackhole before detection was counted
    }

    [Fact]
    public void End_to_end_the_Server_answers_and_its_reply_goes_back_through_the_unit_that_forwarded_the_request()
    {
        using var lab = ScenarioFabric.Build(Stepped);
        var vm1 = Unit(lab.Fabric, "DC2_VM1", "port3", answering: true);
        var vm3 = Unit(lab.Fabric, "DC2_VM3", "port3", answering: true);
        var vm2 = Unit(lab.Fabric, "DC2_VM2", "port3", answering: false);

        Assert.True(vm1.Ping("10.10.101.2", source: "10.10.1.2", seq: 1)); // PC1's request out of the tunnel on VM1
        Assert.Equal(1, vm1.RepliesFrom("10.10.101.2"));

        Assert.True(vm3.Ping("10.10.101.2", source: "10.10.1.2", seq: 2)); // the tunnel now on cluster 2
        Assert.Equal(1, vm3.RepliesFrom("10.10.101.2"));
        Assert.Equal(1, vm1.RepliesFrom("10.10.101.2"));
        Assert.Empty(vm2.Received);

        Assert.Equal(2, lab.Server.EchoRequestsAnswered);
        Assert.Equal(0, lab.Server.RepliesFailed);
        var reply = vm3.Received.Single();
        Assert.Equal(Ipv4Packet.DefaultTtl - 1, reply.Ttl); // the Server's fresh TTL, one hop through the DC core
    }
}
