using System.Text.RegularExpressions;
using Akka.Actor;
using ClusterActors.Actors.Client;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Scenario;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using Xunit.Abstractions;

namespace ClusterActors.MultiNode.Tests;

/// <summary>
/// The scenario's two failover drills in one process: four units as ActorSystems with real Akka remoting, the
/// in-memory fabric for packets, CLIENT1 and PC1 sending echo requests to the Server at 1,000 pps.
/// (a) DC2_VM1 forwards; it dies; DC2_VM2 (FGCP) takes the tunnel and the traffic.
/// (b) DC2_VM2's port2 goes down; the DC router withdraws cluster 1; DC2_VM3 receives the client's ESP, takes the
/// tunnel (traffic-driven) and forwards, with the SPIs the client dialed.
/// </summary>
[Collection("multi-node")]
public sealed class DataPlaneDrillSpec(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>hb-interval 2 (200 ms) × hb-lost-threshold 6: FGCP detects a dead primary in 1.2 s.</summary>
    private const string Timers = "config system ha\nset hb-lost-threshold 6\nset hello-holddown 5\nend";

    /// <summary>The seed's `diagnose sys ha status` shows usr_priority=200 on DC2_VM1 and DC2_VM3: the primaries of the drills.</summary>
    private const string Preferred = "\nconfig system ha\nset priority 200\nend";

    private const int Rate = 1000;
    private static readonly string[] Units = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];
    private readonly LoopbackLab _lab = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private async Task<string> TunnelList(string unit) => (await _lab.Units[unit].CliAsync("diagnose vpn tunnel list")).Output;

    private static string Field(string list, string pattern) => Regex.Match(list, pattern).Groups[1].Value;

    private async Task<long> TunnelForwarded(string unit) =>
        (await _lab.Units[unit].Unit.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(5))).TunnelIn;

    /// <summary>Waits until <paramref name="unit"/> has forwarded <paramref name="packets"/> more tunnel packets than it had.</summary>
    private async Task ForwardsThrough(string unit, long packets, TimeSpan within, string what)
    {
        var before = await TunnelForwarded(unit);
        await LoopbackLab.Eventually(async () => await TunnelForwarded(unit) - before >= packets, within, what);
    }

    private async Task<string> Sniff(string unit)
    {
        var text = (await _lab.Units[unit].CliAsync("diagnose sniffer packet any icmp 4 16")).Output;
        output.WriteLine($"{unit} # diagnose sniffer packet any icmp 4 16\n{text}");
        return text;
    }

    /// <summary>The four lines of the scenario's sniffer traces: the unit forwards both ways between vpn1 and port3.</summary>
    private static void AssertForwards(string sniffed)
    {
        Assert.Contains("16 packets received by filter", sniffed);
        Assert.Matches(@"\d+\.\d{6} vpn1 in 10\.10\.1\.2 -> 10\.10\.101\.2: icmp: echo request\n", sniffed);
        Assert.Matches(@"\d+\.\d{6} port3 out 10\.10\.1\.2 -> 10\.10\.101\.2: icmp: echo request\n", sniffed);
        Assert.Matches(@"\d+\.\d{6} port3 in 10\.10\.101\.2 -> 10\.10\.1\.2: icmp: echo reply\n", sniffed);
        Assert.Matches(@"\d+\.\d{6} vpn1 out 10\.10\.101\.2 -> 10\.10\.1\.2: icmp: echo reply\n", sniffed);
    }

    [Fact]
    public async Task Drill_a_FGCP_failover_then_drill_b_FGSP_failover_keep_the_echo_traffic_within_the_loss_bounds()
    {
        var configs = Units.ToDictionary(u => u, u => LoopbackLab.ScenarioConfig(u, Timers + (u is "DC2_VM1" or "DC2_VM3" ? Preferred : "")));
        _lab.Define(Units.Select(u => (u, configs[u])).ToList());
        var probe = EmbeddedScenarioDriver.RouterProbeAbove(configs.Values);
        _lab.UsePacketFabric(new ScenarioFabricOptions { Probe = probe });
        foreach (var u in Units) await _lab.Start(u);
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && await _lab.IsRole("DC2_VM3", HaRole.Primary)
                                                 && (await _lab.Status("DC2_VM2")).Members.Count == 2 && (await _lab.Status("DC2_VM4")).Members.Count == 2,
            TimeSpan.FromSeconds(30), "both FGCP clusters formed, DC2_VM1 and DC2_VM3 primary");
        await LoopbackLab.Eventually(() => Task.FromResult(Units.All(u => _lab.AkkaMembersUp(u) == 4)), TimeSpan.FromSeconds(30), "one Akka cluster of four");

        var client = await _lab.DialOverFabric();
        var spis = (In: client.Established!.Child.InboundSpi.ToString("x8"), Out: client.Established.Child.OutboundSpi.ToString("x8"));
        await LoopbackLab.Eventually(async () =>
        {
            foreach (var u in Units)
                if (!(await TunnelList(u)).Contains(u == "DC2_VM1" ? "role=sync-primary" : "role=standby")) return false;
            return true;
        }, TimeSpan.FromSeconds(5), "the DC router sent CLIENT1 to cluster 1: DC2_VM1 sync-primary, every other unit standby");
        var pc1 = _lab.Pc1!;

        // ---- drill (a): traffic through DC2_VM1, which dies; FGCP moves the tunnel and the traffic to DC2_VM2.
        var fgcpDetection = TimeSpan.FromMilliseconds(configs["DC2_VM1"].Ha.HbInterval * 100 * configs["DC2_VM1"].Ha.HbLostThreshold);
        var runA = pc1.Start(new EchoRunOptions { RatePps = Rate, Duration = TimeSpan.FromSeconds(60) });
        await ForwardsThrough("DC2_VM1", Rate, TimeSpan.FromSeconds(10), "echo traffic flows through DC2_VM1");
        AssertForwards(await Sniff("DC2_VM1"));

        await _lab.Kill("DC2_VM1");
        await ForwardsThrough("DC2_VM2", Rate, TimeSpan.FromSeconds(15), "echo traffic resumes through DC2_VM2");
        runA.Stop();
        var a = await runA.Completion;
        output.WriteLine($"drill (a): {a.Format()}");
        var vm2 = await TunnelList("DC2_VM2");
        Assert.Contains("role=sync-primary", vm2);
        Assert.Equal(spis, (Field(vm2, @"enc: spi=(\w+)"), Field(vm2, @"dec: spi=(\w+)")));
        var boundA = (long)((fgcpDetection + TimeSpan.FromMilliseconds(200)).TotalSeconds * Rate);
        Assert.True(a.Lost <= boundA, $"drill (a) lost {a.Lost} packets; FGCP detection {fgcpDetection.TotalMilliseconds} ms + 200 ms allows {boundA}");
        Assert.True(a.Answered > 0 && a.Sent - a.Answered == a.Lost);
        Assert.Equal(0, client.Counters.AntiReplayDrops);

        // ---- drill (b): DC2_VM2's uplink goes down; the router withdraws cluster 1 and DC2_VM3 takes the tunnel.
        // A probe counts as missed when the next one is due, and the cable may be pulled just after an answered probe:
        // the router declares the next hop dead at most (misses + 1) intervals after the pull.
        var routerDetection = probe.Interval * (probe.MissedProbes + 1);
        var runB = pc1.Start(new EchoRunOptions { RatePps = Rate, Duration = TimeSpan.FromSeconds(60) });
        await ForwardsThrough("DC2_VM2", Rate / 2, TimeSpan.FromSeconds(10), "echo traffic flows through DC2_VM2");
        _lab.SetCable("DC2_VM2", "port2", false);
        await ForwardsThrough("DC2_VM3", Rate, TimeSpan.FromSeconds(15), "echo traffic resumes through DC2_VM3");
        AssertForwards(await Sniff("DC2_VM3"));
        runB.Stop();
        var b = await runB.Completion;
        output.WriteLine($"drill (b): {b.Format()}");
        output.WriteLine(_lab.Net!.DcRouter.Describe());
        var vm3 = await TunnelList("DC2_VM3");
        output.WriteLine(vm3);
        Assert.Contains("role=sync-primary", vm3);
        Assert.Equal(spis, (Field(vm3, @"enc: spi=(\w+)"), Field(vm3, @"dec: spi=(\w+)")));
        // The traffic claim told everyone: DC2_VM2, still alive, steps down to standby; VM3's partner holds a standby copy.
        await LoopbackLab.Eventually(async () => (await TunnelList("DC2_VM2")).Contains("role=standby") && (await TunnelList("DC2_VM4")).Contains("role=standby"),
            TimeSpan.FromSeconds(5), "DC2_VM2 and DC2_VM4 hold vpn1_1 as standby");
        var boundB = (long)((routerDetection + TimeSpan.FromMilliseconds(200)).TotalSeconds * Rate);
        Assert.True(b.Lost <= boundB, $"drill (b) lost {b.Lost} packets; router detection {routerDetection.TotalMilliseconds} ms + 200 ms allows {boundB}");
        Assert.Equal(0, client.Counters.AntiReplayDrops);
        Assert.Equal(0, client.Counters.IcvFailures);
    }
}
