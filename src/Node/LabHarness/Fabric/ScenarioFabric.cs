using System.Net;
using System.Text;
using ClusterActors.Protocol.Topology;
using ClusterActors.Protocol.Packets;
using ClusterActors.Actors.DataPlane;

namespace ClusterActors.Node.LabHarness.Fabric;

/// <summary>A link of the scenario.</summary>
public sealed record ScenarioSegment(string Name, Ipv4Prefix Prefix, string Role);

/// <summary>One cable of the scenario: <see cref="Host"/>'s <see cref="Interface"/> on <see cref="Segment"/> with <see cref="Address"/>.</summary>
public sealed record ScenarioWire(string Host, string Interface, string Segment, InterfaceAddress Address);

/// <summary>A static route a host of the scenario needs (its gateways); the routers' own routes are built by <see cref="ScenarioFabric.Build"/>.</summary>
public sealed record ScenarioHostRoute(string Host, Ipv4Prefix Prefix, IPAddress Via, string Interface);

public sealed record ScenarioFabricOptions
{
    /// <summary>How the DC router probes the two clusters' port2 address (default 100 ms × 3).</summary>
    public ProbeOptions Probe { get; init; } = ProbeOptions.Default;

    /// <summary>
    /// The DC router's ECMP hash seed. 1 sends CLIENT1 (192.168.7.2 → lb1) to cluster 1, where the seed document's
    /// tunnel forms (DC2_VM1); with seed 0 this one flow would hash to cluster 2.
    /// </summary>
    public ulong EcmpHashSeed { get; init; } = 1;

    /// <summary>Clock and probe timers of both routers.</summary>
    public LabRouterOptions Router { get; init; } = new();

    /// <summary>
    /// Whether the units' ports answer as soon as they are opened (the fabric's cable option). True follows
    /// <see cref="IPacketPort.Answering"/>'s contract (the secondary sets it false); false makes every unit port come up
    /// silent, so a restarting secondary never announces the cluster's address, and the primary sets it true.
    /// </summary>
    public bool UnitsAnswerOnOpen { get; init; } = true;
}

/// <summary>The built scenario: its fabric, the routers and the servers. Disposing closes the routers' and the servers' ports.</summary>
public sealed class ScenarioLab(InMemoryFabric fabric, LabRouter dcRouter, LabRouter dcCore, EchoHost server) : IDisposable
{
    public InMemoryFabric Fabric { get; } = fabric;

    /// <summary>The router that places clients on the FGSP members (the topology's router with an ecmp route).</summary>
    public LabRouter DcRouter { get; } = dcRouter;

    /// <summary>The router in front of the servers (the topology's router with a reverse-path route).</summary>
    public LabRouter DcCore { get; } = dcCore;

    /// <summary>The first server.</summary>
    public EchoHost Server { get; } = server;

    /// <summary>Every router by name (the seed's: dc-router and dc-core).</summary>
    public IReadOnlyDictionary<string, LabRouter> Routers { get; init; } = new Dictionary<string, LabRouter>
        { [dcRouter.Name] = dcRouter, [dcCore.Name] = dcCore };

    /// <summary>Every server by name.</summary>
    public IReadOnlyDictionary<string, EchoHost> Servers { get; init; } = new Dictionary<string, EchoHost> { [ScenarioFabric.ServerHost] = server };

    /// <summary>The topology the lab was built from; null for the C# seed tables (<see cref="ScenarioFabric.Build(ScenarioFabricOptions?)"/>).</summary>
    public LabTopology? Topology { get; init; }

    public void Deconstruct(out InMemoryFabric fabric, out LabRouter dcRouter, out LabRouter dcCore, out EchoHost server) =>
        (fabric, dcRouter, dcCore, server) = (Fabric, DcRouter, DcCore, Server);

    public void Dispose()
    {
        foreach (var s in Servers.Values) s.Dispose();
        foreach (var r in Routers.Values) r.Dispose();
    }
}

/// <summary>
/// The seed scenario's links in one call ("FGCP over FGSP per-tunnel failover for IPsec"): every cable laid, the DC
/// router (ECMP to lb1 over both clusters, probed), the DC core (reverse-path to the client LAN, so a reply goes back
/// through the unit that forwarded the request, the tunnel owner) and the Server running. The units, CLIENT1 and PC1
/// only open their interfaces: <c>lab.Fabric.Host("DC2_VM1").Open("port2", [ScenarioFabric.AddressOf("DC2_VM1", "port2")], onPacket)</c>.
/// The units' lb1 (192.168.202.35/32) is a loopback, not cabled: a unit treats it as a local address. port4 (the FGCP
/// heartbeat) is not on the fabric either: heartbeats have their own UDP transport.
/// </summary>
public static class ScenarioFabric
{
    public const string DcRouterHost = "dc-router";
    public const string DcCoreHost = "dc-core";
    public const string ServerHost = "Server";
    public const string Client1Host = "CLIENT1";
    public const string Pc1Host = "PC1";

