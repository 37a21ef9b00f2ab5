using System.Net;
using System.Security.Cryptography;
using System.Text;
using ClusterActors.Protocol.Ike;
using static ClusterActors.Protocol.Tests.Ike.IkeTestKit;
using static ClusterActors.Protocol.Tests.Ike.RawIke;

namespace ClusterActors.Protocol.Tests.Ike;

/// <summary>Generated datagrams read back field by field with RFC 7296 offsets, independent of the codec.</summary>
public class WireTests
{
    private static void AssertTransform(byte[] b, int o, bool last, byte type, ushort id, int attrBytes)
    {
        Assert.Equal(last ? 0 : 3, b[o]);            // last substruc
        Assert.Equal(0, b[o + 1]);
        Assert.Equal(8 + attrBytes, U16(b, o + 2));  // transform length
        Assert.Equal(type, b[o + 4]);
        Assert.Equal(0, b[o + 5]);
        Assert.Equal(id, U16(b, o + 6));
    }

    /// <summary>ENCR_AES_CBC/128, PRF_HMAC_SHA1, AUTH_HMAC_SHA1_96, DH group: FortiOS "aes128-sha1" + dhgrp.</summary>
    private static void AssertIkeSaBody(byte[] sa, int group)
    {
        Assert.Equal(0, sa[0]);                 // last proposal
        Assert.Equal(sa.Length, U16(sa, 2));    // proposal length fills the payload
        Assert.Equal(1, sa[4]);                 // proposal #1
        Assert.Equal(1, sa[5]);                 // protocol IKE
        Assert.Equal(0, sa[6]);                 // no SPI in IKE_SA_INIT
        Assert.Equal(4, sa[7]);                 // 4 transforms
        AssertTransform(sa, 8, false, 1, 12, 4);
        Assert.Equal(0x800E, U16(sa, 16));      // TV attribute 14 = key length
        Assert.Equal(128, U16(sa, 18));
        AssertTransform(sa, 20, false, 2, 2, 0);
        AssertTransform(sa, 28, false, 3, 2, 0);
        AssertTransform(sa, 36, true, 4, (ushort)group, 0);
        Assert.Equal(44, sa.Length);
    }

    [Fact]
    public void Ike_sa_init_request_and_response_field_by_field()
    {
        var run = Handshake();
        var m = run.InitRequest;
        Assert.Equal(run.AtGateway.Sa.SpiI, U64(m, 0));
        Assert.Equal(0ul, U64(m, 8));           // SPIr zero in the first message
        Assert.Equal(33, m[16]);                // next payload SA
        Assert.Equal(0x20, m[17]);              // version 2.0
        Assert.Equal(34, m[18]);                // IKE_SA_INIT
        Assert.Equal(0x08, m[19]);              // I flag only
        Assert.Equal(0u, U32(m, 20));
        Assert.Equal((uint)m.Length, U32(m, 24));

        var p = Walk(m, 28, m.Length, m[16]);
        Assert.Equal(new byte[] { 33, 34, 40 }, p.Select(x => x.Type));
        Assert.All(p, x => Assert.False(x.Critical));
        AssertIkeSaBody(p[0].Body, 2);
        var ke = p[1].Body;
        Assert.Equal(2, U16(ke, 0));            // DH group 2
        Assert.Equal(0, U16(ke, 2));
        Assert.Equal(128, ke.Length - 4);       // 1024-bit group: exactly 128 bytes of KE data
        Assert.Equal(run.AtGateway.Sa.Ni, p[2].Body);
        Assert.Equal(32, p[2].Body.Length);

        var r = run.InitResponse;
        Assert.Equal(run.AtGateway.Sa.SpiI, U64(r, 0));
        Assert.Equal(run.AtGateway.Sa.SpiR, U64(r, 8));
        Assert.Equal(34, r[18]);
        Assert.Equal(0x20, r[19]);              // R flag, not I
        Assert.Equal(0u, U32(r, 20));
        var rp = Walk(r, 28, r.Length, r[16]);
        Assert.Equal(new byte[] { 33, 34, 40 }, rp.Select(x => x.Type));
        AssertIkeSaBody(rp[0].Body, 2);
        Assert.Equal(128, rp[1].Body.Length - 4);
        Assert.Equal(run.AtGateway.Sa.Nr, rp[2].Body);
    }

