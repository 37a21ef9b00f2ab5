using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Ipsec;

/// <summary>
/// Who owns a dialup tunnel, as pure rules. The owner (`role=sync-primary`) is the unit that completed IKE or took the
/// tunnel over; every other unit holds it as `role=standby`.
///
/// Double claims (two units that each believe they own one tunnel, e.g. both sides of a healed partition) are
/// resolved by ordering the records: higher <see cref="TunnelRecord.Generation"/> wins, then higher
/// <see cref="TunnelRecord.SyncSeq"/>, then the higher owner serial. Every unit applies the same order to the same
/// records (Distributed Data converges them), so exactly one owner remains and the other steps down to standby.
/// </summary>
public static class TunnelOwnership
{
    /// <summary>FortiOS's jump-ahead for a standby's outbound sequence number: 2^28 (the seed's seqno=10000001).</summary>
    public const uint SequenceJump = 1u << 28;

    /// <summary>The FGCP cluster of a standalone unit's tunnels (<see cref="FgspSync.ClusterOf"/>): no cluster, so no
    /// other unit ever takes them over as its cluster's; FortiOS group-ids are never negative.</summary>
    public const int NoFgcpCluster = TunnelRecord.NoFgcpCluster;

    public static int Compare(TunnelRecord a, TunnelRecord b)
    {
        var c = a.Generation.CompareTo(b.Generation);
        if (c != 0) return c;
        c = a.SyncSeq.CompareTo(b.SyncSeq);
        return c != 0 ? c : string.CompareOrdinal(a.OwnerSerial, b.OwnerSerial);
    }

    public static TunnelRecord Winner(TunnelRecord a, TunnelRecord b) => Compare(a, b) >= 0 ? a : b;

    /// <summary>
    /// The record a unit keeps when it holds <paramref name="known"/> and <paramref name="incoming"/> arrives (README,
    /// "A rekey and a claim at once"). Ownership goes by <see cref="Compare"/> (generation, then sync sequence, then
    /// serial; on a tie the record with the newer CHILD SA, else the one held). The CHILD SA goes by its own order, <see cref="TunnelRecord.ProxyIdSerial"/>
    /// (+1 at every rekey, kept by a claim): when the record that loses ownership carries a newer CHILD SA than the winner,
    /// a rekey (the owner's, or the client's, answered by the owner at generation g) crossed another unit's claim at
    /// g + 1 written from the old SA. The client holds the new SA and the old one is being deleted, so the winner's
    /// owner takes the new one (<see cref="Graft"/>). Returns <paramref name="known"/> itself when nothing changes,
    /// <paramref name="incoming"/> itself when it simply wins, and a new record (which the unit writes, so every unit
    /// converges on it) when the two were grafted.
    /// </summary>
    public static TunnelRecord Merge(TunnelRecord known, TunnelRecord incoming)
    {
        var order = Compare(incoming, known);
        // A tie (a graft and the owner's own sync of the same sequence): the one with the newer CHILD SA, so no graft.
        var winner = order > 0 || (order == 0 && CarriesNewerChild(incoming, known)) ? incoming : known;
        var other = ReferenceEquals(winner, incoming) ? known : incoming;
        return CarriesNewerChild(other, winner) ? Graft(winner, other) : winner;
    }

    /// <summary>Whether <paramref name="other"/> holds a later CHILD SA of the same tunnel than <paramref name="owner"/>.</summary>
    public static bool CarriesNewerChild(TunnelRecord other, TunnelRecord owner) =>
        !owner.Deleted && !other.Deleted && other.Key == owner.Key && other.ProxyIdSerial > owner.ProxyIdSerial;

    /// <summary>
    /// <paramref name="owner"/>'s ownership with <paramref name="rekeyed"/>'s CHILD SA: its SPIs, keys, proxyid serial and
    /// inbound window, the IKE SA's message IDs as far as either got, and one sync on (so the graft outranks both records
    /// on every unit). Whoever wrote the rekey may have sent on the new SA past what it synced (and a unit that held the
    /// old SA in between forgot what it sent on the new one): the owner sends from the synced next number + 2^28, as at
    /// any takeover, even when it wrote the rekey itself.
    /// </summary>
    public static TunnelRecord Graft(TunnelRecord owner, TunnelRecord rekeyed) => owner with
    {
        Child = rekeyed.Child,
        ProxyIdSerial = rekeyed.ProxyIdSerial,
        EstablishedAt = rekeyed.EstablishedAt,
        ChildLifetimeSeconds = rekeyed.ChildLifetimeSeconds,
        Ike = LaterIke(rekeyed.Ike, owner.Ike),
        NextOutboundSeq = InRecord(TakeoverSequence(rekeyed)),
        ReplayHighest = rekeyed.ReplayHighest,
        SyncSeq = owner.SyncSeq + 1
    };

