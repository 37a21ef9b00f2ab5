using System.Net;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Tests.LabHarness.Fabric;

public class LabRouterSpec
{
    private const string Lb1 = "192.168.202.35";
    private const string C1 = "192.168.129.254";
    private const string C2 = "192.168.130.254";

    /// <summary>
    /// Router r: leg a 10.0.1.1 (hostA .2), leg b 10.0.2.1 (hostB .2), legs c1/c2 towards two fake units that own lb1
    /// and answer echo; lb1/32 is ECMP over both units. Probe timers off: the tests step probing with ProbeNow.
    /// </summary>
    private sealed class Bench : IDisposable
    {
        public readonly InMemoryFabric Fabric = new();
        public readonly LabRouter Router;
        public readonly TestNode HostA, HostB;
        public TestNode Unit1, Unit2;

        public Bench(ProbeOptions? probe = null, bool timers = false, bool ecmp = true, TimeProvider? time = null)
        {
            Fabric.Cable("r", "a", "a");
            Fabric.Cable("r", "b", "b");
            Fabric.Cable("r", "c1", "c1");
            Fabric.Cable("r", "c2", "c2");
            Fabric.Cable("hostA", "eth0", "a");
            Fabric.Cable("hostB", "eth0", "b");
            Fabric.Cable("unit1", "port2", "c1");
            Fabric.Cable("unit2", "port2", "c2");
            Router = new LabRouter("r", Fabric.Host("r"), new LabRouterOptions { ProbeTimers = timers, Time = time ?? TimeProvider.System });
            Router.AddLeg("a", "10.0.1.1/24");
            Router.AddLeg("b", "10.0.2.1/24");
            Router.AddLeg("c1", "192.168.129.1/24");
            Router.AddLeg("c2", "192.168.130.1/24");
            HostA = new TestNode(Fabric.Host("hostA"), "eth0", "10.0.1.2/24", "10.0.1.1");
            HostB = new TestNode(Fabric.Host("hostB"), "eth0", "10.0.2.2/24", "10.0.2.1");
            Unit1 = NewUnit1();
            Unit2 = new TestNode(Fabric.Host("unit2"), "port2", C2 + "/24", "192.168.130.1", [Lb1]);
            if (ecmp)
                Router.AddEcmpRoute(Lb1 + "/32", [C1, C2], probe);
        }

        public TestNode NewUnit1() => Unit1 = new TestNode(Fabric.Host("unit1"), "port2", C1 + "/24", "192.168.129.1", [Lb1]);

        public void Probe(int rounds)
        {
            for (int i = 0; i < rounds; i++)
                Router.ProbeNow();
        }

        /// <summary>Synthetic client addresses whose flow to lb1 the router sends to <paramref name="nextHop"/> now.</summary>
        public string ClientOn(string nextHop) =>
            Enumerable.Range(2, 250).Select(i => $"10.0.1.{i}").First(s => Router.Resolve(IPAddress.Parse(s), IPAddress.Parse(Lb1))?.NextHop.ToString() == nextHop);

        public void Dispose()
        {
            Router.Dispose();
        }
    }

    private static Ipv4Packet Esp(string source, string destination, byte ttl = 64, byte[]? payload = null) =>
        new(IPAddress.Parse(source), IPAddress.Parse(destination), Ipv4Packet.ProtocolEsp, payload ?? [0, 0, 0x10, 0x01, 0, 0, 0, 1, 0xAB], ttl);

    private static Ipv4Packet Ike(string source, string destination) =>
        new(IPAddress.Parse(source), IPAddress.Parse(destination), Ipv4Packet.ProtocolUdp, [0x01, 0xF4, 0x01, 0xF4, 0, 12, 0, 0, 9, 9, 9, 9]);

    // ---- forwarding ----------------------------------------------------------------------------------------------

    [Fact]
    public void Forwarding_decrements_the_TTL_recomputes_the_checksum_and_keeps_the_rest_intact()
    {
        using var b = new Bench();
        var sent = Esp("10.0.1.2", "10.0.2.2", ttl: 10);
        var bytes = sent.ToBytes();
        var original = bytes.ToArray();

        Assert.True(b.HostA.Send(bytes, sent.Destination));

        var got = Assert.Single(b.HostB.Received); // TestNode asserts it parses, i.e. the header checksum is right
        Assert.Equal(sent with { Ttl = 9 }, got);
        Assert.Equal(original, bytes); // the sender's buffer is not touched
        Assert.Equal(1, b.Router.Counters.Forwarded);
        Assert.Equal(1, b.Router.Counters.Received);
    }

