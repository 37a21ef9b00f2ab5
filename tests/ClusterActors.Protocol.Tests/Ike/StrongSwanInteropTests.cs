using System.Net;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;

namespace ClusterActors.Protocol.Tests.Ike;

/// <summary>
/// Interop regression: the datagrams a real strongSwan 5.9.8 client (Debian 12 charon-systemd, kernel-libipsec,
/// src/Node/lab/strongswan/swanctl.conf: id Nokia_Peer, aes128-sha1-modp1024, esp aes128-sha1, encap = yes,
/// 10.10.1.0/24 === 10.10.101.0/24) sent to our responder, captured by StrongSwanClientSpec's harness
/// (A_strongSwan_client_establishes_with_the_pure_IKE_responder_on_UDP_sockets: responder seeded with 5, vpn1 with
/// nattraversal enable, client 192.168.7.2). Replayed with the same seed the responder makes the same SPI, nonce and DH
/// value, so strongSwan's encrypted IKE_AUTH decrypts and its PSK AUTH verifies here as it did on the wire.
/// What the messages carry that our own initiator never sends: FRAGMENTATION_SUPPORTED, SIGNATURE_HASH_ALGORITHMS and
/// REDIRECT_SUPPORTED in IKE_SA_INIT; a faked NAT_DETECTION_SOURCE_IP (encap = yes); IDr, MOBIKE_SUPPORTED,
/// NO_ADDITIONAL_ADDRESSES, EAP_ONLY_AUTHENTICATION and IKEV2_MESSAGE_ID_SYNC_SUPPORTED in IKE_AUTH, which goes to 4500
/// behind the non-ESP marker.
/// </summary>
public class StrongSwanInteropTests
{
    private static readonly IPEndPoint Client500 = new(IPAddress.Parse("192.168.7.2"), 500);
    private static readonly IPEndPoint Client4500 = new(IPAddress.Parse("192.168.7.2"), 4500);

    /// <summary>strongSwan's IKE_SA_INIT request as received on UDP 500 (336 bytes).</summary>
    private static readonly byte[] InitRequest = Convert.FromHexString(
        "B67314379E49E0D80000000000000000212022080000000000000150220000300000002C010100040300000C0100000C"
        + "800E0080030000080300000203000008020000020000000804000002280000880002000008FD253A41851993F1F22E68"
        + "0E1DB5F4B5385B0671BA3E0B33A4F77BEF8EADAE0AB15A61EAF2256D2EBA38B4A04A65A75FC1085113DF0AB4386B82C8"
        + "216D4C7FA3ECA986815BDD184721DDFAB2B45839D768DA89B757C5A14EF536E232D4149532C4C7C6247A903DC94273A2"
        + "48B77DE906551C7F7878060D184E00A23403E57529000024C01A17A693B5369CFF29E1151A1A0D989927F21200679FA0"
        + "4A479106B2A3121D2900001C0000400454F007422988400A6F1D926F46CBB3DC1E1152F12900001C00004005CB5BB293"
        + "8181483A88230D632A8B2834B3388353290000080000402E290000100000402F00020003000400050000000800004016");

    /// <summary>strongSwan's IKE_AUTH request as received on UDP 4500, non-ESP marker included (272 bytes).</summary>
    private static readonly byte[] AuthRequest = Convert.FromHexString(
        "00000000B67314379E49E0D8F4DD85CFCE1EE2D12E202308000000010000010C230000F01F0C1E24C320352DF08BB0FF"
        + "440C46B54BB14C42F8013D092029961E8A752324D774F12458B25AF08C67B2DAF70F9430ADC3AA3548D4E431F7C16F46"
        + "8952AC9E4D5F4A2517BA99720ADD655B224981532F2CBB3ED33545BDA6D585A32164915E6718754A4F411BF4B4CCB4F7"
        + "7780286B5837533BEA11C70B047D66B8D5A70BE4DCC758D47875E626E4CDFBEA4948A52DCD1B319C02F3D09DE6180203"
        + "6A4992931116A7641F6BB2907082FC80D455B4B71137DAF9C807B8B5C576AD8A91EE61AD74135EE026B6D7E1749A3551"
        + "01D39A1CCAF967E0B9DEA3B45193C50148602B63E8E076A1BE26CB779A61DB4C");

    private sealed class Seeded(int seed) : IIkeRandom
    {
        private readonly Random _r = new(seed);
        public byte[] Bytes(int n) { var b = new byte[n]; _r.NextBytes(b); return b; }
    }

    private static IkeResponder Gateway() => new(new IkeGatewaySettings("scenario-psk", "Nokia_Peer", ["aes128-sha1"], [2],
        IPAddress.Parse("192.168.202.35"), 90000, 10800) { NatTraversal = NatTraversal.Enable }, new Seeded(5));

    [Fact]
    public void StrongSwans_IKE_SA_INIT_is_answered_with_modp1024_and_NAT_detection_despite_its_unknown_status_notifies()
    {
        var request = IkeCodec.Decode(InitRequest);
        var notifies = request.Payloads.OfType<NotifyPayload>().Select(n => (ushort)n.NotifyType).ToList();
        Assert.Equal([16388, 16389, 16430, 16431, 16406], notifies); // NATD_S_IP, NATD_D_IP, FRAG_SUP, HASH_ALG, REDIR_SUP

        var output = Gateway().HandleUdp(Client500, IkeUdp.IkePort, InitRequest);
        Assert.Empty(output.Events);
        var reply = IkeCodec.Decode(Assert.Single(output.Replies));
        Assert.Equal(ExchangeType.IkeSaInit, reply.Header.Exchange);
        Assert.Equal(2, reply.Find<KePayload>()!.DhGroup);
        var transforms = Assert.Single(reply.Find<SaPayload>()!.Proposals).Transforms;
        Assert.Contains(transforms, t => t.Type == TransformType.DhGroup && t.Id == 2);
        Assert.Equal([NotifyType.NatDetectionSourceIp, NotifyType.NatDetectionDestinationIp],
            reply.Payloads.OfType<NotifyPayload>().Select(n => n.NotifyType));
    }

    [Fact]
    public void StrongSwans_IKE_AUTH_on_4500_establishes_the_SA_with_its_peer_ID_narrowed_selectors_and_ESP_in_UDP()
    {
        var gateway = Gateway();
        Assert.Single(gateway.HandleUdp(Client500, IkeUdp.IkePort, InitRequest).Replies);

        var output = gateway.HandleUdp(Client4500, IkeUdp.NatTPort, AuthRequest);
        var reply = Assert.Single(output.Replies);
        Assert.Equal([0, 0, 0, 0], reply[..4]); // framed for 4500
        var established = Assert.IsType<IkeSaEstablished>(Assert.Single(output.Events));
        Assert.Equal("Nokia_Peer", established.PeerId);
        Assert.Equal("aes128-sha1", established.Child.Proposal);
        // encap = yes: strongSwan fakes its NAT_DETECTION_SOURCE_IP, so the peer looks NATed and ESP goes in UDP 4500.
        Assert.True(established.Sa.NatT.HasFlag(NatTStatus.PeerBehindNat));
        Assert.True(established.Sa.UdpEncapsulatedEsp);
        Assert.Equal(Client4500, established.Sa.PeerEndpoint);
        Assert.Equal(TrafficSelector.FromCidr("10.10.1.0/24"), Assert.Single(established.Ts.Initiator));
        Assert.Equal(TrafficSelector.FromCidr("10.10.101.0/24"), Assert.Single(established.Ts.Responder));
    }
}
