using Akka;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using ClusterActors.Actors.UnitConfig;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Actors.Unit;
using ClusterActors.Protocol.History;
using ClusterActors.Actors.Telemetry;

namespace ClusterActors.Actors.Fgcp;

/// <summary>
/// FGCP for one unit: sends heartbeats on its hbdev links and carries out what <see cref="FgcpPeerTable"/> decides
/// (the peer table, when to renegotiate, the role; the election itself in <see cref="FgcpElection"/>): history lines,
/// the role told to the unit, gratuitous ARPs again, and, as primary, the synced part of the configuration sent to
/// its secondaries over Akka remoting, to the Akka member whose unit serial is the secondary's (never to an address a
/// heartbeat names: <see cref="FgcpConfigSync.Destination"/>). It decides nothing itself.
/// Akka cluster membership plays no part in who is primary: a crashed favoured node must not take the pair down.
/// The hbdev links are not its own: the host creates them and disposes them, so a restart of this actor re-attaches
/// to the same sockets and the unit keeps sending heartbeats (see <see cref="Supervised"/>).
/// </summary>
public sealed class FgcpActor : ReceiveActor, IWithTimers
{
    private sealed record SendHeartbeat
    {
        public static readonly SendHeartbeat Instance = new();
    }

    private sealed record CheckPeers
    {
        public static readonly CheckPeers Instance = new();
    }

    private sealed record DatagramHeard(byte[] Datagram, string Interface);

    /// <summary>The shortest delay the peer check's timer is started with (a check overdue at once still goes through the mailbox).</summary>
    private static readonly TimeSpan MinCheckDelay = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// The longest the peer check's timer sleeps: the table's due times come from its clock, the timer runs on Akka's
    /// scheduler, and the two can part (a clock injected for a test and advanced by hand, a stepped clock); a check at
    /// least once a second looks at the table's clock again. An idle unit at the VM defaults (4 s window) wakes for it
    /// once a second at most, beside its 5 heartbeats a second.
    /// </summary>
    private static readonly TimeSpan MaxCheckDelay = TimeSpan.FromSeconds(1);

    /// <summary>Backoff of the supervisor that starts FGCP again after a failure (<see cref="Supervised"/>).</summary>
    public static readonly TimeSpan RestartMinBackoff = TimeSpan.FromMilliseconds(100);

    public static readonly TimeSpan RestartMaxBackoff = TimeSpan.FromSeconds(5);

    private readonly UnitIdentities _identities = UnitIdentities.Of(Context.System);
    /// <summary>The host's counters (heartbeat drops by cause); HA events go on the event stream (<see cref="IUnitTelemetryEvent"/>).</summary>
    private readonly UnitCounters _counters = UnitCounters.Of(Context.System);
    /// <summary>The table's drops by cause as last handed to <see cref="_counters"/>.</summary>
    private readonly Dictionary<HeartbeatDropCause, long> _dropsCounted = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _serial;
    private readonly IReadOnlyDictionary<string, IHbdevLink> _links;
    private readonly IActorRef _history;
    private readonly IActorRef _configActor;
    private readonly IActorRef? _unit;
    private readonly FgcpPeerTable _table;
    private readonly FgcpHandover? _handover;
    private readonly bool _resumed;
    private readonly Dictionary<string, bool> _linkState = new();
    /// <summary>Serials for which no Akka member was found, logged once until one is found again.</summary>
    private readonly HashSet<string> _unresolved = new(StringComparer.Ordinal);

