using Akka.Actor;
using Akka.Cluster;
using ClusterActors.Actors.Ipsec;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// A unit that returns (kill -9, then started again) inside the uptime margin: the pure rules for what it may send and
/// claim, and to whom an owner pushes its SAs (chaos seed 1, runs 13, 20, 21, 39, 71, 81, 85).
/// </summary>
public sealed class ReturningUnitSpec
{
    private const string Vm1 = "FGVM02TM22000001", Vm2 = "FGVM02TM22000002";

    /// <summary>record owner, written by this incarnation, deleted, this unit (VM1) primary → inherited, claimed.</summary>
    public static TheoryData<string, bool, bool, bool, bool, bool> Rows => new()
    {
        { Vm1, false, false, true, true, true },    // a restarted VM1 learns its old incarnation owned it: jump, and re-claim as primary
        { Vm1, false, false, false, true, false },  // … as secondary: jump only; its primary (or VM1 once primary) claims it
        { Vm1, true, false, true, false, false },   // VM1 wrote it itself (same incarnation): it owns it, nothing to claim
        { Vm2, false, false, true, false, true },   // the ordinary FGCP takeover: another unit of the cluster owns it
        { Vm2, false, false, false, false, false }, // … not while secondary
        { Vm1, false, true, true, false, false },   // deleted: nothing to own
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void A_record_naming_this_unit_that_this_incarnation_did_not_write_is_held_jumped_and_claimed_when_primary(
        string owner, bool writtenHere, bool deleted, bool primary, bool inherited, bool claimed)
    {
        var r = TunnelOwnershipSpec.Record(owner: owner, group: 1) with { Deleted = deleted };
        Assert.Equal(inherited, TunnelOwnership.Inherited(r, Vm1, writtenHere));
        Assert.Equal(claimed, primary && TunnelOwnership.ClaimedByPrimary(r, Vm1, 1, writtenHere));
    }

    [Fact]
    public void A_tunnel_of_another_FGCP_cluster_is_never_claimed_by_this_clusters_primary()
    {
        var r = TunnelOwnershipSpec.Record(owner: Vm1, group: 2);
        Assert.False(TunnelOwnership.ClaimedByPrimary(r, Vm1, 1, writtenByThisIncarnation: false));
        Assert.False(TunnelOwnership.ClaimedByPrimary(r with { OwnerSerial = "FGVM02TM22000003" }, Vm1, 1, false));
    }

    [Fact]
    public void The_re_claim_of_an_inherited_record_sends_from_the_synced_next_plus_the_jump()
    {
        var inherited = TunnelOwnershipSpec.Record(owner: Vm1, group: 1, generation: 1, nextSeq: 0x4000);
        var claim = TunnelOwnership.Claim(inherited, Vm1, 1);
        Assert.Equal(2, claim.Generation);
        Assert.Equal(0x4000u + TunnelOwnership.SequenceJump, claim.NextOutboundSeq);
        Assert.True(TunnelOwnership.Compare(claim, inherited) > 0);
    }

    private static UniqueAddress Incarnation(int port, int uid) => new(new Address("akka.tcp", "seed", "127.0.0.1", port), uid);

    [Fact]
    public void A_restarted_unit_on_the_same_address_is_a_new_peer_and_the_old_incarnations_removal_keeps_it()
    {
        var peers = new SyncPeers();
        var old = Incarnation(25521, 1);
        var restarted = Incarnation(25521, 2);

        Assert.True(peers.Arrived(old));
        Assert.False(peers.Arrived(old));             // the same incarnation again (WeaklyUp then Up): no second push
        Assert.True(peers.Arrived(restarted));        // same address, new uid, old one not removed yet: push everything
        Assert.Equal([old.Address], peers.Targets);   // one push per address

        peers.Removed(old);                           // the killed incarnation leaves the cluster
        Assert.True(peers.Knows(restarted));
        Assert.Equal([restarted.Address], peers.Targets); // its syncs still go to the restarted unit

        peers.Removed(restarted);
        Assert.Empty(peers.Targets);
    }
}
