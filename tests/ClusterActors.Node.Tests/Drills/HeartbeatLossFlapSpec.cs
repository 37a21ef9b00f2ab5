using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// A false failover shorter than the drill's 100 ms polls is still the drill's finding. Container CI trial 15
/// (heartbeat-loss, seed 1): at 40 % loss DC2_VM2 was primary for a few ms (five heartbeats lost, the sixth 1 ms late),
/// claimed vpn1_1 and gave it back; the polls saw a clean step and the drill reported its first false failover at 60 %.
/// The unit's own log (<see cref="IDrillLab.RoleChangedAt"/>, the container lab's) says when it became primary.
/// </summary>
public sealed class HeartbeatLossFlapSpec
{
    [Fact]
    public async Task A_flap_between_two_polls_seen_only_in_the_peers_log_is_the_first_false_failover()
    {
        var lab = new FakeDrillLab { KeepsRoleLog = true, FlapsAtLoss = 40 };
        var progress = new StringWriter { NewLine = "\n" };
        var result = await HeartbeatLossDrill.Run(lab, Scenarios.Topology("seed"),
            new HeartbeatLossDrill.Options(Seed: 1, Steps: [0, 40, 60], Hold: TimeSpan.FromMilliseconds(400), FastTimers: true), progress, CancellationToken.None);

        Assert.Equal(40, result.FalseFailoverAtLoss);
        Assert.Contains("DC2_VM2 Primary by its own log", result.FalseFailoverSeen);
        Assert.Equal([0.0, 40.0], result.Steps.Select(s => s.LossPercent)); // the ramp stops at the flap's step
        Assert.True(result.Passed, string.Join("; ", result.Violations));
    }

    [Fact]
    public async Task Without_a_role_change_in_any_log_the_ramp_runs_to_its_end()
    {
        var lab = new FakeDrillLab { KeepsRoleLog = true };
        var result = await HeartbeatLossDrill.Run(lab, Scenarios.Topology("seed"),
            new HeartbeatLossDrill.Options(Seed: 1, Steps: [0, 40, 60], Hold: TimeSpan.FromMilliseconds(400), FastTimers: true), new StringWriter(), CancellationToken.None);

        Assert.Null(result.FalseFailoverAtLoss);
        Assert.Equal([0.0, 40.0, 60.0], result.Steps.Select(s => s.LossPercent));
    }
}