    /// <summary>
    /// One IKE SA as two records saw it: <paramref name="rekeyed"/>'s (its CHILD SA list), with each direction's message
    /// IDs from whichever got further, so the owner never reuses a request ID nor takes an answered request for new.
    /// </summary>
    private static IkeSaState LaterIke(IkeSaState rekeyed, IkeSaState other)
    {
        var ike = rekeyed.NextRequestId >= other.NextRequestId ? rekeyed : rekeyed with { NextRequestId = other.NextRequestId };
        return other.ExpectedPeerRequestId > ike.ExpectedPeerRequestId
            ? ike with { ExpectedPeerRequestId = other.ExpectedPeerRequestId, LastResponseId = other.LastResponseId, LastResponse = other.LastResponse, PeerPort = other.PeerPort }
            : ike;
    }

    /// <summary>
    /// The Distributed Data clock for a record: orders by generation, then sync sequence, so the replicated value is
    /// the one <see cref="Compare"/> ranks highest (equal pairs fall back to Akka's node order, and then to
    /// <see cref="Winner"/> on every unit that sees both).
    /// </summary>
    public static long Clock(TunnelRecord r) => (r.Generation << 32) | Math.Min(r.SyncSeq, uint.MaxValue);

    /// <summary>
    /// The first number past the 32-bit space: with ESN off an SA may send 1 … 0xffffffff and must never cycle
    /// (RFC 4303 §3.3.3); a unit whose next outbound number is this sends nothing more on the CHILD SA until it is rekeyed.
    /// </summary>
    public const ulong SequenceExhausted = 1UL << 32;

    /// <summary>
    /// A record's <see cref="TunnelRecord.NextOutboundSeq"/> (32 bits) of 0xffffffff stands for <see cref="SequenceExhausted"/>:
    /// that last number is given up rather than risk sending one the previous owner already used.
    /// </summary>
    public const uint ExhaustedInRecord = uint.MaxValue;

    /// <summary>
    /// The outbound sequence number a unit uses when it becomes the owner of a tunnel it held as standby: the last
    /// synced next-seqno plus the jump, so the client's anti-replay window only ever sees it increase. When the whole
    /// jump does not fit in the 32-bit space the SA is used up (<see cref="SequenceExhausted"/>): the new owner sends
    /// nothing on it and rekeys the CHILD SA first. Never a wrap, never a saturated number the old owner may have sent.
    /// </summary>
    public static ulong TakeoverSequence(TunnelRecord standby) => TakeoverSequence(standby.NextOutboundSeq);

    /// <inheritdoc cref="TakeoverSequence(TunnelRecord)"/>
    public static ulong TakeoverSequence(uint syncedNext) =>
        // 0xffffffff itself is not handed out: in a record it means used up (ExhaustedInRecord).
        (ulong)syncedNext + SequenceJump >= ExhaustedInRecord ? SequenceExhausted : syncedNext + SequenceJump;

    /// <summary>
    /// Where an owner that stalled (SIGSTOP, a hang) sends from once it runs again (README, "A stalled owner"): two
    /// jumps past its own next number. While it did not run, its peers may have declared it lost and one of them claimed
    /// the tunnel from the last synced next number (never above this owner's own) + 2^28, then sent fewer than 2^28 more
    /// (an owner rekeys well before that); two jumps are above all of it, so the client's window never sees a number
    /// again, whether or not the takeover happened. The tunnel's record follows at the next sequence sync, or the
    /// newer record of a takeover reaches the unit and the claim rules apply as usual. Used up when it does not fit.
    /// </summary>
    public static ulong AfterStall(ulong next)
    {
        if (next >= ExhaustedInRecord) return SequenceExhausted;
        var once = TakeoverSequence((uint)next);
        return once == SequenceExhausted ? once : TakeoverSequence((uint)once);
    }

    /// <summary>Where an owner sends from, given its record: the record's next number, or nothing when it is marked used up.</summary>
    public static ulong OwnerSequence(TunnelRecord owned) =>
        owned.NextOutboundSeq == ExhaustedInRecord ? SequenceExhausted : Math.Max(1u, owned.NextOutboundSeq);

    /// <summary>A next outbound number as a record carries it (32 bits): used up is <see cref="ExhaustedInRecord"/>.</summary>
    public static uint InRecord(ulong next) => next >= ExhaustedInRecord ? ExhaustedInRecord : (uint)next;

    /// <summary>
    /// FortiOS rekeys the CHILD SA before its sequence space runs out (this lab's rule, README): the owner starts a
    /// CREATE_CHILD_SA rekey once the next takeover could no longer jump a whole 2^28 and still leave 2^28 numbers to
    /// send, i.e. when <paramref name="nextOutbound"/> + 2 × 2^28 reaches 2^32 (from 0xe0000000 on). That is after
    /// 14 ownership moves of an idle child SA; the margin is one more move and 2^28 packets for the rekey to finish.
    /// </summary>
    public static bool ChildRekeyDue(ulong nextOutbound) => nextOutbound + 2UL * SequenceJump >= SequenceExhausted;

