using System.Buffers.Binary;
using System.Text;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Protocol.Tests.Packets;

/// <summary>
/// `diagnose sniffer packet … 1..6` as FortiOS prints it. The fixture is a published FortiOS capture (verbosity 3 on
/// `any`, the example log of the fgsniffer converter): an ICMP echo request whose dump, with the console's tabs expanded
/// to 8 columns, is reproduced octet for octet, ASCII column and short last line included.
/// </summary>
public sealed class SnifferVerbositySpec
{
    // 00:00:00:00:00:01 is what FortiOS prints as the destination of an inbound frame on `any`; 00:23:e9:3e:7a:38 the sender.
    private static readonly byte[] AnyInbound = Convert.FromHexString("000000000001");
    private static readonly byte[] Sender = Convert.FromHexString("0023e93e7a38");
    private static readonly byte[] EchoRequest = Convert.FromHexString("450000280000" + "4000ff01eaa70a86be020a86be1e0800d6c6b371c23d400173080a1441c250a05c09");

    private const string PublishedDump =
        "0x0000   0000 0000 0001 0023 e93e 7a38 0800 4500        .......#.>z8..E.\n" +
        "0x0010   0028 0000 4000 ff01 eaa7 0a86 be02 0a86        .(..@...........\n" +
        "0x0020   be1e 0800 d6c6 b371 c23d 4001 7308 0a14        .......q.=@.s...\n" +
        "0x0030   41c2 50a0 5c09                                 A.P.\\.\n";

    private static SnifferFrame Frame(byte[]? ip = null, SnifferEthernet? eth = null, string iface = "port2") =>
        new(TimeSpan.FromTicks(6_755_290), iface, SnifferDirection.In, ip ?? EchoRequest, eth ?? new SnifferEthernet(AnyInbound, Sender));

    private const string Header = "0.675529 10.134.190.2 -> 10.134.190.30: icmp: echo request";
    private const string HeaderWithInterface = "0.675529 port2 in 10.134.190.2 -> 10.134.190.30: icmp: echo request";

    private const string IpDump =
        "0x0000\t 4500 0028 0000 4000 ff01 eaa7 0a86 be02\tE..(..@.........\n" +
        "0x0010\t 0a86 be1e 0800 d6c6 b371 c23d 4001 7308\t.........q.=@.s.\n" +
        "0x0020\t 0a14 41c2 50a0 5c09                    \t..A.P.\\.\n";

    private const string EthernetDump =
        "0x0000\t 0000 0000 0001 0023 e93e 7a38 0800 4500\t.......#.>z8..E.\n" +
        "0x0010\t 0028 0000 4000 ff01 eaa7 0a86 be02 0a86\t.(..@...........\n" +
        "0x0020\t be1e 0800 d6c6 b371 c23d 4001 7308 0a14\t.......q.=@.s...\n" +
        "0x0030\t 41c2 50a0 5c09                         \tA.P.\\.\n";

    public static TheoryData<int, string> Levels => new()
    {
        { 1, Header + "\n" },
        { 2, Header + "\n" + IpDump + "\n" },
        { 3, Header + "\n" + EthernetDump + "\n" },
        { 4, HeaderWithInterface + "\n" },
        { 5, HeaderWithInterface + "\n" + IpDump + "\n" },
        { 6, HeaderWithInterface + "\n" + EthernetDump + "\n" },
    };

    [Theory]
    [MemberData(nameof(Levels))]
    public void Each_verbosity_prints_what_FortiOS_help_says(int verbosity, string expected)
    {
        Assert.True(SnifferLine.TryRender(verbosity, Frame(), out var text, out var error), error);
        Assert.Equal(expected, text);
    }

    [Fact]
    public void The_ethernet_dump_is_the_published_capture_once_tabs_are_expanded()
    {
        Assert.Equal(PublishedDump, ExpandTabs(EthernetDump));
        var wire = new byte[14 + EchoRequest.Length];
        AnyInbound.CopyTo(wire, 0);
        Sender.CopyTo(wire, 6);
        wire[12] = 0x08;
        EchoRequest.CopyTo(wire, 14);
        Assert.Equal(PublishedDump, ExpandTabs(SnifferHexDump.Format(wire)));
    }

