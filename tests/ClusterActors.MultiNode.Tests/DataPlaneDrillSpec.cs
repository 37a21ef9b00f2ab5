using System.Text.RegularExpressions;
using Akka.Actor;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Packets;
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

    private static readonly Regex[] ForwardingLines =
    [
        new(@"\d+\.\d{6} vpn1 in 10\.10\.1\.2 -> 10\.10\.101\.2: icmp: echo request\n"),
        new(@"\d+\.\d{6} port3 out 10\.10\.1\.2 -> 10\.10\.101\.2: icmp: echo request\n"),
        new(@"\d+\.\d{6} port3 in 10\.10\.101\.2 -> 10\.10\.1\.2: icmp: echo reply\n"),
        new(@"\d+\.\d{6} vpn1 out 10\.10\.101\.2 -> 10\.10\.1\.2: icmp: echo reply\n"),
    ];

    /// <summary>
    /// The four lines of the scenario's sniffer traces: the unit forwards both ways between vpn1 and port3. A capture of
    /// 16 packets may hold only requests when the unit handles a burst of them before the replies; a few captures are
    /// allowed to see all four kinds.
    /// </summary>
    private async Task AssertForwards(string unit)
    {
        var text = "";
        for (var attempt = 0; attempt < 5; attempt++)
        {
            text = (await _lab.Units[unit].CliAsync("diagnose sniffer packet any icmp 4 16")).Output;
            if (ForwardingLines.All(l => l.IsMatch(text))) break;
        }
        output.WriteLine($"{unit} # diagnose sniffer packet any icmp 4 16\n{text}");
        Assert.Contains("16 packets received by filter", text);
        Assert.All(ForwardingLines, l => Assert.Matches(l, text));
    }

    /// <summary>The four units with DC2_VM1 and DC2_VM3 primary (the shipped priority 200), the fabric, and CLIENT1 dialed in to DC2_VM1.</summary>
    private async Task<(Dictionary<string, ConfigDocument> Configs, ProbeOptions Probe, DialupClientGateway Client)> StartAndDial(
        Action<InMemoryFabric>? beforeDial = null)
    {
        var configs = Units.ToDictionary(u => u, u => LoopbackLab.ScenarioConfig(u, Timers));
        _lab.Define(Units.Select(u => (u, configs[u])).ToList());
        var probe = EmbeddedScenarioDriver.RouterProbeAbove(configs.Values);
        _lab.UsePacketFabric(new ScenarioFabricOptions { Probe = probe });
        foreach (var u in Units) await _lab.Start(u);
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && await _lab.IsRole("DC2_VM3", HaRole.Primary)
                                                 && (await _lab.Status("DC2_VM2")).Members.Count == 2 && (await _lab.Status("DC2_VM4")).Members.Count == 2,
            TimeSpan.FromSeconds(30), "both FGCP clusters formed, DC2_VM1 and DC2_VM3 primary");
        await LoopbackLab.Eventually(() => Task.FromResult(Units.All(u => _lab.AkkaMembersUp(u) == 4)), TimeSpan.FromSeconds(30), "one Akka cluster of four");
        beforeDial?.Invoke(_lab.Net!.Fabric);
        var client = await _lab.DialOverFabric();
        await LoopbackLab.Eventually(async () =>
        {
            foreach (var u in Units)
                if (!(await TunnelList(u)).Contains(u == "DC2_VM1" ? "role=sync-primary" : "role=standby")) return false;
            return true;
        }, TimeSpan.FromSeconds(5), "the DC router sent CLIENT1 to cluster 1: DC2_VM1 sync-primary, every other unit standby");
        return (configs, probe, client);
    }

    [Fact]
    public async Task Drill_a_FGCP_failover_then_drill_b_FGSP_failover_keep_the_echo_traffic_within_the_loss_bounds()
    {
        var (configs, probe, client) = await StartAndDial();
        var spis = (In: client.Established!.Child.InboundSpi.ToString("x8"), Out: client.Established.Child.OutboundSpi.ToString("x8"));
        var pc1 = _lab.Pc1!;
        // Virtual MAC: the secondaries hold the clusters' addresses but stay silent; nothing reaches them.
        Assert.Equal(0, (await _lab.Units["DC2_VM2"].Unit.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(5))).Received);
        Assert.Equal(0, (await _lab.Units["DC2_VM4"].Unit.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(5))).Received);

        // ---- drill (a): traffic through DC2_VM1, which dies; FGCP moves the tunnel and the traffic to DC2_VM2.
        var fgcpDetection = TimeSpan.FromMilliseconds(configs["DC2_VM1"].Ha.HbInterval * 100 * configs["DC2_VM1"].Ha.HbLostThreshold);
        var runA = pc1.Start(new EchoRunOptions { RatePps = Rate, Duration = TimeSpan.FromSeconds(60) });
        await ForwardsThrough("DC2_VM1", Rate, TimeSpan.FromSeconds(10), "echo traffic flows through DC2_VM1");
        await AssertForwards("DC2_VM1");

        await _lab.Kill("DC2_VM1");
        await ForwardsThrough("DC2_VM2", Rate, TimeSpan.FromSeconds(15), "echo traffic resumes through DC2_VM2");
        runA.Stop();
        var a = await runA.Completion;
        output.WriteLine($"drill (a): {a.Format()}");
        var vm2 = await TunnelList("DC2_VM2");
        output.WriteLine($"DC2_VM2 # diagnose vpn tunnel list\n{vm2}");
        Assert.Contains("role=sync-primary", vm2);
        // Live counters of the unit that forwards now: packets both ways, the SA's own counters, the window's edge,
        // and the outbound sequence running on from the jumped number (the 2^28 bit set).
        Assert.Matches(@"stat: rxp=[1-9]\d* txp=[1-9]\d* rxb=[1-9]\d* txb=[1-9]\d*\n", vm2);
        Assert.Matches(@"dec:pkts/bytes=[1-9]\d*/[1-9]\d*, enc:pkts/bytes=[1-9]\d*/[1-9]\d*\n", vm2);
        // One jump (2^28) for the takeover; a unit that stalled meanwhile (frames that waited past the stall tolerance,
        // counted as "stale after stall") moves two more (src/Actors/Ipsec/README.md, "A stalled owner"): on a loaded
        // machine the shared test process stands still at times (CI trial 17 of 2026-12-07: seqno=3000085e, PC1's rtt
        // up to 680 ms). The spec says which it saw.
        var (stalledFrames, stalledPackets) = await StallDrops.Counted(_lab, "DC2_VM2");
        var stalls = stalledFrames + stalledPackets;
        output.WriteLine($"DC2_VM2 counted {stalls} frame(s) stale after a stall");
        Assert.Matches(stalls > 0 ? @"seqno=[13][0-9a-f]{7} esn=0 replaywin_lastseq=0000[0-9a-f]{4}" : @"seqno=1[0-9a-f]{7} esn=0 replaywin_lastseq=0000[0-9a-f]{4}", vm2);
        Assert.DoesNotMatch(@"replaywin_lastseq=00000000", vm2);
        Assert.Matches(@"ilast=[0-2] olast=[0-2] ", vm2);
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
        // As the document does it: the IPsec uplink is shut (`set status down`); the unit stops answering on port2.
        var shut = await _lab.Units["DC2_VM2"].CliAsync("config system interface\nedit port2\nset status down\nnext\nend");
        Assert.Equal(0, shut.ExitCode);
        await ForwardsThrough("DC2_VM3", Rate, TimeSpan.FromSeconds(15), "echo traffic resumes through DC2_VM3");
        await AssertForwards("DC2_VM3");
        runB.Stop();
        var b = await runB.Completion;
        output.WriteLine($"drill (b): {b.Format()}");
        output.WriteLine(_lab.Net!.DcRouter.Describe());
        var vm3 = await TunnelList("DC2_VM3");
        output.WriteLine($"DC2_VM3 # diagnose vpn tunnel list\n{vm3}");
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

