using System.Net;
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
    /// <summary>Dialup instances are keyed by phase1 and IKE SPIs: names are per unit on FortiOS, SPIs are not.</summary>
    public static string KeyOf(string phase1, ulong spiI, ulong spiR) => $"{phase1}/{spiI:x16}/{spiR:x16}";
}
