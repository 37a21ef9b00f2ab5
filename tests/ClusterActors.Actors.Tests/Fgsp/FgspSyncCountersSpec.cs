using ClusterActors.Actors.Fgsp;
using ClusterActors.Protocol.Fgsp;

namespace ClusterActors.Actors.Tests.Fgsp;

/// <summary>The `session-type` counters of a peer line: SA sync with the units of that peer cluster, nothing else.</summary>
public sealed class FgspSyncCountersSpec
{
    private static FgspAnnouncement Unit(string serial, int fgcpGroup, string akka) =>
        new(serial, serial, 2, fgcpGroup, fgcpGroup, "172.31.2." + fgcpGroup, true, akka + "/user/fortigate/fgsp", akka, 1);

    [Fact]
    public void Counts_are_summed_per_peer_cluster_and_the_own_cluster_is_left_out()
    {
        var known = new[]
        {
            Unit("VM1", 1, "akka.tcp://a@h:1"), Unit("VM2", 1, "akka.tcp://a@h:2"),
            Unit("VM3", 2, "akka.tcp://a@h:3"), Unit("VM4", 2, "akka.tcp://a@h:4"),
        };
        var byAddress = new Dictionary<string, (long Sent, long Received)>
        {
            ["akka.tcp://a@h:2"] = (7, 5), // own cluster: FGCP sync, not FGSP
            ["akka.tcp://a@h:3"] = (3, 1),
            ["akka.tcp://a@h:4"] = (4, 2),
            ["akka.tcp://a@h:9"] = (100, 100), // never announced: no cluster to put it in
        };

        var counters = FgspPeering.SyncByPeerCluster(1, known, byAddress);

        Assert.Equal(new FgspSyncCounters(7, 3), counters[2]);
        Assert.False(counters.ContainsKey(1));
    }

    [Fact]
    public void A_peer_cluster_never_synced_with_counts_zero()
    {
        var counters = FgspPeering.SyncByPeerCluster(1, [Unit("VM3", 2, "akka.tcp://a@h:3")], new Dictionary<string, (long, long)>());
        Assert.Equal(FgspSyncCounters.Zero, counters[2]);
    }
}
