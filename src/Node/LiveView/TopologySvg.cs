using ClusterActors.Node.Hosting.Kernel;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.LiveView;

/// <summary>
/// The topology as an SVG for the page: `lab graph --format dot` (<see cref="TopologyGraph"/>, the one drawing of a lab)
/// laid out by graphviz (`dot -Tsvg`), once when the view starts. Each unit's label gets two placeholder lines (role and
/// tunnels; rate) that the page's script rewrites from every snapshot; graphviz names each node's group by its DOT id
/// (`&lt;title&gt;unit:DC2_VM1&lt;/title&gt;`), which is how the script finds a unit.
/// </summary>
public static class TopologySvg
{
    public const string Tool = "dot", Package = "graphviz";

    /// <summary>As wide as the longest line the script writes ("secondary · vpn1_1 sync-primary"), so graphviz sizes the box for it.</summary>
    public const string RolePlaceholder = "secondary · vpn1_1 sync-primary\n00000 pps";

    /// <summary>The DOT the page's SVG is laid out from.</summary>
    public static string Dot(LabTopology topology) =>
        TopologyGraph.Render(topology, GraphFormat.Dot, topology.UnitNames.ToDictionary(u => u, _ => RolePlaceholder));

    /// <param name="find">Where a program is (<see cref="SystemCommand.Find"/>; specs give their own).</param>
    public static string Render(LabTopology topology, Func<string, string?>? find = null)
    {
        if ((find ?? SystemCommand.Find)(Tool) is null)
            throw new MissingSystemToolException($"{Tool} (Debian package {Package}) is not installed: lab view lays the topology out with graphviz");
        var result = SystemCommand.Run(Tool, ["-Tsvg"], Dot(topology));
        if (!result.Ok) throw new InvalidOperationException($"graphviz could not lay the topology out: {result}");
        return Inline(result.Output);
    }

    /// <summary>The &lt;svg&gt; element alone (no XML declaration, no DOCTYPE, no comments before it), to sit inside the page.</summary>
    public static string Inline(string svgDocument)
    {
        var start = svgDocument.IndexOf("<svg", StringComparison.Ordinal);
        if (start < 0) throw new InvalidOperationException("graphviz printed no <svg> element");
        return svgDocument[start..].Trim();
    }
}

/// <summary>A system tool the command needs is not installed: the one line names the tool and its Debian package.</summary>
public sealed class MissingSystemToolException(string message) : Exception(message);
