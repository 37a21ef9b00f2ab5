using System.Net;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Protocol.Tests.Packets;

public class InternetChecksumTests
{
    [Fact]
    public void Known_ipv4_header_from_RFC_1071_style_worked_example()
    {
        // 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7: the widely used worked example.
        // Sum = 0x4500+0x0073+0x4000+0x4011+0xc0a8+0x0001+0xc0a8+0x00c7 = 0x2479C; fold 0x479C+0x2 = 0x479E; ~ = 0xB861.
        var header = Convert.FromHexString("450000730000400040110000c0a80001c0a800c7");
        Assert.Equal(0xB861, InternetChecksum.Compute(header));
        header[10] = 0xB8;
        header[11] = 0x61;
        Assert.True(InternetChecksum.Verify(header));
        header[19] ^= 1;
        Assert.False(InternetChecksum.Verify(header));
    }

    [Fact]
    public void Odd_length_pads_the_last_byte_on_the_right()
    {
        // 0x0800 + 0x1234 + 0x0001 + 0x6162 + 0x6300 = 0xDE97; ~ = 0x2168.
        Assert.Equal(0x2168, InternetChecksum.Compute(Convert.FromHexString("0800000012340001616263")));
    }

    [Fact]
    public void Empty_data_checksums_to_ffff()
    {
        Assert.Equal(0xFFFF, InternetChecksum.Compute([]));
    }
}

public class Ipv4PacketTests
{
    private static readonly IPAddress Pc1 = IPAddress.Parse("10.10.1.2");
    private static readonly IPAddress Server = IPAddress.Parse("10.10.101.2");

    [Fact]
    public void Builds_the_known_header_byte_for_byte()
    {
        var packet = new Ipv4Packet(IPAddress.Parse("192.168.0.1"), IPAddress.Parse("192.168.0.199"), Ipv4Packet.ProtocolUdp,
            new byte[0x73 - 20], ttl: 64, identification: 0, dontFragment: true);

        Assert.Equal("4500007300004000" + "4011B861" + "C0A80001C0A800C7", Convert.ToHexString(packet.ToBytes()[..20]));
    }

    [Fact]
    public void Seed_echo_header_checksum_is_c090()
    {
        // 4500 0054 0001 4000 4001 [cksum] 0a0a 0102 0a0a 6502:
        // 0x4500+0x0054+0x0001+0x4000+0x4001+0x0a0a+0x0102+0x0a0a+0x6502 = 0x13F6E; fold = 0x3F6F; ~ = 0xC090.
        var packet = new Ipv4Packet(Pc1, Server, Ipv4Packet.ProtocolIcmp, new byte[64], identification: 1);
        var bytes = packet.ToBytes();

        Assert.Equal("45000054000140004001C0900A0A01020A0A6502", Convert.ToHexString(bytes[..20]));
        Assert.Equal(84, packet.TotalLength);
    }

