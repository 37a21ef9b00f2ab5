using System.Security.Cryptography;
using ClusterActors.Protocol.Ike;

namespace ClusterActors.Protocol.Esp;

/// <summary>
/// The keyed AES-CBC cipher and HMAC of one ESP SA, made once per SA instead of once per packet (issue 13: per-packet
/// allocation). Not thread-safe, like the SA that holds it: one dialup instance (one actor) owns each SA.
/// Not used for the AEAD suites (GCM, ChaCha20-Poly1305), which still key a cipher object per packet.
/// </summary>
public sealed class EspCipher
{
    private readonly Aes _aes;
    private readonly IncrementalHash _hmac;

    private EspCipher(EspSaKeys keys)
    {
        _aes = Aes.Create();
        _aes.Key = keys.EncKey;
        _hmac = IncrementalHash.CreateHMAC(keys.Suite.IntegId switch
        {
            TransformIds.AuthHmacSha1_96 => HashAlgorithmName.SHA1,
            TransformIds.AuthHmacSha2_256_128 => HashAlgorithmName.SHA256,
            TransformIds.AuthHmacSha2_384_192 => HashAlgorithmName.SHA384,
            _ => HashAlgorithmName.SHA512,
        }, keys.AuthKey);
    }

    /// <summary>The cipher of a CBC+HMAC SA; null for an AEAD suite.</summary>
    public static EspCipher? For(EspSaKeys keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return keys.Suite.IsAead ? null : new EspCipher(keys);
    }

    internal void EncryptCbc(ReadOnlySpan<byte> plain, ReadOnlySpan<byte> iv, Span<byte> cipher) =>
        _aes.EncryptCbc(plain, iv, cipher, PaddingMode.None);

    internal void DecryptCbc(ReadOnlySpan<byte> cipher, ReadOnlySpan<byte> iv, Span<byte> plain) =>
        _aes.DecryptCbc(cipher, iv, plain, PaddingMode.None);

    /// <summary>The full HMAC of <paramref name="data"/> into <paramref name="mac"/> (64 octets hold any of them); its length.</summary>
    internal int Mac(ReadOnlySpan<byte> data, Span<byte> mac)
    {
        _hmac.AppendData(data);
        return _hmac.GetHashAndReset(mac);
    }
}
