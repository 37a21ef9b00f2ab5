using System.Net;

namespace ClusterActors.Protocol.Ike.Exchanges;

/// <summary>
/// One FortiOS dialup phase1 (plus its phase2) as the responder needs it. Plain values so the IKE core does not
/// depend on the config model. <paramref name="PeerId"/> non-null is <c>peertype one</c> + <c>peerid</c>.
/// </summary>
public sealed record IkeGatewaySettings(
    string Psk,
    string? PeerId,
    IReadOnlyList<string> Proposals,
    IReadOnlyList<int> DhGroups,
    IPAddress LocalGateway,
    int IkeLifetimeSeconds,
    int ChildLifetimeSeconds)
{
    /// <summary>phase2 <c>proposal</c>; null means the same keywords as phase1.</summary>
    public IReadOnlyList<string>? ChildProposals { get; init; }
    /// <summary>
    /// phase2 <c>pfs enable</c> with its <c>dhgrp</c>: the groups a CREATE_CHILD_SA may run a new DH in (ours offer the
    /// first in KE). Null is <c>pfs disable</c>: no KE in CREATE_CHILD_SA, a peer's KE is refused.
    /// </summary>
    public IReadOnlyList<int>? ChildDhGroups { get; init; }
    /// <summary>phase2 <c>src-subnet</c>: what the gateway protects. FortiOS default 0.0.0.0/0.</summary>
    public TrafficSelector LocalSelector { get; init; } = TrafficSelector.Any;
    /// <summary>phase2 <c>dst-subnet</c>: what the client may claim. FortiOS default 0.0.0.0/0.</summary>
    public TrafficSelector RemoteSelector { get; init; } = TrafficSelector.Any;
    public int NonceLength { get; init; } = 32;
    /// <summary>
    /// phase1 <c>nattraversal</c>. FortiOS defaults to enable; this record defaults to <see cref="NatTraversal.Disable"/>
    /// so a caller that does not map the setting (and does not pass real ports) keeps plain UDP 500 behaviour.
    /// </summary>
    public NatTraversal NatTraversal { get; init; } = NatTraversal.Disable;
}

/// <summary>The dialup client ("FortiGate IPsec Client 1"). LocalId is sent as IDi with <see cref="LocalIdType"/>.</summary>
public sealed record IkeInitiatorSettings(
    string Psk,
    string LocalId,
    IReadOnlyList<string> Proposals,
    IReadOnlyList<int> DhGroups,
    IReadOnlyList<TrafficSelector> TsI,
    IReadOnlyList<TrafficSelector> TsR)
{
    public IdType LocalIdType { get; init; } = IdType.Fqdn;
    public IReadOnlyList<string>? ChildProposals { get; init; }
    /// <summary>phase2 <c>pfs enable</c> + <c>dhgrp</c>, as <see cref="IkeGatewaySettings.ChildDhGroups"/>; null is <c>pfs disable</c>.</summary>
    public IReadOnlyList<int>? ChildDhGroups { get; init; }
    public int NonceLength { get; init; } = 32;
    public int IkeLifetimeSeconds { get; init; } = 86400;
    public int ChildLifetimeSeconds { get; init; } = 43200;
    /// <summary>phase1 <c>nattraversal</c>; disabled unless asked for, like <see cref="IkeGatewaySettings.NatTraversal"/>.</summary>
    public NatTraversal NatTraversal { get; init; } = NatTraversal.Disable;
}

/// <summary>
/// A CHILD SA from one side's point of view: inbound is what this side decrypts (its own SPI, chosen by it),
/// outbound what it encrypts (the peer's SPI).
/// </summary>
public sealed record ChildSaKeys(uint InboundSpi, uint OutboundSpi, byte[] InboundEncKey, byte[] InboundAuthKey, byte[] OutboundEncKey, byte[] OutboundAuthKey)
{
    /// <summary>ESP suite keyword, e.g. "aes128-sha1".</summary>
    public string Proposal { get; init; } = "aes128-sha1";

    /// <summary>The keys this side decrypts with, with the proposal's algorithms.</summary>
    public Esp.EspSaKeys InboundEsp() => new(InboundSpi, InboundEncKey, InboundAuthKey, IkeSuite.Parse(Proposal));

    /// <summary>The keys this side encrypts with, with the proposal's algorithms.</summary>
    public Esp.EspSaKeys OutboundEsp() => new(OutboundSpi, OutboundEncKey, OutboundAuthKey, IkeSuite.Parse(Proposal));
}

/// <summary>Negotiated selectors in RFC terms: Initiator = TSi (the client side), Responder = TSr.</summary>
public sealed record TrafficSelectors(IReadOnlyList<TrafficSelector> Initiator, IReadOnlyList<TrafficSelector> Responder);

