using System.Globalization;

namespace ClusterActors.Protocol.Packets;

public enum SnifferDirection
{
    In,
    Out,
}

/// <summary>
/// Lines of `diagnose sniffer packet any icmp 4`, e.g. `0.171753 vpn1 in 10.10.1.2 -> 10.10.101.2: icmp: echo request`.
/// Verbosity 4 = header summary with interface name and direction.
/// </summary>
public static class SnifferLine
{
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
