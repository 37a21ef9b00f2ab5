using System.Numerics;
using System.Security.Cryptography;

namespace ClusterActors.Protocol.Ike;

/// <summary>
/// A Diffie-Hellman group of the KE payload (RFC 7296 §3.4) by its IANA number, which is FortiOS's dhgrp number:
/// MODP 2, 5, 14, 15, 16 (<see cref="ModpGroup"/>) and ECP 19, 20, 21 (<see cref="EcpGroup"/>). The rest of what
/// FortiOS accepts (1, 17, 18, 27-32) is not emulated: <see cref="Find"/> gives null.
/// </summary>
public abstract class DhGroup
{
    public abstract int Id { get; }

    /// <summary>Exact length of the KE payload's key exchange data for this group.</summary>
    public abstract int PublicLength { get; }

    /// <summary>
    /// A fresh private value, big-endian (cheap: only the random source is drawn). Split from <see cref="KeyPairFrom"/>
    /// so the responder can draw in its own order and run the expensive public-value computation off its thread.
    /// </summary>
    public abstract byte[] NewPrivate(IIkeRandom random);

    /// <summary>Our key pair for a private value from <see cref="NewPrivate"/> (the group operation happens here).</summary>
    public abstract DhKeyPair KeyPairFrom(byte[] privateValue);

    public DhKeyPair NewKeyPair(IIkeRandom random) => KeyPairFrom(NewPrivate(random));

    /// <summary>Whether a peer's KE data is a usable public value; never throws on what the wire brought.</summary>
    public abstract bool IsValidPublic(byte[] data);

    /// <summary>The groups the emulator runs, in FortiOS's order.</summary>
    public static readonly IReadOnlyList<int> Supported = [2, 5, 14, 15, 16, 19, 20, 21];

    public static DhGroup? Find(int id) => (DhGroup?)ModpGroup.Find(id) ?? EcpGroup.Find(id);

    public static bool IsSupported(int id) => Find(id) is not null;
}

/// <summary>Our half of one exchange: the public value we send and the secret shared with the peer's.</summary>
public abstract class DhKeyPair
{
    public abstract DhGroup Group { get; }
    public abstract byte[] Public { get; }

    /// <summary>The shared secret as §2.14 feeds it to SKEYSEED; <see cref="IkeFormatException"/> for an invalid peer value.</summary>
    public abstract byte[] SharedSecret(byte[] peerPublic);
}

/// <summary>
/// Random ECP groups of RFC 5903 on the NIST curves, with .NET's <see cref="ECDiffieHellman"/>: 19 (P-256),
/// 20 (P-384), 21 (P-521). KE data is x | y, each left-padded to the field size, without the SEC1 0x04 prefix
/// (RFC 5903 §7); the shared secret is the x coordinate of the shared point alone (§9, the RFC 5903 errata that
/// RFC 7296 implementations follow).
/// </summary>
public sealed class EcpGroup : DhGroup
{
    public override int Id { get; }
    public ECCurve Curve { get; }
    /// <summary>Octets of one coordinate: 32, 48, 66.</summary>
    public int FieldLength { get; }
    /// <summary>Order n of the base point: private values lie in [1, n-1].</summary>
    public BigInteger Order { get; }
    private readonly int _orderBits;

    private EcpGroup(int id, ECCurve curve, int fieldLength)
    {
        Id = id;
        Curve = curve;
        FieldLength = fieldLength;
        // The order as the platform's curve definition has it, rather than typed again here.
        using var probe = ECDiffieHellman.Create(curve);
        Order = new BigInteger(probe.ExportExplicitParameters(false).Curve.Order!, isUnsigned: true, isBigEndian: true);
        _orderBits = (int)Order.GetBitLength();
    }

    public override int PublicLength => 2 * FieldLength;

    public static readonly EcpGroup Group19 = new(19, ECCurve.NamedCurves.nistP256, 32);

