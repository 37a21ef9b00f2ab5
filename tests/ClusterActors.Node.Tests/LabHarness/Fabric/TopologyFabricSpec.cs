using System.Net;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Protocol.Packets;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.Tests.LabHarness.Fabric;

/// <summary>
/// The seed's topology file (src/Node/scenarios/seed/topology.yml) yields exactly the fabric the C# seed tables of
/// <see cref="ScenarioFabric"/> lay: the same segments, cables, addresses and host routes, and built, the same fabric,
/// the same routers with the same legs and routes, the same Server. No behaviour changes when the labs read the file.
/// </summary>
public class TopologyFabricSpec
{
    private static readonly ScenarioFabricOptions Stepped = new() { Router = new LabRouterOptions { ProbeTimers = false } };

    private static string SeedFile(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "src", "Node", "scenarios", "seed", name);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"seed file {name} not found above {AppContext.BaseDirectory}");
    }

    private static LabTopology Seed()
    {
        var result = TopologyFile.Load(SeedFile("topology.yml"));
        Assert.True(result.Ok, result.ToString());
        return result.Value!;
    }

    private static string[] Sorted(IEnumerable<string> lines) => lines.Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void The_seed_topology_has_the_seed_tables_segments_cables_and_addresses()
    {
        var t = Seed();
        Assert.Equal(Sorted(ScenarioFabric.Segments.Select(s => $"{s.Name} {s.Prefix} {s.Role}")),
            Sorted(ScenarioFabric.SegmentsOf(t).Select(s => $"{s.Name} {s.Prefix} {s.Role}")));
        Assert.Equal(Sorted(ScenarioFabric.Wiring.Select(w => $"{w.Host} {w.Interface} {w.Segment} {w.Address}")),
            Sorted(ScenarioFabric.WiringOf(t).Select(w => $"{w.Host} {w.Interface} {w.Segment} {w.Address}")));
        Assert.Equal(Sorted(ScenarioFabric.HostRoutes.Select(r => $"{r.Host} {r.Prefix} via {r.Via} dev {r.Interface}")),
            Sorted(ScenarioFabric.HostRoutesOf(t).Select(r => $"{r.Host} {r.Prefix} via {r.Via} dev {r.Interface}")));
        Assert.Equal(ScenarioFabric.Units, t.UnitNames);
        Assert.All(ScenarioFabric.Units, u => Assert.Contains((u, "lb1", ScenarioFabric.Lb1.ToString()),
            t.Loopbacks.Select(l => (l.Unit, l.Interface, l.Address.ToString()))));
        var client = Assert.Single(t.Clients);
        Assert.Equal((ScenarioFabric.Client1Host, ScenarioFabric.Pc1Host), (client.Name, Assert.Single(client.Pcs).Name));
        Assert.Equal(ScenarioFabric.ClientLan.ToString(), client.Lan.Subnet.ToString());
        Assert.Equal(ScenarioFabric.ServerAddress, Assert.Single(t.Servers).Address.Address);
    }

    [Fact]
    public void The_seed_topology_builds_the_same_fabric_routers_and_server()
    {
        var probe = new ProbeOptions(TimeSpan.FromMilliseconds(100), 42);
        using var tables = ScenarioFabric.Build(Stepped with { Probe = probe });
        using var file = ScenarioFabric.Build(Seed(), Stepped with { Probe = probe });

        Assert.Equal(Sorted(tables.Fabric.Wiring.Select(c => $"{c.Host} {c.Interface} {c.Segment} {c.Plugged}")),
            Sorted(file.Fabric.Wiring.Select(c => $"{c.Host} {c.Interface} {c.Segment} {c.Plugged}")));
        Assert.Equal(tables.Fabric.Segments.Order(), file.Fabric.Segments.Order());

        Assert.Equal((ScenarioFabric.DcRouterHost, ScenarioFabric.DcCoreHost), (file.DcRouter.Name, file.DcCore.Name));
        // Describe prints every route (prefix, kind, next hops with legs, probe, hash seed) and the connected legs.
        Assert.Equal(tables.DcRouter.Describe(), file.DcRouter.Describe());
        Assert.Equal(tables.DcCore.Describe(), file.DcCore.Describe());
        Assert.Contains("192.168.202.35/32 ecmp (flow hash: source+destination seed 1, probe 100ms x 42)", file.DcRouter.Describe());
        Assert.Equal((tables.Server.Address, tables.Server.Gateway), (file.Server.Address, file.Server.Gateway));
        Assert.Equal([ScenarioFabric.DcRouterHost, ScenarioFabric.DcCoreHost], file.Routers.Keys.Order(StringComparer.Ordinal).Reverse());
    }

    [Fact]
    public void The_file_built_lab_routes_the_client_to_cluster_1_and_the_servers_replies_back()
    {
        using var lab = ScenarioFabric.Build(Seed(), Stepped);
        // Same flow hash as the tables: CLIENT1's IKE to lb1 goes to cluster 1's port2.
        var decision = lab.DcRouter.Resolve(IPAddress.Parse("192.168.7.2"), ScenarioFabric.Lb1.Address);
        Assert.Equal((IPAddress.Parse("192.168.129.254"), "c1"), (decision!.NextHop, decision.Leg));

        // The Server answers an echo that came through cluster 1's port3.
        var replies = new List<Ipv4Packet>();
        var unit = lab.Fabric.Host("DC2_VM1").Open("port3", [ScenarioFabric.AddressOf("DC2_VM1", "port3")], (_port, p) =>
        {
            if (Ipv4Packet.TryParse(p, out var packet, out _)) replies.Add(packet);
        });
        var request = IcmpEcho.Request(9, 1, new byte[8]).InIpv4(IPAddress.Parse("10.10.1.2"), ScenarioFabric.ServerAddress).ToBytes();
        Assert.True(unit.Send(IPAddress.Parse("172.31.129.1"), request));
        Assert.Equal(1, lab.Server.EchoRequestsAnswered);
        Assert.Single(replies);
    }

    [Fact]
    public void An_explicit_probe_in_the_file_is_the_routes_probe()
    {
        var text = File.ReadAllText(SeedFile("topology.yml")).Replace("misses: above-fgcp", "misses: 5").Replace("interval: 100ms", "interval: 250ms");
        var parsed = TopologyFile.Parse(text, "lab.yml", f => ClusterActors.Protocol.Config.FortiConfig.ParseFile(SeedFile(f)));
        Assert.True(parsed.Ok, parsed.ToString());
        using var lab = ScenarioFabric.Build(parsed.Value!, Stepped);
        var route = Assert.Single(lab.DcRouter.Routes, r => r.Kind == RouteKind.Ecmp);
        Assert.Equal(new ProbeOptions(TimeSpan.FromMilliseconds(250), 5), route.Probe);
    }
}
