using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Ike;
using Xunit;

namespace ClusterActors.Protocol.Tests.Config;

/// <summary>`config router static` (per-unit routes the data plane needs) and the NAT-T settings of phase1.</summary>
public class RouterStaticTests
{
    private static string L(params string[] lines) => string.Join("\n", lines);

    private static ConfigDocument Parse(string text)
    {
        var r = FortiConfig.Parse(text, "t.conf");
        Assert.True(r.Ok, string.Join("\n", r.Errors));
        return r.Value!;
    }

    /// <summary>Cluster 1's routes as the seed files carry them: the default route to the DC router, the Server's subnet via the core.</summary>
    public const string Cluster1Routes = """
        config router static
            edit 1
                set gateway 192.168.129.1
                set device "port2"
            next
            edit 2
                set dst 10.10.101.0 255.255.255.0
                set gateway 172.31.129.1
                set device "port3"
            next
        end
        """;

    [Fact]
    public void Routes_parse_with_fortios_defaults()
    {
        var routes = Parse(Cluster1Routes).StaticRoutes;
        Assert.Equal(
            [
                new StaticRoute(1, "0.0.0.0", 0, "192.168.129.1", "port2", 10, true),
                new StaticRoute(2, "10.10.101.0", 24, "172.31.129.1", "port3", 10, true),
            ],
            routes);
        Assert.True(routes[0].IsDefault);
        Assert.Equal("0.0.0.0", routes[0].Netmask);
        Assert.Equal("255.255.255.0", routes[1].Netmask);
        Assert.Equal("10.10.101.0/24 via 172.31.129.1 dev port3 distance 10", routes[1].ToString());
    }

    [Fact]
    public void Every_setting_reaches_the_model()
    {
        var r = Assert.Single(Parse(L("config router static", "edit 7", "set status disable", "set dst 10.0.0.0/8", "set gateway 10.1.1.1",
            "set distance 200", "set device \"port5\"", "next", "end")).StaticRoutes);
        Assert.Equal(new StaticRoute(7, "10.0.0.0", 8, "10.1.1.1", "port5", 200, false), r);
        Assert.EndsWith("(disabled)", r.ToString());
    }

    [Fact]
    public void An_empty_document_has_no_routes()
    {
        Assert.Empty(ConfigDocument.Empty.StaticRoutes);
        Assert.Empty(Parse("config router static\nend").StaticRoutes);
    }

    [Fact]
    public void Show_router_static_prints_like_fortios()
    {
        var doc = Parse(Cluster1Routes);
        Assert.Equal(L(
            "config router static",
            "    edit 1",
            "        set gateway 192.168.129.1",
            "        set device \"port2\"",
            "    next",
            "    edit 2",
            "        set dst 10.10.101.0 255.255.255.0",
            "        set gateway 172.31.129.1",
            "        set device \"port3\"",
            "    next",
            "end", ""), doc.Show("router static", false));
        Assert.Equal(doc.Show("router static", false), doc.Show("ro st", false));
        Assert.Equal(L(
            "config router static",
            "    edit 2",
            "        set dst 10.10.101.0 255.255.255.0",
            "        set gateway 172.31.129.1",
            "        set device \"port3\"",
            "    next",
            "end", ""), doc.Show("router static 2", false));
        Assert.Equal(L(
            "config router static",
            "    edit 1",
            "        set status enable",
            "        set dst 0.0.0.0 0.0.0.0",
            "        set gateway 192.168.129.1",
            "        set distance 10",
            "        set device \"port2\"",
            "    next",
            "end", ""), doc.Show("full-configuration router static 1", false));
    }

    [Fact]
    public void Show_of_a_missing_route_says_so_with_a_suggestion()
    {
        var e = Assert.Throws<ConfigPathException>(() => Parse(Cluster1Routes).Show("router static 3", false));
        Assert.Contains("no such entry in 'config router static'", e.Message);
    }

    [Fact]
    public void Routes_round_trip_through_ToText()
    {
        var doc = Parse(L("#serialno=FGVM02TM22000001", Cluster1Routes));
        var text = doc.ToText();
        Assert.Contains("config router static", text);
        var again = Parse(text);
        Assert.Equal(doc.StaticRoutes, again.StaticRoutes);
        Assert.Equal(text, again.ToText());
    }

    [Fact]
    public void Edit_zero_unset_and_delete_work_on_routes()
    {
        var doc = Parse(Cluster1Routes);
        var r = doc.Apply(L("config router static", "edit 0", "set gateway 192.168.129.2", "set device port2", "set distance 20", "next",
            "edit 1", "unset gateway", "next", "delete 2", "end"));
        Assert.True(r.Ok, string.Join("\n", r.Errors));
        var routes = r.Value!.StaticRoutes;
        Assert.Equal([1, 3], routes.Select(x => x.Id));
        Assert.Equal("0.0.0.0", routes[0].Gateway);
        Assert.Equal(new StaticRoute(3, "0.0.0.0", 0, "192.168.129.2", "port2", 20, true), routes[1]);
        // The original document did not change.
        Assert.Equal(2, doc.StaticRoutes.Count);
    }

    [Fact]
    public void Device_may_be_a_logical_interface_defined_later_in_the_file()
    {
        var doc = Parse(L("config router static", "edit 1", "set dst 10.9.9.0/24", "set device \"lb1\"", "next", "end",
            "config system interface", "edit \"lb1\"", "set type loopback", "set ip 192.168.202.35/32", "next", "end"));
        Assert.Equal("lb1", doc.StaticRoutes.Single().Device);
    }