    private ConfigDocument _config;
    private HaConfigChecksums _checksums;
    private long _sequence;
    /// <summary>The heartbeat timer's punctuality (<see cref="HeartbeatTimerStats"/>): when it last ran, how late at most, per bucket.</summary>
    private long _lastBeatAt, _beats;
    private TimeSpan _maxBeatLate;
    private readonly long[] _beatLate = new long[HeartbeatTimerStats.BucketEdgesMs.Count + 1];

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="unit">Where roles and re-announcements go; the parent when null (a supervisor in between passes the unit).</param>
    /// <param name="clock">Time for the peer table; the system clock when null.</param>
    /// <param name="uptime">HA uptime's start, host-owned so that a restarted FGCP actor keeps it (<see cref="HaUptime"/>).</param>
    public FgcpActor(string serial, ConfigDocument config, IReadOnlyDictionary<string, IHbdevLink> links, IActorRef history,
        IActorRef configActor, IActorRef? unit = null, TimeProvider? clock = null, HaUptime? uptime = null, FgcpHandover? handover = null)
    {
        _serial = serial;
        _links = links;
        _history = history;
        _configActor = configActor;
        _unit = unit;
        _config = config;
        _checksums = HaChecksums.Of(config);
        var time = clock ?? TimeProvider.System;
        _table = new FgcpPeerTable(serial, config.Ha, MonitorUp(), time, checkInterval: null, uptime) { SyncedChecksum = FgcpConfigSync.Checksum(config) };
        _handover = handover;
        if (handover?.Take() is { } parked)
        {
            // The unit's ActorSystem was restarted to rejoin Akka: FGCP carries on where it was (FgcpHandover), with the
            // same incarnation (in the table) and sequence, so its peers' replay guards see one unbroken stream.
            (_table, _sequence, _resumed) = (parked.Table, parked.Sequence, true);
            _table.SyncedChecksum = FgcpConfigSync.Checksum(config);
        }

        Receive<SendHeartbeat>(_ => Beat());
        Receive<CheckPeers>(_ => Apply(_table.Tick()));
        Receive<DatagramHeard>(OnDatagram);
        Receive<UnitConfigChanged>(OnConfigChanged);
        Receive<SetLinkState>(OnLinkState);
        Receive<ResetHaUptime>(_ =>
        {
            Apply(_table.ResetUptime());
            Sender.Tell(Done.Instance);
        });
        Receive<GetHaStatus>(_ => Sender.Tell(Snapshot()));
        Receive<SetExeFailOver>(m =>
        {
            Apply(_table.SetExeFailOver(m.Set));
            // The peers hear the flag in the next heartbeat: send it now rather than up to hb-interval later.
            Beat();
            Sender.Tell(new ExeFailOverStatus(_table.ExeFailOver));
        });
        Receive<GetExeFailOver>(_ => Sender.Tell(new ExeFailOverStatus(_table.ExeFailOver)));
        Receive<FgcpConfigSynced>(OnConfigSynced);
        Receive<FgcpConfigChangeForwarded>(OnChangeForwarded);
        Receive<ParkFgcp>(_ =>
        {
            Timers.CancelAll();
            var last = Heartbeat();
            _handover?.Park(_table, last.Sequence, last, Ha.Mode == HaMode.Standalone ? [] : _links.Values, Ha.HeartbeatInterval);
            Sender.Tell(Done.Instance);
            Become(() => ReceiveAny(_ => { })); // the table is the next ActorSystem's now
        });
    }

    public static Props Props(string serial, ConfigDocument config, IReadOnlyDictionary<string, IHbdevLink> links, IActorRef history,
        IActorRef configActor, IActorRef? unit = null, TimeProvider? clock = null, HaUptime? uptime = null, FgcpHandover? handover = null) =>
        Akka.Actor.Props.Create(() => new FgcpActor(serial, config, links, history, configActor, unit, clock, uptime, handover));

    /// <summary>
    /// <paramref name="fgcp"/> under <see cref="FgcpSupervisor"/>: if FGCP fails it is started again after
    /// <see cref="RestartMinBackoff"/> (doubling up to <see cref="RestartMaxBackoff"/>), on the same hbdev sockets.
    /// Messages for FGCP go through the supervisor; the FGCP actor must be given the unit explicitly, since its parent
    /// is then the supervisor.
    /// </summary>
    public static Props Supervised(Props fgcp, string childName = "fgcp") =>
        Akka.Actor.Props.Create(() => new FgcpSupervisor(fgcp, childName, RestartMinBackoff, RestartMaxBackoff));

    private HaConfig Ha => _config.Ha;
    private IActorRef Unit => _unit ?? Context.Parent;

