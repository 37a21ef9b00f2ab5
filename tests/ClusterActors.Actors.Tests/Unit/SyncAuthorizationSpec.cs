using Akka.Actor;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Unit;
using ClusterActors.Actors.Tests.Ipsec;
using ClusterActors.Protocol.Ipsec;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Actors.Tests.Unit;

/// <summary>Who may send what between units (SyncAuthorization), on synthetic records and serials, no actor system.</summary>
public sealed class SyncAuthorizationSpec
{
    private const string Vm1 = "FGVM02TM22000001", Vm2 = "FGVM02TM22000002", Vm3 = "FGVM02TM22000003";

    private static TunnelRecord Owned(string owner, long generation = 3)
    {
        var r = TunnelOwnershipSpec.Record(owner, generation: generation);
        return r with { Key = TunnelRecord.KeyOf(r.Phase1, r.Ike.SpiI, r.Ike.SpiR) };
    }

    [Fact]
    public void The_owner_may_sync_and_delete_its_own_tunnel()
    {
        var known = Owned(Vm1);
        Assert.Null(SyncAuthorization.TunnelRecord(known with { SyncSeq = 9 }, known, Vm1));
        Assert.Null(SyncAuthorization.TunnelRecord(known with { Deleted = true, SyncSeq = 9 }, known, Vm1));
        Assert.Null(SyncAuthorization.TunnelRecord(known, null, Vm1));
    }

    [Fact]
    public void A_claim_by_the_ownership_rule_is_accepted_from_the_claimer()
    {
        var known = Owned(Vm1);
        Assert.Null(SyncAuthorization.TunnelRecord(TunnelOwnership.Claim(known, Vm3, 2), known, Vm3));
    }

    [Fact]
    public void A_claim_and_a_rekey_that_crossed_it_are_both_accepted_for_the_merge_to_graft()
    {
        // TunnelOwnership.Merge (src/Actors/Ipsec/README.md, "A rekey and a claim at once"): Vm1, the owner at
        // generation 3, rekeyed the CHILD SA while Vm3 claimed at 4 from the old one. Whichever arrives first, the
        // other must still reach Merge, or the units that saw the rekey first never learn of the claim (two owners) and
        // those that saw the claim first keep the deleted CHILD SA (a dead tunnel).
        var known = Owned(Vm1);
        var rekey = known with { ProxyIdSerial = known.ProxyIdSerial + 1, Child = known.Child with { InboundSpi = 0x0c0ffee1, OutboundSpi = 0x0c0ffee2 }, SyncSeq = 9 };
        var claim = TunnelOwnership.Claim(known, Vm3, 2);
        Assert.Null(SyncAuthorization.TunnelRecord(claim, rekey, Vm3));
        Assert.Null(SyncAuthorization.TunnelRecord(rekey, claim, Vm1));
    }

    [Theory]
    [InlineData("claim bringing a newer CHILD SA")]
    [InlineData("lower generation with an older CHILD SA")]
    [InlineData("lower generation with another IKE SA")]
    public void Neither_a_claim_nor_a_crossed_rekey_may_bring_what_the_rule_does_not_allow(string attack)
    {
        var known = Owned(Vm1);
        var claim = TunnelOwnership.Claim(known, Vm3, 2);
        var (record, against, sender) = attack switch
        {
            "claim bringing a newer CHILD SA" => (claim with { ProxyIdSerial = known.ProxyIdSerial + 1, Child = claim.Child with { OutboundSpi = 0xdeadbeef } }, known, Vm3),
            "lower generation with an older CHILD SA" => (known with { ProxyIdSerial = known.ProxyIdSerial - 1, Child = known.Child with { OutboundSpi = 0xdeadbeef } }, claim, Vm1),
            _ => (known with { ProxyIdSerial = known.ProxyIdSerial + 1, Ike = known.Ike with { SpiR = 0x99 }, Child = known.Child with { OutboundSpi = 0xdeadbeef } }, claim, Vm1),
        };
        Assert.NotNull(SyncAuthorization.TunnelRecord(record, against, sender));
    }

    [Theory]
    [InlineData("forged owner")]
    [InlineData("claim and delete")]
    [InlineData("claim of a lower generation")]
    [InlineData("claim with other SAs")]
    [InlineData("crossed claim with other SAs")]
    [InlineData("unauthenticated")]
    [InlineData("key of another SA")]
    public void A_unit_cannot_overwrite_or_delete_a_tunnel_it_does_not_own(string attack)
    {
        var known = Owned(Vm1);
        var claim = TunnelOwnership.Claim(known, Vm3, 2);
        var (record, sender) = attack switch
        {
            "forged owner" => (known with { Deleted = true, Generation = 99 }, Vm3),
            "claim and delete" => (claim with { Deleted = true }, Vm3),
            "claim of a lower generation" => (claim with { Generation = known.Generation - 1 }, Vm3),
            "crossed claim with other SAs" => (claim with { Generation = known.Generation, Child = claim.Child with { OutboundSpi = 0xdeadbeef } }, Vm3),
            "claim with other SAs" => (claim with { Child = claim.Child with { OutboundSpi = 0xdeadbeef } }, Vm3),
            "unauthenticated" => (known with { SyncSeq = 9 }, null),
            _ => (known with { Key = "vpn1/0000000000000009/0000000000000002", Deleted = true }, Vm1),
        };
        Assert.NotNull(SyncAuthorization.TunnelRecord(record, known, sender));
    }

