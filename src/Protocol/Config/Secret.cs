using System.Security.Cryptography;
using System.Text;

namespace ClusterActors.Protocol.Config;

/// <summary>
/// A password or pre-shared key. ToString() is the reversible ENC form, so logging, string interpolation
/// and `show` can never leak the clear text by accident; code that must use the key asks for <see cref="Clear"/>.
/// </summary>
public sealed record Secret
{
    public Secret(string clear) : this(clear ?? throw new ArgumentNullException(nameof(clear)), SecretCodec.Encrypt(clear)) { }

    private Secret(string clear, string encrypted)
    {
        Clear = clear;
        Encrypted = encrypted;
    }

    public string Clear { get; }

    /// <summary>
    /// Base64 of IV||AES-CBC(clear). Fixed per instance (the IV is random) so rendering the same document
    /// twice, from any thread, yields the same text, and a value read as ENC is written back exactly as read.
    /// </summary>
    public string Encrypted { get; }

    public static Secret FromEncrypted(string base64) => new(SecretCodec.Decrypt(base64), base64);

    public static bool TryFromEncrypted(string base64, out Secret? secret)
    {
        try { secret = FromEncrypted(base64); return true; }
        catch (Exception e) when (e is FormatException or CryptographicException or ArgumentException) { secret = null; return false; }
    }

    public override string ToString() => "ENC " + Encrypted;

    // Equality is about the secret, not about which random IV happened to encrypt it.
    public bool Equals(Secret? other) => other is not null && string.Equals(Clear, other.Clear, StringComparison.Ordinal);
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Clear);
}

/// <summary>
/// Like FortiOS's own ENC, this is obfuscation under a product-wide key, not protection: anyone with the
/// product can reverse it. It exists so configs can be shown, diffed and synced without printing secrets.
/// </summary>
internal static class SecretCodec
{
    private static readonly byte[] ProductKey = SHA256.HashData(Encoding.UTF8.GetBytes("ClusterActors/FortiOS-ENC/v1 product key"));

    public static string Encrypt(string clear)
    {
        using var aes = Aes.Create();
        aes.Key = ProductKey;
        aes.GenerateIV();
        var cipher = aes.EncryptCbc(Encoding.UTF8.GetBytes(clear), aes.IV, PaddingMode.PKCS7);
        var blob = new byte[aes.IV.Length + cipher.Length];
        aes.IV.CopyTo(blob, 0);
        cipher.CopyTo(blob, aes.IV.Length);
        return Convert.ToBase64String(blob);
    }

    public static string Decrypt(string base64)
    {
        var blob = Convert.FromBase64String(base64);
        if (blob.Length < 32 || blob.Length % 16 != 0) throw new FormatException("ENC blob has the wrong length");
        using var aes = Aes.Create();
        aes.Key = ProductKey;
        var plain = aes.DecryptCbc(blob.AsSpan(16), blob.AsSpan(0, 16), PaddingMode.PKCS7);
        return new UTF8Encoding(false, true).GetString(plain);
    }
}
