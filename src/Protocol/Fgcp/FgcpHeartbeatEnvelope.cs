using System.Security.Cryptography;
using System.Text;
using ClusterActors.Protocol.Serialization;

namespace ClusterActors.Protocol.Fgcp;

/// <summary>
/// The heartbeat keys of one cluster, derived from `set password` and the group (`group-id`, `group-name`) with HKDF-SHA256
/// (RFC 5869): the password is the input keying material, <c>FGCP|group-id|group-name</c> the salt, and each key has its
/// own info label, so the HMAC key and the AES key are independent and units of another group derive other keys from the
/// same password. Nothing derived here ever travels.
/// </summary>
public sealed class FgcpHeartbeatKeys
{
    public const int KeyBytes = 32;

    private FgcpHeartbeatKeys(byte[] authentication, byte[] encryption)
    {
        Authentication = authentication;
        Encryption = encryption;
    }

    /// <summary>HMAC-SHA256 key of `set authentication enable`.</summary>
    public byte[] Authentication { get; }

    /// <summary>AES-256-GCM key of `set encryption enable`.</summary>
    public byte[] Encryption { get; }

    public static FgcpHeartbeatKeys Derive(string? password, int groupId, string? groupName)
    {
        // The prefix keeps the keying material non-empty when no password is set (FortiOS allows that; the README says why not to).
        var ikm = Encoding.UTF8.GetBytes("FGCP-HA-PASSWORD|" + (password ?? ""));
        var salt = Encoding.UTF8.GetBytes($"FGCP|{groupId}|{groupName ?? ""}");
        var auth = HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, KeyBytes, salt, "fgcp heartbeat authentication"u8.ToArray());
        var enc = HKDF.DeriveKey(HashAlgorithmName.SHA256, ikm, KeyBytes, salt, "fgcp heartbeat encryption"u8.ToArray());
        return new FgcpHeartbeatKeys(auth, enc);
    }
}

/// <summary>
/// What this unit sends and what it requires of what it hears: <c>set authentication</c> (HMAC over the whole datagram)
/// and <c>set encryption</c> (AES-GCM over the body). A unit opens every heartbeat it can verify with its keys, also a
/// protected one when it has protection disabled itself, so a cluster can switch protection on one unit at a time.
/// </summary>
public sealed record FgcpHeartbeatProtection(bool Authenticate, bool Encrypt, FgcpHeartbeatKeys Keys)
{
    /// <summary>Neither sends nor requires protection; keys of the empty password (only for reading test datagrams).</summary>
    public static readonly FgcpHeartbeatProtection None = new(false, false, FgcpHeartbeatKeys.Derive(null, 0, ""));
}

/// <summary>
/// A datagram read: the heartbeat (all fields valid) or why it was dropped; whether an HMAC and/or the AES-GCM tag
/// verified it with the cluster's keys (<see cref="Keyed"/>: only then may its sequence and incarnation be trusted).
/// </summary>
public sealed record FgcpOpened(FgcpHeartbeat? Heartbeat, HeartbeatDrop? Drop, bool Authenticated, bool Encrypted)
{
    public bool Keyed => Heartbeat is not null && (Authenticated || Encrypted);

    internal static FgcpOpened Dropped(HeartbeatDropCause cause, string detail) => new(null, new HeartbeatDrop(cause, detail), false, false);
}

/// <summary>
/// The heartbeat datagram (version 2):
/// <code>
/// "FGCP" | version 3 (2 still read) | flags (0x01 authenticated, 0x02 encrypted) | [nonce 12 | ciphertext | GCM tag 16] or body | [HMAC-SHA256 32]
/// </code>
/// The body is the <c>fgcp.hb.v3</c> heartbeat (<c>fgcp.hb.v2</c> in a version 2 datagram). With encryption the body is AES-256-GCM under a fresh random 96-bit nonce,
/// with the 6 header bytes as associated data. With authentication an HMAC-SHA256 covers every byte before it (header,
/// nonce, ciphertext and tag, or the clear body), so no byte can change unnoticed. Pure and thread-safe; never throws on
/// what it reads.
/// </summary>
public static class FgcpHeartbeatEnvelope
{
    /// <summary>Written: the body is <see cref="FgcpHeartbeatValidation.Manifest"/> (v3, with the EXE_FAIL_OVER flag).</summary>
    public const byte Version = 3;

    /// <summary>Still read: the body is <see cref="FgcpHeartbeatValidation.ManifestV2"/> (a unit of the previous version).</summary>
    public const byte PreviousVersion = 2;
    public const byte FlagAuthenticated = 0x01;
    public const byte FlagEncrypted = 0x02;
    public const int HeaderBytes = 6;
    public const int NonceBytes = 12;
    public const int TagBytes = 16;
    public const int MacBytes = 32;

