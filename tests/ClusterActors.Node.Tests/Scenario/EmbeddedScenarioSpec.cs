using System.Diagnostics;
using ClusterActors.Node.Scenario;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Scenario;

/// <summary>
/// The real embedded lab: four units as ActorSystems in this process, a failover driven by a script, as
/// `clusteractors scenario run seed --embedded --fast-timers --script FILE` runs it. In the real-processes
/// collection so it does not compete for the CPU with the failover timing spec.
/// </summary>
[Collection("real-processes")]
public sealed class EmbeddedScenarioSpec(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-scenario-e2e-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public async Task A_script_fails_cluster_1_over_and_exits_0()
    {
        var script = Path.Combine(_dir, "failover.txt");
        await File.WriteAllTextAsync(script, """
            # cluster 1: DC2_VM2 (higher serial) is primary; kill it and DC2_VM1 takes over
            DC2_VM1> diagnose sys ha status
            expect DC2_VM1> diagnose sys ha status ~ FGVM02TM22000002:\s+Primary within 10s
            dial
            expect DC2_VM4> diagnose vpn tunnel list ~ name=vpn1_1 .*\n.*role=standby within 5s
            kill DC2_VM2
            expect DC2_VM1> get system ha status ~ Primary\s+: DC2_VM1 within 10s
            expect DC2_VM1> diagnose vpn tunnel list ~ role=sync-primary within 5s
            """);
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(40));
        var sw = Stopwatch.StartNew();
        int exit;
        try
        {
            exit = await ScenarioRunCommand.RunAsync(new ScenarioRunCommand.Request("seed", Embedded: true, script, FastTimers: true),
                new ScenarioRunCommand.Console(TextReader.Null, InIsTerminal: false, stdout, stderr), cts.Token);
        }
        finally
        {
            output.WriteLine($"{sw.Elapsed.TotalSeconds:0.0} s\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}");
        }

        Assert.Equal(0, exit);
        Assert.Equal("", stderr.ToString());
        var transcript = stdout.ToString();
        Assert.Contains("starting DC2_VM1 … up\n", transcript);
        Assert.Contains("waiting for FGCP cluster DC2_VM1+DC2_VM2 (group-id 1) … formed, primary DC2_VM2\n", transcript);
        Assert.Contains("waiting for FGCP cluster DC2_VM3+DC2_VM4 (group-id 2) … formed, primary DC2_VM4\n", transcript);
        Assert.Contains("\nDC2_VM1> diagnose sys ha status\n", transcript);
        Assert.Contains("\nkill DC2_VM2\nDC2_VM2 killed\nexpect DC2_VM1> get system ha status ~ Primary\\s+: DC2_VM1 within 10s\n", transcript);
        Assert.Matches(@"Primary\s+: DC2_VM1", transcript[transcript.IndexOf("DC2_VM2 killed", StringComparison.Ordinal)..]);
        Assert.DoesNotContain("expect failed", transcript);
        // The client dials lb1 over the lab's links; the DC router's flow hash sends it to cluster 1's port2 address.
        Assert.Matches(@"\ndial\nIKEv2 SA established with 192\.168\.202\.35 via 192\.168\.129\.254 \(DC2_VM1\+DC2_VM2\)", transcript);
    }
}

/// <summary>The README's first command: the shipped drills script, both of the document's failovers with traffic.</summary>
[Collection("real-processes")]
public sealed class ShippedDrillsScriptSpec(ITestOutputHelper output)
{
    [Fact]
    public async Task The_shipped_drills_script_passes_and_reports_traffic_through_each_owner_in_turn()
    {
        var script = Path.Combine(AppContext.BaseDirectory, "scenarios", "seed", "drills.script");
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        int exit;
        try
        {
            exit = await ScenarioRunCommand.RunAsync(new ScenarioRunCommand.Request("seed", Embedded: true, script, FastTimers: true),
                new ScenarioRunCommand.Console(TextReader.Null, InIsTerminal: false, stdout, stderr), cts.Token);
        }
        finally
        {
            output.WriteLine($"--- stdout:\n{stdout}\n--- stderr:\n{stderr}");
        }

        Assert.Equal(0, exit);
        var transcript = stdout.ToString();
        Assert.DoesNotContain("failed", transcript);
        // Each drill's traffic goes through the unit the document says: first the owner, then its FGCP secondary,
        // then the other FGSP cluster's primary; the client never saw a replayed or forged packet.
        Assert.Matches(@"traffic report\nsent \d+, answered \d+, lost \d+[^\n]*\n  DC2_VM2 forwarded \d+ from the tunnel", transcript);
        Assert.Matches(@"kill DC2_VM2[\s\S]*traffic report\nsent[^\n]*\n  DC2_VM1 forwarded \d+ from the tunnel", transcript);
        Assert.Matches(@"traffic stopped\nsent[^\n]*\n  DC2_VM1 forwarded \d+[^\n]*\n  DC2_VM4 forwarded \d+[^\n]*\n  CLIENT1 anti-replay drops 0, ICV failures 0\n", transcript);
        Assert.Matches(@"via 192\.168\.129\.254 dev c1 dead", transcript);
        Assert.Matches(@"DC2_VM4> diagnose vpn tunnel list\n[\s\S]*role=sync-primary", transcript);
    }
}