/// <summary>Bad ESP sent at the owner and at the other cluster's primary: dropped and counted, nothing moves.</summary>
[Collection("multi-node")]
public sealed class BadEspSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Timers = "config system ha\nset hb-lost-threshold 6\nset hello-holddown 5\nend";
    private static readonly string[] Units = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];
    private readonly LoopbackLab _lab = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private async Task<string> TunnelList(string unit) => (await _lab.Units[unit].CliAsync("diagnose vpn tunnel list")).Output;

    private async Task<TunnelDrops> Drops(string unit) =>
        await _lab.Units[unit].System.ActorSelection("/user/fortigate/phase1-vpn1/*").Ask<TunnelDrops>(GetTunnelDrops.Instance, TimeSpan.FromSeconds(5));

    private async Task<ForwardingStatus> Forwarding(string unit) =>
        await _lab.Units[unit].Unit.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(5));

    [Fact]
    public async Task Bad_ICV_unknown_SPI_replayed_too_old_or_truncated_ESP_is_dropped_and_counted_and_never_moves_the_tunnel()
    {
        // The shipped cast: DC2_VM1 (priority 200) primary of cluster 1; cluster 2's primary is DC2_VM3 (priority 200), DC2_VM4 its secondary.
        _lab.Define(Units.Select(u => (u, LoopbackLab.ScenarioConfig(u, Timers))).ToList());
        _lab.UsePacketFabric();
        var fabric = _lab.Net!.Fabric;
        var captured = new List<byte[]>();
        fabric.Delivered += (segment, _, _, packet) =>
        {
            // The client's ESP towards lb1 (192.168.202.35), not the owner's replies to the client.
            if (segment == "c1-port2" && packet.Length > 20 && packet[9] == 50 && packet.AsSpan(16, 4).SequenceEqual(new byte[] { 192, 168, 202, 35 }))
                lock (captured) captured.Add(packet.ToArray());
        };
        fabric.Cable("tester", "c1", "c1-port2");
        fabric.Cable("tester", "c2", "c2-port2");
        var toCluster1 = fabric.Host("tester").Open("c1", [InterfaceAddress.Parse("192.168.129.99/24")], (_, _) => { });
        var toCluster2 = fabric.Host("tester").Open("c2", [InterfaceAddress.Parse("192.168.130.99/24")], (_, _) => { });
        foreach (var u in Units) await _lab.Start(u);
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && await _lab.IsRole("DC2_VM3", HaRole.Primary)
                                                 && (await _lab.Status("DC2_VM2")).Members.Count == 2 && (await _lab.Status("DC2_VM4")).Members.Count == 2
                                                 && Units.All(u => _lab.AkkaMembersUp(u) == 4),
            TimeSpan.FromSeconds(30), "both FGCP clusters and one Akka cluster formed");
        var client = await _lab.DialOverFabric();
        await LoopbackLab.Eventually(async () => (await TunnelList("DC2_VM3")).Contains("role=standby"), TimeSpan.FromSeconds(5), "DC2_VM3 holds vpn1_1");

        using var stall = StallDrops.Watch(_lab, "DC2_VM1");
        var run = _lab.Pc1!.Start(new EchoRunOptions { RatePps = 1000, Duration = TimeSpan.FromSeconds(3) });
        var report = await run.Completion;
        // 5 lost at most, more only while DC2_VM1 measurably stood still (StallDrops), judged before the bad packets.
        var goodRun = await stall.Judge(ownLoss: 5, ratePps: 1000);
        output.WriteLine($"{report.Format()}; {goodRun}");
        // Every packet captured was accepted before the owner's last sequence sync: replays of any of them are refused everywhere.
        await Task.Delay(DialupTunnelActor.SequenceSyncInterval * 2);

        byte[][] esp;
        lock (captured) esp = captured.ToArray();
        Assert.True(Ipv4Packet.TryParse(esp[0], out var oldest, out _));
        Assert.True(Ipv4Packet.TryParse(esp[^20], out var recent, out _));
        Ipv4Packet With(byte[] payload) => oldest with { Payload = payload };
        // A sequence number no unit has seen (so the replay check passes) under the old ICV: the ICV check fails.
        var badIcv = recent.Payload.ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(badIcv.AsSpan(4), 1_000_000);
        var unknownSpi = recent.Payload.ToArray();
        unknownSpi[0] ^= 0xff;
        var bad = new[]
        {
            With(badIcv), With(unknownSpi), With(recent.Payload[..12]), With(recent.Payload[..6]),
            oldest, // seq ~1: left of every window by now
            recent, // inside the window: a replay
        };
        var lb1Next1 = System.Net.IPAddress.Parse("192.168.129.254");
        var lb1Next2 = System.Net.IPAddress.Parse("192.168.130.254");
        foreach (var p in bad)
        {
            Assert.True(toCluster1.Send(lb1Next1, p.ToBytes()), "the owner's cluster answers on its port2");
            Assert.True(toCluster2.Send(lb1Next2, p.ToBytes()), "the other cluster's primary answers on its port2");
        }
        // Counted once each unit has taken them off its mailboxes; then the counts must be exact.
        await LoopbackLab.Eventually(async () => (await Drops("DC2_VM1")).Inbound.Values.Sum(d => (long)d) >= 4 && (await Drops("DC2_VM3")).Inbound.Values.Sum(d => (long)d) >= 4
                                                 && (await Forwarding("DC2_VM1")).Dropped >= 2 && (await Forwarding("DC2_VM3")).Dropped >= 2,
            TimeSpan.FromSeconds(5), "every bad packet counted");
        foreach (var u in Units) output.WriteLine($"{u}: {string.Join(", ", (await Forwarding(u)).Drops)}");
        var owner = await Drops("DC2_VM1");
        var other = await Drops("DC2_VM3");
        output.WriteLine($"DC2_VM1: {string.Join(", ", owner.Inbound.Where(d => d.Value > 0))}; DC2_VM3: {string.Join(", ", other.Inbound.Where(d => d.Value > 0))}");
        foreach (var drops in new[] { owner, other })
        {
            Assert.Equal(1UL, drops.Inbound[EspDropReason.BadIcv]);
            Assert.Equal(1UL, drops.Inbound[EspDropReason.Truncated]);
            Assert.Equal(1UL, drops.Inbound[EspDropReason.TooOld]);
            Assert.Equal(1UL, drops.Inbound[EspDropReason.Replayed]);
        }
        foreach (var u in new[] { "DC2_VM1", "DC2_VM3" })
        {
            var drops = (await Forwarding(u)).Drops;
            Assert.Equal(1, drops.GetValueOrDefault("esp unknown spi"));
            Assert.Equal(1, drops.GetValueOrDefault("malformed esp"));
        }
        // Nothing moved: DC2_VM1 still owns the tunnel, every other unit holds it as standby, all four still run.
        Assert.Contains("role=sync-primary", await TunnelList("DC2_VM1"));
        foreach (var u in Units.Skip(1)) Assert.Contains("role=standby", await TunnelList(u));
        Assert.All(Units, u => Assert.False(_lab.Units[u].System.WhenTerminated.IsCompleted));
        Assert.True(report.Lost <= goodRun.Allowed, $"the good traffic flowed: {report.Format()}; {goodRun}");
        Assert.Equal(0, client.Counters.AntiReplayDrops);
    }
}

