using ClusterActors.Protocol.Fgsp;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Serialization;

namespace ClusterActors.Actors.Ipsec;

/// <summary>
/// One Distributed Data entry of SA sync, opened: its payload (a <see cref="TunnelRecord"/> or a
/// <see cref="SealedTunnelRecord"/>) and the serial of the unit that wrote it, or why it is refused
/// (<see cref="Cause"/>, counted as <c>dd-signature CAUSE</c>).
/// </summary>
public sealed record OpenedReplica(object? Payload, string? Writer, string? Cause, string Why)
{
    public bool Accepted => Cause is null;
}

/// <summary>
/// The writer of a replicated tunnel record is the lab unit whose key signed it, never the register's <c>UpdatedBy</c>
/// (gossip content any lab-certificate holder sets with <c>LWWDictionary.SetItem(node, …)</c>). Pure: the decision is
/// <see cref="Open(string, SignedTunnelRecord, string, bool, LabCertificateTrust?)"/>; an instance adds a per-key cache
/// so an entry that did not change is not verified again at every gossip round (src/Actors/Ipsec/README.md,
/// "Signed Distributed Data entries").
/// </summary>
public sealed class SignedReplicas(bool enforcing, LabCertificateTrust? trust, TunnelRecordSigner? signer)
{
    /// <summary>Refusals are counted as this prefix + cause (<c>UnitIdentities.Refusals</c>).</summary>
    public const string RefusalKindPrefix = "dd-signature ";

    public static readonly string ClearManifest = ManifestOf(typeof(TunnelRecord));
    public static readonly string SealedManifest = ManifestOf(typeof(SealedTunnelRecord));

    private static string ManifestOf(Type t) => WireCodecs.TryGet(t, out var codec) ? codec.Manifest : throw new InvalidOperationException($"no codec for {t}");

    /// <summary>What this unit writes: signed with its lab key, or unsigned without one (<c>--insecure-akka</c>).</summary>
    public SignedTunnelRecord Wrap(TunnelRecord record) => TunnelRecordSignature.Wrap(record, signer, record.OwnerSerial);

    public SignedTunnelRecord Wrap(SealedTunnelRecord sealedRecord) => TunnelRecordSignature.Wrap(sealedRecord, signer, sealedRecord.SenderSerial);

    /// <summary>
    /// Opens <paramref name="entry"/> found under <paramref name="entryKey"/> in a dictionary of
    /// <paramref name="expectedManifest"/> payloads. Enforcing, the writer is the signer its lab certificate proves
    /// (<see cref="TunnelRecordSignature.Verify"/>); not enforcing (<c>--insecure-akka</c>: nothing is authenticated)
    /// it is the serial the payload names, as for a push. Never throws.
    /// </summary>
    public static OpenedReplica Open(string entryKey, SignedTunnelRecord? entry, string expectedManifest, bool enforcing, LabCertificateTrust? trust)
    {
        if (entry is null) return new OpenedReplica(null, null, "malformed", "no entry");
        string? writer = null;
        if (enforcing)
        {
            if (trust is null) return new OpenedReplica(null, null, "no-lab-ca", "this unit holds no lab CA to verify with");
            writer = TunnelRecordSignature.Verify(entry, trust, out var failure, out var why);
            if (writer is null) return new OpenedReplica(null, null, TunnelRecordSignature.Name(failure), why);
        }
        if (entry.PayloadManifest != expectedManifest || entry.Payload is null)
            return new OpenedReplica(null, writer, "wrong-payload", $"carries {entry.PayloadManifest}, this dictionary holds {expectedManifest}");
        object payload;
        try
        {
            payload = WireCodecs.Decode(expectedManifest, entry.Payload);
        }
        catch (WireFormatException e)
        {
            return new OpenedReplica(null, writer, "wrong-payload", e.Message);
        }
        var (key, claimed) = payload switch
        {
            TunnelRecord r => (r.Key, r.OwnerSerial),
            SealedTunnelRecord s => (s.Key, s.SenderSerial),
            _ => (null, null)
        };
        if (key is null) return new OpenedReplica(null, writer, "wrong-payload", "not a tunnel record");
        // A genuine entry of one tunnel replayed under another tunnel's key would mask that tunnel's own entry.
        if (key != entryKey) return new OpenedReplica(null, writer, "key-mismatch", $"record {key} under key {entryKey}");
        return new OpenedReplica(payload, writer ?? claimed, null, "");
    }

    /// <summary>Per (payload kind, shard of the entry key, <see cref="FgspSync.ShardOf"/>): entry key → what it opened to.</summary>
    private readonly Dictionary<(string Manifest, int Shard), Dictionary<string, (SignedTunnelRecord Entry, OpenedReplica Opened)>> _seen = new();

    /// <summary>
    /// <see cref="Open(string, SignedTunnelRecord, string, bool, LabCertificateTrust?)"/>, remembered per key:
    /// <paramref name="fresh"/> is false when this very entry (same bytes) was opened before, so a refusal is counted
    /// once per distinct entry and a valid one costs one ECDSA verify, not one per gossip round.
    /// </summary>
    /// <param name="shard">The shard whose Distributed Data key the entry was read under; null for an entry that came
    /// in a message (<see cref="TunnelEntries"/>). An entry under another shard than its key's is refused
    /// (<c>wrong-shard</c>): no unit writes one, and read there it would be read twice.</param>
    public OpenedReplica Open(string entryKey, SignedTunnelRecord entry, string expectedManifest, out bool fresh, int? shard = null)
    {
        var own = FgspSync.ShardOf(entryKey);
        var scope = (expectedManifest, shard ?? own);
        if (!_seen.TryGetValue(scope, out var seenHere)) _seen[scope] = seenHere = new(StringComparer.Ordinal);
        if (seenHere.TryGetValue(entryKey, out var seen) && Same(seen.Entry, entry))
        {
            fresh = false;
            return seen.Opened;
        }
        fresh = true;
        var opened = shard is { } under && under != own
            ? new OpenedReplica(null, null, "wrong-shard", $"entry {entryKey} under shard {under:x3}, its key's shard is {own:x3}")
            : Open(entryKey, entry, expectedManifest, enforcing, trust);
        seenHere[entryKey] = (entry, opened);
        return opened;
    }

    /// <summary>
    /// Forgets the entries of one shard no longer in its dictionary (bounded by what Distributed Data holds); the other
    /// shards' are not looked at, so a change costs the size of its shard.
    /// </summary>
    public void Retain(string expectedManifest, int shard, IReadOnlyCollection<string> entryKeys)
    {
        if (!_seen.TryGetValue((expectedManifest, shard), out var seenHere)) return;
        var keep = entryKeys as IReadOnlySet<string> ?? entryKeys.ToHashSet(StringComparer.Ordinal);
        foreach (var k in seenHere.Keys.Where(k => !keep.Contains(k)).ToList()) seenHere.Remove(k);
    }

    public int Cached => _seen.Values.Sum(d => d.Count);

    private static bool Same(SignedTunnelRecord a, SignedTunnelRecord b) =>
        ReferenceEquals(a, b)
        || (a.SignerSerial == b.SignerSerial && a.PayloadManifest == b.PayloadManifest
            && Bytes(a.Payload, b.Payload) && Bytes(a.Signature, b.Signature) && Bytes(a.SignerCertificate, b.SignerCertificate));

    private static bool Bytes(byte[]? a, byte[]? b) => a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);
}
