using System.Net;
using System.Security.Cryptography;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using static ClusterActors.Protocol.Tests.Ike.IkeTestKit;

namespace ClusterActors.Protocol.Tests.Ike;

/// <summary>
/// NAT traversal (RFC 7296 §2.23, RFC 3948): NAT detection hashes, the float to UDP 4500 with the non-ESP marker,
/// answering the port a request came from, and what both ends record. A NAT is simulated by giving the gateway a
/// different source (client NAT) or by the client dialling an address the gateway does not own (gateway NAT).
/// </summary>
public class NatTraversalTests
{
    private const ushort NatDSource = 16388, NatDDestination = 16389;

    // ---- the network between them --------------------------------------------------------------------------

    /// <summary>
    /// The client sends from <see cref="ClientLocal"/>; the gateway sees it as <see cref="ClientPublic"/> with the
    /// NAT's mapped ports; the client dials <see cref="Dialled"/>, which reaches the gateway's local-gw on the same port.
    /// </summary>
    private sealed record NatPath(IPAddress ClientLocal, IPAddress ClientPublic, int Public500, int Public4500, IPAddress Dialled)
    {
        public IPEndPoint SeenFrom(int clientPort) => new(ClientPublic, clientPort == 500 ? Public500 : clientPort == 4500 ? Public4500 : clientPort);
    }

    private static readonly IPAddress ClientPrivate = IPAddress.Parse("10.10.7.2");
    private static readonly IPAddress NatPublic = IPAddress.Parse("203.0.113.9");
    private static readonly IPAddress GatewayPublic = IPAddress.Parse("198.51.100.35");

    private static readonly NatPath NoNat = new(Client, Client, 500, 4500, Gateway);
    private static readonly NatPath ClientNat = new(ClientPrivate, NatPublic, 31000, 31001, Gateway);
    private static readonly NatPath GatewayNat = new(Client, Client, 500, 4500, GatewayPublic);
    private static readonly NatPath BothNat = new(ClientPrivate, NatPublic, 31000, 31001, GatewayPublic);

