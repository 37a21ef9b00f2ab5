using System.Buffers.Binary;
using System.Text;

namespace ClusterActors.Protocol.Packets;

/// <summary>One interface of a pcapng section (an Interface Description Block): its name and link type.</summary>
/// <param name="Name">if_name, e.g. `DC2_VM1 port2` — the host and the interface, as Wireshark shows it.</param>
/// <param name="LinkType">LINKTYPE_* value; <see cref="PcapNg.LinkTypeRaw"/> for the lab's IPv4 datagrams.</param>
public sealed record PcapNgInterface(string Name, ushort LinkType = PcapNg.LinkTypeRaw);

/// <summary>One captured packet (an Enhanced Packet Block).</summary>
/// <param name="Interface">Index into the section's interfaces.</param>
/// <param name="Timestamp">Wall-clock time of the capture; written in microseconds since the Unix epoch (if_tsresol 6).</param>
/// <param name="Inbound">epb_flags direction: true inbound, false outbound, null not given.</param>
/// <param name="Comment">opt_comment; null for none.</param>
public sealed record PcapNgPacket(int Interface, DateTimeOffset Timestamp, byte[] Data, bool? Inbound = null, string? Comment = null);

/// <summary>
/// pcapng (the IETF draft "PCAP Next Generation Dump File Format", the format Wireshark writes): one Section Header
/// Block, one Interface Description Block per interface (if_name, if_tsresol = 6: microseconds), one Enhanced Packet
/// Block per packet, little-endian. Pure: blocks in, octets out. Bad input (an interface index out of range, a time
/// before 1970, a packet longer than the snap length, a name that does not fit an option) is refused with an error,
/// never thrown, so a capture fed from the wire cannot bring its writer down.
/// </summary>
public static class PcapNg
{
    /// <summary>LINKTYPE_RAW: the packet begins with the IPv4 (or IPv6) header — the lab's fabric carries IPv4 datagrams.</summary>
    public const ushort LinkTypeRaw = 101;

    /// <summary>LINKTYPE_ETHERNET.</summary>
    public const ushort LinkTypeEthernet = 1;

    /// <summary>The snap length every interface declares; a longer packet is refused (an IPv4 datagram is at most 65535).</summary>
    public const int SnapLength = 65535;

    public const uint SectionHeaderType = 0x0A0D0D0A;
    public const uint InterfaceDescriptionType = 1;
    public const uint EnhancedPacketType = 6;
    public const uint ByteOrderMagic = 0x1A2B3C4D;

    private const ushort OptEnd = 0, OptComment = 1, ShbUserAppl = 4, IfName = 2, IfTsresol = 9, EpbFlags = 2;

    /// <summary>The Section Header Block, naming the writing application (shb_userappl).</summary>
    public static byte[] SectionHeader(string application)
    {
        var options = new List<(ushort, byte[])> { (ShbUserAppl, Encoding.UTF8.GetBytes(application ?? "")) };
        var body = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(body, ByteOrderMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(4), 1); // major
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(6), 0); // minor
        BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(8), -1); // section length not given
        return Block(SectionHeaderType, body, options);
    }

    /// <summary>An Interface Description Block, or null and an error.</summary>
    public static byte[]? InterfaceDescription(PcapNgInterface iface, out string? error)
    {
        if (iface?.Name is null) { error = "an interface needs a name"; return null; }
        var name = Encoding.UTF8.GetBytes(iface.Name);
        if (name.Length > ushort.MaxValue - 3) { error = $"interface name of {name.Length} octets is too long"; return null; }
        error = null;
        var body = new byte[8];
        BinaryPrimitives.WriteUInt16LittleEndian(body, iface.LinkType);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), SnapLength);
        return Block(InterfaceDescriptionType, body, [(IfName, name), (IfTsresol, [6])]);
    }

    /// <summary>An Enhanced Packet Block for a section of <paramref name="interfaceCount"/> interfaces, or null and an error.</summary>
    public static byte[]? EnhancedPacket(PcapNgPacket packet, int interfaceCount, out string? error)
    {
        if (packet?.Data is null) { error = "no packet"; return null; }
        if (packet.Interface < 0 || packet.Interface >= interfaceCount)
        {
            error = $"interface {packet.Interface} is not one of the section's {interfaceCount}";
            return null;
        }
        var micros = (packet.Timestamp - DateTimeOffset.UnixEpoch).Ticks / TimeSpan.TicksPerMicrosecond;
        if (micros < 0) { error = $"timestamp {packet.Timestamp:O} is before 1970"; return null; }
        if (packet.Data.Length > SnapLength) { error = $"packet of {packet.Data.Length} octets is longer than the snap length {SnapLength}"; return null; }
        var comment = packet.Comment is null ? null : Encoding.UTF8.GetBytes(packet.Comment);
        if (comment is { Length: > ushort.MaxValue - 3 }) { error = "comment too long"; return null; }
        error = null;
        var padded = Pad(packet.Data.Length);
        var body = new byte[20 + padded];
        BinaryPrimitives.WriteUInt32LittleEndian(body, (uint)packet.Interface);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), (uint)(micros >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(8), (uint)micros);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(12), (uint)packet.Data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(16), (uint)packet.Data.Length);
        packet.Data.CopyTo(body, 20);
        var options = new List<(ushort, byte[])>();
        if (packet.Inbound is { } inbound)
        {
            var flags = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(flags, inbound ? 1u : 2u); // bits 0-1: 01 inbound, 10 outbound
            options.Add((EpbFlags, flags));
        }
        if (comment is not null) options.Add((OptComment, comment));
        return Block(EnhancedPacketType, body, options);
    }

    /// <summary>A whole file: section header, the interfaces, the packets; false and the first error otherwise.</summary>
    public static bool TryEncode(string application, IReadOnlyList<PcapNgInterface> interfaces, IEnumerable<PcapNgPacket> packets,
        out byte[] file, out string? error)
    {
        file = [];
        if (interfaces is null || packets is null) { error = "no interfaces or packets"; return false; }
        using var ms = new MemoryStream();
        ms.Write(SectionHeader(application));
        foreach (var i in interfaces)
        {
            if (InterfaceDescription(i, out error) is not { } idb) return false;
            ms.Write(idb);
        }
        foreach (var p in packets)
        {
            if (EnhancedPacket(p, interfaces.Count, out error) is not { } epb) return false;
            ms.Write(epb);
        }
        error = null;
        file = ms.ToArray();
        return true;
    }

    private static int Pad(int length) => (length + 3) & ~3;

    private static byte[] Block(uint type, byte[] body, IReadOnlyList<(ushort Code, byte[] Value)> options)
    {
        var optionsLength = options.Count == 0 ? 0 : options.Sum(o => 4 + Pad(o.Value.Length)) + 4;
        var total = 12 + body.Length + optionsLength;
        var block = new byte[total];
        BinaryPrimitives.WriteUInt32LittleEndian(block, type);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(4), (uint)total);
        body.CopyTo(block, 8);
        var at = 8 + body.Length;
        if (options.Count > 0)
        {
            foreach (var (code, value) in options)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(at), code);
                BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(at + 2), (ushort)value.Length);
                value.CopyTo(block, at + 4);
                at += 4 + Pad(value.Length);
            }
            BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(at), OptEnd);
            at += 4;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(at), (uint)total);
        return block;
    }
}
