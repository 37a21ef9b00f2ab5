using System.Buffers.Binary;
using System.Net;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Actors.Tests.Client;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Tests.LabHarness.Client;

public sealed class DialupClientGatewaySpec
{
    private const int IkeExchangeTypeOffset = 18;
    private const byte IkeSaInit = 34;
    private const byte IkeAuth = 35;
    private const uint Jump = 1u << 28;

    [Fact]
    public async Task Dial_over_packets_brings_the_tunnel_up_with_the_gateways_SPIs()
    {
        using var lab = new ClientLab();

        var est = await lab.Client.DialAsync().WaitAsync(TimeSpan.FromSeconds(3));

        Assert.Equal(ClientTunnelState.Up, lab.Client.State);
        var atGateway = Assert.IsType<IkeSaEstablished>(lab.Gateway.Established);
        Assert.Equal(atGateway.Child.InboundSpi, est.Child.OutboundSpi);
        Assert.Equal(atGateway.Child.OutboundSpi, est.Child.InboundSpi);
        Assert.Equal("Nokia_Peer", atGateway.PeerId);

        // The first packet on the wire is a real IPv4/UDP IKE_SA_INIT from port1 to lb1, routed via 192.168.7.1.
        var first = lab.Wan.Captured[0];
        Assert.Equal("client1/port1", first.From);
        Assert.Equal(FakeDialupGateway.Router, first.NextHop);
        var ip = ClientLab.Parse(first.Bytes);
        Assert.Equal(FakeDialupGateway.Client, ip.Source);
        Assert.Equal(FakeDialupGateway.Lb1, ip.Destination);
        Assert.True(UdpPacket.TryParse(ip, out var udp));
        Assert.Equal((500, 500), (udp.SourcePort, udp.DestinationPort));
        Assert.Equal(IkeSaInit, udp.Payload[IkeExchangeTypeOffset]);

        var c = lab.Client.Counters;
        Assert.Equal((2, 2, 0), (c.IkeSent, c.IkeReceived, c.IkeRetransmits));
        Assert.Equal(1UL, c.OutboundNextSeq);
    }

