using System.Diagnostics;
using System.Globalization;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Drills;

/// <summary>
/// The embedded lab's packet capture of the units' ESP (a <see cref="FabricTap"/> on the in-memory fabric): which unit
/// put each (SPI, sequence number) on the wire and when, for the last <see cref="Capacity"/> ESP packets the units sent.
/// With it an anti-replay drop at CLIENT1 (<see cref="DialupClientGateway.RecentAntiReplayDrops"/>) names its sender:
/// the chaos drill's violation says which unit encrypted the frame the client refused, and which unit had sent the
/// higher number the window had already accepted. Diagnosis only; the units never see it.
/// </summary>
public sealed class EspSenderTrace(IReadOnlyCollection<string> units)
{
    /// <summary>About a minute of traffic at the chaos drill's rates; older packets are forgotten.</summary>
    public const int Capacity = 1 << 16;

    private readonly HashSet<string> _units = units.ToHashSet(StringComparer.Ordinal);
    private readonly Dictionary<(uint Spi, uint Seq), (string Unit, long At)> _sent = new();
    private readonly Queue<(uint Spi, uint Seq)> _order = new();
    private readonly long _origin = Stopwatch.GetTimestamp();

    /// <summary>The fabric tap: runs on the sender's thread for every delivery.</summary>
    public void Observe(string segment, IPacketPort from, IPacketPort to, byte[] ipv4Packet)
    {
        var host = HostOf(from);
        if (host is null || !_units.Contains(host) || !TryEspHeader(ipv4Packet, out var spi, out var seq)) return;
        var at = Stopwatch.GetTimestamp();
        lock (_sent)
        {
            if (_sent.Count >= Capacity && _order.TryDequeue(out var oldest)) _sent.Remove(oldest);
            if (_sent.TryAdd((spi, seq), (host, at))) _order.Enqueue((spi, seq));
            else _sent[(spi, seq)] = (host + "+again", at); // the same number twice on the wire: say so
        }
    }

    /// <summary>Who sent the frame: "DC2_VM2 at +12.345 s", or "sender not captured".</summary>
    public string Sender(uint spi, uint seq)
    {
        lock (_sent)
            return _sent.TryGetValue((spi, seq), out var s)
                ? string.Create(CultureInfo.InvariantCulture, $"sent by {s.Unit} at +{Stopwatch.GetElapsedTime(_origin, s.At).TotalSeconds:0.000} s")
                : "sender not captured";
    }

    /// <summary>One line per drop: the client's verdict, who sent the refused frame and who sent the window's highest number.</summary>
    public IReadOnlyList<string> Describe(IEnumerable<AntiReplayDropTrace> drops) =>
        drops.Select(d => string.Create(CultureInfo.InvariantCulture,
            $"{d.At:HH:mm:ss.fff} {d} {Sender(d.Spi, d.Seq)}; highest {Sender(d.Spi, d.WindowHighest)}")).ToList();

    private static string? HostOf(IPacketPort port)
    {
        // A fabric port prints as "<host> <interface>".
        var text = port.ToString();
        var space = text?.IndexOf(' ') ?? -1;
        return space > 0 ? text![..space] : null;
    }

    private static bool TryEspHeader(byte[] bytes, out uint spi, out uint seq)
    {
        spi = seq = 0;
        if (!Ipv4Packet.TryParse(bytes, out var packet, out _)) return false;
        if (packet.Protocol == Ipv4Packet.ProtocolEsp) return EspCodec.TryReadHeader(packet.Payload, out spi, out seq);
        if (packet.Protocol != Ipv4Packet.ProtocolUdp || !UdpEncap.TryParse(packet.Payload, out var udp) || udp.DestinationPort != UdpEncap.NatTPort
            && udp.SourcePort != UdpEncap.NatTPort) return false;
        var kind = UdpEncap.Classify(udp.Payload);
        return kind == UdpEncapKind.Esp && EspCodec.TryReadHeader(UdpEncap.Inner(udp.Payload, kind), out spi, out seq);
    }
}
