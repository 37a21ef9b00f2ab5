using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Actors.Forwarding;

/// <summary>
/// One `diagnose sniffer packet INTERFACE 'FILTER' VERBOSITY [COUNT]` capture. FortiOS prints each packet live and, when
/// the count is reached or the user presses Ctrl-C, the kernel's summary. Verbosity 1-3 print the header summary
/// only, 4-6 add the interface and direction (the scenario's level 4; the hex dumps of 5/6 are not emulated).
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

    private SnifferCapture(string iface, string filterText, byte? protocol, IPAddress? host, int verbosity, int? count)
    {
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

    /// <summary>Parses the command's arguments after `diagnose sniffer packet`; null and an error when FortiOS would refuse them.</summary>
    public static SnifferCapture? Create(string iface, string filter, int verbosity, int? count, out string? error)
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
        return new SnifferCapture(iface, filter.Trim('\'', '"'), protocol, host, verbosity, count == 0 ? null : count);
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
        var line = _verbosity >= 4
            ? SnifferLine.Format(_clock.Elapsed, iface, direction, packet)
            : string.Create(CultureInfo.InvariantCulture, $"{_clock.Elapsed.TotalSeconds:0.000000} {SnifferLine.Describe(packet)}");
        _lines.Append(line).Append('\n');
        return true;
    }

    /// <summary>The capture as printed: banner, lines and the kernel's summary (after `^C` when it was interrupted).</summary>
    public string Render(bool interrupted) =>
        Banner + _lines + (interrupted ? "^C\n" : "\n") + $"{Captured} packets received by filter\n0 packets dropped by kernel\n";
}
