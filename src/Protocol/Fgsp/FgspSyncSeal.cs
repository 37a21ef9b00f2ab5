using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Serialization;

namespace ClusterActors.Protocol.Fgsp;

/// <summary>
/// A tunnel record as it crosses to another FGCP cluster when `config system standalone-cluster` has
/// <c>set encryption enable</c>: the whole record (its SK_* and ESP keys with it) sealed with AES-256-GCM under the
/// key derived from <c>psksecret</c> (<see cref="FgspSyncKey"/>). The clear fields are what a receiver needs before it
/// can open it (which record, whose, how new); every one of them is also bound as associated data, so none can be
/// changed without the seal failing.
/// </summary>
public sealed record SealedTunnelRecord(
    string Key,
    string Phase1,
    string SenderSerial,
    long Generation,
    long SyncSeq,
    byte[] Nonce,
    byte[] Ciphertext,
    byte[] Tag) : IWireMessage;

/// <summary>The AES-256-GCM key of one standalone group, derived from its psksecret (README "FGSP sync encryption").</summary>
public sealed class FgspSyncKey
{
    public const int KeyBytes = 32;
    private static readonly byte[] Salt = "clusteractors fgsp-sync v1"u8.ToArray();
    internal byte[] Bytes { get; }

    private FgspSyncKey(byte[] bytes) => Bytes = bytes;

    /// <summary>
    /// HKDF-SHA256 (RFC 5869): IKM = the psksecret's UTF-8 bytes, salt fixed, info = "standalone-group-id=N". Every unit
    /// of the group holds the same psksecret (FortiOS requires it on all FGSP peers; FGCP syncs it inside a cluster), so
    /// every unit derives the same key: one sealed record can be read by all of them, including from Distributed Data.
    /// </summary>
    public static FgspSyncKey Derive(string psksecret, int standaloneGroupId)
    {
        ArgumentNullException.ThrowIfNull(psksecret);
        var info = Encoding.ASCII.GetBytes($"standalone-group-id={standaloneGroupId}");
        return new FgspSyncKey(HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(psksecret), KeyBytes, Salt, info));
    }
}

/// <summary>Why a sealed record did not open; <see cref="None"/> when it did.</summary>
public enum FgspOpenFailure
{
    None,
    /// <summary>The GCM tag did not verify: another psksecret, or a byte changed on the way.</summary>
    SealMismatch,
    /// <summary>Lengths that AES-GCM cannot have produced (nonce, tag), or a field out of range.</summary>
    Malformed,
    /// <summary>The seal verified but the record inside is not one the codec accepts, or disagrees with the clear fields.</summary>
    RecordMismatch,
}

/// <summary>
/// Seal and open as pure functions: no actor, no clock. <see cref="Open"/> never throws on input from the wire: every
/// refusal is a <see cref="FgspOpenFailure"/>.
/// </summary>
public static class FgspSyncSeal
{
    public const int NonceBytes = 12, TagBytes = 16;

    /// <summary>Seals <paramref name="record"/> as sent by <paramref name="senderSerial"/>; the nonce is random (96 bits).</summary>
    public static SealedTunnelRecord Seal(TunnelRecord record, string senderSerial, FgspSyncKey key, byte[]? nonce = null)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(key);
        nonce ??= RandomNumberGenerator.GetBytes(NonceBytes);
        if (nonce.Length != NonceBytes) throw new ArgumentException($"nonce must be {NonceBytes} bytes", nameof(nonce));
        var plain = WireCodecs.Encode(record);
        var cipher = new byte[plain.Length];
        var tag = new byte[TagBytes];
        var sealedRecord = new SealedTunnelRecord(record.Key, record.Phase1, senderSerial, record.Generation, record.SyncSeq, nonce, cipher, tag);
        using var gcm = new AesGcm(key.Bytes, TagBytes);
        gcm.Encrypt(nonce, plain, cipher, tag, AssociatedData(sealedRecord));
        return sealedRecord;
    }

    /// <summary>Opens a sealed record: the record, or null and why not. Never throws.</summary>
    public static TunnelRecord? Open(SealedTunnelRecord sealedRecord, FgspSyncKey key, out FgspOpenFailure failure)
    {
        failure = FgspOpenFailure.Malformed;
        if (sealedRecord is null || key is null || sealedRecord.Nonce is not { Length: NonceBytes } || sealedRecord.Tag is not { Length: TagBytes }
            || sealedRecord.Ciphertext is null || sealedRecord.Key is null || sealedRecord.Phase1 is null || sealedRecord.SenderSerial is null)
            return null;
        var plain = new byte[sealedRecord.Ciphertext.Length];
        try
        {
            using var gcm = new AesGcm(key.Bytes, TagBytes);
            gcm.Decrypt(sealedRecord.Nonce, sealedRecord.Ciphertext, sealedRecord.Tag, plain, AssociatedData(sealedRecord));
        }
        catch (CryptographicException)
        {
            failure = FgspOpenFailure.SealMismatch;
            return null;
        }
        TunnelRecord record;
        try
        {
            if (WireCodecs.Decode(WireCatalog.TunnelRecordManifest, plain) is not TunnelRecord decoded)
            {
                failure = FgspOpenFailure.RecordMismatch;
                return null;
            }
            record = decoded;
        }
        catch (WireFormatException)
        {
            failure = FgspOpenFailure.RecordMismatch;
            return null;
        }
        // Only a sender holding the key can produce a verifying seal, so this is a defect of that sender, not an attack;
        // still never applied: the clear fields are what the receiver reasoned about before opening.
        if (record.Key != sealedRecord.Key || record.Phase1 != sealedRecord.Phase1 || record.Generation != sealedRecord.Generation
            || record.SyncSeq != sealedRecord.SyncSeq)
        {
            failure = FgspOpenFailure.RecordMismatch;
            return null;
        }
        failure = FgspOpenFailure.None;
        return record;
    }

    /// <summary>
    /// Version label, record key, phase1, sender serial, generation and sync sequence, each length-prefixed: a sealed
    /// record cannot be re-labelled as another tunnel's, another sender's, or a newer one.
    /// </summary>
    internal static byte[] AssociatedData(SealedTunnelRecord s)
    {
        var w = new WireWriter();
        w.Str("fgsp-sync v1");
        w.Str(s.Key);
        w.Str(s.Phase1);
        w.Str(s.SenderSerial);
        w.I64(s.Generation);
        w.I64(s.SyncSeq);
        return w.ToArray();
    }
}
