using System.Buffers.Binary;
using System.Text;

namespace ClusterActors.Protocol.Ike;

/// <summary>The seven IKE SA secrets of §2.14, in the order prf+ produces them.</summary>
public sealed record IkeSaKeys(byte[] SkD, byte[] SkAi, byte[] SkAr, byte[] SkEi, byte[] SkEr, byte[] SkPi, byte[] SkPr);

/// <summary>Child SA key material as RFC 7296 §2.17 lays it out: initiator-to-responder keys first.</summary>
public sealed record ChildKeyMaterial(byte[] EncrIToR, byte[] IntegIToR, byte[] EncrRToI, byte[] IntegRToI);

/// <summary>Key derivation and PSK authentication (§2.13-2.17).</summary>
public static class IkeKeyDerivation
{
    /// <summary>SKEYSEED = prf(Ni | Nr, g^ir).</summary>
    public static byte[] SkeySeed(IkeSuite suite, byte[] ni, byte[] nr, byte[] sharedSecret) => suite.Prf([.. ni, .. nr], sharedSecret);

    /// <summary>{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).</summary>
    public static IkeSaKeys DeriveIkeKeys(IkeSuite suite, byte[] ni, byte[] nr, byte[] sharedSecret, ulong spiI, ulong spiR)
    {
        var seed = SkeySeed(suite, ni, nr, sharedSecret);
        var spis = new byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(spis, spiI);
        BinaryPrimitives.WriteUInt64BigEndian(spis.AsSpan(8), spiR);
        int p = suite.PrfLength, a = suite.IntegKeyLength, e = suite.EncrKeyBytes;
        var km = suite.PrfPlus(seed, [.. ni, .. nr, .. spis], p + 2 * a + 2 * e + 2 * p);
        var o = 0;
        byte[] Take(int n) { var r = km[o..(o + n)]; o += n; return r; }
        return new IkeSaKeys(Take(p), Take(a), Take(a), Take(e), Take(e), Take(p), Take(p));
    }

    /// <summary>
    /// KEYMAT = prf+(SK_d, Ni | Nr) without PFS (§2.17), for the IKE_AUTH child and a no-PFS rekey; with PFS
    /// (<paramref name="pfsSecret"/> = the CREATE_CHILD_SA's new g^ir) prf+(SK_d, g^ir | Ni | Nr).
    /// </summary>
    public static ChildKeyMaterial DeriveChildKeys(IkeSuite ikeSuite, IkeSuite espSuite, byte[] skD, byte[] ni, byte[] nr, byte[]? pfsSecret = null)
    {
        int e = espSuite.EncrKeyBytes, a = espSuite.IntegKeyLength;
        var km = ikeSuite.PrfPlus(skD, [.. pfsSecret ?? [], .. ni, .. nr], 2 * (e + a));
        return new ChildKeyMaterial(km[..e], km[e..(e + a)], km[(e + a)..(2 * e + a)], km[(2 * e + a)..]);
    }

    private static readonly byte[] KeyPad = Encoding.ASCII.GetBytes("Key Pad for IKEv2");

    /// <summary>
    /// Shared-key AUTH (§2.15): prf(prf(PSK, "Key Pad for IKEv2"), RealMessage | NonceData | prf(SK_p, RestOfIDPayload)).
    /// For the initiator's AUTH: its IKE_SA_INIT request, Nr, SK_pi and IDi; for the responder's: its IKE_SA_INIT
    /// response, Ni, SK_pr and IDr.
    /// </summary>
    public static byte[] PskAuth(IkeSuite suite, byte[] psk, byte[] realMessage, byte[] peerNonce, byte[] skP, IdPayload id)
    {
        var signed = SignedOctets(suite, realMessage, peerNonce, skP, id);
        return suite.Prf(suite.Prf(psk, KeyPad), signed);
    }

    public static byte[] SignedOctets(IkeSuite suite, byte[] realMessage, byte[] peerNonce, byte[] skP, IdPayload id) =>
        [.. realMessage, .. peerNonce, .. suite.Prf(skP, id.Body)];

    /// <summary>FortiOS psksecret is plain text; IKE uses its bytes as is.</summary>
    public static byte[] PskBytes(string psk) => Encoding.UTF8.GetBytes(psk);
}
