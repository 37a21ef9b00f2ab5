using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Hosting.Kernel;

/// <summary>
/// Which received IPv4 packets an answering port leaves to the kernel: those addressed to an address the kernel holds
/// on the port's own Linux interface that is not one of the port's (the cluster's) addresses — the unit's per-unit
/// address on the segment (in the docker lab its Akka/FGSP address, 172.31.2.12 on DC2_VM2's port5; 192.168.129.12 on
/// port2). The kernel receives every frame the AF_PACKET socket sees, so such a packet is already the kernel's;
/// delivered to the unit too, the forwarding plane routed it back out of the same port and asked ARP for the unit's
/// own address, which nobody answers. Addresses on other interfaces are not the port's business: lb1's
/// 192.168.202.35 sits on a dummy interface in the lab so that routes resolve, yet the unit's forwarding plane answers
/// it (IKE, ping), the kernel none (nftables). Everything else (the cluster's addresses, lb1, transit) is the unit's.
/// A pure decision: built from a snapshot of the kernel's addresses, no I/O.
/// </summary>
public sealed class KernelHeldAddresses
{
    private readonly HashSet<uint> _leftToKernel;

    /// <summary>Nothing left to the kernel (before the first snapshot).</summary>
    public static readonly KernelHeldAddresses None = new([], 0, []);

    /// <param name="kernelHeld">Every IPv4 address of the namespace with its interface (a netlink dump).</param>
    /// <param name="ifIndex">The port's Linux interface.</param>
    /// <param name="portOwned">The port's own (cluster) addresses: the unit's even while the kernel holds them too.</param>
    public KernelHeldAddresses(IEnumerable<(int IfIndex, uint Address)> kernelHeld, int ifIndex, IEnumerable<uint> portOwned)
    {
        ArgumentNullException.ThrowIfNull(kernelHeld);
        ArgumentNullException.ThrowIfNull(portOwned);
        _leftToKernel = new HashSet<uint>(kernelHeld.Where(k => k.IfIndex == ifIndex).Select(k => k.Address));
        _leftToKernel.ExceptWith(portOwned);
    }

    /// <summary>The addresses whose packets stay with the kernel, sorted.</summary>
    public IReadOnlyList<uint> LeftToKernel => _leftToKernel.Order().ToArray();

    /// <summary>
    /// True when <paramref name="ipv4Packet"/>'s destination is held by the kernel on the port's interface and not by
    /// the port. A packet too short to carry a destination is not decided here (false: the port's malformed check counts it).
    /// </summary>
    public bool IsLeftToKernel(ReadOnlySpan<byte> ipv4Packet)
    {
        if (ipv4Packet.Length < 20 || _leftToKernel.Count == 0) return false;
        var destination = (uint)(ipv4Packet[16] << 24 | ipv4Packet[17] << 16 | ipv4Packet[18] << 8 | ipv4Packet[19]);
        return _leftToKernel.Contains(destination);
    }

    public override string ToString() =>
        _leftToKernel.Count == 0 ? "none" : string.Join(",", LeftToKernel.Select(a => Ipv4Address.ToIPAddress(a).ToString()));
}