    public static readonly EcpGroup Group20 = new(20, ECCurve.NamedCurves.nistP384, 48);

    public static readonly EcpGroup Group21 = new(21, ECCurve.NamedCurves.nistP521, 66);

    public static new EcpGroup? Find(int id) => id switch { 19 => Group19, 20 => Group20, 21 => Group21, _ => null };

    /// <summary>
    /// A private value drawn from <paramref name="random"/> (so a seeded run is reproducible), rejection-sampled into
    /// [1, n-1]; the public point is computed by the platform.
    /// </summary>
    public override byte[] NewPrivate(IIkeRandom random)
    {
        var bytes = (_orderBits + 7) / 8;
        for (var attempt = 0; attempt < 128; attempt++)
        {
            var raw = random.Bytes(bytes);
            var excess = bytes * 8 - _orderBits;
            if (excess > 0) raw[0] &= (byte)(0xFF >> excess);
            var d = new BigInteger(raw, isUnsigned: true, isBigEndian: true);
            if (d >= 1 && d < Order) return raw;
        }
        throw new InvalidOperationException("the random source gave no private value below the group order in 128 draws");
    }

    public override DhKeyPair KeyPairFrom(byte[] privateValue) => FromPrivate(privateValue);

    /// <summary>A key pair from a known private value (RFC 5903 §8 test vectors), big-endian, at most the order's length.</summary>
    public EcpKeyPair FromPrivate(byte[] privateValue)
    {
        var d = new byte[(_orderBits + 7) / 8];
        if (privateValue.Length > d.Length) throw new ArgumentException($"private value longer than {d.Length} octets");
        privateValue.CopyTo(d, d.Length - privateValue.Length);
        return new EcpKeyPair(this, ECDiffieHellman.Create(new ECParameters { Curve = Curve, D = d }));
    }

    public override bool IsValidPublic(byte[] data) => TryImport(data) is { } key && Dispose(key);

    private static bool Dispose(IDisposable d)
    {
        d.Dispose();
        return true;
    }

    /// <summary>The peer's x | y as a platform key, or null when it is not a point on the curve (checked by OpenSSL).</summary>
    internal ECDiffieHellman? TryImport(byte[] data)
    {
        if (data.Length != PublicLength) return null;
        var x = data[..FieldLength];
        var y = data[FieldLength..];
        // The point at infinity has no affine encoding; all zeros is not on any of these curves, but say so plainly.
        if (x.All(b => b == 0) && y.All(b => b == 0)) return null;
        try
        {
            return ECDiffieHellman.Create(new ECParameters { Curve = Curve, Q = new ECPoint { X = x, Y = y } });
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    internal byte[] Pad(byte[] coordinate)
    {
        if (coordinate.Length == FieldLength) return coordinate;
        var padded = new byte[FieldLength];
        coordinate.CopyTo(padded, FieldLength - coordinate.Length);
        return padded;
    }
}

public sealed class EcpKeyPair : DhKeyPair
{
    private readonly EcpGroup _group;
    private readonly ECDiffieHellman _key;

    internal EcpKeyPair(EcpGroup group, ECDiffieHellman key)
    {
        _group = group;
        _key = key;
        var q = key.ExportParameters(false).Q;
        Public = [.. group.Pad(q.X!), .. group.Pad(q.Y!)];
    }

    public override DhGroup Group => _group;

    /// <summary>x | y of our point (RFC 5903 §7).</summary>
    public override byte[] Public { get; }

    /// <summary>The x coordinate of the shared point, padded to the field length (RFC 5903 §9).</summary>
    public override byte[] SharedSecret(byte[] peerPublic)
    {
        using var peer = _group.TryImport(peerPublic)
            ?? throw new IkeFormatException($"KE data is not a point of group {_group.Id}");
        return _group.Pad(_key.DeriveRawSecretAgreement(peer.PublicKey));
    }
}
