using System.Globalization;
using System.Net;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.DockerLab;

public enum LabNetworkKind
{
    /// <summary>An IP segment of the topology that a container sits on (unit ports, router legs, client WANs, servers).</summary>
    Segment,

    /// <summary>An FGCP heartbeat link: not an IP segment in the topology; in Docker a network of its own with a chosen subnet.</summary>
    Heartbeat,

    /// <summary>The management network: the units' admin endpoints and the clients' control endpoints, no scenario traffic.</summary>
    Management,
}

/// <summary>One Docker network of the lab: its name in compose, subnet, Docker's gateway (the host's end) and host bridge.</summary>
public sealed record LabNetwork(string Name, LabNetworkKind Kind, string Source, TopologyPrefix Subnet, IPAddress Gateway, string Bridge, string Description);

/// <summary>A container's interface: the network, the interface name lab-net gives it, the address Docker assigns.</summary>
public sealed record LabAttachment(string Network, string Interface, IPAddress Address);

public enum LabHostKind { Unit, Router, Client, Server }

/// <summary>One container of the lab: a topology host (or, for the router, every topology router) and its interfaces.</summary>
public sealed record LabHost(string Service, string Hostname, LabHostKind Kind, string TopologyName, IReadOnlyList<LabAttachment> Attachments)
{
    /// <summary>LAB_IFACES: "NAME=SUBNET …", how lab-net renames Docker's ethN after the scenario's ports.</summary>
    public string Interfaces(IReadOnlyList<LabNetwork> networks) =>
        string.Join(' ', Attachments.Select(a => $"{a.Interface}={networks.First(n => n.Name == a.Network).Subnet}"));

    public IPAddress AddressOn(string network) => Attachments.First(a => a.Network == network).Address;
}

/// <summary>A unit's container wiring: its admin and Akka endpoints, its heartbeat sockets, its IKE socket and lb1.</summary>
public sealed record LabUnitWiring(string Unit, IPEndPoint Admin, IPEndPoint Akka, IReadOnlyList<LabHeartbeat> Heartbeats, IPEndPoint? Ike,
    TopologyAddress? Lb1)
{
    /// <summary>Its Prometheus metrics (http://ADDRESS:9100/metrics), on the management network only, beside the admin endpoint.</summary>
    public IPEndPoint Metrics => new(Admin.Address, DockerLabPlan.MetricsPort);
}

/// <summary>An hbdev port's UDP socket and its peers' (the other members' on the same heartbeat network).</summary>
public sealed record LabHeartbeat(string Port, IPEndPoint Bind, IReadOnlyList<IPEndPoint> Peers);

/// <summary>
/// The lab router container (every router of the topology on one Linux host, as the seed's DC router and DC core
/// share dc_router): the ECMP route `clusteractors router` places clients on, and the reverse-path legs.
/// </summary>
public sealed record LabRouterPlan(LabHost Host, TopologyPrefix? EcmpDestination, IReadOnlyList<IPAddress> EcmpVia, IReadOnlyList<TopologyPrefix> ClientPrefixes,
    ulong HashSeed, TimeSpan ProbeInterval, int? ProbeMisses, IReadOnlyList<(string Leg, IPAddress Via)> ReversePath);

/// <summary>A dialup client container: CLIENT1 (port1 on the WAN) with its PC in a namespace behind port2.</summary>
public sealed record LabClientPlan(LabHost Host, string ConfigFile, TopologyAddress Lan, TopologyAddress Pc, IPEndPoint Control);

public sealed record LabServerPlan(LabHost Host, IPAddress Gateway);

/// <summary>The topology can not be laid as a container lab: every reason, one line each.</summary>
public sealed class DockerLabUnsupportedException(string topology, IReadOnlyList<string> problems)
    : Exception($"{topology}: {problems.Count} problem(s) for the container lab; nothing generated")
{
    public IReadOnlyList<string> Problems { get; } = problems;
}

