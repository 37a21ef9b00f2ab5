using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Unit;

/// <summary>
/// Who may tell a unit what, over the Akka cluster, as pure rules. The sender is the serial the sender's TLS
/// certificate proved (<see cref="UnitIdentities"/>), never a serial written in the message; null when the sender is
/// not authenticated. Each rule returns null to accept, or why the message is dropped (counted and logged by the actor).
/// </summary>
public static class SyncAuthorization
{
    public const string NotAuthenticated = "sender not authenticated";

    /// <summary>
    /// A tunnel record (SA sync push, or a Distributed Data entry by the member that wrote it): only from the unit the
    /// record names as owner. Where it changes the owner of a record this unit holds, it must be a claim by
    /// <see cref="Ipsec.TunnelOwnership.Claim"/>'s rule: the claimer names itself, raises the generation (or holds the
    /// same one: a claim that crossed another from the same record, which <see cref="Ipsec.TunnelOwnership.Compare"/>
    /// settles), keeps the same IKE and CHILD SAs, and does not delete (only an owner deletes its tunnel). The key must be
    /// the SA's own.
    /// </summary>
    public static string? TunnelRecord(TunnelRecord incoming, TunnelRecord? known, string? sender)
    {
        if (sender is null) return NotAuthenticated;
        if (incoming.OwnerSerial != sender) return $"record names {incoming.OwnerSerial} as owner, sent by {sender}";
        if (incoming.Key != Protocol.Ipsec.TunnelRecord.KeyOf(incoming.Phase1, incoming.Ike.SpiI, incoming.Ike.SpiR))
            return "record key does not match its IKE SA";
        if (known is null || known.OwnerSerial == incoming.OwnerSerial) return null;
        if (incoming.Deleted) return $"deletes a tunnel owned by {known.OwnerSerial}";
        if (incoming.Ike.SpiI != known.Ike.SpiI || incoming.Ike.SpiR != known.Ike.SpiR)
            return $"takes a tunnel owned by {known.OwnerSerial} with another IKE SA";
        var sameChild = incoming.Child.InboundSpi == known.Child.InboundSpi && incoming.Child.OutboundSpi == known.Child.OutboundSpi;
        if (incoming.Generation > known.Generation)
        {
            // A claim keeps the CHILD SA, or carries an older one when it crossed a rekey this unit already holds
            // (TunnelOwnership.Merge grafts the newer CHILD SA onto the claim); it never brings a newer one of its own.
            if (sameChild || incoming.ProxyIdSerial < known.ProxyIdSerial) return null;
            return $"takes a tunnel owned by {known.OwnerSerial} with other SAs";
        }
        // Two claims from one record, each made before its claimer learnt of the other: an FGSP failover right after an
        // FGCP one (DC2_VM2 claims DC2_VM1's tunnels as the new primary while DC2_VM3, which the router now sends the
        // clients to, claims them by traffic from DC2_VM1's record; the many-clients census found four tunnels listed as
        // sync-primary on both 20 s later). Refused, each side kept its own claim for good. Accepted under a claim's
        // own terms, TunnelOwnership.Compare keeps the same one of the two on every unit; the other claimer steps down,
        // and claims again (one generation on) if the client's traffic still reaches it. No unit may do more this way
        // than a claim one generation higher already lets it.
        if (incoming.Generation == known.Generation)
        {
            if (sameChild || incoming.ProxyIdSerial < known.ProxyIdSerial) return null;
            return $"takes a tunnel owned by {known.OwnerSerial} with other SAs";
        }
        // A lower generation cannot take ownership (Merge keeps the known owner); it is input only as the previous
        // owner's CHILD SA rekey that crossed the claim (a newer proxyid serial on the same IKE SA), which Merge grafts.
        if (incoming.Generation < known.Generation && !sameChild && incoming.ProxyIdSerial > known.ProxyIdSerial) return null;
        return $"takes a tunnel owned by {known.OwnerSerial} without a higher generation";
    }

    /// <summary>FGCP config sync: only to a secondary, from the current primary of its own FGCP cluster.</summary>
    public static string? ConfigSync(string? sender, bool receiverIsSecondary, string? ownPrimarySerial)
    {
        if (sender is null) return NotAuthenticated;
        if (!receiverIsSecondary) return "this unit is not an FGCP secondary";
        return sender == ownPrimarySerial ? null : $"{sender} is not this unit's FGCP primary ({ownPrimarySerial ?? "none"})";
    }

    /// <summary>A CLI change forwarded to the primary: only from a unit of the primary's own FGCP cluster.</summary>
    public static string? ForwardedChange(string? sender, bool receiverIsPrimary, IReadOnlyCollection<string> ownClusterSerials)
    {
        if (sender is null) return NotAuthenticated;
        if (!receiverIsPrimary) return "this unit is not the FGCP primary";
        return ownClusterSerials.Contains(sender) ? null : $"{sender} is not a member of this FGCP cluster";
    }
}

/// <summary>
/// Sync input dropped by <see cref="SyncAuthorization"/>: counted per kind, and logged once per sender a minute
/// (<see cref="PerSenderLog"/>), so a unit pushing forged records cannot flood the log.
/// </summary>
public sealed class SyncRefusals(TimeProvider time)
{
    private readonly PerSenderLog _log = new(TimeSpan.FromSeconds(60), time);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _counts = new();

    /// <summary>Counts the refusal; true when it should be logged (the sender's first, or its first in a minute).</summary>
    /// <param name="logKey">What "once a minute" is counted per; default kind and sender (FGSP sync: per sender, whatever the cause).</param>
    public bool Refused(string kind, string sender, out long suppressed, string? logKey = null)
    {
        _counts.AddOrUpdate(kind, 1, (_, n) => n + 1);
        return _log.ShouldLog(logKey ?? $"{kind}|{sender}", out suppressed);
    }

    public long Count(string kind) => _counts.GetValueOrDefault(kind);

    public IReadOnlyDictionary<string, long> Counts => _counts.ToDictionary();
}
