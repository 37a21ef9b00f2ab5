using Akka.Actor;
using Akka.Event;
using ClusterActors.Actors.Cli;
using ClusterActors.Actors.UnitConfig;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Fgsp;
using ClusterActors.Actors.Ipsec;
using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Actors.Persistence;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Unit;

/// <summary>Everything one FortiGate unit is started with; the host builds it from the config file and HOCON.</summary>
public sealed record UnitSettings(
    string Serial,
    ConfigDocument FileConfig,
    Func<ConfigDocument, IReadOnlyDictionary<string, IHbdevLink>> HbdevLinks)
{
    /// <summary>How the unit sends an IKE datagram it starts itself (DPD on idle): its IKE socket, or the lab's client.</summary>
    public Action<IPEndPoint, byte[]>? IkeSend { get; init; }

    /// <summary>
    /// The unit's interfaces as packet I/O (the in-memory fabric, or the lab's kernel sockets). Without it the unit has
    /// no forwarding plane: IKE then reaches it through <see cref="DeliverIke"/> only.
    /// </summary>
    public IPacketIo? Packets { get; init; }

    /// <summary>IKE flood protection of every dialup phase1 (COOKIE threshold, half-open limits, size caps); null: the defaults.</summary>
    public ClusterActors.Protocol.Ike.IkeAdmissionSettings? IkeAdmission { get; init; }

    /// <summary>
    /// The unit's own private data key (the host keeps it beside the journal): ENC under it is what the journal holds
    /// with `set private-data-encryption enable`. Null: the product key only (specs without a data folder).
    /// </summary>
    public PrivateDataKey? UnitKey { get; init; }

    /// <summary>
    /// HA uptime's start, kept by the host beside the hbdev sockets so that neither a restarted FGCP actor nor a unit
    /// whose ActorSystem is started again restarts it from 0 (<see cref="Fgcp.HaUptime"/>). Null: the unit keeps one
    /// for the life of its actor tree (still across FGCP restarts).
    /// </summary>
    public HaUptime? HaUptime { get; init; }

    /// <summary>Where FGCP parks its state when the host restarts the ActorSystem, and the next one takes it (<see cref="FgcpHandover"/>).</summary>
    public FgcpHandover? FgcpHandover { get; init; }

    /// <summary>
    /// Tunnel records the previous ActorSystem of this unit held (<see cref="HandOverForRestart"/>): applied by the new
    /// phase1 actors as soon as they exist, so a tunnel this unit owned (one established while Akka was cut, which no
    /// other unit has) survives the restart. Its own are held as a previous incarnation's and re-claimed by the primary
    /// (<see cref="TunnelOwnership.Inherited"/>); <see cref="TunnelOwnership.Compare"/> settles any double claim.
    /// </summary>
    public IReadOnlyList<TunnelRecord> CarriedTunnels { get; init; } = [];
}

/// <summary>The unit has no running configuration yet (its config journal is being read).</summary>
public sealed class UnitStartingException() : Exception("the unit is starting: its config journal is being read");

/// <summary>The host is about to restart this unit's ActorSystem: the unit parks FGCP and answers <see cref="UnitHandedOver"/>.</summary>
public sealed record HandOverForRestart
{
    public static readonly HandOverForRestart Instance = new();
}

/// <summary>Every tunnel record the unit's phase1 actors held, for the next ActorSystem (<see cref="UnitSettings.CarriedTunnels"/>).</summary>
public sealed record UnitHandedOver(IReadOnlyList<TunnelRecord> Tunnels);

/// <summary>An IKE request this unit starts (DPD) for the peer at <paramref name="To"/>; on UDP 4500 with the non-ESP
/// marker when the tunnel's NAT-T is active.</summary>
public sealed record SendIke(IPEndPoint To, byte[] Datagram, bool NatT = false);

/// <summary>Run one FortiOS CLI command (or a `config … end` script) on the unit.</summary>
public sealed record RunCli(string Command);

public sealed record CliResult(string Output, int ExitCode);

