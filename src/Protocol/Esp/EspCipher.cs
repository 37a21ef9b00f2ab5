using System.Security.Cryptography;
using ClusterActors.Protocol.Ike;

namespace ClusterActors.Protocol.Esp;

/// <summary>
/// The keyed cipher of one ESP SA, made once per SA instead of once per packet (issue 13, goal 3: no per-packet
/// allocation): for AES-CBC an <see cref="Aes"/> and an HMAC, for AES-GCM an <see cref="AesGcm"/>, for
/// ChaCha20-Poly1305 a <see cref="ChaCha20Poly1305"/>, each keyed with the SA's key (the AEADs' 4-octet salt kept apart
/// for the nonce), and a scratch buffer that inbound packets are decrypted into. Not thread-safe, like the SA that holds
/// it: one dialup instance (one actor) owns each SA.
/// </summary>
public sealed class EspCipher
{
    private readonly IkeSuite _suite;
    private readonly Aes? _aes;
    private readonly IncrementalHash? _hmac;
    private readonly AesGcm? _gcm;
    private readonly ChaCha20Poly1305? _chacha;
    /// <summary>RFC 4106 §4 / RFC 7634 §2: the last 4 octets of the AEAD key material, the first 4 of every nonce.</summary>
    private readonly byte[] _salt = [];
    /// <summary>Decrypted plaintext before the payload is copied out: grows to the largest packet, then is reused.</summary>
    private byte[] _scratch = [];

    private EspCipher(EspSaKeys keys)
    {
        _suite = keys.Suite;
        if (_suite.IsAead)
        {
            // EspSaKeys checked the length: key, then 4 octets of salt.
            var key = keys.EncKey.AsSpan(0, _suite.CipherKeyBytes);
            _salt = keys.EncKey[_suite.CipherKeyBytes..];
            if (_suite.EncrId == TransformIds.EncrChaCha20Poly1305) _chacha = new ChaCha20Poly1305(key);
            else _gcm = new AesGcm(key, TagLength);
            return;
        }
        _aes = Aes.Create();
        _aes.Key = keys.EncKey;
        _hmac = IncrementalHash.CreateHMAC(_suite.IntegId switch
        {
            TransformIds.AuthHmacSha1_96 => HashAlgorithmName.SHA1,
            TransformIds.AuthHmacSha2_256_128 => HashAlgorithmName.SHA256,
            TransformIds.AuthHmacSha2_384_192 => HashAlgorithmName.SHA384,
            _ => HashAlgorithmName.SHA512,
        }, keys.AuthKey);
    }

    private const int TagLength = 16;

    /// <summary>The SA's cipher, for every suite the emulator runs.</summary>
    public static EspCipher For(EspSaKeys keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        return new EspCipher(keys);
    }

    /// <summary>CBC in place is allowed: <paramref name="plain"/> and <paramref name="cipher"/> may be the same span.</summary>
    internal void EncryptCbc(ReadOnlySpan<byte> plain, ReadOnlySpan<byte> iv, Span<byte> cipher) =>
        _aes!.EncryptCbc(plain, iv, cipher, PaddingMode.None);

    internal void DecryptCbc(ReadOnlySpan<byte> cipher, ReadOnlySpan<byte> iv, Span<byte> plain) =>
        _aes!.DecryptCbc(cipher, iv, plain, PaddingMode.None);

    /// <summary>The full HMAC of <paramref name="data"/> into <paramref name="mac"/> (64 octets hold any of them); its length.</summary>
    internal int Mac(ReadOnlySpan<byte> data, Span<byte> mac)
    {
        _hmac!.AppendData(data);
        return _hmac.GetHashAndReset(mac);
    }

    /// <summary>AEAD seal, as <see cref="IkeSuite.Seal"/>; <paramref name="plain"/> may be the first bytes of <paramref name="cipherAndTag"/> (in place).</summary>
    internal void Seal(ReadOnlySpan<byte> iv, ReadOnlySpan<byte> plain, ReadOnlySpan<byte> aad, Span<byte> cipherAndTag)
    {
        Span<byte> nonce = stackalloc byte[12];
        Nonce(iv, nonce);
        var cipher = cipherAndTag[..plain.Length];
        var tag = cipherAndTag.Slice(plain.Length, TagLength);
        if (_chacha is not null) _chacha.Encrypt(nonce, plain, cipher, tag, aad);
        else _gcm!.Encrypt(nonce, plain, cipher, tag, aad);
    }

    /// <summary>AEAD open, as <see cref="IkeSuite.TryOpen"/>: false (never an exception) when the tag does not verify.</summary>
    internal bool TryOpen(ReadOnlySpan<byte> iv, ReadOnlySpan<byte> cipherAndTag, ReadOnlySpan<byte> aad, Span<byte> plain)
    {
        if (cipherAndTag.Length < TagLength || plain.Length != cipherAndTag.Length - TagLength) return false;
        Span<byte> nonce = stackalloc byte[12];
        Nonce(iv, nonce);
        try
        {
            if (_chacha is not null) _chacha.Decrypt(nonce, cipherAndTag[..^TagLength], cipherAndTag[^TagLength..], plain, aad);
            else _gcm!.Decrypt(nonce, cipherAndTag[..^TagLength], cipherAndTag[^TagLength..], plain, aad);
            return true;
        }
        catch (CryptographicException)
        {
            plain.Clear();
            return false;
        }
    }

    /// <summary>A buffer of at least <paramref name="length"/> octets to decrypt into; the caller zeroes what it used.</summary>
    internal Span<byte> Scratch(int length)
    {
        if (_scratch.Length < length) _scratch = new byte[Math.Max(length, 2048)];
        return _scratch.AsSpan(0, length);
    }

    private void Nonce(ReadOnlySpan<byte> iv, Span<byte> nonce)
    {
        if (iv.Length != 8) throw new ArgumentException($"AEAD IV is 8 octets, got {iv.Length}");
        _salt.CopyTo(nonce);
        iv.CopyTo(nonce[4..]);
    }
}
