using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using static ClusterActors.Protocol.Tests.Ike.IkeTestKit;
using static ClusterActors.Protocol.Tests.Ike.RawIke;

namespace ClusterActors.Protocol.Tests.Ike;

internal sealed class RecordingRandom(int seed) : IIkeRandom
{
    private readonly SeededRandom _inner = new(seed);
    public List<byte[]> Draws { get; } = [];
    public byte[] Bytes(int n) { var b = _inner.Bytes(n); Draws.Add(b); return b; }
}

/// <summary>The handshake's keys recomputed from scratch, the way §2.13-2.17 read, with nothing from the library.</summary>
public class KeyDerivationTests
{
    // Typed again from RFC 2409 §6.2 and RFC 3526 §3 on purpose, rather than read from ModpGroup.
    private const string P1024 =
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
        "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF";
    private const string P2048 =
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
        "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
        "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510" +
        "15728E5A8AACAA68FFFFFFFFFFFFFFFF";

    private static BigInteger Hex(string h) => BigInteger.Parse("0" + h, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    private static BigInteger Num(byte[] b) => new(b, isUnsigned: true, isBigEndian: true);

    private static byte[] Pad(BigInteger v, int len)
    {
        var raw = v.ToByteArray(isUnsigned: true, isBigEndian: true);
        return new byte[len - raw.Length].Concat(raw).ToArray();
    }

    [Theory]
    [InlineData(2, P1024, 128)]
    [InlineData(14, P2048, 256)]
    public void Ike_and_child_keys_match_an_independent_derivation(int group, string primeHex, int len)
    {
        var p = Hex(primeHex);
        var rnd = new RecordingRandom(11);
        var responder = new IkeResponder(GatewaySettings(group), rnd);
        var client = new IkeInitiator(ClientSettings(group), Gateway, new SeededRandom(12));
        var init = client.Start();
        var initReply = Single(responder.Handle(Client, init));
        var r = responder.Handle(Client, Single(client.Handle(initReply)));
        var est = Assert.IsType<IkeSaEstablished>(Assert.Single(r.Events));

        var keI = Walk(init, 28, init.Length, init[16]).Single(x => x.Type == 34).Body[4..];
        var keR = Walk(initReply, 28, initReply.Length, initReply[16]).Single(x => x.Type == 34).Body[4..];
        Assert.Equal(len, keI.Length);
        // The gateway's private value is whichever of its random draws reproduces the KE it sent.
        var x = rnd.Draws.Select(Num).Single(c => Pad(BigInteger.ModPow(2, c, p), len).SequenceEqual(keR));
        var gir = Pad(BigInteger.ModPow(Num(keI), x, p), len);

        var sa = est.Sa;
        var skeyseed = HMACSHA1.HashData(sa.Ni.Concat(sa.Nr).ToArray(), gir);
        var spis = BitConverter.GetBytes(sa.SpiI).Reverse().Concat(BitConverter.GetBytes(sa.SpiR).Reverse());
        var km = PrfPlusSha1(skeyseed, sa.Ni.Concat(sa.Nr).Concat(spis).ToArray(), 20 + 20 + 20 + 16 + 16 + 20 + 20);
        Assert.Equal(km[0..20], sa.Keys.SkD);
        Assert.Equal(km[20..40], sa.Keys.SkAi);
        Assert.Equal(km[40..60], sa.Keys.SkAr);
        Assert.Equal(km[60..76], sa.Keys.SkEi);
        Assert.Equal(km[76..92], sa.Keys.SkEr);
        Assert.Equal(km[92..112], sa.Keys.SkPi);
        Assert.Equal(km[112..132], sa.Keys.SkPr);

        // KEYMAT: encr i->r | integ i->r | encr r->i | integ r->i. The gateway receives what the client sends.
        var keymat = PrfPlusSha1(sa.Keys.SkD, sa.Ni.Concat(sa.Nr).ToArray(), 72);
        Assert.Equal(keymat[0..16], est.Child.InboundEncKey);
        Assert.Equal(keymat[16..36], est.Child.InboundAuthKey);
        Assert.Equal(keymat[36..52], est.Child.OutboundEncKey);
        Assert.Equal(keymat[52..72], est.Child.OutboundAuthKey);
    }

    [Fact]
    public void Library_prf_plus_matches_the_written_out_one_across_block_boundaries()
    {
        var key = Enumerable.Range(0, 20).Select(i => (byte)i).ToArray();
        var seed = Enumerable.Range(0, 77).Select(i => (byte)(i * 3)).ToArray();
        foreach (var n in new[] { 1, 19, 20, 21, 72, 132, 400 })
            Assert.Equal(PrfPlusSha1(key, seed, n), IkeSuite.Aes128Sha1.PrfPlus(key, seed, n));
        Assert.Throws<ArgumentOutOfRangeException>(() => IkeSuite.Aes128Sha1.PrfPlus(key, seed, 255 * 20 + 1));
    }

    private static bool ProbablePrime(BigInteger n)
    {
        BigInteger d = n - 1;
        var r = 0;
        while (d.IsEven) { d >>= 1; r++; }
        foreach (var a in new BigInteger[] { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37 })
        {
            var x = BigInteger.ModPow(a, d, n);
            if (x.IsOne || x == n - 1) continue;
            var ok = false;
            for (var i = 1; i < r && !ok; i++) { x = BigInteger.ModPow(x, 2, n); ok = x == n - 1; }
            if (!ok) return false;
        }
        return true;
    }

    [Fact]
    public void Modp_groups_are_the_rfc_safe_primes()
    {
        Assert.Equal(Hex(P1024), ModpGroup.Group2.Prime);
        Assert.Equal(Hex(P2048), ModpGroup.Group14.Prime);
        foreach (var g in new[] { ModpGroup.Group2, ModpGroup.Group14 })
        {
            // A single mistyped hex digit would make p or (p-1)/2 composite.
            Assert.True(ProbablePrime(g.Prime));
            Assert.True(ProbablePrime((g.Prime - 1) / 2));
            Assert.Equal(g.Id == 2 ? 1024 : 2048, g.Prime.GetBitLength());
        }
        Assert.Equal(128, ModpGroup.Group2.ByteLength);
        Assert.Equal(256, ModpGroup.Group14.ByteLength);
    }

    [Fact]
    public void Ke_data_keeps_leading_zero_bytes()
    {
        // Search a seed whose public value is below 2^1016: its big-endian form starts with a zero byte.
        for (var seed = 0; seed < 5000; seed++)
        {
            var pair = ModpGroup.Group2.NewKeyPair(new SeededRandom(seed));
            var y = Num(pair.Public);
            if (y.GetBitLength() > 1016) continue;
            Assert.Equal(128, pair.Public.Length);
            Assert.Equal(0, pair.Public[0]);
            Assert.True(ModpGroup.Group2.IsValidPublic(pair.Public));
            return;
        }
        Assert.Fail("no short public value found");
    }

    [Fact]
    public void Degenerate_public_values_are_rejected()
    {
        var g = ModpGroup.Group2;
        Assert.False(g.IsValidPublic(Pad(0, 128)));
        Assert.False(g.IsValidPublic(Pad(1, 128)));
        Assert.False(g.IsValidPublic(Pad(g.Prime - 1, 128)));
        Assert.False(g.IsValidPublic(Pad(2, 127)));
        Assert.True(g.IsValidPublic(Pad(2, 128)));
        var pair = g.NewKeyPair(new SeededRandom(1));
        Assert.Throws<IkeFormatException>(() => pair.SharedSecret(Pad(1, 128)));
    }

    [Fact]
    public void Sha256_suite_handshake_uses_longer_keys_and_icv()
    {
        var gw = GatewaySettings(14) with { Proposals = ["aes256-sha256", "aes128-sha1"] };
        var cl = ClientSettings(14) with { Proposals = ["aes256-sha256"] };
        var run = Handshake(gw, cl);
        Assert.Equal("aes256-sha256", run.AtGateway.Sa.Proposal);
        Assert.Equal(32, run.AtGateway.Sa.Keys.SkEi.Length);
        Assert.Equal(32, run.AtGateway.Sa.Keys.SkAi.Length);
        Assert.Equal(32, run.AtGateway.Child.InboundEncKey.Length);
        Assert.Equal(32, run.AtGateway.Child.InboundAuthKey.Length);
        Assert.Equal(run.AtClient.Child.OutboundEncKey, run.AtGateway.Child.InboundEncKey);
        var dpd = run.Initiator.Dpd();
        Assert.Equal(16, dpd.Length - 28 - 4 - 16 - 16); // one padding block plus a 16-byte ICV
    }
}