/// <summary>An IKE datagram addressed to <paramref name="LocalAddress"/>:500 on this unit.</summary>
public sealed record DeliverIke(IPAddress LocalAddress, IkeDatagram Datagram);

/// <summary>
/// The root of one FortiGate's actor tree: its journals, its running configuration, FGCP, and (next) FGSP and
/// the IPsec phase1 with one actor per dialup tunnel. CLI commands enter here.
/// </summary>
public sealed class FortiGateUnit : ReceiveActor, IWithUnboundedStash
{
    public const string Name = "fortigate";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly UnitSettings _settings;
    private IActorRef _history = ActorRefs.Nobody;
    private IActorRef _ikeDebug = ActorRefs.Nobody;
    private IActorRef _config = ActorRefs.Nobody;
    private IActorRef _fgcp = ActorRefs.Nobody;
    private IActorRef _fgsp = ActorRefs.Nobody;
    private IActorRef _forwarding = ActorRefs.Nobody;
    private readonly Dictionary<string, IActorRef> _phase1 = new();
    /// <summary>Per dialup phase1, its IKE front (admission, IKE_SA_INIT, half-open SAs): where its IKE datagrams go first.</summary>
    private readonly Dictionary<string, IActorRef> _ikeFront = new();
    private ConfigDocument _running;
    private const int MaxWaitingCli = 64;
    private int _waitingCli;

    public IStash Stash { get; set; } = null!;

    public FortiGateUnit(UnitSettings settings)
    {
        _settings = settings;
        _running = settings.FileConfig;
        Receive<UnitConfigReady>(ready =>
        {
            _running = ready.Config;
            _fgsp = Context.ActorOf(FgspActor.Props(_settings.Serial, _running), "fgsp");
            foreach (var p1 in _running.Phase1.Where(p => p.Type == Phase1Type.Dynamic))
            {
                _phase1[p1.Name] = Context.ActorOf(IpsecPhase1Actor.Props(_settings.Serial, _running, p1, relayViaParent: true), "phase1-" + p1.Name);
                _ikeFront[p1.Name] = Context.ActorOf(IkeFrontActor.Props(_settings.Serial, _running, p1, _phase1[p1.Name], _settings.IkeAdmission),
                    "ike-" + p1.Name);
            }
            foreach (var carried in _settings.CarriedTunnels)
                if (_phase1.TryGetValue(carried.Phase1, out var phase1)) phase1.Tell(new CarriedTunnel(carried));
            if (_settings.Packets is not null)
                _forwarding = Context.ActorOf(ForwardingActor.Props(_settings.Serial, _running, _settings.Packets, Self), "forwarding");
            // Under a backoff supervisor, on the host's sockets: a failure in FGCP never leaves the unit without heartbeats.
            // The same HA uptime start for every FGCP actor the supervisor starts: a restart must not lose an election.
            _fgcp = Context.ActorOf(FgcpActor.Supervised(
                FgcpActor.Props(_settings.Serial, _running, _settings.HbdevLinks(_running), _history, _config, unit: Self,
                    uptime: _settings.HaUptime ?? new HaUptime(TimeProvider.System), handover: _settings.FgcpHandover)), "fgcp");
            _log.Info("unit {0} ({1}) up", _settings.Serial, _running.Global.Hostname);
            Become(Running);
            Stash.UnstashAll();
        });
        // Until the config journal is read the unit has no config to answer from: CLI commands wait, but only so many;
        // beyond that the operator is told at once instead of the stash growing with every retry (Persistence/README.md).
        // The admin endpoint asks for the config to check a login: answered at once rather than stashed without bound.
        Receive<GetUnitConfig>(_ => Sender.Tell(new Status.Failure(new UnitStartingException())));
        Receive<RunCli>(cli =>
        {
            if (++_waitingCli <= MaxWaitingCli) Stash.Stash();
            else Sender.Tell(new CliResult("the unit is starting: waiting for its config journal (see the unit's log)\nCommand fail. Return code -1\n", 1));
        });
        ReceiveAny(_ => Stash.Stash());
    }

