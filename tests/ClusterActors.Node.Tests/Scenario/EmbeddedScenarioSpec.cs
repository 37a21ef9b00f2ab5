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
