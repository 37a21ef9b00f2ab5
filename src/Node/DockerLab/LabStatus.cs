using ClusterActors.Protocol.Ipsec;
using System.Globalization;
using System.Text;
using ClusterActors.Node.Drills;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.DockerLab;

/// <summary>What was seen of one unit: its container's (or embedded unit's) state, `diagnose sys ha status` and
/// `diagnose vpn tunnel list` (null: it did not answer).</summary>
public sealed record UnitObservation(string Unit, string State, HaView? Ha, IReadOnlyList<TunnelView>? Tunnels);

/// <summary>One address of the lab as a row of `lab status`: host, network, its subnet, interface, address, a note.</summary>
public sealed record AddressRow(string Host, string Network, string Subnet, string Interface, string Address, string Note);

/// <summary>
/// `lab status` as text a network engineer reads: one table of units (state, FGCP cluster and role, FGSP member,
/// tunnels with their roles) and one of addresses per host and network. Pure: the lab's effects gather the
/// observations, this renders them (LabStatusSpec).
/// </summary>
public static class LabStatus
{
    public static string Render(LabTopology topology, string heading, IReadOnlyList<UnitObservation> units, IReadOnlyList<AddressRow> addresses,
        IReadOnlyList<(string Host, string State)>? others = null)
    {
        var o = new StringBuilder();
        o.Append(heading).Append('\n').Append('\n');
        var rows = new List<string[]> { new[] { "UNIT", "STATE", "FGCP CLUSTER", "HA ROLE", "FGSP MEMBER", "TUNNELS" } };
        foreach (var u in units)
        {
            var cluster = topology.ClusterOf(u.Unit);
            var member = topology.Fgsp?.Members.FirstOrDefault(m => m.Units.Contains(u.Unit));
            rows.Add([
                u.Unit,
                u.State,
                cluster is null ? "standalone" : $"{cluster.GroupName} (group-id {cluster.GroupId})",
                Role(u.Ha, cluster is not null),
                member is null ? "-" : $"{member.Name} (member-id {member.MemberId})",
                u.Tunnels is null ? "?" : u.Tunnels.Count == 0 ? "none" : string.Join(", ", u.Tunnels.Select(t => $"{t.Name} {TunnelRoles.Word(t.Role)}")),
            ]);
        }
        Table(o, rows);
        if (others is { Count: > 0 })
        {
            o.Append('\n');
            Table(o, [["HOST", "STATE"], .. others.Select(x => new[] { x.Host, x.State })]);
        }
        o.Append('\n');
        // One host's addresses together, hosts in the order they first appear (units first).
        var byHost = addresses.GroupBy(a => a.Host).SelectMany(g => g);
        Table(o, [["HOST", "NETWORK", "SUBNET", "INTERFACE", "ADDRESS", ""], .. byHost.Select(a => new[] { a.Host, a.Network, a.Subnet, a.Interface, a.Address, a.Note })]);
        return o.ToString();
    }

    /// <summary>primary / secondary (in a working cluster), hello (still electing), `?` (no answer).</summary>
    public static string Role(HaView? ha, bool inCluster) => ha switch
    {
        null => "?",
        { Working: false } => "hello",
        { Primary: true } => inCluster ? $"primary ({ha.Members} members)" : "primary",
        _ => $"secondary ({ha.Members} members)",
    };

    /// <summary>
    /// Whether the lab has formed: every unit answers, and every FGCP cluster works with all its members and exactly one
    /// primary. Null when formed, else what is still missing.
    /// </summary>
    public static string? NotFormed(LabTopology topology, IReadOnlyDictionary<string, HaView?> ha)
    {
        var missing = new List<string>();
        foreach (var unit in topology.UnitNames)
            if (ha.GetValueOrDefault(unit) is null) missing.Add($"{unit} silent");
        foreach (var c in topology.FgcpClusters)
        {
            var views = c.Members.Select(m => ha.GetValueOrDefault(m)).ToList();
            if (views.Any(v => v is null)) continue;
            if (views.Any(v => !v!.Working || v.Members != c.Members.Count))
                missing.Add($"{c.GroupName} not formed ({string.Join(", ", c.Members.Zip(views, (m, v) => $"{m} {Role(v, true)}"))})");
            else if (views.Count(v => v!.Primary) != 1)
                missing.Add($"{c.GroupName} has {views.Count(v => v!.Primary)} primaries");
        }
        return missing.Count == 0 ? null : string.Join("; ", missing);
    }

