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

    public static int Compare(TunnelRecord a, TunnelRecord b)
    {
        var c = a.Generation.CompareTo(b.Generation);
        if (c != 0) return c;
        c = a.SyncSeq.CompareTo(b.SyncSeq);
        return c != 0 ? c : string.CompareOrdinal(a.OwnerSerial, b.OwnerSerial);
    }

    public static TunnelRecord Winner(TunnelRecord a, TunnelRecord b) => Compare(a, b) >= 0 ? a : b;

    /// <summary>
    /// The Distributed Data clock for a record: orders by generation, then sync sequence, so the replicated value is
    /// the one <see cref="Compare"/> ranks highest (equal pairs fall back to Akka's node order, and then to
    /// <see cref="Winner"/> on every unit that sees both).
    /// </summary>
    public static long Clock(TunnelRecord r) => (r.Generation << 32) | Math.Min(r.SyncSeq, uint.MaxValue);

    /// <summary>
    /// The outbound sequence number a unit uses when it becomes the owner of a tunnel it held as standby: the last
    /// synced next-seqno plus the jump, so the client's anti-replay window only ever sees it increase.
    /// </summary>
    public static uint TakeoverSequence(TunnelRecord standby) =>
        standby.NextOutboundSeq > uint.MaxValue - SequenceJump ? uint.MaxValue : standby.NextOutboundSeq + SequenceJump;

    /// <summary>The record a unit writes when it takes the tunnel over (FGCP failover, or traffic arriving at a standby).</summary>
    public static TunnelRecord Claim(TunnelRecord current, string newOwnerSerial, int newOwnerFgcpGroup) => current with
    {
        OwnerSerial = newOwnerSerial,
        OwnerFgcpGroup = newOwnerFgcpGroup,
        Generation = current.Generation + 1,
        SyncSeq = 0,
        NextOutboundSeq = TakeoverSequence(current)
    };

    /// <summary>
    /// After FGCP failover the new primary takes every tunnel its cluster owned (the old primary is gone or secondary);
    /// tunnels owned by another FGSP cluster stay theirs.
    /// </summary>
    public static bool TakenOverOnFgcpFailover(TunnelRecord r, string newPrimarySerial, int fgcpGroup) =>
        !r.Deleted && r.OwnerFgcpGroup == fgcpGroup && r.OwnerSerial != newPrimarySerial;
}