    [Fact]
    public void A_packet_whose_TTL_would_reach_zero_is_dropped_and_counted()
    {
        using var b = new Bench();

        b.HostA.Send(Esp("10.0.1.2", "10.0.2.2", ttl: 1));
        b.HostA.Send(Esp("10.0.1.2", "10.0.2.2", ttl: 0));
        b.HostA.Send(Esp("10.0.1.2", "10.0.2.2", ttl: 2));

        var got = Assert.Single(b.HostB.Received);
        Assert.Equal(1, got.Ttl);
        Assert.Equal(2, b.Router.Counters.DroppedTtl);
        Assert.Equal(1, b.Router.Counters.Forwarded);
    }

    [Fact]
    public void No_route_unreachable_next_hop_and_malformed_packets_are_dropped_and_counted()
    {
        using var b = new Bench();

        b.HostA.Send(Esp("10.0.1.2", "8.8.8.8"));           // no route
        b.HostA.Send(Esp("10.0.1.2", "10.0.2.77"));         // connected, but nobody answers there
        b.HostA.Port.Send(IPAddress.Parse("10.0.1.1"), [0x45, 0, 0, 20]); // truncated

        var c = b.Router.Counters;
        Assert.Equal((1, 1, 1, 0), (c.DroppedNoRoute, c.DroppedUnreachable, c.DroppedMalformed, c.Forwarded));
        Assert.Empty(b.HostB.Received);
        Assert.Contains("dropped no-route 1, dropped TTL 0, unreachable 1, malformed 1", b.Router.Describe());
    }

    [Fact]
    public void The_router_answers_echo_to_each_of_its_own_addresses()
    {
        using var b = new Bench();

        Assert.True(b.HostA.Ping("10.0.1.1", id: 5, seq: 1));
        Assert.True(b.HostA.Ping("10.0.2.1", id: 5, seq: 2)); // another leg's address, answered through leg a
        b.HostA.Send(Ike("10.0.1.2", "10.0.1.1"));             // not echo: taken locally, no answer

        Assert.Equal(1, b.HostA.RepliesFrom("10.0.1.1"));
        Assert.Equal(1, b.HostA.RepliesFrom("10.0.2.1"));
        var reply = b.HostA.Received.First(p => p.Source.Equals(IPAddress.Parse("10.0.2.1")));
        Assert.True(IcmpEcho.TryParse(reply.Payload, out var echo));
        Assert.Equal((IcmpEchoType.Reply, (ushort)5, (ushort)2), (echo.Type, echo.Identifier, echo.Sequence));
        Assert.Equal(3, b.Router.Counters.Local);
        Assert.Equal(2, b.Router.Counters.EchoReplies);
        Assert.Empty(b.HostB.Received);
    }

    // ---- ECMP ----------------------------------------------------------------------------------------------------

    [Fact]
    public void Ecmp_sends_each_flow_where_EcmpSelection_says_and_keeps_a_clients_IKE_and_ESP_together()
    {
        using var b = new Bench();
        var hops = new[] { IPAddress.Parse(C1), IPAddress.Parse(C2) };
        var onUnit1 = 0;

        for (int i = 2; i < 42; i++)
        {
            string client = $"10.0.1.{i}";
            var expected = EcmpSelection.Choose(IPAddress.Parse(client), IPAddress.Parse(Lb1), hops)!;
            var decision = b.Router.Resolve(IPAddress.Parse(client), IPAddress.Parse(Lb1));
            Assert.Equal(new RouteDecision(Ipv4Prefix.Parse(Lb1 + "/32"), RouteKind.Ecmp, expected, expected.ToString() == C1 ? "c1" : "c2"), decision);

            b.HostA.Send(Ike(client, Lb1));
            b.HostA.Send(Esp(client, Lb1));

            var unit = expected.ToString() == C1 ? b.Unit1 : b.Unit2;
            var other = unit == b.Unit1 ? b.Unit2 : b.Unit1;
            var mine = unit.NonEchoRequests.Where(p => p.Source.ToString() == client).Select(p => p.Protocol).ToArray();
            Assert.Equal([Ipv4Packet.ProtocolUdp, Ipv4Packet.ProtocolEsp], mine);
            Assert.DoesNotContain(other.Received, p => p.Source.ToString() == client);
            if (unit == b.Unit1)
                onUnit1++;
        }
        Assert.InRange(onUnit1, 8, 32); // both next hops are used
    }

