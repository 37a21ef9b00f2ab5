using System.Net;
using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// Issue 12, point 4: the DPD variant of the guide on the fgsp-standalone lab. The client's tunnel is cast on the member
/// with `set fgsp-sync disable` (DC1_VM4) by a hash seed chosen purely; the client is lost; the owner flushes the tunnel
/// after its DPD probes, within (dpd-retrycount + 1) × dpd-retryinterval; no other member ever lists it; the client
/// comes back and dials a new tunnel (new SPIs). Fails with the flush removed from IpsecPhase1Actor.CheckIdleTunnels.
/// </summary>
[Collection(RealProcessesCollection.Name)]
public sealed class DpdFlushDrillSpec(ITestOutputHelper output)
{
    [Fact]
    public void The_seed_is_chosen_purely_so_the_client_lands_on_the_fgsp_sync_disabled_member()
    {
        var placed = DpdFlushDrill.OnNoSyncMember(Scenarios.Topology("fgsp-standalone"))!.Value;
        Assert.Equal("DC1_VM4", placed.Owner);
        Assert.Equal("DC1_VM4", DrillCast.Resolve(placed.Topology).Owner);
        Assert.Equal(placed.Seed, DpdFlushDrill.OnNoSyncMember(Scenarios.Topology("fgsp-standalone"))!.Value.Seed);
        Assert.Equal(5200, DpdFlushDrill.BoundMs(1, 3));
        Assert.Equal(241_200, DpdFlushDrill.BoundMs(60, 3)); // the guide's 60 s, three iterations
    }

    [Fact]
    public async Task On_the_seed_the_drill_is_not_applicable_no_member_has_fgsp_sync_disabled()
    {
        var e = await Assert.ThrowsAsync<UsageException>(() => DrillCommand.RunAsync(new DrillCommand.Request(["seed", DpdFlushDrill.Name]),
            TextWriter.Null, TextWriter.Null, CancellationToken.None));
        Assert.Contains("not applicable to seed", e.Message);
    }

    [Fact]
    public async Task Fgsp_dpd_flush_DC1_VM4_flushes_the_lost_clients_tunnel_within_the_DPD_bound_and_the_client_redials()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var progress = new StringWriter { NewLine = "\n" };
        DpdFlushDrill.Result result;
        try
        {
            result = await DpdFlushDrill.RunEmbedded(Scenarios.Topology("fgsp-standalone"), progress, cts.Token);
        }
        finally
        {
            output.WriteLine(progress.ToString());
        }
        Assert.Empty(result.Violations);
        Assert.Equal("DC1_VM4", result.Owner);
        Assert.InRange(result.LossToFlushMs, 0, result.BoundMs + result.TimersLateMs);
        Assert.NotEqual(result.SpiBefore, result.SpiAfter);
        Assert.NotEqual(0u, result.SpiAfter);
        Assert.Equal(0, result.AntiReplayDrops);

        // The run's report folder, as `drill fgsp-standalone fgsp-dpd-flush` writes it: md + json + summary, no timeline.
        var outRoot = Directory.CreateTempSubdirectory("clusteractors-dpd-report-").FullName;
        try
        {
            var (exit, files, run) = await OwnRunnerReportSpec.Written(result.Report, outRoot);
            Assert.Equal(DrillCommand.Passed, exit);
            Assert.Equal(["fgsp-dpd-flush-1.json", "fgsp-dpd-flush-1.md", "summary.json", "summary.md"], files);
            Assert.Equal("pass", run.GetProperty("verdict").GetString());
            Assert.Equal("DC1_VM4", run.GetProperty("dialed_via").GetString());
            Assert.Contains(run.GetProperty("checks").EnumerateArray(), c => c.GetProperty("phase").GetString() == "flush" && c.GetProperty("ok").GetBoolean());
            Assert.Contains(run.GetProperty("checks").EnumerateArray(), c => c.GetProperty("phase").GetString() == "redial" && c.GetProperty("ok").GetBoolean());
        }
        finally
        {
            Directory.Delete(outRoot, true);
        }
    }
}
