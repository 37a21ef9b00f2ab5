using System.Net;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Protocol.Topology;

/// <summary>An IPv4 network, "192.168.7.0/24": host bits are zero (the parser refuses anything else).</summary>
public sealed record TopologyPrefix(IPAddress Network, int Length)
{
    /// <summary>The same network as the data plane's prefix (one implementation of the address arithmetic).</summary>
    public Ipv4Prefix Prefix => new(NetworkValue, Length);
    public uint Mask => Ipv4Prefix.MaskOf(Length);
    public uint NetworkValue => Ipv4Address.ToUInt32(Network);
    public bool Contains(IPAddress address) => Prefix.Contains(address);
    public override string ToString() => $"{Network}/{Length}";
}

/// <summary>An interface address with its prefix length, "192.168.7.2/24".</summary>
public sealed record TopologyAddress(IPAddress Address, int PrefixLength)
{
    public TopologyPrefix Subnet
    {
        get
        {
            var subnet = Ipv4Prefix.Of(Address, PrefixLength);
            return new TopologyPrefix(Ipv4Address.ToIPAddress(subnet.Network), PrefixLength);
        }
    }

    public override string ToString() => $"{Address}/{PrefixLength}";
}

/// <summary>"DC2_VM1 port2": one interface of one host of the lab.</summary>
public sealed record PortRef(string Host, string Port)
{
    public override string ToString() => $"{Host} {Port}";
}

/// <summary>A FortiGate unit: its FortiOS configuration (parsed) and its serial number (the topology's, else the config's #serialno).</summary>
public sealed record TopologyUnit(string Name, string ConfigFile, string Serial, ConfigDocument Config);

/// <summary>A layer-2 segment with its subnet, and the unit ports cabled to it (their addresses come from the units' configs).</summary>
public sealed record TopologySegment(string Name, TopologyPrefix Subnet, string Description, IReadOnlyList<PortRef> UnitPorts);

/// <summary>An FGCP heartbeat link: the hbdev ports of one cluster's members. Not an IP segment (heartbeats have their own transport).</summary>
public sealed record HeartbeatLink(string Name, IReadOnlyList<PortRef> Ports);

public sealed record RouterLeg(string Name, string Segment, TopologyAddress Address);

public enum TopologyRouteKind
{
    /// <summary>Flow-hashed over next hops that are probed (ICMP echo), a dead one withdrawn.</summary>
    Ecmp,

    /// <summary>Replies follow the neighbour their flow's request came through (the DC core towards the client LAN).</summary>
    ReversePath,
}

/// <summary>
/// A route of a lab router. <see cref="ProbeMisses"/> null is `misses: above-fgcp`: the lab host picks enough misses to
/// outlast the slowest FGCP failover of the units' (possibly changed) configs, so a failover inside a cluster never
/// withdraws it (see EmbeddedScenarioDriver.RouterProbeAbove).
/// </summary>
public sealed record TopologyRoute(TopologyRouteKind Kind, TopologyPrefix Destination, IReadOnlyList<IPAddress> Via,
    TimeSpan ProbeInterval, int? ProbeMisses, ulong HashSeed);

public sealed record TopologyRouter(string Name, IReadOnlyList<RouterLeg> Legs, IReadOnlyList<TopologyRoute> Routes);

public enum ClientKind
{
    /// <summary>Our FortiGate dialup client (FortiGate IPsec Client of the scenario), from its FortiOS config.</summary>
    FortiGate,

    /// <summary>A real strongSwan (container lab only).</summary>
    StrongSwan,
}

/// <summary>A PC behind a client, on the client's LAN (default gateway: the client's LAN address).</summary>
public sealed record TopologyPc(string Name, TopologyAddress Address);

/// <summary>
/// One dialup client as it is cabled: its WAN on a shared segment, its own LAN with PCs behind it. A `clients:` entry
/// with `count: N` expands into N of these (<see cref="LabTopology.Clients"/>).
/// </summary>
public sealed record TopologyClient(string Name, string Entry, ClientKind Kind, string? ConfigFile, ConfigDocument? Config,
    string WanSegment, TopologyAddress Wan, IPAddress WanGateway, string LanSegment, TopologyAddress Lan, IReadOnlyList<TopologyPc> Pcs)
{
    /// <summary>The client's WAN and LAN interface names: FortiGate ports, or a Linux host's eth0/eth1.</summary>
    public string WanInterface => Kind == ClientKind.FortiGate ? "port1" : "eth0";
    public string LanInterface => Kind == ClientKind.FortiGate ? "port2" : "eth1";
}

public sealed record TopologyServer(string Name, string Segment, TopologyAddress Address, IPAddress Gateway);

/// <summary>A FGCP cluster as the units' configs make it: units with one `config system ha` group-id, mode a-p or a-a.</summary>
public sealed record FgcpCluster(int GroupId, string GroupName, IReadOnlyList<string> Members);

/// <summary>
/// One member of FGSP peering: a FGCP cluster (its units share one standalone-cluster config through FGCP sync) or a
/// standalone unit. <see cref="PeerIps"/> are the config's `cluster-peer` peerip addresses.
/// </summary>
public sealed record FgspMember(string Name, IReadOnlyList<string> Units, int MemberId, IReadOnlyList<IPAddress> PeerIps);

