using System.Globalization;

namespace ClusterActors.Protocol.Packets;

public enum SnifferDirection
{
    In,
    Out,
}

/// <summary>The link-layer addresses a verbosity 3/6 dump starts with (destination first, as on the wire).</summary>
public sealed record SnifferEthernet(byte[] Destination, byte[] Source)
{
    public const int MacLength = 6;
    public const int HeaderLength = 14;
    public const ushort EtherTypeIpv4 = 0x0800;
}

/// <summary>One packet as the sniffer saw it: when, where, which way, its IPv4 octets and (for 3/6) its link layer.</summary>
/// <param name="Ethernet">Null where the interface has no link layer (an IPsec tunnel interface): 3/6 dump the IP octets.</param>
public sealed record SnifferFrame(TimeSpan SinceStart, string Interface, SnifferDirection Direction, byte[] Ipv4, SnifferEthernet? Ethernet);

/// <summary>
/// Lines of `diagnose sniffer packet any icmp 4`, e.g. `0.171753 vpn1 in 10.10.1.2 -> 10.10.101.2: icmp: echo request`.
/// Verbosity (FortiOS's help): 1 header, 2 header + IP data, 3 header + Ethernet data, 4 header with interface name
/// (and direction), 5 = 2 with interface name, 6 = 3 with interface name. Levels 2/3/5/6 follow the header line with
/// <see cref="SnifferHexDump"/> and an empty line.
/// </summary>
public static class SnifferLine
{
    public const int MinVerbosity = 1;
    public const int MaxVerbosity = 6;

    /// <summary>
    /// The packet as `diagnose sniffer packet … VERBOSITY` prints it, every line ending in '\n'. False and an error (never
    /// an exception) for a verbosity outside 1–6, octets that are not an IPv4 datagram, or a MAC that is not 6 octets.
    /// </summary>
    public static bool TryRender(int verbosity, SnifferFrame frame, out string text, out string? error)
    {
        text = "";
        if (verbosity is < MinVerbosity or > MaxVerbosity)
        {
            error = $"verbose level must be {MinVerbosity}-{MaxVerbosity}, got {verbosity}";
            return false;
        }
        if (frame is null || frame.Ipv4 is null || frame.Interface is null)
        {
            error = "no frame";
            return false;
        }
        if (!Ipv4Packet.TryParse(frame.Ipv4, out var packet, out var parse))
        {
            error = $"not an IPv4 datagram ({parse}, {frame.Ipv4.Length} octets)";
            return false;
        }
        if (frame.Ethernet is { } eth && (eth.Destination is not { Length: SnifferEthernet.MacLength } || eth.Source is not { Length: SnifferEthernet.MacLength }))
        {
            error = "a MAC address is 6 octets";
            return false;
        }
        error = null;
        var withInterface = verbosity >= 4;
        var header = withInterface
            ? Format(frame.SinceStart, frame.Interface, frame.Direction, packet)
            : string.Create(CultureInfo.InvariantCulture, $"{frame.SinceStart.TotalSeconds:0.000000} {Describe(packet)}");
        var level = withInterface ? verbosity - 3 : verbosity; // 1 header, 2 IP data, 3 Ethernet data
        if (level == 1)
        {
            text = header + "\n";
            return true;
        }
        byte[] dumped = frame.Ipv4;
        if (level == 3 && frame.Ethernet is { } e)
        {
            dumped = new byte[SnifferEthernet.HeaderLength + frame.Ipv4.Length];
            e.Destination.CopyTo(dumped, 0);
            e.Source.CopyTo(dumped, SnifferEthernet.MacLength);
            dumped[12] = SnifferEthernet.EtherTypeIpv4 >> 8;
            dumped[13] = SnifferEthernet.EtherTypeIpv4 & 0xff;
            frame.Ipv4.CopyTo(dumped, SnifferEthernet.HeaderLength);
        }
        text = header + "\n" + SnifferHexDump.Format(dumped) + "\n";
        return true;
    }

    /// <summary>The part after the timestamp, interface and direction columns.</summary>
    public static string Describe(Ipv4Packet packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        return $"{packet.Source} -> {packet.Destination}: {Summary(packet)}";
    }

    /// <summary>A whole line; the timestamp is seconds since the capture started, printed with 6 decimals as FortiOS does.</summary>
    public static string Format(TimeSpan sinceStart, string interfaceName, SnifferDirection direction, Ipv4Packet packet) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{sinceStart.TotalSeconds:0.000000} {interfaceName} {(direction == SnifferDirection.In ? "in" : "out")} {Describe(packet)}");

    // Only echo is in the seed; other kinds follow tcpdump's wording, which FortiOS's sniffer output resembles,
    // but they are a guess (no published verbosity-4 sample), so keep them recognisable rather than exact.
    private static string Summary(Ipv4Packet packet)
    {
        if (packet.Protocol != Ipv4Packet.ProtocolIcmp)
            return $"ip-proto-{packet.Protocol} {packet.Payload.Length}";
        if (IcmpEcho.TryParse(packet.Payload, out var echo))
            return echo.Type == IcmpEchoType.Request ? "icmp: echo request" : "icmp: echo reply";
        return packet.Payload.Length > 0 ? $"icmp: type-#{packet.Payload[0]}" : "icmp: [|icmp]";
    }
}