    /// <summary>
    /// The lab's other containers (router, clients, servers) that are not running, as `lab up` reports them; null when all
    /// run. A router or client whose command failed exits at once while the units form: `lab up` printed "up" with
    /// `dc_router exited` in its table (seen with an image built from other sources, whose router-run the lab's
    /// capabilities refused).
    /// </summary>
    public static string? NotRunning(IReadOnlyList<(string Host, string State)> others)
    {
        var stopped = others.Where(o => o.State != "running").Select(o => $"{o.Host} {o.State} (docker logs {o.Host})").ToList();
        return stopped.Count == 0 ? null : string.Join("; ", stopped);
    }

    /// <summary>The docker lab's addresses: each container's on each network, and a unit's config addresses (a cluster's,
    /// the FGCP primary's to hold) and lb1 beside its own.</summary>
    public static IReadOnlyList<AddressRow> Addresses(DockerLabPlan plan, IReadOnlyDictionary<string, HaView?>? ha = null)
    {
        var rows = new List<AddressRow>();
        foreach (var host in plan.Hosts)
        {
            foreach (var a in host.Attachments)
            {
                var net = plan.Networks.First(n => n.Name == a.Network);
                rows.Add(new AddressRow(host.Service, a.Network, net.Subnet.ToString(), a.Interface, a.Address.ToString(), host.Kind == LabHostKind.Unit ? "own" : ""));
                if (host.Kind != LabHostKind.Unit || net.Kind != LabNetworkKind.Segment) continue;
                foreach (var w in plan.Topology.Wires.Where(w => w.Host == host.TopologyName && w.Interface == a.Interface))
                {
                    var cluster = plan.Topology.ClusterOf(host.TopologyName);
                    rows.Add(new AddressRow(host.Service, a.Network, net.Subnet.ToString(), a.Interface, w.Address.Address.ToString(),
                        cluster is null ? "config" : ClusterNote(cluster, ha?.GetValueOrDefault(host.TopologyName), ha is not null)));
                }
            }
            if (host.Kind == LabHostKind.Unit)
                foreach (var l in plan.Topology.Loopbacks.Where(l => l.Unit == host.TopologyName))
                    rows.Add(new AddressRow(host.Service, "-", l.Address.ToString(), l.Interface, l.Address.Address.ToString(), "loopback"));
        }
        return rows;
    }

    /// <summary>A cluster address: the FGCP primary holds it (answers ARP for it), the secondary keeps it configured only.</summary>
    private static string ClusterNote(FgcpCluster cluster, HaView? ha, bool asked) =>
        $"cluster {cluster.GroupName}, " + (!asked ? "the primary's" : ha is { Working: true, Primary: true } ? "held (primary)" : "not held");

    /// <summary>The embedded lab's addresses: the topology's cables (a unit's are its config's) and loopbacks.</summary>
    public static IReadOnlyList<AddressRow> Addresses(LabTopology topology, IReadOnlyDictionary<string, HaView?>? ha = null) =>
        topology.Wires.Select(w => new AddressRow(w.Host, w.Segment, w.Address.Subnet.ToString(), w.Interface, w.Address.Address.ToString(),
                topology.ClusterOf(w.Host) is { } c ? ClusterNote(c, ha?.GetValueOrDefault(w.Host), ha is not null) : ""))
            .Concat(topology.Loopbacks.Select(l => new AddressRow(l.Unit, "-", l.Address.ToString(), l.Interface, l.Address.Address.ToString(), "loopback")))
            .ToList();

    private static void Table(StringBuilder o, IReadOnlyList<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        foreach (var r in rows)
            o.Append(string.Join("  ", r.Select((c, i) => c.PadRight(widths[i]))).TrimEnd()).Append('\n');
    }

    internal static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";
}
