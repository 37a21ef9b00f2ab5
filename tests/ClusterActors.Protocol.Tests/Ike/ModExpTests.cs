using System.Numerics;
using ClusterActors.Protocol.Ike;

namespace ClusterActors.Protocol.Tests.Ike;

/// <summary>
/// The MODP groups' exponentiation by libcrypto (OpenSslModExp) gives BigInteger's bytes, for every group, for the
/// values an exchange meets: g^x, y^x, and values with leading zero octets on either side.
/// </summary>
public class ModExpTests
{
    public static TheoryData<int> Groups => new() { 2, 5, 14, 15, 16 };

    [Fact]
    public void Libcrypto_is_loaded_and_every_MODP_group_computes_with_it()
    {
        // The machine's .NET cryptography runs on OpenSSL, so libcrypto is there: a missing one fails, never skips.
        Assert.True(OpenSslModExp.Available, "libcrypto.so.3 (Debian libssl3) did not load");
        foreach (var id in new[] { 2, 5, 14, 15, 16 })
            Assert.True(ModpGroup.Find(id)!.ComputesWithLibcrypto, $"group {id} computes with BigInteger");
    }

    [Theory]
    [MemberData(nameof(Groups))]
    public void Libcrypto_and_BigInteger_give_the_same_bytes(int id)
    {
        var group = ModpGroup.Find(id)!;
        var rng = new Random(id);
        for (var i = 0; i < 20; i++)
        {
            var exponent = new byte[rng.Next(1, 65)];
            rng.NextBytes(exponent);
            var value = new byte[group.ByteLength];
            rng.NextBytes(value);
            value[0] &= 0x7f; // below p, whose top octet is 0xFF
            if (i % 5 == 0) value.AsSpan(0, 8).Clear(); // a value with leading zero octets
            if (i == 1) value = [2]; // the generator, as the public value is computed
            Assert.Equal(group.ModPowManaged(value, exponent), group.ModPow(value, exponent));
        }
    }

    [Theory]
    [MemberData(nameof(Groups))]
    public void Two_key_pairs_agree_and_the_public_value_is_g_to_the_private(int id)
    {
        var group = ModpGroup.Find(id)!;
        var random = SystemIkeRandom.Instance;
        var xa = group.NewPrivate(random);
        var a = group.KeyPairFrom(xa);
        var b = group.NewKeyPair(random);
        Assert.Equal(a.SharedSecret(b.Public), b.SharedSecret(a.Public));
        Assert.Equal(group.ByteLength, a.Public.Length);
        var expected = BigInteger.ModPow(2, new BigInteger(xa, isUnsigned: true, isBigEndian: true), group.Prime);
        Assert.Equal(group.ToBytes(expected), a.Public);
    }
}
