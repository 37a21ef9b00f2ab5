using ClusterActors.Node.Commands;
using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Node.Tests.Router;

/// <summary>The container lab's pure parts: `clusteractors router`'s words, and what the docker drill lab reads back.</summary>
public sealed class RouterCommandSpec
{
    [Fact]
    public void A_route_with_two_next_hops_and_the_drills_probing()
    {
        var route = RouterCommand.Parse(new("192.168.202.35/32", ["192.168.129.254", "192.168.130.254"], "100ms", 42, null, ["192.168.7.0/24"]));
        Assert.Equal("192.168.202.35/32", route.Prefix);
        Assert.Equal(["192.168.7.0/24"], route.Clients);
        Assert.Equal(1UL, route.HashSeed); // the embedded DC router's seed
        Assert.Equal(7UL, RouterCommand.Parse(new("192.168.202.35/32", ["192.168.129.254"], null, null, null, ["192.168.7.0/24"], 7)).HashSeed);
        Assert.Equal(["192.168.129.254", "192.168.130.254"], route.NextHops.Select(h => h.ToString()));
        Assert.Equal(TimeSpan.FromMilliseconds(100), route.Probe.Interval);
        Assert.Equal(42, route.Probe.MissedProbes);
    }

    [Theory]
    [InlineData("100ms", 100)]
    [InlineData("1s", 1000)]
    [InlineData("0.5s", 500)]
    [InlineData("250", 250)]
    public void Durations(string text, double ms) => Assert.Equal(TimeSpan.FromMilliseconds(ms), RouterCommand.ParseDuration(text, "--probe-interval"));

