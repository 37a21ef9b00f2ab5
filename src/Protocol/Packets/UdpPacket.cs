using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using ClusterActors.Protocol.Esp;

namespace ClusterActors.Protocol.Packets;

/// <summary>
/// UDP (RFC 768) over <see cref="Ipv4Packet"/>: what IKE travels in (port 500, or 4500 with the non-ESP marker once
/// NAT-T floats, see <see cref="UdpEncap"/>). Builds datagrams with a real checksum over the IPv4 pseudo-header, and
/// parses them checking that checksum unless it is 0 ("not computed", allowed for IPv4 and what RFC 3948 senders use).
/// </summary>
public static class UdpPacket
{
    public const int HeaderLength = 8;

    /// <summary>IKE's port (RFC 7296 §2); NAT-T moves IKE and ESP to <see cref="UdpEncap.NatTPort"/>.</summary>
    public const ushort IkePort = 500;

    /// <summary>An IPv4 packet (protocol 17) carrying <paramref name="payload"/> from source:port to destination:port.</summary>
    public static Ipv4Packet InIpv4(IPAddress source, ushort sourcePort, IPAddress destination, ushort destinationPort,
        ReadOnlySpan<byte> payload, ushort identification = 0, byte ttl = Ipv4Packet.DefaultTtl) =>
        new(source, destination, Ipv4Packet.ProtocolUdp, Build(source, sourcePort, destination, destinationPort, payload), ttl, identification);

    /// <summary>UDP header and payload with the checksum computed over the pseudo-header (RFC 768).</summary>
    public static byte[] Build(IPAddress source, ushort sourcePort, IPAddress destination, ushort destinationPort, ReadOnlySpan<byte> payload)
    {
        int length = HeaderLength + payload.Length;
        if (length > ushort.MaxValue - Ipv4Packet.MinHeaderLength)
            throw new ArgumentException("UDP payload too large for one IPv4 datagram.", nameof(payload));
        var bytes = new byte[length];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(4), (ushort)length);
        payload.CopyTo(bytes.AsSpan(HeaderLength));
        var checksum = Checksum(source, destination, bytes);
        // A computed 0 is sent as 0xFFFF: 0 on the wire means "no checksum" (RFC 768).
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(6), checksum == 0 ? (ushort)0xFFFF : checksum);
        return bytes;
    }

    /// <summary>
    /// The UDP datagram inside <paramref name="packet"/>: false when it is not UDP, is a fragment, is shorter than its
    /// length field says, or carries a non-zero checksum that does not verify. Never throws on content.
    /// </summary>
    public static bool TryParse(Ipv4Packet packet, [NotNullWhen(true)] out UdpDatagram? datagram)
    {
        ArgumentNullException.ThrowIfNull(packet);
        datagram = null;
        if (packet.Protocol != Ipv4Packet.ProtocolUdp || packet.IsFragment)
            return false;
        var udp = packet.Payload.AsSpan();
        if (!UdpEncap.TryParse(udp, out var parsed))
            return false;
        int length = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
        if (BinaryPrimitives.ReadUInt16BigEndian(udp[6..]) != 0
            && PseudoHeaderSum(packet.Source, packet.Destination, udp[..length]) != 0xFFFF)
            return false;
        datagram = parsed;
        return true;
    }

    /// <summary>RFC 768 checksum of <paramref name="udp"/> (its checksum field must be zero) with the IPv4 pseudo-header.</summary>
    public static ushort Checksum(IPAddress source, IPAddress destination, ReadOnlySpan<byte> udp) =>
        (ushort)~PseudoHeaderSum(source, destination, udp);

    // Folded one's-complement sum of pseudo-header (src, dst, 0, 17, UDP length) and the UDP bytes.
    private static ushort PseudoHeaderSum(IPAddress source, IPAddress destination, ReadOnlySpan<byte> udp)
    {
        Span<byte> pseudo = stackalloc byte[12];
        source.TryWriteBytes(pseudo[..4], out _);
        destination.TryWriteBytes(pseudo[4..8], out _);
        pseudo[8] = 0;
        pseudo[9] = Ipv4Packet.ProtocolUdp;
        BinaryPrimitives.WriteUInt16BigEndian(pseudo[10..], (ushort)udp.Length);
        return InternetChecksum.FoldedSum(pseudo, udp);
    }
}
