using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace ClusterActors.Protocol.Packets;

public enum IcmpEchoType : byte
{
    Reply = 0,
    Request = 8,
}

/// <summary>ICMP echo request/reply (RFC 792), the only ICMP the lab's PC1 and Server exchange.</summary>
public sealed record IcmpEcho(IcmpEchoType Type, ushort Identifier, ushort Sequence, byte[] Data)
{
    public const int HeaderLength = 8;
    /// <summary>Data size of a default Linux `ping`: 56 bytes, which makes the 84-byte packets the seed's counters imply (9744/116).</summary>
    public const int DefaultDataLength = 56;

    public static IcmpEcho Request(ushort identifier, ushort sequence, byte[] data) => new(IcmpEchoType.Request, identifier, sequence, data);

    /// <summary>The reply an echo server sends: same identifier, sequence and data (RFC 792 requires them echoed).</summary>
    public IcmpEcho ToReply() => this with { Type = IcmpEchoType.Reply };

    public byte[] ToBytes()
    {
        var bytes = new byte[HeaderLength + Data.Length];
        bytes[0] = (byte)Type;
        bytes[1] = 0; // code
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(4), Identifier);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(6), Sequence);
        Data.CopyTo(bytes, HeaderLength);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(2), InternetChecksum.Compute(bytes));
        return bytes;
    }

    /// <summary>Parses an echo request or reply (the ICMP part of an IPv4 payload); false for other types, code ≠ 0, short or bad checksum.</summary>
    public static bool TryParse(ReadOnlySpan<byte> icmp, [NotNullWhen(true)] out IcmpEcho? echo)
    {
        echo = null;
        if (icmp.Length < HeaderLength)
            return false;
        if (icmp[0] is not ((byte)IcmpEchoType.Request or (byte)IcmpEchoType.Reply) || icmp[1] != 0)
            return false;
        if (!InternetChecksum.Verify(icmp))
            return false;
        echo = new IcmpEcho((IcmpEchoType)icmp[0],
            BinaryPrimitives.ReadUInt16BigEndian(icmp[4..]),
            BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]),
            icmp[HeaderLength..].ToArray());
        return true;
    }

    /// <summary>An IPv4 packet carrying this echo.</summary>
    public Ipv4Packet InIpv4(System.Net.IPAddress source, System.Net.IPAddress destination, ushort identification = 0, byte ttl = Ipv4Packet.DefaultTtl) =>
        new(source, destination, Ipv4Packet.ProtocolIcmp, ToBytes(), ttl, identification);

    /// <summary>
    /// What the lab's Server does with an IPv4 echo request: the reply with addresses swapped and a fresh TTL.
    /// False for anything else (not ICMP, not a request, a fragment, a bad checksum), which a server ignores.
    /// </summary>
    public static bool TryReply(Ipv4Packet request, [NotNullWhen(true)] out Ipv4Packet? reply, byte ttl = Ipv4Packet.DefaultTtl)
    {
        ArgumentNullException.ThrowIfNull(request);
        reply = null;
        if (request.Protocol != Ipv4Packet.ProtocolIcmp || request.IsFragment)
            return false;
        if (!TryParse(request.Payload, out var echo) || echo.Type != IcmpEchoType.Request)
            return false;
        reply = echo.ToReply().InIpv4(request.Destination, request.Source, request.Identification, ttl);
        return true;
    }

    /// <summary><see cref="TryReply(Ipv4Packet, out Ipv4Packet?, byte)"/> on raw bytes, for a Server fed straight from the wire.</summary>
    public static bool TryReply(ReadOnlySpan<byte> requestIpv4, [NotNullWhen(true)] out byte[]? replyIpv4)
    {
        replyIpv4 = null;
        if (!Ipv4Packet.TryParse(requestIpv4, out var request, out _) || !TryReply(request, out var reply))
            return false;
        replyIpv4 = reply.ToBytes();
        return true;
    }

    public bool Equals(IcmpEcho? other) =>
        other is not null && Type == other.Type && Identifier == other.Identifier && Sequence == other.Sequence
        && Data.AsSpan().SequenceEqual(other.Data);

    public override int GetHashCode() => HashCode.Combine(Type, Identifier, Sequence, Data.Length);
}