    /// <summary>The units' lb1, the phase1 local-gw every FGSP member shares.</summary>
    public static readonly InterfaceAddress Lb1 = InterfaceAddress.Parse("192.168.202.35/32");

    public static readonly IPAddress ServerAddress = IPAddress.Parse("10.10.101.2");
    public static readonly Ipv4Prefix ClientLan = Ipv4Prefix.Parse("10.10.1.0/24");

    public static IReadOnlyList<string> Units { get; } = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];

    public static IReadOnlyList<ScenarioSegment> Segments { get; } =
    [
        new("wan", Ipv4Prefix.Parse("192.168.7.0/24"), "CLIENT1's uplink to the DC router"),
        new("c1-port2", Ipv4Prefix.Parse("192.168.129.0/24"), "cluster 1 (DC2_VM1/2) port2 to the DC router"),
        new("c2-port2", Ipv4Prefix.Parse("192.168.130.0/24"), "cluster 2 (DC2_VM3/4) port2 to the DC router"),
        new("c1-port3", Ipv4Prefix.Parse("172.31.129.0/24"), "cluster 1 port3 to the DC core"),
        new("c2-port3", Ipv4Prefix.Parse("172.31.130.0/24"), "cluster 2 port3 to the DC core"),
        new("server", Ipv4Prefix.Parse("10.10.101.0/24"), "the DC core to the Server"),
        new("fgsp", Ipv4Prefix.Parse("172.31.2.0/24"), "FGSP peering between the clusters (port5)"),
        new("lan", Ipv4Prefix.Parse("10.10.1.0/24"), "CLIENT1's LAN with PC1"),
    ];

    public static IReadOnlyList<ScenarioWire> Wiring { get; } =
    [
        W(Client1Host, "port1", "wan", "192.168.7.2/24"),
        W(DcRouterHost, "wan", "wan", "192.168.7.1/24"),

        W("DC2_VM1", "port2", "c1-port2", "192.168.129.254/24"),
        W("DC2_VM2", "port2", "c1-port2", "192.168.129.254/24"),
        W(DcRouterHost, "c1", "c1-port2", "192.168.129.1/24"),

        W("DC2_VM3", "port2", "c2-port2", "192.168.130.254/24"),
        W("DC2_VM4", "port2", "c2-port2", "192.168.130.254/24"),
        W(DcRouterHost, "c2", "c2-port2", "192.168.130.1/24"),

        W("DC2_VM1", "port3", "c1-port3", "172.31.129.254/24"),
        W("DC2_VM2", "port3", "c1-port3", "172.31.129.254/24"),
        W(DcCoreHost, "c1", "c1-port3", "172.31.129.1/24"),

        W("DC2_VM3", "port3", "c2-port3", "172.31.130.254/24"),
        W("DC2_VM4", "port3", "c2-port3", "172.31.130.254/24"),
        W(DcCoreHost, "c2", "c2-port3", "172.31.130.1/24"),

        W(DcCoreHost, "srv", "server", "10.10.101.1/24"),
        W(ServerHost, "eth0", "server", "10.10.101.2/24"),

        W("DC2_VM1", "port5", "fgsp", "172.31.2.1/24"),
        W("DC2_VM2", "port5", "fgsp", "172.31.2.1/24"),
        W("DC2_VM3", "port5", "fgsp", "172.31.2.2/24"),
        W("DC2_VM4", "port5", "fgsp", "172.31.2.2/24"),

        W(Client1Host, "port2", "lan", "10.10.1.1/24"),
        W(Pc1Host, "eth0", "lan", "10.10.1.2/24"),
    ];

    /// <summary>
    /// The routes the scenario's hosts need to reach each other across the fabric (the seed only says "networking is
    /// configured properly"; these are the minimal ones): units send to the client through the DC router and to the
    /// Server through the DC core; CLIENT1, PC1 and the Server use their router as default gateway.
    /// </summary>
    public static IReadOnlyList<ScenarioHostRoute> HostRoutes { get; } =
    [
        R(Client1Host, "0.0.0.0/0", "192.168.7.1", "port1"),
        R(Pc1Host, "0.0.0.0/0", "10.10.1.1", "eth0"),
        R(ServerHost, "0.0.0.0/0", "10.10.101.1", "eth0"),
        R("DC2_VM1", "0.0.0.0/0", "192.168.129.1", "port2"),
        R("DC2_VM1", "10.10.101.0/24", "172.31.129.1", "port3"),
        R("DC2_VM2", "0.0.0.0/0", "192.168.129.1", "port2"),
        R("DC2_VM2", "10.10.101.0/24", "172.31.129.1", "port3"),
        R("DC2_VM3", "0.0.0.0/0", "192.168.130.1", "port2"),
        R("DC2_VM3", "10.10.101.0/24", "172.31.130.1", "port3"),
        R("DC2_VM4", "0.0.0.0/0", "192.168.130.1", "port2"),
        R("DC2_VM4", "10.10.101.0/24", "172.31.130.1", "port3"),
    ];

    /// <summary>The scenario address of <paramref name="host"/>'s <paramref name="iface"/> (lb1 included for the units).</summary>
    public static InterfaceAddress AddressOf(string host, string iface)
    {
        if (iface == "lb1" && Units.Contains(host))
            return Lb1;
        return Wiring.FirstOrDefault(w => w.Host == host && w.Interface == iface)?.Address
            ?? throw new ArgumentException($"The scenario has no interface {iface} on {host}.");
    }

    /// <summary>The cabled interfaces of <paramref name="host"/>.</summary>
    public static IReadOnlyList<ScenarioWire> InterfacesOf(string host) => Wiring.Where(w => w.Host == host).ToArray();

    public static ScenarioLab Build(ScenarioFabricOptions? options = null)
    {
        options ??= new ScenarioFabricOptions();
        var fabric = new InMemoryFabric();
        foreach (var w in Wiring)
            fabric.Cable(w.Host, w.Interface, w.Segment, answeringOnOpen: !Units.Contains(w.Host) || options.UnitsAnswerOnOpen);

        var router = new LabRouter(DcRouterHost, fabric.Host(DcRouterHost), options.Router);
        var core = new LabRouter(DcCoreHost, fabric.Host(DcCoreHost), options.Router);
        EchoHost? server = null;
        try
        {
            foreach (var w in InterfacesOf(DcRouterHost))
                router.AddLeg(w.Interface, [w.Address]);
            router.AddEcmpRoute(Lb1.ToString(),
                [AddressOf("DC2_VM1", "port2").Address.ToString(), AddressOf("DC2_VM3", "port2").Address.ToString()], options.Probe, options.EcmpHashSeed);

            foreach (var w in InterfacesOf(DcCoreHost))
                core.AddLeg(w.Interface, [w.Address]);
            core.AddReversePathRoute(ClientLan.ToString(),
                [AddressOf("DC2_VM1", "port3").Address.ToString(), AddressOf("DC2_VM3", "port3").Address.ToString()]);

            server = new EchoHost(fabric.Host(ServerHost), "eth0", AddressOf(ServerHost, "eth0"), AddressOf(DcCoreHost, "srv").Address);
            return new ScenarioLab(fabric, router, core, server);
        }
        catch
        {
            server?.Dispose();
            core.Dispose();
            router.Dispose();
            throw;
        }
    }

    // ------------------------------------------------------------------------------------------------------------------
    // From a topology file (src/Protocol/Topology): the same fabric for any lab.

    /// <summary>The topology's segments: the declared ones, then the LANs of clients beyond the first of a `count: N` entry.</summary>
    public static IReadOnlyList<ScenarioSegment> SegmentsOf(LabTopology topology) =>
        topology.Segments.Select(s => new ScenarioSegment(s.Name, Prefix(s.Subnet), s.Description))
            .Concat(topology.Clients.Where(c => topology.Segments.All(s => s.Name != c.LanSegment))
                .Select(c => new ScenarioSegment(c.LanSegment, Prefix(c.Lan.Subnet), $"{c.Name}'s LAN")))
            .ToArray();

    /// <summary>Every cable of the topology, with its address (unit ports: from the units' configs).</summary>
    public static IReadOnlyList<ScenarioWire> WiringOf(LabTopology topology) =>
        topology.Wires.Select(w => new ScenarioWire(w.Host, w.Interface, w.Segment, Address(w.Address))).ToArray();

    public static IReadOnlyList<ScenarioHostRoute> HostRoutesOf(LabTopology topology) =>
        topology.HostRoutes.Select(r => new ScenarioHostRoute(r.Host, Prefix(r.Prefix), r.Via, r.Interface)).ToArray();

    /// <summary>
    /// Lays the topology's cables and starts its routers and servers, as <see cref="Build(ScenarioFabricOptions?)"/>
    /// does for the C# seed tables. An ecmp route's probe is the file's, except `misses: above-fgcp`, which takes
    /// <see cref="ScenarioFabricOptions.Probe"/> (the host computes it from the units' configs); its hash seed is the
    /// file's. The topology needs a router with an ecmp route (clients reach the FGSP members through it), one with a
    /// reverse-path route and a server.
    /// </summary>
    public static ScenarioLab Build(LabTopology topology, ScenarioFabricOptions? options = null)
    {
        options ??= new ScenarioFabricOptions();
        var units = topology.UnitNames.ToHashSet();
        var fabric = new InMemoryFabric();
        foreach (var w in topology.Wires)
            fabric.Cable(w.Host, w.Interface, w.Segment, answeringOnOpen: !units.Contains(w.Host) || options.UnitsAnswerOnOpen);

        var routers = new Dictionary<string, LabRouter>();
        var servers = new Dictionary<string, EchoHost>();
        try
        {
            foreach (var r in topology.Routers)
            {
                var router = routers[r.Name] = new LabRouter(r.Name, fabric.Host(r.Name), options.Router);
                foreach (var leg in r.Legs)
                    router.AddLeg(leg.Name, [Address(leg.Address)]);
                foreach (var route in r.Routes)
                {
                    var via = route.Via.Select(v => v.ToString()).ToArray();
                    if (route.Kind == TopologyRouteKind.Ecmp)
                        router.AddEcmpRoute(route.Destination.ToString(), via,
                            route.ProbeMisses is { } misses ? new ProbeOptions(route.ProbeInterval, misses) : options.Probe, route.HashSeed);
                    else
                        router.AddReversePathRoute(route.Destination.ToString(), via);
                }
            }
            foreach (var s in topology.Servers)
                servers[s.Name] = new EchoHost(fabric.Host(s.Name), "eth0", Address(s.Address), s.Gateway);

            var dcRouter = topology.Routers.FirstOrDefault(r => r.Routes.Any(x => x.Kind == TopologyRouteKind.Ecmp))
                           ?? throw new ArgumentException($"topology {topology.Name} has no router with an ecmp route");
            var dcCore = topology.Routers.FirstOrDefault(r => r.Routes.Any(x => x.Kind == TopologyRouteKind.ReversePath))
                         ?? throw new ArgumentException($"topology {topology.Name} has no router with a reverse-path route");
            var server = topology.Servers.FirstOrDefault() ?? throw new ArgumentException($"topology {topology.Name} has no server");
            return new ScenarioLab(fabric, routers[dcRouter.Name], routers[dcCore.Name], servers[server.Name])
                { Routers = routers, Servers = servers, Topology = topology };
        }
        catch
        {
            foreach (var s in servers.Values) s.Dispose();
            foreach (var r in routers.Values) r.Dispose();
            throw;
        }
    }

    private static Ipv4Prefix Prefix(TopologyPrefix p) => new(Ipv4Address.ToUInt32(p.Network), p.Length);

    private static InterfaceAddress Address(TopologyAddress a) => new(a.Address, a.PrefixLength);

    /// <summary>The wiring as a table, one cable a line, grouped by segment.</summary>
    public static string DescribeWiring()
    {
        var sb = new StringBuilder();
        foreach (var s in Segments)
        {
            sb.Append($"{s.Name} {s.Prefix}  ({s.Role})\n");
            foreach (var w in Wiring.Where(w => w.Segment == s.Name))
                sb.Append($"    {w.Host} {w.Interface}".PadRight(24)).Append(' ').Append(w.Address).Append('\n');
        }
        sb.Append($"lb1 {Lb1} on {string.Join(", ", Units)} (loopback, not cabled)\n");
        return sb.ToString();
    }

    private static ScenarioWire W(string host, string iface, string segment, string address) =>
        new(host, iface, segment, InterfaceAddress.Parse(address));

    private static ScenarioHostRoute R(string host, string prefix, string via, string iface) =>
        new(host, Ipv4Prefix.Parse(prefix), IPAddress.Parse(via), iface);
}
