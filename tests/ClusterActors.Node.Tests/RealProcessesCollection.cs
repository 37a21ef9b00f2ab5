namespace ClusterActors.Node.Tests;

/// <summary>
/// The specs whose verdict is a timing bound on real unit processes: the embedded drills and scenarios, each starting
/// four `clusteractors unit` processes and measuring detection, loss and recovery against FGCP's timers. Not in
/// parallel with anything: xUnit runs them one after the other once the parallel collections are done, so no other
/// spec takes the CPU a unit needs to send its heartbeats. A collection name alone orders these specs among
/// themselves but still runs them beside every other collection; on CI's two cores that made a drill's detection
/// take 1.9 s against a 1.4 s bound (stop 23: ManyClientsDrillSpec, with a tunnel that did not move losing requests too).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RealProcessesCollection
{
    public const string Name = "real-processes";
}
