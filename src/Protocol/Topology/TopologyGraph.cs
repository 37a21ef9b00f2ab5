using System.Text;

namespace ClusterActors.Protocol.Topology;

public enum GraphFormat
{
    Mermaid,
    Dot,
}

/// <summary>
/// A lab drawn from its topology: FGSP peering as the outer box, each FGCP cluster a box inside it (both derived from
/// the units' configs), every segment a node with its subnet, every cable an edge labelled with its port and address,
/// heartbeat links dashed. <c>roles</c> (unit → "primary", "secondary", …) are added to the units' labels when a lab runs.
/// </summary>
public static class TopologyGraph
{
    public static string Render(LabTopology t, GraphFormat format, IReadOnlyDictionary<string, string>? roles = null) =>
        format == GraphFormat.Mermaid ? Mermaid(t, roles) : Dot(t, roles);

    private static string UnitLabel(LabTopology t, TopologyUnit u, IReadOnlyDictionary<string, string>? roles, string newline) =>
        u.Name + newline + u.Serial + (roles?.GetValueOrDefault(u.Name) is { } role ? newline + role : "");

    private static string ClusterLabel(FgcpCluster c) => $"FGCP {c.GroupName} (group-id {c.GroupId})";

    private static string FgspLabel(FgspPeering p) => $"FGSP standalone-group-id {p.StandaloneGroupId}, sync over {p.Link}";

    /// <summary>The units in drawing order: FGSP members (clusters, then their units), then any other unit.</summary>
    private static IEnumerable<IGrouping<FgcpCluster?, TopologyUnit>> UnitGroups(LabTopology t, IEnumerable<TopologyUnit> units) =>
        units.GroupBy(u => t.ClusterOf(u.Name));

    private static string ClientLabel(TopologyClient c) => $"{c.Name} ({(c.Kind == ClientKind.FortiGate ? "FortiGate dialup client" : "strongSwan")})";

    // ------------------------------------------------------------------------------------------------------------------

    private static string Mermaid(LabTopology t, IReadOnlyDictionary<string, string>? roles)
    {
        var sb = new StringBuilder();
        sb.Append("flowchart LR\n");
        sb.Append($"  %% {t.Name}: {t.Description}\n");
        var fgspUnits = t.Fgsp?.Members.SelectMany(m => m.Units).ToHashSet() ?? [];
        void Units(IEnumerable<TopologyUnit> units, string indent)
        {
            foreach (var group in UnitGroups(t, units))
            {
                var inner = indent;
                if (group.Key is { } c)
                {
                    sb.Append($"{indent}subgraph {Id("fgcp", c.GroupId.ToString())}[\"{M(ClusterLabel(c))}\"]\n");
                    inner = indent + "  ";
                }
                foreach (var u in group)
                    sb.Append($"{inner}{Id("unit", u.Name)}[\"{M(UnitLabel(t, u, roles, "<br/>"))}\"]\n");
                if (group.Key is not null) sb.Append($"{indent}end\n");
            }
        }
        if (t.Fgsp is { } p)
        {
            sb.Append($"  subgraph fgsp[\"{M(FgspLabel(p))}\"]\n");
            Units(t.Units.Where(u => fgspUnits.Contains(u.Name)), "    ");
            sb.Append("  end\n");
        }
        Units(t.Units.Where(u => !fgspUnits.Contains(u.Name)), "  ");
        foreach (var s in Segments(t))
            sb.Append($"  {Id("seg", s.Name)}([\"{M(s.Name + " " + s.Subnet)}\"])\n");
        foreach (var h in t.HeartbeatLinks)
            sb.Append($"  {Id("hb", h.Name)}([\"{M(h.Name + " (FGCP heartbeat)")}\"])\n");
        foreach (var r in t.Routers)
            sb.Append($"  {Id("host", r.Name)}{{{{\"{M(r.Name + RouterRoutes(r, "<br/>"))}\"}}}}\n");
        foreach (var c in t.Clients)
        {
            sb.Append($"  {Id("host", c.Name)}[/\"{M(ClientLabel(c))}\"/]\n");
            foreach (var pc in c.Pcs) sb.Append($"  {Id("host", pc.Name)}[\"{M(pc.Name)}\"]\n");
        }
        foreach (var s in t.Servers)
            sb.Append($"  {Id("host", s.Name)}[(\"{M(s.Name)}\")]\n");
        var units = t.UnitNames.ToHashSet();
        foreach (var w in t.Wires)
            sb.Append($"  {Id(units.Contains(w.Host) ? "unit" : "host", w.Host)} ---|\"{M($"{w.Interface} {w.Address}")}\"| {Id("seg", w.Segment)}\n");
        foreach (var h in t.HeartbeatLinks)
            foreach (var p2 in h.Ports)
                sb.Append($"  {Id("unit", p2.Host)} -.-|\"{M(p2.Port)}\"| {Id("hb", h.Name)}\n");
        return sb.ToString();
    }

