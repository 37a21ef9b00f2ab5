using System.Net;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Actors.DataPlane;

/// <summary>
/// An IPv4 packet that arrived on <paramref name="port"/>. Called on the I/O's own thread (the sender's, in the
/// in-memory fabric): hand the packet to an actor or handle it without blocking.
/// </summary>
public delegate void PacketArrived(IPacketPort port, byte[] ipv4Packet);

/// <summary>An interface address with its prefix length (port2 192.168.129.254/24, lb1 192.168.202.35/32).</summary>
public sealed record InterfaceAddress(IPAddress Address, int PrefixLength)
{
    public static InterfaceAddress Parse(string cidr)
    {
        var slash = cidr.IndexOf('/');
        return slash < 0 ? new(IPAddress.Parse(cidr), 32) : new(IPAddress.Parse(cidr[..slash]), int.Parse(cidr[(slash + 1)..]));
    }

    /// <summary>The connected subnet (192.168.129.254/24 → 192.168.129.0/24).</summary>
    public Ipv4Prefix Subnet => Ipv4Prefix.Of(Address, PrefixLength);

    public override string ToString() => $"{Address}/{PrefixLength}";
}

/// <summary>
/// One interface of one host, cabled to one link. Packets are whole IPv4 packets (layer 3): the link resolves the
/// next hop as ARP would, to the attached interface that holds that address and answers for it.
/// </summary>
public interface IPacketPort : IDisposable
{
    /// <summary>The interface name on its host (port2, wan, eth0).</summary>
    string Name { get; }

    IReadOnlyList<InterfaceAddress> Addresses { get; }

    /// <summary>Carrier: the cable is in (the link is up) and the interface is not administratively down.</summary>
    bool IsUp { get; }

    /// <summary>`set status up|down` on the interface: a down interface neither sends nor receives, and its neighbours see no carrier.</summary>
    bool AdminUp { get; set; }

    /// <summary>
    /// Whether this interface answers for its addresses on the link. Both members of an FGCP cluster hold the cluster's
    /// port addresses, but only the primary answers (virtual MAC): the secondary sets this false and stays silent.
    /// Becoming answering announces the address (gratuitous ARP): the link then delivers that address here.
    /// </summary>
    bool Answering { get; set; }

    /// <summary>
    /// Announces the addresses again (gratuitous ARPs) while the port answers and has carrier; nothing otherwise.
    /// For a primary that stayed primary while another unit announced the same addresses (a healed split brain):
    /// its <see cref="Answering"/> never changed, yet the neighbours must learn it is here again.
    /// </summary>
    void Reannounce();

    /// <summary>
    /// Sends <paramref name="ipv4Packet"/> to the neighbour on this link that answers for <paramref name="nextHop"/>.
    /// False (and nothing sent) when this interface has no carrier or nobody on the link answers for that address.
    /// </summary>
    bool Send(IPAddress nextHop, byte[] ipv4Packet);

    /// <summary>Raised when <see cref="IsUp"/> changes: a pulled cable, `set status down`, the far end going away.</summary>
    event Action<IPacketPort, bool>? CarrierChanged;
}

/// <summary>
/// The packet I/O of one host: an in-memory fabric when every unit runs in one process, kernel sockets in the
/// container lab. A host opens each of its interfaces once and gets every packet the link delivers to it.
/// </summary>
public interface IPacketIo
{
    /// <summary>Opens interface <paramref name="name"/> with its addresses; <paramref name="onPacket"/> gets what arrives on it.</summary>
    IPacketPort Open(string name, IReadOnlyList<InterfaceAddress> addresses, PacketArrived onPacket);
}
