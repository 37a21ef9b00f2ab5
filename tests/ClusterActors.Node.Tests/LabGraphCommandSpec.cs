namespace ClusterActors.Node.Tests;

/// <summary>`clusteractors lab graph` as a user runs it: the shipped seed by name, a file, a bad file, a bad format.</summary>
public sealed class LabGraphCommandSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-lab-graph-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void The_seed_prints_as_mermaid_by_default_and_as_dot_with_the_clusters_its_configs_make()
    {
        var (exit, stdout, stderr) = CommandLineSpec.Run("lab graph");
        Assert.True(exit == 0, stderr);
        Assert.StartsWith("flowchart LR\n", stdout);
        Assert.Contains("subgraph fgcp_1[\"FGCP DC2_VM12 (group-id 1)\"]", stdout);

        var file = Path.Combine(AppContext.BaseDirectory, "scenarios", "seed", "topology.yml");
        (exit, stdout, stderr) = CommandLineSpec.Run($"lab graph --topology \"{file}\" --format dot");
        Assert.True(exit == 0, stderr);
        Assert.StartsWith("graph \"seed\" {\n", stdout);
        Assert.Contains("subgraph \"cluster_fgsp\"", stdout);
    }

    [Fact]
    public void A_topology_with_errors_prints_each_located_and_exits_2()
    {
        foreach (var conf in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "scenarios", "seed"), "*.conf"))
            File.Copy(conf, Path.Combine(_dir, Path.GetFileName(conf)));
        var seed = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "scenarios", "seed", "topology.yml"));
        var file = Path.Combine(_dir, "lab.yml");
        File.WriteAllText(file, seed.Replace("fgsp-link: fgsp", "fgsp-lnk: fgsp").Replace("DC2_VM4 port4]", "DC2_VM5 port4]"));
        var (exit, stdout, stderr) = CommandLineSpec.Run($"lab graph --topology \"{file}\"");
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Matches(@":49:26: error: no unit DC2_VM5: 'DC2_VM5 port4'; expected a unit declared under units:; did you mean 'DC2_VM1'\?$", lines[0]);
        Assert.Matches(@":51:1: error: unknown key in the topology: 'fgsp-lnk'; .*did you mean 'fgsp-link'\?$", lines[1]);
        Assert.EndsWith("lab.yml: 2 error(s) in the topology; nothing started", lines[2]);
    }

    [Fact]
    public void An_unknown_format_or_topology_is_a_usage_error()
    {
        var (exit, _, stderr) = CommandLineSpec.Run("lab graph --format svg");
        Assert.Equal((2, "clusteractors: --format is mermaid or dot, not 'svg'\n"), (exit, stderr));
        (exit, _, stderr) = CommandLineSpec.Run("lab graph --topology lab2");
        Assert.Equal(2, exit);
        Assert.StartsWith("clusteractors: unknown scenario 'lab2' (known: fgsp-standalone, seed)", stderr);
    }
}
