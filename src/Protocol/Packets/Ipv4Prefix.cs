using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace ClusterActors.Protocol.Packets;

/// <summary>
/// IPv4 addresses as host-order integers for the packet fast paths (no <see cref="IPAddress"/> allocations per packet),
/// and for the topology file's address arithmetic: one implementation for the data plane and the lab's description.
/// </summary>
public static class Ipv4Address
{
    public static uint ToUInt32(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily != AddressFamily.InterNetwork)
            throw new ArgumentException($"{address} is not an IPv4 address.", nameof(address));
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    public static uint Parse(string address) => ToUInt32(IPAddress.Parse(address));

    public static IPAddress ToIPAddress(uint address)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, address);
        return new IPAddress(bytes);
    }

    public static string Format(uint address) =>
        $"{address >> 24}.{(address >> 16) & 0xFF}.{(address >> 8) & 0xFF}.{address & 0xFF}";
}

/// <summary>An IPv4 prefix (10.10.1.0/24); host bits are cleared on construction.</summary>
public readonly record struct Ipv4Prefix
{
    public Ipv4Prefix(uint network, int length)
    {
        if (length is < 0 or > 32)
            throw new ArgumentOutOfRangeException(nameof(length), length, "An IPv4 prefix length is 0..32.");
        Length = length;
        Network = network & MaskOf(length);
    }

    public uint Network { get; }
    public int Length { get; }
    public uint Mask => MaskOf(Length);

    public bool Contains(uint address) => (address & Mask) == Network;

    public bool Contains(IPAddress address) => Contains(Ipv4Address.ToUInt32(address));

    /// <summary>"10.10.1.0/24"; a bare address is a /32.</summary>
    public static Ipv4Prefix Parse(string cidr)
    {
        ArgumentNullException.ThrowIfNull(cidr);
        var text = cidr.Trim();
        var slash = text.IndexOf('/');
        return slash < 0
            ? new Ipv4Prefix(Ipv4Address.Parse(text), 32)
            : new Ipv4Prefix(Ipv4Address.Parse(text[..slash]), int.Parse(text[(slash + 1)..]));
    }

    /// <summary>The connected subnet of an interface address (192.168.129.254/24 → 192.168.129.0/24).</summary>
    public static Ipv4Prefix Of(IPAddress address, int prefixLength) => new(Ipv4Address.ToUInt32(address), prefixLength);

    public static uint MaskOf(int length) => length == 0 ? 0u : uint.MaxValue << (32 - length);

    public override string ToString() => $"{Ipv4Address.Format(Network)}/{Length}";
}
