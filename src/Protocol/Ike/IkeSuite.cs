using System.Security.Cryptography;

namespace ClusterActors.Protocol.Ike;

/// <summary>
/// One FortiOS proposal keyword as the algorithms it stands for. The same keyword names the IKE suite
/// (ENCR + PRF + INTEG) in phase1 and the ESP suite (ENCR + INTEG) in phase2:
/// <list type="bullet">
/// <item><c>aes128|aes192|aes256-sha1|sha256|sha384|sha512</c>: AES-CBC (RFC 3602) with HMAC-SHA1-96 or the RFC 4868
/// HMAC-SHA-256-128 / 384-192 / 512-256, and in IKE the PRF of the same hash.</item>
/// <item><c>aes128gcm|aes256gcm</c> (phase2) and <c>aes128gcm|aes256gcm-prfsha1|prfsha256|prfsha384|prfsha512</c> (phase1):
/// AES-GCM with a 16-octet ICV (RFC 4106, RFC 5282), no integrity transform.</item>
/// <item><c>chacha20poly1305</c> (phase2) and <c>chacha20poly1305-prf…</c> (phase1): RFC 7634.</item>
/// </list>
/// FortiOS keywords this emulator does not run (des, 3des, aria, seed, md5, null) have no suite: <see cref="TryParse"/>
/// gives null and <see cref="Unsupported"/> says why.
/// </summary>
public sealed record IkeSuite(string Name, ushort EncrId, int CipherKeyBytes, ushort PrfId, ushort IntegId)
{
    public static readonly IkeSuite Aes128Sha1 = Parse("aes128-sha1");

    public static IkeSuite Parse(string proposal) => TryParse(proposal)
        ?? throw new ArgumentException($"proposal '{proposal}' is not emulated: {Unsupported(proposal)}");

    /// <summary>The suite a keyword names, or null when the emulator cannot run it (or it is no FortiOS keyword).</summary>
    public static IkeSuite? TryParse(string proposal) => Resolve(proposal).Suite;

    /// <summary>Why <paramref name="proposal"/> has no suite here; null when it has one.</summary>
    public static string? Unsupported(string proposal) => Resolve(proposal).Why;

    /// <summary>What the emulator runs, for messages.</summary>
    public const string Emulated =
        "aes128|aes192|aes256-sha1|sha256|sha384|sha512, aes128gcm|aes256gcm|chacha20poly1305 (phase1: with -prfsha1|prfsha256|prfsha384|prfsha512)";

    private static (IkeSuite? Suite, string? Why) Resolve(string proposal)
    {
        var name = proposal.Trim().ToLowerInvariant();
        var parts = name.Split('-');
        if (parts.Length is < 1 or > 2) return (null, $"'{proposal}' is not a proposal keyword");
        (ushort id, int key)? aead = parts[0] switch
        {
            "aes128gcm" => (TransformIds.EncrAesGcm16, 16),
            "aes256gcm" => (TransformIds.EncrAesGcm16, 32),
            "chacha20poly1305" => (TransformIds.EncrChaCha20Poly1305, 32),
            _ => null,
        };
        if (aead is { } a)
        {
            if (parts.Length == 1) return (new IkeSuite(name, a.id, a.key, 0, TransformIds.AuthNone), null);
            ushort? prf = parts[1] switch
            {
                "prfsha1" => TransformIds.PrfHmacSha1,
                "prfsha256" => TransformIds.PrfHmacSha2_256,
                "prfsha384" => TransformIds.PrfHmacSha2_384,
                "prfsha512" => TransformIds.PrfHmacSha2_512,
                _ => null,
            };
            return prf is null ? (null, $"PRF '{parts[1]}' is not implemented (prfsha1, prfsha256, prfsha384, prfsha512)")
                : (new IkeSuite(name, a.id, a.key, prf.Value, TransformIds.AuthNone), null);
        }
        int? cbc = parts[0] switch { "aes128" => 16, "aes192" => 24, "aes256" => 32, _ => null };
        if (cbc is null)
            return (null, parts[0] is "des" or "3des" or "aria128" or "aria192" or "aria256" or "seed" or "null"
                ? $"cipher '{parts[0]}' is not implemented (aes128, aes192, aes256, aes128gcm, aes256gcm, chacha20poly1305)"
                : $"'{parts[0]}' is not a cipher");
        if (parts.Length == 1) return (null, $"'{proposal}' names no integrity hash");
        (ushort prf, ushort integ)? hash = parts[1] switch
        {
            "sha1" => (TransformIds.PrfHmacSha1, TransformIds.AuthHmacSha1_96),
            "sha256" => (TransformIds.PrfHmacSha2_256, TransformIds.AuthHmacSha2_256_128),
            "sha384" => (TransformIds.PrfHmacSha2_384, TransformIds.AuthHmacSha2_384_192),
            "sha512" => (TransformIds.PrfHmacSha2_512, TransformIds.AuthHmacSha2_512_256),
            _ => null,
        };
        return hash is null
            ? (null, parts[1] is "md5" or "null" ? $"integrity '{parts[1]}' is not implemented (sha1, sha256, sha384, sha512)" : $"'{parts[1]}' is not a hash")
            : (new IkeSuite(parts[0] + "-" + parts[1], TransformIds.EncrAesCbc, cbc.Value, hash.Value.prf, hash.Value.integ), null);
    }