    protected override void PreStart()
    {
        var self = Self;
        foreach (var (name, link) in _links)
        {
            link.SetUp(IsUp(name));
            // Opened here, not on the socket's thread: the keys follow the configuration, which this actor owns.
            link.Start(datagram => self.Tell(new DatagramHeard(datagram, name)));
        }
        if (!_resumed) Apply(_table.Start());
        else if (_table.State == HaState.Work)
        {
            _log.Info("FGCP resumed after the unit's Akka restart: {0} stays {1} (primary {2})", _serial, _table.Role, _table.PrimarySerial);
            Unit.Tell(new HaRoleChanged(_serial, _table.Role, _table.PrimarySerial));
            Publish(new HaRoleObserved(_serial, _table.State, _table.Role, _table.PrimarySerial));
            TellMembers();
        }
        if (Ha.Mode == HaMode.Standalone) return;
        Timers.StartPeriodicTimer("hb", SendHeartbeat.Instance, TimeSpan.Zero, Ha.HeartbeatInterval);
        // A resumed table may have had a check scheduled by the parked actor, whose timer is gone: start it again.
        ScheduleCheck(timerLost: true);
    }

    /// <summary>
    /// Starts the peer check's one-shot timer when the table says (<see cref="FgcpPeerTable.CheckTimer"/>): at the first
    /// peer's hb-lost deadline, not on a fixed tick, so detection follows hb-interval × hb-lost-threshold at 10 ms
    /// heartbeats and an idle unit is not woken 40 times a second. Restarting the keyed timer replaces the one running.
    /// </summary>
    private void ScheduleCheck(bool timerLost = false)
    {
        if (_table.CheckTimer(timerLost) is not { } delay) return;
        Timers.StartSingleTimer("check", CheckPeers.Instance, delay < MinCheckDelay ? MinCheckDelay : delay > MaxCheckDelay ? MaxCheckDelay : delay);
    }

    // The links outlive this actor (they are the host's): nothing to dispose in PostStop.

    private void Beat()
    {
        if (Ha.Mode == HaMode.Standalone) return;
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        if (_beats++ > 0)
        {
            // Measured on the machine's clock, not the table's: this is the timer's own punctuality.
            var late = System.Diagnostics.Stopwatch.GetElapsedTime(_lastBeatAt, now) - Ha.HeartbeatInterval;
            if (late > _maxBeatLate) _maxBeatLate = late;
            _beatLate[HeartbeatTimerStats.Bucket(late)]++;
        }
        _lastBeatAt = now;
        // First the stall rule: after a freeze, whichever of this timer and the peer check runs first gives the peers a fresh window.
        if (_table.HeartbeatDue() is { History.Count: > 0 } stalled) Apply(stalled);
        var datagram = _table.Seal(Heartbeat());
        foreach (var link in _links.Values) link.Send(datagram);
    }

    private void OnDatagram(DatagramHeard heard)
    {
        var dropsBefore = _table.Drops.Values.Sum();
        Apply(_table.Received(heard.Datagram, heard.Interface));
        if (_table.Drops.Values.Sum() == dropsBefore) return;
        if (_links.TryGetValue(heard.Interface, out var link)) link.CountDropped();
        foreach (var (cause, count) in _table.Drops)
        {
            var counted = _dropsCounted.GetValueOrDefault(cause);
            if (count <= counted) continue;
            _counters.HeartbeatDropped(cause, count - counted);
            _dropsCounted[cause] = count;
        }
    }

    private void Publish(IUnitTelemetryEvent e) => Context.System.EventStream.Publish(e);

    private FgcpHeartbeat Heartbeat() => new(
        _serial, _config.Global.Hostname, Ha.GroupId, Ha.GroupName, _table.PasswordProof, Ha.Priority, Ha.Override,
        (long)_table.Uptime.TotalMilliseconds, _table.MonitorUp, _table.State, _table.Role,
        _table.State == HaState.Work ? _table.PrimarySerial : null, ++_sequence, _table.Incarnation, _table.Hears, _table.SyncedChecksum)
    {
        ExeFailOver = _table.ExeFailOver,
        ConfigChecksums = _checksums,
    };

