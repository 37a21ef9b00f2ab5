using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace ClusterActors.Protocol.Packets;

/// <summary>Why <see cref="Ipv4Packet.TryParse"/> refused some bytes.</summary>
public enum Ipv4ParseError
{
    None = 0,
    /// <summary>Fewer bytes than the header, the header length or the total length announces.</summary>
    Truncated,
    NotVersion4,
    /// <summary>IHL below 5 words or a total length smaller than the header.</summary>
    BadHeaderLength,
    BadChecksum,
}

/// <summary>
/// Just enough IPv4 (RFC 791) for the lab's echo traffic and ESP's inner packets: no options on build, options skipped on
/// parse, fragments carried as they are (never reassembled). Records compare addresses by value.
/// </summary>
public sealed record Ipv4Packet
{
    public const int MinHeaderLength = 20;
    public const byte ProtocolIcmp = 1;
    public const byte ProtocolUdp = 17;
    public const byte ProtocolEsp = 50;
    /// <summary>Linux's default TTL, which is what the lab's hosts would use.</summary>
    public const byte DefaultTtl = 64;

    public Ipv4Packet(IPAddress source, IPAddress destination, byte protocol, byte[] payload,
        byte ttl = DefaultTtl, ushort identification = 0, bool dontFragment = true, byte tos = 0)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(payload);
        if (source.AddressFamily != AddressFamily.InterNetwork || destination.AddressFamily != AddressFamily.InterNetwork)
            throw new ArgumentException("Ipv4Packet takes IPv4 addresses only.");
        if (payload.Length > ushort.MaxValue - MinHeaderLength)
            throw new ArgumentException("Payload does not fit the 16-bit total length.", nameof(payload));
        Source = source;
        Destination = destination;
        Protocol = protocol;
        Payload = payload;
        Ttl = ttl;
        Identification = identification;
        DontFragment = dontFragment;
        Tos = tos;
    }

    public IPAddress Source { get; init; }
    public IPAddress Destination { get; init; }
    public byte Protocol { get; init; }
    public byte[] Payload { get; init; }
    public byte Ttl { get; init; }
    public ushort Identification { get; init; }
    public bool DontFragment { get; init; }
    public byte Tos { get; init; }
    /// <summary>Set only by parsing: MF flag and offset, kept so a fragment is not mistaken for a whole datagram.</summary>
    public bool MoreFragments { get; init; }
    public ushort FragmentOffset { get; init; }

    public int TotalLength => MinHeaderLength + Payload.Length;

    public bool IsFragment => MoreFragments || FragmentOffset != 0;

    public byte[] ToBytes()
    {
        var bytes = new byte[TotalLength];
        var h = bytes.AsSpan(0, MinHeaderLength);
        h[0] = 0x45; // version 4, IHL 5 words
        h[1] = Tos;
        BinaryPrimitives.WriteUInt16BigEndian(h[2..], (ushort)TotalLength);
        BinaryPrimitives.WriteUInt16BigEndian(h[4..], Identification);
        ushort flags = (ushort)((DontFragment ? 0x4000 : 0) | (MoreFragments ? 0x2000 : 0) | (FragmentOffset & 0x1FFF));
        BinaryPrimitives.WriteUInt16BigEndian(h[6..], flags);
        h[8] = Ttl;
        h[9] = Protocol;
        Source.TryWriteBytes(h[12..16], out _);
        Destination.TryWriteBytes(h[16..20], out _);
        BinaryPrimitives.WriteUInt16BigEndian(h[10..], InternetChecksum.Compute(h));
        Payload.CopyTo(bytes, MinHeaderLength);
        return bytes;
    }

    /// <summary>
    /// Parses one datagram. Bytes past the total length are ignored (link-layer padding, or ESP's own padding never
    /// reaches here but a short Ethernet frame's would). Never throws on content.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out Ipv4Packet? packet, out Ipv4ParseError error)
    {
        packet = null;
        if (bytes.Length < MinHeaderLength)
            return Fail(Ipv4ParseError.Truncated, out error);
        if (bytes[0] >> 4 != 4)
            return Fail(Ipv4ParseError.NotVersion4, out error);
        int headerLength = (bytes[0] & 0x0F) * 4;
        if (headerLength < MinHeaderLength)
            return Fail(Ipv4ParseError.BadHeaderLength, out error);
        if (bytes.Length < headerLength)
            return Fail(Ipv4ParseError.Truncated, out error);
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]);
        if (totalLength < headerLength)
            return Fail(Ipv4ParseError.BadHeaderLength, out error);
        if (bytes.Length < totalLength)
            return Fail(Ipv4ParseError.Truncated, out error);
        if (!InternetChecksum.Verify(bytes[..headerLength]))
            return Fail(Ipv4ParseError.BadChecksum, out error);

        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(bytes[6..]);
        packet = new Ipv4Packet(
            new IPAddress(bytes[12..16]),
            new IPAddress(bytes[16..20]),
            bytes[9],
            bytes[headerLength..totalLength].ToArray(),
            ttl: bytes[8],
            identification: BinaryPrimitives.ReadUInt16BigEndian(bytes[4..]),
            dontFragment: (flags & 0x4000) != 0,
            tos: bytes[1])
        {
            MoreFragments = (flags & 0x2000) != 0,
            FragmentOffset = (ushort)(flags & 0x1FFF),
        };
        error = Ipv4ParseError.None;
        return true;
    }

    public bool Equals(Ipv4Packet? other) =>
        other is not null
        && Source.Equals(other.Source) && Destination.Equals(other.Destination)
        && Protocol == other.Protocol && Ttl == other.Ttl && Identification == other.Identification
        && DontFragment == other.DontFragment && Tos == other.Tos
        && MoreFragments == other.MoreFragments && FragmentOffset == other.FragmentOffset
        && Payload.AsSpan().SequenceEqual(other.Payload);

    public override int GetHashCode() => HashCode.Combine(Source, Destination, Protocol, Payload.Length);

    private static bool Fail(Ipv4ParseError why, out Ipv4ParseError error)
    {
        error = why;
        return false;
    }
}