    [Fact]
    public void Three_missed_probes_take_a_next_hop_out_and_one_answer_brings_its_flows_back()
    {
        using var b = new Bench(ProbeOptions.Default);
        b.Probe(1);
        Assert.Equal(1, b.Unit1.EchoRequestsAnswered); // probed from the router's leg address, answered on-link
        Assert.All(b.Router.Routes[^1].NextHops, h => Assert.True(h.Alive));
        string client = b.ClientOn(C1);
        string stayer = b.ClientOn(C2);

        b.Unit1.Dispose(); // cluster 1 gone
        b.Probe(3);        // the probe outstanding at the kill, then two misses
        Assert.Equal(C1, b.Router.Resolve(IPAddress.Parse(client), IPAddress.Parse(Lb1))!.NextHop.ToString());
        b.HostA.Send(Esp(client, Lb1));
        Assert.Equal(1, b.Router.Counters.DroppedUnreachable); // blackholed until detection

        b.Probe(1); // third miss
        var c1 = b.Router.Routes.Single(r => r.Kind == RouteKind.Ecmp).NextHops[0];
        Assert.False(c1.Alive);
        Assert.Equal(3, c1.ConsecutiveMissed);
        Assert.Equal(C2, b.Router.Resolve(IPAddress.Parse(client), IPAddress.Parse(Lb1))!.NextHop.ToString());
        Assert.Equal(C2, b.Router.Resolve(IPAddress.Parse(stayer), IPAddress.Parse(Lb1))!.NextHop.ToString());
        b.HostA.Send(Esp(client, Lb1));
        Assert.Single(b.Unit2.NonEchoRequests, p => p.Source.ToString() == client);
        var text = b.Router.Describe();
        Assert.Contains("192.168.202.35/32 ecmp (flow hash: source+destination, probe 100ms x 3)\n", text);
        Assert.Contains("    via 192.168.129.254 dev c1 dead     3 missed probes, down since ", text);
        Assert.Contains("    via 192.168.130.254 dev c2 alive    probes sent 5, missed 0, forwarded 1\n", text);

        b.NewUnit1(); // cluster 1 back
        b.Probe(1);   // first answer
        Assert.True(b.Router.Routes.Single(r => r.Kind == RouteKind.Ecmp).NextHops[0].Alive);
        Assert.Equal(C1, b.Router.Resolve(IPAddress.Parse(client), IPAddress.Parse(Lb1))!.NextHop.ToString());
        b.HostA.Send(Esp(client, Lb1));
        Assert.Single(b.Unit1.NonEchoRequests, p => p.Source.ToString() == client);
    }

    [Fact]
    public void Probe_interval_and_misses_are_per_route_settings()
    {
        using var b = new Bench(new ProbeOptions(TimeSpan.FromMilliseconds(250), 1));
        b.Probe(1);
        b.Unit2.AnswerEcho = false; // alive but deaf to pings: a probe-based router cannot tell

        b.Probe(1);
        Assert.True(b.Router.Routes[^1].NextHops[1].Alive);
        b.Probe(1);
        Assert.False(b.Router.Routes[^1].NextHops[1].Alive);
        Assert.Contains("probe 250ms x 1", b.Router.Describe());
    }

    [Fact]
    public void Losing_carrier_on_the_routers_own_leg_withdraws_its_next_hops_at_once()
    {
        using var b = new Bench(ProbeOptions.Default);
        b.Probe(1);
        string client = b.ClientOn(C1);

        b.Fabric.SetCable("r", "c1", plugged: false);
        Assert.Equal(C2, b.Router.Resolve(IPAddress.Parse(client), IPAddress.Parse(Lb1))!.NextHop.ToString());

        b.Fabric.SetCable("r", "c1", plugged: true);
        Assert.Equal(C2, b.Router.Resolve(IPAddress.Parse(client), IPAddress.Parse(Lb1))!.NextHop.ToString()); // until a probe is answered
        b.Probe(1);
        Assert.Equal(C1, b.Router.Resolve(IPAddress.Parse(client), IPAddress.Parse(Lb1))!.NextHop.ToString());
    }

    [Fact]
    public void With_every_next_hop_dead_the_route_is_withdrawn_packets_drop_or_take_a_less_specific_route()
    {
        using var b = new Bench(ProbeOptions.Default);
        b.Probe(1);
        b.Unit1.Dispose();
        b.Unit2.Dispose();
        b.Probe(4);

        Assert.Null(b.Router.Resolve(IPAddress.Parse("10.0.1.2"), IPAddress.Parse(Lb1)));
        b.HostA.Send(Esp("10.0.1.2", Lb1));
        Assert.Equal(1, b.Router.Counters.DroppedNoRoute);

        b.Router.AddStaticRoute("0.0.0.0/0", "10.0.2.2");
        b.HostA.Send(Esp("10.0.1.2", Lb1));
        Assert.Single(b.HostB.Received);
        Assert.Contains("0.0.0.0/0 static (no probe)\n    via 10.0.2.2 dev b alive    carrier, forwarded 1\n", b.Router.Describe());
    }