    private static void AssertEspSa(byte[] sa, uint spi)
    {
        Assert.Equal(0, sa[0]);
        Assert.Equal(sa.Length, U16(sa, 2));
        Assert.Equal(1, sa[4]);
        Assert.Equal(3, sa[5]);                 // ESP
        Assert.Equal(4, sa[6]);                 // SPI size
        Assert.Equal(3, sa[7]);                 // ENCR, INTEG, ESN
        Assert.Equal(spi, U32(sa, 8));
        AssertTransform(sa, 12, false, 1, 12, 4);
        Assert.Equal(0x800E, U16(sa, 20));
        Assert.Equal(128, U16(sa, 22));
        AssertTransform(sa, 24, false, 3, 2, 0);
        AssertTransform(sa, 32, true, 5, 0, 0); // no ESN
    }

    private static (IPAddress Start, IPAddress End) AssertSingleSelector(byte[] ts)
    {
        Assert.Equal(1, ts[0]);                 // number of TSs
        Assert.Equal(7, ts[4]);                 // TS_IPV4_ADDR_RANGE
        Assert.Equal(0, ts[5]);                 // any protocol
        Assert.Equal(16, U16(ts, 6));
        Assert.Equal(0, U16(ts, 8));
        Assert.Equal(65535, U16(ts, 10));
        Assert.Equal(20, ts.Length);
        return (new IPAddress(ts[12..16]), new IPAddress(ts[16..20]));
    }

    [Fact]
    public void Ike_auth_request_decrypted_and_walked_independently()
    {
        var run = Handshake();
        var sa = run.AtGateway.Sa;
        var m = run.AuthRequest;
        Assert.Equal(sa.SpiI, U64(m, 0));
        Assert.Equal(sa.SpiR, U64(m, 8));
        Assert.Equal(35, m[18]);                // IKE_AUTH
        Assert.Equal(0x08, m[19]);
        Assert.Equal(1u, U32(m, 20));
        Assert.Equal((uint)m.Length, U32(m, 24));

        var (first, plain) = DecryptSk(m, sa.Keys.SkEi, sa.Keys.SkAi);
        var p = Walk(plain, 0, plain.Length, first);
        Assert.Equal(new byte[] { 35, 41, 39, 33, 44, 45 }, p.Select(x => x.Type));

        var idi = p[0].Body;
        Assert.Equal(2, idi[0]);                // ID_FQDN
        Assert.Equal("Nokia_Peer", Encoding.ASCII.GetString(idi[4..]));
        var n = p[1].Body;
        Assert.Equal(0, n[0]);
        Assert.Equal(0, n[1]);
        Assert.Equal(16384, U16(n, 2));         // INITIAL_CONTACT
        var auth = p[2].Body;
        Assert.Equal(2, auth[0]);               // shared key MIC
        Assert.Equal(24, auth.Length);

        // AUTH = prf(prf(PSK, "Key Pad for IKEv2"), IKE_SA_INIT request | Nr | prf(SK_pi, IDi body)).
        var signed = run.InitRequest.Concat(sa.Nr).Concat(HMACSHA1.HashData(sa.Keys.SkPi, idi)).ToArray();
        var key = HMACSHA1.HashData(Encoding.ASCII.GetBytes(Psk), Encoding.ASCII.GetBytes("Key Pad for IKEv2"));
        Assert.Equal(HMACSHA1.HashData(key, signed), auth[4..]);

        AssertEspSa(p[3].Body, run.AtClient.Child.InboundSpi);
        var (tsiStart, tsiEnd) = AssertSingleSelector(p[4].Body);
        Assert.Equal(IPAddress.Parse("10.10.1.0"), tsiStart);
        Assert.Equal(IPAddress.Parse("10.10.1.255"), tsiEnd);
        var (tsrStart, tsrEnd) = AssertSingleSelector(p[5].Body);
        Assert.Equal(IPAddress.Any, tsrStart);
        Assert.Equal(IPAddress.Broadcast, tsrEnd);
    }

