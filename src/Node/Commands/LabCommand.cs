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

    /// <summary>
    /// `lab compose --topology FILE|NAME [--out FILE]`: the topology's container lab as a compose file, on stdout or into
    /// FILE. Its bind mounts are the repository's (the root docker-compose.yml is `lab compose --topology seed`);
    /// `lab up --mode docker` writes its own next to the units' generated files.
    /// </summary>
    public static int Compose(string? topology, string? outFile, TextWriter output)
    {
        var plan = DockerLab.DockerLabPlan.From(Scenarios.Topology(topology ?? DefaultTopology));
        var text = DockerLab.ComposeFile.Render(plan, DockerLab.ComposePaths.RepoRoot with { Topology = RepoRelative(plan.Topology.File) });
        if (outFile is null) output.Write(text);
        else
        {
            File.WriteAllText(outFile, text);
            output.WriteLine($"{outFile}: the container lab of topology {plan.Topology.Name} ({plan.Units.Count} units, {plan.Networks.Count} networks)");
        }
        return 0;
    }

    /// <summary>
    /// `lab up|down|status --topology FILE|NAME --mode embedded|docker` (src/Node/lab/README.md, "Lab lifecycle"). Docker:
    /// the generated lab under artifacts/labs/NAME, compose project NAME. Embedded: the lab lives in the `up` process
    /// (foreground until quit, end of input or Ctrl-C); `status` brings it up, prints once and stops; `down` is a usage error.
    /// </summary>
    public static async Task<int> Lifecycle(string action, string? topology, string mode, TextReader input, TextWriter output, CancellationToken ct)
    {
        if (mode is not (EmbeddedMode or DockerMode)) throw new UsageException($"--mode is {EmbeddedMode} or {DockerMode}, not '{mode}'");
        if (mode == EmbeddedMode && action == "down")
            throw new UsageException("an embedded lab lives in its `lab up` process: stop it there (quit, end of input or Ctrl-C); there is nothing to take down");
        var t = Scenarios.Topology(topology ?? DefaultTopology);
        if (mode == EmbeddedMode) return await DockerLab.EmbeddedLabLifecycle.Run(t, once: action == "status", input, output, ct);
        var lab = new DockerLab.DockerLabLifecycle(t, Drills.DockerDrillLab.FindRoot(), output);
        switch (action)
        {
            case "up": return await lab.Up(ct);
            case "down": return await lab.Down(ct);
            default:
                await output.WriteAsync(await lab.Status(ct));
                return 0;
        }
    }

    public const string EmbeddedMode = "embedded";
    public const string DockerMode = "docker";

    /// <summary>The topology's folder as the root compose file names it: ./src/Node/scenarios/NAME for a shipped one (the
    /// binary's copy is not the checkout's), else the folder's full path.</summary>
    private static string RepoRelative(string topologyFile)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(topologyFile))!;
        var shipped = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "scenarios"));
        return dir.StartsWith(shipped + Path.DirectorySeparatorChar, StringComparison.Ordinal)
            ? "./src/Node/scenarios/" + Path.GetRelativePath(shipped, dir).Replace(Path.DirectorySeparatorChar, '/')
            : dir;
    }
}
