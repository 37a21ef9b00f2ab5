using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Akka;
using Akka.Actor;
using Akka.Event;
using ClusterActors.Actors.UnitConfig;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.History;

namespace ClusterActors.Actors.Fgcp;

/// <summary>
/// FGCP for one unit: sends heartbeats on its hbdev links, keeps the table of peers it hears, runs the election
/// (pure rules in <see cref="FgcpElection"/>) on the events FortiOS renegotiates on, and, as primary, syncs the
/// synced part of the configuration to its secondaries over Akka remoting.
/// Akka cluster membership plays no part in who is primary: a crashed favoured node must not take the pair down.
/// </summary>
public sealed class FgcpActor : ReceiveActor, IWithTimers
{
    public sealed record Peer(FgcpHeartbeat Last, long HeardAtMs, int HeardCount);

    private sealed record SendHeartbeat
    {
        public static readonly SendHeartbeat Instance = new();
    }

    private sealed record CheckPeers
    {
        public static readonly CheckPeers Instance = new();
    }

    private sealed record HelloHolddownExpired
    {
        public static readonly HelloHolddownExpired Instance = new();
    }

    private sealed record HeartbeatHeard(FgcpHeartbeat Heartbeat, string Interface);

    private sealed record MalformedHeartbeat(string Why, string Interface);

    /// <summary>How often lost peers are looked for: fine-grained so detection is close to hb-interval x hb-lost-threshold.</summary>
    private static readonly TimeSpan PeerCheckInterval = TimeSpan.FromMilliseconds(25);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _serial;
    private readonly IReadOnlyDictionary<string, IHbdevLink> _links;
    private readonly IActorRef _history;
    private readonly IActorRef _configActor;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly long _incarnation = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    private readonly Dictionary<string, Peer> _peers = new();
    private readonly HashSet<string> _rejectedPeers = new();
    private readonly Dictionary<string, int> _previousOperatingIndex = new();

    private ConfigDocument _config;
    private string _syncedChecksum;
    private HaState _state = HaState.Hello;
    private HaRole _role = HaRole.Secondary;
    private string _primarySerial;
    private IReadOnlyList<string> _operatingOrder;
    private long _uptimeStartMs;
    private long _sequence;
    private int _haIdChanges;
    private string? _lastElection;
    private DateTimeOffset? _stateChangedAt;
    private readonly Dictionary<string, bool> _linkState = new();
    private string _selfPath = "";

    public ITimerScheduler Timers { get; set; } = null!;

    public FgcpActor(string serial, ConfigDocument config, IReadOnlyDictionary<string, IHbdevLink> links, IActorRef history, IActorRef configActor)
    {
        _serial = serial;
        _links = links;
        _history = history;
        _configActor = configActor;
        _config = config;
        _syncedChecksum = FgcpConfigSync.Checksum(config);
        _primarySerial = serial;
        _operatingOrder = [serial];

        Receive<SendHeartbeat>(_ => Beat());
        Receive<CheckPeers>(_ => CheckForLostPeers());
        Receive<HelloHolddownExpired>(_ => OnHelloHolddownExpired());
        Receive<HeartbeatHeard>(OnHeartbeat);
        Receive<MalformedHeartbeat>(m => _log.Warning("hbdev {0}: dropped malformed heartbeat: {1}", m.Interface, m.Why));
        Receive<UnitConfigChanged>(OnConfigChanged);
        Receive<SetLinkState>(OnLinkState);
        Receive<ResetHaUptime>(_ =>
        {
            _uptimeStartMs = _clock.ElapsedMilliseconds;
            Record("HA uptime reset by administrator");
            Sender.Tell(Done.Instance);
        });
        Receive<GetHaStatus>(_ => Sender.Tell(Snapshot()));
        Receive<FgcpConfigSynced>(OnConfigSynced);
        Receive<FgcpConfigChangeForwarded>(OnChangeForwarded);
    }

