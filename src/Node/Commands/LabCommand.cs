using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.Commands;

/// <summary>
/// `clusteractors lab graph --topology FILE|NAME [--format mermaid|dot]`: the lab drawn from its topology file, with the
/// FGCP clusters and FGSP peering its units' configs make (<see cref="TopologyGraph"/>).
/// </summary>
public static class LabCommand
{
    public const string DefaultTopology = "seed";

    public static int Graph(string? topology, string format, TextWriter output)
    {
        var graphFormat = format switch
        {
            "mermaid" => GraphFormat.Mermaid,
            "dot" => GraphFormat.Dot,
            _ => throw new UsageException($"--format is mermaid or dot, not '{format}'"),
        };
        output.Write(TopologyGraph.Render(Scenarios.Topology(topology ?? DefaultTopology), graphFormat));
        return 0;
    }
}