/// <summary>
/// A topology laid out as a container lab, before any YAML: every Docker network with its subnet, gateway and bridge,
/// every container with the address Docker gives it on each network, the units' wiring. Pure: the compose file
/// (<see cref="ComposeFile"/>), the units' HOCON and `lab status` are all read from this one plan. The rules
/// (src/Node/lab/README.md, "Generated from the topology"):
/// - one network per segment that a container sits on; a segment only clients' LANs use is a veth inside the client
///   container; one network per heartbeat link (subnets 172.31.41.0/24, .42 … not used by the topology); `mgmt`
///   172.31.99.0/24. Gateway (the host's bridge): the subnet's broadcast − 5 (.250 in a /24). Bridge ca-NAME.
/// - unit i (1-based, file order) has host number 10+i on every network it is on (.11, .12 …), its own address;
///   the config's addresses (a cluster's .254) are added by the FGCP primary, never by Docker.
/// - routers, clients and servers get their topology addresses; client i is .1+i on mgmt.
/// </summary>
public sealed class DockerLabPlan
{
    public const string ManagementNetwork = "mgmt";
    public const int AdminPort = 8022;
    /// <summary>Each unit's Prometheus endpoint in the container lab: node_exporter's well-known port.</summary>
    public const int MetricsPort = 9100;
    public const int AkkaPort = 2552;
    public const int HeartbeatPort = 7000;
    public const int ClientControlPort = 8023;
    public const string Image = "clusteractors:latest";
    private static readonly TopologyPrefix ManagementSubnet = new(IPAddress.Parse("172.31.99.0"), 24);

    public required LabTopology Topology { get; init; }
    public required IReadOnlyList<LabNetwork> Networks { get; init; }
    public required IReadOnlyList<LabHost> Units { get; init; }
    public required IReadOnlyList<LabUnitWiring> Wiring { get; init; }
    public LabRouterPlan? Router { get; init; }
    public required IReadOnlyList<LabClientPlan> Clients { get; init; }
    public required IReadOnlyList<LabServerPlan> Servers { get; init; }

    /// <summary>The `postgres` profile's server, on the FGSP link (the units' journal); null without an FGSP link.</summary>
    public (string Network, IPAddress Address)? Postgres { get; init; }

    /// <summary>The `strongswan` profile's client, on the first client's WAN after the clients' addresses.</summary>
    public (string Network, IPAddress Address)? StrongSwan { get; init; }

    /// <summary>The `observability` profile's Prometheus: on mgmt, .240 (clear of the clients' .2… and the units' .11…),
    /// where every unit's metrics endpoint is.</summary>
    public required (string Network, IPAddress Address) Prometheus { get; init; }

    /// <summary>
    /// Where `execute ha manage` goes from <paramref name="unit"/>'s console (`docker exec -it UNIT cli`): every other
    /// member of its FGCP cluster as `HOSTNAME=ADMIN` (the hostname FortiOS's HA table names it by, from its config; the
    /// admin endpoint on mgmt), the `cli` script's `--member` options. Empty for a standalone unit.
    /// </summary>
    public string ManageMembers(string unit) => Topology.ClusterOf(unit) is { } cluster
        ? string.Join(' ', cluster.Members.Where(m => m != unit)
            .Select(m => $"{Topology.Unit(m).Config.Global.Hostname}={Wiring.First(w => w.Unit == m).Admin}"))
        : "";

    /// <summary>The `observability` profile's Prometheus image (src/Node/lab/prometheus).</summary>
    public const string PrometheusImage = "clusteractors-prometheus:latest";
    public const int PrometheusPort = 9090;

    /// <summary>What Prometheus scrapes (its LAB_SCRAPE): every unit as `UNIT=CLUSTER=HOST:PORT`, CLUSTER the unit's FGCP
    /// group name (a standalone unit its own name), the label the recording rules group by.</summary>
    public string PrometheusScrape => string.Join(' ', Wiring.Select(w =>
        $"{w.Unit}={Topology.ClusterOf(w.Unit)?.GroupName ?? w.Unit}={w.Metrics}"));

