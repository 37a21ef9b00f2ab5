using ClusterActors.Actors.DataPlane;
using System.Net;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Actors.Tests.Forwarding;

/// <summary>The unit's routing table and its sniffer on synthetic input, no actor system.</summary>
public sealed class UnitRoutesSpec
{
    private static UnitRoute Route(string cidr, string iface, string? gateway = null, int distance = 10)
    {
        var address = cidr.Split('/');
        var prefix = int.Parse(address[1]);
        return new UnitRoute(Ipv4Address.Parse(address[0]) & Ipv4Prefix.MaskOf(prefix), prefix, iface,
            gateway is null ? null : IPAddress.Parse(gateway), gateway is null ? 0 : distance);
    }

    private static readonly UnitRoutes Vm1 = new(
    [
        Route("192.168.129.0/24", "port2"), Route("172.31.129.0/24", "port3"), Route("172.31.2.0/24", "port5"),
        Route("0.0.0.0/0", "port2", "192.168.129.1"), Route("10.10.101.0/24", "port3", "172.31.129.1"),
    ], [IPAddress.Parse("192.168.129.254"), IPAddress.Parse("192.168.202.35")]);

    [Theory]
    [InlineData("10.10.101.2", "port3", "172.31.129.1")] // the Server, behind the DC core
    [InlineData("192.168.7.2", "port2", "192.168.129.1")] // the client, by the default route
    [InlineData("192.168.129.1", "port2", "192.168.129.1")] // connected: the neighbour itself
    [InlineData("172.31.2.2", "port5", "172.31.2.2")]
    public void Longest_prefix_wins(string destination, string iface, string nextHop)
    {
        var hop = Vm1.Lookup(IPAddress.Parse(destination), _ => true);
        Assert.Equal(new NextHop(iface, IPAddress.Parse(nextHop)), hop);
    }

    [Fact]
    public void A_route_through_a_down_interface_is_skipped()
    {
        Assert.Null(Vm1.Lookup(IPAddress.Parse("10.10.101.2"), i => i != "port3" && i != "port2"));
        Assert.Equal("port2", Vm1.Lookup(IPAddress.Parse("10.10.101.2"), i => i != "port3")!.Value.Interface);
    }

    [Fact]
    public void Lower_distance_wins_between_equal_prefixes()
    {
        var routes = new UnitRoutes([Route("0.0.0.0/0", "port2", "192.168.129.1", 20), Route("0.0.0.0/0", "port5", "172.31.2.2", 5)], []);
        Assert.Equal("port5", routes.Lookup(IPAddress.Parse("8.8.8.8"), _ => true)!.Value.Interface);
    }

    [Fact]
    public void Loopback_and_port_addresses_are_local()
    {
        Assert.True(Vm1.IsLocal(IPAddress.Parse("192.168.202.35")));
        Assert.False(Vm1.IsLocal(IPAddress.Parse("10.10.101.2")));
    }

    private static Ipv4Packet Echo(string from, string to, bool reply = false)
    {
        var echo = IcmpEcho.Request(1, 1, new byte[8]);
        return (reply ? echo.ToReply() : echo).InIpv4(IPAddress.Parse(from), IPAddress.Parse(to));
    }

    [Fact]
    public void The_sniffer_prints_the_scenario_layout_and_stops_at_its_count()
    {
        var capture = SnifferCapture.Create("any", "icmp", 4, 2, out var error)!;
        Assert.Null(error);
        Assert.True(capture.Offer("vpn1", SnifferDirection.In, Echo("10.10.1.2", "10.10.101.2")));
        Assert.False(capture.Offer("port2", SnifferDirection.In, new Ipv4Packet(IPAddress.Parse("192.168.7.2"), IPAddress.Parse("192.168.202.35"), 50, new byte[60])));
        Assert.True(capture.Offer("port3", SnifferDirection.Out, Echo("10.10.1.2", "10.10.101.2")));
        Assert.True(capture.Done);
        Assert.False(capture.Offer("port3", SnifferDirection.In, Echo("10.10.101.2", "10.10.1.2", reply: true)));

        var text = capture.Render(interrupted: false);
        Assert.Matches(@"^Using Original Sniffing Mode\ninterfaces=\[any\]\nfilters=\[icmp\]\n" +
                       @"\d+\.\d{6} vpn1 in 10\.10\.1\.2 -> 10\.10\.101\.2: icmp: echo request\n" +
                       @"\d+\.\d{6} port3 out 10\.10\.1\.2 -> 10\.10\.101\.2: icmp: echo request\n\n" +
                       @"2 packets received by filter\n0 packets dropped by kernel\n$", text);
    }

    [Fact]
    public void An_interrupted_capture_ends_with_ctrl_c_and_verbosity_1_has_no_interface_column()
    {
        var capture = SnifferCapture.Create("port3", "'host 10.10.101.2'", 1, null, out _)!;
        capture.Offer("port2", SnifferDirection.In, Echo("10.10.1.2", "10.10.101.2"));
        capture.Offer("port3", SnifferDirection.Out, Echo("10.10.1.2", "10.10.101.2"));
        capture.Offer("port3", SnifferDirection.In, Echo("10.10.1.9", "10.10.1.2"));
        Assert.Matches(@"filters=\[host 10\.10\.101\.2\]\n\d+\.\d{6} 10\.10\.1\.2 -> 10\.10\.101\.2: icmp: echo request\n\^C\n1 packets received by filter\n",
            capture.Render(interrupted: true));
    }

    [Theory]
    [InlineData("icmpp", 4)]
    [InlineData("icmp", 7)]
    [InlineData("host nowhere", 4)]
    public void Filters_and_levels_it_cannot_honour_are_refused_with_a_reason(string filter, int verbosity)
    {
        Assert.Null(SnifferCapture.Create("any", filter, verbosity, null, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }
}