    /// <summary>The record a unit writes when it takes the tunnel over (FGCP failover, or traffic arriving at a standby).</summary>
    public static TunnelRecord Claim(TunnelRecord current, string newOwnerSerial, int newOwnerFgcpGroup) => current with
    {
        OwnerSerial = newOwnerSerial,
        OwnerFgcpGroup = newOwnerFgcpGroup,
        Generation = current.Generation + 1,
        SyncSeq = 0,
        NextOutboundSeq = InRecord(TakeoverSequence(current))
    };

    /// <summary>
    /// A record naming <paramref name="serial"/> as owner that this incarnation of the unit did not write: a restarted
    /// unit learns from the others (push or gossip) what its previous incarnation owned. Its outbound counter died with
    /// that incarnation, and the record only carries the last *synced* next number — the old incarnation went on sending
    /// past it until it was killed, so sending from it repeats numbers CLIENT1 has already seen (anti-replay drops,
    /// chaos runs 21, 71, 81). Such a record is held like a standby's copy: the unit sends only from the synced next
    /// number + 2^28, and re-claims it (generation + 1) as any other tunnel of its cluster once it is primary.
    /// </summary>
    public static bool Inherited(TunnelRecord r, string serial, bool writtenByThisIncarnation) =>
        !r.Deleted && r.OwnerSerial == serial && !writtenByThisIncarnation;

    /// <summary>
    /// The role a unit shows and acts in for a tunnel (README, "A primary that steps down"): the record's owner is
    /// sync-primary, everyone else standby — except that inside an FGCP cluster only the primary owns anything. A unit
    /// that FGCP made secondary (its peer came back with a higher priority, `execute ha failover set`, a healed split
    /// brain) knows it from the heartbeat at once, while the record that moves its tunnels to the new primary travels
    /// over Akka and may take seconds (chaos seed 6 run 14: the re-elected DC2_VM1 joined Akka 2.3 s after DC2_VM2
    /// stepped down, and DC2_VM2 listed vpn1_1 as sync-primary beside it). FGCP never waits on Akka, so neither does
    /// this: the secondary holds its own tunnels as standby, sends nothing on them, and is their owner again only if it
    /// becomes primary before a newer claim reaches it. A standalone unit (no FGCP cluster) owns what its records say.
    /// </summary>
    public static TunnelRole ShownRole(TunnelRecord r, string serial, bool inFgcpCluster, bool isFgcpPrimary) =>
        r.OwnerSerial == serial && (isFgcpPrimary || !inFgcpCluster) ? TunnelRole.SyncPrimary : TunnelRole.Standby;

    /// <summary>
    /// The primary a unit hands its tunnels over to, or null (README, "A primary that steps down"): a unit of an FGCP
    /// cluster that stops being its primary while another unit is. Holding its tunnels as standby at once
    /// (<see cref="ShownRole"/>), it also sends the new primary the records that still name it owner, straight to it,
    /// since Distributed Data and the pushes to members reach a unit only once it is an Akka member again: chaos seed 1
    /// run 46, DC2_VM1 killed and started again on its data, was re-elected primary on the heartbeat 3 s before it
    /// rejoined Akka, and until then it knew no tunnel — vpn1_1 had no owner and PC1's echoes were lost for 4–6 s.
    /// </summary>
    public static string? HandOverTo(bool wasPrimary, bool isPrimary, int fgcpGroup, string primarySerial, string serial) =>
        wasPrimary && !isPrimary && fgcpGroup != NoFgcpCluster && primarySerial != serial && primarySerial.Length > 0 ? primarySerial : null;

    /// <summary>
    /// What a unit that is (or just became) its FGCP cluster's primary claims: every tunnel of its cluster another unit
    /// owns (<see cref="TakenOverOnFgcpFailover"/>), and every one its previous incarnation owned (<see cref="Inherited"/>).
    /// </summary>
    public static bool ClaimedByPrimary(TunnelRecord r, string primarySerial, int fgcpGroup, bool writtenByThisIncarnation) =>
        TakenOverOnFgcpFailover(r, primarySerial, fgcpGroup) ||
        (r.OwnerFgcpGroup == fgcpGroup && Inherited(r, primarySerial, writtenByThisIncarnation));

    /// <summary>
    /// After FGCP failover the new primary takes every tunnel its cluster owned (the old primary is gone or secondary);
    /// tunnels owned by another FGSP cluster stay theirs.
    /// </summary>
    public static bool TakenOverOnFgcpFailover(TunnelRecord r, string newPrimarySerial, int fgcpGroup) =>
        fgcpGroup != NoFgcpCluster && !r.Deleted && r.OwnerFgcpGroup == fgcpGroup && r.OwnerSerial != newPrimarySerial;
}