    public IEnumerable<LabHost> Hosts =>
        Units.Concat(Router is null ? [] : [Router.Host]).Concat(Clients.Select(c => c.Host)).Concat(Servers.Select(s => s.Host));

    public LabHost UnitHost(string unit) => Units.First(u => u.TopologyName == unit);

    /// <summary>A topology name as a compose name: lower case, '-' as '_' (DC2_VM1 → dc2_vm1, c1-port2 → c1_port2).</summary>
    public static string ServiceName(string name) => name.ToLowerInvariant().Replace('-', '_');

    /// <summary>A host name: lower case, '_' as '-' (DC2_VM1 → dc2-vm1).</summary>
    public static string HostName(string name) => name.ToLowerInvariant().Replace('_', '-');

    /// <summary>The host bridge: ca-NAME, '_' as '-', at most 15 characters (IFNAMSIZ); a longer name keeps 8 and a hash.</summary>
    public static string BridgeName(string network)
    {
        var name = "ca-" + network.Replace('_', '-');
        if (name.Length <= 15) return name;
        var hash = 0u;
        foreach (var ch in network) hash = hash * 31 + ch;
        return string.Create(CultureInfo.InvariantCulture, $"ca-{network.Replace('_', '-')[..7]}-{hash % 0x10000:x4}");
    }