    [Fact]
    public void Ike_auth_response_decrypted_and_walked_independently()
    {
        var run = Handshake();
        var sa = run.AtGateway.Sa;
        var m = run.AuthResponse;
        Assert.Equal(35, m[18]);
        Assert.Equal(0x20, m[19]);              // response from the original responder
        Assert.Equal(1u, U32(m, 20));

        var (first, plain) = DecryptSk(m, sa.Keys.SkEr, sa.Keys.SkAr);
        var p = Walk(plain, 0, plain.Length, first);
        Assert.Equal(new byte[] { 36, 39, 33, 44, 45 }, p.Select(x => x.Type));
        var idr = p[0].Body;
        Assert.Equal(1, idr[0]);                // ID_IPV4_ADDR: the local-gw
        Assert.Equal(Gateway, new IPAddress(idr[4..]));

        var signed = run.InitResponse.Concat(sa.Ni).Concat(HMACSHA1.HashData(sa.Keys.SkPr, idr)).ToArray();
        var key = HMACSHA1.HashData(Encoding.ASCII.GetBytes(Psk), Encoding.ASCII.GetBytes("Key Pad for IKEv2"));
        Assert.Equal(2, p[1].Body[0]);
        Assert.Equal(HMACSHA1.HashData(key, signed), p[1].Body[4..]);

        AssertEspSa(p[2].Body, run.AtGateway.Child.InboundSpi);
        Assert.Equal(IPAddress.Parse("10.10.1.0"), AssertSingleSelector(p[3].Body).Start);
        Assert.Equal(IPAddress.Broadcast, AssertSingleSelector(p[4].Body).End);
    }

    [Fact]
    public void Notify_delete_and_nat_detection_payloads_encode_per_rfc()
    {
        var natd = NatDetection.Hash(0x0102030405060708, 0, IPAddress.Parse("192.168.201.10"), 500);
        var expectedNatd = SHA1.HashData(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 192, 168, 201, 10, 0x01, 0xF4 });
        Assert.Equal(expectedNatd, natd);

        var msg = IkeCodec.Encode(new IkeHeader(1, 2, PayloadType.None, IkeHeader.Ikev2, ExchangeType.IkeSaInit, IkeFlags.Initiator, 0),
        [
            new NotifyPayload(NotifyType.NatDetectionSourceIp, natd),
            new NotifyPayload(NotifyType.NatDetectionDestinationIp, natd),
            new NotifyPayload(NotifyType.InvalidKePayload, [0, 14]),
            new DeletePayload(ProtocolId.Esp, 4, [[0xde, 0xad, 0xbe, 0xef], [0, 0, 1, 0]]),
            new NotifyPayload(ProtocolId.Esp, [1, 2, 3, 4], NotifyType.RekeySa, []),
        ]);
        var p = Walk(msg, 28, msg.Length, msg[16]);
        Assert.Equal(new byte[] { 41, 41, 41, 42, 41 }, p.Select(x => x.Type));
        Assert.Equal(16388, U16(p[0].Body, 2));
        Assert.Equal(natd, p[0].Body[4..]);
        Assert.Equal(16389, U16(p[1].Body, 2));
        Assert.Equal(17, U16(p[2].Body, 2));
        Assert.Equal(14, U16(p[2].Body, 4));
        Assert.Equal(new byte[] { 3, 4, 0, 2, 0xde, 0xad, 0xbe, 0xef, 0, 0, 1, 0 }, p[3].Body);
        Assert.Equal(new byte[] { 3, 4, 0x40, 0x09, 1, 2, 3, 4 }, p[4].Body);

        var back = IkeCodec.Decode(msg);
        Assert.Equal(5, back.Payloads.Count);
        var del = Assert.IsType<DeletePayload>(back.Payloads[3]);
        Assert.Equal(2, del.Spis.Count);
        Assert.Equal(NotifyType.RekeySa, Assert.IsType<NotifyPayload>(back.Payloads[4]).NotifyType);
    }

    [Fact]
    public void Decoder_round_trips_what_the_encoder_wrote()
    {
        var run = Handshake();
        var msg = IkeCodec.Decode(run.InitRequest);
        Assert.Equal(run.InitRequest, IkeCodec.Encode(msg.Header, msg.Payloads));
        var auth = IkeCodec.Decode(run.AuthRequest);
        var sk = Assert.IsType<EncryptedPayload>(Assert.Single(auth.Payloads));
        Assert.Equal(PayloadType.IDi, sk.FirstInner);
        var sa = run.AtGateway.Sa;
        var inner = IkeCodec.DecryptPayloads(run.AuthRequest, auth, new SkKeys(IkeSuite.Aes128Sha1, sa.Keys.SkEi, sa.Keys.SkAi));
        Assert.Equal("Nokia_Peer", Assert.IsType<IdPayload>(inner[0]).Text);
        var ts = Assert.IsType<TsPayload>(inner[4]);
        Assert.Equal(TrafficSelector.FromCidr("10.10.1.0/24"), Assert.Single(ts.Selectors));
    }
}