    public static Props Props(string serial, ConfigDocument config, IReadOnlyDictionary<string, IHbdevLink> links, IActorRef history, IActorRef configActor) =>
        Akka.Actor.Props.Create(() => new FgcpActor(serial, config, links, history, configActor));

    private HaConfig Ha => _config.Ha;
    private TimeSpan HbInterval => Ha.HeartbeatInterval;
    private long LostAfterMs => (long)Ha.LostAfter.TotalMilliseconds;
    private TimeSpan Uptime => TimeSpan.FromMilliseconds(_clock.ElapsedMilliseconds - _uptimeStartMs);

    protected override void PreStart()
    {
        var self = Self;
        // Peers reach this actor over Akka remoting at the address it advertises (config sync, forwarded changes).
        _selfPath = Self.Path.ToStringWithAddress(((ExtendedActorSystem)Context.System).Provider.DefaultAddress);
        foreach (var (name, link) in _links)
        {
            link.SetUp(IsUp(name));
            link.Start(hb => self.Tell(new HeartbeatHeard(hb, name)), why => self.Tell(new MalformedHeartbeat(why, name)));
        }
        if (Ha.Mode == HaMode.Standalone)
        {
            // Not clustered: the unit simply works; no heartbeat is sent.
            EnterWork(HaRole.Primary, _serial, [_serial], null);
            return;
        }
        Record("hatalk started");
        Timers.StartPeriodicTimer("hb", SendHeartbeat.Instance, TimeSpan.Zero, HbInterval);
        Timers.StartPeriodicTimer("check", CheckPeers.Instance, PeerCheckInterval);
        Timers.StartSingleTimer("hello", HelloHolddownExpired.Instance, TimeSpan.FromSeconds(Ha.HelloHolddown));
    }

    protected override void PostStop()
    {
        foreach (var link in _links.Values) link.Dispose();
    }

    private void Beat()
    {
        if (Ha.Mode == HaMode.Standalone) return;
        var hb = new FgcpHeartbeat(
            _serial, _config.Global.Hostname, Ha.GroupId, Ha.GroupName, PasswordProof(Ha), Ha.Priority, Ha.Override,
            (long)Uptime.TotalMilliseconds, MonitorUp(), _state, _role, _state == HaState.Work ? _primarySerial : null,
            ++_sequence, _incarnation, _selfPath,
            _syncedChecksum);
        foreach (var link in _links.Values) link.Send(hb);
    }

