using ClusterActors.Node.DockerLab;
using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Topology;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace ClusterActors.Node.Tests.Lab;

/// <summary>
/// The container lab generated from a topology file (<see cref="DockerLabPlan"/>, <see cref="ComposeFile"/>): the root
/// docker-compose.yml IS the seed's generated lab (both parsed, merge keys resolved, compared value by value: comments
/// and key order aside, any drift fails and names its path), the units' wiring HOCON is the shipped one, and a
/// hand-written topology of three FGSP members (one FGCP pair, two standalone units) lays out its networks and addresses.
/// </summary>
public sealed class ComposeFileSpec : IDisposable
{
    private static readonly string Root = DockerDrillLab.FindRoot();
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-compose-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static LabTopology Seed() => Scenarios.Topology(Path.Combine(Root, "src/Node/scenarios/seed/topology.yml"));

    /// <summary>A YAML document as plain values: mappings as sorted dictionaries, sequences as lists, scalars as strings,
    /// merge keys (`&lt;&lt;: *unit`) resolved.</summary>
    internal static object? Load(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new MergingParser(new Parser(new StringReader(yaml))));
        return Plain(stream.Documents[0].RootNode);
    }

    private static object? Plain(YamlNode node) => node switch
    {
        YamlMappingNode m => new SortedDictionary<string, object?>(
            m.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => Plain(kv.Value)), StringComparer.Ordinal),
        YamlSequenceNode s => s.Children.Select(Plain).ToList(),
        YamlScalarNode v => v.Value is null or "" or "~" or "null" && v.Style == ScalarStyle.Plain ? null : v.Value,
        _ => throw new InvalidOperationException(node.NodeType.ToString()),
    };

    /// <summary>Every difference between two plain documents, one line each with its path.</summary>
    internal static List<string> Differences(object? expected, object? actual, string path = "")
    {
        var d = new List<string>();
        switch (expected, actual)
        {
            case (SortedDictionary<string, object?> e, SortedDictionary<string, object?> a):
                foreach (var k in e.Keys.Except(a.Keys)) d.Add($"{path}/{k}: missing in the generated file");
                foreach (var k in a.Keys.Except(e.Keys)) d.Add($"{path}/{k}: only in the generated file");
                foreach (var k in e.Keys.Intersect(a.Keys)) d.AddRange(Differences(e[k], a[k], $"{path}/{k}"));
                break;
            case (List<object?> e, List<object?> a):
                if (e.Count != a.Count) d.Add($"{path}: {e.Count} items in the root file, {a.Count} generated");
                else for (var i = 0; i < e.Count; i++) d.AddRange(Differences(e[i], a[i], $"{path}[{i}]"));
                break;
            default:
                if (!Equals(expected, actual)) d.Add($"{path}: root file '{expected}', generated '{actual}'");
                break;
        }
        return d;
    }

    [Fact]
    public void The_root_docker_compose_yml_is_the_seed_topology_generated()
    {
        var generated = ComposeFile.Render(DockerLabPlan.From(Seed()), ComposePaths.RepoRoot);
        var root = File.ReadAllText(Path.Combine(Root, "docker-compose.yml"));
        var differences = Differences(Load(root), Load(generated));
        Assert.True(differences.Count == 0,
            "docker-compose.yml differs from `clusteractors lab compose --topology seed`:\n" + string.Join('\n', differences));
    }

    [Fact]
    public void The_comparison_sees_a_weakened_unit_and_a_moved_address()
    {
        // The equivalence above is only as good as the comparison: a capability added to the units' anchor, or one
        // address moved, must show, each at its path.
        var generated = ComposeFile.Render(DockerLabPlan.From(Seed()), ComposePaths.RepoRoot);
        var root = File.ReadAllText(Path.Combine(Root, "docker-compose.yml"));
        var weakened = root.Replace("cap_add: [NET_ADMIN, NET_RAW, SETUID, SETGID, SETPCAP]", "cap_add: [NET_ADMIN, NET_RAW, SETUID, SETGID, SETPCAP, SYS_ADMIN]")
            .Replace("fgsp: {ipv4_address: 172.31.2.13}", "fgsp: {ipv4_address: 172.31.2.23}");
        var differences = Differences(Load(weakened), Load(generated));
        Assert.Contains("/services/dc2_vm1/cap_add: 6 items in the root file, 5 generated", differences);
        Assert.Contains("/services/dc2_vm3/networks/fgsp/ipv4_address: root file '172.31.2.23', generated '172.31.2.13'", differences);
        Assert.Contains("/x-unit-hardening/cap_add: 6 items in the root file, 5 generated", differences);
    }

    [Fact]
    public void The_units_wiring_is_the_shipped_HOCON()
    {
        var plan = DockerLabPlan.From(Seed());
        foreach (var unit in plan.Topology.UnitNames)
        {
            var shipped = Akka.Configuration.ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(Root, "src/Node/lab/units", unit + ".hocon")))
                .GetConfig("clusteractors.unit");
            var generated = Akka.Configuration.ConfigurationFactory.ParseString(ComposeFile.UnitHocon(plan, unit)).GetConfig("clusteractors.unit");
            foreach (var key in new[] { "akka", "admin", "metrics", "ike", "packets", "certs", "hbdev.port4.bind" })
                Assert.True(shipped.GetString(key) == generated.GetString(key), $"{unit} {key}: shipped {shipped.GetString(key)}, generated {generated.GetString(key)}");
            Assert.Equal(shipped.GetStringList("contacts"), generated.GetStringList("contacts"));
            Assert.Equal(shipped.GetStringList("hbdev.port4.peers"), generated.GetStringList("hbdev.port4.peers"));
        }
    }

    [Fact]
    public void Three_FGSP_members_one_FGCP_pair_and_two_standalone_units_get_their_networks_and_addresses()
    {
        var plan = DockerLabPlan.From(ThreeMembers.Write(_dir));
        Assert.Equal(["wan", "a_port2", "b_port2", "c_port2", "a_port3", "b_port3", "c_port3", "server", "fgsp", "a_hb", "mgmt"],
            plan.Networks.Select(n => n.Name));
        Assert.DoesNotContain(plan.Networks, n => n.Source == "lan"); // the client's LAN is a veth in its container
        var hb = plan.Networks.Single(n => n.Name == "a_hb");
        Assert.Equal((LabNetworkKind.Heartbeat, "172.31.41.0/24", "172.31.41.250", "ca-a-hb"), (hb.Kind, hb.Subnet.ToString(), hb.Gateway.ToString(), hb.Bridge));

        // Unit i has host number 10+i on each of its networks, its ports in name order, mgmt last.
        var b = plan.UnitHost("DC2_VM3");
        Assert.Equal([("b_port2", "port2", "192.168.130.13"), ("b_port3", "port3", "172.31.130.13"), ("fgsp", "port5", "172.31.2.13"), ("mgmt", "mgmt", "172.31.99.13")],
            b.Attachments.Select(a => (a.Network, a.Interface, a.Address.ToString())));
        Assert.Equal("port2=192.168.130.0/24 port3=172.31.130.0/24 port5=172.31.2.0/24 mgmt=172.31.99.0/24", b.Interfaces(plan.Networks));
        var c = plan.UnitHost("DC2_VM5");
        Assert.Equal("192.168.131.14", c.AddressOn("c_port2").ToString());

        // Akka on each unit's own FGSP-link address; heartbeats only in the FGCP pair.
        Assert.Equal(["172.31.2.11:2552", "172.31.2.12:2552", "172.31.2.13:2552", "172.31.2.14:2552"], plan.Wiring.Select(w => w.Akka.ToString()));
        var a1 = Assert.Single(plan.Wiring.Single(w => w.Unit == "DC2_VM1").Heartbeats);
        Assert.Equal(("port4", "172.31.41.11:7000", "172.31.41.12:7000"), (a1.Port, a1.Bind.ToString(), Assert.Single(a1.Peers).ToString()));
        Assert.Empty(plan.Wiring.Single(w => w.Unit == "DC2_VM3").Heartbeats);

        // One router container: dc-router's legs, then dc-core's (their names taken: the router's last word added).
        var router = plan.Router!;
        Assert.Equal(["wan", "a", "b", "c", "acore", "bcore", "ccore", "srv"], router.Host.Attachments.Select(x => x.Interface));
        Assert.Equal(["192.168.129.254", "192.168.130.254", "192.168.131.254"], router.EcmpVia.Select(v => v.ToString()));
        Assert.Equal(["192.168.7.0/24"], router.ClientPrefixes.Select(p => p.ToString()));
        Assert.Equal([("acore", "172.31.129.254"), ("bcore", "172.31.130.254"), ("ccore", "172.31.131.254")],
            router.ReversePath.Select(x => (x.Leg, x.Via.ToString())));

        // The file: every service's networks are declared, every unit hardened as the shipped ones.
        var compose = (SortedDictionary<string, object?>)Load(ComposeFile.Render(plan, ComposePaths.RepoRoot))!;
        var networks = ((SortedDictionary<string, object?>)compose["networks"]!).Keys;
        var services = (SortedDictionary<string, object?>)compose["services"]!;
        foreach (var (name, value) in services)
            foreach (var net in ((SortedDictionary<string, object?>)((SortedDictionary<string, object?>)value!)["networks"]!).Keys)
                Assert.True(networks.Contains(net), $"{name} is on undeclared network {net}");
        var unit = (SortedDictionary<string, object?>)services["dc2_vm5"]!;
        Assert.Equal(["ALL"], (List<object?>)unit["cap_drop"]!);
        Assert.Equal(["NET_ADMIN", "NET_RAW", "SETUID", "SETGID", "SETPCAP"], (List<object?>)unit["cap_add"]!);
        Assert.Equal(("true", "unit-run"), ((string)unit["read_only"]!, (string)((List<object?>)unit["command"]!)[0]!));
        Assert.False(unit.ContainsKey("devices"));
        Assert.Equal("172.31.99.14:8022", ((SortedDictionary<string, object?>)unit["environment"]!)["LAB_ADMIN"]);
    }

    [Fact]
    public async Task The_three_member_compose_file_is_valid_for_docker_compose()
    {
        var compose = RequiredTool.Path("docker-compose");
        var file = Path.Combine(_dir, "docker-compose.yml");
        File.WriteAllText(file, ComposeFile.Render(DockerLabPlan.From(ThreeMembers.Write(_dir)), ComposePaths.RepoRoot));
        var start = new System.Diagnostics.ProcessStartInfo(compose) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dir };
        foreach (var a in new[] { "-f", file, "config", "-q" }) start.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(start)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var errors = await p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "docker-compose config did not finish within 60 s");
        Assert.True(p.ExitCode == 0, await output + errors);
    }

    [Fact]
    public void A_topology_the_container_lab_cannot_lay_is_refused_with_every_reason()
    {
        var t = ThreeMembers.Write(_dir, topology => topology
            .Replace("c-port2: { subnet: 192.168.131.0/24", "c-port2: { subnet: 172.31.99.0/24")
            .Replace("c: { segment: c-port2, address: 192.168.131.1/24 }", "c: { segment: c-port2, address: 172.31.99.1/24 }")
            .Replace("192.168.131.254]", "172.31.99.254]"),
            c => c.Replace("set ip 192.168.131.254 255.255.255.0", "set ip 172.31.99.254 255.255.255.0")
                .Replace("set gateway 192.168.131.1", "set gateway 172.31.99.1"));
        var e = Assert.Throws<DockerLabUnsupportedException>(() => DockerLabPlan.From(t));
        Assert.Contains("the topology uses 172.31.99.0/24, the container lab's management network", e.Problems);
    }
}
