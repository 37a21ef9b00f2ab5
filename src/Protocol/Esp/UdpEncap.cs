using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace ClusterActors.Protocol.Esp;

/// <summary>What a UDP/4500 payload carries (RFC 3948 §2).</summary>
public enum UdpEncapKind
{
    /// <summary>Too short to be anything on port 4500 (e.g. 1–3 bytes other than the keepalive, or 4–7 bytes of non-zero SPI).</summary>
    Invalid,
    /// <summary>Starts with the 4-byte non-ESP marker (zero, where an SPI can never be zero): an IKE message follows.</summary>
    Ike,
    /// <summary>The single byte 0xFF a NAT-T peer sends to keep the NAT mapping alive (RFC 3948 §2.3).</summary>
    NatKeepalive,
    /// <summary>Anything else: an ESP packet whose first 4 bytes are its (non-zero) SPI.</summary>
    Esp,
}

/// <summary>A parsed UDP datagram: ports and payload. The checksum is not verified (RFC 3948 §3.1.2 lets ESP-in-UDP senders send 0).</summary>
public sealed record UdpDatagram(ushort SourcePort, ushort DestinationPort, byte[] Payload);

/// <summary>
/// RFC 3948 UDP encapsulation of ESP (NAT traversal) on port 4500. The seed runs with `nattraversal disable`, so its ESP
/// is IP protocol 50; this is here for labs that turn NAT-T on (`natt: mode=…` in `diagnose vpn tunnel list`).
/// </summary>
public static class UdpEncap
{
    public const ushort NatTPort = 4500;
    public const int UdpHeaderLength = 8;
    public const int NonEspMarkerLength = 4;
    public const byte NatKeepaliveByte = 0xFF;
    /// <summary>IP protocol of the outer header when ESP is UDP-encapsulated; bare ESP is <see cref="IpProtocolEsp"/>.</summary>
    public const byte IpProtocolUdp = 17;
    public const byte IpProtocolEsp = 50;

    /// <summary>
    /// UDP header + ESP. The checksum is 0: RFC 3948 §3.1.2 says senders SHOULD send zero for IPv4, because ESP carries its
    /// own integrity check and NAT rewriting would break a real checksum anyway.
    /// </summary>
    public static byte[] Wrap(ReadOnlySpan<byte> espBytes, ushort sourcePort = NatTPort, ushort destinationPort = NatTPort)
    {
        // The ESP's SPI doubles as the marker: a zero-SPI ESP packet would be read back as IKE.
        if (espBytes.Length < EspCodec.HeaderLength)
            throw new ArgumentException("An ESP packet is at least SPI and sequence number (8 bytes).", nameof(espBytes));
        if (BinaryPrimitives.ReadUInt32BigEndian(espBytes) == 0)
            throw new ArgumentException("SPI 0 would be read as the non-ESP marker.", nameof(espBytes));
        return Datagram(sourcePort, destinationPort, espBytes, ReadOnlySpan<byte>.Empty);
    }

    /// <summary>UDP header + non-ESP marker + IKE message, as IKE is sent once NAT-T floats to port 4500.</summary>
    public static byte[] WrapIke(ReadOnlySpan<byte> ikeMessage, ushort sourcePort = NatTPort, ushort destinationPort = NatTPort) =>
        Datagram(sourcePort, destinationPort, stackalloc byte[NonEspMarkerLength], ikeMessage);

    /// <summary>
    /// Non-ESP marker + IKE message, without a UDP header: what a socket bound to port 4500 sends as its payload once
    /// IKE has floated there (RFC 3948 §2.2, RFC 7296 §2.23).
    /// </summary>
    public static byte[] FrameIke(ReadOnlySpan<byte> ikeMessage)
    {
        var bytes = new byte[NonEspMarkerLength + ikeMessage.Length];
        ikeMessage.CopyTo(bytes.AsSpan(NonEspMarkerLength));
        return bytes;
    }

    /// <summary>
    /// The IKE message inside a port-4500 payload, marker removed; false for anything else (an ESP packet, whose
    /// first four bytes are its non-zero SPI, a NAT keepalive, or a runt). An IKE message sent to 4500 without the
    /// marker starts with its SPIi and is therefore classified as ESP, as RFC 3948 demultiplexing wants.
    /// </summary>
    public static bool TryUnframeIke(ReadOnlySpan<byte> udpPayload, [NotNullWhen(true)] out byte[]? ikeMessage)
    {
        ikeMessage = Classify(udpPayload) == UdpEncapKind.Ike ? Inner(udpPayload, UdpEncapKind.Ike).ToArray() : null;
        return ikeMessage is not null;
    }

    /// <summary>UDP header + 0xFF.</summary>
    public static byte[] NatKeepalive(ushort sourcePort = NatTPort, ushort destinationPort = NatTPort) =>
        Datagram(sourcePort, destinationPort, [NatKeepaliveByte], ReadOnlySpan<byte>.Empty);

    /// <summary>RFC 3948 §2.2 / §2.3 demultiplexing of a port-4500 payload (without the UDP header).</summary>
    public static UdpEncapKind Classify(ReadOnlySpan<byte> udpPayload)
    {
        if (udpPayload.Length == 1 && udpPayload[0] == NatKeepaliveByte)
            return UdpEncapKind.NatKeepalive;
        if (udpPayload.Length < NonEspMarkerLength)
            return UdpEncapKind.Invalid;
        if (BinaryPrimitives.ReadUInt32BigEndian(udpPayload) == 0)
            return UdpEncapKind.Ike;
        return udpPayload.Length >= EspCodec.HeaderLength ? UdpEncapKind.Esp : UdpEncapKind.Invalid;
    }

    /// <summary>The bytes after the demultiplexing: the ESP packet itself, the IKE message without its marker, or empty.</summary>
    public static ReadOnlySpan<byte> Inner(ReadOnlySpan<byte> udpPayload, UdpEncapKind kind) => kind switch
    {
        UdpEncapKind.Esp => udpPayload,
        UdpEncapKind.Ike => udpPayload[NonEspMarkerLength..],
        _ => ReadOnlySpan<byte>.Empty,
    };

    /// <summary>Parses a UDP header and cuts the payload to the UDP length field (trailing bytes are link padding).</summary>
    public static bool TryParse(ReadOnlySpan<byte> datagram, [NotNullWhen(true)] out UdpDatagram? result)
    {
        result = null;
        if (datagram.Length < UdpHeaderLength)
            return false;
        int length = BinaryPrimitives.ReadUInt16BigEndian(datagram[4..]);
        if (length < UdpHeaderLength || length > datagram.Length)
            return false;
        result = new UdpDatagram(
            BinaryPrimitives.ReadUInt16BigEndian(datagram),
            BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]),
            datagram[UdpHeaderLength..length].ToArray());
        return true;
    }

    private static byte[] Datagram(ushort sourcePort, ushort destinationPort, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        int length = UdpHeaderLength + first.Length + second.Length;
        if (length > ushort.MaxValue)
            throw new ArgumentException("UDP payload too large for the 16-bit length field.");
        var bytes = new byte[length];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(4), (ushort)length);
        // bytes 6..7: checksum 0, see Wrap.
        first.CopyTo(bytes.AsSpan(UdpHeaderLength));
        second.CopyTo(bytes.AsSpan(UdpHeaderLength + first.Length));
        return bytes;
    }
}