    /// <summary>The password never travels: peers compare an HMAC of the group identity keyed by it.</summary>
    public static byte[] PasswordProof(HaConfig ha) => FgcpPeerTable.ComputePasswordProof(ha);

    /// <summary>The Akka cluster role that names a unit's serial (`akka.cluster.roles`, set by the host).</summary>
    public static string SerialRole(string serial) => FgcpConfigSync.SerialRole(serial);

    /// <summary>Carries out a decision: history lines first, then the effects in order.</summary>
    private void Apply(FgcpOutput output)
    {
        foreach (var line in output.History) Record(line);
        foreach (var effect in output.Effects)
        {
            switch (effect)
            {
                case FgcpNegotiated n:
                    _log.Info("FGCP negotiation ({0}): {1}", n.Why, n.Outcome);
                    Publish(new HaElectionObserved(_serial, n.Why, _table.PrimarySerial));
                    break;
                case FgcpMemberLost lost:
                    Publish(new HaMemberLostObserved(_serial, lost.Serial));
                    break;
                case FgcpStateChanged c:
                    _log.Info("FGCP: {0} is now {1} (primary {2})", _serial, c.Role, c.PrimarySerial);
                    break;
                case FgcpRoleSettled r:
                    // Told to the unit, which hands it to FGSP and IPsec: sent, not published, so none of them can miss the first role.
                    Unit.Tell(new HaRoleChanged(_serial, r.Role, r.PrimarySerial));
                    Publish(new HaRoleObserved(_serial, _table.State, r.Role, r.PrimarySerial));
                    break;
                case FgcpReannounce a:
                    // Still primary, but the peer may have taught the neighbours its own MAC for the cluster's addresses.
                    _log.Info("FGCP: {0} stays primary after \"{1}\": gratuitous ARPs again", _serial, a.Why);
                    Unit.Tell(new SendGratuitousArps(_serial, a.Why));
                    break;
                case FgcpSyncConfigTo sync:
                    SyncConfigTo(sync.Secondary);
                    break;
            }
        }
        TellMembers();
        ScheduleCheck();
    }

    private IReadOnlyList<string> _toldMembers = [];

    /// <summary>
    /// The units of this FGCP cluster (heard on the hbdev link), told to the unit whenever the set changes: FGSP sync
    /// protection does not apply inside the own cluster (<see cref="Fgsp.FgspSyncPolicy"/>), so the IPsec side must know it.
    /// </summary>
    private void TellMembers()
    {
        var members = _table.Peers.Keys.Order(StringComparer.Ordinal).ToList();
        if (members.SequenceEqual(_toldMembers)) return;
        _toldMembers = members;
        Unit.Tell(new FgcpClusterMembers(members));
        Publish(new HaMembersObserved(_serial, members.Count));
    }

    private int MonitorUp() => Ha.Monitor.Count(IsUp);

    /// <summary>An interface carries traffic when its cable is in (SetLinkState) and it is not `set status down`.</summary>
    private bool IsUp(string name) =>
        _linkState.GetValueOrDefault(name, true) && (_config.Interfaces.FirstOrDefault(i => i.Name == name)?.StatusUp ?? true);

    /// <summary>After a cable or admin-status change: hbdev links follow their interface; the history says what changed.</summary>
    private void ApplyLinkChanges(Func<string, bool> wasUp)
    {
        foreach (var (name, link) in _links)
        {
            var now = IsUp(name);
            if (wasUp(name) == now) continue;
            link.SetUp(now);
            Record($"hbdev {name} link status changed: {(now ? "0->1" : "1->0")}");
        }
        foreach (var name in Ha.Monitor.Where(m => wasUp(m) != IsUp(m)))
            Record($"monitored interface {name} link status changed: {(IsUp(name) ? "0->1" : "1->0")}");
    }

