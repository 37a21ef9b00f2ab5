using ClusterActors.Protocol.Fgsp;
using ClusterActors.Protocol.Serialization;

namespace ClusterActors.Protocol.Ipsec;

/// <summary>
/// Several tunnel records pushed at once by the unit that wrote them (src/Actors/Ipsec/README.md, "Batched sync"): what
/// one message of the phase1 wrote (an FGCP takeover's claims of its whole cluster's tunnels, a fgsp-sync change's
/// re-sync) goes to each unit in messages of <see cref="SyncBatches.MaxRecords"/> at most, not one per tunnel. Each record
/// is checked on arrival as a single pushed <see cref="TunnelRecord"/> is; a batch of one is never sent (the record goes
/// alone, as units of the previous version expect).
/// </summary>
public sealed record TunnelRecordBatch(IReadOnlyList<TunnelRecord> Records) : IWireMessage;

/// <summary>The same for records sealed for another FGCP cluster's units (standalone-cluster encryption enable).</summary>
public sealed record SealedTunnelRecordBatch(IReadOnlyList<SealedTunnelRecord> Records) : IWireMessage;

/// <summary>How records are cut into batches that each fit one Akka frame.</summary>
public static class SyncBatches
{
    /// <summary>Records per message at most: a seed record is ~0.7 KB on the wire.</summary>
    public const int MaxRecords = 64;

    /// <summary>Bytes per message at most by the estimate below: Akka's remote frame is 128,000 bytes (maximum-frame-size),
    /// and the estimate is kept well under it.</summary>
    public const int MaxBytes = 96_000;

    /// <summary>An upper bound of a record's size on the wire: its strings, fixed fields and keys, 40 bytes a selector.</summary>
    public static int EstimatedBytes(TunnelRecord r) =>
        1_024 + 2 * (r.Key.Length + r.Phase1.Length + r.Name.Length + r.OwnerSerial.Length)
        + 40 * (r.RemoteSelectors.Count + r.LocalSelectors.Count + (r.Ike.Ts is { } ts ? ts.Initiator.Count + ts.Responder.Count : 0))
        + 2 * r.Ike.PeerId.Length + 200 * r.Ike.Children.Count + (r.Ike.LastResponse?.Length ?? 0);

    public static int EstimatedBytes(SealedTunnelRecord s) =>
        256 + 2 * (s.Key.Length + s.Phase1.Length + s.SenderSerial.Length) + s.Nonce.Length + s.Ciphertext.Length + s.Tag.Length;

    /// <summary>
    /// <paramref name="items"/> in order, cut into runs of at most <see cref="MaxRecords"/> and <see cref="MaxBytes"/> by
    /// <paramref name="bytes"/>; an item larger than the budget alone makes a run of one.
    /// </summary>
    public static IEnumerable<IReadOnlyList<T>> Chunks<T>(IReadOnlyList<T> items, Func<T, int> bytes)
    {
        var run = new List<T>();
        var size = 0;
        foreach (var item in items)
        {
            var b = bytes(item);
            if (run.Count > 0 && (run.Count == MaxRecords || size + b > MaxBytes))
            {
                yield return run;
                run = [];
                size = 0;
            }
            run.Add(item);
            size += b;
        }
        if (run.Count > 0) yield return run;
    }
}
