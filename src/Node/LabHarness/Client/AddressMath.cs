using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.LabHarness.Client;

/// <summary>Subnet and selector tests and the forwarding edit (TTL) the client's data plane needs.</summary>
internal static class AddressMath
{
    public static bool OnSubnet(IPAddress address, InterfaceAddress subnet) =>
        new Ipv4Prefix(Ipv4Address.ToUInt32(subnet.Address), subnet.PrefixLength).Contains(address);

    /// <summary>
    /// Address range and protocol (0 = any) of the selectors. Ports are not checked: the seed's selectors are
    /// whole-subnet, all-port ones, and its traffic is ICMP.
    /// </summary>
    public static bool InSelectors(IPAddress address, byte protocol, IReadOnlyList<TrafficSelector> selectors)
    {
        uint a = Ipv4Address.ToUInt32(address);
        foreach (var s in selectors)
            if ((s.IpProtocol == 0 || s.IpProtocol == protocol) && a >= Ipv4Address.ToUInt32(s.StartAddress) && a <= Ipv4Address.ToUInt32(s.EndAddress))
                return true;
        return false;
    }

    /// <summary>
    /// A copy of a parsed-valid IPv4 packet (cut to its total length) with the TTL decremented and the header
    /// checksum recomputed, as a router forwards it; null when the TTL would reach 0.
    /// </summary>
    public static byte[]? Forwarded(ReadOnlySpan<byte> ipv4) =>
        Ipv4Header.TryRead(ipv4, out var header) && header.Ttl > 1 ? Ipv4Header.CopyWithTtlDecremented(ipv4, header) : null;
}
