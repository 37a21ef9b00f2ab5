using System.Diagnostics;
using ClusterActors.Node.Scenario;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Scenario;

/// <summary>
/// The real embedded lab: four units as ActorSystems in this process, a failover driven by a script, as
/// `clusteractors scenario run seed --embedded --fast-timers --script FILE` runs it. In the real-processes
/// collection so it does not compete for the CPU with the failover timing spec.
/// </summary>
[Collection(RealProcessesCollection.Name)]
public sealed class EmbeddedScenarioSpec(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-scenario-e2e-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>
    /// Issue 10's acceptance: `clusteractors scenario run seed --embedded` with no step that changes a unit's priority or
    /// role. The shipped cast is the document's (DC2_VM1 and DC2_VM3 priority 200): the tunnel comes up on DC2_VM1, and
    /// `kill DC2_VM1`, as a user following the document types it, moves it to DC2_VM2 with the SPIs the client dialed.
    /// </summary>
    [Fact]
    public async Task With_the_shipped_cast_the_tunnel_comes_up_on_DC2_VM1_and_kill_DC2_VM1_moves_it_to_DC2_VM2_with_the_same_SPIs()
    {
        var script = Path.Combine(_dir, "failover.txt");
        await File.WriteAllTextAsync(script, """
            # cluster 1: DC2_VM1 (priority 200) is primary; kill it and DC2_VM2 takes over, with the tunnel
            DC2_VM1> diagnose sys ha status
            dial
            expect DC2_VM1> diagnose vpn tunnel list ~ role=sync-primary within 5s
            expect DC2_VM4> diagnose vpn tunnel list ~ name=vpn1_1 .*\n.*role=standby within 5s
            DC2_VM1> diagnose vpn tunnel list
            kill DC2_VM1
            expect DC2_VM2> get system ha status ~ Primary\s+: DC2_VM2 within 10s
            expect DC2_VM2> diagnose vpn tunnel list ~ role=sync-primary within 5s
            DC2_VM2> diagnose vpn tunnel list
            """);
        var (exit, stdout, stderr) = await EmbeddedScript.RunAsync(script, TimeSpan.FromSeconds(40), output);

        ExitAssert.Zero(exit, stdout, stderr);
        Assert.Equal("", stderr);
        var transcript = stdout;
        Assert.Contains("starting DC2_VM1 … up\n", transcript);
        Assert.Contains("waiting for FGCP cluster DC2_VM1+DC2_VM2 (group-id 1) … formed, primary DC2_VM1\n", transcript);
        Assert.Contains("waiting for FGCP cluster DC2_VM3+DC2_VM4 (group-id 2) … formed, primary DC2_VM3\n", transcript);
        Assert.DoesNotContain("expect failed", transcript);
        // The document's cast from the shipped configs alone: DC2_VM1 primary by its priority 200.
        Assert.Matches(@"DC2_VM1> diagnose sys ha status\n[\s\S]*FGVM02TM22000001:\s+Primary, serialno_prio=\d, usr_priority=200, hostname=DC2_VM1\n"
                       + @"FGVM02TM22000002:\s+Secondary, serialno_prio=\d, usr_priority=100, hostname=DC2_VM2\n", transcript);
        // The client dials lb1 over the lab's links; the DC router's flow hash sends it to cluster 1's port2 address.
        Assert.Matches(@"\ndial\nIKEv2 SA established with 192\.168\.202\.35 via 192\.168\.129\.254 \(DC2_VM1\+DC2_VM2\)", transcript);
        Assert.Contains("\nkill DC2_VM1\nDC2_VM1 killed\n", transcript);

        var before = Tunnel(transcript, "\nDC2_VM1> diagnose vpn tunnel list\n");
        var after = Tunnel(transcript, "\nDC2_VM2> diagnose vpn tunnel list\n");
        Assert.Equal("sync-primary", before.Role);
        Assert.Equal("sync-primary", after.Role);
        Assert.Matches("^[0-9a-f]{8}$", before.Dec);
        Assert.Equal((before.Dec, before.Enc), (after.Dec, after.Enc));
    }

    /// <summary>
    /// Issue 12: the embedded lab is built from the topology file. A hand-written file (the seed's units and configs,
    /// but the client BRANCH1 at 192.168.8.10 on another WAN subnet, its PC LAPTOP at 10.10.1.50, the server App) runs
    /// with no code change: the tunnel's remote is the file's WAN address, the traffic goes from the file's PC to the
    /// file's server through the unit that owns the tunnel.
    /// </summary>
    [Fact]
    public async Task A_hand_written_topology_file_lays_the_lab_its_client_pc_and_server_included()
    {
        foreach (var conf in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "scenarios", "seed"), "*.conf"))
            File.Copy(conf, Path.Combine(_dir, Path.GetFileName(conf)));
        var seed = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "scenarios", "seed", "topology.yml"));
        var topology = Path.Combine(_dir, "lab.yml");
        await File.WriteAllTextAsync(topology, seed
            .Replace("name: seed", "name: branch")
            .Replace("subnet: 192.168.7.0/24", "subnet: 192.168.8.0/24")
            .Replace("wan: { segment: wan, address: 192.168.7.1/24 }", "uplink: { segment: wan, address: 192.168.8.1/24 }")
            .Replace("CLIENT1:", "BRANCH1:")
            .Replace("address: 192.168.7.2/24, gateway: 192.168.7.1", "address: 192.168.8.10/24, gateway: 192.168.8.1")
            .Replace("PC1: 10.10.1.2/24", "LAPTOP: 10.10.1.50/24")
            .Replace("Server: {", "App: {"));
        var script = Path.Combine(_dir, "traffic.txt");
        await File.WriteAllTextAsync(script, """
            dial
            expect DC2_VM1> diagnose vpn tunnel list ~ role=sync-primary within 5s
            DC2_VM1> diagnose vpn tunnel list
            traffic start 200
            wait 1s
            traffic stop
            router
            """);
        var (exit, stdout, stderr) = await EmbeddedScript.RunAsync(script, TimeSpan.FromSeconds(60), output, topology);

        ExitAssert.Zero(exit, stdout, stderr);
        Assert.Equal("", stderr);
        var transcript = stdout;
        Assert.DoesNotContain("expect failed", transcript);
        Assert.Matches(@"\ndial\nIKEv2 SA established with 192\.168\.202\.35 via 192\.168\.129\.254 \(DC2_VM1\+DC2_VM2\)", transcript);
        Assert.Contains("192.168.202.35:0->192.168.8.10:0", transcript);
        Assert.Contains("LAPTOP 10.10.1.50 -> App 10.10.101.2: echo requests at 200 pps", transcript);
        Assert.Matches(@"DC2_VM1 forwarded [1-9]\d* from the tunnel, [1-9]\d* into it", transcript);
        Assert.Contains("BRANCH1 anti-replay drops 0, ICV failures 0", transcript);
        Assert.Contains("via 192.168.129.254 dev c1 alive", transcript);
    }

    /// <summary>The role and SPIs of vpn1_1 in the command's output that follows <paramref name="step"/> in the transcript.</summary>
    private static (string Role, string Dec, string Enc) Tunnel(string transcript, string step)
    {
        var at = transcript.LastIndexOf(step, StringComparison.Ordinal);
        Assert.True(at >= 0, $"no '{step.Trim()}' in the transcript");
        var rest = transcript[(at + step.Length)..];
        var end = rest.IndexOf("\nexpect ", StringComparison.Ordinal);
        var list = end < 0 ? rest : rest[..end];
        string Field(string pattern) => System.Text.RegularExpressions.Regex.Match(list, pattern).Groups[1].Value;
        return (Field(@"role=(\S+)"), Field(@"dec: spi=(\w+)"), Field(@"enc: spi=(\w+)"));
    }
}