    public static DockerLabPlan From(LabTopology topology)
    {
        var problems = new List<string>();
        var networks = new List<LabNetwork>();
        var used = topology.Segments.Select(s => s.Subnet).ToList();

        // Segments a container sits on: unit ports, router legs, client WANs, servers. A LAN only a client and its
        // PCs use is inside the client container (a veth pair), not a Docker network.
        var clientLans = topology.Clients.Select(c => c.LanSegment).ToHashSet();
        var onDocker = topology.Segments.Where(s => s.UnitPorts.Count > 0 || !clientLans.Contains(s.Name)).ToList();
        foreach (var s in onDocker)
            networks.Add(Network(ServiceName(s.Name), LabNetworkKind.Segment, s.Name, s.Subnet, s.Description));
        var nextHeartbeat = 41;
        foreach (var link in topology.HeartbeatLinks)
        {
            TopologyPrefix subnet;
            do subnet = new TopologyPrefix(IPAddress.Parse($"172.31.{nextHeartbeat++}.0"), 24);
            while (used.Any(u => Overlaps(u, subnet)) && nextHeartbeat < 99);
            used.Add(subnet);
            networks.Add(Network(ServiceName(link.Name), LabNetworkKind.Heartbeat, link.Name, subnet,
                $"FGCP heartbeat {string.Join(", ", link.Ports)}"));
        }
        if (used.Any(u => Overlaps(u, ManagementSubnet)))
            problems.Add($"the topology uses {ManagementSubnet}, the container lab's management network");
        networks.Add(Network(ManagementNetwork, LabNetworkKind.Management, "", ManagementSubnet,
            "management only: the units' admin endpoints and the clients' control endpoints"));
        foreach (var dup in networks.GroupBy(n => n.Name).Where(g => g.Count() > 1))
            problems.Add($"two networks would be named {dup.Key} ({string.Join(", ", dup.Select(n => n.Source))})");
        foreach (var dup in networks.GroupBy(n => n.Bridge).Where(g => g.Count() > 1))
            problems.Add($"two networks would have the bridge {dup.Key}");
        LabNetwork? NetOf(string segment) => networks.FirstOrDefault(n => n.Kind == LabNetworkKind.Segment && n.Source == segment);

        // Units: their own address, host number 10+i, on every network they are on.
        var units = new List<LabHost>();
        var wiring = new List<LabUnitWiring>();
        for (var i = 0; i < topology.Units.Count; i++)
        {
            var unit = topology.Units[i];
            var hostNumber = 11 + i;
            var ports = new List<(string Port, LabNetwork Net)>();
            foreach (var s in topology.Segments)
                foreach (var p in s.UnitPorts.Where(p => p.Host == unit.Name))
                    ports.Add((p.Port, NetOf(s.Name)!));
            foreach (var link in topology.HeartbeatLinks)
                foreach (var p in link.Ports.Where(p => p.Host == unit.Name))
                    ports.Add((p.Port, networks.First(n => n.Kind == LabNetworkKind.Heartbeat && n.Source == link.Name)));
            var attachments = ports.OrderBy(p => p.Port, StringComparer.Ordinal)
                .Select(p => new LabAttachment(p.Net.Name, p.Port, Host(p.Net, hostNumber, unit.Name, problems)))
                .Append(new LabAttachment(ManagementNetwork, ManagementNetwork, Host(networks[^1], hostNumber, unit.Name, problems)))
                .ToList();
            units.Add(new LabHost(ServiceName(unit.Name), HostName(unit.Name), LabHostKind.Unit, unit.Name, attachments));
        }

        // Akka on the FGSP link (the one segment every member shares), else on mgmt; heartbeats on their own networks.
        var fgspNet = topology.FgspLink is { } link0 ? NetOf(link0) : null;
        foreach (var host in units)
        {
            var unit = topology.Unit(host.TopologyName);
            var akkaNet = fgspNet is not null && host.Attachments.Any(a => a.Network == fgspNet.Name) ? fgspNet.Name : ManagementNetwork;
            var heartbeats = new List<LabHeartbeat>();
            foreach (var link in topology.HeartbeatLinks)
                foreach (var p in link.Ports.Where(p => p.Host == unit.Name))
                {
                    var net = ServiceName(link.Name);
                    var peers = link.Ports.Where(o => o.Host != unit.Name)
                        .Select(o => new IPEndPoint(units.First(u => u.TopologyName == o.Host).AddressOn(net), HeartbeatPort)).ToList();
                    heartbeats.Add(new LabHeartbeat(p.Port, new IPEndPoint(host.AddressOn(net), HeartbeatPort), peers));
                }
            var loopbacks = topology.Loopbacks.Where(l => l.Unit == unit.Name).ToList();
            foreach (var l in loopbacks.Where(l => l.Interface != "lb1"))
                problems.Add($"{unit.Name} {l.Interface}: the container lab makes one loopback, lb1");
            var lb1 = loopbacks.FirstOrDefault(l => l.Interface == "lb1").Address;
            var localGw = unit.Config.Phase1.Select(p => p.LocalGw).FirstOrDefault(g => g is { Length: > 0 } && g != "0.0.0.0");
            var ike = localGw is not null ? new IPEndPoint(IPAddress.Parse(localGw), 500) : lb1 is not null ? new IPEndPoint(lb1.Address, 500) : null;
            wiring.Add(new LabUnitWiring(unit.Name, new IPEndPoint(host.AddressOn(ManagementNetwork), AdminPort),
                new IPEndPoint(host.AddressOn(akkaNet), AkkaPort), heartbeats, ike, lb1));
        }

        var router = PlanRouter(topology, networks, NetOf, problems);
        var clients = new List<LabClientPlan>();
        for (var i = 0; i < topology.Clients.Count; i++)
        {
            var c = topology.Clients[i];
            if (c.Kind != ClientKind.FortiGate) { problems.Add($"client {c.Name}: the container lab runs FortiGate clients (kind strongswan: the `strongswan` profile)"); continue; }
            if (c.Pcs.Count != 1) { problems.Add($"client {c.Name}: the container lab puts one PC behind a client, not {c.Pcs.Count}"); continue; }
            if (NetOf(c.WanSegment) is not { } wan) continue;
            var mgmt = Host(networks.First(n => n.Name == ManagementNetwork), 2 + i, c.Name, problems);
            // The first client is `client`: what the drills and `docker exec client …` drive.
            var service = i == 0 ? "client" : ServiceName(c.Name);
            var host = new LabHost(service, HostName(c.Name), LabHostKind.Client, c.Name,
                [new LabAttachment(wan.Name, c.WanInterface, c.Wan.Address), new LabAttachment(ManagementNetwork, ManagementNetwork, mgmt)]);
            clients.Add(new LabClientPlan(host, c.ConfigFile ?? "", c.Lan, c.Pcs[0].Address, new IPEndPoint(mgmt, ClientControlPort)));
        }
        var servers = topology.Servers.Where(s => NetOf(s.Segment) is not null)
            .Select(s => new LabServerPlan(new LabHost(ServiceName(s.Name), HostName(s.Name), LabHostKind.Server, s.Name,
                [new LabAttachment(NetOf(s.Segment)!.Name, "eth0", s.Address.Address)]), s.Gateway)).ToList();

        (string, IPAddress)? postgres = fgspNet is null ? null : (fgspNet.Name, Offset(fgspNet.Subnet, 5));
        (string, IPAddress)? swan = null;
        if (clients.Count > 0)
        {
            var wan = clients[0].Host.Attachments[0].Network;
            var last = clients.Where(c => c.Host.Attachments[0].Network == wan).Max(c => Value(c.Host.Attachments[0].Address));
            swan = (wan, ToAddress(last + 1));
        }

        var plan = new DockerLabPlan
        {
            Topology = topology, Networks = networks, Units = units, Wiring = wiring, Router = router, Clients = clients, Servers = servers,
            Postgres = postgres, StrongSwan = swan, Prometheus = (ManagementNetwork, Offset(ManagementSubnet, 240)),
        };
        CheckAddresses(plan, problems);
        if (problems.Count > 0) throw new DockerLabUnsupportedException(topology.Name, problems);
        return plan;
    }

