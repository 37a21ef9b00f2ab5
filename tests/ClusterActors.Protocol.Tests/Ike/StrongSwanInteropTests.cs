using System.Net;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;

namespace ClusterActors.Protocol.Tests.Ike;

/// <summary>
/// Interop regression: the datagrams a real strongSwan 5.9.8 client (Debian 12 charon-systemd, kernel-libipsec,
/// src/Node/lab/strongswan/swanctl.conf: id Nokia_Peer, aes128-sha1-modp1024, esp aes128-sha1, encap = yes,
/// 10.10.1.0/24 === 10.10.101.0/24) sent to our responder, captured by StrongSwanClientSpec's harness
/// (A_strongSwan_client_establishes_with_the_pure_IKE_responder_on_UDP_sockets: responder seeded with 5, vpn1 with
/// nattraversal enable, client 192.168.7.2; then `swanctl --rekey --child lan` and `swanctl --terminate --ike vpn1`). Replayed with the same seed the responder makes the same SPI, nonce and DH
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
        "63E4F7405761B3A40000000000000000212022080000000000000150220000300000002C010100040300000C0100000C"
        + "800E008003000008030000020300000802000002000000080400000228000088000200007115D8D8921879DBED64CC1C"
        + "36574BFCD9F8337E1DA350A9F78D6ED300B9D6CE9119423EA7201842D72745689DEDD5E5483B53BB85619A0D4F001A27"
        + "4FD3612CDCDD357F7F0BFCC2B6D3C51B30E9174568D8CF761911C68AC3375BC1FC6FD19FE2E0A8460F33E529BE64F345"
        + "66C065FC1A3459FF5540A1B2AB1A8342C5BF5CC5290000247D3BDA8030E3B733B0910F44E7CA8E75AD4932798AD2C379"
        + "F99B0784D3A8C0FD2900001C00004004DED93A8B42F972AD09E5E54B4F10019B823F4F642900001C0000400568A92AF5"
        + "C1DD6F6C8F61627A232ED5AC39E0A019290000080000402E290000100000402F00020003000400050000000800004016");

    /// <summary>strongSwan's IKE_AUTH request (message 1) as received on UDP 4500, non-ESP marker included (272 bytes).</summary>
    private static readonly byte[] AuthRequest = Convert.FromHexString(
        "0000000063E4F7405761B3A4F4DD85CFCE1EE2D12E202308000000010000010C230000F0D387F477C9783CF097BF4797"
        + "EDC2EB990B283786FEF91CBDE0AC4A6E791B2F8FEBFBCC66825C5F9284BAA95FAFA3BD967DDBA22B4DE5D74A8C4B55B8"
        + "D48A707193330A8DE3C45DA7E21EC802D41A5343D227B56F40836A91266C794DC1AC33851913B3EA7B81FC351D3B2378"
        + "A0AA46B948D138C820DD6B1E99DC2FD2F9B3845C6320BB847D5944ED557B37FAA3D488EB5ABA56D185DCD9077C737CC3"
        + "352DF4DDA111D856BFBEA6180ACF3788E3C1784A408954E8DDF210B2FB97260CE5633A45CEA72C791FE03D03D867D463"
        + "6E539DF28E2433B6D303E06AA7363679472B989451730F6EB6A596B132F28511");

    /// <summary>`swanctl --rekey --child lan`: CREATE_CHILD_SA (message 2) with REKEY_SA, SA, Ni, TSi, TSr, no KE (208 bytes).</summary>
    private static readonly byte[] RekeyRequest = Convert.FromHexString(
        "0000000063E4F7405761B3A4F4DD85CFCE1EE2D12E20240800000002000000CC290000B0410930DB735837FDB07AE7BB"
        + "2422FE839BB3B3C3AEA72981A4D1869D306142E94940BF50ABFECACBBF62922333D56155CC2D70E95AFC58536ECBBD5F"
        + "AAC835B2AE7646DBBD595EA10257F1E1B3CBC03E486CA16626F9ED411315BD840FB6600AD02CB55D15E7C3A437DD5F43"
        + "706B650C4E3133A6E3FAB0E8E3CFBC1B19E7E56A1DDE15048F8FCED933DCF84168C5389029ADD916C0DD0692D6D34DC4"
        + "05F7FF5AA1581D39F23DC17FED2C33AF");

    /// <summary>then strongSwan's INFORMATIONAL (message 3) deleting the old ESP SA (80 bytes).</summary>
    private static readonly byte[] DeleteChildRequest = Convert.FromHexString(
        "0000000063E4F7405761B3A4F4DD85CFCE1EE2D12E202508000000030000004C2A00003020D559CACE0E6C537BA61B4B"
        + "A49779F553DA4B371831CD674F5BD48DFF573DCB3817DDFF9ACB4D5C35B05F60");

    /// <summary>`swanctl --terminate --ike vpn1`: INFORMATIONAL (message 4) deleting the IKE SA (80 bytes).</summary>
    private static readonly byte[] DeleteIkeRequest = Convert.FromHexString(
        "0000000063E4F7405761B3A4F4DD85CFCE1EE2D12E202508000000040000004C2A0000307B99B03A80438E7B824CD5B7"
        + "4CDF6E0FDF132B12E8F70FE91AD81BA7DC5518271F063BD8043FD01A80B8B35B");

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
        Assert.Equal(0x63E4F7405761B3A4UL, established.Sa.SpiI); // the captured run
        Assert.Equal("Nokia_Peer", established.PeerId);
        Assert.Equal("aes128-sha1", established.Child.Proposal);
        // encap = yes: strongSwan fakes its NAT_DETECTION_SOURCE_IP, so the peer looks NATed and ESP goes in UDP 4500.
        Assert.True(established.Sa.NatT.HasFlag(NatTStatus.PeerBehindNat));
        Assert.True(established.Sa.UdpEncapsulatedEsp);
        Assert.Equal(Client4500, established.Sa.PeerEndpoint);
        Assert.Equal(TrafficSelector.FromCidr("10.10.1.0/24"), Assert.Single(established.Ts.Initiator));
        Assert.Equal(TrafficSelector.FromCidr("10.10.101.0/24"), Assert.Single(established.Ts.Responder));
    }

    [Fact]
    public void StrongSwans_CHILD_SA_rekey_and_both_Deletes_are_answered_in_order()
    {
        var gateway = Gateway();
        gateway.HandleUdp(Client500, IkeUdp.IkePort, InitRequest);
        var established = Assert.IsType<IkeSaEstablished>(Assert.Single(gateway.HandleUdp(Client4500, IkeUdp.NatTPort, AuthRequest).Events));

        var rekey = gateway.HandleUdp(Client4500, IkeUdp.NatTPort, RekeyRequest);
        Assert.Single(rekey.Replies);
        var rekeyed = Assert.IsType<ChildSaRekeyed>(Assert.Single(rekey.Events));
        Assert.Equal(established.Child.OutboundSpi, rekeyed.Old!.OutboundSpi);
        Assert.Equal(3u, rekeyed.Sa.ExpectedPeerRequestId);

        var deleteChild = gateway.HandleUdp(Client4500, IkeUdp.NatTPort, DeleteChildRequest);
        Assert.Single(deleteChild.Replies);
        var childDeleted = Assert.IsType<ChildSaDeleted>(Assert.Single(deleteChild.Events));
        Assert.Equal(established.Child.InboundSpi, childDeleted.Child.InboundSpi);
        // The phase1 actor syncs this state (the unit once kept message 3 here and dropped message 4).
        Assert.Equal(4u, childDeleted.Sa.ExpectedPeerRequestId);

        var deleteIke = gateway.HandleUdp(Client4500, IkeUdp.NatTPort, DeleteIkeRequest);
        Assert.Single(deleteIke.Replies);
        Assert.IsType<IkeSaDeleted>(Assert.Single(deleteIke.Events));
        Assert.Empty(gateway.Sas);
    }
}
