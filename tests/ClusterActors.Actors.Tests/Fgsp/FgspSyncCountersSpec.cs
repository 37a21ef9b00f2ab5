using ClusterActors.Actors.Fgsp;
using ClusterActors.Protocol.Fgsp;

namespace ClusterActors.Actors.Tests.Fgsp;

/// <summary>The `session-type` counters of a peer line: SA sync with the units of that peer member, nothing else.</summary>
public sealed class FgspSyncCountersSpec
{
    /// <summary>A unit of an FGCP-over-FGSP member: its group-member-id and FGCP group-id are the member's number.</summary>
    private static FgspAnnouncement Unit(string serial, int member, string akka) =>
        new(serial, serial, 2, member, member, "172.31.2." + member, true, akka + "/user/fortigate/fgsp", akka, 1);

    /// <summary>A standalone unit (no FGCP): group-id 0, as every one of Fortinet's four.</summary>
    private static FgspAnnouncement Standalone(string serial, int member, string akka) =>
        new(serial, serial, 2, member, 0, "172.31.1." + member, true, akka + "/user/fortigate/fgsp", akka, 1);

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

        var counters = FgspPeering.SyncByPeerMember(1, known, byAddress);

        Assert.Equal(new FgspSyncCounters(7, 3), counters[2]);
        Assert.False(counters.ContainsKey(1));
    }

    [Fact]
    public void Standalone_peers_all_with_group_id_0_are_counted_each_as_a_member_of_its_own()
    {
        var known = new[]
        {
            Standalone("DC1_VM1", 1, "akka.tcp://a@h:1"), Standalone("DC1_VM2", 2, "akka.tcp://a@h:2"),
            Standalone("DC1_VM3", 3, "akka.tcp://a@h:3"), Standalone("DC1_VM4", 4, "akka.tcp://a@h:4"),
        };
        var byAddress = new Dictionary<string, (long Sent, long Received)>
        {
            ["akka.tcp://a@h:2"] = (5, 4),
            ["akka.tcp://a@h:3"] = (3, 1),
        };

        var counters = FgspPeering.SyncByPeerMember(1, known, byAddress);

        Assert.Equal(new FgspSyncCounters(5, 4), counters[2]);
        Assert.Equal(new FgspSyncCounters(3, 1), counters[3]);
        Assert.Equal(FgspSyncCounters.Zero, counters[4]);
        Assert.False(counters.ContainsKey(1));
    }

    [Fact]
    public void A_peer_cluster_never_synced_with_counts_zero()
    {
        var counters = FgspPeering.SyncByPeerMember(1, [Unit("VM3", 2, "akka.tcp://a@h:3")], new Dictionary<string, (long, long)>());
        Assert.Equal(FgspSyncCounters.Zero, counters[2]);
    }
}
