using System.Net;

namespace ClusterActors.Protocol.Ipsec;

/// <summary>The per-tunnel role FortiOS prints: `role=primary` (no FGSP sync), `sync-primary` (owner) or `standby`.</summary>
public enum TunnelRole : byte { Primary = 0, SyncPrimary = 1, Standby = 2 }

/// <summary>The words `diagnose vpn tunnel list` prints for <see cref="TunnelRole"/>: one table for the CLI and for readers of its output.</summary>
public static class TunnelRoles
{
    public static string Word(TunnelRole role) => role switch
    {
        TunnelRole.Primary => "primary",
        TunnelRole.SyncPrimary => "sync-primary",
        TunnelRole.Standby => "standby",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, null),
    };

    public static bool TryParse(string word, out TunnelRole role)
    {
        foreach (var r in Enum.GetValues<TunnelRole>())
        {
            if (Word(r) != word) continue;
            role = r;
            return true;
        }
        role = default;
        return false;
    }
}

/// <summary>A traffic selector as `diagnose vpn tunnel list` prints it: `proto:start-end:port` (0 = any).</summary>
public sealed record TrafficSelector(byte Protocol, IPAddress Start, IPAddress End, ushort Port)
{
    public static readonly TrafficSelector Any = new(0, IPAddress.Parse("0.0.0.0"), IPAddress.Parse("255.255.255.255"), 0);
}

/// <summary>One direction of a CHILD SA: `dec` is what this unit decrypts (its own SPI), `enc` what it encrypts (the peer's SPI).</summary>
public sealed record SaDirection(uint Spi, byte[] EncKey, byte[] AuthKey, long Packets, long Bytes);

/// <summary>The CHILD SA of a dialup instance (FortiOS: the proxyid's SA).</summary>
public sealed record ChildSaState(
    int ProxyIdSerial,
    SaDirection Dec,
    SaDirection Enc,
    uint NextOutboundSeq,
    uint ReplayLastSeq,
    int ReplayWindow,
    DateTimeOffset EstablishedAt,
    int LifetimeSeconds,
    int Mtu);

/// <summary>`dpd:` line of `diagnose vpn tunnel list`.</summary>
public sealed record DpdState(string Mode, bool On, int IdleMs, int Retry, int Count, uint Seqno)
{
    /// <summary>
    /// The line's configured part from the phase1: `idle` is dpd-retryinterval in ms and `retry` dpd-retrycount (the
    /// seed's `set dpd-retryinterval 60` prints idle=60000ms; Fortinet's KB 267783 prints idle=20000ms retry=3, the
    /// defaults, for a tunnel with DPD disabled). Mode: `off` with on=0 for `set dpd disable` (KB 267783), `on-idle`
    /// with on=1 (the seed's reference); `on-demand` with on=1 is our choice, the config word as on-idle's is
    /// (src/Actors/Ipsec/README.md, "DPD on the tunnel list").
    /// </summary>
    public static DpdState Configured(ClusterActors.Protocol.Config.DpdMode mode, int retryIntervalSeconds, int retryCount) => mode switch
    {
        ClusterActors.Protocol.Config.DpdMode.Disable => new("off", false, retryIntervalSeconds * 1000, retryCount, 0, 0),
        ClusterActors.Protocol.Config.DpdMode.OnIdle => new("on-idle", true, retryIntervalSeconds * 1000, retryCount, 0, 0),
        _ => new("on-demand", true, retryIntervalSeconds * 1000, retryCount, 0, 0),
    };

    /// <summary>The seed's vpn1 (`set dpd on-idle`, `set dpd-retryinterval 60`, retrycount 3 by default).</summary>
    public static readonly DpdState Seed = Configured(ClusterActors.Protocol.Config.DpdMode.OnIdle, 60, 3);
}

/// <summary>`natt:` line; Mode "none" when NAT-T is off (the scenario), "keepalive" / "silent" otherwise.</summary>
public sealed record NattState(string Mode, int Draft, int Interval, int RemotePort);

public sealed record TunnelCounters(long RxPackets, long TxPackets, long RxBytes, long TxBytes);

/// <summary>
/// Everything `diagnose vpn tunnel list` prints about one dialup instance (vpn1_1 …) on one unit, as a value.
/// Times are absolute so the formatter computes countdowns (`expire`, `timeout`) and idle seconds (`ilast/olast`) at print time.
/// </summary>
public sealed record DialupTunnelState(
    string Name,
    string Parent,
    int Index,
    int Serial,
    IPAddress LocalGateway,
    int LocalPort,
    IPAddress RemoteGateway,
    int RemotePort,
    int DstMtu,
    int BoundInterfaceIndex,
    TunnelRole Role,
    bool AcceptTraffic,
    bool RemoteGatewayChanged,
    string ProxyIdName,
    TrafficSelector Src,
    TrafficSelector Dst,
    ChildSaState Sa,
    DpdState Dpd,
    NattState Natt,
    TunnelCounters Stat,
    DateTimeOffset? LastRx,
    DateTimeOffset? LastTx)
{
    /// <summary>The IKE SA this instance runs on, for `diagnose vpn ike gateway list`; null where none is known.</summary>
    public IkeGatewaySa? Ike { get; init; }

    /// <summary>ESP received and dropped (ICV, replay, …): `get vpn ipsec tunnel summary`'s rx err.</summary>
    public long RxErrors { get; init; }

    /// <summary>Packets this instance could not encrypt (not the owner, sequence numbers used up): its tx err.</summary>
    public long TxErrors { get; init; }
}

/// <summary>
/// What `diagnose vpn ike gateway list` prints about the IKE SA of a dialup instance, from the unit's copy of it (the
/// owner's own, a standby's synced one).
/// </summary>
/// <param name="NextRequestId">Message ID of the next request this side sends (so, requests sent: IKEv2 starts at 0).</param>
/// <param name="ExpectedPeerRequestId">Message ID the peer's next request must carry (so, requests received).</param>
/// <param name="EstablishedAt">When the IKE SA was established: its first CHILD SA comes in the same IKE_AUTH exchange.</param>
public sealed record IkeGatewaySa(ulong SpiI, ulong SpiR, bool IsInitiator, string Proposal, uint NextRequestId, uint ExpectedPeerRequestId,
    int LifetimeSeconds, DateTimeOffset EstablishedAt, int LocalPort, int PeerPort, string PeerId);
