using System.Globalization;
using System.Numerics;

namespace ClusterActors.Protocol.Ike;

/// <summary>
/// Finite-field Diffie-Hellman groups with generator 2 (RFC 7296 §3.4): group 2 (1024-bit, RFC 2409 §6.2) and groups
/// 5, 14, 15, 16 (1536 to 4096-bit, RFC 3526). FortiOS's dhgrp numbers are these IANA numbers.
/// </summary>
public sealed class ModpGroup : DhGroup
{
    public override int Id { get; }
    public BigInteger Prime { get; }
    public BigInteger Generator { get; } = 2;
    /// <summary>KE data and g^ir are always this many bytes, left-padded with zeros (§3.4, §2.14).</summary>
    public int ByteLength { get; }
    public override int PublicLength => ByteLength;

    /// <summary>The prime as libcrypto holds it, made at the first exchange of this group (null: libcrypto missing).</summary>
    private readonly Lazy<OpenSslModExp.Modulus?> _modulus;
    private OpenSslModExp.Modulus? Modulus => _modulus.Value;

    /// <summary>Whether this group's exponentiations run in libcrypto (else BigInteger).</summary>
    internal bool ComputesWithLibcrypto => Modulus is not null;

    private ModpGroup(int id, string hex)
    {
        Id = id;
        Prime = BigInteger.Parse("0" + hex.Replace(" ", "").Replace("\n", ""), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        ByteLength = (int)((Prime.GetBitLength() + 7) / 8);
        _modulus = new(() => OpenSslModExp.Available ? new OpenSslModExp.Modulus(ToBytes(Prime)) : null);
    }

    /// <summary>1024-bit MODP, RFC 2409 §6.2 (FortiOS dhgrp 2).</summary>
    public static readonly ModpGroup Group2 = new(2,
        "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD " +
        "EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED " +
        "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE65381 FFFFFFFF FFFFFFFF");

    /// <summary>1536-bit MODP, RFC 3526 §2 (FortiOS dhgrp 5).</summary>
    public static readonly ModpGroup Group5 = new(5,
        "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD " +
        "EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED " +
        "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F " +
        "83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA237327 FFFFFFFF FFFFFFFF");

    /// <summary>2048-bit MODP, RFC 3526 §3 (FortiOS dhgrp 14).</summary>
    public static readonly ModpGroup Group14 = new(14,
        "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD " +
        "EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED " +
        "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F " +
        "83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B " +
        "E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510 " +
        "15728E5A 8AACAA68 FFFFFFFF FFFFFFFF");

    /// <summary>3072-bit MODP, RFC 3526 §4 (FortiOS dhgrp 15).</summary>
    public static readonly ModpGroup Group15 = new(15,
        "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD " +
        "EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED " +
        "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F " +
        "83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B " +
        "E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510 " +
        "15728E5A 8AAAC42D AD33170D 04507A33 A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7 " +
        "ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B F12FFA06 D98A0864 D8760273 3EC86A64 521F2B18 177B200C " +
        "BBE11757 7A615D6C 770988C0 BAD946E2 08E24FA0 74E5AB31 43DB5BFC E0FD108E 4B82D120 A93AD2CA FFFFFFFF FFFFFFFF");

    /// <summary>4096-bit MODP, RFC 3526 §5 (FortiOS dhgrp 16).</summary>
    public static readonly ModpGroup Group16 = new(16,
        "FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 020BBEA6 3B139B22 514A0879 8E3404DD " +
        "EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6 F44C42E9 A637ED6B 0BFF5CB6 F406B7ED " +
        "EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F " +
        "83655D23 DCA3AD96 1C62F356 208552BB 9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B " +
        "E39E772C 180E8603 9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510 " +
        "15728E5A 8AAAC42D AD33170D 04507A33 A85521AB DF1CBA64 ECFB8504 58DBEF0A 8AEA7157 5D060C7D B3970F85 A6E1E4C7 " +
        "ABF5AE8C DB0933D7 1E8C94E0 4A25619D CEE3D226 1AD2EE6B F12FFA06 D98A0864 D8760273 3EC86A64 521F2B18 177B200C " +
        "BBE11757 7A615D6C 770988C0 BAD946E2 08E24FA0 74E5AB31 43DB5BFC E0FD108E 4B82D120 A9210801 1A723C12 A787E6D7 " +
        "88719A10 BDBA5B26 99C32718 6AF4E23C 1A946834 B6150BDA 2583E9CA 2AD44CE8 DBBBC2DB 04DE8EF9 2E8EFC14 1FBECAA6 " +
        "287C5947 4E6BC05D 99B2964F A090C3A2 233BA186 515BE7ED 1F612970 CEE2D7AF B81BDD76 2170481C D0069127 D5B05AA9 " +
        "93B4EA98 8D8FDDC1 86FFB7DC 90A6C08F 4DF435C9 34063199 FFFFFFFF FFFFFFFF");

    public static new ModpGroup? Find(int id) => id switch { 2 => Group2, 5 => Group5, 14 => Group14, 15 => Group15, 16 => Group16, _ => null };

    /// <summary>Big-endian, left-padded to the group length.</summary>
    public byte[] ToBytes(BigInteger v)
    {
        var raw = v.ToByteArray(isUnsigned: true, isBigEndian: true);
        if (raw.Length > ByteLength) throw new ArgumentException("value larger than the group");
        var padded = new byte[ByteLength];
        raw.CopyTo(padded, ByteLength - raw.Length);
        return padded;
    }

    /// <summary>
    /// A private value only (cheap): the key pair's modular exponentiation (<see cref="KeyPairFrom"/>) can then run
    /// elsewhere (IkeResponder's deferred IKE_SA_INIT) while the random source is drawn in the caller's order.
    /// </summary>
    public override byte[] NewPrivate(IIkeRandom random)
    {
        // 256 private bits for groups up to 2048 bits (RFC 3526 §8: twice the strength the group offers), 384 and
        // 512 for the 3072 and 4096-bit groups whose strength is higher.
        var bits = ByteLength > 256 ? (ByteLength > 384 ? 64 : 48) : 32;
        var x = new BigInteger(random.Bytes(bits), isUnsigned: true, isBigEndian: true);
        if (x < 2) x += 2;
        return x.ToByteArray(isUnsigned: true, isBigEndian: true);
    }

    public override DhKeyPair KeyPairFrom(byte[] privateValue) => new ModpKeyPair(this, privateValue);

    /// <summary>
    /// value^exponent mod p, padded to the group length: by libcrypto where it is loaded (14× quicker at 2048 bits and
    /// constant time, <see cref="OpenSslModExp"/>), else by BigInteger.
    /// </summary>
    internal byte[] ModPow(byte[] value, byte[] exponent) =>
        Modulus is { } m ? OpenSslModExp.ModPow(value, exponent, m) : ModPowManaged(value, exponent);

    /// <summary>The same by BigInteger alone: the fallback, and what ModExpSpec checks libcrypto's answers against.</summary>
    internal byte[] ModPowManaged(byte[] value, byte[] exponent) => ToBytes(BigInteger.ModPow(
        new BigInteger(value, isUnsigned: true, isBigEndian: true), new BigInteger(exponent, isUnsigned: true, isBigEndian: true), Prime));

    /// <summary>
    /// The peer's public value must have exactly the group length and lie in (1, p-1): 0, 1 and p-1 would force a
    /// known shared secret.
    /// </summary>
    public override bool IsValidPublic(byte[] data)
    {
        if (data.Length != ByteLength) return false;
        var y = new BigInteger(data, isUnsigned: true, isBigEndian: true);
        return y > 1 && y < Prime - 1;
    }
}

public sealed class ModpKeyPair(ModpGroup group, byte[] privateValue) : DhKeyPair
{
    private static readonly byte[] Two = [2];
    public override DhGroup Group => group;
    public override byte[] Public { get; } = group.ModPow(Two, privateValue);

    /// <summary>g^ir, padded to the group length as §2.14 requires for SKEYSEED.</summary>
    public override byte[] SharedSecret(byte[] peerPublic)
    {
        if (!group.IsValidPublic(peerPublic)) throw new IkeFormatException($"KE data is not a valid group {group.Id} public value");
        return group.ModPow(peerPublic, privateValue);
    }
}