    /// <summary>AES-GCM or ChaCha20-Poly1305: encryption and integrity in one transform, no INTEG transform, no SK_a.</summary>
    public bool IsAead => EncrId is TransformIds.EncrAesGcm16 or TransformIds.EncrChaCha20Poly1305;

    /// <summary>Whether the keyword can name an IKE suite (phase1): it needs a PRF.</summary>
    public bool HasPrf => PrfId != 0;

    /// <summary>AEAD keys carry a 4-octet salt after the cipher key (RFC 4106 §8.1, RFC 5282 §7.1, RFC 7634 §2).</summary>
    public int SaltBytes => IsAead ? 4 : 0;

    /// <summary>Length of SK_ei/SK_er and of each ESP encryption key: cipher key plus salt.</summary>
    public int EncrKeyBytes => CipherKeyBytes + SaltBytes;

    /// <summary>Explicit IV on the wire: a whole AES block for CBC, 8 octets for the AEADs.</summary>
    public int IvLength => IsAead ? 8 : 16;

    /// <summary>Cipher block the plaintext must fill: 16 for CBC, none (1) for the AEADs' counter modes.</summary>
    public int CipherBlock => IsAead ? 1 : 16;

    /// <summary>Output (and preferred key) length of the PRF: SK_d and SK_p are this long (RFC 4868 §2.1.2).</summary>
    public int PrfLength => PrfId switch
    {
        TransformIds.PrfHmacSha1 => 20,
        TransformIds.PrfHmacSha2_256 => 32,
        TransformIds.PrfHmacSha2_384 => 48,
        TransformIds.PrfHmacSha2_512 => 64,
        _ => 0,
    };

    /// <summary>HMAC keys are as long as the hash output (RFC 2404, RFC 4868 §2.1.1); AEADs have none.</summary>
    public int IntegKeyLength => IntegId switch
    {
        TransformIds.AuthHmacSha1_96 => 20,
        TransformIds.AuthHmacSha2_256_128 => 32,
        TransformIds.AuthHmacSha2_384_192 => 48,
        TransformIds.AuthHmacSha2_512_256 => 64,
        _ => 0,
    };

    /// <summary>ICV: the HMAC truncated to half (RFC 4868 §2.3; 96 bits for SHA-1), 16 octets for the AEADs.</summary>
    public int IcvLength => IsAead ? 16 : IntegId switch
    {
        TransformIds.AuthHmacSha1_96 => 12,
        TransformIds.AuthHmacSha2_256_128 => 16,
        TransformIds.AuthHmacSha2_384_192 => 24,
        TransformIds.AuthHmacSha2_512_256 => 32,
        _ => 0,
    };

