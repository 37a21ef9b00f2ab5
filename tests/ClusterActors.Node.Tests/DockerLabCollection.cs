namespace ClusterActors.Node.Tests;

/// <summary>
/// The specs that bring up a container lab (trait Lab=docker). There is one container lab per machine: fixed container
/// names (dc2_vm1 …) and host bridges (ca-wan …) that every topology's lab shares, so two at once would take each
/// other's. Not in parallel with anything: they run one after the other once the parallel collections are done, and
/// their timing is not shared with the embedded drills' CPU.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DockerLabCollection
{
    public const string Name = "docker-lab";
}

/// <summary>What every container-lab spec does first: docker and docker-compose found (a missing one fails the spec
/// with one line naming its Debian package, never a skip), and the lab's images brought up to these sources
/// (src/Node/lab/build-images.sh: rebuilt only when they changed).</summary>
public static class DockerLabSpecs
{
    public static async Task<(string Docker, string Compose, string Root)> Prepare()
    {
        var docker = ClusterActors.Node.DockerLab.DockerLabLifecycle.Require("docker");
        var compose = ClusterActors.Node.DockerLab.DockerLabLifecycle.Require("docker-compose");
        var root = ClusterActors.Node.Drills.DockerDrillLab.FindRoot();
        var (exit, output) = await ClusterActors.Node.Drills.DockerDrillLab.Run(Path.Combine(root, "src/Node/lab/build-images.sh"), [],
            TimeSpan.FromMinutes(15), check: false, root);
        Assert.True(exit == 0, $"src/Node/lab/build-images.sh failed ({exit}): {output.Trim()}");
        return (docker, compose, root);
    }
}