    [Fact]
    public void An_unprobed_route_follows_only_the_carrier_of_its_leg()
    {
        using var b = new Bench(ProbeOptions.Disabled);
        string client = b.ClientOn(C1);
        b.Unit1.Dispose(); // nobody checks

        Assert.Equal(C1, b.Router.Resolve(IPAddress.Parse(client), IPAddress.Parse(Lb1))!.NextHop.ToString());
        b.Fabric.SetCable("r", "c1", false);
        Assert.Equal(C2, b.Router.Resolve(IPAddress.Parse(client), IPAddress.Parse(Lb1))!.NextHop.ToString());
        b.Fabric.SetCable("r", "c1", true);
        Assert.Equal(C1, b.Router.Resolve(IPAddress.Parse(client), IPAddress.Parse(Lb1))!.NextHop.ToString());
        Assert.Equal(0, b.Unit2.EchoRequestsAnswered);
    }

    [Fact]
    public void The_probe_thread_probes_on_its_own_and_stops_when_the_router_is_disposed()
    {
        var b = new Bench(new ProbeOptions(TimeSpan.FromMilliseconds(20), 3), timers: true);

        Assert.True(SpinWait.SpinUntil(() => b.Unit1.EchoRequestsAnswered >= 3 && b.Unit2.EchoRequestsAnswered >= 3, TimeSpan.FromSeconds(2)));
        b.Router.Dispose(); // waits for a round in progress
        int settled = b.Unit1.EchoRequestsAnswered;
        Thread.Sleep(100);

        Assert.Equal(settled, b.Unit1.EchoRequestsAnswered);
        Assert.Null(b.Fabric.OpenPort("r", "c1"));
    }

    [Fact]
    public void With_a_manual_clock_probing_follows_the_clock_exactly()
    {
        var clock = new ManualTimeProvider();
        using var b = new Bench(ProbeOptions.Default, timers: true, time: clock);

        clock.Advance(TimeSpan.FromMilliseconds(100)); // first round at 100 ms, answered
        Assert.Equal((1, 1), (b.Unit1.EchoRequestsAnswered, b.Unit2.EchoRequestsAnswered));
        b.Unit1.Dispose();
        clock.Advance(TimeSpan.FromMilliseconds(399)); // rounds at 200 (sent), 300 (miss 1), 400 (miss 2)
        Assert.True(b.Router.Routes[^1].NextHops[0].Alive);
        clock.Advance(TimeSpan.FromMilliseconds(1));   // 500: miss 3
        Assert.False(b.Router.Routes[^1].NextHops[0].Alive);
        Assert.Contains("    via 192.168.129.254 dev c1 dead     3 missed probes, down since 0.500 s, forwarded 0\n", b.Router.Describe());

        b.NewUnit1();
        clock.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(b.Router.Routes[^1].NextHops[0].Alive);
        Assert.Equal(6, b.Unit2.EchoRequestsAnswered);
    }

    // ---- reverse path --------------------------------------------------------------------------------------------

    /// <summary>The DC core: legs c1/c2 towards the two clusters' port3, srv towards an echo Server; 10.10.1.0/24 reverse-path.</summary>
    private sealed class Core : IDisposable
    {
        public readonly InMemoryFabric Fabric = new();
        public readonly LabRouter Router;
        public readonly TestNode U1, U3;
        public readonly EchoHost Server;

        public Core()
        {
            foreach (var (host, iface, seg) in new[] { ("core", "c1", "c1"), ("core", "c2", "c2"), ("core", "srv", "srv"), ("u1", "port3", "c1"), ("u3", "port3", "c2"), ("srv", "eth0", "srv") })
                Fabric.Cable(host, iface, seg);
            Router = new LabRouter("core", Fabric.Host("core"), new LabRouterOptions { ProbeTimers = false });
            Router.AddLeg("c1", "172.31.129.1/24");
            Router.AddLeg("c2", "172.31.130.1/24");
            Router.AddLeg("srv", "10.10.101.1/24");
            Router.AddReversePathRoute("10.10.1.0/24", ["172.31.129.254", "172.31.130.254"]);
            U1 = new TestNode(Fabric.Host("u1"), "port3", "172.31.129.254/24", "172.31.129.1");
            U3 = new TestNode(Fabric.Host("u3"), "port3", "172.31.130.254/24", "172.31.130.1");
            Server = new EchoHost(Fabric.Host("srv"), "eth0", "10.10.101.2/24", "10.10.101.1");
        }

