using System.Diagnostics;
using System.Text.RegularExpressions;
using Akka.Actor;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Fgcp;
using Xunit.Abstractions;

namespace ClusterActors.MultiNode.Tests;

/// <summary>
/// Repeated failovers keep flowing (issue 10, point 6): each takeover jumps the outbound ESP sequence by 2^28, so one
/// CHILD SA survives only ~16 moves. Two FGSP clusters of one unit each (DC2_VM1, DC2_VM3), PC1's echoes at 200 pps,
/// and the DC router moving CLIENT1 between them 50 times (DC2_VM1's port2 cable pulled and plugged back: the router
/// withdraws and restores cluster 1, and the unit that now receives the client's ESP takes the tunnel over). The owner
/// rekeys the CHILD SA before the jumps run out (src/Actors/Ipsec/README.md), so every move is answered and the
/// client never drops a packet as a replay.
/// </summary>
[Collection("multi-node")]
public sealed class RepeatedFailoverSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Change = "config system ha\nset hb-lost-threshold 6\nset hello-holddown 5\nend";
    private const int Moves = 50;
    private const int Rate = 200;
    private readonly LoopbackLab _lab = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private async Task<string> TunnelList(string unit) => (await _lab.Units[unit].CliAsync("diagnose vpn tunnel list")).Output;

    private async Task<TunnelDrops> Drops(string unit) =>
        await _lab.Units[unit].System.ActorSelection("/user/fortigate/phase1-vpn1/*").Ask<TunnelDrops>(GetTunnelDrops.Instance, TimeSpan.FromSeconds(5));

    [Fact]
    public async Task Fifty_back_and_forth_ownership_moves_of_one_tunnel_under_traffic_keep_PC1s_echoes_answered()
    {
        _lab.Define([("DC2_VM1", LoopbackLab.ScenarioConfig("DC2_VM1", Change)), ("DC2_VM3", LoopbackLab.ScenarioConfig("DC2_VM3", Change))]);
        // A quick router (20 ms × 2 misses): each FGSP cluster is one unit, no FGCP failover inside it to outlast.
        var probe = new ProbeOptions(TimeSpan.FromMilliseconds(20), 2);
        _lab.UsePacketFabric(new ScenarioFabricOptions { Probe = probe });
        await _lab.Start("DC2_VM1");
        await _lab.Start("DC2_VM3");
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && await _lab.IsRole("DC2_VM3", HaRole.Primary)
                                                 && _lab.AkkaMembersUp("DC2_VM1") == 2 && _lab.AkkaMembersUp("DC2_VM3") == 2,
            TimeSpan.FromSeconds(30), "two FGSP clusters of one unit each, one Akka cluster");
        var client = await _lab.DialOverFabric();
        await LoopbackLab.Eventually(async () => (await TunnelList("DC2_VM1")).Contains("role=sync-primary") && (await TunnelList("DC2_VM3")).Contains("role=standby"),
            TimeSpan.FromSeconds(5), "CLIENT1 on cluster 1: DC2_VM1 owns vpn1_1, DC2_VM3 holds it as standby");

        var run = _lab.Pc1!.Start(new EchoRunOptions { RatePps = Rate, Duration = TimeSpan.FromMinutes(5) });
        var gaps = new List<double>();
        try
        {
            await LoopbackLab.Eventually(() => Task.FromResult(run.Answered >= Rate / 4), TimeSpan.FromSeconds(5), "echoes answered through DC2_VM1");
            for (var move = 1; move <= Moves; move++)
            {
                // Odd moves: cluster 1 withdrawn, DC2_VM3 takes the tunnel; even moves: cluster 1 back, DC2_VM1 takes it back.
                var (owner, standby) = move % 2 == 1 ? ("DC2_VM3", "DC2_VM1") : ("DC2_VM1", "DC2_VM3");
                var sw = Stopwatch.StartNew();
                _lab.SetCable("DC2_VM1", "port2", plugged: move % 2 == 0);
                await LoopbackLab.Eventually(async () => (await TunnelList(owner)).Contains("role=sync-primary"), TimeSpan.FromSeconds(5),
                    $"move {move}: {owner} takes vpn1_1 over");
                var answered = run.Answered;
                await LoopbackLab.Eventually(() => Task.FromResult(run.Answered - answered >= Rate / 10), TimeSpan.FromSeconds(5),
                    $"move {move}: PC1's echoes answered through {owner} (client: {client.Counters})");
                gaps.Add(sw.Elapsed.TotalMilliseconds);
                var list = await TunnelList(owner);
                output.WriteLine($"move {move,2}: {owner} owns vpn1_1 after {sw.Elapsed.TotalMilliseconds:0} ms; " +
                                 $"{Regex.Match(list, @"enc: spi=\w+").Value} {Regex.Match(list, @"seqno=\w+ esn").Value}; client rekeys {client.Counters.ChildSaRekeys}");
                Assert.Contains("role=standby", await TunnelList(standby));
            }
        }
        finally
        {
            run.Stop();
        }
        var report = await run.Completion;
        output.WriteLine($"{Moves} moves: {report.Format()}");
        output.WriteLine($"client: {client.Counters}");
        gaps.Sort();
        output.WriteLine($"move to answered echoes: p50 {gaps[gaps.Count / 2]:0} ms, max {gaps[^1]:0} ms");

        // 50 jumps of 2^28 are 3 × 2^32: without rekeys the SA would have been used up three times over.
        Assert.True(client.Counters.ChildSaRekeys >= 3, $"the owners rekeyed the CHILD SA at least 3 times: {client.Counters}");
        Assert.Equal(0, client.Counters.AntiReplayDrops);
        Assert.Equal(0, client.Counters.IcvFailures);
        long released = 0, timedOut = 0;
        foreach (var unit in new[] { "DC2_VM1", "DC2_VM3" })
        {
            var drops = await Drops(unit);
            Assert.Equal(0, drops.SequenceExhausted); // the rekey always came before the numbers ran out
            Assert.Equal(0, drops.ClaimHoldOverflow);
            (released, timedOut) = (released + drops.ClaimHoldsReleased, timedOut + drops.ClaimHoldsTimedOut);
        }
        // Every move is a traffic claim from a unit that is alive: its replies waited for that unit's release, which
        // comes over Akka in milliseconds (README "The hand-off of a traffic claim"). A loaded machine may let a few
        // waits run out; without the release every one would.
        output.WriteLine($"traffic claims' holds: {released} ended by the previous owner's release, {timedOut} by the wait");
        Assert.True(released >= Moves * 3 / 4, $"holds ended by the previous owner's release: {released} of {Moves} moves ({timedOut} by the wait)");
        Assert.True(report.Answered > 0 && report.Sent - report.Answered == report.Lost);

        // After the last move the tunnel carries traffic as on the first day.
        var after = await _lab.Pc1!.RunAsync(new EchoRunOptions { RatePps = Rate, Duration = TimeSpan.FromSeconds(1) });
        output.WriteLine($"after: {after.Format()}");
        Assert.True(after.Lost <= 2, after.Format());
    }
}
