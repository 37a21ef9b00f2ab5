using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// Issue 14 item 5: the impairment drills. heartbeat-loss ramps netem loss on the owner's FGCP heartbeat link and reports
/// the loss of the first false failover; flapping-uplink flaps the owner's uplink. Each runs once embedded, bounded,
/// and its invariants are asserted; the control run shows the false failover comes from the impairment (no impairment
/// wired in: the same 100 % step changes nothing).
/// </summary>
[Collection(RealProcessesCollection.Name)]
public sealed class ImpairmentDrillSpec(ITestOutputHelper output)
{
    [Theory]
    [InlineData(100, 6, 6, 1.0)]
    [InlineData(0, 6, 100, 0.0)]
    [InlineData(50, 2, 2, 0.25)]
    [InlineData(50, 2, 3, 0.375)] // LLL, LLN, NLL of eight
    [InlineData(50, 3, 2, 0.0)]   // fewer heartbeats than the threshold: no run possible
    public void The_chance_of_a_lost_run_is_exact(double loss, int threshold, int heartbeats, double chance) =>
        Assert.Equal(chance, HeartbeatLossDrill.ChanceOfLostRun(loss, threshold, heartbeats), 9);

    [Fact]
    public void Flap_down_times_come_from_the_seed_alone_within_40_to_60_percent_of_the_period()
    {
        var period = TimeSpan.FromSeconds(10);
        var a = FlappingUplinkDrill.DownTimes(7, 5, period);
        Assert.Equal(a, FlappingUplinkDrill.DownTimes(7, 5, period));
        Assert.NotEqual(a, FlappingUplinkDrill.DownTimes(8, 5, period));
        Assert.All(a, d => Assert.InRange(d.TotalSeconds, 4, 6));
    }

    [Fact]
    public void The_container_lab_runs_tc_netem_in_the_units_namespace_through_nsenter()
    {
        var spec = ImpairmentSpec.Loss(5) with { Delay = TimeSpan.FromMilliseconds(50), Jitter = TimeSpan.FromMilliseconds(10) };
        Assert.Equal("-t 4242 -n tc qdisc replace dev port4 root netem delay 50ms 10ms loss 5%",
            string.Join(" ", DockerDrillLab.NetemCommand(4242, "port4", spec)));
        Assert.Equal("-t 4242 -n tc qdisc del dev port4 root", string.Join(" ", DockerDrillLab.NetemCommand(4242, "port4", null)));
    }

    [Fact]
    public void The_container_labs_netem_drops_are_read_from_tc_s_and_a_port_without_netem_dropped_nothing()
    {
        Assert.Equal(37, DockerDrillLab.QdiscDropped(
            "qdisc netem 8001: root refcnt 2 limit 1000 loss 50%\n Sent 4380 bytes 41 pkt (dropped 37, overlimits 0 requeues 0)\n backlog 0b 0p requeues 0\n"));
        Assert.Equal(0, DockerDrillLab.QdiscDropped("qdisc noqueue 0: root refcnt 2 \n Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0)\n"));
        Assert.Equal(0, DockerDrillLab.QdiscDropped(""));
    }

    [Fact]
    public void Without_netem_in_the_kernel_a_loss_is_an_nftables_random_drop_on_the_ports_egress_and_its_counter_is_read_back()
    {
        Assert.Equal("""
            table inet clusteractors_impair_port4 {
              chain egress {
                type filter hook postrouting priority 0; policy accept;
                oifname "port4" numgen random mod 10000 < 1250 counter drop
              }
            }

            """, DockerDrillLab.NftLoss("port4", 12.5));
        Assert.Contains("mod 10000 <= 9999 counter drop", DockerDrillLab.NftLoss("port4", 100)); // nft's range on this side: 0-9999
        Assert.Equal("clusteractors_impair_port4", DockerDrillLab.NftTable("port4"));
        Assert.Equal(41, DockerDrillLab.NftDropped("""
            table inet clusteractors_impair_port4 {
            	chain egress {
            		type filter hook postrouting priority filter; policy accept;
            		oifname "port4" numgen random mod 10000 <= 9999 counter packets 41 bytes 5412 drop
            	}
            }
            """));
        Assert.Equal(0, DockerDrillLab.NftDropped("Error: No such file or directory"));
    }

    [Fact]
    public async Task Heartbeat_loss_100_percent_on_the_heartbeat_link_gives_the_false_failover_the_drill_reports_and_the_cluster_heals()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var progress = new StringWriter { NewLine = "\n" };
        var result = await HeartbeatLossDrill.RunEmbedded(Scenarios.Topology("seed"),
            new HeartbeatLossDrill.Options(Seed: 11, Steps: [0, 100], Hold: TimeSpan.FromSeconds(5), FastTimers: true), progress, cts.Token);
        output.WriteLine(progress.ToString());