    private void OnConfigChanged(UnitConfigChanged changed)
    {
        var before = Ha;
        var upBefore = _links.Keys.Concat(before.Monitor).Distinct().ToDictionary(n => n, IsUp);
        _config = changed.Config;
        _checksums = HaChecksums.Of(_config);
        ApplyLinkChanges(n => upBefore.GetValueOrDefault(n, true));
        _table.SyncedChecksum = FgcpConfigSync.Checksum(_config);
        if (before.HbInterval != Ha.HbInterval && Ha.Mode != HaMode.Standalone)
            Timers.StartPeriodicTimer("hb", SendHeartbeat.Instance, TimeSpan.Zero, Ha.HeartbeatInterval);

        if (changed.SyncedPartChanged && changed.Script is not null && _table.Role == HaRole.Secondary && _table.State == HaState.Work
            && changed.Source != FgcpConfigSync.SyncSource && _table.Peers.ContainsKey(_table.PrimarySerial)
            && FgcpOf(_table.PrimarySerial) is { } primary)
        {
            // Typed on the secondary: the primary applies it too and syncs it to everyone, so the change is not overwritten.
            primary.Tell(new FgcpConfigChangeForwarded(_serial, changed.Script));
        }

        if (_table.Role == HaRole.Primary && _table.State == HaState.Work)
            foreach (var peer in _table.Peers.Values.Where(p => p.Last.SyncedConfigChecksum != _table.SyncedChecksum))
                SyncConfigTo(peer.Last);

        Apply(_table.LocalChanged(Ha, MonitorUp()));
    }

    private void SyncConfigTo(FgcpHeartbeat secondary)
    {
        FgcpOf(secondary.Serial)?.Tell(new FgcpConfigSynced(_serial, _table.SyncedChecksum, _config.ToText()));
    }

    /// <summary>
    /// The FGCP actor of the unit <paramref name="serial"/>: at the same path as this one, on the Akka cluster member whose
    /// role names that serial (<see cref="FgcpConfigSync.Destination"/>). Nothing a heartbeat says chooses it. Null while no
    /// single such member is up (the sync is retried with the next heartbeat that shows a different checksum).
    /// </summary>
    private ActorSelection? FgcpOf(string serial)
    {
        if (((ExtendedActorSystem)Context.System).Provider is not IClusterActorRefProvider)
        {
            if (_unresolved.Add(serial)) _log.Warning("no config sync with {0}: this unit is not in an Akka cluster", serial);
            return null;
        }
        var state = Cluster.Get(Context.System).State;
        var destination = FgcpConfigSync.Destination(serial,
            state.Members.Select(m => new FgcpSyncCandidate(m.Address, m.Roles, m.Status, !state.Unreachable.Contains(m))));
        if (destination.Address is null)
        {
            if (_unresolved.Add(serial)) _log.Warning("no config sync with {0} yet: {1}", serial, destination.Why);
            return null;
        }
        _unresolved.Remove(serial);
        return Context.ActorSelection(Self.Path.ToStringWithAddress(destination.Address));
    }

    private void OnConfigSynced(FgcpConfigSynced sync)
    {
        // Who sent it is what its TLS certificate proves, not the FromSerial it carries (SyncAuthorization).
        var sender = _identities.Attribute(Sender, sync.FromSerial);
        if (SyncAuthorization.ConfigSync(sender, _table.Role == HaRole.Secondary, _table.PrimarySerial) is { } why)
        {
            if (_identities.Refusals.Refused("config-sync", sender ?? Sender.Path.Address.ToString(), out var suppressed))
                _log.Warning("config sync from {0} ({1}) dropped: {2}{3}", Sender.Path.Address, sender ?? "unauthenticated", why,
                    suppressed > 0 ? $" ({suppressed} more from it since)" : "");
            return;
        }
        if (sync.FromSerial != _table.PrimarySerial)
        {
            _log.Warning("ignored config sync from {0}: it is not this unit's primary ({1})", sync.FromSerial, _table.PrimarySerial);
            return;
        }
        if (sync.Checksum == _table.SyncedChecksum) return;
        _configActor.Tell(new ApplySyncedConfig(sync.FromSerial, sync.SyncedConfig));
    }

