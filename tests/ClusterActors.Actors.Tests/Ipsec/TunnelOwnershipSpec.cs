using System.Net;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Ipsec;
using TrafficSelector = ClusterActors.Protocol.Ike.TrafficSelector;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>The ownership rules on synthetic records, no actor system: takeover, sequence jump, double claims.</summary>
public sealed class TunnelOwnershipSpec
{
    internal static TunnelRecord Record(string owner = "FGVM02TM22000001", int group = 1, long generation = 1, long syncSeq = 1, uint nextSeq = 1)
    {
        var keys = new IkeSaKeys(new byte[20], new byte[20], new byte[20], new byte[16], new byte[16], new byte[20], new byte[20]);
        var child = new ChildSaKeys(0x37f426a1, 0x10aa4d3a, new byte[16], new byte[20], new byte[16], new byte[20]);
        var ike = new IkeSaState(1, 2, false, "aes128-sha1", 2, new byte[32], new byte[32], keys, 0, 2, 1, null,
            IPAddress.Parse("192.168.7.2"), "Nokia_Peer", "aes128-sha1", [child], null, 90000, 10800);
        return new TunnelRecord("vpn1/1/2", "vpn1", "vpn1_1", 1, owner, group, generation, syncSeq, ike, child, 1, nextSeq, 0,
            DateTimeOffset.UnixEpoch, 10800, IPAddress.Parse("192.168.202.35"), IPAddress.Parse("192.168.7.2"), 0,
            [TrafficSelector.FromCidr("10.10.1.0/24")], [TrafficSelector.Any], false);
    }

    [Fact]
    public void A_standby_jumps_the_outbound_sequence_by_2_to_the_28()
    {
        Assert.Equal(0x10000001u, TunnelOwnership.TakeoverSequence(Record(nextSeq: 1)));
        // The seed's DC2_VM3 after the FGSP move: base 0x120 synced from the previous owner.
        Assert.Equal(0x10000120u, TunnelOwnership.TakeoverSequence(Record(nextSeq: 0x120)));
        Assert.Equal(uint.MaxValue, TunnelOwnership.TakeoverSequence(Record(nextSeq: uint.MaxValue - 5)));
    }

    [Fact]
    public void A_claim_raises_the_generation_and_starts_from_the_jumped_sequence()
    {
        var standby = Record(generation: 3, syncSeq: 17, nextSeq: 0x20);
        var claimed = TunnelOwnership.Claim(standby, "FGVM02TM22000002", 1);
        Assert.Equal(("FGVM02TM22000002", 4L, 0L, 0x10000020u), (claimed.OwnerSerial, claimed.Generation, claimed.SyncSeq, claimed.NextOutboundSeq));
        Assert.Same(standby.Child, claimed.Child); // same SAs: a takeover reuses the synced keys
        Assert.Same(standby.Ike, claimed.Ike);
    }

    public static TheoryData<long, long, string, long, long, string, string> DoubleClaims => new()
    {
        // generation decides
        { 5, 0, "FGVM02TM22000001", 4, 99, "FGVM02TM22000003", "FGVM02TM22000001" },
        // then the sync sequence
        { 5, 7, "FGVM02TM22000001", 5, 8, "FGVM02TM22000003", "FGVM02TM22000003" },
        // then the higher serial
        { 5, 7, "FGVM02TM22000004", 5, 7, "FGVM02TM22000003", "FGVM02TM22000004" },
    };

    [Theory]
    [MemberData(nameof(DoubleClaims))]
    public void Two_owners_of_one_tunnel_resolve_to_one_whichever_is_seen_first(long genA, long seqA, string ownerA, long genB, long seqB, string ownerB, string winner)
    {
        var a = Record(ownerA, generation: genA, syncSeq: seqA);
        var b = Record(ownerB, generation: genB, syncSeq: seqB);
        Assert.Equal(winner, TunnelOwnership.Winner(a, b).OwnerSerial);
        Assert.Equal(winner, TunnelOwnership.Winner(b, a).OwnerSerial);
    }

    [Fact]
    public void The_replication_clock_orders_like_the_ownership_rule()
    {
        var records = new[] { Record(generation: 1, syncSeq: 9), Record(generation: 2, syncSeq: 0), Record(generation: 2, syncSeq: 3), Record(generation: 10, syncSeq: 1) };
        for (var i = 1; i < records.Length; i++)
        {
            Assert.True(TunnelOwnership.Clock(records[i]) > TunnelOwnership.Clock(records[i - 1]));
            Assert.True(TunnelOwnership.Compare(records[i], records[i - 1]) > 0);
        }
    }

    [Theory]
    [InlineData("FGVM02TM22000001", 1, "FGVM02TM22000002", 1, false, true)]   // FGCP failover inside cluster 1: taken over
    [InlineData("FGVM02TM22000003", 2, "FGVM02TM22000002", 1, false, false)]  // another FGSP cluster's tunnel: not ours to take
    [InlineData("FGVM02TM22000002", 1, "FGVM02TM22000002", 1, false, false)]  // already ours
    [InlineData("FGVM02TM22000001", 1, "FGVM02TM22000002", 1, true, false)]   // deleted
    public void FGCP_failover_takes_only_the_clusters_own_tunnels(string owner, int ownerGroup, string newPrimary, int group, bool deleted, bool expected)
    {
        var r = Record(owner, ownerGroup) with { Deleted = deleted };
        Assert.Equal(expected, TunnelOwnership.TakenOverOnFgcpFailover(r, newPrimary, group));
    }
}
