using System.Buffers.Binary;
using System.Text;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Protocol.Tests.Packets;

/// <summary>The pcapng blocks, read back field by field (tshark reads the same files in Node.Tests' PcapNgTsharkSpec).</summary>
public sealed class PcapNgSpec
{
    private static readonly DateTimeOffset At = new(2026, 12, 6, 11, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_file_is_a_section_header_one_interface_block_per_interface_and_one_packet_block_per_packet()
    {
        var data = new byte[] { 0x45, 1, 2, 3, 4 }; // 5 octets: padded to 8
        Assert.True(PcapNg.TryEncode("clusteractors", [new("DC2_VM1 port2"), new("dc-router c1")],
            [new PcapNgPacket(1, At.AddTicks(1234_5670), data, Inbound: false, Comment: "dc-router c1 -> DC2_VM1 port2")], out var file, out var error), error);

        var blocks = Blocks(file);
        Assert.Equal([PcapNg.SectionHeaderType, PcapNg.InterfaceDescriptionType, PcapNg.InterfaceDescriptionType, PcapNg.EnhancedPacketType],
            blocks.Select(b => b.Type));
        var shb = blocks[0].Body;
        Assert.Equal(PcapNg.ByteOrderMagic, BinaryPrimitives.ReadUInt32LittleEndian(shb));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(shb.AsSpan(4)));
        Assert.Equal(-1, BinaryPrimitives.ReadInt64LittleEndian(shb.AsSpan(8)));

        var idb = blocks[2].Body;
        Assert.Equal(PcapNg.LinkTypeRaw, BinaryPrimitives.ReadUInt16LittleEndian(idb));
        var idbOptions = Options(idb.AsSpan(8).ToArray());
        Assert.Equal("dc-router c1", Encoding.UTF8.GetString(idbOptions[2]));
        Assert.Equal([6], idbOptions[9]); // if_tsresol: microseconds

        var epb = blocks[3].Body;
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(epb));
        var micros = ((long)BinaryPrimitives.ReadUInt32LittleEndian(epb.AsSpan(4)) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(epb.AsSpan(8));
        Assert.Equal((At - DateTimeOffset.UnixEpoch).Ticks / 10 + 1_234_567, micros);
        Assert.Equal(5u, BinaryPrimitives.ReadUInt32LittleEndian(epb.AsSpan(12)));
        Assert.Equal(5u, BinaryPrimitives.ReadUInt32LittleEndian(epb.AsSpan(16)));
        Assert.Equal(data, epb.AsSpan(20, 5).ToArray());
        var epbOptions = Options(epb.AsSpan(28).ToArray());
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(epbOptions[2])); // outbound
        Assert.Equal("dc-router c1 -> DC2_VM1 port2", Encoding.UTF8.GetString(epbOptions[1]));
    }

    public static TheoryData<string, PcapNgPacket, string> BadPackets => new()
    {
        { "interface past the section's", new PcapNgPacket(2, At, [0x45]), "interface 2 is not one of the section's 2" },
        { "negative interface", new PcapNgPacket(-1, At, [0x45]), "interface -1 is not one of the section's 2" },
        { "before 1970", new PcapNgPacket(0, DateTimeOffset.UnixEpoch.AddSeconds(-1), [0x45]), "timestamp 1969-12-31T23:59:59.0000000+00:00 is before 1970" },
        { "longer than the snap length", new PcapNgPacket(0, At, new byte[65536]), "packet of 65536 octets is longer than the snap length 65535" },
        { "no octets", new PcapNgPacket(0, At, null!), "no packet" },
    };

    [Theory]
    [MemberData(nameof(BadPackets))]
    public void A_bad_packet_is_refused_with_a_reason_not_thrown(string why, PcapNgPacket packet, string expected)
    {
        Assert.False(PcapNg.TryEncode("t", [new("a"), new("b")], [packet], out var file, out var error), why);
        Assert.Equal(expected, error);
        Assert.Empty(file);
        Assert.Null(PcapNg.EnhancedPacket(packet, 2, out var direct));
        Assert.Equal(expected, direct);
    }

    [Fact]
    public void A_bad_interface_is_refused()
    {
        Assert.False(PcapNg.TryEncode("t", [new(null!)], [], out _, out var error));
        Assert.Equal("an interface needs a name", error);
        Assert.False(PcapNg.TryEncode("t", [new(new string('x', 70_000))], [], out _, out error));
        Assert.Equal("interface name of 70000 octets is too long", error);
        Assert.False(PcapNg.TryEncode("t", null!, [], out _, out error));
    }

    private static List<(uint Type, byte[] Body)> Blocks(byte[] file)
    {
        var blocks = new List<(uint, byte[])>();
        for (var at = 0; at < file.Length;)
        {
            var type = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at));
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at + 4));
            Assert.Equal(0, length % 4);
            Assert.Equal((uint)length, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at + length - 4)));
            blocks.Add((type, file.AsSpan(at + 8, length - 12).ToArray()));
            at += length;
        }
        return blocks;
    }

    private static Dictionary<ushort, byte[]> Options(byte[] options)
    {
        var found = new Dictionary<ushort, byte[]>();
        for (var at = 0; ;)
        {
            var code = BinaryPrimitives.ReadUInt16LittleEndian(options.AsSpan(at));
            var length = BinaryPrimitives.ReadUInt16LittleEndian(options.AsSpan(at + 2));
            if (code == 0) return found;
            found[code] = options.AsSpan(at + 4, length).ToArray();
            at += 4 + ((length + 3) & ~3);
        }
    }
}