/// <summary>The FGSP peering of the lab: the members of one standalone-group-id, syncing over the FGSP link.</summary>
public sealed record FgspPeering(int StandaloneGroupId, string Link, IReadOnlyList<FgspMember> Members);

/// <summary>One cable of the lab with its address: what the fabric lays and what a graph draws.</summary>
public sealed record TopologyWire(string Host, string Interface, string Segment, TopologyAddress Address);

/// <summary>A static route a host needs (units: their `config router static`; others: their default gateway).</summary>
public sealed record TopologyHostRoute(string Host, TopologyPrefix Prefix, IPAddress Via, string Interface);

/// <summary>
/// A lab as its topology file describes it, validated. Immutable. FGCP clusters and FGSP peering are derived from the
/// units' own configs, never stated in the file.
/// </summary>
public sealed class LabTopology
{
    internal LabTopology(string name, string file, string description, IReadOnlyList<TopologyUnit> units, IReadOnlyList<TopologySegment> segments,
        IReadOnlyList<HeartbeatLink> heartbeat, string? fgspLink, IReadOnlyList<TopologyRouter> routers, IReadOnlyList<TopologyClient> clients,
        IReadOnlyList<TopologyServer> servers, IReadOnlyList<FgcpCluster> clusters, FgspPeering? fgsp, IReadOnlyList<TopologyWire> wires)
    {
        Name = name;
        File = file;
        Description = description;
        Units = units;
        Segments = segments;
        HeartbeatLinks = heartbeat;
        FgspLink = fgspLink;
        Routers = routers;
        Clients = clients;
        Servers = servers;
        FgcpClusters = clusters;
        Fgsp = fgsp;
        Wires = wires;
    }

    public string Name { get; }

    /// <summary>The topology file; unit and client configs are relative to its folder.</summary>
    public string File { get; }

    public string Description { get; }
    public IReadOnlyList<TopologyUnit> Units { get; }
    public IReadOnlyList<TopologySegment> Segments { get; }
    public IReadOnlyList<HeartbeatLink> HeartbeatLinks { get; }

    /// <summary>The segment FGSP peers sync over (the peerip addresses of the standalone-cluster configs live there).</summary>
    public string? FgspLink { get; }

    public IReadOnlyList<TopologyRouter> Routers { get; }

    /// <summary>Every client host, `count: N` entries expanded.</summary>
    public IReadOnlyList<TopologyClient> Clients { get; }

    public IReadOnlyList<TopologyServer> Servers { get; }
    public IReadOnlyList<FgcpCluster> FgcpClusters { get; }
    public FgspPeering? Fgsp { get; }

    /// <summary>Every cable with its address: unit ports (addresses from their configs), router legs, clients, PCs, servers.</summary>
    public IReadOnlyList<TopologyWire> Wires { get; }

    public IReadOnlyList<string> UnitNames => Units.Select(u => u.Name).ToArray();

    public TopologyUnit Unit(string name) => Units.FirstOrDefault(u => u.Name == name)
                                             ?? throw new ArgumentException($"the topology {Name} has no unit {name}", nameof(name));

    /// <summary>The FGCP cluster <paramref name="unit"/> belongs to, or null for a standalone unit.</summary>
    public FgcpCluster? ClusterOf(string unit) => FgcpClusters.FirstOrDefault(c => c.Members.Contains(unit));

    /// <summary>Units' loopback addresses (lb1 and the like): local addresses, not cabled.</summary>
    public IReadOnlyList<(string Unit, string Interface, TopologyAddress Address)> Loopbacks =>
        Units.SelectMany(u => u.Config.Interfaces.Where(i => i.Type == "loopback" && i.Ip != "0.0.0.0")
            .Select(i => (u.Name, i.Name, new TopologyAddress(IPAddress.Parse(i.Ip), i.PrefixLength)))).ToArray();

    /// <summary>
    /// The routes the hosts need: each unit's enabled `config router static` entries, each client's default route via
    /// its WAN gateway, each PC's via its client, each server's via its gateway.
    /// </summary>
    public IReadOnlyList<TopologyHostRoute> HostRoutes
    {
        get
        {
            var routes = new List<TopologyHostRoute>();
            var any = new TopologyPrefix(IPAddress.Any, 0);
            foreach (var c in Clients)
            {
                routes.Add(new(c.Name, any, c.WanGateway, c.WanInterface));
                foreach (var pc in c.Pcs) routes.Add(new(pc.Name, any, c.Lan.Address, "eth0"));
            }
            foreach (var s in Servers) routes.Add(new(s.Name, any, s.Gateway, "eth0"));
            foreach (var u in Units)
                foreach (var r in u.Config.StaticRoutes.Where(r => r.Enabled))
                    routes.Add(new(u.Name, new TopologyPrefix(IPAddress.Parse(r.Dst), r.PrefixLength), IPAddress.Parse(r.Gateway), r.Device));
            return routes;
        }
    }

    public IReadOnlyList<TopologyWire> InterfacesOf(string host) => Wires.Where(w => w.Host == host).ToArray();
}