    /// <summary>The password never travels: peers compare an HMAC of the group identity keyed by it.</summary>
    public static byte[] PasswordProof(HaConfig ha)
    {
        var key = Encoding.UTF8.GetBytes(ha.Password?.Clear ?? "");
        return HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"FGCP|{ha.GroupId}|{ha.GroupName}"));
    }

    private int MonitorUp() => Ha.Monitor.Count(IsUp);

    /// <summary>An interface carries traffic when its cable is in (SetLinkState) and it is not `set status down`.</summary>
    private bool IsUp(string name) =>
        _linkState.GetValueOrDefault(name, true) && (_config.Interfaces.FirstOrDefault(i => i.Name == name)?.StatusUp ?? true);

    /// <summary>
    /// After a cable or admin-status change: hbdev links follow their interface, and a change in the monitored
    /// interfaces that are up renegotiates (a failure also resets HA uptime, as FortiOS does).
    /// </summary>
    private void ApplyLinkChanges(Func<string, bool> wasUp, int monitorUpBefore)
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
        var monitorUp = MonitorUp();
        if (monitorUp == monitorUpBefore) return;
        if (monitorUp < monitorUpBefore) _uptimeStartMs = _clock.ElapsedMilliseconds;
        if (_state == HaState.Work) Negotiate("monitored interfaces changed");
    }

    private string? MismatchWith(FgcpHeartbeat hb)
    {
        if (hb.GroupId != Ha.GroupId) return $"group-id mismatch (peer {hb.GroupId}, local {Ha.GroupId})";
        if (!string.Equals(hb.GroupName, Ha.GroupName, StringComparison.Ordinal))
            return $"group-name mismatch (peer \"{hb.GroupName}\", local \"{Ha.GroupName}\")";
        if (!CryptographicOperations.FixedTimeEquals(hb.PasswordProof, PasswordProof(Ha))) return "password mismatch";
        return null;
    }

    private void OnHeartbeat(HeartbeatHeard heard)
    {
        var hb = heard.Heartbeat;
        if (hb.Serial == _serial || Ha.Mode == HaMode.Standalone) return;
        var mismatch = MismatchWith(hb);
        if (mismatch is not null)
        {
            // FortiOS forms no cluster on a mismatch; each side keeps working alone. Say why once per peer and reason.
            if (_rejectedPeers.Add($"{hb.Serial}|{mismatch}"))
                Record($"heartbeat from '{hb.Serial}' on {heard.Interface} ignored: {mismatch}; no cluster is formed with it");
            return;
        }

        var now = _clock.ElapsedMilliseconds;
        var isNew = !_peers.TryGetValue(hb.Serial, out var known) || known.Last.Incarnation != hb.Incarnation;
        var heardCount = isNew ? 1 : known!.HeardCount + 1;
        _peers[hb.Serial] = new Peer(hb, now, heardCount);

        if (isNew)
        {
            Record($"new member '{hb.Serial}' joins the cluster");
            if (_state == HaState.Work) Negotiate($"member {hb.Serial} joined", (hb.State, hb.Role));
            return;
        }

        if (_state == HaState.Hello)
        {
            // Both sides have heard each other at least twice, so both run the election on the same inputs.
            if (heardCount >= 2) Negotiate("cluster formed");
            return;
        }

        var changed = known!.Last;
        if (hb.State == HaState.Work && hb.Role == HaRole.Primary && _role == HaRole.Primary)
            Negotiate($"two primaries: {hb.Serial} also works as primary", (hb.State, hb.Role));
        else if (changed.MonitorUp != hb.MonitorUp)
            Negotiate($"monitored interfaces of {hb.Serial} changed");
        else if ((hb.Override || Ha.Override) && changed.Priority != hb.Priority)
            Negotiate($"priority of {hb.Serial} changed");

        if (_role == HaRole.Primary && hb.SyncedConfigChecksum != _syncedChecksum && hb.State == HaState.Work)
            SyncConfigTo(hb);
    }

    private void CheckForLostPeers()
    {
        var now = _clock.ElapsedMilliseconds;
        var lost = _peers.Where(p => now - p.Value.HeardAtMs > LostAfterMs).Select(p => p.Key).ToList();
        if (lost.Count == 0) return;
        foreach (var serial in lost)
        {
            _peers.Remove(serial);
            Record($"member '{serial}' is lost: no heartbeat for {LostAfterMs}ms (hb-interval {Ha.HbInterval} x hb-lost-threshold {Ha.HbLostThreshold})");
        }
        if (_state == HaState.Work) Negotiate("member lost");
    }

    private void OnHelloHolddownExpired()
    {
        if (_state == HaState.Work) return;
        Negotiate("hello-holddown expired");
    }

    /// <param name="trigger">State and role heard from the peer whose heartbeat started this negotiation, if one did.</param>
    private void Negotiate(string why, (HaState State, HaRole Role)? trigger = null)
    {
        var (stateBefore, roleBefore) = (_state, _role);
        var members = new List<FgcpCandidate> { new(_serial, MonitorUp(), Uptime, Ha.Priority, Ha.Override) };
        var now = _clock.ElapsedMilliseconds;
        foreach (var (serial, peer) in _peers)
        {
            // The peer's uptime as of now, not as of its last heartbeat, so both sides compare the same figures.
            var uptime = TimeSpan.FromMilliseconds(peer.Last.HaUptimeMs + (now - peer.HeardAtMs));
            members.Add(new FgcpCandidate(serial, peer.Last.MonitorUp, uptime, peer.Last.Priority, peer.Last.Override));
        }
        var outcome = FgcpElection.Elect(members, TimeSpan.FromSeconds(Ha.HaUptimeDiffMargin));
        var role = outcome.PrimarySerial == _serial ? HaRole.Primary : HaRole.Secondary;
        _log.Info("FGCP negotiation ({0}): {1}", why, outcome.HistoryText);
        // Every negotiation is recorded, as FortiOS does, also when it confirms the current primary.
        EnterWork(role, outcome.PrimarySerial, outcome.OperatingOrder, outcome.HistoryText);
        if (FgcpAnnouncement.ShouldReannounce(stateBefore, roleBefore, role, trigger))
        {
            // Still primary, but the peer may have taught the neighbours its own MAC for the cluster's addresses.
            _log.Info("FGCP: {0} stays primary after \"{1}\": gratuitous ARPs again", _serial, why);
            Context.Parent.Tell(new SendGratuitousArps(_serial, why));
        }
    }

    private void EnterWork(HaRole role, string primary, IReadOnlyList<string> order, string? historyText)
    {
        var roleChanged = _state != HaState.Work || role != _role;
        foreach (var (serial, index) in _operatingOrder.Select((s, i) => (s, i))) _previousOperatingIndex[serial] = index;
        _operatingOrder = order;
        _primarySerial = primary;
        if (historyText is not null)
        {
            _lastElection = historyText;
            Record(historyText);
        }
        if (roleChanged)
        {
            _haIdChanges++;
            _stateChangedAt = DateTimeOffset.UtcNow;
            Record($"unit {_serial} changes state: {(_state == HaState.Hello ? "hello" : _role.ToString().ToLowerInvariant())} -> {role.ToString().ToLowerInvariant()}");
            _log.Info("FGCP: {0} is now {1} (primary {2})", _serial, role, primary);
        }
        _state = HaState.Work;
        _role = role;
        // Told to the unit, which hands it to FGSP and IPsec: sent, not published, so none of them can miss the first role.
        Context.Parent.Tell(new HaRoleChanged(_serial, role, primary));
    }

    private void OnConfigChanged(UnitConfigChanged changed)
    {
        var before = Ha;
        var upBefore = _links.Keys.Concat(before.Monitor).Distinct().ToDictionary(n => n, IsUp);
        var monitorUpBefore = MonitorUp();
        _config = changed.Config;
        ApplyLinkChanges(n => upBefore.GetValueOrDefault(n, true), monitorUpBefore);
        _syncedChecksum = FgcpConfigSync.Checksum(_config);
        if (before.HbInterval != Ha.HbInterval && Ha.Mode != HaMode.Standalone)
            Timers.StartPeriodicTimer("hb", SendHeartbeat.Instance, TimeSpan.Zero, HbInterval);

        if (changed.SyncedPartChanged && changed.Script is not null && _role == HaRole.Secondary && _state == HaState.Work
            && changed.Source != FgcpConfigSync.SyncSource && _peers.TryGetValue(_primarySerial, out var primary))
        {
            // Typed on the secondary: the primary applies it too and syncs it to everyone, so the change is not overwritten.
            Context.ActorSelection(primary.Last.ActorPath).Tell(new FgcpConfigChangeForwarded(_serial, changed.Script));
        }

        if (_role == HaRole.Primary && _state == HaState.Work)
            foreach (var peer in _peers.Values.Where(p => p.Last.SyncedConfigChecksum != _syncedChecksum))
                SyncConfigTo(peer.Last);

        var overrideMode = Ha.Override || _peers.Values.Any(p => p.Last.Override);
        if (_state == HaState.Work && overrideMode && before.Priority != Ha.Priority) Negotiate("priority changed");
    }

    private void SyncConfigTo(FgcpHeartbeat secondary)
    {
        Context.ActorSelection(secondary.ActorPath).Tell(new FgcpConfigSynced(_serial, _syncedChecksum, _config.ToText()));
    }

    private void OnConfigSynced(FgcpConfigSynced sync)
    {
        if (_role != HaRole.Secondary || sync.FromSerial != _primarySerial)
        {
            _log.Warning("ignored config sync from {0}: it is not this unit's primary ({1})", sync.FromSerial, _primarySerial);
            return;
        }
        if (sync.Checksum == _syncedChecksum) return;
        _configActor.Tell(new ApplySyncedConfig(sync.FromSerial, sync.SyncedConfig));
    }

    private void OnChangeForwarded(FgcpConfigChangeForwarded forwarded)
    {
        if (_role != HaRole.Primary) return;
        _configActor.Tell(new ApplyConfigScript(forwarded.Script, $"ha-forward:{forwarded.FromSerial}"));
    }

    private void OnLinkState(SetLinkState link)
    {
        var upBefore = _links.Keys.Concat(Ha.Monitor).Append(link.Interface).Distinct().ToDictionary(n => n, IsUp);
        var monitorUpBefore = MonitorUp();
        _linkState[link.Interface] = link.Up;
        ApplyLinkChanges(n => upBefore.GetValueOrDefault(n, true), monitorUpBefore);
        Sender.Tell(Done.Instance);
    }

    private void Record(string text) => _history.Tell(new RecordHaEvent(text));

    private HaStatusSnapshot Snapshot()
    {
        var serials = _peers.Keys.Append(_serial).ToList();
        var order = _operatingOrder.Where(serials.Contains).Concat(serials.Except(_operatingOrder)).ToList();
        var now = _clock.ElapsedMilliseconds;
        var members = new List<HaMember>
        {
            new(_serial, _config.Global.Hostname, _role, Ha.Priority, FgcpElection.SerialIndex(_serial, serials),
                order.IndexOf(_serial), _previousOperatingIndex.GetValueOrDefault(_serial, order.IndexOf(_serial)),
                Uptime, DateTimeOffset.UtcNow, true, true)
        };
        foreach (var (serial, peer) in _peers)
        {
            var role = serial == _primarySerial ? HaRole.Primary : HaRole.Secondary;
            members.Add(new HaMember(serial, peer.Last.Hostname, role, peer.Last.Priority, FgcpElection.SerialIndex(serial, serials),
                order.IndexOf(serial), _previousOperatingIndex.GetValueOrDefault(serial, order.IndexOf(serial)),
                TimeSpan.FromMilliseconds(peer.Last.HaUptimeMs + (now - peer.HeardAtMs)),
                DateTimeOffset.UtcNow - TimeSpan.FromMilliseconds(now - peer.HeardAtMs),
                peer.Last.SyncedConfigChecksum == _syncedChecksum, false));
        }
        members.Sort((a, b) => a.OperatingIndex.CompareTo(b.OperatingIndex));
        return new HaStatusSnapshot(_serial, _config.Global.Hostname, Ha, _state, _role, _primarySerial, members, Uptime,
            _stateChangedAt, _lastElection, _haIdChanges,
            _links.Select(l => (l.Key, l.Value.IsUp, l.Value.Counters)).ToList());
    }
}

/// <summary>Sent to the unit whenever FGCP settles a role; FGSP and the IPsec side follow it.</summary>
public sealed record HaRoleChanged(string Serial, HaRole Role, string PrimarySerial);

/// <summary>
/// Sent to the unit (after its <see cref="HaRoleChanged"/>) when FGCP kept <paramref name="Serial"/> primary through a
/// negotiation after which neighbours may hold another unit's MAC for the cluster's addresses
/// (<see cref="FgcpAnnouncement"/>): its answering ports send their gratuitous ARPs again.
/// </summary>
public sealed record SendGratuitousArps(string Serial, string Why);
