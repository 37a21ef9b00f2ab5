using System.Net;
using Akka.Actor;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Actors.Forwarding;

/// <summary>Where the data plane finds a dialup instance: ESP to <see cref="InboundSpi"/> and traffic to its remote selectors.</summary>
public sealed record TunnelPathChanged(string Key, string Phase1, uint InboundSpi, IReadOnlyList<(uint Start, uint End)> Remote, IActorRef Tunnel)
{
    /// <summary>The client's address: decides between two tunnels that share an inbound SPI (<see cref="TunnelPaths"/>).</summary>
    public IPAddress? RemoteGateway { get; init; }
}

public sealed record TunnelPathRemoved(string Key);

/// <summary>ESP for a tunnel this unit holds (owned or standby), as it arrived on the wire (without any UDP header).</summary>
public sealed record EspArrived(byte[] Esp, IPAddress From, int FromPort, bool UdpEncapsulated);

/// <summary>The tunnel decrypted a packet: its inner IPv4 packet enters the unit on the tunnel interface (vpn1).</summary>
public sealed record TunnelDecrypted(string Interface, byte[] InnerPacket);

/// <summary>A packet routed into the tunnel: the tunnel encrypts it if this unit may send on it.</summary>
/// <param name="ArrivedAt">When the frame it came from reached the unit (Stopwatch timestamp; 0: not known).</param>
/// <param name="StaleAfter">How long that frame may have waited (<see cref="StalledInput.StaleAfter"/>); zero: no check.
/// A packet handed to the tunnel just before the unit stalled waits in the tunnel's mailbox, ahead of the
/// <see cref="UnitStalled"/> the forwarding plane sends once the unit runs again: the tunnel checks it itself.</param>
public sealed record EncryptForTunnel(byte[] InnerPacket, long ArrivedAt = 0, TimeSpan StaleAfter = default);

/// <summary>
/// The forwarding plane found frames that waited through a stall of this unit (<see cref="StalledInput"/>): sent once
/// per stall to every dialup instance, ahead of anything forwarded after it (Akka keeps the order between two actors),
/// so an owner moves its outbound numbers past a takeover its peers may have made meanwhile before it encrypts again.
/// </summary>
/// <param name="Waited">How long the oldest frame that told of it had waited: the stall lasted at least that long.</param>
public sealed record UnitStalled(TimeSpan Waited);

/// <summary>An outer packet (ESP, or ESP in UDP 4500) ready to be routed to the remote gateway.</summary>
public sealed record TunnelEncrypted(byte[] OuterPacket);

/// <summary>`diagnose sniffer packet IFACE FILTER VERBOSITY [COUNT]`; runs until the count or <see cref="Duration"/>.</summary>
/// <param name="Pcap">Also return the packets as pcapng (the lab's `--pcap FILE`).</param>
public sealed record StartSniffer(string Interface, string Filter, int Verbosity, int? Count, TimeSpan Duration, bool Pcap = false);

/// <param name="Pcap">The capture as pcapng when it was asked for (at most <see cref="SnifferCapture.MaxPcapPackets"/> packets).</param>
public sealed record SnifferResult(string Output, bool Ok, byte[]? Pcap = null);

public sealed record GetForwardingStatus
{
    public static readonly GetForwardingStatus Instance = new();
}

/// <summary>What one unit's data plane has done, for tests, drills and the lab's reports.</summary>
public sealed record ForwardingStatus(
    string Serial,
    bool Answering,
    IReadOnlyDictionary<string, bool> Carrier,
    long Received,
    long Forwarded,
    long EspIn,
    long EspOut,
    long TunnelIn,
    long TunnelOut,
    long Dropped,
    IReadOnlyDictionary<string, long> Drops)
{
    /// <summary>IKE datagrams handed to the unit and not answered yet (at most ForwardingActor.MaxIkeInFlight).</summary>
    public int IkeInFlight { get; init; }
}

/// <summary>Seen on the unit's event stream each time this unit forwards a packet of a tunnel (for drills' "who forwarded").</summary>
public sealed record TunnelTrafficForwarded(string Serial, string Tunnel, SnifferDirection Direction);
