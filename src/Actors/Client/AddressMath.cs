using System.Buffers.Binary;
using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Actors.Client;

/// <summary>Subnet and selector tests and the forwarding edit (TTL) the client's data plane needs.</summary>
internal static class AddressMath
{
    public static uint ToUInt(IPAddress a)
    {
        Span<byte> b = stackalloc byte[4];
        return a.TryWriteBytes(b, out var n) && n == 4 ? BinaryPrimitives.ReadUInt32BigEndian(b) : 0;
    }

    public static bool OnSubnet(IPAddress address, InterfaceAddress subnet)
    {
        uint mask = subnet.PrefixLength == 0 ? 0u : uint.MaxValue << (32 - subnet.PrefixLength);
        return (ToUInt(address) & mask) == (ToUInt(subnet.Address) & mask);
    }

    /// <summary>
    /// Address range and protocol (0 = any) of the selectors. Ports are not checked: the seed's selectors are
    /// whole-subnet, all-port ones, and its traffic is ICMP.
    /// </summary>
    public static bool InSelectors(IPAddress address, byte protocol, IReadOnlyList<TrafficSelector> selectors)
    {
        uint a = ToUInt(address);
        foreach (var s in selectors)
            if ((s.IpProtocol == 0 || s.IpProtocol == protocol) && a >= ToUInt(s.StartAddress) && a <= ToUInt(s.EndAddress))
                return true;
        return false;
    }

    /// <summary>
    /// A copy of a parsed-valid IPv4 packet (cut to its total length) with the TTL decremented and the header
    /// checksum recomputed, as a router forwards it; null when the TTL would reach 0.
    /// </summary>
    public static byte[]? Forwarded(ReadOnlySpan<byte> ipv4)
    {
        int total = BinaryPrimitives.ReadUInt16BigEndian(ipv4[2..]);
        int header = (ipv4[0] & 0x0F) * 4;
        if (ipv4[8] <= 1)
            return null;
        var copy = ipv4[..total].ToArray();
        copy[8]--;
        copy[10] = 0;
        copy[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(10), InternetChecksum.Compute(copy.AsSpan(0, header)));
        return copy;
    }
}