    private static NatPath PathNamed(string name) => name switch
    {
        "none" => NoNat,
        "client" => ClientNat,
        "gateway" => GatewayNat,
        "both" => BothNat,
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    private sealed record Wire(int ClientPort, int GatewayPort, IPEndPoint SeenFrom, byte[] Request, byte[] Reply);

    private sealed record NatRun(IkeInitiator Initiator, IkeResponder Responder, IkeSaEstablished AtGateway, IkeSaEstablished AtClient, List<Wire> Exchanges);

    /// <summary>The whole IKE_SA_INIT + IKE_AUTH over "UDP": payloads framed as the sockets would, through the NAT path.</summary>
    private static NatRun Dial(NatTraversal gatewayMode, NatTraversal clientMode, NatPath path, int clientStartPort = 500, int gatewayStartPort = 500)
    {
        var responder = new IkeResponder(GatewaySettings() with { NatTraversal = gatewayMode }, new SeededRandom(1));
        var initiator = new IkeInitiator(ClientSettings() with { NatTraversal = clientMode },
            new IPEndPoint(path.ClientLocal, clientStartPort), new IPEndPoint(path.Dialled, gatewayStartPort), new SeededRandom(1001));
        var wire = new List<Wire>();
        IkeSaEstablished? atGateway = null;
        var payload = initiator.Frame(initiator.Start());
        for (var round = 0; round < 3; round++)
        {
            int clientPort = initiator.LocalPort, gatewayPort = initiator.GatewayPort;
            var from = path.SeenFrom(clientPort);
            var r = responder.HandleUdp(from, gatewayPort, payload);
            atGateway ??= r.Events.OfType<IkeSaEstablished>().SingleOrDefault();
            var reply = Single(r);
            wire.Add(new Wire(clientPort, gatewayPort, from, payload, reply));
            var c = initiator.HandleUdp(clientPort, reply);
            if (c.Events.OfType<IkeSaEstablished>().SingleOrDefault() is { } atClient)
            {
                Assert.Empty(c.Replies);
                Assert.NotNull(atGateway);
                return new NatRun(initiator, responder, atGateway, atClient, wire);
            }
            Assert.DoesNotContain(c.Events, e => e is IkeRefused);
            payload = Single(c);
        }
        throw new InvalidOperationException("no SA after three exchanges");
    }

    // ---- hashes ------------------------------------------------------------------------------------------

    /// <summary>SHA-1(SPIi | SPIr | IPv4 | port), assembled byte by byte here rather than with the library's helper.</summary>
    private static byte[] ExpectedHash(ulong spiI, ulong spiR, IPAddress ip, int port)
    {
        var data = new List<byte>();
        for (var i = 7; i >= 0; i--) data.Add((byte)(spiI >> (8 * i)));
        for (var i = 7; i >= 0; i--) data.Add((byte)(spiR >> (8 * i)));
        data.AddRange(ip.GetAddressBytes());
        data.Add((byte)(port >> 8));
        data.Add((byte)port);
        using var sha1 = SHA1.Create();
        return sha1.ComputeHash(data.ToArray());
    }

    [Theory]
    // Vectors from Python's hashlib over struct.pack('>QQ', spiI, spiR) + inet_aton(ip) + struct.pack('>H', port).
    [InlineData(0x0102030405060708UL, 0UL, "192.168.7.2", 500, "744C715682C7E137B950A14D9A2CFC4D3B4CDABC")]
    [InlineData(0x0102030405060708UL, 0xa1a2a3a4a5a6a7a8UL, "192.168.202.35", 4500, "B6CBC4F32615772BEA165A83D2F72957FD6529F9")]
    public void Nat_detection_hash_matches_known_vectors(ulong spiI, ulong spiR, string ip, int port, string sha1)
    {
        var address = IPAddress.Parse(ip);
        Assert.Equal(sha1, Convert.ToHexString(NatDetection.Hash(spiI, spiR, address, (ushort)port)));
        Assert.Equal(sha1, Convert.ToHexString(ExpectedHash(spiI, spiR, address, port)));
        Assert.Equal(sha1, Convert.ToHexString(NatDetection.Hash(spiI, spiR, new IPEndPoint(address, port))));
    }

    [Fact]
    public void Forced_source_hash_is_over_the_unspecified_address_and_port_zero()
    {
        Assert.Equal("DC6F56C4BBEDD7FFCA56E2C3495FF19601C312E9", Convert.ToHexString(NatDetection.ForcedSource(0x0102030405060708UL, 0).Data));
    }

    /// <summary>The notifies of a clear-text IKE message, read with the test's own RFC §3 walker.</summary>
    private static List<(ushort Type, byte[] Data)> RawNotifies(byte[] message)
    {
        var payloads = RawIke.Walk(message, 28, message.Length, message[16]);
        return payloads.Where(p => p.Type == 41).Select(p =>
        {
            var spiSize = p.Body[1];
            return (RawIke.U16(p.Body, 2), p.Body[(4 + spiSize)..]);
        }).ToList();
    }

    [Fact]
    public void Both_init_messages_carry_hashes_of_the_addresses_each_side_sends_from_and_to()
    {
        var run = Dial(NatTraversal.Enable, NatTraversal.Enable, ClientNat);
        var init = run.Exchanges[0];
        var spiI = RawIke.U64(init.Request, 0);
        var spiR = RawIke.U64(init.Reply, 8);
        Assert.Equal(0UL, RawIke.U64(init.Request, 8));

        // Request: SPIr zero, source = where the client believes it is, destination = what it dialled.
        var request = RawNotifies(init.Request);
        Assert.Equal([NatDSource, NatDDestination], request.Select(n => n.Type));
        Assert.Equal(ExpectedHash(spiI, 0, ClientPrivate, 500), request[0].Data);
        Assert.Equal(ExpectedHash(spiI, 0, Gateway, 500), request[1].Data);

        // Response: both SPIs, source = the gateway's local-gw, destination = the client as the gateway saw it.
        var reply = RawNotifies(init.Reply);
        Assert.Equal([NatDSource, NatDDestination], reply.Select(n => n.Type));
        Assert.Equal(ExpectedHash(spiI, spiR, Gateway, 500), reply[0].Data);
        Assert.Equal(ExpectedHash(spiI, spiR, NatPublic, 31000), reply[1].Data);
    }

    // ---- no NAT ------------------------------------------------------------------------------------------

    [Fact]
    public void Without_a_nat_the_hashes_match_and_everything_stays_on_500()
    {
        var run = Dial(NatTraversal.Enable, NatTraversal.Enable, NoNat);
        Assert.All(run.Exchanges, w => Assert.Equal((500, 500), (w.ClientPort, w.GatewayPort)));
        // No marker anywhere: the IKE_AUTH request starts with SPIi like any message on 500.
        Assert.Equal(RawIke.U64(run.Exchanges[0].Request, 0), RawIke.U64(run.Exchanges[1].Request, 0));
        Assert.Equal(NatTStatus.None, run.Initiator.NatT);
        foreach (var sa in new[] { run.AtGateway.Sa, run.AtClient.Sa })
        {
            Assert.Equal(NatTStatus.None, sa.NatT);
            Assert.False(sa.UdpEncapsulatedEsp);
            Assert.Equal(500, sa.LocalPort);
            Assert.Equal(500, sa.PeerPort);
            Assert.Equal("none", sa.NatT.FortiOsMode());
        }
        Assert.Equal(new IPEndPoint(Client, 500), run.AtGateway.Sa.PeerEndpoint);
    }

    // ---- a NAT on either side or both --------------------------------------------------------------------

    [Theory]
    [InlineData("client", NatTStatus.PeerBehindNat, NatTStatus.LocalBehindNat)]
    [InlineData("gateway", NatTStatus.LocalBehindNat, NatTStatus.PeerBehindNat)]
    [InlineData("both", NatTStatus.Both, NatTStatus.Both)]
    public void A_nat_moves_ike_to_4500_with_the_marker_and_the_gateway_answers_the_observed_port(string natAt, NatTStatus atGateway, NatTStatus atClient)
    {
        var path = PathNamed(natAt);
        var run = Dial(NatTraversal.Enable, NatTraversal.Enable, path);
        Assert.Equal(2, run.Exchanges.Count);
        var (init, auth) = (run.Exchanges[0], run.Exchanges[1]);

        // IKE_SA_INIT on 500, no marker; IKE_AUTH on 4500, marker on both the request and the answer.
        Assert.Equal((500, 500), (init.ClientPort, init.GatewayPort));
        Assert.NotEqual(0u, RawIke.U32(init.Request, 0));
        Assert.Equal((4500, 4500), (auth.ClientPort, auth.GatewayPort));
        Assert.Equal(UdpEncapKind.Ike, UdpEncap.Classify(auth.Request));
        Assert.Equal(UdpEncapKind.Ike, UdpEncap.Classify(auth.Reply));
        Assert.Equal(0u, RawIke.U32(auth.Request, 0));
        Assert.Equal(RawIke.U64(init.Request, 0), RawIke.U64(auth.Request, 4));
        Assert.Equal(35, auth.Request[4 + 18]); // IKE_AUTH exchange type behind the marker

        Assert.Equal(atGateway, run.AtGateway.Sa.NatT);
        Assert.Equal(atClient, run.AtClient.Sa.NatT);
        Assert.Equal(atClient, run.Initiator.NatT);
        Assert.Equal(atGateway, atClient.AsSeenByPeer());

        // The gateway records the port the IKE_AUTH came from: the NAT's mapping of 4500, not 4500 itself.
        Assert.Equal(4500, run.AtGateway.Sa.LocalPort);
        Assert.Equal(path.SeenFrom(4500), run.AtGateway.Sa.PeerEndpoint);
        Assert.Equal(4500, run.AtClient.Sa.LocalPort);
        Assert.Equal(new IPEndPoint(path.Dialled, 4500), run.AtClient.Sa.PeerEndpoint);
        Assert.Equal(new IPEndPoint(path.Dialled, 4500), run.Initiator.GatewayEndpoint);
        Assert.True(run.AtGateway.Sa.UdpEncapsulatedEsp);
        Assert.True(run.AtClient.Sa.UdpEncapsulatedEsp);
        Assert.Equal("keepalive", run.AtGateway.Sa.NatT.FortiOsMode());

        // Both sides derived the same keys, so the float did not disturb the exchange itself.
        Assert.Equal(run.AtGateway.Sa.Keys.SkD, run.AtClient.Sa.Keys.SkD);
        Assert.Equal(run.AtGateway.Child.InboundSpi, run.AtClient.Child.OutboundSpi);
    }

    [Fact]
    public void With_a_client_nat_the_gateways_own_requests_go_to_the_mapped_port_with_the_marker()
    {
        var run = Dial(NatTraversal.Enable, NatTraversal.Enable, ClientNat);
        var sa = run.AtGateway.Sa;
        var dpd = IkeUdp.Frame(run.Responder.CreateDpd(sa.SpiR), sa.LocalPort);
        Assert.Equal(new IPEndPoint(NatPublic, 31001), sa.PeerEndpoint);
        Assert.Equal(UdpEncapKind.Ike, UdpEncap.Classify(dpd));
        var answer = run.Initiator.HandleUdp(4500, dpd);
        var back = Single(answer);
        Assert.Equal(UdpEncapKind.Ike, UdpEncap.Classify(back));
        var confirmed = run.Responder.HandleUdp(sa.PeerEndpoint, 4500, back);
        Assert.IsType<IkeDpdConfirmed>(Assert.Single(confirmed.Events));
    }

    // ---- forced ------------------------------------------------------------------------------------------

    [Fact]
    public void Forced_on_the_gateway_floats_a_client_that_is_behind_no_nat()
    {
        var run = Dial(NatTraversal.Forced, NatTraversal.Enable, NoNat);
        Assert.Equal(NatTStatus.Forced, run.AtGateway.Sa.NatT);
        // The gateway's deliberately wrong source hash makes the client think the gateway is behind a NAT.
        Assert.Equal(NatTStatus.PeerBehindNat, run.AtClient.Sa.NatT);
        var reply = RawNotifies(run.Exchanges[0].Reply);
        Assert.Equal(NatDetection.ForcedSource(run.AtGateway.Sa.SpiI, run.AtGateway.Sa.SpiR).Data, reply[0].Data);
        Assert.Equal((4500, 4500), (run.Exchanges[1].ClientPort, run.Exchanges[1].GatewayPort));
        Assert.Equal(new IPEndPoint(Client, 4500), run.AtGateway.Sa.PeerEndpoint);
        Assert.True(run.AtGateway.Sa.UdpEncapsulatedEsp);
        Assert.True(run.AtClient.Sa.UdpEncapsulatedEsp);
    }

    [Fact]
    public void Forced_on_the_client_floats_and_the_gateway_sees_it_behind_a_nat()
    {
        var run = Dial(NatTraversal.Enable, NatTraversal.Forced, NoNat);
        Assert.Equal(NatTStatus.Forced, run.AtClient.Sa.NatT);
        Assert.Equal(NatTStatus.PeerBehindNat, run.AtGateway.Sa.NatT);
        var request = RawNotifies(run.Exchanges[0].Request);
        Assert.NotEqual(ExpectedHash(run.AtClient.Sa.SpiI, 0, Client, 500), request[0].Data);
        Assert.Equal(ExpectedHash(run.AtClient.Sa.SpiI, 0, Gateway, 500), request[1].Data);
        Assert.Equal((4500, 4500), (run.Exchanges[1].ClientPort, run.Exchanges[1].GatewayPort));
    }

    [Fact]
    public void Forced_keeps_what_was_really_detected_next_to_the_flag()
    {
        var run = Dial(NatTraversal.Forced, NatTraversal.Forced, ClientNat);
        Assert.Equal(NatTStatus.Forced | NatTStatus.PeerBehindNat, run.AtGateway.Sa.NatT);
        // The gateway's fake source hash adds "peer behind NAT" to the client's real "local behind NAT".
        Assert.Equal(NatTStatus.Forced | NatTStatus.Both, run.AtClient.Sa.NatT);
    }

    // ---- disable -----------------------------------------------------------------------------------------

    [Theory]
    [InlineData(NatTraversal.Disable, NatTraversal.Enable)]
    [InlineData(NatTraversal.Disable, NatTraversal.Forced)]
    [InlineData(NatTraversal.Enable, NatTraversal.Disable)]
    [InlineData(NatTraversal.Forced, NatTraversal.Disable)]
    [InlineData(NatTraversal.Disable, NatTraversal.Disable)]
    public void Disable_on_either_side_means_no_nat_t_even_behind_a_nat(NatTraversal gateway, NatTraversal client)
    {
        var run = Dial(gateway, client, ClientNat);
        Assert.All(run.Exchanges, w => Assert.Equal((500, 500), (w.ClientPort, w.GatewayPort)));
        Assert.Equal(NatTStatus.None, run.AtGateway.Sa.NatT);
        Assert.Equal(NatTStatus.None, run.AtClient.Sa.NatT);
        // A disabled gateway sends no NAT-D of its own and ignores the client's; an enabled one only answers a client that sent some.
        Assert.Empty(RawNotifies(run.Exchanges[0].Reply));
        Assert.Equal(client == NatTraversal.Disable ? 0 : 2, RawNotifies(run.Exchanges[0].Request).Count);
        // Still answered where the request came from: the NAT's mapping of 500.
        Assert.Equal(new IPEndPoint(NatPublic, 31000), run.AtGateway.Sa.PeerEndpoint);
        Assert.Equal(500, run.AtGateway.Sa.LocalPort);
    }

    [Fact]
    public void Disabled_is_the_settings_default_so_existing_callers_send_no_nat_detection()
    {
        Assert.Equal(NatTraversal.Disable, GatewaySettings().NatTraversal);
        Assert.Equal(NatTraversal.Disable, ClientSettings().NatTraversal);
        var run = Handshake();
        Assert.Empty(RawNotifies(run.InitRequest));
        Assert.Empty(RawNotifies(run.InitResponse));
        Assert.Equal(NatTStatus.None, run.AtGateway.Sa.NatT);
    }

    [Theory]
    [InlineData("enable", NatTraversal.Enable)]
    [InlineData("disable", NatTraversal.Disable)]
    [InlineData("forced", NatTraversal.Forced)]
    public void Fortios_words_map_to_modes(string word, NatTraversal mode)
    {
        Assert.Equal(mode, NatDetection.ParseMode(word));
    }

    [Fact]
    public void Unknown_fortios_word_is_refused()
    {
        Assert.Throws<ArgumentException>(() => NatDetection.ParseMode("on"));
    }

    // ---- IKE on port 4500 --------------------------------------------------------------------------------

    [Fact]
    public void Ike_sa_init_on_4500_without_the_marker_is_read_as_esp_and_dropped()
    {
        var responder = new IkeResponder(GatewaySettings() with { NatTraversal = NatTraversal.Enable }, new SeededRandom(1));
        var initiator = new IkeInitiator(ClientSettings() with { NatTraversal = NatTraversal.Enable }, Gateway, new SeededRandom(2));
        var bare = initiator.Start();
        var output = responder.HandleUdp(new IPEndPoint(Client, 4500), 4500, bare);
        Assert.Empty(output.Replies);
        var dropped = Assert.IsType<IkeDropped>(Assert.Single(output.Events));
        Assert.Contains("without the non-ESP marker", dropped.Reason);
        Assert.Equal(0, responder.HalfOpenCount);
    }

    [Fact]
    public void Ike_sa_init_on_4500_with_the_marker_is_answered_with_the_marker()
    {
        var responder = new IkeResponder(GatewaySettings() with { NatTraversal = NatTraversal.Enable }, new SeededRandom(1));
        var initiator = new IkeInitiator(ClientSettings() with { NatTraversal = NatTraversal.Enable }, Gateway, new SeededRandom(2));
        var framed = UdpEncap.FrameIke(initiator.Start());
        var reply = Single(responder.HandleUdp(new IPEndPoint(Client, 4500), 4500, framed));
        Assert.Equal(UdpEncapKind.Ike, UdpEncap.Classify(reply));
        Assert.True(UdpEncap.TryUnframeIke(reply, out var ike));
        Assert.Equal(ExchangeType.IkeSaInit, IkeCodec.Decode(ike).Header.Exchange);
        Assert.Equal(1, responder.HalfOpenCount);
        // A retransmission gets the cached answer, framed again for 4500.
        Assert.Equal(reply, Single(responder.HandleUdp(new IPEndPoint(Client, 4500), 4500, framed)));
    }

    [Fact]
    public void A_client_may_start_on_4500_and_stays_there_without_a_nat()
    {
        var run = Dial(NatTraversal.Enable, NatTraversal.Enable, NoNat, clientStartPort: 4500, gatewayStartPort: 4500);
        Assert.All(run.Exchanges, w =>
        {
            Assert.Equal((4500, 4500), (w.ClientPort, w.GatewayPort));
            Assert.Equal(UdpEncapKind.Ike, UdpEncap.Classify(w.Request));
            Assert.Equal(UdpEncapKind.Ike, UdpEncap.Classify(w.Reply));
        });
        // No NAT: nothing detected, so ESP needs no UDP encapsulation even though IKE runs on 4500 (§2.23).
        Assert.Equal(NatTStatus.None, run.AtGateway.Sa.NatT);
        Assert.Equal(NatTStatus.None, run.AtClient.Sa.NatT);
        Assert.Equal(4500, run.AtGateway.Sa.LocalPort);
        Assert.Equal(4500, run.AtGateway.Sa.PeerPort);
    }

    [Theory]
    [InlineData(new byte[] { 0xff }, "keepalive")]
    [InlineData(new byte[] { 0, 0, 1, 0, 0, 0, 0, 1, 9, 9, 9, 9 }, "is ESP")]
    [InlineData(new byte[] { 0, 0 }, "neither IKE nor ESP")]
    public void Keepalives_esp_and_runts_on_4500_are_not_ike(byte[] payload, string reason)
    {
        var responder = new IkeResponder(GatewaySettings() with { NatTraversal = NatTraversal.Enable }, new SeededRandom(1));
        var output = responder.HandleUdp(new IPEndPoint(NatPublic, 31001), 4500, payload);
        Assert.Empty(output.Replies);
        Assert.Contains(reason, Assert.IsType<IkeDropped>(Assert.Single(output.Events)).Reason);
    }

    [Fact]
    public void A_marked_message_on_500_is_not_unframed()
    {
        // On port 500 there is no marker: four zero bytes in front make a message that does not decode.
        var responder = new IkeResponder(GatewaySettings(), new SeededRandom(1));
        var initiator = new IkeInitiator(ClientSettings(), Gateway, new SeededRandom(2));
        var output = responder.HandleUdp(new IPEndPoint(Client, 500), 500, UdpEncap.FrameIke(initiator.Start()));
        Assert.Equal(RefusalKind.Malformed, Assert.IsType<IkeRefused>(Assert.Single(output.Events)).Kind);
    }

    [Fact]
    public void Frame_helpers_add_and_strip_exactly_four_zero_bytes()
    {
        byte[] ike = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        var framed = IkeUdp.Frame(ike, 4500);
        Assert.Equal([0, 0, 0, 0, .. ike], framed);
        Assert.Same(ike, IkeUdp.Frame(ike, 500));
        Assert.True(IkeUdp.TryUnframe(framed, 4500, out var back, out _));
        Assert.Equal(ike, back);
        Assert.True(IkeUdp.TryUnframe(ike, 500, out var same, out _));
        Assert.Same(ike, same);
        Assert.False(IkeUdp.TryUnframe(ike, 4500, out _, out var why));
        Assert.Contains("ESP", why);
        // The UDP-level wrapper (UDP header + marker) carries the same bytes after its 8-byte header.
        Assert.Equal(framed, UdpEncap.WrapIke(ike)[UdpEncap.UdpHeaderLength..]);
    }

    // ---- after establishment -----------------------------------------------------------------------------

    [Fact]
    public void A_rebound_client_nat_moves_the_gateways_idea_of_the_peer()
    {
        var run = Dial(NatTraversal.Enable, NatTraversal.Enable, ClientNat);
        var rebound = new IPEndPoint(NatPublic, 40000);
        var output = run.Responder.HandleUdp(rebound, 4500, run.Initiator.Frame(run.Initiator.Dpd()));
        var moved = Assert.IsType<IkePeerMoved>(output.Events[0]);
        Assert.Equal(new IPEndPoint(NatPublic, 31001), moved.From);
        Assert.Equal(rebound, moved.To);
        var answered = Assert.IsType<IkeDpdAnswered>(output.Events[1]);
        Assert.Equal(rebound, answered.Sa.PeerEndpoint);
        Assert.Equal(rebound, run.Responder.Export(run.AtGateway.Sa.SpiR)!.PeerEndpoint);
        Assert.IsType<IkeDpdConfirmed>(Assert.Single(run.Initiator.HandleUdp(4500, Single(output)).Events));
    }

    [Fact]
    public void A_gateway_behind_a_nat_or_without_nat_t_does_not_follow_the_peer()
    {
        foreach (var (path, mode) in new[] { (GatewayNat, NatTraversal.Enable), (NoNat, NatTraversal.Disable) })
        {
            var run = Dial(mode, mode, path);
            var before = run.AtGateway.Sa.PeerEndpoint;
            var port = run.AtGateway.Sa.LocalPort;
            var output = run.Responder.HandleUdp(new IPEndPoint(NatPublic, 40000), port, run.Initiator.Frame(run.Initiator.Dpd()));
            Assert.IsType<IkeDpdAnswered>(Assert.Single(output.Events));
            Assert.Equal(before, run.Responder.Export(run.AtGateway.Sa.SpiR)!.PeerEndpoint);
        }
    }

    [Fact]
    public void A_forged_dpd_from_elsewhere_moves_nothing()
    {
        var run = Dial(NatTraversal.Enable, NatTraversal.Enable, ClientNat);
        var dpd = run.Initiator.Frame(run.Initiator.Dpd());
        dpd[^1] ^= 1; // ICV broken: not authenticated, so no address update (§2.23)
        var output = run.Responder.HandleUdp(new IPEndPoint(NatPublic, 40000), 4500, dpd);
        Assert.IsType<IkeDropped>(Assert.Single(output.Events));
        Assert.Equal(new IPEndPoint(NatPublic, 31001), run.Responder.Export(run.AtGateway.Sa.SpiR)!.PeerEndpoint);
    }

    [Fact]
    public void Nat_state_and_ports_survive_export_and_resume_on_another_member()
    {
        var run = Dial(NatTraversal.Enable, NatTraversal.Enable, ClientNat);
        var state = run.Responder.Export(run.AtGateway.Sa.SpiR)!;
        var other = new IkeResponder(GatewaySettings() with { NatTraversal = NatTraversal.Enable }, new SeededRandom(9));
        other.Resume(state);
        var resumed = other.Export(state.SpiR)!;
        Assert.Equal((NatTStatus.PeerBehindNat, 4500, 31001), (resumed.NatT, resumed.LocalPort, resumed.PeerPort));
        var output = other.HandleUdp(state.PeerEndpoint, 4500, run.Initiator.Frame(run.Initiator.Dpd()));
        Assert.IsType<IkeDpdAnswered>(Assert.Single(output.Events));
        Assert.Equal(UdpEncapKind.Ike, UdpEncap.Classify(Single(output)));
    }

    // ---- every combination completes and both ends agree -------------------------------------------------

    public static TheoryData<NatTraversal, NatTraversal, string> Combinations()
    {
        var data = new TheoryData<NatTraversal, NatTraversal, string>();
        foreach (var gw in Enum.GetValues<NatTraversal>())
            foreach (var cl in Enum.GetValues<NatTraversal>())
                foreach (var path in new[] { "none", "client", "gateway", "both" })
                    data.Add(gw, cl, path);
        return data;
    }

    [Theory]
    [MemberData(nameof(Combinations))]
    public void Every_mode_and_nat_placement_completes_and_both_ends_agree(NatTraversal gateway, NatTraversal client, string natAt)
    {
        var path = PathNamed(natAt);
        var run = Dial(gateway, client, path);
        var gw = run.AtGateway.Sa;
        var cl = run.AtClient.Sa;
        var bothSpeakNatT = gateway != NatTraversal.Disable && client != NatTraversal.Disable;
        var expectActive = bothSpeakNatT && (natAt != "none" || gateway == NatTraversal.Forced || client == NatTraversal.Forced);

        Assert.Equal(expectActive, gw.NatT.IsActive());
        Assert.Equal(expectActive, cl.NatT.IsActive());
        Assert.Equal(gw.UdpEncapsulatedEsp, cl.UdpEncapsulatedEsp);
        Assert.Equal(gateway == NatTraversal.Forced && bothSpeakNatT, gw.NatT.HasFlag(NatTStatus.Forced));
        Assert.Equal(client == NatTraversal.Forced && bothSpeakNatT, cl.NatT.HasFlag(NatTStatus.Forced));
        if (bothSpeakNatT && gateway != NatTraversal.Forced && client != NatTraversal.Forced)
            Assert.Equal(gw.NatT, cl.NatT.AsSeenByPeer());

        var port = expectActive ? 4500 : 500;
        Assert.Equal((port, port), (gw.LocalPort, cl.LocalPort));
        Assert.Equal(path.SeenFrom(port), gw.PeerEndpoint);
        Assert.Equal(new IPEndPoint(path.Dialled, port), cl.PeerEndpoint);
        Assert.Equal(gw.Keys.SkD, cl.Keys.SkD);
        Assert.Equal(run.AtGateway.Child.OutboundSpi, run.AtClient.Child.InboundSpi);
    }
}