        public string? ReplyVia(string pc) => Router.Resolve(IPAddress.Parse("10.10.101.2"), IPAddress.Parse(pc))?.NextHop.ToString();

        public void Dispose() => Router.Dispose();
    }

    [Fact]
    public void Reverse_path_sends_each_reply_to_the_neighbour_its_request_came_through()
    {
        using var core = new Core();

        Assert.True(core.U1.Ping("10.10.101.2", source: "10.10.1.2", seq: 1)); // PC1 through the cluster-1 tunnel owner
        Assert.Equal(1, core.U1.RepliesFrom("10.10.101.2"));

        Assert.True(core.U3.Ping("10.10.101.2", source: "10.10.1.2", seq: 2)); // the tunnel moved to cluster 2
        Assert.Equal(1, core.U3.RepliesFrom("10.10.101.2"));
        Assert.Equal(1, core.U1.RepliesFrom("10.10.101.2"));

        Assert.True(core.U1.Ping("10.10.101.2", source: "10.10.1.3", seq: 3)); // another PC, still on cluster 1
        Assert.Equal(2, core.U1.RepliesFrom("10.10.101.2"));

        // Per flow: PC1's replies stay with cluster 2 though the latest packet came through cluster 1.
        Assert.Equal("172.31.130.254", core.ReplyVia("10.10.1.2"));
        Assert.Equal("172.31.129.254", core.ReplyVia("10.10.1.3"));
        Assert.Equal("172.31.129.254", core.ReplyVia("10.10.1.99")); // unseen flow: the latest ingress for the prefix
        Assert.Equal(3, core.Server.EchoRequestsAnswered);
        Assert.Equal(0, core.Server.Dropped);

        var text = core.Router.Describe();
        Assert.Contains("10.10.1.0/24 reverse-path (replies follow the latest ingress of their flow; 2 flows learned)\n", text);
        Assert.Contains("    flow 10.10.101.2 -> 10.10.1.2 via 172.31.130.254\n", text);
        Assert.Contains("    via 172.31.129.254 dev c1 carrier    forwarded 2, latest ingress ", text);
        Assert.Contains("10.10.101.0/24 connected dev srv up\n", text);
    }

    [Fact]
    public void Reverse_path_without_history_uses_the_first_neighbour_with_carrier()
    {
        using var core = new Core();

        Assert.Equal("172.31.129.254", core.ReplyVia("10.10.1.2"));
        core.Fabric.SetCable("core", "c1", false);
        Assert.Equal("172.31.130.254", core.ReplyVia("10.10.1.2"));
        core.Fabric.SetCable("core", "c2", false);
        Assert.Null(core.ReplyVia("10.10.1.2"));
    }

    [Fact]
    public void Reverse_path_learns_only_from_its_neighbours_and_only_for_sources_in_its_prefix()
    {
        using var core = new Core();
        core.U3.Ping("10.10.101.2", source: "10.10.7.7"); // outside 10.10.1.0/24: nothing learned
        Assert.Equal("172.31.129.254", core.ReplyVia("10.10.1.2"));
        Assert.Equal(0, core.Router.Routes.Single(r => r.Kind == RouteKind.ReversePath).LearnedFlows);
    }

    // ---- configuration -------------------------------------------------------------------------------------------

    [Fact]
    public void Misconfigured_routes_are_refused_with_the_reason()
    {
        using var b = new Bench(ecmp: false);

        var offLink = Assert.Throws<ArgumentException>(() => b.Router.AddEcmpRoute(Lb1 + "/32", [C1, "172.16.0.1"]));
        Assert.Contains("172.16.0.1", offLink.Message);
        Assert.Contains("none of the legs' subnets", offLink.Message);
        var sameLeg = Assert.Throws<ArgumentException>(() => b.Router.AddReversePathRoute("10.10.1.0/24", ["192.168.129.10", "192.168.129.20"]));
        Assert.Contains("share leg c1", sameLeg.Message);
        Assert.Throws<ArgumentException>(() => b.Router.AddEcmpRoute(Lb1 + "/32", [C1, C1]));
        b.Router.AddEcmpRoute(Lb1 + "/32", [C1, C2]);
        Assert.Throws<InvalidOperationException>(() => b.Router.AddStaticRoute(Lb1 + "/32", C1));
        Assert.Throws<InvalidOperationException>(() => b.Router.AddLeg("a", "10.0.9.1/24"));
    }
}