    public static Props Props(UnitSettings settings) => Akka.Actor.Props.Create(() => new FortiGateUnit(settings));

    protected override void PreStart()
    {
        // Supervised: a database outage stops a persistent actor; its supervisor restarts it with backoff (Persistence/README.md).
        _history = Context.ActorOf(HaHistoryJournal.Supervised(_settings.Serial), "ha-history");
        _ikeDebug = Context.ActorOf(IkeDebugActor.Props(_settings.Serial), "ike-debug");
        var journal = Context.ActorOf(ConfigJournal.Supervised(_settings.Serial), "config-journal");
        _config = Context.ActorOf(UnitConfigActor.Props(_settings.FileConfig, journal, unitKey: _settings.UnitKey), "config");
    }

    private void Running()
    {
        Receive<UnitConfigChanged>(changed =>
        {
            _running = changed.Config;
            _fgcp.Forward(changed);
            _fgsp.Tell(changed);
            _forwarding.Tell(changed);
            foreach (var p in _phase1.Values) p.Tell(changed);
            foreach (var f in _ikeFront.Values) f.Tell(changed);
        });
        Receive<SetLinkState>(link => _fgcp.Forward(link));
        ReceiveAsync<HandOverForRestart>(async _ =>
        {
            var replyTo = Sender;
            var records = new List<TunnelRecord>();
            foreach (var phase1 in _phase1.Values)
                records.AddRange((await phase1.Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(5))).Records);
            await _fgcp.Ask<Akka.Done>(ParkFgcp.Instance, TimeSpan.FromSeconds(5));
            replyTo.Tell(new UnitHandedOver(records));
        });
        Receive<HaRoleChanged>(role =>
        {
            _fgsp.Tell(role);
            _forwarding.Tell(role);
            foreach (var p in _phase1.Values) p.Tell(role);
            foreach (var f in _ikeFront.Values) f.Tell(role);
        });
        Receive<FgcpClusterMembers>(members =>
        {
            foreach (var p in _phase1.Values) p.Tell(members);
        });
        Receive<SendGratuitousArps>(garps => _forwarding.Tell(garps));
        Receive<RunCli>(cli =>
        {
            var units = new CliTargets(_settings.Serial, _config, _fgcp, _history, _fgsp, _phase1.Values.ToList(), _forwarding)
            {
                UnitKey = _settings.UnitKey, IkeDebug = _ikeDebug,
            };
            FortiOsCli.Run(cli.Command, units).PipeTo(Sender);
        });
        Receive<GetUnitConfig>(q => _config.Forward(q));
        Receive<GetHaStatus>(q => _fgcp.Forward(q));
        Receive<GetFgspStatus>(q => _fgsp.Forward(q));
        Receive<FgspSyncCounted>(c => _fgsp.Tell(c));
        Receive<SendIke>(send =>
        {
            if (_settings.Packets is not null) _forwarding.Tell(send);
            else _settings.IkeSend?.Invoke(send.To, send.Datagram);
        });
        Receive<TunnelPathChanged>(t => _forwarding.Tell(t));
        // After a new tunnel's path, and from this actor too: the forwarding plane gets the two in that order.
        Receive<RelayIkeReplies>(r => r.ReplyTo.Tell(r.Replies));
        Receive<TunnelPathRemoved>(t => _forwarding.Tell(t));
        Receive<GetForwardingStatus>(q => _forwarding.Forward(q));
        Receive<StartSniffer>(q => _forwarding.Forward(q));
        Receive<DeliverIke>(d =>
        {
            // IKE_SA_INIT names no phase1: FortiOS picks the dialup phase1 listening on the local gateway it arrived at.
            var target = _running.Phase1.FirstOrDefault(p => p.Type == Phase1Type.Dynamic && p.LocalGw == d.LocalAddress.ToString())?.Name
                         ?? _phase1.Keys.FirstOrDefault();
            if (target is null) Sender.Tell(new IkeReplies([], "no dialup phase1 on this unit") { Tag = d.Datagram.Tag });
            else _ikeFront[target].Forward(d.Datagram);
        });
    }
}
