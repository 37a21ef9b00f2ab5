using System.Net;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Protocol.Tests.Topology;

/// <summary>
/// The topology file: the shipped seed reads, and every kind of mistake is one located error (file:line:col, what was
/// expected, a did-you-mean where a name is close), like the config language's.
/// </summary>
public class TopologyFileTests
{
    public static string SeedFile(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "src", "Node", "scenarios", "seed", name);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"seed file {name} not found above {AppContext.BaseDirectory}");
    }

    public static LabTopology Seed()
    {
        var result = TopologyFile.Load(SeedFile("topology.yml"));
        Assert.True(result.Ok, result.ToString());
        return result.Value!;
    }

    /// <summary>The seed's topology text, for specs that break one line of it.</summary>
    private static readonly string SeedText = File.ReadAllText(SeedFile("topology.yml"));

    private static ConfigResult<LabTopology> Parse(string yaml) =>
        TopologyFile.Parse(yaml, "lab.yml", file => FortiConfig.ParseFile(SeedFile(file)));

    /// <summary>The seed text with <paramref name="from"/> replaced once (which must be there).</summary>
    private static ConfigResult<LabTopology> SeedWith(string from, string to)
    {
        Assert.Contains(from, SeedText);
        var i = SeedText.IndexOf(from, StringComparison.Ordinal);
        return Parse(SeedText[..i] + to + SeedText[(i + from.Length)..]);
    }

    private static (int Line, int Column) Where(string from)
    {
        var i = SeedText.IndexOf(from, StringComparison.Ordinal);
        var line = SeedText[..i].Count(c => c == '\n') + 1;
        var column = i - (SeedText.LastIndexOf('\n', Math.Max(0, i - 1)) + 1) + 1;
        return (line, column);
    }

    private static ConfigError Single(ConfigResult<LabTopology> result)
    {
        Assert.False(result.Ok);
        return Assert.Single(result.Errors);
    }

    [Fact]
    public void Seed_reads_with_clusters_and_peering_derived_from_the_configs()
    {
        var t = Seed();
        Assert.Equal("seed", t.Name);
        Assert.Equal(["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"], t.UnitNames);
        Assert.Equal("FGVM02TM22000003", t.Unit("DC2_VM3").Serial);
        Assert.Collection(t.FgcpClusters,
            c => { Assert.Equal(1, c.GroupId); Assert.Equal(["DC2_VM1", "DC2_VM2"], c.Members); },
            c => { Assert.Equal(2, c.GroupId); Assert.Equal(["DC2_VM3", "DC2_VM4"], c.Members); });
        var fgsp = Assert.IsType<FgspPeering>(t.Fgsp);
        Assert.Equal("fgsp", fgsp.Link);
        Assert.Equal(2, fgsp.StandaloneGroupId);
        Assert.Equal(["DC2_VM12", "DC2_VM34"], fgsp.Members.Select(m => m.Name));
        Assert.Equal([IPAddress.Parse("172.31.2.2")], fgsp.Members[0].PeerIps);
        var client = Assert.Single(t.Clients);
        Assert.Equal(("CLIENT1", "port1", "192.168.7.2/24", "192.168.7.1"), (client.Name, client.WanInterface, client.Wan.ToString(), client.WanGateway.ToString()));
        Assert.Equal("PC1", Assert.Single(client.Pcs).Name);
        var ecmp = Assert.Single(t.Routers.Single(r => r.Name == "dc-router").Routes);
        Assert.Equal((TopologyRouteKind.Ecmp, "192.168.202.35/32", (int?)null, 1ul, TimeSpan.FromMilliseconds(100)),
            (ecmp.Kind, ecmp.Destination.ToString(), ecmp.ProbeMisses, ecmp.HashSeed, ecmp.ProbeInterval));
        Assert.Equal(("DC2_VM1", "lb1", "192.168.202.35/32"), t.Loopbacks.Select(l => (l.Unit, l.Interface, l.Address.ToString())).First());
    }

    [Fact]
    public void An_unknown_key_is_located_with_a_did_you_mean()
    {
        var (line, column) = Where("subnet: 192.168.129.0/24");
        var e = Single(SeedWith("subnet: 192.168.129.0/24", "subnet: 192.168.129.0/24\n    desciption: typo"));
        Assert.Equal(("lab.yml", line + 1, column, "desciption", "description"), (e.File, e.Line, e.Column, e.Token, e.DidYouMean));
        Assert.StartsWith($"lab.yml:{line + 1}:{column}: error: unknown key in segment c1-port2: 'desciption'; expected subnet, description, ports; did you mean 'description'?", e.ToString());
    }

    [Fact]
    public void An_unknown_top_level_key_is_located_with_a_did_you_mean()
    {
        var e = Single(SeedWith("fgsp-link: fgsp", "fgsp-lnk: fgsp"));
        Assert.Equal(("fgsp-lnk", "fgsp-link"), (e.Token, e.DidYouMean));
    }

    [Fact]
    public void A_value_of_the_wrong_type_is_located_with_what_was_expected()
    {
        var (line, column) = Where("[DC2_VM1 port2, DC2_VM2 port2]");
        var e = Single(SeedWith("[DC2_VM1 port2, DC2_VM2 port2]", "{ a: b }"));
        Assert.Equal((line, column), (e.Line, e.Column));
        Assert.Contains("the ports of segment c1-port2 is not a list", e.Message);
        Assert.Equal("[A, B] or - lines", e.Expected);
    }

    [Fact]
    public void A_bad_address_is_located()
    {
        var (line, column) = Where("192.168.7.1/24");
        var e = Single(SeedWith("address: 192.168.7.1/24", "address: 192.168.7.1"));
        Assert.Equal((line, column, "192.168.7.1"), (e.Line, e.Column, e.Token));
        Assert.Contains("not an IPv4 address with prefix length", e.Message);
    }

    [Fact]
    public void A_subnet_with_host_bits_is_refused()
    {
        var e = Single(SeedWith("subnet: 10.10.1.0/24", "subnet: 10.10.1.5/24"));
        Assert.Equal("the network address, 10.10.1.0/24", e.Expected);
    }

    [Fact]
    public void An_unknown_unit_in_a_link_is_located_with_a_did_you_mean()
    {
        var (line, column) = Where("DC2_VM4 port4]");
        var e = Single(SeedWith("DC2_VM4 port4]", "DC2_VM5 port4]"));
        Assert.Equal((line, column, "DC2_VM5 port4", "DC2_VM1"), (e.Line, e.Column, e.Token, e.DidYouMean));
        Assert.Contains("no unit DC2_VM5", e.Message);
    }

    [Fact]
    public void An_unknown_unit_on_a_segment_is_located()
    {
        var e = Single(SeedWith("[DC2_VM3 port2, DC2_VM4 port2]", "[DC2_VM3 port2, DC2_VM7 port2]"));
        Assert.Equal("DC2_VM7 port2", e.Token);
        Assert.Contains("no unit DC2_VM7", e.Message);
    }

    [Fact]
    public void An_interface_the_unit_config_lacks_is_refused_with_a_did_you_mean()
    {
        var e = Single(SeedWith("[DC2_VM3 port2, DC2_VM4 port2]", "[DC2_VM3 port2, DC2_VM4 prot2]"));
        Assert.Equal(("DC2_VM4 has no interface prot2", "port2"), (e.Message, e.DidYouMean));
    }

    [Fact]
    public void A_port_on_two_segments_is_refused_at_its_second_place()
    {
        var (line, _) = Where("[DC2_VM1 port3, DC2_VM2 port3]");
        var e = Single(SeedWith("[DC2_VM1 port3, DC2_VM2 port3]", "[DC2_VM1 port3, DC2_VM2 port3, DC2_VM1 port2]"));
        Assert.Equal((line, "DC2_VM1 port2"), (e.Line, e.Token));
        Assert.Equal("DC2_VM1 port2 is already on segment c1-port2", e.Message);
    }

    [Fact]
    public void A_port_whose_config_address_is_off_the_segment_is_refused()
    {
        // DC2_VM1's port3 is 172.31.129.254/24 in its config: cabling it to cluster 2's port3 segment is a mistake.
        var moved = SeedText.Replace("ports: [DC2_VM1 port3, DC2_VM2 port3]", "ports: [DC2_VM2 port3]")
            .Replace("ports: [DC2_VM3 port3, DC2_VM4 port3]", "ports: [DC2_VM3 port3, DC2_VM4 port3, DC2_VM1 port3]");
        var e = Single(Parse(moved));
        Assert.Contains("DC2_VM1 port3 has 172.31.129.254/24 in DC2_VM1.conf, not on segment c2-port3", e.Message);
    }

    [Fact]
    public void A_duplicate_address_is_refused_unless_one_FGCP_cluster_shares_it()
    {
        // The Server on the DC core's own address.
        var (line, _) = Where("Server: { segment: server");
        var e = Single(SeedWith("address: 10.10.101.2/24", "address: 10.10.101.1/24"));
        Assert.Equal((line, "Server"), (e.Line, e.Token));
        Assert.Equal("10.10.101.1 of Server eth0 is already dc-core srv's", e.Message);
        // The seed's own sharing (192.168.129.254 on DC2_VM1 and DC2_VM2) is one cluster's: no error (Seed() reads).
        Assert.Equal(2, Seed().Wires.Count(w => w.Address.Address.Equals(IPAddress.Parse("192.168.129.254"))));
    }

    [Fact]
    public void A_duplicate_address_across_clusters_is_refused()
    {
        // A PC on the client's own LAN address.
        var e = Single(SeedWith("PC1: 10.10.1.2/24", "PC1: 10.10.1.1/24"));
        Assert.Equal("10.10.1.1 of PC1 eth0 is already CLIENT1 port2's", e.Message);
    }

    [Fact]
    public void A_next_hop_off_the_router_legs_is_refused()
    {
        var e = Single(SeedWith("ecmp: [192.168.129.254, 192.168.130.254]", "ecmp: [192.168.129.254, 192.168.131.254]"));
        Assert.Equal("192.168.131.254", e.Token);
        Assert.StartsWith("next hop 192.168.131.254 is on no leg of router dc-router", e.Message);
    }

    [Fact]
    public void A_heartbeat_port_that_is_no_hbdev_is_refused()
    {
        var e = Single(SeedWith("c2-hb: [DC2_VM3 port4, DC2_VM4 port4]", "c2-hb: [DC2_VM3 port4, DC2_VM4 port6]"));
        Assert.Equal("DC2_VM4 port6 is not an hbdev of DC2_VM4", e.Message);
    }

    [Fact]
    public void An_FGCP_cluster_without_a_heartbeat_link_is_refused()
    {
        var e = Single(SeedWith("  c2-hb: [DC2_VM3 port4, DC2_VM4 port4]\n", ""));
        Assert.Contains("FGCP cluster group-id 2 (DC2_VM3, DC2_VM4) shares no heartbeat link", e.Message);
        Assert.Equal("DC2_VM3", e.Token);
    }

    [Fact]
    public void FGSP_peers_without_an_fgsp_link_are_refused()
    {
        var e = Single(SeedWith("fgsp-link: fgsp\n", ""));
        Assert.Contains("names no fgsp-link", e.Message);
    }

    [Fact]
    public void A_wrong_client_kind_is_refused_with_a_did_you_mean()
    {
        var e = Single(SeedWith("kind: fortigate", "kind: strongswam"));
        Assert.Equal(("strongswam", "strongswan"), (e.Token, e.DidYouMean));
    }

    [Fact]
    public void An_invalid_unit_config_is_reported_at_its_config_key()
    {
        var result = TopologyFile.Parse("units:\n  A: { config: a.conf }\n", "lab.yml",
            _ => FortiConfig.Parse("config system hax\nend\n", "a.conf"));
        var e = Single(result);
        Assert.Equal((2, 16, "a.conf"), (e.Line, e.Column, e.Token));
        Assert.Contains("a.conf:1:", e.Message);
    }

    [Fact]
    public void Broken_yaml_is_located()
    {
        var e = Single(Parse("units:\n  A: [b\n"));
        Assert.Equal("lab.yml", e.File);
        Assert.True(e.Line >= 2, e.ToString());
        Assert.StartsWith("not valid YAML", e.Message);
    }

    [Fact]
    public void All_errors_are_reported_at_once()
    {
        var yaml = SeedText.Replace("fgsp-link: fgsp", "fgsp-link: fgps").Replace("kind: fortigate", "knd: fortigate");
        var result = Parse(yaml);
        Assert.False(result.Ok);
        Assert.Contains(result.Errors, e => e.DidYouMean == "fgsp");
        Assert.Contains(result.Errors, e => e.DidYouMean == "kind");
    }

    [Fact]
    public void Count_expands_clients_with_consecutive_wan_addresses_and_shifted_lans()
    {
        var t = SeedWith("count: 1", "count: 3");
        Assert.True(t.Ok, t.ToString());
        Assert.Equal(["CLIENT1-1", "CLIENT1-2", "CLIENT1-3"], t.Value!.Clients.Select(c => c.Name));
        Assert.Equal(["192.168.7.2/24", "192.168.7.3/24", "192.168.7.4/24"], t.Value.Clients.Select(c => c.Wan.ToString()));
        Assert.Equal(["10.10.1.1/24", "10.10.2.1/24", "10.10.3.1/24"], t.Value.Clients.Select(c => c.Lan.ToString()));
        Assert.Equal(["lan", "lan-2", "lan-3"], t.Value.Clients.Select(c => c.LanSegment));
        Assert.Equal("10.10.3.2/24", t.Value.Clients[2].Pcs[0].Address.ToString());
    }

    [Fact]
    public void A_given_client_count_replaces_the_files_and_each_clients_lan_gets_the_routes_the_first_ones_has()
    {
        // `drill --clients 3` on the seed (count: 1 in the file): three clients, and DC core's reverse-path route to
        // 10.10.1.0/24 (CLIENT1's LAN) given again for 10.10.2.0/24 and 10.10.3.0/24, or the Server's replies to the
        // other clients' PCs would find no route.
        var result = TopologyFile.Parse(SeedText, "lab.yml", file => FortiConfig.ParseFile(SeedFile(file)), firstClientCount: 3);
        Assert.True(result.Ok, result.ToString());
        var t = result.Value!;
        Assert.Equal(["CLIENT1-1", "CLIENT1-2", "CLIENT1-3"], t.Clients.Select(c => c.Name));
        var core = t.Routers.Single(r => r.Name == "dc-core");
        var reverse = core.Routes.Where(r => r.Kind == TopologyRouteKind.ReversePath).ToList();
        Assert.Equal(["10.10.1.0/24", "10.10.2.0/24", "10.10.3.0/24"], reverse.Select(r => r.Destination.ToString()));
        Assert.All(reverse, r => Assert.Equal(reverse[0].Via, r.Via));
        // The DC router's ECMP route to lb1 does not hold any client's LAN: left alone.
        Assert.Single(t.Routers.Single(r => r.Name == "dc-router").Routes);

        // Without the override the file's count stands, and a count out of range is refused before parsing.
        Assert.Single(Parse(SeedText).Value!.Clients);
        Assert.Throws<ArgumentOutOfRangeException>(() => TopologyFile.Parse(SeedText, "lab.yml", file => FortiConfig.ParseFile(SeedFile(file)), firstClientCount: 0));
    }

    [Fact]
    public void Count_skips_a_lan_subnet_a_declared_segment_holds_so_the_seed_takes_as_many_clients_as_its_wan_holds()
    {
        // The seed's 101st client would get 10.10.101.0/24, the Server's segment: it gets the next free one, its PC too.
        var result = TopologyFile.Parse(SeedText, "lab.yml", file => FortiConfig.ParseFile(SeedFile(file)), firstClientCount: 253);
        Assert.True(result.Ok, result.ToString());
        var clients = result.Value!.Clients;
        Assert.Equal("10.10.100.1/24", clients[99].Lan.ToString());
        Assert.Equal("10.10.102.1/24", clients[100].Lan.ToString());
        Assert.Equal("10.10.102.2/24", clients[100].Pcs[0].Address.ToString());
        Assert.Equal(("192.168.7.254/24", "10.10.254.1/24"), (clients[^1].Wan.ToString(), clients[^1].Lan.ToString()));
        Assert.Equal(clients.Count, clients.Select(c => c.Lan.Subnet).Distinct().Count());
        // The 254th would be 192.168.7.255, the WAN's broadcast: refused by the WAN, as before.
        var over = TopologyFile.Parse(SeedText, "lab.yml", file => FortiConfig.ParseFile(SeedFile(file)), firstClientCount: 254);
        Assert.Contains(over.Errors, e => e.Message.Contains("client 254 of CLIENT1 would have 192.168.7.255, outside 192.168.7.0/24"));
    }
}