    [Fact]
    public void Parse_round_trips_and_ignores_trailing_link_padding()
    {
        var packet = new Ipv4Packet(Pc1, Server, Ipv4Packet.ProtocolIcmp, [1, 2, 3, 4, 5], ttl: 63, identification: 0xBEEF, tos: 0x10);
        byte[] padded = [.. packet.ToBytes(), 0, 0, 0];

        Assert.True(Ipv4Packet.TryParse(padded, out var parsed, out var error));

        Assert.Equal(Ipv4ParseError.None, error);
        Assert.Equal(packet, parsed);
        Assert.Equal(Pc1, parsed.Source);
        Assert.Equal(Server, parsed.Destination);
        Assert.Equal(63, parsed.Ttl);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, parsed.Payload);
        Assert.False(parsed.IsFragment);
    }

    [Fact]
    public void Options_are_skipped_and_fragment_fields_kept()
    {
        // IHL 6 (one word of options: NOP NOP NOP EOL), MF set, offset 0x10.
        var header = Convert.FromHexString("4600001C" + "1234" + "2010" + "4001" + "0000" + "0A0A0102" + "0A0A6502" + "01010100" + "AABBCCDD");
        var checksum = InternetChecksum.Compute(header.AsSpan(0, 24));
        header[10] = (byte)(checksum >> 8);
        header[11] = (byte)checksum;

        Assert.True(Ipv4Packet.TryParse(header, out var parsed, out _));
        Assert.Equal(new byte[] { 0xAA, 0xBB, 0xCC, 0xDD }, parsed.Payload);
        Assert.True(parsed.MoreFragments);
        Assert.Equal(0x10, parsed.FragmentOffset);
        Assert.True(parsed.IsFragment);
    }

    [Fact]
    public void Every_single_byte_corruption_of_the_header_is_refused()
    {
        var bytes = new Ipv4Packet(Pc1, Server, Ipv4Packet.ProtocolIcmp, new byte[8]).ToBytes();
        for (int i = 0; i < 20; i++)
        {
            var bad = (byte[])bytes.Clone();
            bad[i] ^= 0x01;
            Assert.False(Ipv4Packet.TryParse(bad, out var parsed, out var error), $"byte {i}");
            Assert.Null(parsed);
            Assert.NotEqual(Ipv4ParseError.None, error);
        }
    }

    [Fact]
    public void Bad_checksum_is_reported_as_such()
    {
        var bytes = new Ipv4Packet(Pc1, Server, Ipv4Packet.ProtocolIcmp, new byte[8]).ToBytes();
        bytes[8] = 1; // TTL changed without fixing the checksum
        Assert.False(Ipv4Packet.TryParse(bytes, out _, out var error));
        Assert.Equal(Ipv4ParseError.BadChecksum, error);
    }

    [Fact]
    public void Truncation_wrong_version_and_bad_lengths_are_refused()
    {
        var bytes = new Ipv4Packet(Pc1, Server, Ipv4Packet.ProtocolIcmp, new byte[8]).ToBytes();
        for (int n = 0; n < bytes.Length; n++)
        {
            Assert.False(Ipv4Packet.TryParse(bytes.AsSpan(0, n), out _, out var error));
            Assert.Equal(Ipv4ParseError.Truncated, error);
        }

        var v6 = (byte[])bytes.Clone();
        v6[0] = 0x65;
        Assert.False(Ipv4Packet.TryParse(v6, out _, out var e1));
        Assert.Equal(Ipv4ParseError.NotVersion4, e1);

        var shortIhl = (byte[])bytes.Clone();
        shortIhl[0] = 0x44;
        Assert.False(Ipv4Packet.TryParse(shortIhl, out _, out var e2));
        Assert.Equal(Ipv4ParseError.BadHeaderLength, e2);

        var tinyTotal = (byte[])bytes.Clone();
        tinyTotal[2] = 0;
        tinyTotal[3] = 19;
        Assert.False(Ipv4Packet.TryParse(tinyTotal, out _, out var e3));
        Assert.Equal(Ipv4ParseError.BadHeaderLength, e3);
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var rng = new Random(791);
        for (int i = 0; i < 3000; i++)
        {
            var junk = new byte[rng.Next(0, 100)];
            rng.NextBytes(junk);
            if (junk.Length > 0 && rng.Next(2) == 0)
                junk[0] = (byte)(0x40 | rng.Next(16));
            Ipv4Packet.TryParse(junk, out _, out _);
            IcmpEcho.TryParse(junk, out _);
            IcmpEcho.TryReply(junk, out _);
        }
    }

    [Fact]
    public void Ipv6_addresses_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new Ipv4Packet(IPAddress.IPv6Loopback, Server, 1, []));
    }
}

public class IcmpEchoTests
{
    private static readonly IPAddress Pc1 = IPAddress.Parse("10.10.1.2");
    private static readonly IPAddress Server = IPAddress.Parse("10.10.101.2");

    [Fact]
    public void Echo_request_bytes_and_checksum_by_hand()
    {
        // 0x0800 + 0x1234 + 0x0001 + 0x6162 + 0x6364 = 0xDEFB; ~ = 0x2104.
        var request = IcmpEcho.Request(0x1234, 1, "abcd"u8.ToArray());
        Assert.Equal("080021041234000161626364", Convert.ToHexString(request.ToBytes()));
    }

    [Fact]
    public void Echo_reply_bytes_and_checksum_by_hand()
    {
        // Type 0 drops 0x0800 from the sum: 0xD6FB; ~ = 0x2904.
        var reply = IcmpEcho.Request(0x1234, 1, "abcd"u8.ToArray()).ToReply();
        Assert.Equal("000029041234000161626364", Convert.ToHexString(reply.ToBytes()));
    }