    /// <summary>
    /// Two claims from one record crossed: DC2_VM2 claimed vpn1_1 from DC2_VM1's record as its cluster's new primary,
    /// DC2_VM3 claimed it by traffic from the same record before DC2_VM2's claim reached it. Both carry the same
    /// generation. Every unit (the two claimers and a third that holds the tunnel as standby), whichever record it held
    /// and in whichever order the others arrive, ends with the same one: one owner. Before, each claimer refused the
    /// other's ("without a higher generation") and both listed the tunnel as sync-primary for good.
    /// </summary>
    [Theory]
    [InlineData(0, 4)] // DC2_VM3's claim has synced more: it wins everywhere
    [InlineData(6, 2)] // DC2_VM2's has: DC2_VM3 steps down (and claims again on the client's next packet)
    [InlineData(3, 3)] // as many syncs: the higher serial, DC2_VM3
    public void Claims_that_crossed_from_one_record_settle_on_the_same_owner_on_every_unit(long vm2Syncs, long vm3Syncs)
    {
        var base1 = Owned(Vm1);
        var byVm2 = TunnelOwnership.Claim(base1, Vm2, 1) with { SyncSeq = vm2Syncs };
        var byVm3 = TunnelOwnership.Claim(base1, Vm3, 2) with { SyncSeq = vm3Syncs };
        var winner = TunnelOwnership.Winner(byVm2, byVm3);

        // A unit applies what its sender may send (SyncAuthorization), then keeps the merge (IpsecPhase1Actor.Apply).
        static TunnelRecord Receive(TunnelRecord held, TunnelRecord incoming) =>
            SyncAuthorization.TunnelRecord(incoming, held, incoming.OwnerSerial) is null ? TunnelOwnership.Merge(held, incoming) : held;

        Assert.Equal(winner, Receive(byVm2, byVm3)); // at DC2_VM2
        Assert.Equal(winner, Receive(byVm3, byVm2)); // at DC2_VM3
        Assert.Equal(winner, Receive(Receive(base1, byVm2), byVm3)); // at DC2_VM4, either order
        Assert.Equal(winner, Receive(Receive(base1, byVm3), byVm2));
        // The loser's next claim (traffic still reaching it) is one generation on, and wins everywhere.
        var loser = winner == byVm2 ? byVm3 : byVm2;
        var again = TunnelOwnership.Claim(winner, loser.OwnerSerial, loser.OwnerFgcpGroup);
        Assert.Equal(again, Receive(winner, again));
    }

    [Fact]
    public void Config_sync_only_from_the_own_clusters_primary_to_a_secondary()
    {
        Assert.Null(SyncAuthorization.ConfigSync(Vm1, receiverIsSecondary: true, ownPrimarySerial: Vm1));
        Assert.NotNull(SyncAuthorization.ConfigSync(Vm3, true, Vm1));
        Assert.NotNull(SyncAuthorization.ConfigSync(null, true, Vm1));
        Assert.NotNull(SyncAuthorization.ConfigSync(Vm1, receiverIsSecondary: false, Vm1));
        Assert.NotNull(SyncAuthorization.ConfigSync(Vm1, true, null));
    }

    [Fact]
    public void Forwarded_changes_only_from_members_of_the_primarys_cluster()
    {
        Assert.Null(SyncAuthorization.ForwardedChange(Vm2, receiverIsPrimary: true, [Vm2]));
        Assert.NotNull(SyncAuthorization.ForwardedChange(Vm3, true, [Vm2]));
        Assert.NotNull(SyncAuthorization.ForwardedChange(null, true, [Vm2]));
        Assert.NotNull(SyncAuthorization.ForwardedChange(Vm2, receiverIsPrimary: false, [Vm2]));
    }

    [Fact]
    public void Refusals_are_counted_each_and_logged_once_per_sender_a_minute()
    {
        var time = new FakeTimeProvider();
        var refusals = new SyncRefusals(time);
        Assert.True(refusals.Refused("tunnel-record", Vm3, out _));
        Assert.False(refusals.Refused("tunnel-record", Vm3, out _));
        Assert.True(refusals.Refused("tunnel-record", Vm2, out _)); // another sender: its own first line
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.True(refusals.Refused("tunnel-record", Vm3, out var suppressed));
        Assert.Equal(1, suppressed);
        Assert.Equal(4, refusals.Count("tunnel-record"));
    }

    [Fact]
    public void Identities_come_from_certificates_and_an_address_claimed_by_two_units_is_trusted_for_neither()
    {
        var ids = new UnitIdentities(enforcing: true);
        var a = new Address("akka.ssl.tcp", "fortigate", "127.0.0.1", 2552);
        Assert.Null(ids.SerialOf(a));
        Assert.True(ids.Bind(a, new UnitIdentity("DC2_VM1", Vm1)));
        Assert.Equal(Vm1, ids.SerialOf(a));
        Assert.Equal("127.0.0.1:2552", ids.AddressOf(Vm1));
        Assert.True(ids.Bind(a, new UnitIdentity("DC2_VM1", Vm1))); // the same unit again (a new connection)
        Assert.False(ids.Bind(a, new UnitIdentity("DC2_VM3", Vm3)));
        Assert.Null(ids.SerialOf(a));
        Assert.Null(ids.AddressOf(Vm1));
        // Only contacts and addresses a lab certificate was proved on are ever dialled.
        var elsewhere = new Address("akka.ssl.tcp", "fortigate", "10.9.9.9", 2552);
        Assert.False(ids.MayDial(elsewhere));
        ids.AllowDial("10.9.9.9:2552");
        Assert.True(ids.MayDial(elsewhere));
        Assert.True(new UnitIdentities(enforcing: false).MayDial(new Address("akka.tcp", "x", "10.8.8.8", 1)));
        // Enforcing, what a message says about its sender counts for nothing; only --insecure-akka takes it.
        Assert.Null(ids.Attribute((Address?)null, Vm1));
        Assert.Equal(Vm1, new UnitIdentities(enforcing: false).Attribute((Address?)null, Vm1));
    }
}
