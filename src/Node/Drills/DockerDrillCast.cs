using System.Net;
using ClusterActors.Node.DockerLab;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.Drills;

/// <summary>
/// Who and where everything is in a topology's container lab, for the docker drill lab: each unit's container, admin
/// endpoint and Akka address on the FGSP link; the DC router's container, the leg the client comes in on, the ECMP
/// destination (lb1) and the units behind each next hop; the client's container, control endpoint and WAN address; the
/// lab's host bridges and the services that start with the preferred units. Pure: read from the topology and its
/// <see cref="DockerLabPlan"/> (the plan the generated compose file and `lab up` are laid from), so the drills drive
/// the containers the compose file makes. The seed's values are what the docker drill lab hard-coded before
/// (DockerDrillCastSpec compares them).
/// </summary>
/// <param name="Units">The topology's units, in its order.</param>
/// <param name="Containers">Unit → its container (compose service and container_name).</param>
/// <param name="Admin">Unit → its admin endpoint on the management network.</param>
/// <param name="AkkaAddress">Unit → the address its Akka remoting binds on (the FGSP link), where an Akka cut drops.</param>
/// <param name="Clusters">The FGCP clusters as the topology derives them; each standalone unit is a group of its own.</param>
/// <param name="RouterContainer">The lab router's container (every router of the topology on one host).</param>
/// <param name="RouterClientLeg">The router's interface on the client's WAN: `ip route get … iif LEG` reads a client's placement.</param>
/// <param name="EcmpDestination">The ECMP route's destination (the units' lb1), as `ip route get` takes it.</param>
/// <param name="HopUnits">Each ECMP next hop → the units whose port answers on it (a FGCP cluster's members, or one standalone unit).</param>
/// <param name="ClientContainer">The first client's container (the one the drills dial from).</param>
/// <param name="ClientControl">Its control endpoint on the management network.</param>
/// <param name="ClientWanAddress">Its WAN address (port1), the source of its IKE and ESP.</param>
/// <param name="Companions">Containers that start with the preferred units: the router, the servers, the client.</param>
/// <param name="Bridges">The lab's host bridges (not mgmt's) for src/Node/lab/host-bridges.sh.</param>
public sealed record DockerDrillCast(
    string Topology,
    IReadOnlyList<string> Units,
    IReadOnlyDictionary<string, string> Containers,
    IReadOnlyDictionary<string, IPEndPoint> Admin,
    IReadOnlyDictionary<string, string> AkkaAddress,
    IReadOnlyList<IReadOnlyList<string>> Clusters,
    string RouterContainer,
    string RouterClientLeg,
    string EcmpDestination,
    IReadOnlyDictionary<string, IReadOnlyList<string>> HopUnits,
    string ClientContainer,
    IPEndPoint ClientControl,
    string ClientWanAddress,
    IReadOnlyList<string> Servers,
    IReadOnlyList<string> Bridges)
{
    /// <summary>Router first, then the servers, then the client: the order the seed lab started them in.</summary>
    public IReadOnlyList<string> Companions => [RouterContainer, .. Servers, ClientContainer];

    public string Container(string unit) => Containers.TryGetValue(unit, out var c) ? c
        : throw new ArgumentException($"no unit {unit} in the topology {Topology}", nameof(unit));

    /// <summary>
    /// The cast of <paramref name="topology"/>'s container lab. Throws <see cref="DockerLabUnsupportedException"/> (every
    /// reason) when the topology cannot be laid as one, or has no router with an ECMP route or no FortiGate client for
    /// the drills to dial from.
    /// </summary>
    public static DockerDrillCast From(LabTopology topology) => From(DockerLabPlan.From(topology));

    public static DockerDrillCast From(DockerLabPlan plan)
    {
        var topology = plan.Topology;
        var problems = new List<string>();
        if (plan.Router?.EcmpDestination is null) problems.Add("the drills need a DC router with an ecmp route to the units' lb1");
        if (plan.Clients.Count == 0) problems.Add("the drills need a FortiGate client to dial from");
        if (problems.Count > 0) throw new DockerLabUnsupportedException(topology.Name, problems);

        var r = plan.Router!;
        var client = plan.Clients[0];
        var wan = client.Host.Attachments[0];
        var leg = r.Host.Attachments.FirstOrDefault(a => a.Network == wan.Network)
                  ?? throw new DockerLabUnsupportedException(topology.Name, [$"the lab router has no leg on {client.Host.TopologyName}'s WAN ({wan.Network})"]);
        var units = topology.UnitNames;
        var hops = new Dictionary<string, IReadOnlyList<string>>();
        foreach (var via in r.EcmpVia)
            hops[via.ToString()] = topology.Wires.Where(w => units.Contains(w.Host) && w.Address.Address.Equals(via)).Select(w => w.Host).Distinct().ToList();
        var clusters = units.GroupBy(u => topology.ClusterOf(u)?.GroupName ?? "standalone:" + u)
            .Select(g => (IReadOnlyList<string>)g.ToList()).ToList();
        return new DockerDrillCast(
            topology.Name,
            units,
            units.ToDictionary(u => u, u => plan.UnitHost(u).Service),
            plan.Wiring.ToDictionary(w => w.Unit, w => w.Admin),
            plan.Wiring.ToDictionary(w => w.Unit, w => w.Akka.Address.ToString()),
            clusters,
            r.Host.Service,
            leg.Interface,
            r.EcmpDestination!.Network.ToString(),
            hops,
            client.Host.Service,
            client.Control,
            wan.Address.ToString(),
            plan.Servers.Select(s => s.Host.Service).ToList(),
            plan.Networks.Where(n => n.Kind != LabNetworkKind.Management).Select(n => n.Bridge).ToList());
    }
}
