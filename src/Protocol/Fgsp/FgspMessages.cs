using ClusterActors.Protocol.Serialization;

namespace ClusterActors.Protocol.Fgsp;

/// <summary>
/// What each unit tells the Akka cluster about itself for FGSP: its standalone group and member id, the FGSP
/// address it has on the peering link (port5), and whether it is its FGCP cluster's primary (only the primary
/// answers on the cluster's addresses, so only it is the peer a `peerip` points at).
/// </summary>
public sealed record FgspAnnouncement(
    string Serial,
    string Hostname,
    int StandaloneGroupId,
    int GroupMemberId,
    int FgcpGroupId,
    string FgspAddress,
    bool IsFgcpPrimary,
    string ActorPath,
    string AkkaAddress,
    long Incarnation) : IWireMessage;