/// <summary>The README's first command: the shipped drills script, both of the document's failovers with traffic.</summary>
[Collection(RealProcessesCollection.Name)]
public sealed class ShippedDrillsScriptSpec(ITestOutputHelper output)
{
    [Fact]
    public async Task The_shipped_drills_script_passes_and_reports_traffic_through_each_owner_in_turn()
    {
        var script = Path.Combine(AppContext.BaseDirectory, "scenarios", "seed", "drills.script");
        var (exit, stdout, stderr) = await EmbeddedScript.RunAsync(script, TimeSpan.FromSeconds(90), output);

        ExitAssert.Zero(exit, stdout, stderr);
        var transcript = stdout;
        Assert.DoesNotContain("failed", transcript);
        // Each drill's traffic goes through the unit the document says: first the owner, then its FGCP secondary,
        // then the other FGSP cluster's primary; the client never saw a replayed or forged packet.
        Assert.Matches(@"traffic report\nsent \d+, answered \d+, lost \d+[^\n]*\n  DC2_VM1 forwarded \d+ from the tunnel", transcript);
        Assert.Matches(@"kill DC2_VM1[\s\S]*traffic report\nsent[^\n]*\n  DC2_VM2 forwarded \d+ from the tunnel", transcript);
        Assert.Matches(@"traffic stopped\nsent[^\n]*\n  DC2_VM2 forwarded \d+[^\n]*\n  DC2_VM3 forwarded \d+[^\n]*\n  CLIENT1 anti-replay drops 0, ICV failures 0\n", transcript);
        Assert.Matches(@"via 192\.168\.129\.254 dev c1 dead", transcript);
        Assert.Matches(@"DC2_VM3> diagnose vpn tunnel list\n[\s\S]*role=sync-primary", transcript);
    }
}