/// <summary>
/// Everything another cluster member needs to carry on an IKE SA (FortiOS IKEv2 HA sync, fortios-ha-behaviour.md §4):
/// with this it can answer the peer's next DPD without a new IKE_SA_INIT.
/// </summary>
public sealed record IkeSaState(
    ulong SpiI,
    ulong SpiR,
    bool IsInitiator,
    string Proposal,
    int DhGroup,
    byte[] Ni,
    byte[] Nr,
    IkeSaKeys Keys,
    /// <summary>Message ID of the next request this side sends.</summary>
    uint NextRequestId,
    /// <summary>Message ID the peer's next new request must carry.</summary>
    uint ExpectedPeerRequestId,
    /// <summary>Message ID and bytes of the last response sent, replayed if the peer retransmits that request.</summary>
    uint? LastResponseId,
    byte[]? LastResponse,
    IPAddress PeerAddress,
    string PeerId,
    string ChildProposal,
    IReadOnlyList<ChildSaKeys> Children,
    TrafficSelectors? Ts,
    int IkeLifetimeSeconds,
    int ChildLifetimeSeconds)
{
    /// <summary>NAT detection's outcome (RFC 7296 §2.23); anything but None means IKE on 4500 and ESP in UDP (RFC 3948).</summary>
    public NatTStatus NatT { get; init; } = NatTStatus.None;

    /// <summary>
    /// The peer's UDP port for IKE: where its last accepted request came from (with NAT-T, the NAT's mapped port, not
    /// necessarily 4500). Our own requests (DPD, Delete) go to <see cref="PeerAddress"/>:PeerPort.
    /// </summary>
    public int PeerPort { get; init; } = IkeUdp.IkePort;

    /// <summary>Our UDP port for this SA: 500, or 4500 once IKE floated (then every message carries the non-ESP marker).</summary>
    public int LocalPort { get; init; } = IkeUdp.IkePort;

    /// <summary>ESP of this SA's CHILD SAs goes in UDP (RFC 3948) between <see cref="LocalPort"/> and <see cref="PeerPort"/>.</summary>
    public bool UdpEncapsulatedEsp => NatT.IsActive();

    public IPEndPoint PeerEndpoint => new(PeerAddress, PeerPort);
}

public enum RefusalKind
{
    WrongPsk,
    PeerIdMismatch,
    NoProposalChosen,
    /// <summary>The KE group was allowed but not the one selected; the initiator should retry.</summary>
    InvalidKePayload,
    TsUnacceptable,
    UnsupportedAuthMethod,
    /// <summary>The peer refused us with AUTHENTICATION_FAILED (initiator side).</summary>
    AuthenticationFailed,
    Malformed,
    UnexpectedMessage,
    Other,
}

/// <summary>What an exchange step produced: datagrams to send back and what happened.</summary>
public sealed record IkeOutput(IReadOnlyList<byte[]> Replies, IReadOnlyList<IkeEvent> Events)
{
    public static readonly IkeOutput Nothing = new([], []);
    public static IkeOutput Of(IkeEvent e) => new([], [e]);
    public static IkeOutput Reply(byte[] reply, params IkeEvent[] e) => new([reply], e);
}

public abstract record IkeEvent;

public sealed record IkeSaEstablished(IkeSaState Sa, ChildSaKeys Child, TrafficSelectors Ts, string PeerId) : IkeEvent;

/// <summary>Nothing was (or remains) established for this attempt.</summary>
public sealed record IkeRefused(string Reason, RefusalKind Kind) : IkeEvent;

/// <summary>Ignored without reply, as the RFC wants for unauthenticated junk, unknown SPIs or stale message IDs.</summary>
public sealed record IkeDropped(string Reason) : IkeEvent
{
    /// <summary>Set when the responder's admission dropped it (size caps, COOKIE, half-open limits); each has a counter.</summary>
    public IkeDropCause? Cause { get; init; }
}

/// <summary>
/// An authenticated message of an established NAT-T SA came from a new address or port (the peer's NAT rebound): our
/// own requests now go there (RFC 7296 §2.23, dynamic address update; never done by a side that is itself behind a
/// NAT). The next event carrying the SA has the new endpoint to sync.
/// </summary>
public sealed record IkePeerMoved(ulong SpiI, ulong SpiR, IPEndPoint From, IPEndPoint To) : IkeEvent;

public sealed record IkeRetransmitted(ulong SpiI, ulong SpiR, uint MessageId) : IkeEvent;

/// <summary>The initiator is starting over (INVALID_KE_PAYLOAD asked for another group).</summary>
public sealed record IkeRetrying(string Reason, int DhGroup) : IkeEvent;

/// <summary>We answered the peer's liveness check (DPD); <see cref="Sa"/> has the advanced message IDs to sync.</summary>
public sealed record IkeDpdAnswered(IkeSaState Sa) : IkeEvent;

/// <summary>Our own liveness check got its answer.</summary>
public sealed record IkeDpdConfirmed(IkeSaState Sa) : IkeEvent;

public sealed record IkeSaDeleted(IkeSaState Sa) : IkeEvent;

public sealed record ChildSaDeleted(IkeSaState Sa, ChildSaKeys Child) : IkeEvent;

/// <summary>A CREATE_CHILD_SA finished: <see cref="New"/> is installed next to <see cref="Old"/> until the old one is deleted.</summary>
public sealed record ChildSaRekeyed(IkeSaState Sa, ChildSaKeys? Old, ChildSaKeys New, TrafficSelectors Ts) : IkeEvent
{
    /// <summary>The DH group of the exchange's PFS, or null when the new keys came from SK_d and the nonces alone.</summary>
    public int? PfsGroup { get; init; }

    /// <summary>This side asked for the rekey (its request was answered): it deletes the old CHILD SA (§2.8).</summary>
    public bool RekeyedHere { get; init; }
}
