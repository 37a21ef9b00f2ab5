using ClusterActors.Actors.Fgsp;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgsp;

namespace ClusterActors.Actors.Tests.Fgsp;

/// <summary>
/// Which unit answers each configured peerip: FGCP clusters (the seed) leave their own cluster out by group-id;
/// standalone units (fgsp-standalone, every one with the default group-id 0) leave out only themselves.
/// </summary>
public sealed class FgspPeeringSpec
{
    private static FgspAnnouncement Unit(string serial, int fgcpGroup, string fgspAddress, bool primary = true) =>
        new(serial, serial, 1, 0, fgcpGroup, fgspAddress, primary, $"akka.tcp://fortigate@{serial}:2552/user/fortigate/fgsp", $"akka.tcp://fortigate@{serial}:2552", 1);

    private static StandaloneClusterConfig Peers(params string[] peerIps) =>
        new(1, 1, peerIps.Select((ip, i) => new ClusterPeer(i + 1, ip, "root", [], [], 2, 10, true, false)).ToList(), "", [], false, null);

    private static HashSet<string> Live(params FgspAnnouncement[] units) => units.Select(u => u.AkkaAddress).ToHashSet();

    [Fact]
    public void Four_standalone_units_with_group_id_0_detect_each_other()
    {
        var units = new[] { Unit("VM1", 0, "172.31.1.1"), Unit("VM2", 0, "172.31.1.2"), Unit("VM3", 0, "172.31.1.3"), Unit("VM4", 0, "172.31.1.4") };

        var peers = FgspPeering.Detect(Peers("172.31.1.2", "172.31.1.3", "172.31.1.4"), ownFgcpGroup: null, units, Live(units), ownSerial: "VM1");

        Assert.Equal(["VM2", "VM3", "VM4"], peers.Select(p => p.Unit?.Serial));
    }

    [Fact]
    public void A_standalone_unit_is_never_its_own_peer()
    {
        var me = Unit("VM1", 0, "172.31.1.1");

        var peers = FgspPeering.Detect(Peers("172.31.1.1"), ownFgcpGroup: null, [me], Live(me), ownSerial: "VM1");

        Assert.Null(Assert.Single(peers).Unit);
    }

    [Fact]
    public void An_fgcp_unit_leaves_its_own_cluster_out_and_takes_the_other_clusters_primary()
    {
        // The seed: cluster 1 (VM1 primary, VM2) and cluster 2 (VM3 primary, VM4) share their FGSP addresses per cluster.
        var units = new[]
        {
            Unit("VM1", 1, "172.31.2.1"), Unit("VM2", 1, "172.31.2.1", primary: false),
            Unit("VM3", 2, "172.31.2.2"), Unit("VM4", 2, "172.31.2.2", primary: false),
        };

        var peers = FgspPeering.Detect(Peers("172.31.2.2", "172.31.2.1"), ownFgcpGroup: 1, units, Live(units), ownSerial: "VM1");

        Assert.Equal(["VM3", null], peers.Select(p => p.Unit?.Serial));
    }

    [Fact]
    public void A_standalone_peer_that_left_the_akka_cluster_is_not_detected()
    {
        var vm1 = Unit("VM1", 0, "172.31.1.1");
        var vm2 = Unit("VM2", 0, "172.31.1.2");

        var peers = FgspPeering.Detect(Peers("172.31.1.2"), ownFgcpGroup: null, [vm1, vm2], Live(vm1), ownSerial: "VM1");

        Assert.Null(Assert.Single(peers).Unit);
    }
}
