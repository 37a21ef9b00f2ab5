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

    private const ulong Exhausted = TunnelOwnership.SequenceExhausted;

    /// <summary>synced next-seqno → where a unit taking the tunnel over sends from, and whether an owner there rekeys.</summary>
    public static TheoryData<uint, ulong, bool> Jumps => new()
    {
        { 1, 0x10000001, false },           // the seed: a fresh tunnel's standby prints seqno=10000001
        { 0x120, 0x10000120, false },       // the seed's DC2_VM3 after the FGSP move, base 0x120
        { 0xc0000001, 0xd0000001, false },  // 12 moves of an idle SA
        { 0xdfffffff, 0xefffffff, false },  // the last number from which two more jumps still fit
        { 0xe0000000, 0xf0000000, true },   // from here the owner rekeys the CHILD SA (14 moves of an idle SA)
        { 0xe0000001, 0xf0000001, true },   // a 15th move before the rekey finished: still sends, and rekeys
        { 0xeffffffe, 0xfffffffe, true },
        { 0xefffffff, Exhausted, true },    // the jump would end on 0xffffffff, which marks "used up" in a record
        { 0xf0000001, Exhausted, true },    // a 16th move: the jump does not fit, nothing is sent until the rekey
        { uint.MaxValue - 5, Exhausted, true },
        { uint.MaxValue, Exhausted, true }, // synced as used up
    };

    [Theory]
    [MemberData(nameof(Jumps))]
    public void A_standby_jumps_the_outbound_sequence_by_2_to_the_28_and_never_past_the_32_bit_space(uint synced, ulong takeover, bool rekeyDue)
    {
        Assert.Equal(takeover, TunnelOwnership.TakeoverSequence(Record(nextSeq: synced)));
        Assert.Equal(rekeyDue, TunnelOwnership.ChildRekeyDue(synced == uint.MaxValue ? Exhausted : synced));
        Assert.True(takeover > synced || takeover == Exhausted); // the client's window only ever sees numbers increase
        if (takeover != Exhausted) Assert.True(takeover - synced == TunnelOwnership.SequenceJump);
        Assert.Equal(takeover == Exhausted ? TunnelOwnership.ExhaustedInRecord : (uint)takeover, TunnelOwnership.InRecord(takeover));
    }

    [Fact]
    public void Sixteen_moves_of_an_idle_child_SA_use_it_up_and_with_the_rekey_rule_fifty_never_do()
    {
        // Without a rekey: each move adds 2^28, the 16th cannot jump (the "~16 ownership moves").
        var record = Record(nextSeq: 1);
        var moves = 0;
        while (TunnelOwnership.TakeoverSequence(record) != Exhausted)
        {
            record = TunnelOwnership.Claim(record, moves % 2 == 0 ? "FGVM02TM22000003" : "FGVM02TM22000001", moves % 2 == 0 ? 2 : 1);
            moves++;
        }
        Assert.Equal(15, moves);
        Assert.Equal(TunnelOwnership.ExhaustedInRecord, TunnelOwnership.Claim(record, "FGVM02TM22000003", 2).NextOutboundSeq);

        // With it: an owner whose next number is due rekeys (new SA from 1) before the next move; the margin is one move.
        record = Record(nextSeq: 1);
        var rekeys = 0;
        for (var move = 0; move < 50; move++)
        {
            record = TunnelOwnership.Claim(record, move % 2 == 0 ? "FGVM02TM22000003" : "FGVM02TM22000001", move % 2 == 0 ? 2 : 1);
            Assert.NotEqual(TunnelOwnership.ExhaustedInRecord, record.NextOutboundSeq);
            // a late rekey (done only after one more move) still finds numbers to send
            Assert.NotEqual(Exhausted, TunnelOwnership.TakeoverSequence(record));
            if (!TunnelOwnership.ChildRekeyDue(TunnelOwnership.OwnerSequence(record))) continue;
            record = record with { NextOutboundSeq = 1 };
            rekeys++;
        }
        Assert.Equal(3, rekeys); // moves 14, 28 and 42
    }

    /// <summary>An owner's next number before a stall → where it sends from once it runs again: two jumps on, used up when they do not fit.</summary>
    public static TheoryData<ulong, ulong> Stalls => new()
    {
        { 1, 0x20000001 },
        { 0x1e0, 0x200001e0 },              // chaos seed 1 run 1: DC2_VM1 frozen at 0x1e0, DC2_VM2 claimed from 0x10000001
        { 0xdfffffff, Exhausted },          // two jumps would end on 0xffffffff, which marks "used up" in a record
        { 0xdffffffe, 0xfffffffe },         // the last that fits
        { 0xe0000000, Exhausted },
        { Exhausted, Exhausted },
    };

    [Theory]
    [MemberData(nameof(Stalls))]
    public void An_owner_that_stalled_sends_two_jumps_on_past_a_takeover_made_meanwhile(ulong before, ulong after)
    {
        Assert.Equal(after, TunnelOwnership.AfterStall(before));
        // Above all a peer could have sent: it claimed from a synced number (≤ this owner's own) + 2^28 and sends < 2^28 before it rekeys.
        if (after != Exhausted) Assert.Equal(before + 2UL * TunnelOwnership.SequenceJump, after);
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

    internal const string Vm1 = "FGVM02TM22000001", Vm2 = "FGVM02TM22000002", Vm3 = "FGVM02TM22000003";

    /// <summary>
    /// A record as a row writes it: owner, generation, sync sequence, the CHILD SA's proxyid serial (each serial its own
    /// SPIs, +1 at every rekey), next outbound number, deleted.
    /// </summary>
    internal static TunnelRecord Row(string owner, long generation, long syncSeq, int proxyId, uint nextSeq, bool deleted = false)
    {
        var r = Record(owner, owner == Vm3 ? 2 : 1, generation, syncSeq, nextSeq);
        var child = r.Child with { InboundSpi = 0x37f42600u + (uint)proxyId, OutboundSpi = 0x10aa4d00u + (uint)proxyId };
        return r with
        {
            ProxyIdSerial = proxyId, Child = child, Ike = r.Ike with { Children = [child], NextRequestId = (uint)(1 + proxyId) },
            Deleted = deleted
        };
    }

    /// <summary>
    /// Held, arriving → kept: owner, generation, sync sequence, proxyid serial, next outbound number, and whether it is a
    /// graft of the two (a new record the unit writes). Every row holds in both orders of arrival (owner and CHILD SA).
    /// </summary>
    public static TheoryData<TunnelRecord, TunnelRecord, string, long, long, int, uint, bool> Merges => new()
    {
        // The race (README, "A rekey and a claim at once"): DC2_VM1 rekeyed at generation 5 (new CHILD SA, proxyid 2, next 1)
        // while DC2_VM2 claimed at 6 from the old SA. DC2_VM2 owns it, with the new SA, from the rekey's next number + 2^28.
        { Row(Vm1, 5, 8, 2, 1), Row(Vm2, 6, 0, 1, 0x10000400), Vm2, 6, 1, 2, 0x10000001, true },
        // ... also once the rekey's owner had synced sending on the new SA, and the claimer had synced its own sending.
        { Row(Vm1, 5, 9, 2, 0x300), Row(Vm2, 6, 3, 1, 0x10000900), Vm2, 6, 4, 2, 0x10000300, true },
        // ... and a client's rekey answered by an FGSP peer at 3 while DC2_VM3 claimed at 4.
        { Row(Vm1, 3, 2, 5, 0x40), Row(Vm3, 4, 0, 4, 0x20000000), Vm3, 4, 1, 5, 0x10000040, true },
        // Same generation, sync sequence and owner (a graft and the owner's own sync from the old SA): the newer SA, as is.
        { Row(Vm2, 6, 1, 2, 0x10000001), Row(Vm2, 6, 1, 1, 0x10000500), Vm2, 6, 1, 2, 0x10000001, false },
        // The rekey's owner re-claimed from the claim it held (old SA) after its rekey: its own rekey still comes back.
        { Row(Vm1, 5, 8, 2, 1), Row(Vm1, 7, 0, 1, 0x20000400), Vm1, 7, 1, 2, 0x10000001, true },
        // Nothing to graft: the newer generation already carries the newest SA (the claimer saw the rekey, or grafted)...
        { Row(Vm1, 5, 8, 2, 1), Row(Vm2, 6, 0, 2, 0x10000001), Vm2, 6, 0, 2, 0x10000001, false },
        // ... a stale sync of the old owner on the old SA...
        { Row(Vm1, 5, 9, 1, 0x500), Row(Vm2, 6, 0, 1, 0x10000400), Vm2, 6, 0, 1, 0x10000400, false },
        // ... the owner's own rekey after its claim, against the previous owner's record...
        { Row(Vm2, 6, 2, 2, 1), Row(Vm1, 5, 9, 1, 0x500), Vm2, 6, 2, 2, 1, false },
        // ... a plain double claim (the higher generation wins, SAs the same)...
        { Row(Vm1, 5, 0, 1, 0x10000001), Row(Vm3, 4, 7, 1, 0x20000001), Vm1, 5, 0, 1, 0x10000001, false },
        // ... and a deleted tunnel: deletion is not undone by an older rekey.
        { Row(Vm1, 5, 8, 2, 1), Row(Vm2, 6, 1, 1, 0x10000400, deleted: true), Vm2, 6, 1, 1, 0x10000400, false },
    };

    [Theory]
    [MemberData(nameof(Merges))]
    public void A_rekey_that_crossed_a_claim_at_the_next_generation_leaves_the_claimer_owning_the_new_CHILD_SA(
        TunnelRecord held, TunnelRecord arriving, string owner, long generation, long syncSeq, int proxyId, uint next, bool grafted)
    {
        foreach (var (known, incoming) in new[] { (held, arriving), (arriving, held) })
        {
            var kept = TunnelOwnership.Merge(known, incoming);
            Assert.Equal((owner, generation, proxyId), (kept.OwnerSerial, kept.Generation, kept.ProxyIdSerial));
            var newest = held.ProxyIdSerial >= arriving.ProxyIdSerial && !arriving.Deleted ? held : arriving;
            if (!kept.Deleted) // the CHILD SA the client holds
                Assert.Equal((newest.Child.InboundSpi, newest.Child.OutboundSpi), (kept.Child.InboundSpi, kept.Child.OutboundSpi));
            Assert.Equal(grafted, !ReferenceEquals(kept, known) && !ReferenceEquals(kept, incoming));
            Assert.Equal((syncSeq, next), (kept.SyncSeq, kept.NextOutboundSeq));
            if (!grafted) continue;
            Assert.Equal(newest.ReplayHighest, kept.ReplayHighest);
            Assert.Same(newest.Child, kept.Ike.Children.Single());
            Assert.Equal(Math.Max(held.Ike.NextRequestId, arriving.Ike.NextRequestId), kept.Ike.NextRequestId); // no request ID twice
            // The graft outranks both, so every unit that gets it keeps it, and a second merge changes nothing.
            Assert.True(TunnelOwnership.Compare(kept, held) > 0 && TunnelOwnership.Compare(kept, arriving) > 0);
            Assert.Same(kept, TunnelOwnership.Merge(kept, held));
            Assert.Same(kept, TunnelOwnership.Merge(kept, arriving));
        }
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
