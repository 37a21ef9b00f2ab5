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