    public static TheoryData<string, string> Dumps => new()
    {
        { "", "" },
        { "41", "0x0000\t 41                                     \tA\n" },
        { "414243", "0x0000\t 4142 43                                \tABC\n" },
        { "00112233445566778899aabbccddeeff", "0x0000\t 0011 2233 4455 6677 8899 aabb ccdd eeff\t..\"3DUfw........\n" },
        { "202122237e7f", "0x0000\t 2021 2223 7e7f" + Spaces(25) + "\t !\"#~.\n" },
        { "00112233445566778899aabbccddeeff10", "0x0000\t 0011 2233 4455 6677 8899 aabb ccdd eeff\t..\"3DUfw........\n0x0010\t 10                                     \t.\n" },
    };

    [Theory]
    [MemberData(nameof(Dumps))]
    public void Hex_dump_lines_keep_the_ascii_column_for_short_and_odd_lines(string hex, string expected)
    {
        var dump = SnifferHexDump.Format(Convert.FromHexString(hex));
        Assert.Equal(expected, dump);
        foreach (var line in dump.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Assert.Equal(56, ExpandTabs(line).Length - line[(line.LastIndexOf('\t') + 1)..].Length);
    }

    [Fact]
    public void A_tunnel_interface_without_a_link_layer_dumps_the_ip_octets_at_3_and_6()
    {
        var frame = Frame() with { Ethernet = null, Interface = "vpn1" };
        Assert.True(SnifferLine.TryRender(6, frame, out var text, out _));
        Assert.Equal("0.675529 vpn1 in 10.134.190.2 -> 10.134.190.30: icmp: echo request\n" + IpDump + "\n", text);
    }

    public static TheoryData<string, int, SnifferFrame, string> BadInputs => new()
    {
        { "verbosity 0", 0, Frame(), "verbose level must be 1-6, got 0" },
        { "verbosity 7", 7, Frame(), "verbose level must be 1-6, got 7" },
        { "negative verbosity", -1, Frame(), "verbose level must be 1-6, got -1" },
        { "empty datagram", 4, Frame(ip: []), "not an IPv4 datagram (Truncated, 0 octets)" },
        { "IPv6 octets", 4, Frame(ip: [0x60, .. new byte[39]]), "not an IPv4 datagram (NotVersion4, 40 octets)" },
        { "bad header checksum", 4, Frame(ip: Corrupt(EchoRequest, 10)), "not an IPv4 datagram (BadChecksum, 40 octets)" },
        { "total length past the octets", 4, Frame(ip: EchoRequest[..30]), "not an IPv4 datagram (Truncated, 30 octets)" },
        { "short MAC", 6, Frame(eth: new SnifferEthernet([1, 2, 3], Sender)), "a MAC address is 6 octets" },
        { "null MAC", 3, Frame(eth: new SnifferEthernet(AnyInbound, null!)), "a MAC address is 6 octets" },
        { "no octets", 1, Frame() with { Ipv4 = null! }, "no frame" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void Bad_input_is_refused_with_a_reason_not_thrown(string why, int verbosity, SnifferFrame frame, string expected)
    {
        Assert.False(SnifferLine.TryRender(verbosity, frame, out var text, out var error), why);
        Assert.Equal(expected, error);
        Assert.Equal("", text);
    }

    [Fact]
    public void A_null_frame_is_refused()
    {
        Assert.False(SnifferLine.TryRender(4, null!, out _, out var error));
        Assert.Equal("no frame", error);
    }

    private static string Spaces(int n) => new(' ', n);

    private static byte[] Corrupt(byte[] bytes, int at)
    {
        var copy = (byte[])bytes.Clone();
        copy[at] ^= 0xff;
        return copy;
    }

    private static string ExpandTabs(string text)
    {
        var sb = new StringBuilder();
        var column = 0;
        foreach (var c in text)
        {
            if (c == '\n') { sb.Append(c); column = 0; }
            else if (c == '\t') { var n = 8 - column % 8; sb.Append(' ', n); column += n; }
            else { sb.Append(c); column++; }
        }
        return sb.ToString();
    }
}