    private static LabRouterPlan? PlanRouter(LabTopology topology, List<LabNetwork> networks, Func<string, LabNetwork?> netOf, List<string> problems)
    {
        if (topology.Routers.Count == 0) return null;
        var ecmp = topology.Routers.SelectMany(r => r.Routes.Where(x => x.Kind == TopologyRouteKind.Ecmp).Select(x => (Router: r, Route: x))).ToList();
        if (ecmp.Count > 1) problems.Add($"the container lab's router runs one ECMP route, not {ecmp.Count}");
        var main = ecmp.Count > 0 ? ecmp[0].Router : topology.Routers[0];
        var attachments = new List<LabAttachment>();
        // Every router on one host (dc_router): a leg whose name an earlier router took gets that router's last word
        // (dc-core's c1 → c1core).
        foreach (var r in topology.Routers.OrderBy(r => r == main ? 0 : 1))
        {
            var suffix = r.Name.Split('-', '_')[^1];
            foreach (var leg in r.Legs)
            {
                var name = attachments.Any(a => a.Interface == leg.Name) ? leg.Name + suffix : leg.Name;
                if (name.Length > 15) problems.Add($"router {r.Name} leg {leg.Name}: interface name {name} is longer than 15 characters");
                if (netOf(leg.Segment) is not { } net) continue;
                if (attachments.FirstOrDefault(a => a.Network == net.Name) is { } twice)
                {
                    problems.Add($"router {r.Name} leg {leg.Name}: the lab router already has {twice.Interface} on {leg.Segment} (one container, one interface per network)");
                    continue;
                }
                attachments.Add(new LabAttachment(net.Name, name, leg.Address.Address));
            }
        }
        var host = new LabHost(ServiceName(main.Name), HostName(main.Name), LabHostKind.Router, main.Name, attachments);
        string? LegOf(IPAddress via) =>
            attachments.FirstOrDefault(a => networks.First(n => n.Name == a.Network).Subnet.Contains(via))?.Interface;
        var route = ecmp.Count > 0 ? ecmp[0].Route : null;
        var clientPrefixes = route is null
            ? []
            : main.Legs.Where(l => !route.Via.Any(v => l.Address.Subnet.Contains(v))).Select(l => l.Address.Subnet).ToList();
        var reverse = new List<(string, IPAddress)>();
        foreach (var r in topology.Routers)
            foreach (var x in r.Routes.Where(x => x.Kind == TopologyRouteKind.ReversePath))
                foreach (var via in x.Via)
                    if (LegOf(via) is { } leg) reverse.Add((leg, via));
                    else problems.Add($"router {r.Name}: no leg of the lab router reaches {via}");
        return new LabRouterPlan(host, route?.Destination, route?.Via ?? [], clientPrefixes, route?.HashSeed ?? 0,
            route?.ProbeInterval ?? TimeSpan.FromMilliseconds(100), route?.ProbeMisses, reverse);
    }