    private static IEnumerable<(string Name, TopologyPrefix Subnet)> Segments(LabTopology t) =>
        t.Segments.Select(s => (s.Name, s.Subnet))
            .Concat(t.Clients.Where(c => t.Segments.All(s => s.Name != c.LanSegment)).Select(c => (c.LanSegment, c.Lan.Subnet)));

    private static string RouterRoutes(TopologyRouter r, string newline) =>
        string.Concat(r.Routes.Select(x => newline + x.Destination + (x.Kind == TopologyRouteKind.Ecmp ? " ecmp" : " reverse-path")));

    /// <summary>Mermaid node ids: letters, digits and underscores, prefixed by what the node is (a unit and a segment may share a name).</summary>
    private static string Id(string kind, string name) =>
        kind + "_" + new string(name.Select(ch => char.IsAsciiLetterOrDigit(ch) ? ch : '_').ToArray());

    /// <summary>A Mermaid label in double quotes: a quote is the #quot; entity.</summary>
    private static string M(string label) => label.Replace("\"", "#quot;");

    // ------------------------------------------------------------------------------------------------------------------

    private static string Dot(LabTopology t, IReadOnlyDictionary<string, string>? roles)
    {
        var sb = new StringBuilder();
        sb.Append($"graph {Q(t.Name)} {{\n");
        sb.Append($"  label={Q(t.Name + ": " + t.Description)};\n");
        sb.Append("  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n");
        var fgspUnits = t.Fgsp?.Members.SelectMany(m => m.Units).ToHashSet() ?? [];
        void Units(IEnumerable<TopologyUnit> units, string indent)
        {
            foreach (var group in UnitGroups(t, units))
            {
                var inner = indent;
                if (group.Key is { } c)
                {
                    sb.Append($"{indent}subgraph {Q("cluster_fgcp_" + c.GroupId)} {{\n{indent}  label={Q(ClusterLabel(c))};\n");
                    inner = indent + "  ";
                }
                foreach (var u in group)
                    sb.Append($"{inner}{Q("unit:" + u.Name)} [shape=box, style=filled, fillcolor=\"#e8f0ff\", label={Q(UnitLabel(t, u, roles, "\n"))}];\n");
                if (group.Key is not null) sb.Append($"{indent}}}\n");
            }
        }
        if (t.Fgsp is { } p)
        {
            sb.Append($"  subgraph \"cluster_fgsp\" {{\n    label={Q(FgspLabel(p))};\n    style=dashed;\n");
            Units(t.Units.Where(u => fgspUnits.Contains(u.Name)), "    ");
            sb.Append("  }\n");
        }
        Units(t.Units.Where(u => !fgspUnits.Contains(u.Name)), "  ");
        foreach (var s in Segments(t))
            sb.Append($"  {Q("seg:" + s.Name)} [shape=ellipse, label={Q(s.Name + "\n" + s.Subnet)}];\n");
        foreach (var h in t.HeartbeatLinks)
            sb.Append($"  {Q("hb:" + h.Name)} [shape=ellipse, style=dashed, label={Q(h.Name + "\nFGCP heartbeat")}];\n");
        foreach (var r in t.Routers)
            sb.Append($"  {Q("host:" + r.Name)} [shape=hexagon, label={Q(r.Name + RouterRoutes(r, "\n"))}];\n");
        foreach (var c in t.Clients)
        {
            sb.Append($"  {Q("host:" + c.Name)} [shape=parallelogram, label={Q(ClientLabel(c))}];\n");
            foreach (var pc in c.Pcs) sb.Append($"  {Q("host:" + pc.Name)} [shape=box, label={Q(pc.Name)}];\n");
        }
        foreach (var s in t.Servers)
            sb.Append($"  {Q("host:" + s.Name)} [shape=cylinder, label={Q(s.Name)}];\n");
        var units = t.UnitNames.ToHashSet();
        foreach (var w in t.Wires)
            sb.Append($"  {Q((units.Contains(w.Host) ? "unit:" : "host:") + w.Host)} -- {Q("seg:" + w.Segment)} [label={Q(w.Interface + "\n" + w.Address)}];\n");
        foreach (var h in t.HeartbeatLinks)
            foreach (var p2 in h.Ports)
                sb.Append($"  {Q("unit:" + p2.Host)} -- {Q("hb:" + h.Name)} [style=dashed, label={Q(p2.Port)}];\n");
        sb.Append("}\n");
        return sb.ToString();
    }

    /// <summary>A DOT quoted id or label: backslash and quote escaped, a newline as \n.</summary>
    private static string Q(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n") + "\"";
}