    /// <summary>The datagram for <paramref name="hb"/>, protected as <paramref name="protection"/> says.</summary>
    public static byte[] Seal(FgcpHeartbeat hb, FgcpHeartbeatProtection protection)
    {
        var body = WireCodecs.Encode(hb);
        var flags = (byte)((protection.Authenticate ? FlagAuthenticated : 0) | (protection.Encrypt ? FlagEncrypted : 0));
        var payloadLength = protection.Encrypt ? NonceBytes + body.Length + TagBytes : body.Length;
        var datagram = new byte[HeaderBytes + payloadLength + (protection.Authenticate ? MacBytes : 0)];
        FgcpHeartbeatValidation.Magic.CopyTo(datagram);
        datagram[4] = Version;
        datagram[5] = flags;
        if (protection.Encrypt)
        {
            var nonce = datagram.AsSpan(HeaderBytes, NonceBytes);
            RandomNumberGenerator.Fill(nonce);
            using var aes = new AesGcm(protection.Keys.Encryption, TagBytes);
            aes.Encrypt(nonce, body, datagram.AsSpan(HeaderBytes + NonceBytes, body.Length),
                datagram.AsSpan(HeaderBytes + NonceBytes + body.Length, TagBytes), datagram.AsSpan(0, HeaderBytes));
        }
        else body.CopyTo(datagram, HeaderBytes);
        if (protection.Authenticate)
        {
            var signed = HeaderBytes + payloadLength;
            HMACSHA256.HashData(protection.Keys.Authentication, datagram.AsSpan(0, signed), datagram.AsSpan(signed, MacBytes));
        }
        return datagram;
    }

    /// <summary>
    /// Reads a datagram with the cluster's keys: checks the envelope, the HMAC (when present, and its presence when
    /// <see cref="FgcpHeartbeatProtection.Authenticate"/>), decrypts (likewise for encryption), then decodes and validates
    /// every field. Never throws: any fault is a drop with its cause.
    /// </summary>
    public static FgcpOpened Open(ReadOnlySpan<byte> datagram, FgcpHeartbeatProtection protection)
    {
        if (datagram.Length > FgcpHeartbeatValidation.MaxDatagramBytes)
            return FgcpOpened.Dropped(HeartbeatDropCause.Oversize, $"datagram of {datagram.Length} bytes exceeds {FgcpHeartbeatValidation.MaxDatagramBytes}");
        var magic = FgcpHeartbeatValidation.Magic;
        if (datagram.Length < magic.Length || !datagram[..magic.Length].SequenceEqual(magic))
            return FgcpOpened.Dropped(HeartbeatDropCause.NotFgcp, "not an FGCP heartbeat");
        if (datagram.Length < HeaderBytes)
            return FgcpOpened.Dropped(HeartbeatDropCause.Truncated, $"truncated datagram of {datagram.Length} bytes");
        if (datagram[4] != Version && datagram[4] != PreviousVersion)
            return FgcpOpened.Dropped(HeartbeatDropCause.BadVersion, $"heartbeat version {datagram[4]}, not {Version} or {PreviousVersion}");
        var flags = datagram[5];
        if ((flags & ~(FlagAuthenticated | FlagEncrypted)) != 0)
            return FgcpOpened.Dropped(HeartbeatDropCause.Corrupt, $"corrupt datagram of {datagram.Length} bytes (unknown flags)");
        var authenticated = (flags & FlagAuthenticated) != 0;
        var encrypted = (flags & FlagEncrypted) != 0;

        var payloadEnd = datagram.Length;
        if (authenticated)
        {
            if (datagram.Length < HeaderBytes + MacBytes)
                return FgcpOpened.Dropped(HeartbeatDropCause.Truncated, $"truncated datagram of {datagram.Length} bytes");
            payloadEnd -= MacBytes;
            Span<byte> mac = stackalloc byte[MacBytes];
            HMACSHA256.HashData(protection.Keys.Authentication, datagram[..payloadEnd], mac);
            if (!CryptographicOperations.FixedTimeEquals(mac, datagram[payloadEnd..]))
                return FgcpOpened.Dropped(HeartbeatDropCause.AuthFailed, "authentication failed (HMAC mismatch): modified, or another password or group");
        }
        else if (protection.Authenticate)
            return FgcpOpened.Dropped(HeartbeatDropCause.AuthMissing, "heartbeat not authenticated and authentication is enabled");

        var payload = datagram[HeaderBytes..payloadEnd];
        byte[] body;
        if (encrypted)
        {
            if (payload.Length < NonceBytes + TagBytes)
                return FgcpOpened.Dropped(HeartbeatDropCause.Truncated, $"truncated datagram of {datagram.Length} bytes");
            body = new byte[payload.Length - NonceBytes - TagBytes];
            try
            {
                using var aes = new AesGcm(protection.Keys.Encryption, TagBytes);
                aes.Decrypt(payload[..NonceBytes], payload.Slice(NonceBytes, body.Length), payload[(NonceBytes + body.Length)..], body,
                    datagram[..HeaderBytes]);
            }
            catch (CryptographicException)
            {
                return FgcpOpened.Dropped(HeartbeatDropCause.DecryptFailed, "decryption failed (AES-GCM tag mismatch): modified, or another password or group");
            }
        }
        else if (protection.Encrypt)
            return FgcpOpened.Dropped(HeartbeatDropCause.NotEncrypted, "heartbeat in clear and encryption is enabled");
        else body = payload.ToArray();

        var (hb, drop) = FgcpHeartbeatValidation.DecodeBody(body, datagram.Length,
            datagram[4] == Version ? FgcpHeartbeatValidation.Manifest : FgcpHeartbeatValidation.ManifestV2);
        return drop is not null ? new FgcpOpened(null, drop, authenticated, encrypted) : new FgcpOpened(hb, null, authenticated, encrypted);
    }
}
