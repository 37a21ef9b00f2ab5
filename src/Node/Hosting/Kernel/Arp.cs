using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.NetworkInformation;
using System.Net;

namespace ClusterActors.Node.Hosting.Kernel;

/// <summary>An ARP packet for IPv4 over Ethernet (RFC 826), as it travels after the Ethernet header (28 bytes).</summary>
internal readonly record struct ArpPacket(ushort Operation, PhysicalAddress SenderMac, uint SenderIp, PhysicalAddress TargetMac, uint TargetIp)
{
    public const int Length = 28;
    public const ushort Request = 1;
    public const ushort Reply = 2;

    /// <summary>Announces its own address (RFC 5227 §3: sender and target IP both the address). What `arping -U` sends.</summary>
    public bool IsGratuitous => SenderIp != 0 && SenderIp == TargetIp;

    public static ArpPacket RequestFor(PhysicalAddress mac, uint senderIp, uint targetIp) =>
        new(Request, mac, senderIp, new PhysicalAddress(new byte[6]), targetIp);

    /// <summary>A gratuitous ARP request: "<paramref name="address"/> is at <paramref name="mac"/>".</summary>
    public static ArpPacket Gratuitous(PhysicalAddress mac, uint address) => RequestFor(mac, address, address);

    public byte[] ToBytes()
    {
        var b = new byte[Length];
        BinaryPrimitives.WriteUInt16BigEndian(b, 1); // Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), LinuxNet.EthPIp);
        b[4] = 6;
        b[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(6), Operation);
        SenderMac.GetAddressBytes().CopyTo(b, 8);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(14), SenderIp);
        TargetMac.GetAddressBytes().CopyTo(b, 18);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(24), TargetIp);
        return b;
    }

    public static bool TryParse(ReadOnlySpan<byte> b, out ArpPacket arp)
    {
        arp = default;
        if (b.Length < Length || BinaryPrimitives.ReadUInt16BigEndian(b) != 1 || BinaryPrimitives.ReadUInt16BigEndian(b[2..]) != LinuxNet.EthPIp
            || b[4] != 6 || b[5] != 4)
            return false;
        arp = new ArpPacket(BinaryPrimitives.ReadUInt16BigEndian(b[6..]), new PhysicalAddress(b.Slice(8, 6).ToArray()),
            BinaryPrimitives.ReadUInt32BigEndian(b[14..]), new PhysicalAddress(b.Slice(18, 6).ToArray()), BinaryPrimitives.ReadUInt32BigEndian(b[24..]));
        return true;
    }
}

/// <summary>
/// One port's view of its link: IPv4 address → MAC, learned from every ARP packet the port sees (requests, replies,
/// gratuitous ARP) and refreshed by them. The newest packet wins at once — the virtual-MAC rule: a new FGCP primary's
/// gratuitous ARP moves the cluster address to it for every neighbour that hears it (no kernel locktime, no arp_accept).
/// Thread-safe; <see cref="WaitFor"/> blocks a sender until the answer to its request comes in or the wait runs out.
/// </summary>
internal sealed class NeighbourTable(int ifindex)
{
    private sealed record Entry(PhysicalAddress Mac, SocketAddress Destination, long ConfirmedAt);

    private readonly object _gate = new();
    private readonly Dictionary<uint, Entry> _entries = new();
    /// <summary>When the last resolution of an address ran out unanswered (fail fast for a while, as the kernel's FAILED state).</summary>
    private readonly Dictionary<uint, long> _failedAt = new();
    /// <summary>When an ARP request for an address was last sent (rate limit).</summary>
    private readonly Dictionary<uint, long> _requestedAt = new();

    public static long Now => Stopwatch.GetTimestamp();

    public static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    /// <summary>Learns (or re-learns) <paramref name="ip"/> at <paramref name="mac"/> and wakes senders waiting for it.</summary>
    public void Learn(uint ip, PhysicalAddress mac)
    {
        if (ip == 0) return;
        lock (_gate)
        {
            var destination = _entries.TryGetValue(ip, out var old) && old.Mac.Equals(mac)
                ? old.Destination
                : LinkLayerAddress.Create(ifindex, LinuxNet.EthPIp, mac);
            _entries[ip] = new Entry(mac, destination, Now);
            _failedAt.Remove(ip);
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>The link-layer destination for <paramref name="ip"/> if known and younger than <paramref name="lifetime"/>.</summary>
    public SocketAddress? Lookup(uint ip, long lifetime, out long age)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue(ip, out var e) && (age = Now - e.ConfirmedAt) < lifetime) return e.Destination;
        }
        age = 0;
        return null;
    }

    /// <summary>Whether a request for <paramref name="ip"/> may go out now (at most one per <paramref name="interval"/>); records it.</summary>
    public bool MayRequest(uint ip, long interval)
    {
        lock (_gate)
        {
            var now = Now;
            if (_requestedAt.TryGetValue(ip, out var at) && now - at < interval) return false;
            _requestedAt[ip] = now;
            return true;
        }
    }

    public bool RecentlyFailed(uint ip, long holdDown)
    {
        lock (_gate)
            return _failedAt.TryGetValue(ip, out var at) && Now - at < holdDown;
    }

    /// <summary>Waits until <paramref name="ip"/> is learned or <paramref name="timeout"/> runs out (then marks it failed).</summary>
    public SocketAddress? WaitFor(uint ip, long lifetime, TimeSpan timeout)
    {
        var deadline = Now + Ticks(timeout);
        lock (_gate)
        {
            while (true)
            {
                if (_entries.TryGetValue(ip, out var e) && Now - e.ConfirmedAt < lifetime) return e.Destination;
                var left = deadline - Now;
                if (left <= 0)
                {
                    _failedAt[ip] = Now;
                    return null;
                }
                Monitor.Wait(_gate, TimeSpan.FromSeconds((double)left / Stopwatch.Frequency));
            }
        }
    }

    public PhysicalAddress? MacOf(uint ip)
    {
        lock (_gate)
            return _entries.TryGetValue(ip, out var e) ? e.Mac : null;
    }

    public IReadOnlyList<(uint Ip, PhysicalAddress Mac, TimeSpan Age)> Snapshot()
    {
        lock (_gate)
            return _entries.Select(kv => (kv.Key, kv.Value.Mac, TimeSpan.FromSeconds((double)(Now - kv.Value.ConfirmedAt) / Stopwatch.Frequency)))
                .OrderBy(e => e.Key).ToList();
    }
}