    /// <summary>Docker assigns every address: each must be in its network, not the gateway, and one host's only.</summary>
    private static void CheckAddresses(DockerLabPlan plan, List<string> problems)
    {
        var taken = new Dictionary<(string, string), string>();
        var extra = new List<(string Network, IPAddress Address, string Who)>();
        foreach (var h in plan.Hosts)
            foreach (var a in h.Attachments) extra.Add((a.Network, a.Address, h.Service));
        if (plan.Postgres is { } pg) extra.Add((pg.Network, pg.Address, "postgres"));
        if (plan.StrongSwan is { } sw) extra.Add((sw.Network, sw.Address, "strongswan"));
        extra.Add((plan.Prometheus.Network, plan.Prometheus.Address, "prometheus"));
        // The topology's own addresses on a network (a cluster's .254 the primary adds) are taken too.
        foreach (var w in plan.Topology.Wires)
            if (plan.Networks.FirstOrDefault(n => n.Kind == LabNetworkKind.Segment && n.Source == w.Segment) is { } net && plan.Topology.Units.Any(u => u.Name == w.Host))
                taken.TryAdd((net.Name, w.Address.Address.ToString()), $"{w.Host} {w.Interface} (its config)");
        foreach (var (network, address, who) in extra)
        {
            var net = plan.Networks.First(n => n.Name == network);
            if (!net.Subnet.Contains(address) || Value(address) == net.Subnet.NetworkValue || Value(address) == Broadcast(net.Subnet))
                problems.Add($"{who}: {address} is not a host address of {network} {net.Subnet}");
            else if (address.Equals(net.Gateway))
                problems.Add($"{who}: {address} on {network} is Docker's gateway (the host's bridge)");
            else if (taken.TryGetValue((network, address.ToString()), out var first))
                problems.Add($"{who}: {address} on {network} is already {first}'s");
            else taken[(network, address.ToString())] = who;
        }
    }

    private static LabNetwork Network(string name, LabNetworkKind kind, string source, TopologyPrefix subnet, string description) =>
        new(name, kind, source, subnet, ToAddress(Broadcast(subnet) - 5), BridgeName(name), description);

    private static IPAddress Host(LabNetwork net, int hostNumber, string who, List<string> problems)
    {
        var address = Offset(net.Subnet, hostNumber);
        if (!net.Subnet.Contains(address)) problems.Add($"{who}: {net.Name} {net.Subnet} has no host number {hostNumber}");
        return address;
    }

    private static bool Overlaps(TopologyPrefix a, TopologyPrefix b)
    {
        var mask = a.Length < b.Length ? a.Mask : b.Mask;
        return (a.NetworkValue & mask) == (b.NetworkValue & mask);
    }

    private static uint Broadcast(TopologyPrefix p) => p.NetworkValue | ~p.Mask;
    private static IPAddress Offset(TopologyPrefix p, int n) => ToAddress(p.NetworkValue + (uint)n);

    internal static uint Value(IPAddress a)
    {
        var b = a.GetAddressBytes();
        return (uint)b[0] << 24 | (uint)b[1] << 16 | (uint)b[2] << 8 | b[3];
    }

    internal static IPAddress ToAddress(uint v) => new([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);
}
