using System.Text.Json;
using ClusterActors.Node.Drills;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// Issue 14's acceptance for `execute ha failover set 1`, embedded: the seed's four units, PC1's traffic through the
/// tunnel's owner DC2_VM1 (its cluster's primary), the command typed on DC2_VM1's CLI. DC2_VM2 becomes primary and
/// sync-primary of vpn1_1 with the same SAs, DC2_VM1 stays up as Secondary with a standby copy, and the traffic's loss
/// stays within the FGCP failover bound. Without the EXE_FAIL_OVER rule DC2_VM2 never becomes primary and the run fails;
/// without the command the fault cannot be typed. In the real-processes collection (timing).
/// </summary>
[Collection(RealProcessesCollection.Name)]
public sealed class ForcedFailoverDrillSpec(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-forced-failover-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public async Task Execute_ha_failover_set_on_the_owner_moves_the_cluster_and_the_tunnel_to_its_peer_within_the_FGCP_bound()
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        int exit;
        try
        {
            exit = await DrillCommand.RunAsync(new DrillCommand.Request(["seed", "forced-failover"], Out: _dir, FastTimers: true),
                stdout, stderr, cts.Token);
        }
        finally
        {
            output.WriteLine($"--- stdout:\n{stdout}\n--- stderr:\n{stderr}");
        }
        var text = stdout.ToString();
        ExitAssert.Zero(exit, text, stderr.ToString());
        Assert.Matches(@"  fault: DC2_VM1: execute ha failover set 1 at \d+\.\d{3} s", text);
        Assert.Matches(@"  DC2_VM2 reports itself Primary after \d\.\d{3} s\n", text);
        Assert.Matches(@"  DC2_VM2 sync-primary for vpn1_1 after \d\.\d{3} s\n", text);
        Assert.Contains("  traffic steady again through DC2_VM2\n", text);
        Assert.Contains("SAs reused", text);
        Assert.Contains("  roles: DC2_VM1 Secondary/standby, DC2_VM2 Primary/sync-primary, DC2_VM3 Primary/standby, DC2_VM4 Secondary/standby\n", text);

        var folder = Assert.Single(Directory.GetDirectories(_dir));
        using var run = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "forced-failover-1.json")));
        var phase = Assert.Single(run.RootElement.GetProperty("phases").EnumerateArray());
        Assert.Equal(("DC2_VM1", "DC2_VM2", "fgcp", "reused"), (phase.GetProperty("forwarder_before").GetString(),
            phase.GetProperty("forwarder_after").GetString(), phase.GetProperty("loss_bound_kind").GetString(), phase.GetProperty("sa").GetString()));
        Assert.True(phase.GetProperty("lost").GetInt64() <= phase.GetProperty("loss_bound").GetInt64(),
            $"lost {phase.GetProperty("lost")} > bound {phase.GetProperty("loss_bound")}");
        Assert.True(phase.GetProperty("forwarded").GetProperty("DC2_VM2").GetInt64() > 0, "DC2_VM2 forwarded nothing after the failover");
        // The step-down and the claim travel separately (FGCP role to the old owner, the new record to it through the
        // replicator), so the old owner may still list itself sync-primary for a few ms: measured and reported by the
        // drill, as in the other drills (src/Actors/Ipsec/README.md). At the end exactly one owner remains.
        Assert.Equal(["DC2_VM2"], phase.GetProperty("owners_after").EnumerateArray().Select(o => o.GetString()));
    }
}
