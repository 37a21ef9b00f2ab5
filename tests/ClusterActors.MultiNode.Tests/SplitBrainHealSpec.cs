using Akka.Actor;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Scenario;
using ClusterActors.Protocol.Fgcp;
using Xunit.Abstractions;

namespace ClusterActors.MultiNode.Tests;

/// <summary>
/// Cluster 1's two real units (FortiGateUnit with FGCP and forwarding, Akka remoting between them) on the in-memory
/// fabric: DC2_VM2's heartbeat cable is pulled (split brain: both primary, DC2_VM2 announces the cluster's addresses
/// last), then plugged back. DC2_VM1 stays primary through the renegotiation and must announce its addresses again on
/// its ports, or a real neighbour's ARP cache keeps pointing at DC2_VM2 (the container lab's heartbeat-cut drill).
/// The fabric alone would hide the gap (it hands a withdrawn address to the other answering port), so the spec counts
/// the announcements on DC2_VM1's port2 cable.
/// </summary>
[Collection("multi-node")]
public sealed class SplitBrainHealSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly LoopbackLab _lab = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private CableState Port2(string unit) => _lab.Net!.Fabric.Wiring.Single(w => w.Host == unit && w.Interface == "port2");

    private Task Heartbeat(string unit, bool up) =>
        _lab.Units[unit].Unit.Ask<Akka.Done>(new SetLinkState("port4", up), TimeSpan.FromSeconds(5));

    [Fact]
    public async Task After_a_healed_split_brain_the_unit_that_stays_primary_announces_its_addresses_again()
    {
        _lab.Define([
            // DC2_VM1 primary by its shipped priority 200.
            ("DC2_VM1", LoopbackLab.ScenarioConfig("DC2_VM1", EmbeddedScenarioDriver.FastTimers)),
            ("DC2_VM2", LoopbackLab.ScenarioConfig("DC2_VM2", EmbeddedScenarioDriver.FastTimers)),
        ]);
        _lab.UsePacketFabric();
        await _lab.Start("DC2_VM1");
        await _lab.Start("DC2_VM2");
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && (await _lab.Status("DC2_VM2")).Members.Count == 2,
            TimeSpan.FromSeconds(30), "cluster 1 formed with DC2_VM1 primary");
        await LoopbackLab.Eventually(() => Task.FromResult(Port2("DC2_VM1").Answering && !Port2("DC2_VM2").Answering), TimeSpan.FromSeconds(5),
            "only the primary answers on port2");

        await Heartbeat("DC2_VM2", up: false);
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM2", HaRole.Primary) && Port2("DC2_VM2").Answering,
            TimeSpan.FromSeconds(10), "split brain: DC2_VM2 primary too and answering on port2");
        Assert.True(await _lab.IsRole("DC2_VM1", HaRole.Primary));
        // A lost member is no reason to announce: DC2_VM1's count stays put while the split lasts.
        var split = Port2("DC2_VM1").Announcements;
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(split, Port2("DC2_VM1").Announcements);

        await Heartbeat("DC2_VM2", up: true);
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM2", HaRole.Secondary) && !Port2("DC2_VM2").Answering,
            TimeSpan.FromSeconds(10), "after the heal DC2_VM2 is secondary and silent");
        await LoopbackLab.Eventually(() => Task.FromResult(Port2("DC2_VM1").Announcements > split), TimeSpan.FromSeconds(5),
            "DC2_VM1, primary throughout, announced its addresses on port2 again after the heal");
        Assert.True(await _lab.IsRole("DC2_VM1", HaRole.Primary));
        Assert.True(Port2("DC2_VM1").Answering);
        output.WriteLine($"DC2_VM1 port2 announcements: {split} during the split, {Port2("DC2_VM1").Announcements} after the heal");
    }
}