    public byte[] Prf(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data) => Hmac(PrfId switch
    {
        TransformIds.PrfHmacSha1 => HashAlgorithmName.SHA1,
        TransformIds.PrfHmacSha2_256 => HashAlgorithmName.SHA256,
        TransformIds.PrfHmacSha2_384 => HashAlgorithmName.SHA384,
        TransformIds.PrfHmacSha2_512 => HashAlgorithmName.SHA512,
        _ => throw new InvalidOperationException($"'{Name}' has no PRF: it is a phase2-only keyword"),
    }, key, data);

    /// <summary>The truncated HMAC of a non-AEAD suite.</summary>
    public byte[] Icv(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data) => Hmac(IntegId switch
    {
        TransformIds.AuthHmacSha1_96 => HashAlgorithmName.SHA1,
        TransformIds.AuthHmacSha2_256_128 => HashAlgorithmName.SHA256,
        TransformIds.AuthHmacSha2_384_192 => HashAlgorithmName.SHA384,
        TransformIds.AuthHmacSha2_512_256 => HashAlgorithmName.SHA512,
        _ => throw new InvalidOperationException($"'{Name}' is an AEAD: its ICV comes with the ciphertext"),
    }, key, data)[..IcvLength];

    private static byte[] Hmac(HashAlgorithmName h, ReadOnlySpan<byte> key, ReadOnlySpan<byte> data) =>
        h == HashAlgorithmName.SHA1 ? HMACSHA1.HashData(key, data)
        : h == HashAlgorithmName.SHA256 ? HMACSHA256.HashData(key, data)
        : h == HashAlgorithmName.SHA384 ? HMACSHA384.HashData(key, data)
        : HMACSHA512.HashData(key, data);

    /// <summary>
    /// AEAD seal: nonce = salt | IV (the salt is the last 4 octets of <paramref name="keyMaterial"/>), output is
    /// ciphertext | 16-octet tag.
    /// </summary>
    public void Seal(ReadOnlySpan<byte> keyMaterial, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> plain, ReadOnlySpan<byte> aad, Span<byte> cipherAndTag)
    {
        Span<byte> nonce = stackalloc byte[12];
        Nonce(keyMaterial, iv, nonce);
        var key = keyMaterial[..CipherKeyBytes];
        var cipher = cipherAndTag[..plain.Length];
        var tag = cipherAndTag.Slice(plain.Length, 16);
        if (EncrId == TransformIds.EncrChaCha20Poly1305)
        {
            using var c = new ChaCha20Poly1305(key);
            c.Encrypt(nonce, plain, cipher, tag, aad);
        }
        else
        {
            using var g = new AesGcm(key, 16);
            g.Encrypt(nonce, plain, cipher, tag, aad);
        }
    }

    /// <summary>AEAD open; false (never an exception) when the tag does not verify.</summary>
    public bool TryOpen(ReadOnlySpan<byte> keyMaterial, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> cipherAndTag, ReadOnlySpan<byte> aad, Span<byte> plain)
    {
        if (cipherAndTag.Length < 16 || plain.Length != cipherAndTag.Length - 16) return false;
        Span<byte> nonce = stackalloc byte[12];
        Nonce(keyMaterial, iv, nonce);
        var key = keyMaterial[..CipherKeyBytes];
        var cipher = cipherAndTag[..^16];
        var tag = cipherAndTag[^16..];
        try
        {
            if (EncrId == TransformIds.EncrChaCha20Poly1305)
            {
                using var c = new ChaCha20Poly1305(key);
                c.Decrypt(nonce, cipher, tag, plain, aad);
            }
            else
            {
                using var g = new AesGcm(key, 16);
                g.Decrypt(nonce, cipher, tag, plain, aad);
            }
            return true;
        }
        catch (CryptographicException)
        {
            plain.Clear();
            return false;
        }
    }

