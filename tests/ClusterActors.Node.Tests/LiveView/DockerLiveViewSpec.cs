using ClusterActors.Node.DockerLab;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.LiveView;
using ClusterActors.Node.Tests.Drills;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.LiveView;

/// <summary>
/// `clusteractors lab view --mode docker` (issue 14 item 6 on the container lab): the hub brings the seed's container lab
/// up, dials CLIENT1 and sends PC1's echoes, and its snapshots show each unit's FGCP role, tunnel roles, the DC router's
/// next hops and the forwarding rate, read over the units' admin endpoints; fgcp-failover from the drill button runs on a
/// fresh container lab and the events show the kill, the peer's promotion and the tunnel's move. The page and its
/// stream are the embedded view's (LiveViewLabSpec, LiveViewServerSpec): the same hub feeds them.
/// </summary>
[Trait("Lab", "docker")]
[Collection(DockerLabCollection.Name)]
public sealed class DockerLiveViewSpec(ITestOutputHelper output)
{
    [Fact]
    public async Task The_container_lab_shows_roles_tunnels_and_traffic_and_a_drill_moves_the_tunnel_on_the_view()
    {
        await DockerLabSpecs.Prepare();
        var reports = Directory.CreateTempSubdirectory("clusteractors-docker-live-view-").FullName;
        var hub = new LiveViewHub(Scenarios.Topology("seed"), rate: 100, reportsDir: reports, mode: "docker");
        try
        {
            hub.Start();
            await hub.Started.WaitAsync(TimeSpan.FromMinutes(3));
            await LoopbackLab.Eventually(() => Task.FromResult(hub.Snapshot is { Lab: "up" } s
                                                               && s.Units.Single(u => u.Unit == "DC2_VM1") is { Ha: "primary", Pps: > 0 } vm1
                                                               && vm1.Tunnels!.SequenceEqual([new TunnelLive("vpn1_1", "sync-primary")])),
                TimeSpan.FromSeconds(30), "DC2_VM1 primary, owning vpn1_1 and forwarding PC1's echoes, on the view");
            var up = hub.Snapshot!;
            Assert.Equal("secondary", up.Units.Single(u => u.Unit == "DC2_VM2").Ha);
            Assert.All(up.Units.Where(u => u.Unit != "DC2_VM1"), u => Assert.Equal([new TunnelLive("vpn1_1", "standby")], u.Tunnels!));
            Assert.Equal(2, up.NextHops.Count);
            Assert.All(up.NextHops, h => Assert.True(h.Alive));

            var from = hub.History.Count == 0 ? 0 : hub.History[^1].Seq + 1;
            Assert.Equal(LiveViewHub.DrillStart.Started, hub.StartDrill("fgcp-failover", out var why));
            await hub.DrillDone.WaitAsync(TimeSpan.FromMinutes(4));
            await LoopbackLab.Eventually(() => Task.FromResult(hub.Snapshot is { Lab: "up" } s && s.Units.Single(u => u.Unit == "DC2_VM2").Ha == "primary"
                                                               && s.Units.Single(u => u.Unit == "DC2_VM2").Tunnels is [{ Role: "sync-primary" }]),
                TimeSpan.FromSeconds(30), "DC2_VM2 primary and owner on the view after the drill");
            var events = hub.History.Where(e => e.Seq >= from).ToList();
            output.WriteLine(string.Join("\n", events.Select(e => $"{e.Kind} {e.Unit} {e.Text}")));
            var kill = Assert.Single(events, e => e is { Kind: "fault", Text: "kill -9 DC2_VM1" });
            var promoted = events.Last(e => e is { Kind: "role", Unit: "DC2_VM2" });
            Assert.Equal("DC2_VM2: secondary → primary", promoted.Text);
            var moved = events.Last(e => e.Kind == "tunnel");
            Assert.Equal("DC2_VM2", moved.Owner);
            Assert.True(kill.Seq < promoted.Seq && kill.Seq < moved.Seq);
            Assert.Contains(events, e => e.Kind == "drill" && e.Text == "fgcp-failover: PASS");
        }
        finally
        {
            await hub.DisposeAsync();
            Directory.Delete(reports, true);
        }
    }
}