/// <summary>
/// `set nattraversal enable` on the gateway and a client that forces NAT-T (as many clients do): IKE floats to UDP 4500
/// (RFC 7296 §2.23), ESP travels in UDP 4500 (RFC 3948), and `diagnose vpn tunnel list` says so on every unit.
/// </summary>
[Collection("multi-node")]
public sealed class NatTraversalSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Change = "config system ha\nset hb-lost-threshold 6\nset hello-holddown 5\nend\n" +
                                  "config vpn ipsec phase1-interface\nedit vpn1\nset nattraversal enable\nnext\nend";
    private readonly LoopbackLab _lab = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    [Fact]
    public async Task A_client_forcing_NAT_T_gets_IKE_and_ESP_on_UDP_4500_and_the_tunnel_list_shows_it()
    {
        _lab.Define([("DC2_VM1", LoopbackLab.ScenarioConfig("DC2_VM1", Change)), ("DC2_VM2", LoopbackLab.ScenarioConfig("DC2_VM2", Change))]);
        _lab.UsePacketFabric();
        long esp50 = 0, udp4500 = 0;
        _lab.Net!.Fabric.Delivered += (segment, _, _, p) =>
        {
            if (segment != "c1-port2" || p.Length < 28) return;
            if (p[9] == 50) Interlocked.Increment(ref esp50);
            else if (p[9] == 17 && ((p[20] << 8) | p[21]) == 4500 && ((p[22] << 8) | p[23]) == 4500) Interlocked.Increment(ref udp4500);
        };
        await _lab.Start("DC2_VM1");
        await _lab.Start("DC2_VM2");
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && (await _lab.Status("DC2_VM2")).Members.Count == 2
                                                 && _lab.AkkaMembersUp("DC2_VM1") == 2,
            TimeSpan.FromSeconds(30), "cluster 1 formed");

        var psk = LoopbackLab.ScenarioConfig("DC2_VM1").Phase1[0].PskSecret!.Clear;
        var client = await _lab.DialOverFabric(DialupClient.ScenarioSettings(psk) with { NatTraversal = NatTraversal.Forced });
        Assert.True(client.Established!.Sa.UdpEncapsulatedEsp);
        var report = await _lab.Pc1!.RunAsync(new EchoRunOptions { RatePps = 200, Duration = TimeSpan.FromSeconds(1) });
        output.WriteLine(report.Format());
        Assert.True(report.Lost <= 2, report.Format());
        Assert.Equal(0, Interlocked.Read(ref esp50));
        Assert.True(Interlocked.Read(ref udp4500) >= 2 * report.Answered, $"ESP in UDP 4500 both ways: {udp4500} datagrams for {report.Answered} echoes");

        foreach (var (unit, role) in new[] { ("DC2_VM1", "sync-primary"), ("DC2_VM2", "standby") })
        {
            string list = "";
            await LoopbackLab.Eventually(async () => (list = (await _lab.Units[unit].CliAsync("diagnose vpn tunnel list")).Output).Contains($"role={role}"),
                TimeSpan.FromSeconds(5), $"{unit} lists vpn1_1 as {role}");
            output.WriteLine(list);
            Assert.Contains("192.168.202.35:4500->192.168.7.2:4500", list);
            Assert.Contains("natt: mode=keepalive draft=0 interval=10 remote_port=4500", list);
        }
    }
}