        Assert.Contains("seed 11", result.Lines[0]);
        Assert.True(result.Passed, string.Join("; ", result.Violations));
        Assert.Equal(100, result.FalseFailoverAtLoss);
        Assert.Equal(0, result.Steps[0].OwnerLost + result.Steps[0].PeerLost);
        Assert.True(result.Steps[0].OwnerSent > 0);
        Assert.Equal(result.Steps[1].OwnerSent, result.Steps[1].OwnerLost); // 100 %: every heartbeat of the step dropped, counted as loss
        // Not before hb-lost-threshold x hb-interval without a heartbeat (1.2 s with the fast timers), counted from the last
        // heartbeat heard, which left up to one hb-interval before the step began, or later by as much as the owner's
        // timers ran late then (a CI trial: 605 ms, the owner's heartbeats held back by a stall just before the step).
        Assert.NotNull(result.OwnerTimersLateBeforeFailoverMs);
        Assert.InRange(result.FalseFailoverAfterMs!.Value, result.LostAfterMs - result.HbIntervalMs - result.OwnerTimersLateBeforeFailoverMs!.Value,
            result.LostAfterMs + 2000);
        Assert.NotNull(result.HealedAfterMs);

        // The run's report folder, as `drill seed heartbeat-loss` writes it: md + json + summary, no timeline (no traffic).
        var (exit, files, run) = await InFolder(result.Report);
        Assert.Equal(0, exit);
        Assert.Equal(["heartbeat-loss-1.json", "heartbeat-loss-1.md", "summary.json", "summary.md"], files);
        Assert.Equal("pass", run.GetProperty("verdict").GetString());
        Assert.Contains(run.GetProperty("checks").EnumerateArray(), c => c.GetProperty("phase").GetString() == "result"
                                                                        && c.GetProperty("measured").GetString()!.StartsWith("at 100% loss"));
        Assert.Contains(run.GetProperty("checks").EnumerateArray(), c => c.GetProperty("phase").GetString() == "heal" && c.GetProperty("ok").GetBoolean());
    }

    private static async Task<(int Exit, IReadOnlyList<string> Files, System.Text.Json.JsonElement Run)> InFolder(DrillRunResult report)
    {
        var outRoot = Directory.CreateTempSubdirectory("clusteractors-impairment-report-").FullName;
        try
        {
            return await OwnRunnerReportSpec.Written(report, outRoot);
        }
        finally
        {
            Directory.Delete(outRoot, true);
        }
    }

    [Fact]
    public async Task Without_the_impairment_the_same_ramp_gives_no_false_failover()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var progress = new StringWriter { NewLine = "\n" };
        var result = await HeartbeatLossDrill.RunEmbedded(Scenarios.Topology("seed"),
            new HeartbeatLossDrill.Options(Seed: 11, Steps: [100], Hold: TimeSpan.FromSeconds(4), FastTimers: true, Impair: false), progress, cts.Token);
        output.WriteLine(progress.ToString());
        Assert.Null(result.FalseFailoverAtLoss);
        Assert.True(result.Passed, string.Join("; ", result.Violations));
    }

    [Fact]
    public async Task Flapping_uplink_keeps_one_owner_per_tunnel_and_traffic_flows_again_with_no_anti_replay_drops()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var progress = new StringWriter { NewLine = "\n" };
        var result = await FlappingUplinkDrill.RunEmbedded(Scenarios.Topology("seed"),
            new FlappingUplinkDrill.Options(Seed: 5, Flaps: 2, FastTimers: true), progress, cts.Token);
        output.WriteLine(progress.ToString());

        Assert.Contains("seed 5", result.Lines[0]);
        Assert.Equal(2, result.Flaps.Count);
        Assert.True(result.Polls > 20);
        Assert.Equal(0, result.TwoOwnerPolls);
        Assert.NotNull(result.FlowingAfterMs);
        Assert.Equal(0, result.AntiReplayDrops);
        Assert.True(result.Passed, string.Join("; ", result.Violations));

        // The run's report folder, as `drill seed flapping-uplink` writes it: md + json + svg (PC1's timeline) + summary.
        var (exit, files, run) = await InFolder(result.Report);
        Assert.Equal(0, exit);
        Assert.Equal(["flapping-uplink-1.json", "flapping-uplink-1.md", "flapping-uplink-1.svg", "summary.json", "summary.md"], files);
        Assert.Equal("pass", run.GetProperty("verdict").GetString());
        Assert.True(run.GetProperty("timeline").GetProperty("forwarded").GetProperty("DC2_VM3").EnumerateArray().Sum(v => v.GetInt64()) > 0,
            "DC2_VM3 forwarded PC1's traffic while the uplink was down");
    }
}