    [Fact]
    public async Task Echo_traffic_at_500_pps_for_1_s_is_all_answered_through_the_tunnel()
    {
        using var lab = new ClientLab();
        await lab.DialAsync();

        var report = await lab.Pc1.RunAsync(new EchoRunOptions { RatePps = 500, Duration = TimeSpan.FromSeconds(1), Grace = TimeSpan.FromMilliseconds(200) });

        Assert.Equal((500, 500), (report.Sent, report.Answered));
        Assert.Equal((0, 0, 0), (report.Lost, report.Duplicates, report.Unmatched));
        // Replies come back inside each Send here, so the gaps are the request spacing plus scheduling hiccups:
        // nothing like an outage (a loaded machine can still stall the sender for a while).
        Assert.True(report.LongestGap > TimeSpan.Zero && report.LongestGap < report.SendingTime / 2, report.Format());

        var c = lab.Client.Counters;
        Assert.Equal(report.Sent, c.EspSentPackets);
        // 84-byte inner echo → 8 + 16 + 96 + 12 = 132 bytes of ESP each way.
        Assert.Equal(report.Sent * 132, c.EspSentBytes);
        Assert.Equal(report.Sent * 132, c.EspReceivedBytes);
        Assert.Equal(report.Answered, c.Decrypted);
        Assert.Equal(report.Answered * 84, c.DecryptedBytes);
        Assert.Equal(report.Answered, c.ForwardedToLan);
        Assert.Equal(0, c.EspDrops);
        Assert.Equal((ulong)report.Sent + 1, c.OutboundNextSeq);

        // On the wire: ESP (protocol 50) from 192.168.7.2 to lb1 via 192.168.7.1 with the gateway's SPI.
        var esp = lab.FromClientOnWan.Where(p => p.Protocol == Ipv4Packet.ProtocolEsp).ToList();
        Assert.Equal(report.Sent, esp.Count);
        Assert.All(esp, p => Assert.Equal(FakeDialupGateway.Lb1, p.Destination));
        Assert.Equal(lab.Gateway.Established!.Child.InboundSpi, BinaryPrimitives.ReadUInt32BigEndian(esp[0].Payload));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(esp[0].Payload.AsSpan(4)));
        // The client routes: the reply reaches PC1 with its TTL decremented once.
        var delivered = ClientLab.Parse(lab.DeliveredToPc1[0].Bytes);
        Assert.Equal(ClientLab.Server, delivered.Source);
        Assert.Equal(63, delivered.Ttl);
    }

    [Fact]
    public async Task New_owner_sending_2_pow_28_ahead_mid_run_costs_no_replay_drop_and_no_lost_echo()
    {
        using var lab = new ClientLab();
        await lab.DialAsync();

        lab.Gateway.JumpAfterEchoes = 100;

        var report = await lab.Pc1.RunAsync(new EchoRunOptions { RatePps = 500, Duration = TimeSpan.FromSeconds(1), Grace = TimeSpan.FromMilliseconds(200) });

        Assert.Equal((500, 500, 0), (report.Sent, report.Answered, report.Lost));
        var c = lab.Client.Counters;
        Assert.Equal(0, c.AntiReplayDrops);
        Assert.Equal(0, c.EspDrops);
        Assert.Equal(Jump + 500, c.InboundLastSeq); // 100 before the jump, 400 after: 2^28 + 101 … 2^28 + 500
    }

    [Fact]
    public async Task Inbound_window_takes_seq_1_to_100_then_2_pow_28_plus_101_on_and_drops_true_replays()
    {
        using var lab = new ClientLab();
        await lab.DialAsync();

        var before = new List<byte[]>();
        for (ushort i = 1; i <= 100; i++)
            before.Add(lab.Gateway.SendToClient(ClientLab.ServerReply(i)));
        lab.Gateway.JumpOutbound(Jump);
        var after = new List<byte[]>();
        for (ushort i = 101; i <= 200; i++)
            after.Add(lab.Gateway.SendToClient(ClientLab.ServerReply(i)));

        Assert.Equal(Jump + 101, BinaryPrimitives.ReadUInt32BigEndian(after[0].AsSpan(4)));
        var c = lab.Client.Counters;
        Assert.Equal(200, c.Decrypted);
        Assert.Equal(0, c.EspDrops);
        Assert.Equal(Jump + 200, c.InboundLastSeq);
        Assert.Equal(200, lab.DeliveredToPc1.Count);

        // A replay inside the window, and one of the old owner's packets, now far left of it.
        lab.Gateway.SendEsp(after[49]);
        lab.Gateway.SendEsp(before[49]);

        c = lab.Client.Counters;
        Assert.Equal((1, 1), (c.ReplayDrops, c.TooOldDrops));
        Assert.Equal(200, c.Decrypted);
        Assert.Equal(200, lab.DeliveredToPc1.Count);
    }

    [Fact]
    public async Task A_replayed_echo_reply_is_dropped_counted_and_never_reaches_PC1_twice()
    {
        using var lab = new ClientLab();
        await lab.DialAsync();
        var report = await lab.Pc1.RunAsync(new EchoRunOptions { Count = 20, RatePps = 1000, Grace = TimeSpan.FromMilliseconds(50) });
        Assert.Equal(20, report.Answered);

        lab.Gateway.SendEsp(lab.Gateway.LastSentEsp!);

        var c = lab.Client.Counters;
        Assert.Equal(1, c.ReplayDrops);
        Assert.Equal(20, c.Decrypted);
        Assert.Equal(20, lab.DeliveredToPc1.Count);
    }

    [Fact]
    public async Task Wrong_ICV_is_counted_and_does_not_consume_the_sequence_number()
    {
        using var lab = new ClientLab();
        await lab.DialAsync();
        var genuine = lab.Gateway.SendToClient(ClientLab.ServerReply(1));
        var next = EspCodec.Encrypt(KeysTowardsClient(lab), 2, ClientLab.ServerReply(2));
        var forged = next.ToArray();
        forged[^1] ^= 0x01;

        lab.Gateway.SendEsp(forged);
        Assert.Equal(1, lab.Client.Counters.IcvFailures);
        Assert.Equal(1u, lab.Client.Counters.InboundLastSeq);

        lab.Gateway.SendEsp(next);
        var c = lab.Client.Counters;
        Assert.Equal(2, c.Decrypted);
        Assert.Equal(2u, c.InboundLastSeq);
        Assert.Equal(0, c.AntiReplayDrops);
        Assert.NotNull(genuine);
    }

    [Fact]
    public async Task ESP_for_another_SPI_or_before_the_tunnel_is_counted_as_unknown_SPI()
    {
        using var lab = new ClientLab();
        var stray = EspCodec.Encrypt(new EspSaKeys(0x1234, new byte[16], new byte[20]), 1, ClientLab.ServerReply(1));
        lab.Gateway.SendEsp(stray);
        Assert.Equal(1, lab.Client.Counters.UnknownSpi);

        await lab.DialAsync();
        lab.Gateway.SendEsp(stray);
        var c = lab.Client.Counters;
        Assert.Equal(2, c.UnknownSpi);
        Assert.Equal(2, c.EspReceivedPackets);
        Assert.Equal(0, c.Decrypted);
    }

    [Fact]
    public async Task A_lost_first_IKE_SA_INIT_is_retransmitted_byte_for_byte_and_the_dial_completes()
    {
        using var lab = new ClientLab();
        var lost = 0;
        lab.Wan.Drop = p => p.From == "client1/port1" && Interlocked.Exchange(ref lost, 1) == 0;

        var started = DateTime.UtcNow;
        await lab.Client.DialAsync().WaitAsync(TimeSpan.FromSeconds(3));

        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromMilliseconds(400), "the resend waits the retransmission interval");
        Assert.Equal(1, lab.Client.Counters.IkeRetransmits);
        var ike = lab.FromClientOnWan.Select(p => { Assert.True(UdpPacket.TryParse(p, out var u)); return u.Payload; }).ToList();
        Assert.Equal(3, ike.Count); // INIT (lost), INIT again, AUTH
        Assert.Equal(ike[0], ike[1]); // RFC 7296 §2.1: the same message, message ID 0
        Assert.Equal(IkeSaInit, ike[1][IkeExchangeTypeOffset]);
    }

    [Fact]
    public async Task A_silent_gateway_fails_the_dial_with_a_clear_error_after_the_bounded_retries()
    {
        using var lab = new ClientLab(s => s with { IkeRetransmitInterval = TimeSpan.FromMilliseconds(50), IkeMaxTransmissions = 3 });
        lab.Gateway.Silent = true;

        var error = await Assert.ThrowsAsync<ClientDialFailedException>(() => lab.Client.DialAsync().WaitAsync(TimeSpan.FromSeconds(3)));

        Assert.Contains("no answer from 192.168.202.35:500 to IKE_SA_INIT after 3 transmission(s)", error.Message);
        Assert.Equal(ClientTunnelState.Failed, lab.Client.State);
        Assert.Equal(error.Message, lab.Client.LastError);
        Assert.Equal(3, lab.Gateway.IkeRequestsSeen);
        Assert.Equal(2, lab.Client.Counters.IkeRetransmits);
    }

    /// <summary>The exchange type and initiator SPI of a datagram the client sent on the WAN, null when it is not IKE on 500.</summary>
    private static (byte Exchange, ulong SpiI)? IkeOf(byte[] frame)
    {
        if (!Ipv4Packet.TryParse(frame, out var ip, out _) || !UdpPacket.TryParse(ip, out var udp) || udp.Payload.Length < 28) return null;
        return (udp.Payload[IkeExchangeTypeOffset], System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(udp.Payload));
    }

    [Fact]
    public async Task An_IKE_AUTH_nobody_answers_starts_a_new_negotiation_and_the_dial_completes()
    {
        // The gateway answered IKE_SA_INIT, then every IKE_AUTH of that IKE SA is lost: as when the DC router moves the
        // flow to an FGSP member that never saw the IKE_SA_INIT (a CI trial: "no answer … to IKE_AUTH after 5
        // transmission(s) over 15.5 s" while the lab's router, probing every 20 ms, withdrew and restored a next hop).
        using var lab = new ClientLab(s => s with { IkeRetransmitInterval = TimeSpan.FromMilliseconds(50), IkeMaxTransmissions = 3 });
        ulong? firstSpi = null;
        lab.Wan.Drop = p =>
        {
            if (p.From != "client1/port1" || IkeOf(p.Bytes) is not { } ike) return false;
            firstSpi ??= ike.SpiI;
            return ike.Exchange == IkeAuth && ike.SpiI == firstSpi;
        };

        await lab.Client.DialAsync().WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(ClientTunnelState.Up, lab.Client.State);
        Assert.Equal(1, lab.Client.Counters.IkeRenegotiations);
        var sent = lab.FromClientOnWan.Select(p => IkeOf(p.ToBytes())).OfType<(byte Exchange, ulong SpiI)>().ToList();
        // INIT, AUTH ×3 (lost), then a new IKE SA: INIT and AUTH under another SPI.
        Assert.Equal([IkeSaInit, IkeAuth, IkeAuth, IkeAuth, IkeSaInit, IkeAuth], sent.Select(i => i.Exchange));
        Assert.NotEqual(sent[0].SpiI, sent[4].SpiI);
    }

    [Fact]
    public async Task An_IKE_AUTH_never_answered_fails_the_dial_after_the_bounded_negotiations()
    {
        using var lab = new ClientLab(s => s with { IkeRetransmitInterval = TimeSpan.FromMilliseconds(50), IkeMaxTransmissions = 2, IkeNegotiations = 3 });
        lab.Wan.Drop = p => p.From == "client1/port1" && IkeOf(p.Bytes) is { Exchange: IkeAuth };

        var error = await Assert.ThrowsAsync<ClientDialFailedException>(() => lab.Client.DialAsync().WaitAsync(TimeSpan.FromSeconds(5)));

        Assert.Contains("to IKE_AUTH after 2 transmission(s)", error.Message);
        Assert.Contains("(negotiation 3 of 3)", error.Message);
        Assert.Equal(ClientTunnelState.Failed, lab.Client.State);
        Assert.Equal(2, lab.Client.Counters.IkeRenegotiations);
        Assert.Equal(3, lab.Gateway.IkeRequestsSeen); // the three IKE_SA_INITs; every IKE_AUTH was lost on the way
    }

    [Fact]
    public async Task A_wrong_PSK_fails_the_dial_as_refused()
    {
        using var lab = new ClientLab(s => s with { Ike = s.Ike with { Psk = "not-the-psk" } });

        var error = await Assert.ThrowsAsync<ClientDialFailedException>(() => lab.Client.DialAsync().WaitAsync(TimeSpan.FromSeconds(3)));

        Assert.Contains("refused", error.Message);
        Assert.Equal(ClientTunnelState.Failed, lab.Client.State);
    }

    [Fact]
    public async Task The_gateways_DPD_is_answered_and_the_clients_own_DPD_confirmed()
    {
        using var lab = new ClientLab();
        await lab.DialAsync();

        Assert.True(await lab.Gateway.DpdAsync().WaitAsync(TimeSpan.FromSeconds(2)));
        Assert.Contains(lab.Gateway.Events, e => e is IkeDpdConfirmed);
        Assert.True(await lab.Client.DpdAsync().WaitAsync(TimeSpan.FromSeconds(2)));
        Assert.Equal(ClientTunnelState.Up, lab.Client.State);
    }

    [Fact]
    public async Task Unanswered_DPD_takes_the_tunnel_down_and_LAN_traffic_is_then_counted_as_no_tunnel()
    {
        // Not shorter: the dial itself (two DH computations) must not look unanswered on a loaded machine.
        using var lab = new ClientLab(s => s with { IkeRetransmitInterval = TimeSpan.FromMilliseconds(200), IkeMaxTransmissions = 2 });
        await lab.DialAsync();
        lab.Gateway.Silent = true;

        Assert.False(await lab.Client.DpdAsync().WaitAsync(TimeSpan.FromSeconds(2)));

        Assert.Equal(ClientTunnelState.Down, lab.Client.State);
        Assert.Contains("INFORMATIONAL (DPD)", lab.Client.LastError);
        var report = await lab.Pc1.RunAsync(new EchoRunOptions { Count = 5, Grace = TimeSpan.Zero });
        Assert.Equal(5, report.Lost);
        Assert.Equal(5, lab.Client.Counters.LanNoTunnel);
    }

    [Fact]
    public async Task The_gateway_deleting_the_IKE_SA_takes_the_tunnel_down()
    {
        using var lab = new ClientLab();
        await lab.DialAsync();

        lab.Gateway.DeleteIkeSa();

        Assert.Equal(ClientTunnelState.Down, lab.Client.State);
        Assert.Null(lab.Client.Established);
        Assert.Contains(lab.Gateway.Events, e => e is IkeSaDeleted);
    }

    [Fact]
    public async Task UDP_encapsulation_carries_IKE_and_ESP_on_4500_and_echo_traffic_gets_through()
    {
        using var lab = new ClientLab(s => s with { UdpEncapsulation = true });
        await lab.DialAsync();

        var report = await lab.Pc1.RunAsync(new EchoRunOptions { RatePps = 500, Count = 100, Grace = TimeSpan.FromMilliseconds(100) });

        Assert.Equal(100, report.Answered);
        var fromClient = lab.FromClientOnWan;
        Assert.All(fromClient, p => Assert.Equal(Ipv4Packet.ProtocolUdp, p.Protocol));
        var datagrams = fromClient.Select(p => { Assert.True(UdpPacket.TryParse(p, out var u)); return u; }).ToList();
        Assert.All(datagrams, d => Assert.Equal((4500, 4500), (d.SourcePort, d.DestinationPort)));
        Assert.Equal(2, datagrams.Count(d => UdpEncap.Classify(d.Payload) == UdpEncapKind.Ike));
        var esp = datagrams.Where(d => UdpEncap.Classify(d.Payload) == UdpEncapKind.Esp).ToList();
        Assert.Equal(100, esp.Count);
        Assert.Equal(lab.Gateway.Established!.Child.InboundSpi, BinaryPrimitives.ReadUInt32BigEndian(esp[0].Payload));

        // The gateway answered in kind, and the client took ESP-in-UDP in.
        var toClient = lab.Wan.Captured.Where(p => p.From == "dc/port2").Select(p => ClientLab.Parse(p.Bytes)).ToList();
        Assert.All(toClient, p => Assert.Equal(Ipv4Packet.ProtocolUdp, p.Protocol));
        var c = lab.Client.Counters;
        Assert.Equal((100, 100, 0), (c.EspReceivedPackets, c.Decrypted, c.EspDrops));
        Assert.Equal(100L * 132, c.EspReceivedBytes);
    }

    [Fact]
    public async Task UDP_encapsulated_replays_and_jumps_are_judged_like_bare_ESP()
    {
        using var lab = new ClientLab(s => s with { UdpEncapsulation = true });
        await lab.DialAsync();
        await lab.Pc1.RunAsync(new EchoRunOptions { Count = 10, Grace = TimeSpan.Zero });

        lab.Gateway.JumpOutbound();
        var jumped = lab.Gateway.SendToClient(ClientLab.ServerReply(1));
        lab.Gateway.SendEsp(jumped);

        var c = lab.Client.Counters;
        Assert.Equal(11, c.Decrypted);
        Assert.Equal((1, 0), (c.ReplayDrops, c.TooOldDrops));
        Assert.Equal(Jump + 11, c.InboundLastSeq);
    }

    [Fact]
    public async Task NAT_T_from_IKE_floats_to_4500_after_IKE_SA_INIT_and_puts_ESP_in_UDP_with_keepalives()
    {
        using var lab = new ClientLab(
            s => s with { Ike = s.Ike with { NatTraversal = NatTraversal.Forced }, NatKeepaliveInterval = TimeSpan.FromMilliseconds(50) },
            g => g with { NatTraversal = NatTraversal.Enable });
        var est = await lab.Client.DialAsync().WaitAsync(TimeSpan.FromSeconds(3));

        Assert.True(est.Sa.UdpEncapsulatedEsp);
        var ike = lab.FromClientOnWan.Select(p => { Assert.True(UdpPacket.TryParse(p, out var u)); return u; }).ToList();
        // IKE_SA_INIT on 500 as it is; IKE_AUTH on 4500 behind the non-ESP marker (RFC 7296 §2.23).
        Assert.Equal((500, 500), (ike[0].SourcePort, ike[0].DestinationPort));
        Assert.Equal(IkeSaInit, ike[0].Payload[IkeExchangeTypeOffset]);
        Assert.Equal((4500, 4500), (ike[1].SourcePort, ike[1].DestinationPort));
        Assert.Equal(UdpEncapKind.Ike, UdpEncap.Classify(ike[1].Payload));

        var report = await lab.Pc1.RunAsync(new EchoRunOptions { Count = 50, Grace = TimeSpan.FromMilliseconds(50) });
        Assert.Equal(50, report.Answered);
        Assert.Equal((50, 0), (lab.Gateway.EspInUdp, lab.Gateway.EspBare));
        Assert.True(await lab.Gateway.DpdAsync().WaitAsync(TimeSpan.FromSeconds(2)), "the gateway's DPD on 4500 is answered");

        await ClientLab.Eventually(() => lab.Gateway.NatKeepalivesSeen >= 2, TimeSpan.FromSeconds(2), "NAT keepalives");
        Assert.True(lab.Client.Counters.NatKeepalivesSent >= 2);
    }

    [Fact]
    public async Task NAT_T_enabled_without_a_NAT_stays_on_500_with_bare_ESP()
    {
        using var lab = new ClientLab(
            s => s with { Ike = s.Ike with { NatTraversal = NatTraversal.Enable }, NatKeepaliveInterval = TimeSpan.FromMilliseconds(20) },
            g => g with { NatTraversal = NatTraversal.Enable });
        var est = await lab.Client.DialAsync().WaitAsync(TimeSpan.FromSeconds(3));

        Assert.Equal(NatTStatus.None, est.Sa.NatT);
        var report = await lab.Pc1.RunAsync(new EchoRunOptions { Count = 20, Grace = TimeSpan.FromMilliseconds(50) });
        Assert.Equal(20, report.Answered);
        Assert.Equal((0, 20), (lab.Gateway.EspInUdp, lab.Gateway.EspBare));
        Assert.All(lab.FromClientOnWan.Where(p => p.Protocol == Ipv4Packet.ProtocolUdp), p =>
        {
            Assert.True(UdpPacket.TryParse(p, out var u));
            Assert.Equal(500, u.DestinationPort);
        });
        Assert.Equal(0, lab.Client.Counters.NatKeepalivesSent);
    }

    [Fact]
    public async Task LAN_traffic_from_outside_the_local_selector_is_dropped_and_counted()
    {
        using var lab = new ClientLab();
        await lab.DialAsync();
        var stranger = new TestHostIo("stranger", new Dictionary<string, TestLink> { ["eth0"] = lab.Lan })
            .Open("eth0", [InterfaceAddress.Parse("10.10.1.9/24")], (_, _) => { });

        var spoofed = IcmpEcho.Request(7, 1, new byte[8]).InIpv4(IPAddress.Parse("10.10.2.5"), ClientLab.Server).ToBytes();
        Assert.True(stranger.Send(IPAddress.Parse("10.10.1.1"), spoofed));

        var c = lab.Client.Counters;
        Assert.Equal(1, c.LanOutsideSelector);
        Assert.Equal(0, c.EspSentPackets);
    }

    [Fact]
    public async Task With_dial_on_traffic_PC1s_first_packet_brings_the_tunnel_up_and_is_the_only_one_lost()
    {
        using var lab = new ClientLab(s => s with { DialOnTraffic = true });

        var report = await lab.Pc1.RunAsync(new EchoRunOptions { RatePps = 500, Count = 50, Grace = TimeSpan.FromMilliseconds(100) });

        Assert.Equal(ClientTunnelState.Up, lab.Client.State);
        var c = lab.Client.Counters;
        // The in-memory links answer inside Send, so the dial completes within the first packet's drop.
        Assert.Equal(1, c.LanNoTunnel);
        Assert.Equal(c.LanNoTunnel, report.Lost);
        Assert.Equal(49, report.Answered);
    }

    [Fact]
    public async Task Dispose_closes_both_ports_and_stops_the_retransmission_timer()
    {
        var lab = new ClientLab(s => s with { IkeRetransmitInterval = TimeSpan.FromMilliseconds(20) });
        lab.Gateway.Silent = true;
        var dial = lab.Client.DialAsync();

        lab.Client.Dispose();

        Assert.False(lab.Client.Wan.IsUp);
        Assert.False(lab.Client.Lan.IsUp);
        await Assert.ThrowsAnyAsync<ObjectDisposedException>(() => dial);
        var sent = lab.Gateway.IkeRequestsSeen;
        await Task.Delay(100);
        Assert.Equal(sent, lab.Gateway.IkeRequestsSeen);
        lab.Dispose();
    }

    private static EspSaKeys KeysTowardsClient(ClientLab lab)
    {
        var c = lab.Gateway.Established!.Child;
        return new EspSaKeys(c.OutboundSpi, c.OutboundEncKey, c.OutboundAuthKey);
    }
}
