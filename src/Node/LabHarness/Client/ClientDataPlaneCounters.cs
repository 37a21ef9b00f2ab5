using System.Globalization;
using ClusterActors.Protocol.Esp;

namespace ClusterActors.Node.LabHarness.Client;

/// <summary>
/// A snapshot of the client gateway's forwarding counters. ESP bytes are the ESP packet as on the wire (SPI to ICV,
/// without the outer IPv4 or UDP header), the same measure as <see cref="EspCounters.WireBytes"/>; decrypted bytes are
/// the inner packets (`dec:pkts/bytes`).
/// </summary>
public sealed record ClientDataPlaneCounters
{
    /// <summary>ESP packets sealed and handed to port1 (whether or not the link took them, see <see cref="SendFailures"/>).</summary>
    public long EspSentPackets { get; init; }
    public long EspSentBytes { get; init; }
    /// <summary>Every ESP packet that arrived for this host, before any check.</summary>
    public long EspReceivedPackets { get; init; }
    public long EspReceivedBytes { get; init; }
    /// <summary>Authenticated, decrypted and accepted by the replay window.</summary>
    public long Decrypted { get; init; }
    public long DecryptedBytes { get; init; }
    /// <summary>Inner packets handed to port2.</summary>
    public long ForwardedToLan { get; init; }

    /// <summary>Anti-replay: the sequence number is inside the window and was already delivered.</summary>
    public long ReplayDrops { get; init; }
    /// <summary>Anti-replay: the sequence number is left of the window.</summary>
    public long TooOldDrops { get; init; }
    public long IcvFailures { get; init; }
    /// <summary>ESP for an SPI that is not our inbound SA (or arriving while there is no SA).</summary>
    public long UnknownSpi { get; init; }
    /// <summary>Truncated, not whole cipher blocks, bad padding after a good ICV, or sequence number 0.</summary>
    public long MalformedEsp { get; init; }

    /// <summary>LAN packets dropped because no tunnel is up.</summary>
    public long LanNoTunnel { get; init; }
    /// <summary>LAN packets whose source or destination is outside the negotiated selectors.</summary>
    public long LanOutsideSelector { get; init; }
    /// <summary>Decrypted packets not delivered: not IPv4, or not for a LAN address inside our selector.</summary>
    public long InnerDropped { get; init; }
    /// <summary>TTL would reach 0 when forwarding.</summary>
    public long TtlExceeded { get; init; }
    /// <summary>Send returned false: no carrier, or nobody on the link answers for the next hop.</summary>
    public long SendFailures { get; init; }
    /// <summary>Arrived on a port but undecodable as IPv4, or not addressed to anything we handle.</summary>
    public long Ignored { get; init; }

    public long IkeSent { get; init; }
    public long IkeReceived { get; init; }
    public long IkeRetransmits { get; init; }
    /// <summary>Dials negotiated again from IKE_SA_INIT after an IKE_AUTH nobody answered (<see cref="DialupClientSettings.IkeNegotiations"/>).</summary>
    public long IkeRenegotiations { get; init; }
    /// <summary>IKE datagrams the initiator ignored (not ours, stale, forged, not IKE on 4500).</summary>
    public long IkeDropped { get; init; }
    /// <summary>RFC 3948 NAT keepalives sent while ESP goes in UDP.</summary>
    public long NatKeepalivesSent { get; init; }

    /// <summary>CHILD SAs the gateway rekeyed (CREATE_CHILD_SA it asked for and this client answered).</summary>
    public long ChildSaRekeys { get; init; }

    /// <summary>Highest sequence number accepted inbound (`replaywin_lastseq`); 0 before any.</summary>
    public uint InboundLastSeq { get; init; }
    /// <summary>Next outbound sequence number (`seqno`); 0 while there is no SA.</summary>
    public ulong OutboundNextSeq { get; init; }

    /// <summary>Both anti-replay reasons: the number the drills require to stay 0 for legitimate traffic.</summary>
    public long AntiReplayDrops => ReplayDrops + TooOldDrops;

    public long EspDrops => ReplayDrops + TooOldDrops + IcvFailures + UnknownSpi + MalformedEsp;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"esp tx {EspSentPackets}/{EspSentBytes} rx {EspReceivedPackets}/{EspReceivedBytes} dec {Decrypted}/{DecryptedBytes} lan {ForwardedToLan}; "
        + $"drops replay {ReplayDrops} old {TooOldDrops} icv {IcvFailures} spi {UnknownSpi} malformed {MalformedEsp}; "
        + $"lan no-tunnel {LanNoTunnel} selector {LanOutsideSelector} inner {InnerDropped} ttl {TtlExceeded} send-fail {SendFailures} ignored {Ignored}; "
        + $"ike tx {IkeSent} rx {IkeReceived} retx {IkeRetransmits} renegotiated {IkeRenegotiations} dropped {IkeDropped} natt-keepalive {NatKeepalivesSent} child-rekeys {ChildSaRekeys}; seq in {InboundLastSeq:x8} out {OutboundNextSeq:x8}");
}

/// <summary>One ESP packet the client's anti-replay window refused (<see cref="DialupClientGateway.RecentAntiReplayDrops"/>).</summary>
/// <param name="Reason"><see cref="EspDropReason.Replayed"/> (inside the window, already delivered) or <see cref="EspDropReason.TooOld"/> (left of it).</param>
/// <param name="WindowHighest">The highest number the SA's window had accepted when this one arrived.</param>
public sealed record AntiReplayDropTrace(DateTimeOffset At, uint Spi, uint Seq, EspDropReason Reason, uint WindowHighest)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"spi {Spi:x8} seq {Seq:x8} {(Reason == EspDropReason.TooOld ? "too old" : "replayed")} (window highest {WindowHighest:x8}, {(long)WindowHighest - Seq} behind)");
}