    [Fact]
    public void Routes_are_fgcp_synced_from_the_primary()
    {
        var primary = Parse(L("#serialno=FGVM02TM22000002", Cluster1Routes));
        var secondary = Parse(L("#serialno=FGVM02TM22000001", "config router static", "edit 9", "set gateway 10.0.0.1", "set device port1", "next", "end"));
        var synced = secondary.WithSyncedFrom(primary);
        Assert.Equal(primary.StaticRoutes, synced.StaticRoutes);
        Assert.Equal("FGVM02TM22000001", synced.SerialNumber);
        Assert.Equal([9], secondary.StaticRoutes.Select(r => r.Id));
    }

    [Fact]
    public void Summary_lists_the_routes()
    {
        var s = Parse(Cluster1Routes).Summary();
        Assert.Contains("route 1: 0.0.0.0/0 via 192.168.129.1 dev port2 distance 10", s);
        Assert.Contains("route 2: 10.10.101.0/24 via 172.31.129.1 dev port3 distance 10", s);
    }

    // ---- the shipped seed files ----

    private static string SeedFile(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "src", "Node", "scenarios", "seed", name);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"seed file {name} not found above {AppContext.BaseDirectory}");
    }

    private static ConfigDocument Seed(string unit)
    {
        var r = FortiConfig.ParseFile(SeedFile(unit + ".conf"));
        Assert.True(r.Ok, string.Join("\n", r.Errors));
        return r.Value!;
    }

    [Theory]
    [InlineData("DC2_VM1", "192.168.129.1", "172.31.129.1")]
    [InlineData("DC2_VM2", "192.168.129.1", "172.31.129.1")]
    [InlineData("DC2_VM3", "192.168.130.1", "172.31.130.1")]
    [InlineData("DC2_VM4", "192.168.130.1", "172.31.130.1")]
    public void Seed_units_route_to_the_dc_router_and_the_server_subnet(string unit, string router, string core)
    {
        var doc = Seed(unit);
        Assert.Equal(
            [
                new StaticRoute(1, "0.0.0.0", 0, router, "port2", 10, true),
                new StaticRoute(2, "10.10.101.0", 24, core, "port3", 10, true),
            ],
            doc.StaticRoutes);
        // Each next hop is on the subnet of the port it leaves by.
        foreach (var route in doc.StaticRoutes)
        {
            var port = doc.Interfaces.Single(i => i.Name == route.Device);
            Assert.Equal(Network(port.Ip, port.PrefixLength), Network(route.Gateway, port.PrefixLength));
        }
    }

    [Fact]
    public void Seed_client_has_a_default_route_on_port1()
    {
        var doc = Seed("CLIENT1");
        Assert.Equal([new StaticRoute(1, "0.0.0.0", 0, "192.168.7.1", "port1", 10, true)], doc.StaticRoutes);
        Assert.Equal("192.168.7.2", doc.Interfaces.Single(i => i.Name == "port1").Ip);
    }

    private static uint Network(string ip, int prefix)
    {
        var b = System.Net.IPAddress.Parse(ip).GetAddressBytes();
        var v = (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
        return prefix == 0 ? 0 : v & (uint.MaxValue << (32 - prefix));
    }

    // ---- phase1 NAT-T settings ----

    private static string Phase1(params string[] extra) => L(
        [
            "config vpn ipsec phase1-interface", "edit \"vpn1\"", "set interface \"port2\"", "set proposal aes128-sha1", .. extra, "next", "end",
        ]);

    [Fact]
    public void Phase1_nat_traversal_defaults_to_enable_with_a_10_second_keepalive()
    {
        var p = Parse(Phase1()).Phase1.Single();
        Assert.Equal(NatTraversal.Enable, p.NatTraversal);
        Assert.Equal(10, p.Keepalive);
        Assert.DoesNotContain("keepalive", Parse(Phase1()).Show("vpn ipsec phase1-interface", false));
        Assert.Contains("set keepalive 10", Parse(Phase1()).Show("vpn ipsec phase1-interface", true));
        Assert.Contains("nattraversal=enable", Parse(Phase1()).Summary());
    }

    [Theory]
    [InlineData("set nattraversal forced", "forced", 10)]
    [InlineData("set nattraversal disable", "disable", 10)]
    [InlineData("set nattraversal f", "forced", 10)]
    [InlineData("set keepalive 5", "enable", 5)]
    [InlineData("set keepalive 900", "enable", 900)]
    [InlineData("set keepa 30", "enable", 30)]
    public void Phase1_nat_traversal_and_keepalive_parse(string line, string mode, int keepalive)
    {
        var doc = Parse(Phase1(line));
        var p = doc.Phase1.Single();
        Assert.Equal(mode, ConfigWords.Word(p.NatTraversal));
        Assert.Equal(keepalive, p.Keepalive);
        var again = Parse(doc.ToText()).Phase1.Single();
        Assert.Equal((mode, keepalive), (ConfigWords.Word(again.NatTraversal), again.Keepalive));
    }

    [Fact]
    public void Keepalive_setting_abbreviation_is_now_ambiguous_with_keylife()
    {
        var e = Assert.Single(FortiConfig.Parse(Phase1("set ke 30")).Errors);
        Assert.Contains("ambiguous setting", e.Message);
        Assert.Contains("keepalive", e.Message);
        Assert.Contains("keylife", e.Message);
    }
}
