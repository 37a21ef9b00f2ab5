using System.Net;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Serialization;
using IkeSelector = ClusterActors.Protocol.Ike.TrafficSelector;

namespace ClusterActors.Protocol.Ipsec;

/// <summary>
/// The replicated state of one dialup instance: what its owner (`role=sync-primary`) syncs to every standby over
/// the Akka cluster. The IKE SA travels too (SPIs, keys, message IDs) so a new owner answers DPD and rekeys without
/// a new IKE_SA_INIT. <see cref="Generation"/> grows with every change of owner and <see cref="SyncSeq"/> with every
/// sync by one owner: the highest (Generation, SyncSeq, OwnerSerial) is the state every unit converges on.
/// </summary>
public sealed record TunnelRecord(
    string Key,
    string Phase1,
    string Name,
    int Index,
    string OwnerSerial,
    int OwnerFgcpGroup,
    long Generation,
    long SyncSeq,
    IkeSaState Ike,
    ChildSaKeys Child,
    int ProxyIdSerial,
    uint NextOutboundSeq,
    uint ReplayHighest,
    DateTimeOffset EstablishedAt,
    int ChildLifetimeSeconds,
    IPAddress LocalGateway,
    IPAddress RemoteGateway,
    int RemotePort,
    IReadOnlyList<IkeSelector> RemoteSelectors,
    IReadOnlyList<IkeSelector> LocalSelectors,
    bool Deleted) : IWireMessage
{
    /// <summary><see cref="OwnerFgcpGroup"/> of a standalone owner (FortiOS `mode standalone`): in no FGCP cluster. FortiOS
    /// group-ids are never negative, so no cluster's id is this.</summary>
    public const int NoFgcpCluster = -1;

    /// <summary>phase1 <c>keepalive</c> (NAT-T keepalive frequency): FortiOS default and range.</summary>
    public const int DefaultNattKeepaliveSeconds = 10, MinNattKeepaliveSeconds = 5, MaxNattKeepaliveSeconds = 900;

    /// <summary>
    /// NAT traversal as this tunnel uses it (from the IKE SA's NAT detection). Replicated with the record so a unit
    /// that takes the tunnel over encapsulates ESP the same way. None: ESP is IP protocol 50 (the seed scenario).
    /// </summary>
    public NatTStatus NatT { get; init; } = NatTStatus.None;

    /// <summary>
    /// The client's UDP port for ESP-in-UDP and IKE once NAT-T is active: the NAT's mapping of its 4500, so not
    /// necessarily 4500. 0 without NAT-T, as FortiOS prints <c>remote_port=0</c>.
    /// </summary>
    public int NattRemotePort { get; init; }

    /// <summary>phase1 <c>keepalive</c> while NAT-T is active (<c>natt: interval=</c>); 0 without NAT-T.</summary>
    public int NattKeepaliveSeconds { get; init; }

    public bool NattActive => NatT.IsActive();

    /// <summary>How this tunnel's ESP goes on the wire: UDP-encapsulated on port 4500 (RFC 3948) exactly when NAT-T is active.</summary>
    public EspEncapsulation EspEncapsulation => NattActive ? EspEncapsulation.Udp : EspEncapsulation.None;

    /// <summary>
    /// The <c>natt:</c> line of <c>diagnose vpn tunnel list</c>: <c>mode=keepalive draft=0 interval=10 remote_port=4500</c>
    /// with NAT-T (draft 0: RFC NAT-T, not a pre-RFC draft), <c>mode=none draft=0 interval=0 remote_port=0</c> without.
    /// </summary>
    public NattState NattLine => NattActive
        ? new NattState(NatT.FortiOsMode(), 0, NattKeepaliveSeconds, NattRemotePort)
        : new NattState("none", 0, 0, 0);

    /// <summary>Our UDP port for the tunnel: 4500 with NAT-T, 0 (FortiOS prints the <c>lgw:0</c> form) without.</summary>
    public int NattLocalPort => NattActive ? IkeUdp.NatTPort : 0;

    /// <summary>
    /// The NAT-T fields taken from the IKE SA (its NAT detection result and the peer's port) and the phase1
    /// <c>keepalive</c>; all cleared when the SA does not use NAT-T.
    /// </summary>
    public TunnelRecord WithNatT(IkeSaState sa, int keepaliveSeconds = DefaultNattKeepaliveSeconds) => sa.NatT.IsActive()
        ? this with { NatT = sa.NatT, NattRemotePort = sa.PeerPort, NattKeepaliveSeconds = keepaliveSeconds }
        : this with { NatT = NatTStatus.None, NattRemotePort = 0, NattKeepaliveSeconds = 0 };

    /// <summary>Dialup instances are keyed by phase1 and IKE SPIs: names are per unit on FortiOS, SPIs are not.</summary>
    public static string KeyOf(string phase1, ulong spiI, ulong spiR) => $"{phase1}/{spiI:x16}/{spiR:x16}";
}

/// <summary>The outer form of a tunnel's ESP packets.</summary>
public enum EspEncapsulation : byte
{
    /// <summary>Bare ESP, IP protocol 50 (<c>nattraversal disable</c>, or no NAT found).</summary>
    None = 0,
    /// <summary>ESP in UDP between port 4500 and the peer's (mapped) port, RFC 3948 (<see cref="Esp.UdpEncap"/>).</summary>
    Udp = 1,
}