    private void Nonce(ReadOnlySpan<byte> keyMaterial, ReadOnlySpan<byte> iv, Span<byte> nonce)
    {
        if (!IsAead) throw new InvalidOperationException($"'{Name}' is not an AEAD");
        if (keyMaterial.Length != EncrKeyBytes) throw new ArgumentException($"'{Name}' needs {EncrKeyBytes} octets of key and salt, got {keyMaterial.Length}");
        if (iv.Length != 8) throw new ArgumentException($"AEAD IV is 8 octets, got {iv.Length}");
        keyMaterial[CipherKeyBytes..].CopyTo(nonce);
        iv.CopyTo(nonce[4..]);
    }

    /// <summary>prf+ (§2.13): T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), concatenated and cut to length.</summary>
    public byte[] PrfPlus(byte[] key, byte[] seed, int length)
    {
        if (length > 255 * PrfLength) throw new ArgumentOutOfRangeException(nameof(length), "prf+ is limited to 255 iterations");
        var output = new byte[length];
        var t = Array.Empty<byte>();
        var filled = 0;
        for (byte n = 1; filled < length; n++)
        {
            t = Prf(key, [.. t, .. seed, n]);
            var take = Math.Min(t.Length, length - filled);
            Array.Copy(t, 0, output, filled, take);
            filled += take;
        }
        return output;
    }

    /// <summary>ChaCha20-Poly1305 carries no key length attribute (RFC 7634 §3); AES always does.</summary>
    public Transform EncrTransform => EncrId == TransformIds.EncrChaCha20Poly1305
        ? new(TransformType.Encr, EncrId)
        : new(TransformType.Encr, EncrId, [new TransformAttribute(TransformIds.AttrKeyLength, (ushort)(CipherKeyBytes * 8))]);

    /// <summary>Transforms of an IKE proposal for this suite, offering each DH group in order. AEADs omit INTEG (RFC 5282 §8).</summary>
    public IReadOnlyList<Transform> IkeTransforms(IEnumerable<int> dhGroups) =>
    [
        EncrTransform,
        new(TransformType.Prf, PrfId),
        .. IsAead ? (Transform[])[] : [new Transform(TransformType.Integ, IntegId)],
        .. dhGroups.Select(g => new Transform(TransformType.DhGroup, (ushort)g)),
    ];

    /// <summary>ESP transforms without DH (no PFS, and always in IKE_AUTH, §1.2) and without ESN.</summary>
    public IReadOnlyList<Transform> EspTransforms => EspTransformsWith([]);

    /// <summary>ESP transforms offering <paramref name="dhGroups"/> for PFS in a CREATE_CHILD_SA (§1.3.1), no ESN.</summary>
    public IReadOnlyList<Transform> EspTransformsWith(IEnumerable<int> dhGroups) =>
    [
        EncrTransform,
        .. IsAead ? (Transform[])[] : [new Transform(TransformType.Integ, IntegId)],
        .. dhGroups.Select(g => new Transform(TransformType.DhGroup, (ushort)g)),
        new(TransformType.Esn, TransformIds.EsnNone),
    ];

    /// <summary>Does the offered ENCR transform mean this suite's cipher and key length?</summary>
    public bool MatchesEncr(Transform t) => t.Type == TransformType.Encr && t.Id == EncrId
        && (EncrId == TransformIds.EncrChaCha20Poly1305
            ? t.Attributes.Count == 0
            : t.KeyLength == CipherKeyBytes * 8 && t.Attributes.All(a => a.Tlv is null && a.AttrType == TransformIds.AttrKeyLength));

    /// <summary>
    /// The INTEG transforms of a proposal allow this suite: one of them is ours, or for an AEAD there are none or only
    /// NONE (RFC 5282 §8: an AEAD proposal must not offer a real integrity algorithm).
    /// </summary>
    public bool MatchesInteg(IEnumerable<Transform> transforms)
    {
        var integ = transforms.Where(t => t.Type == TransformType.Integ).Select(t => t.Id).ToList();
        return IsAead ? integ.All(i => i == TransformIds.AuthNone) : integ.Contains(IntegId);
    }

    public override string ToString() => Name;
}