    [Theory]
    [InlineData("192.168.202.35", new[] { "192.168.129.254" }, null, "--route")]
    [InlineData("192.168.202.35/32", new string[0], null, "--via")]
    [InlineData("192.168.202.35/32", new[] { "nowhere" }, null, "--via")]
    [InlineData("192.168.202.35/32", new[] { "192.168.129.254", "192.168.129.254" }, null, "twice")]
    [InlineData("192.168.202.35/32", new[] { "192.168.129.254" }, "fast", "--probe-interval")]
    [InlineData("192.168.202.35/32", new[] { "192.168.129.254" }, null, "--clients", "")]
    [InlineData("192.168.202.35/32", new[] { "192.168.129.254" }, null, "--clients", "192.168.7.0")]
    [InlineData("192.168.202.35/32", new[] { "192.168.129.254" }, null, "flows", "10.0.0.0/8")]
    public void Bad_words_are_usage_errors(string prefix, string[] via, string? interval, string message, string clients = "192.168.7.0/24")
    {
        var e = Assert.Throws<UsageException>(() => RouterCommand.Parse(new(prefix, via, interval, null, null,
            clients.Length == 0 ? [] : [clients])));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void The_command_line_knows_router_and_router_show()
    {
        var root = CommandLine.Build();
        Assert.Empty(root.Parse(["router", "--route", "192.168.202.35/32", "--via", "192.168.129.254", "--via", "192.168.130.254", "--clients", "192.168.7.0/24",
            "--hash-seed", "1", "--probe-misses", "42"]).Errors);
        Assert.NotEmpty(root.Parse(["router", "--route", "192.168.202.35/32", "--via", "192.168.129.254"]).Errors); // --clients is required
        Assert.Empty(root.Parse(["router", "show", "--status", "/tmp/x"]).Errors);
        Assert.NotEmpty(root.Parse(["router", "--via", "192.168.129.254"]).Errors); // --route is required
    }

    [Fact]
    public void Client_counters_are_read_back()
    {
        var c = LabClientCommand.ParseCounters("antireplay 0 icv 2 in 251223965 out 146493462 up true\n");
        Assert.Equal((0L, 2L, 251223965u, 146493462u, true), c);
    }

    [Fact]
    public void Client_counters_carry_the_IKE_SA_and_the_CHILD_SA_rekeys_for_the_chaos_drills_sa_reuse()
    {
        var v = LabClientCommand.ClientViewOf("antireplay 0 icv 2 in 251223965 out 146493462 up true ike 1234605616436508552 42 rekeys 1\n");
        Assert.Equal(new ClusterActors.Node.Drills.ClientView(0, 2, 251223965u, 146493462u, true, (1234605616436508552UL, 42UL), 1), v);
        // An older client (no ike, no rekeys) and a client that is down (ike 0 0) read as unknown.
        var old = LabClientCommand.ClientViewOf("antireplay 0 icv 2 in 1 out 2 up true\n");
        Assert.Null(old.IkeSpis);
        Assert.Null(old.ChildSaRekeys);
        Assert.Null(LabClientCommand.ClientViewOf("antireplay 0 icv 0 in 0 out 0 up false ike 0 0 rekeys 0\n").IkeSpis);
    }

    [Fact]
    public void Ha_status_is_read_back()
    {
        const string text = "HA information\n\n[Debug_Zone HA information]\nHA group member information: is_manage_primary=0.\n"
                            + "FGVM02TM22000002:      Primary, serialno_prio=0, usr_priority=100, hostname=DC2_VM2\n"
                            + "FGVM02TM22000001:    Secondary, serialno_prio=1, usr_priority=200, hostname=DC2_VM1\n\n"
                            + "[Kernel HA information]\nvcluster 1, state=work, primary_ip=169.254.0.1, primary_id=0\n";
        Assert.Equal(new HaView("DC2_VM1", true, false, "DC2_VM2", 2), DockerDrillLab.ParseHa("DC2_VM1", text));
    }

    [Fact]
    public void Tunnels_are_read_back()
    {
        const string text = "list all ipsec tunnel in vd 0\n------------------------------------------------------\n"
                            + "name=vpn1_1 ver=2 serial=4 192.168.202.35:0->192.168.7.2:0 tun_id=192.168.7.2\n"
                            + "bound_if=6 lgwy=static/1 tun=intf/0 mode=dial_inst/3 encap=none/8712 run_state=0 role=sync-primary accept_traffic=1 overlay_id=0\n"
                            + "stat: rxp=3418 txp=3418 rxb=287112 txb=287112\n"
                            + "  dec: spi=0ef94b9e esp=aes key=16 00\n  enc: spi=08bb4a16 esp=aes key=16 00\n";
        var t = Assert.Single(DockerDrillLab.ParseTunnels(text));
        Assert.Equal(new TunnelView("vpn1_1", TunnelRole.SyncPrimary, 0x0ef94b9e, 0x08bb4a16, "192.168.7.2"), t);
    }

    [Fact]
    public void A_tunnel_with_a_role_word_the_reader_does_not_know_is_skipped_not_thrown_on()
    {
        const string text = "name=vpn1_1 ver=2 serial=4\nbound_if=6 role=sync-primary accept_traffic=1\n  dec: spi=0ef94b9e\n  enc: spi=08bb4a16\n"
                            + "name=vpn1_2 ver=2 serial=5\nbound_if=6 role=co-owner accept_traffic=1\n  dec: spi=00000001\n  enc: spi=00000002\n"
                            + "name=vpn1_3 ver=2 serial=6\nbound_if=6 role=standby accept_traffic=0\n  dec: spi=00000003\n  enc: spi=00000004\n";
        Assert.Equal([new TunnelView("vpn1_1", TunnelRole.SyncPrimary, 0x0ef94b9e, 0x08bb4a16), new TunnelView("vpn1_3", TunnelRole.Standby, 3, 4)],
            DockerDrillLab.ParseTunnels(text));
    }
}

public sealed class RouterStatusSpec
{
    [Fact]
    public void Router_status_is_read_back()
    {
        const string text = "2026-11-27 10:12:44.620 UTC\n192.168.202.35/32 placed per flow (rendezvous over live next hops, flow = source+destination, seed 1, probe 100ms x 42; never the kernel's multipath hash)\n"
                            + "    via 192.168.129.254 alive    probes sent 10, missed 0; 254 flows\n"
                            + "    via 192.168.130.254 dead     42 missed probes, down since 4.390 s; 0 flows\n"
                            + "flows: 254 from 192.168.7.0/24; last rewrite: 118 of 254 flows rewritten for live next hops 192.168.129.254\n";
        Assert.Equal([("192.168.129.254", true), ("192.168.130.254", false)], ClusterActors.Node.Drills.DockerDrillLab.ParseRouterStatus(text));
    }
}
