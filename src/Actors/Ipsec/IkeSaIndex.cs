using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Ipsec;

/// <summary>
/// A phase1's live tunnel records by their IKE SPIs (SPIi, SPIr): an IKE datagram, a DPD answer, a rekey or a Delete
/// finds its tunnel with one lookup, not a scan of every record (issue 13, goal 2). Pure; the phase1 actor keeps it in
/// step with every record it applies (<see cref="Applied"/>).
/// </summary>
/// <remarks>
/// Only live IKE SAs are indexed. A record deleted by the client (IKE SA Delete) or flushed by DPD stays in the phase1's
/// records (a tombstone: the sync must not bring it back), but leaves this index: on a hub where clients come and go it
/// would otherwise grow with every tunnel that ever existed (issue 13, goal 4: memory flat after deletions), and no IKE
/// exchange may find a deleted SA. A record that comes back to life (a later claim that never saw the deletion wins by
/// <see cref="TunnelOwnership.Compare"/>) is indexed again with it.
/// </remarks>
public sealed class IkeSaIndex
{
    private readonly Dictionary<(ulong SpiI, ulong SpiR), string> _keys = new();

    /// <summary>IKE SAs indexed: the phase1's live records.</summary>
    public int Count => _keys.Count;

    /// <summary>The phase1 now holds <paramref name="now"/> in place of <paramref name="known"/> (null: a new record).</summary>
    public void Applied(TunnelRecord? known, TunnelRecord now)
    {
        if (known is not null && (known.Ike.SpiI, known.Ike.SpiR) != (now.Ike.SpiI, now.Ike.SpiR)) Remove(known);
        if (now.Deleted) Remove(now);
        else _keys[(now.Ike.SpiI, now.Ike.SpiR)] = now.Key;
    }

    /// <summary>The key of the live record whose IKE SA has these SPIs, or null.</summary>
    public string? KeyOf(ulong spiI, ulong spiR) => _keys.GetValueOrDefault((spiI, spiR));

    /// <summary>Only the record's own entry: another record never loses its SPIs to it.</summary>
    private void Remove(TunnelRecord r)
    {
        if (_keys.TryGetValue((r.Ike.SpiI, r.Ike.SpiR), out var key) && key == r.Key) _keys.Remove((r.Ike.SpiI, r.Ike.SpiR));
    }
}
