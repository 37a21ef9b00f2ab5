using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Actors.Forwarding;

/// <summary>
/// One `diagnose sniffer packet INTERFACE 'FILTER' VERBOSITY [COUNT]` capture. FortiOS prints each packet live and, when
/// the count is reached or the user presses Ctrl-C, the kernel's summary. Verbosity as FortiOS's help gives it
/// (<see cref="SnifferLine.TryRender"/>): 1 header, 2 + IP hex, 3 + Ethernet hex, 4-6 the same with interface and
/// direction. The lab's fabric has no link layer, so the Ethernet header of 3/6 is built (<see cref="LinkLayer"/>).
/// With <see cref="WantsPcap"/> the packets are also kept, at most <see cref="MaxPcapPackets"/>, for <see cref="Pcap"/>.
/// The filter is a small tcpdump subset: `none`, protocol names (icmp, udp, tcp, esp) and `host A.B.C.D`, joined by `and`.
/// </summary>
public sealed class SnifferCapture
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly StringBuilder _lines = new();
    private readonly string _interface;
    private readonly string _filterText;
    private readonly byte? _protocol;
    private readonly IPAddress? _host;
    private readonly int _verbosity;

    /// <summary>The most packets one capture keeps for its pcap (beyond it they are printed, counted, not kept): a bound on memory.</summary>
    public const int MaxPcapPackets = 10_000;

    private static readonly byte[] NoMac = new byte[SnifferEthernet.MacLength];
    // What FortiOS prints as the destination of an inbound frame captured on `any` (published captures; see Protocol/Packets/README.md).
    private static readonly byte[] AnyInboundMac = [0, 0, 0, 0, 0, 1];

    private readonly DateTimeOffset _startedAt = DateTimeOffset.UtcNow;
    private readonly List<(TimeSpan At, string Interface, SnifferDirection Direction, byte[] Ipv4)>? _kept;
    private readonly Func<string, byte[]?>? _ownMac;

    private SnifferCapture(string iface, string filterText, byte? protocol, IPAddress? host, int verbosity, int? count, bool pcap, Func<string, byte[]?>? ownMac)
    {
        _kept = pcap ? new() : null;
        _ownMac = ownMac;
        _interface = iface;
        _filterText = filterText;
        _protocol = protocol;
        _host = host;
        _verbosity = verbosity;
        Count = count;
    }

    public int? Count { get; }

    public int Captured { get; private set; }

    public bool Done => Count is { } c && Captured >= c;

    public bool WantsPcap => _kept is not null;

    /// <summary>Packets matched but not kept for the pcap because <see cref="MaxPcapPackets"/> were already.</summary>
    public int NotKept { get; private set; }

    /// <summary>Parses the command's arguments after `diagnose sniffer packet`; null and an error when FortiOS would refuse them.</summary>
    /// <param name="pcap">Keep the packets for <see cref="Pcap"/> (the lab's `--pcap FILE`).</param>
    /// <param name="ownMac">The unit's MAC on an interface (its FGCP virtual MAC), null where it has none (a tunnel): verbosity 3/6.</param>
    public static SnifferCapture? Create(string iface, string filter, int verbosity, int? count, out string? error, bool pcap = false,
        Func<string, byte[]?>? ownMac = null)
    {
        error = null;
        if (verbosity is < 1 or > 6)
        {
            error = "verbose level must be 1-6";
            return null;
        }
        if (count is < 0)
        {
            error = "count must be positive";
            return null;
        }
        byte? protocol = null;
        IPAddress? host = null;
        var words = filter.Trim('\'', '"').Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < words.Length; i++)
        {
            var w = words[i].ToLowerInvariant();
            switch (w)
            {
                case "none" when words.Length == 1: break;
                case "and": break;
                case "icmp": protocol = Ipv4Packet.ProtocolIcmp; break;
                case "udp": protocol = Ipv4Packet.ProtocolUdp; break;
                case "tcp": protocol = 6; break;
                case "esp": protocol = Ipv4Packet.ProtocolEsp; break;
                case "host" when i + 1 < words.Length && IPAddress.TryParse(words[i + 1], out var h):
                    host = h;
                    i++;
                    break;
                default:
                    error = $"invalid filter '{filter}' (this lab's sniffer knows none, icmp, udp, tcp, esp, host A.B.C.D and 'and')";
                    return null;
            }
        }
        return new SnifferCapture(iface, filter.Trim('\'', '"'), protocol, host, verbosity, count == 0 ? null : count, pcap, ownMac);
    }

    /// <summary>The banner FortiOS prints before the first packet.</summary>
    public string Banner => $"Using Original Sniffing Mode\ninterfaces=[{_interface}]\nfilters=[{_filterText}]\n";

    public bool Matches(string iface, Ipv4Packet packet) =>
        (_interface == "any" || _interface == iface)
        && (_protocol is null || packet.Protocol == _protocol)
        && (_host is null || packet.Source.Equals(_host) || packet.Destination.Equals(_host));

    /// <summary>Records the packet if the capture wants it; returns whether it did.</summary>
    public bool Offer(string iface, SnifferDirection direction, Ipv4Packet packet)
    {
        if (Done || !Matches(iface, packet)) return false;
        Captured++;
        var at = _clock.Elapsed;
        var bytes = packet.ToBytes();
        var frame = new SnifferFrame(at, iface, direction, bytes, LinkLayer(_interface == "any", direction, _ownMac?.Invoke(iface)));
        // The packet came parsed from our own port, so it renders; were it not, say so rather than lose the line.
        _lines.Append(SnifferLine.TryRender(_verbosity, frame, out var text, out var error)
            ? text : string.Create(CultureInfo.InvariantCulture, $"{at.TotalSeconds:0.000000} {iface} [{error}]\n"));
        if (_kept is not null)
        {
            if (_kept.Count < MaxPcapPackets) _kept.Add((at, iface, direction, bytes));
            else NotKept++;
        }
        return true;
    }

    /// <summary>
    /// The Ethernet header a 3/6 dump shows, null for an interface without one. The fabric has no ARP, so the far side's
    /// MAC is unknown and printed as zeros; the unit's own is its virtual MAC. On `any`, FortiOS replaces the destination
    /// of an inbound frame by 00:00:00:00:00:01 (published captures), and so does this.
    /// </summary>
    public static SnifferEthernet? LinkLayer(bool any, SnifferDirection direction, byte[]? ownMac)
    {
        if (ownMac is not { Length: SnifferEthernet.MacLength }) return null;
        return direction == SnifferDirection.In
            ? new SnifferEthernet(any ? AnyInboundMac : ownMac, NoMac)
            : new SnifferEthernet(NoMac, ownMac);
    }

    /// <summary>The kept packets as pcapng (one interface block per interface seen, raw IPv4); null when no pcap was asked.</summary>
    public byte[]? Pcap(string unit)
    {
        if (_kept is null) return null;
        var names = _kept.Select(k => k.Interface).Distinct().ToList();
        var packets = _kept.Select(k => new PcapNgPacket(names.IndexOf(k.Interface), _startedAt + k.At, k.Ipv4, k.Direction == SnifferDirection.In));
        return PcapNg.TryEncode("clusteractors diagnose sniffer packet", names.Select(n => new PcapNgInterface($"{unit} {n}")).ToList(), packets, out var file, out _)
            ? file : null;
    }

    /// <summary>The capture as printed: banner, lines and the kernel's summary (after `^C` when it was interrupted).</summary>
    public string Render(bool interrupted) =>
        Banner + _lines + (interrupted ? "^C\n" : "\n") + $"{Captured} packets received by filter\n0 packets dropped by kernel\n";
}