    private void OnChangeForwarded(FgcpConfigChangeForwarded forwarded)
    {
        var sender = _identities.Attribute(Sender, forwarded.FromSerial);
        if (SyncAuthorization.ForwardedChange(sender, _table.Role == HaRole.Primary, _table.Peers.Keys.ToList()) is { } why)
        {
            if (_identities.Refusals.Refused("forwarded-change", sender ?? Sender.Path.Address.ToString(), out var suppressed))
                _log.Warning("config change forwarded by {0} ({1}) dropped: {2}{3}", Sender.Path.Address, sender ?? "unauthenticated", why,
                    suppressed > 0 ? $" ({suppressed} more from it since)" : "");
            return;
        }
        _configActor.Tell(new ApplyConfigScript(forwarded.Script, $"ha-forward:{forwarded.FromSerial}"));
    }

    private void OnLinkState(SetLinkState link)
    {
        var upBefore = _links.Keys.Concat(Ha.Monitor).Append(link.Interface).Distinct().ToDictionary(n => n, IsUp);
        _linkState[link.Interface] = link.Up;
        ApplyLinkChanges(n => upBefore.GetValueOrDefault(n, true));
        Apply(_table.LocalChanged(Ha, MonitorUp()));
        Sender.Tell(Done.Instance);
    }

    private void Record(string text) => _history.Tell(new RecordHaEvent(text));

    private HaStatusSnapshot Snapshot()
    {
        var serials = _table.Peers.Keys.Append(_serial).ToList();
        var operating = _table.OperatingOrder;
        var order = operating.Where(serials.Contains).Concat(serials.Except(operating)).ToList();
        var members = new List<HaMember>
        {
            new(_serial, _config.Global.Hostname, _table.Role, Ha.Priority, FgcpElection.SerialIndex(_serial, serials),
                order.IndexOf(_serial), _table.PreviousOperatingIndex(_serial, order.IndexOf(_serial)),
                _table.Uptime, DateTimeOffset.UtcNow, true, true)
        };
        foreach (var (serial, peer) in _table.Peers)
        {
            var role = serial == _table.PrimarySerial ? HaRole.Primary : HaRole.Secondary;
            members.Add(new HaMember(serial, peer.Last.Hostname, role, peer.Last.Priority, FgcpElection.SerialIndex(serial, serials),
                order.IndexOf(serial), _table.PreviousOperatingIndex(serial, order.IndexOf(serial)),
                _table.PeerUptime(peer), _table.PeerLastHeard(peer),
                peer.Last.SyncedConfigChecksum == _table.SyncedChecksum, false));
        }
        members.Sort((a, b) => a.OperatingIndex.CompareTo(b.OperatingIndex));
        return new HaStatusSnapshot(_serial, _config.Global.Hostname, Ha, _table.State, _table.Role, _table.PrimarySerial, members,
            _table.Uptime, _table.StateChangedAt, _table.LastElection, _table.HaIdChanges,
            _links.Select(l => (l.Key, l.Value.IsUp, l.Value.Counters)).ToList())
        {
            HeartbeatDrops = _table.Drops.ToDictionary(),
            HeartbeatTimer = new HeartbeatTimerStats(_beats, _maxBeatLate, _beatLate.ToArray(), _table.Stalls),
            ExeFailOver = _table.ExeFailOver,
            Checksums = _table.Peers.Select(p => (Serial: p.Key, Sums: p.Value.Last.ConfigChecksums))
                .Append((Serial: _serial, Sums: (HaConfigChecksums?)_checksums))
                .ToDictionary(p => p.Serial, p => p.Sums),
        };
    }
}

/// <summary>Sent to the unit whenever FGCP settles a role; FGSP and the IPsec side follow it.</summary>
public sealed record HaRoleChanged(string Serial, HaRole Role, string PrimarySerial);

/// <summary>The other units of this unit's FGCP cluster by serial (its FGCP peer table), sent when the set changes.</summary>
public sealed record FgcpClusterMembers(IReadOnlyList<string> Serials);

/// <summary>
/// Sent to the unit (after its <see cref="HaRoleChanged"/>) when FGCP kept <paramref name="Serial"/> primary through a
/// negotiation after which neighbours may hold another unit's MAC for the cluster's addresses
/// (<see cref="FgcpAnnouncement"/>): its answering ports send their gratuitous ARPs again.
/// </summary>
public sealed record SendGratuitousArps(string Serial, string Why);
