using System.Buffers.Binary;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Protocol.Packets;

/// <summary>
/// The forwarding fast path's view of an IPv4 header, read in place. It accepts exactly what
/// <see cref="Ipv4Packet.TryParse"/> accepts (version 4, IHL ≥ 5, lengths consistent, header checksum right; the spec
/// Ipv4HeaderSpec holds the two to agreement) but allocates nothing, so a router does not build an
/// <see cref="Ipv4Packet"/>, two <see cref="System.Net.IPAddress"/>es and a payload copy per hop.
/// </summary>
public readonly struct Ipv4Header
{
    private Ipv4Header(uint source, uint destination, byte protocol, byte ttl, int headerLength, int totalLength)
    {
        Source = source;
        Destination = destination;
        Protocol = protocol;
        Ttl = ttl;
        HeaderLength = headerLength;
        TotalLength = totalLength;
    }

    public uint Source { get; }
    public uint Destination { get; }
    public byte Protocol { get; }
    public byte Ttl { get; }
    public int HeaderLength { get; }
    public int TotalLength { get; }

    public static bool TryRead(ReadOnlySpan<byte> bytes, out Ipv4Header header)
    {
        header = default;
        if (bytes.Length < Ipv4Packet.MinHeaderLength || bytes[0] >> 4 != 4)
            return false;
        int headerLength = (bytes[0] & 0x0F) * 4;
        if (headerLength < Ipv4Packet.MinHeaderLength || bytes.Length < headerLength)
            return false;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]);
        if (totalLength < headerLength || bytes.Length < totalLength)
            return false;
        if (!InternetChecksum.Verify(bytes[..headerLength]))
            return false;
        header = new Ipv4Header(
            BinaryPrimitives.ReadUInt32BigEndian(bytes[12..]),
            BinaryPrimitives.ReadUInt32BigEndian(bytes[16..]),
            bytes[9], bytes[8], headerLength, totalLength);
        return true;
    }

    /// <summary>
    /// A copy of <paramref name="packet"/> (up to its total length) with the TTL one lower and the header checksum
    /// recomputed. The input is never modified: in the in-memory fabric it is the previous hop's own buffer.
    /// </summary>
    public static byte[] CopyWithTtlDecremented(ReadOnlySpan<byte> packet, in Ipv4Header header)
    {
        if (header.Ttl == 0)
            throw new InvalidOperationException("A packet with TTL 0 cannot be forwarded.");
        var copy = packet[..header.TotalLength].ToArray();
        copy[8] = (byte)(header.Ttl - 1);
        copy[10] = 0;
        copy[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(10), InternetChecksum.Compute(copy.AsSpan(0, header.HeaderLength)));
        return copy;
    }
}
