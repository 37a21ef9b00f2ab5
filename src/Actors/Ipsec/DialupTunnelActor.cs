using System.Net;
using Akka.Actor;
using ClusterActors.Protocol.Ipsec;
using IpsecSelector = ClusterActors.Protocol.Ipsec.TrafficSelector;

namespace ClusterActors.Actors.Ipsec;

public sealed record TunnelRecordChanged(TunnelRecord Record);

public sealed record GetTunnelState
{
    public static readonly GetTunnelState Instance = new();
}

/// <summary>
/// One dialup instance (vpn1_1 …) on one unit: its role and its copy of the SAs. The owner is `sync-primary`;
/// everywhere else the instance is `standby` with the outbound sequence number jumped ahead by 2^28, so that
/// whichever unit takes it over never sends a number the client has already seen.
/// </summary>
public sealed class DialupTunnelActor : ReceiveActor
{
    private readonly string _serial;
    private readonly int _boundInterfaceIndex;
    private TunnelRecord _record;
    private TunnelRole _role;
    private bool _rgwyChanged;

    public DialupTunnelActor(string serial, TunnelRecord record, int boundInterfaceIndex)
    {
        _serial = serial;
        _boundInterfaceIndex = boundInterfaceIndex;
        _record = record;
        _role = RoleOf(record);
        Receive<TunnelRecordChanged>(c =>
        {
            var role = RoleOf(c.Record);
            // FortiOS sets rgwy-chg on a tunnel a unit took over from another owner (the seed's VM2 after FGCP failover).
            if (role == TunnelRole.SyncPrimary && _role == TunnelRole.Standby && c.Record.Generation > 1) _rgwyChanged = true;
            _record = c.Record;
            _role = role;
        });
        Receive<GetTunnelState>(_ => Sender.Tell(State()));
    }

    public static Props Props(string serial, TunnelRecord record, int boundInterfaceIndex) =>
        Akka.Actor.Props.Create(() => new DialupTunnelActor(serial, record, boundInterfaceIndex));

    private TunnelRole RoleOf(TunnelRecord r) => r.OwnerSerial == _serial ? TunnelRole.SyncPrimary : TunnelRole.Standby;

    private DialupTunnelState State()
    {
        var r = _record;
        var owner = _role == TunnelRole.SyncPrimary;
        var seq = owner ? r.NextOutboundSeq : TunnelOwnership.TakeoverSequence(r);
        var child = r.Child;
        var sa = new ChildSaState(r.ProxyIdSerial,
            new SaDirection(child.InboundSpi, child.InboundEncKey, child.InboundAuthKey, 0, 0),
            new SaDirection(child.OutboundSpi, child.OutboundEncKey, child.OutboundAuthKey, 0, 0),
            seq, owner ? r.ReplayHighest : 0, 2048, r.EstablishedAt, r.ChildLifetimeSeconds,
            // Path MTU is learnt by the forwarding unit and not synced: a standby shows the 1280 default and dst_mtu 0.
            owner ? 1438 : 1280);
        var remote = r.RemoteSelectors.FirstOrDefault();
        var local = r.LocalSelectors.FirstOrDefault();
        return new DialupTunnelState(r.Name, r.Phase1, r.Index, 4, r.LocalGateway, 0,
            r.RemoteGateway, r.RemotePort, owner ? 1500 : 0, _boundInterfaceIndex, _role, true, owner && _rgwyChanged, r.Phase1,
            Selector(local), Selector(remote), sa,
            new DpdState("on-idle", true, 60000, 3, 0, owner ? r.Ike.NextRequestId : 0),
            new NattState("none", 0, 0, 0), new TunnelCounters(0, 0, 0, 0), null, null);
    }

    private static IpsecSelector Selector(ClusterActors.Protocol.Ike.TrafficSelector? s) =>
        s is null ? IpsecSelector.Any : new IpsecSelector(s.IpProtocol, s.StartAddress, s.EndAddress, s.StartPort == 0 && s.EndPort == 65535 ? (ushort)0 : s.StartPort);
}
