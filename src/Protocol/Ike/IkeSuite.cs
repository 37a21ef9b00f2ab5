using System.Security.Cryptography;

namespace ClusterActors.Protocol.Ike;

/// <summary>
/// One FortiOS proposal keyword ("aes128-sha1") as the algorithms it stands for. The same keyword names the IKE
/// suite (ENCR + PRF + INTEG) in phase1 and the ESP suite (ENCR + INTEG) in phase2. Only AES-CBC with HMAC-SHA1 or
/// HMAC-SHA256 is supported: that covers the scenario and FortiOS's defaults.
/// </summary>
public sealed record IkeSuite(string Name, int EncrKeyBytes, ushort PrfId, ushort IntegId)
{
    public static readonly IkeSuite Aes128Sha1 = Parse("aes128-sha1");

    public static IkeSuite Parse(string proposal) => TryParse(proposal)
        ?? throw new ArgumentException($"unsupported proposal '{proposal}' (aes128|aes192|aes256 - sha1|sha256)");

    public static IkeSuite? TryParse(string proposal)
    {
        var parts = proposal.Trim().ToLowerInvariant().Split('-');
        if (parts.Length != 2) return null;
        int? enc = parts[0] switch { "aes128" => 16, "aes192" => 24, "aes256" => 32, _ => null };
        (ushort prf, ushort integ)? hash = parts[1] switch
        {
            "sha1" => (TransformIds.PrfHmacSha1, TransformIds.AuthHmacSha1_96),
            "sha256" => (TransformIds.PrfHmacSha2_256, TransformIds.AuthHmacSha2_256_128),
            _ => null,
        };
        return enc is null || hash is null ? null : new IkeSuite(parts[0] + "-" + parts[1], enc.Value, hash.Value.prf, hash.Value.integ);
    }

    private bool Sha1 => PrfId == TransformIds.PrfHmacSha1;

    /// <summary>Output (and preferred key) length of the PRF: SK_d and SK_p are this long.</summary>
    public int PrfLength => Sha1 ? 20 : 32;
    /// <summary>HMAC-SHA1-96 keys are 20 bytes, HMAC-SHA2-256-128 keys 32 (RFC 4868).</summary>
    public int IntegKeyLength => Sha1 ? 20 : 32;
    public int IcvLength => Sha1 ? 12 : 16;

    public byte[] Prf(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data) => Sha1 ? HMACSHA1.HashData(key, data) : HMACSHA256.HashData(key, data);

    public byte[] Icv(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data) => Prf(key, data)[..IcvLength];

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

    public Transform EncrTransform => new(TransformType.Encr, TransformIds.EncrAesCbc, [new TransformAttribute(TransformIds.AttrKeyLength, (ushort)(EncrKeyBytes * 8))]);

    /// <summary>Transforms of an IKE proposal for this suite, offering each DH group in order.</summary>
    public IReadOnlyList<Transform> IkeTransforms(IEnumerable<int> dhGroups) =>
    [
        EncrTransform,
        new(TransformType.Prf, PrfId),
        new(TransformType.Integ, IntegId),
        .. dhGroups.Select(g => new Transform(TransformType.DhGroup, (ushort)g)),
    ];

    /// <summary>ESP transforms: no DH (PFS off), no ESN, matching FortiOS phase2 defaults of the scenario.</summary>
    public IReadOnlyList<Transform> EspTransforms =>
    [
        EncrTransform,
        new(TransformType.Integ, IntegId),
        new(TransformType.Esn, TransformIds.EsnNone),
    ];

    /// <summary>Does the offered ENCR transform mean this suite's cipher and key length?</summary>
    public bool MatchesEncr(Transform t) => t.Type == TransformType.Encr && t.Id == TransformIds.EncrAesCbc
        && t.KeyLength == EncrKeyBytes * 8 && t.Attributes.All(a => a.Tlv is null && a.AttrType == TransformIds.AttrKeyLength);

    public override string ToString() => Name;
}
