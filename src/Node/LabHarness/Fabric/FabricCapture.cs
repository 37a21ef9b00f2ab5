using ClusterActors.Protocol.Packets;
using ClusterActors.Actors.DataPlane;

namespace ClusterActors.Node.LabHarness.Fabric;

/// <summary>What one segment's capture holds: packets kept, and those seen after its bound was reached (not kept).</summary>
public sealed record SegmentCaptureCounts(string Segment, long Kept, long NotKept, long KeptBytes);

/// <summary>
/// A packet capture of every segment of an <see cref="InMemoryFabric"/>, from its tap (<see cref="InMemoryFabric.Delivered"/>):
/// each delivery is kept with the wall-clock time, the sending and receiving port, per segment, within
/// <see cref="MaxPacketsPerSegment"/> packets and <see cref="MaxBytesPerSegment"/> octets, so a 1000 pps drill cannot
/// grow memory or files without limit. A segment keeps its first packets (a quarter of the bound: the dial and the
/// SAs' first sequence numbers, which a reader needs to follow the tunnel) and then the most recent ones in a ring (the
/// rest of the bound: the fault and the failover, which come last in a run); what falls out of the ring between them
/// is counted. Before, only the first packets were kept: a 1000 pps run filled the bound in 20 s and the failover of
/// a longer run (full-scenario's second fault) was not in its file. <see cref="Encode"/> gives a segment as pcapng:
/// one interface block per sending port (`HOST IFACE`), raw IPv4, a comment `FROM -> TO` on each packet, and on the
/// first packet after a gap how many were not kept before it.
/// The tap runs on the sender's thread, so the capture takes a lock; dispose detaches it.
/// </summary>
public sealed class FabricCapture : IDisposable
{
    public const int DefaultMaxPacketsPerSegment = 20_000;
    public const long DefaultMaxBytesPerSegment = 16L * 1024 * 1024;

    private sealed class Segment(string name)
    {
        public string Name { get; } = name;
        /// <summary>The first packets, never evicted.</summary>
        public readonly List<(DateTimeOffset At, string From, string To, byte[] Ipv4)> Head = new();
        public long HeadBytes;
        /// <summary>The most recent packets after the head; the oldest leaves when the bound is reached.</summary>
        public readonly Queue<(DateTimeOffset At, string From, string To, byte[] Ipv4)> Tail = new();
        public long TailBytes;
        public long NotKept;
        public int Kept => Head.Count + Tail.Count;
        public long Bytes => HeadBytes + TailBytes;
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
            // The sender may reuse its buffer once delivery returns: keep a copy.
            var packet = (at, Label(from), Label(to), (byte[])ipv4Packet.Clone());
            var headPackets = MaxPacketsPerSegment == 0 ? 0 : Math.Max(1, MaxPacketsPerSegment / 4);
            if (s.Tail.Count == 0 && s.NotKept == 0 && s.Head.Count < headPackets && s.HeadBytes + ipv4Packet.Length <= MaxBytesPerSegment / 4)
            {
                s.Head.Add(packet);
                s.HeadBytes += ipv4Packet.Length;
                return;
            }
            var tailPackets = MaxPacketsPerSegment - s.Head.Count;
            var tailBytes = MaxBytesPerSegment - s.HeadBytes;
            if (tailPackets <= 0 || ipv4Packet.Length > tailBytes)
            {
                s.NotKept++;
                return;
            }
            s.Tail.Enqueue(packet);
            s.TailBytes += ipv4Packet.Length;
            while (s.Tail.Count > tailPackets || s.TailBytes > tailBytes)
            {
                s.TailBytes -= s.Tail.Dequeue().Ipv4.Length;
                s.NotKept++;
            }
        }
    }

    /// <summary>Per segment that saw a packet: how many were kept and not.</summary>
    public IReadOnlyList<SegmentCaptureCounts> Counts()
    {
        lock (_gate)
            return _segments.Values.OrderBy(s => s.Name, StringComparer.Ordinal)
                .Select(s => new SegmentCaptureCounts(s.Name, s.Kept, s.NotKept, s.Bytes)).ToList();
    }

    /// <summary>The segment as a pcapng file; null when it saw nothing.</summary>
    public byte[]? Encode(string segment)
    {
        List<(DateTimeOffset At, string From, string To, byte[] Ipv4)> packets;
        int gapBefore;
        long notKept;
        lock (_gate)
        {
            if (!_segments.TryGetValue(segment, out var s)) return null;
            packets = [.. s.Head, .. s.Tail];
            gapBefore = s.NotKept > 0 && s.Tail.Count > 0 ? s.Head.Count : -1;
            notKept = s.NotKept;
        }
        var interfaces = packets.Select(p => p.From).Distinct(StringComparer.Ordinal).ToList();
        var blocks = packets.Select((p, i) => new PcapNgPacket(interfaces.IndexOf(p.From), p.At, p.Ipv4, Inbound: false,
            Comment: i == gapBefore ? $"{p.From} -> {p.To}; {notKept} packets before this one not kept (the capture keeps the first and the most recent)"
                : $"{p.From} -> {p.To}"));
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
