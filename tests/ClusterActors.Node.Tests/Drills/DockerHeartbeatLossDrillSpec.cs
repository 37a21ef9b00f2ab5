using ClusterActors.Node.DockerLab;
using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// `drill seed heartbeat-loss --mode docker` (issue 14 item 5): the loss is `tc qdisc replace dev port4 root netem loss N%`
/// in DC2_VM1's and DC2_VM2's namespaces, the heartbeats are counted from the units' own metrics and the qdisc's drops,
/// and the run's figures are the embedded run's kind. 100 % loss must give the false failover the drill reports (a unit
/// declares its peer lost after hb-lost-threshold × hb-interval without a heartbeat, so not before), and the cluster
/// must heal once the loss is cleared. Needs docker and the lab's images (a missing one fails the spec, never a skip).
/// </summary>
[Trait("Lab", "docker")]
[Collection(DockerLabCollection.Name)]
public sealed class DockerHeartbeatLossDrillSpec(ITestOutputHelper output)
{
    [Fact]
    public async Task Heartbeat_loss_on_the_containers_hbdev_gives_the_false_failover_and_the_cluster_heals()
    {
        await DockerLabSpecs.Prepare();
        var topology = Scenarios.Topology("seed");
        var progress = new StringWriter { NewLine = "\n" };
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        HeartbeatLossDrill.Result result;
        await using (var lab = new DockerDrillLab(topology.UnitNames.ToDictionary(u => u, _ => ClusterActors.Node.Scenario.EmbeddedScenarioDriver.FastTimers), progress,
                         DrillCommand.FortiGateClient, topology, null))
        {
            try
            {
                result = await HeartbeatLossDrill.Run(lab, topology,
                    new HeartbeatLossDrill.Options(Seed: 11, Steps: [0, 100], Hold: TimeSpan.FromSeconds(5), FastTimers: true), progress, cts.Token);
            }
            finally
            {
                output.WriteLine(progress.ToString());
            }
        }

        Assert.Equal("docker", result.Mode);
        Assert.True(result.Passed, string.Join("; ", result.Violations));
        Assert.Equal(0, result.Steps[0].OwnerLost + result.Steps[0].PeerLost);
        Assert.True(result.Steps[0].OwnerSent > 0 && result.Steps[0].PeerSent > 0, "the units' metrics counted their heartbeats");
        Assert.Equal(100, result.FalseFailoverAtLoss);
        // Every heartbeat of the 100 % step the owner sent was dropped by the qdisc (what it sent after the step's netem).
        Assert.True(result.Steps[1].OwnerLost > 0 && result.Steps[1].OwnerLost >= result.Steps[1].OwnerSent - 1,
            $"owner sent {result.Steps[1].OwnerSent}, the qdisc dropped {result.Steps[1].OwnerLost}");
        // Less what the machine stood still from one detection window before the step (the container lab's measure of
        // the owner's late timers, MachineStalls): heartbeats held back then count toward the peer's detection.
        Assert.NotNull(result.OwnerTimersLateBeforeFailoverMs);
        Assert.InRange(result.FalseFailoverAfterMs!.Value, result.LostAfterMs - result.HbIntervalMs - result.OwnerTimersLateBeforeFailoverMs!.Value,
            result.LostAfterMs + 3000);
        Assert.NotNull(result.HealedAfterMs);
        Assert.Contains("tc qdisc replace dev port4 root netem loss N%", result.Report.ConfigChanges[0]);
    }
}
