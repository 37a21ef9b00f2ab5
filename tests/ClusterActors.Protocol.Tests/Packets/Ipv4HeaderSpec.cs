using System.Buffers.Binary;
using System.Net;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Protocol.Tests.Packets;

/// <summary>The router's in-place header reader must accept exactly what <see cref="Ipv4Packet.TryParse"/> accepts.</summary>
public class Ipv4HeaderSpec
{
    private static readonly IPAddress Src = IPAddress.Parse("192.168.7.2");
    private static readonly IPAddress Dst = IPAddress.Parse("192.168.202.35");

    private static byte[] Valid() => new Ipv4Packet(Src, Dst, Ipv4Packet.ProtocolEsp, [1, 2, 3, 4, 5, 6, 7, 8], ttl: 17, identification: 0x1234).ToBytes();

    private static byte[] Rechecksum(byte[] b)
    {
        int ihl = (b[0] & 0x0F) * 4;
        b[10] = b[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(10), InternetChecksum.Compute(b.AsSpan(0, Math.Min(ihl, b.Length))));
        return b;
    }

    public static TheoryData<string> Cases() => new(CaseTable.Keys);

    private static readonly Dictionary<string, Func<byte[]>> CaseTable = new()
    {
        ["valid"] = Valid,
        ["valid with trailing padding"] = () => [.. Valid(), 0, 0, 0, 0],
        ["empty"] = () => [],
        ["19 bytes"] = () => Valid()[..19],
        ["version 6"] = () => { var b = Valid(); b[0] = 0x65; return Rechecksum(b); },
        ["IHL 4"] = () => { var b = Valid(); b[0] = 0x44; return Rechecksum(b); },
        ["total length below header"] = () => { var b = Valid(); BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), 19); return Rechecksum(b); },
        ["total length beyond buffer"] = () => { var b = Valid(); BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), 200); return Rechecksum(b); },
        ["bad checksum"] = () => { var b = Valid(); b[10] ^= 0xFF; return b; },
        ["TTL changed without checksum"] = () => { var b = Valid(); b[8]--; return b; },
        ["with 4 bytes of options"] = () =>
        {
            var v = Valid();
            var b = new byte[v.Length + 4];
            v.AsSpan(0, 20).CopyTo(b);
            v.AsSpan(20).CopyTo(b.AsSpan(24));
            b[0] = 0x46;
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), (ushort)b.Length);
            return Rechecksum(b);
        },
        ["IHL beyond buffer"] = () => { var b = Valid()[..20]; b[0] = 0x4F; BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), 20); return b; },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TryRead_agrees_with_Ipv4Packet_TryParse(string name)
    {
        var bytes = CaseTable[name]();

        bool parsed = Ipv4Packet.TryParse(bytes, out var packet, out _);
        bool read = Ipv4Header.TryRead(bytes, out var header);

        Assert.Equal(parsed, read);
        if (!parsed)
            return;
        Assert.Equal(Ipv4Address.ToUInt32(packet!.Source), header.Source);
        Assert.Equal(Ipv4Address.ToUInt32(packet.Destination), header.Destination);
        Assert.Equal(packet.Protocol, header.Protocol);
        Assert.Equal(packet.Ttl, header.Ttl);
        Assert.Equal(header.TotalLength - packet.Payload.Length, header.HeaderLength);
    }

    [Fact]
    public void CopyWithTtlDecremented_lowers_the_TTL_fixes_the_checksum_drops_padding_and_leaves_the_input_alone()
    {
        byte[] input = [.. Valid(), 0xEE, 0xEE];
        var original = input.ToArray();
        Assert.True(Ipv4Header.TryRead(input, out var h));

        var copy = Ipv4Header.CopyWithTtlDecremented(input, h);

        Assert.Equal(original, input);
        Assert.True(Ipv4Packet.TryParse(copy, out var forwarded, out var error), error.ToString());
        Assert.Equal(h.TotalLength, copy.Length);
        Assert.Equal(16, forwarded.Ttl);
        Assert.True(Ipv4Packet.TryParse(input, out var before, out _));
        Assert.Equal(before with { Ttl = 16 }, forwarded);
    }

    [Fact]
    public void Addresses_and_prefixes_convert_both_ways()
    {
        Assert.Equal(0xC0A80702u, Ipv4Address.Parse("192.168.7.2"));
        Assert.Equal(IPAddress.Parse("10.10.1.2"), Ipv4Address.ToIPAddress(Ipv4Address.Parse("10.10.1.2")));
        Assert.Equal("172.31.129.254", Ipv4Address.Format(Ipv4Address.Parse("172.31.129.254")));
        Assert.Throws<ArgumentException>(() => Ipv4Address.ToUInt32(IPAddress.IPv6Loopback));

        var p = Ipv4Prefix.Parse("192.168.129.254/24");
        Assert.Equal("192.168.129.0/24", p.ToString());
        Assert.True(p.Contains(IPAddress.Parse("192.168.129.1")));
        Assert.False(p.Contains(IPAddress.Parse("192.168.130.1")));
        Assert.True(Ipv4Prefix.Parse("0.0.0.0/0").Contains(IPAddress.Parse("8.8.8.8")));
        Assert.Equal(Ipv4Prefix.Parse("192.168.202.35/32"), Ipv4Prefix.Parse("192.168.202.35"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Ipv4Prefix(0, 33));
    }
}
