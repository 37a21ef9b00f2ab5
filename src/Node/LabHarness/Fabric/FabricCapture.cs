using ClusterActors.Protocol.Packets;
using ClusterActors.Actors.DataPlane;

namespace ClusterActors.Node.LabHarness.Fabric;

/// <summary>What one segment's capture holds: packets kept, and those seen after its bound was reached (not kept).</summary>
public sealed record SegmentCaptureCounts(string Segment, long Kept, long NotKept, long KeptBytes);

/// <summary>
/// A packet capture of every segment of an <see cref="InMemoryFabric"/>, from its tap (<see cref="InMemoryFabric.Delivered"/>):
/// each delivery is kept with the wall-clock time, the sending and receiving port, per segment, until the segment holds
/// <see cref="MaxPacketsPerSegment"/> packets or <see cref="MaxBytesPerSegment"/> octets — after that packets are only
/// counted, so a 1000 pps drill cannot grow memory or files without limit (the first packets are kept: the dial and the
/// SAs' first sequence numbers, which a reader needs to follow the tunnel). <see cref="Encode"/> gives a segment as
/// pcapng: one interface block per sending port (`HOST IFACE`), raw IPv4, a comment `FROM -> TO` on each packet.
/// The tap runs on the sender's thread, so the capture takes a lock; dispose detaches it.
/// </summary>
public sealed class FabricCapture : IDisposable
{
    public const int DefaultMaxPacketsPerSegment = 20_000;
    public const long DefaultMaxBytesPerSegment = 16L * 1024 * 1024;

    private sealed class Segment(string name)
    {
        public string Name { get; } = name;
        public readonly List<(DateTimeOffset At, string From, string To, byte[] Ipv4)> Packets = new();
        public long Bytes;
        public long NotKept;
    }

    private readonly InMemoryFabric _fabric;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private readonly Dictionary<string, Segment> _segments = new(StringComparer.Ordinal);
    private bool _detached;

    public FabricCapture(InMemoryFabric fabric, TimeProvider? time = null, int maxPacketsPerSegment = DefaultMaxPacketsPerSegment,
        long maxBytesPerSegment = DefaultMaxBytesPerSegment)
    {
        ArgumentNullException.ThrowIfNull(fabric);
        ArgumentOutOfRangeException.ThrowIfNegative(maxPacketsPerSegment);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytesPerSegment);
        _fabric = fabric;
        _time = time ?? TimeProvider.System;
        MaxPacketsPerSegment = maxPacketsPerSegment;
        MaxBytesPerSegment = maxBytesPerSegment;
        fabric.Delivered += Observe;
    }

    public int MaxPacketsPerSegment { get; }
    public long MaxBytesPerSegment { get; }

    /// <summary>The tap: public so a spec can feed it without a fabric's traffic.</summary>
    public void Observe(string segment, IPacketPort from, IPacketPort to, byte[] ipv4Packet)
    {
        if (segment is null || ipv4Packet is null) return;
        var at = _time.GetUtcNow();
        lock (_gate)
        {
            if (_detached) return;
            if (!_segments.TryGetValue(segment, out var s)) _segments[segment] = s = new Segment(segment);
            if (s.Packets.Count >= MaxPacketsPerSegment || s.Bytes + ipv4Packet.Length > MaxBytesPerSegment)
            {
                s.NotKept++;
                return;
            }
            // The sender may reuse its buffer once delivery returns: keep a copy.
            s.Packets.Add((at, Label(from), Label(to), (byte[])ipv4Packet.Clone()));
            s.Bytes += ipv4Packet.Length;
        }
    }

    /// <summary>Per segment that saw a packet: how many were kept and not.</summary>
    public IReadOnlyList<SegmentCaptureCounts> Counts()
    {
        lock (_gate)
            return _segments.Values.OrderBy(s => s.Name, StringComparer.Ordinal)
                .Select(s => new SegmentCaptureCounts(s.Name, s.Packets.Count, s.NotKept, s.Bytes)).ToList();
    }

    /// <summary>The segment as a pcapng file; null when it saw nothing.</summary>
    public byte[]? Encode(string segment)
    {
        List<(DateTimeOffset At, string From, string To, byte[] Ipv4)> packets;
        lock (_gate)
        {
            if (!_segments.TryGetValue(segment, out var s)) return null;
            packets = s.Packets.ToList();
        }
        var interfaces = packets.Select(p => p.From).Distinct(StringComparer.Ordinal).ToList();
        var blocks = packets.Select(p => new PcapNgPacket(interfaces.IndexOf(p.From), p.At, p.Ipv4, Inbound: false, Comment: $"{p.From} -> {p.To}"));
        // Every packet came off the fabric as a parsed IPv4 datagram with a wall-clock time: it encodes.
        return PcapNg.TryEncode($"clusteractors fabric capture of segment {segment}", interfaces.Select(i => new PcapNgInterface(i)).ToList(), blocks,
            out var file, out _) ? file : null;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_detached) return;
            _detached = true;
        }
        _fabric.Delivered -= Observe;
    }

    // A fabric port prints as `HOST IFACE`; any other port by its interface name.
    private static string Label(IPacketPort? port) => port?.ToString() ?? "?";
}