/// <summary>A unit notices a pulled cable on the fabric as a real unit does: on a monitored port it hands the cluster over.</summary>
[Collection("multi-node")]
public sealed class FabricLinkSpec : IAsyncLifetime
{
    private const string Change = "config system ha\nset hb-lost-threshold 6\nset hello-holddown 5\nset monitor \"port2\"\nend";
    private readonly LoopbackLab _lab = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private async Task<ForwardingStatus> Forwarding(string unit) =>
        await _lab.Units[unit].Unit.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(5));

    [Fact]
    public async Task Pulling_the_primarys_monitored_port2_cable_moves_the_cluster_and_its_addresses_to_the_secondary()
    {
        _lab.Define([("DC2_VM1", LoopbackLab.ScenarioConfig("DC2_VM1", Change)), ("DC2_VM2", LoopbackLab.ScenarioConfig("DC2_VM2", Change))]);
        _lab.UsePacketFabric();
        await _lab.Start("DC2_VM1");
        await _lab.Start("DC2_VM2");
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && (await _lab.Status("DC2_VM2")).Members.Count == 2,
            TimeSpan.FromSeconds(30), "cluster 1 formed, DC2_VM1 primary");
        Assert.True((await Forwarding("DC2_VM1")).Answering);
        Assert.False((await Forwarding("DC2_VM2")).Answering);

        _lab.SetCable("DC2_VM1", "port2", false);

        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM2", HaRole.Primary), TimeSpan.FromSeconds(5),
            "the monitored port's link failure hands the cluster to DC2_VM2");
        await LoopbackLab.Eventually(async () => (await Forwarding("DC2_VM2")).Answering && !(await Forwarding("DC2_VM1")).Answering,
            TimeSpan.FromSeconds(5), "the cluster's addresses answer on DC2_VM2 only");
        Assert.False((await Forwarding("DC2_VM1")).Carrier["port2"]);
        var history = (await _lab.Units["DC2_VM1"].CliAsync("diagnose sys ha history read")).Output;
        Assert.Contains("port2", history);
        // The DC router's probes of 192.168.129.254 are answered by the new primary: cluster 1 stays in the ECMP route.
        await LoopbackLab.Eventually(() => Task.FromResult(_lab.Net!.DcRouter.Routes.Single(r => r.NextHops.Count == 2)
                .NextHops.Single(n => n.Address.ToString() == "192.168.129.254").Alive),
            TimeSpan.FromSeconds(5), "the router keeps cluster 1's next hop alive");
    }
}
