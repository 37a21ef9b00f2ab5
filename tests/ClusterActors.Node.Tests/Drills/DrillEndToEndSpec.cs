using System.Diagnostics;
using System.Text.Json;
using ClusterActors.Node.Drills;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// `clusteractors drill seed fgcp-failover --fast-timers` on the real embedded lab: four units as ActorSystems in this
/// process, CLIENT1 and PC1 on the in-memory fabric. In the real-processes collection so it does not compete for the
/// CPU with the failover timing specs.
/// </summary>
[Collection(RealProcessesCollection.Name)]
public sealed class DrillEndToEndSpec(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-drill-e2e-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public async Task Fgcp_failover_embedded_passes_and_writes_a_report_a_json_file_and_a_timeline()
    {
        RequiredTool.Check("tshark");
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var sw = Stopwatch.StartNew();
        int exit;
        try
        {
            exit = await DrillCommand.RunAsync(new DrillCommand.Request(["seed", "fgcp-failover"], Out: _dir, FastTimers: true), stdout, stderr, cts.Token);
        }
        finally
        {
            output.WriteLine($"{sw.Elapsed.TotalSeconds:0.0} s\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}");
        }

        var reports = Assert.Single(Directory.GetDirectories(_dir));
        var md = Path.Combine(reports, "fgcp-failover-1.md");
        if (File.Exists(md)) output.WriteLine(await File.ReadAllTextAsync(md));
        var text = stdout.ToString();
        ExitAssert.Zero(exit, text, stderr.ToString());
        Assert.Equal("", stderr.ToString());
        Assert.Contains("  lab up … 4 units, FGCP clusters DC2_VM1+DC2_VM2 (primary DC2_VM1) and DC2_VM3+DC2_VM4 (primary DC2_VM3)", text);
        Assert.Contains("  tunnel up via DC2_VM1 ", text);
        Assert.Contains("  traffic 1000 pps steady through DC2_VM1\n", text);
        Assert.Matches(@"  fault: kill DC2_VM1 at \d+\.\d{3} s \(the call returned after \d+ ms\)\n", text);
        Assert.Matches(@"  DC2_VM2 reports itself Primary after \d\.\d{3} s\n", text);
        Assert.Contains("  traffic steady again through DC2_VM2\n", text);

        Assert.StartsWith("# Drill fgcp-failover, run 1: PASS\n", await File.ReadAllTextAsync(md));
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(reports, "fgcp-failover-1.json")));
        var root = json.RootElement;
        Assert.Equal("pass", root.GetProperty("verdict").GetString());
        var phase = root.GetProperty("phases")[0];
        Assert.Equal("reused", phase.GetProperty("sa").GetString());
        // The fault's loss: what was lost in outages over before the fault (a loaded machine standing still while the
        // traffic was still settling, CI trial 17 of 2026-12-07: 367 of 1,495) is not the fault's, as the drill's rule says.
        Assert.True(phase.GetProperty("lost").GetInt64() - phase.GetProperty("lost_before_steady").GetInt64() <= 1400,
            $"lost {phase.GetProperty("lost").GetInt64()}, {phase.GetProperty("lost_before_steady").GetInt64()} of them before the traffic was steady");
        Assert.True(phase.GetProperty("forwarded").GetProperty("DC2_VM1").GetInt64() > 500, "DC2_VM1 forwarded before it died");
        Assert.True(phase.GetProperty("forwarded").GetProperty("DC2_VM2").GetInt64() > 500, "DC2_VM2 forwarded after");
        var svg = await File.ReadAllTextAsync(Path.Combine(reports, "fgcp-failover-1.svg"));
        Assert.Contains("data-unit=\"DC2_VM2\"", svg);
        Assert.Contains("class=\"marker fault\"", svg);
        Assert.Contains("class=\"marker role-change\"", svg);

        // One pcapng per segment next to the report, and the command the report prints decrypts every ESP packet of
        // CLIENT1's segment with a good ICV, ICMP inside (the issue's acceptance: "with the keys its report prints").
        var pcaps = root.GetProperty("pcaps").EnumerateArray().ToList();
        Assert.Contains(pcaps, p => p.GetProperty("segment").GetString() == "wan");
        foreach (var p in pcaps)
        {
            Assert.True(File.Exists(p.GetProperty("file").GetString()), p.ToString());
            Assert.InRange(p.GetProperty("packets").GetInt64(), 1, ClusterActors.Node.LabHarness.Fabric.FabricCapture.DefaultMaxPacketsPerSegment);
        }
        var command = root.GetProperty("tshark_command").GetString()!;
        Assert.StartsWith($"tshark -r '{Path.Combine(reports, "fgcp-failover-1-wan.pcapng")}' -o 'esp.enable_encryption_decode:TRUE'", command);
        Assert.Contains(command, await File.ReadAllTextAsync(md));
        TsharkEsp.EveryPacketDecrypts(command, 1000, output);
    }
}