    [Fact]
    public void Parse_reads_id_seq_data_and_rejects_bad_checksum_other_types_and_short_input()
    {
        var bytes = Convert.FromHexString("080021041234000161626364");
        Assert.True(IcmpEcho.TryParse(bytes, out var echo));
        Assert.Equal(IcmpEcho.Request(0x1234, 1, "abcd"u8.ToArray()), echo);

        var badSum = (byte[])bytes.Clone();
        badSum[11] ^= 1;
        Assert.False(IcmpEcho.TryParse(badSum, out _));

        // Destination unreachable (type 3) with a correct checksum is still not an echo.
        var unreachable = Convert.FromHexString("0300FCFF00000000");
        Assert.True(InternetChecksum.Verify(unreachable));
        Assert.False(IcmpEcho.TryParse(unreachable, out _));

        Assert.False(IcmpEcho.TryParse(bytes.AsSpan(0, 7), out _));
    }

    [Fact]
    public void Server_replies_to_the_seed_ping_with_swapped_addresses_and_the_same_id_seq_data()
    {
        var data = Enumerable.Range(0, IcmpEcho.DefaultDataLength).Select(i => (byte)i).ToArray();
        var request = IcmpEcho.Request(0x4d2, 7, data).InIpv4(Pc1, Server, identification: 0x1111, ttl: 63);
        Assert.Equal(84, request.ToBytes().Length);

        Assert.True(IcmpEcho.TryReply(request.ToBytes(), out var replyBytes));
        Assert.True(Ipv4Packet.TryParse(replyBytes, out var reply, out _));
        Assert.True(IcmpEcho.TryParse(reply.Payload, out var echo));

        Assert.Equal(Server, reply.Source);
        Assert.Equal(Pc1, reply.Destination);
        Assert.Equal(Ipv4Packet.DefaultTtl, reply.Ttl);
        Assert.Equal(IcmpEchoType.Reply, echo.Type);
        Assert.Equal(0x4d2, echo.Identifier);
        Assert.Equal(7, echo.Sequence);
        Assert.Equal(data, echo.Data);
    }

    [Fact]
    public void Server_ignores_replies_other_protocols_and_fragments()
    {
        var reply = IcmpEcho.Request(1, 1, [9]).ToReply().InIpv4(Server, Pc1);
        var udp = new Ipv4Packet(Pc1, Server, Ipv4Packet.ProtocolUdp, IcmpEcho.Request(1, 1, [9]).ToBytes());
        var fragment = IcmpEcho.Request(1, 1, [9]).InIpv4(Pc1, Server) with { MoreFragments = true };

        Assert.False(IcmpEcho.TryReply(reply, out _));
        Assert.False(IcmpEcho.TryReply(udp, out _));
        Assert.False(IcmpEcho.TryReply(fragment, out _));
    }
}

public class SnifferLineTests
{
    private static readonly IPAddress Pc1 = IPAddress.Parse("10.10.1.2");
    private static readonly IPAddress Server = IPAddress.Parse("10.10.101.2");

    [Fact]
    public void Echo_request_and_reply_print_as_in_the_seed()
    {
        var request = IcmpEcho.Request(1, 1, new byte[56]).InIpv4(Pc1, Server);
        Assert.True(IcmpEcho.TryReply(request, out var reply));

        Assert.Equal("10.10.1.2 -> 10.10.101.2: icmp: echo request", SnifferLine.Describe(request));
        Assert.Equal("10.10.101.2 -> 10.10.1.2: icmp: echo reply", SnifferLine.Describe(reply));
    }

    [Fact]
    public void Whole_line_has_six_decimal_seconds_interface_and_direction()
    {
        var request = IcmpEcho.Request(1, 1, new byte[56]).InIpv4(Pc1, Server);
        Assert.Equal("0.171753 vpn1 in 10.10.1.2 -> 10.10.101.2: icmp: echo request",
            SnifferLine.Format(TimeSpan.FromTicks(1_717_530), "vpn1", SnifferDirection.In, request));
        Assert.True(IcmpEcho.TryReply(request, out var reply));
        Assert.Equal("12.000000 port3 out 10.10.101.2 -> 10.10.1.2: icmp: echo reply",
            SnifferLine.Format(TimeSpan.FromSeconds(12), "port3", SnifferDirection.Out, reply));
    }

    [Fact]
    public void Non_echo_traffic_still_prints_addresses()
    {
        var esp = new Ipv4Packet(IPAddress.Parse("192.168.7.2"), IPAddress.Parse("192.168.202.35"), Ipv4Packet.ProtocolEsp, new byte[132]);
        Assert.Equal("192.168.7.2 -> 192.168.202.35: ip-proto-50 132", SnifferLine.Describe(esp));
    }
}
