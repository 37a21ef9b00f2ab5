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

public sealed record DpdState(string Mode, bool On, int IdleMs, int Retry, int Count, uint Seqno);

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
    DateTimeOffset? LastTx);
