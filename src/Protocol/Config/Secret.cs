using System.Security.Cryptography;
using System.Text;

namespace ClusterActors.Protocol.Config;

/// <summary>
/// A password or pre-shared key. ToString() is the reversible ENC form under the product key, so logging, string
/// interpolation and `show` can never leak the clear text by accident; code that must use the key asks for
/// <see cref="Clear"/>. Where the ENC form is written to disk, the writer asks for <see cref="EncryptedUnder"/> the
/// unit's own <see cref="PrivateDataKey"/> (`set private-data-encryption enable`).
/// </summary>
public sealed record Secret
{
    private readonly object _gate = new();
    private (PrivateDataKey Key, string Text)? _unitForm;

    public Secret(string clear) : this(clear ?? throw new ArgumentNullException(nameof(clear)), SecretCodec.Encrypt(clear, PrivateDataKey.Product)) { }

    private Secret(string clear, string encrypted, (PrivateDataKey, string)? unitForm = null)
    {
        Clear = clear;
        Encrypted = encrypted;
        _unitForm = unitForm;
    }

    public string Clear { get; }

    /// <summary>
    /// Base64 of IV||AES-CBC(clear) under the product key. Fixed per instance (the IV is random) so rendering the same
    /// document twice, from any thread, yields the same text, and a value read as ENC is written back exactly as read.
    /// </summary>
    public string Encrypted { get; }

    /// <summary>
    /// The ENC text under <paramref name="key"/>: <see cref="Encrypted"/> for the product key; for a unit's own key
    /// base64(nonce||AES-GCM(clear)||tag), fixed per instance and key like <see cref="Encrypted"/>.
    /// </summary>
    public string EncryptedUnder(PrivateDataKey key)
    {
        if (key.IsProduct) return Encrypted;
        lock (_gate)
        {
            if (_unitForm is { } f && ReferenceEquals(f.Key, key)) return f.Text;
            var text = SecretCodec.Encrypt(Clear, key);
            _unitForm = (key, text);
            return text;
        }
    }

    public static Secret FromEncrypted(string base64) => new(SecretCodec.Decrypt(base64, PrivateDataKey.Product), base64);

    public static bool TryFromEncrypted(string base64, out Secret? secret) => TryFromEncrypted(base64, null, out secret);

    /// <summary>
    /// An ENC value under the unit's own key (when given) or the product key: a unit that enabled private data
    /// encryption still reads what it wrote before, and shipped or synced text (product key).
    /// </summary>
    public static bool TryFromEncrypted(string base64, PrivateDataKey? unitKey, out Secret? secret)
    {
        secret = null;
        if (unitKey is { IsProduct: false } && SecretCodec.TryDecrypt(base64, unitKey, out var clear))
        {
            secret = new Secret(clear!, SecretCodec.Encrypt(clear!, PrivateDataKey.Product), (unitKey, base64));
            return true;
        }
        if (SecretCodec.TryDecrypt(base64, PrivateDataKey.Product, out clear))
        {
            secret = new Secret(clear!, base64);
            return true;
        }
        return false;
    }

    public override string ToString() => "ENC " + Encrypted;

    // Equality is about the secret, not about which random IV happened to encrypt it.
    public bool Equals(Secret? other) => other is not null && string.Equals(Clear, other.Clear, StringComparison.Ordinal);
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Clear);
}

/// <summary>
/// The key ENC values are encrypted under. <see cref="Product"/> is the product-wide key: like FortiOS's default ENC it
/// is obfuscation, not protection (anyone with the product reverses it). A unit's own key (FortiOS 7.6.1+: `set
/// private-data-encryption enable` generates a random one) is 256 random bits kept beside the unit's journal
/// (src/Node/Hosting: `private-data.key`, mode 0600); values under it are AES-256-GCM, so a wrong key is detected,
/// never decrypted into garbage.
/// </summary>
public sealed class PrivateDataKey
{
    public const int Length = 32;

