using System.Diagnostics;
using System.Text.Json;
using ClusterActors.Node.Drills;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// Issue 12's acceptance, embedded: `drill fgsp-standalone all` (Fortinet's "FGSP per-tunnel failover for IPsec", four
/// standalone peers) and `drill --topology FILE all` on a hand-written lab of three FGSP members (an FGCP pair and two
/// standalone units) pass with no code change: the drills that name an FGCP peer are not applicable (the owner is
/// standalone), the owner's loss moves the tunnel to the router's next member with the same SPIs, and the member with
/// `fgsp-sync disable` never holds the client's SAs. In the real-processes collection: it must not compete for the CPU
/// with the timing specs.
/// </summary>
[Collection(RealProcessesCollection.Name)]
public sealed class DrillRoleEndToEndSpec(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-drill-roles-e2e-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private async Task<(int Exit, string Out, JsonElement Summary, string Folder)> Drill(DrillCommand.Request request)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var sw = Stopwatch.StartNew();
        int exit;
        try
        {
            exit = await DrillCommand.RunAsync(request with { Out = _dir, FastTimers = true }, stdout, stderr, cts.Token);
        }
        finally
        {
            output.WriteLine($"{sw.Elapsed.TotalSeconds:0.0} s\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}");
        }
        var folder = Assert.Single(Directory.GetDirectories(_dir));
        foreach (var md in Directory.GetFiles(folder, "*-1.md")) output.WriteLine(await File.ReadAllTextAsync(md));
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, DrillCommand.SummaryJson)));
        return (exit, stdout.ToString(), json.RootElement.Clone(), folder);
    }

    private static JsonElement Run(string folder, string drill) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, $"{drill}-1.json"))).RootElement.Clone();

    [Fact]
    public async Task Drill_fgsp_standalone_all_passes_the_owner_killed_moves_the_tunnel_with_its_SPIs_and_DC1_VM4_never_holds_it()
    {
        var (exit, text, summary, folder) = await Drill(new DrillCommand.Request(["fgsp-standalone", "all"]));

        ExitAssert.Zero(exit, text);
        Assert.Equal(["fgcp-failover", "fgsp-failover", "fgcp-failback", "heartbeat-cut", "full-scenario", "forced-failover"],
            summary.GetProperty("not_applicable").EnumerateArray().Select(n => n.GetProperty("drill").GetString()));
        Assert.Equal(2, summary.GetProperty("passed").GetInt32());
        Assert.Contains("  cast: owner DC1_VM1, other FGSP member DC1_VM3, fgsp-sync disabled member DC1_VM4, owner's uplink DC1_VM1 port2\n", text);
        Assert.Contains("  lab up … 4 units", text);
        Assert.Contains("  tunnel up via DC1_VM1 ", text);
        Assert.Matches(@"  fault: kill DC1_VM1 at \d+\.\d{3} s", text);
        // The router's own stamp when it is earlier than the poll (nearly always: the poll reads after the change).
        Assert.Matches(@"  the DC router withdraws DC1_VM1's next hop after \d\.\d{3} s( \(by the router's own clock; the drill's poll saw it after \d\.\d{3} s\))?\n", text);
        Assert.Contains("  traffic steady again through DC1_VM3\n", text);
        Assert.Matches(@"  DC1_VM4 never held vpn1_1 \(\d+ polls\)\n", text);
        // The drills all leaves out that this lab has roles for (no heartbeat-loss: the owner has no FGCP peer), with how to run each.
        Assert.Contains("not in all (too long for it, each runs alone): clusteractors drill fgsp-standalone fgsp-dpd-flush; "
                        + "clusteractors drill fgsp-standalone flapping-uplink --fast-timers\n", text);
        Assert.Equal(2, summary.GetProperty("not_in_all").GetArrayLength());

        foreach (var drill in new[] { "fgsp-owner-killed", "fgsp-sync-disabled" })
        {
            var run = Run(folder, drill);
            Assert.Equal("pass", run.GetProperty("verdict").GetString());
            var phase = run.GetProperty("phases")[0];
            Assert.Equal("reused", phase.GetProperty("sa").GetString());
            Assert.Equal(["DC1_VM3"], phase.GetProperty("owners_after").EnumerateArray().Select(o => o.GetString()));
            Assert.True(phase.GetProperty("forwarded").GetProperty("DC1_VM3").GetInt64() > 100, "DC1_VM3 forwarded after the failover");
        }
        var never = Assert.Single(Run(folder, "fgsp-sync-disabled").GetProperty("never_held").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, never.GetProperty("held_at_ms").ValueKind);
    }

    [Fact]
    public async Task A_hand_written_three_member_topology_runs_drill_all_with_no_code_change()
    {
        var (exit, text, summary, folder) = await Drill(new DrillCommand.Request(["all"], Topology: DrillRoleSpec.ThreeMembers));

        ExitAssert.Zero(exit, text);
        Assert.Equal(2, summary.GetProperty("passed").GetInt32());
        Assert.Equal(6, summary.GetProperty("not_applicable").GetArrayLength()); // the five FGCP-peer drills and forced-failover
        Assert.Contains("  cast: owner EDGE_1, other FGSP member HQ_FW1, fgsp-sync disabled member EDGE_2, owner's uplink EDGE_1 port2\n", text);
        Assert.Contains("FGCP clusters HQ_FW1+HQ_FW2 (primary HQ_FW1)", text);
        Assert.Contains("  traffic steady again through HQ_FW1\n", text);
        var run = Run(folder, "fgsp-owner-killed");
        Assert.Equal("reused", run.GetProperty("phases")[0].GetProperty("sa").GetString());
        Assert.Contains(run.GetProperty("roles").EnumerateArray(), r => r.GetProperty("unit").GetString() == "HQ_FW2"
                                                                        && r.GetProperty("actual_ha").GetString() == "Secondary"
                                                                        && r.GetProperty("actual_tunnel").GetString() == "standby");
    }
}
