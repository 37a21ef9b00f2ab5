using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace ClusterActors.Protocol.Config;

/// <summary>
/// An administrator's password as FortiOS 7.4.8+/7.6.1+ stores it: never the password, only a salted PBKDF2 hash,
/// shown as `set password ENC PB2…`. Ours is `PB2` + base64(iterations as 4 bytes big-endian ‖ 16-byte salt ‖
/// 32-byte PBKDF2-HMAC-SHA256); FortiOS's own PB2 layout is not published, so a FortiOS hash is not accepted here.
/// A hash is one-way: `private-data-encryption` does not apply to it (FortiOS keeps admin passwords usable when the
/// private key is lost, for the same reason).
/// </summary>
public sealed record AdminPasswordHash
{
    public const string Prefix = "PB2";

    /// <summary>
    /// 100,000 iterations: about 40 ms on one core of the lab machine. Below OWASP's 600,000 for PBKDF2-HMAC-SHA256 so the
    /// lab's many scripted logins stay cheap; the endpoint caches a verified login (AdminLogin) and locks out guessing,
    /// and the count is part of each hash, so a stronger one can be set without breaking old hashes.
    /// </summary>
    public const int DefaultIterations = 100_000;

    public const int MinIterations = 1_000;
    public const int MaxIterations = 10_000_000;
    private const int SaltLength = 16;
    private const int HashLength = 32;

    private readonly byte[] _salt;
    private readonly byte[] _hash;

    private AdminPasswordHash(int iterations, byte[] salt, byte[] hash, string encoded)
    {
        Iterations = iterations;
        _salt = salt;
        _hash = hash;
        Encoded = encoded;
    }

    public int Iterations { get; }

    /// <summary>`PB2…`, as written after `ENC`.</summary>
    public string Encoded { get; }

    public static AdminPasswordHash Create(string password, int iterations = DefaultIterations)
    {
        ArgumentNullException.ThrowIfNull(password);
        if (iterations is < MinIterations or > MaxIterations) throw new ArgumentOutOfRangeException(nameof(iterations));
        var salt = RandomNumberGenerator.GetBytes(SaltLength);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, HashLength);
        var blob = new byte[4 + SaltLength + HashLength];
        BinaryPrimitives.WriteInt32BigEndian(blob, iterations);
        salt.CopyTo(blob, 4);
        hash.CopyTo(blob, 4 + SaltLength);
        return new AdminPasswordHash(iterations, salt, hash, Prefix + Convert.ToBase64String(blob));
    }

    /// <summary>Reads `PB2…` as written by <see cref="Create"/>; null for anything else (never throws).</summary>
    public static AdminPasswordHash? TryParse(string? encoded)
    {
        if (encoded is null || !encoded.StartsWith(Prefix, StringComparison.Ordinal) || encoded.Length > 200) return null;
        var blob = new byte[encoded.Length];
        if (!Convert.TryFromBase64String(encoded[Prefix.Length..], blob, out var n) || n != 4 + SaltLength + HashLength) return null;
        var iterations = BinaryPrimitives.ReadInt32BigEndian(blob);
        if (iterations is < MinIterations or > MaxIterations) return null;
        return new AdminPasswordHash(iterations, blob[4..(4 + SaltLength)], blob[(4 + SaltLength)..n], encoded);
    }

    /// <summary>Constant time in the password's correctness: the whole PBKDF2 runs and the comparison never stops early.</summary>
    public bool Verify(string password)
    {
        var candidate = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password ?? ""), _salt, Iterations, HashAlgorithmName.SHA256, HashLength);
        return CryptographicOperations.FixedTimeEquals(candidate, _hash);
    }

    /// <summary>A hash no password matches, verified instead when the user does not exist, so the answer takes as long.</summary>
    public static AdminPasswordHash Unmatchable { get; } = Create(Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)));

    public override string ToString() => "ENC " + Encoded;
}