    private PrivateDataKey(byte[] bytes, bool product)
    {
        Bytes = bytes;
        IsProduct = product;
    }

    internal byte[] Bytes { get; }
    public bool IsProduct { get; }

    public static PrivateDataKey Product { get; } =
        new(SHA256.HashData(Encoding.UTF8.GetBytes("ClusterActors/FortiOS-ENC/v1 product key")), product: true);

    public static PrivateDataKey Generate() => new(RandomNumberGenerator.GetBytes(Length), product: false);

    /// <summary>64 hexadecimal digits, as the key file holds it; null when the text is not one.</summary>
    public static PrivateDataKey? FromHex(string text)
    {
        var t = text.Trim();
        if (t.Length != 2 * Length || !t.All(char.IsAsciiHexDigit)) return null;
        return new PrivateDataKey(Convert.FromHexString(t), product: false);
    }

    public string ToHex() => Convert.ToHexStringLower(Bytes);

    /// <summary>First 8 hex digits of SHA-256 of the key: names the key in logs without revealing it.</summary>
    public string Fingerprint => IsProduct ? "product" : Convert.ToHexStringLower(SHA256.HashData(Bytes))[..8];

    public override string ToString() => $"PrivateDataKey({Fingerprint})";
}

internal static class SecretCodec
{
    private const int GcmNonce = 12;
    private const int GcmTag = 16;

    public static string Encrypt(string clear, PrivateDataKey key)
    {
        var plain = Encoding.UTF8.GetBytes(clear);
        if (key.IsProduct)
        {
            using var aes = Aes.Create();
            aes.Key = key.Bytes;
            aes.GenerateIV();
            var cipher = aes.EncryptCbc(plain, aes.IV, PaddingMode.PKCS7);
            var blob = new byte[aes.IV.Length + cipher.Length];
            aes.IV.CopyTo(blob, 0);
            cipher.CopyTo(blob, aes.IV.Length);
            return Convert.ToBase64String(blob);
        }
        var sealedBlob = new byte[GcmNonce + plain.Length + GcmTag];
        var nonce = sealedBlob.AsSpan(0, GcmNonce);
        RandomNumberGenerator.Fill(nonce);
        using (var gcm = new AesGcm(key.Bytes, GcmTag))
            gcm.Encrypt(nonce, plain, sealedBlob.AsSpan(GcmNonce, plain.Length), sealedBlob.AsSpan(GcmNonce + plain.Length));
        return Convert.ToBase64String(sealedBlob);
    }

    public static string Decrypt(string base64, PrivateDataKey key) =>
        TryDecrypt(base64, key, out var clear) ? clear! : throw new FormatException("ENC value does not decrypt under this key");

    public static bool TryDecrypt(string base64, PrivateDataKey key, out string? clear)
    {
        clear = null;
        var blob = new byte[base64.Length];
        if (!Convert.TryFromBase64String(base64, blob, out var n)) return false;
        blob = blob[..n];
        try
        {
            byte[] plain;
            if (key.IsProduct)
            {
                if (blob.Length < 32 || blob.Length % 16 != 0) return false;
                using var aes = Aes.Create();
                aes.Key = key.Bytes;
                plain = aes.DecryptCbc(blob.AsSpan(16), blob.AsSpan(0, 16), PaddingMode.PKCS7);
            }
            else
            {
                if (blob.Length < GcmNonce + GcmTag) return false;
                plain = new byte[blob.Length - GcmNonce - GcmTag];
                using var gcm = new AesGcm(key.Bytes, GcmTag);
                gcm.Decrypt(blob.AsSpan(0, GcmNonce), blob.AsSpan(GcmNonce, plain.Length), blob.AsSpan(GcmNonce + plain.Length), plain);
            }
            clear = new UTF8Encoding(false, true).GetString(plain);
            return true;
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or DecoderFallbackException)
        {
            return false;
        }
    }
}
