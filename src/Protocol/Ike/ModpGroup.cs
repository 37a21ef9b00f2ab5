using System.Globalization;
using System.Numerics;

namespace ClusterActors.Protocol.Ike;

/// <summary>
/// Finite-field Diffie-Hellman groups with generator 2: group 2 (1024-bit, RFC 2409 §6.2) and group 14 (2048-bit,
/// RFC 3526 §3). FortiOS's dhgrp numbers are these IANA numbers.
/// </summary>
public sealed class ModpGroup
{
    public int Id { get; }
    public BigInteger Prime { get; }
    public BigInteger Generator { get; } = 2;
    /// <summary>KE data and g^ir are always this many bytes, left-padded with zeros (§3.4, §2.14).</summary>
    public int ByteLength { get; }

    private ModpGroup(int id, string hex)
    {
        Id = id;
        Prime = BigInteger.Parse("0" + hex.Replace(" ", "").Replace("\n", ""), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        ByteLength = (int)((Prime.GetBitLength() + 7) / 8);
    }

    public static readonly ModpGroup Group2 = new(2,
        "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD " +
        "EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED " +
        "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE65381 FFFFFFFF FFFFFFFF");

    public static readonly ModpGroup Group14 = new(14,
        "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD " +
        "EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED " +
        "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F " +
        "83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B " +
        "E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510 " +
        "15728E5A 8AACAA68 FFFFFFFF FFFFFFFF");

    public static ModpGroup? Find(int id) => id switch { 2 => Group2, 14 => Group14, _ => null };
    public static bool IsSupported(int id) => Find(id) is not null;

    /// <summary>Big-endian, left-padded to the group length.</summary>
    public byte[] ToBytes(BigInteger v)
    {
        var raw = v.ToByteArray(isUnsigned: true, isBigEndian: true);
        if (raw.Length > ByteLength) throw new ArgumentException("value larger than the group");
        var padded = new byte[ByteLength];
        raw.CopyTo(padded, ByteLength - raw.Length);
        return padded;
    }

    public DhKeyPair NewKeyPair(IIkeRandom random) => new(this, NewPrivate(random));

    /// <summary>
    /// A private value only (cheap): the key pair's modular exponentiation can then run elsewhere (IkeResponder's
    /// deferred IKE_SA_INIT) while the random source is drawn in the caller's order.
    /// </summary>
    public BigInteger NewPrivate(IIkeRandom random)
    {
        // 256 private bits: at least twice the strength either group offers (RFC 3526 §8).
        var x = new BigInteger(random.Bytes(32), isUnsigned: true, isBigEndian: true);
        if (x < 2) x += 2;
        return x;
    }

    /// <summary>
    /// The peer's public value must have exactly the group length and lie in (1, p-1): 0, 1 and p-1 would force a
    /// known shared secret.
    /// </summary>
    public bool IsValidPublic(byte[] data)
    {
        if (data.Length != ByteLength) return false;
        var y = new BigInteger(data, isUnsigned: true, isBigEndian: true);
        return y > 1 && y < Prime - 1;
    }
}

public sealed class DhKeyPair(ModpGroup group, BigInteger privateValue)
{
    public ModpGroup Group { get; } = group;
    public byte[] Public { get; } = group.ToBytes(BigInteger.ModPow(group.Generator, privateValue, group.Prime));

    /// <summary>g^ir, padded to the group length as §2.14 requires for SKEYSEED.</summary>
    public byte[] SharedSecret(byte[] peerPublic)
    {
        if (!Group.IsValidPublic(peerPublic)) throw new IkeFormatException($"KE data is not a valid group {Group.Id} public value");
        var y = new BigInteger(peerPublic, isUnsigned: true, isBigEndian: true);
        return Group.ToBytes(BigInteger.ModPow(y, privateValue, Group.Prime));
    }
}
