using System.Security.Cryptography;
using System.Text;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;

namespace ClusterActors.Actors.Fgcp;

/// <summary>A peer as last heard: its heartbeat, when (a <see cref="TimeProvider"/> timestamp) and how often since it joined.</summary>
public sealed record FgcpPeer(FgcpHeartbeat Last, long HeardAt, int HeardCount);

/// <summary>What the FGCP actor must do after a decision; it carries them out and decides nothing itself.</summary>
public abstract record FgcpEffect;

/// <summary>A negotiation settled this unit's role (also when unchanged): the unit hands it to FGSP, IPsec and forwarding.</summary>
public sealed record FgcpRoleSettled(HaRole Role, string PrimarySerial) : FgcpEffect;

/// <summary>A negotiation ran (for the log).</summary>
public sealed record FgcpNegotiated(string Why, string Outcome) : FgcpEffect;

/// <summary>This unit's state or role changed (for the log).</summary>
public sealed record FgcpStateChanged(HaRole Role, string PrimarySerial) : FgcpEffect;

/// <summary>A member was declared lost (no heartbeat for hb-interval × hb-lost-threshold): counted by the unit's metrics.</summary>
public sealed record FgcpMemberLost(string Serial) : FgcpEffect;

/// <summary>Stayed primary after a peer may have announced the cluster's addresses: gratuitous ARPs again (<see cref="FgcpAnnouncement"/>).</summary>
public sealed record FgcpReannounce(string Why) : FgcpEffect;

/// <summary>As primary: send the synced configuration to this secondary, whose checksum differs.</summary>
public sealed record FgcpSyncConfigTo(FgcpHeartbeat Secondary) : FgcpEffect;

/// <summary>Lines for the HA history and effects for the actor: the shape of IkeModel's IkeOutput(Replies, Events).</summary>
public sealed record FgcpOutput(IReadOnlyList<string> History, IReadOnlyList<FgcpEffect> Effects)
{
    public static readonly FgcpOutput Nothing = new([], []);
}

/// <summary>
/// FGCP's decisions for one unit: the table of peers it hears on its heartbeat, when the cluster renegotiates
/// (formation, member joined or lost, two primaries, monitored interfaces, priority with override, hello-holddown) and
/// the role each negotiation gives this unit, elected by <see cref="FgcpElection"/>. Pure: synthetic heartbeats and an
/// injected <see cref="TimeProvider"/> in, history lines and <see cref="FgcpEffect"/>s out, no actor system (the shape of
/// Akka's SBR DowningStrategy). Every heartbeat is validated first (<see cref="FgcpHeartbeatValidation"/>): a bad one is
/// counted by cause and never reaches the election or the history. Lines about rejected heartbeats are rate-limited per
/// sender (<see cref="RejectReportInterval"/>, <see cref="MaxRejectReportsPerInterval"/>) so a flood cannot replace the
/// history. Not thread-safe: one actor owns it.
/// </summary>
public sealed class FgcpPeerTable
{
    /// <summary>A rejected sender (mismatch) or a malformed-heartbeat cause on one hbdev gets at most one history line per this interval.</summary>
    public static readonly TimeSpan RejectReportInterval = TimeSpan.FromSeconds(60);

    /// <summary>At most this many such lines per interval in all; beyond it one summary line says how many were left out.</summary>
    public const int MaxRejectReportsPerInterval = 8;

    /// <summary>Senders remembered for the rate limit; beyond it further senders count toward the summary only.</summary>
    public const int MaxTrackedSenders = 1024;

    /// <summary>
    /// Senders whose newest (incarnation, sequence) is remembered against replays. Only heartbeats verified with the
    /// cluster's key create an entry, so only the cluster's own members (at most 4 on FortiOS) ever have one; the bound
    /// is a guard, reached only by a cluster misconfigured with many units sharing a password.
    /// </summary>
    public const int MaxReplayGuards = 64;

    private static long s_lastIncarnation;

    private readonly string _serial;
    private readonly TimeProvider _clock;
    private readonly Dictionary<string, FgcpPeer> _peers = new(StringComparer.Ordinal);
    /// <summary>Gratuitous ARPs this primary owes once the peer (key) that still claims primary steps down or is lost; why.</summary>
    private readonly Dictionary<string, string> _reannounceWhenDown = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _previousOperatingIndex = new(StringComparer.Ordinal);
    private readonly Dictionary<HeartbeatDropCause, long> _drops = new();
    private readonly RejectReports _reports;
    private HaConfig _ha;
    private int _monitorUp;
    private readonly HaUptime _uptime;
    private readonly long _helloSince;
    private readonly TimeSpan? _checkInterval;
    private long _lastTickAt;
    /// <summary>When the check the owner's timer runs next is due (<see cref="CheckTimer"/>), as time since <see cref="_epoch"/>; null: none scheduled.</summary>
    private TimeSpan? _checkDueAt;
    private readonly long _epoch;
    /// <summary>The owner schedules checks (<see cref="CheckTimer"/>) and beats every hb-interval (<see cref="HeartbeatDue"/>).</summary>
    private bool _scheduled;
    private FgcpHeartbeatProtection _protection;
    /// <summary>Per sender: the newest incarnation heard with the cluster's key, its highest sequence, and when. Outlives the
    /// peer's loss, so a dead unit's captured heartbeats cannot bring it back (README, "Heartbeat security").</summary>
    private readonly Dictionary<string, ReplayGuard> _guards = new(StringComparer.Ordinal);

    private sealed record ReplayGuard(long Incarnation, long HighestSequence, long HeardAt);

    /// <param name="checkInterval">
    /// A fixed schedule <see cref="Tick"/> runs on, for an owner that ticks periodically. When given, a tick that runs more
    /// than <see cref="StallTolerance"/> after its scheduled time means this unit itself did not run (frozen, hung,
    /// starved): no peer is judged lost on it (README, "a unit that stalls"). Null: either the owner schedules each check
    /// when <see cref="CheckTimer"/> says and tells the table its heartbeat timer (<see cref="HeartbeatDue"/>; FgcpActor),
    /// and a gap of more than hb-interval + <see cref="StallTolerance"/> between the two is a stall; or ticks are taken at
    /// face value (no owner schedule known).
    /// </param>
    /// <param name="uptime">HA uptime's start, when the host keeps it across FGCP restarts (<see cref="HaUptime"/>); new otherwise.</param>
    /// <param name="incarnation">This unit's boot nonce in its heartbeats; by default a value above every earlier one in this process.</param>
    public FgcpPeerTable(string serial, HaConfig ha, int monitorUp, TimeProvider clock, TimeSpan? checkInterval = null, HaUptime? uptime = null,
        long? incarnation = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(serial);
        _serial = serial;
        _ha = ha;
        _monitorUp = monitorUp;
        _clock = clock;
        _helloSince = _lastTickAt = _epoch = clock.GetTimestamp();
        _uptime = uptime ?? new HaUptime(clock);
        _checkInterval = checkInterval;
        _reports = new RejectReports(clock);
        PrimarySerial = serial;
        OperatingOrder = [serial];
        PasswordProof = ComputePasswordProof(ha);
        _protection = ProtectionOf(ha);
        Incarnation = incarnation ?? NextIncarnation(clock);
    }

    /// <summary>
    /// A new incarnation: the Unix time in ms, and above any incarnation handed out before in this process (an FGCP
    /// restart within the same millisecond still gets a newer one). Peers accept a sender's incarnation only when newer than
    /// the newest they heard from it, so a wall clock stepped back across a restart delays that unit's rejoin (README).
    /// </summary>
    public static long NextIncarnation(TimeProvider clock)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        while (true)
        {
            var last = Interlocked.Read(ref s_lastIncarnation);
            var next = Math.Max(now, last + 1);
            if (Interlocked.CompareExchange(ref s_lastIncarnation, next, last) == last) return next;
        }
    }

    /// <summary>`set authentication` / `set encryption` with keys derived from the password and group.</summary>
    public static FgcpHeartbeatProtection ProtectionOf(HaConfig ha) =>
        new(ha.Authentication, ha.Encryption, FgcpHeartbeatKeys.Derive(ha.Password?.Clear, ha.GroupId, ha.GroupName));

    /// <summary>This unit's boot nonce, carried in its heartbeats.</summary>
    public long Incarnation { get; }

    /// <summary>What this unit's heartbeats carry and what it requires of those it hears.</summary>
    public FgcpHeartbeatProtection Protection => _protection;

    /// <summary>
    /// The peers this unit hears, for its heartbeats: members, and senders verified with the cluster's key within the
    /// hb-lost window that wait to be admitted (they are admitted once they echo this unit's incarnation).
    /// </summary>
    public IReadOnlyList<HeardPeer> Hears
    {
        get
        {
            var heard = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var (serial, peer) in _peers) heard[serial] = peer.Last.Incarnation;
            foreach (var (serial, guard) in _guards.Where(g => _clock.GetElapsedTime(g.Value.HeardAt) <= _ha.LostAfter))
                heard[serial] = guard.Incarnation;
            return heard.Take(FgcpHeartbeatValidation.MaxHeardPeers).Select(h => new HeardPeer(h.Key, h.Value)).ToList();
        }
    }

    /// <summary>This unit's heartbeat as the datagram to send on its hbdevs, protected as configured.</summary>
    public byte[] Seal(FgcpHeartbeat hb) => FgcpHeartbeatEnvelope.Seal(hb, _protection);

    /// <summary>How late a tick may run before it counts as this unit's own stall: half the hb-lost window.</summary>
    public TimeSpan StallTolerance => _ha.LostAfter / 2;

    /// <summary>Peer checks or heartbeat timers that ran so late that this unit judged itself stalled (see <see cref="Tick"/>, <see cref="HeartbeatDue"/>).</summary>
    public long Stalls { get; private set; }

    public string Serial => _serial;
    public HaState State { get; private set; } = HaState.Hello;
    public HaRole Role { get; private set; } = HaRole.Secondary;
    public string PrimarySerial { get; private set; }
    public IReadOnlyList<string> OperatingOrder { get; private set; }
    public int HaIdChanges { get; private set; }
    public string? LastElection { get; private set; }
    public DateTimeOffset? StateChangedAt { get; private set; }
    public IReadOnlyDictionary<string, FgcpPeer> Peers => _peers;
    public IReadOnlyDictionary<HeartbeatDropCause, long> Drops => _drops;

    /// <summary>Checksum of this unit's synced configuration; a primary syncs to a working peer whose heartbeat differs.</summary>
    public string SyncedChecksum { get; set; } = "";

    /// <summary>What this unit's heartbeats carry instead of the password (see README).</summary>
    public byte[] PasswordProof { get; private set; }

    public TimeSpan Uptime => _clock.GetElapsedTime(_uptime.Start);
    public int MonitorUp => _monitorUp;

    /// <summary>
    /// FortiOS's EXE_FAIL_OVER flag on this unit (<c>execute ha failover set 1</c>), carried in its heartbeats: while set,
    /// every member ranks this unit below those without it (<see cref="FgcpElection"/>). Kept only here, never persisted:
    /// a unit that starts again starts without it, as FortiOS clears it on reboot (README, "Forced failover").
    /// </summary>
    public bool ExeFailOver { get; private set; }

    /// <summary>A peer's HA uptime as of now, not as of its last heartbeat, so both sides compare the same figures.</summary>
    public TimeSpan PeerUptime(FgcpPeer peer) => TimeSpan.FromMilliseconds(peer.Last.HaUptimeMs) + _clock.GetElapsedTime(peer.HeardAt);

    public DateTimeOffset PeerLastHeard(FgcpPeer peer) => _clock.GetUtcNow() - _clock.GetElapsedTime(peer.HeardAt);

    public int PreviousOperatingIndex(string serial, int fallback) => _previousOperatingIndex.GetValueOrDefault(serial, fallback);

    /// <summary>The password never travels: peers compare an HMAC of the group identity keyed by it.</summary>
    public static byte[] ComputePasswordProof(HaConfig ha)
    {
        var key = Encoding.UTF8.GetBytes(ha.Password?.Clear ?? "");
        return HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"FGCP|{ha.GroupId}|{ha.GroupName}"));
    }

    /// <summary>The unit starts: standalone works alone at once; clustered starts hatalk and looks for peers (hello).</summary>
    public FgcpOutput Start()
    {
        if (_ha.Mode == HaMode.Standalone)
        {
            // Not clustered: the unit simply works; no heartbeat is sent.
            var output = new Output();
            EnterWork(output, HaRole.Primary, _serial, [_serial], null);
            return output.Done();
        }
        return new FgcpOutput(["hatalk started"], []);
    }

    /// <summary>
    /// A datagram arrived on <paramref name="hbdev"/>: accepted only on a `set hbdev` interface, opened with this cluster's
    /// keys (HMAC and AES-GCM as configured, see <see cref="FgcpHeartbeatEnvelope"/>), every field validated, then as
    /// <see cref="Heard"/>. A heartbeat verified with the key must also be newer than any heard from its sender (sequence
    /// within an incarnation, incarnations only forward), and a new sender or incarnation joins only once it echoes this
    /// unit's incarnation. Anything else: dropped and counted by cause, nothing more.
    /// </summary>
    public FgcpOutput Received(ReadOnlySpan<byte> datagram, string hbdev)
    {
        if (!IsHbdev(hbdev)) return Dropped(NotHbdevDrop(hbdev), hbdev);
        var opened = FgcpHeartbeatEnvelope.Open(datagram, _protection);
        if (opened.Drop is { } drop) return Dropped(drop, hbdev);
        return Accept(opened.Heartbeat!, hbdev, opened.Keyed);
    }

    /// <summary>
    /// A heartbeat record from an in-process link arrived on <paramref name="hbdev"/>. Invalid fields: dropped and counted,
    /// nothing else. A record carries no HMAC, so with authentication or encryption enabled it is refused like a clear datagram.
    /// </summary>
    public FgcpOutput Heard(FgcpHeartbeat hb, string hbdev)
    {
        if (FgcpHeartbeatValidation.Validate(hb) is { } invalid) return Dropped(invalid, hbdev);
        if (!IsHbdev(hbdev)) return Dropped(NotHbdevDrop(hbdev), hbdev);
        if (_protection.Authenticate)
            return Dropped(new HeartbeatDrop(HeartbeatDropCause.AuthMissing, "heartbeat not authenticated and authentication is enabled"), hbdev);
        if (_protection.Encrypt)
            return Dropped(new HeartbeatDrop(HeartbeatDropCause.NotEncrypted, "heartbeat in clear and encryption is enabled"), hbdev);
        return Accept(hb, hbdev, keyed: false);
    }

    private bool IsHbdev(string hbdev) => _ha.HbDevs.Any(d => string.Equals(d.Interface, hbdev, StringComparison.Ordinal));

    private HeartbeatDrop NotHbdevDrop(string hbdev) =>
        new(HeartbeatDropCause.NotHbdev, $"{hbdev} is not a heartbeat interface (set hbdev {string.Join(" ", _ha.HbDevs.Select(d => d.Interface))})");

    /// <param name="keyed">Verified with the cluster's key (HMAC or AES-GCM tag): its sequence and incarnation are the sender's.</param>
    private FgcpOutput Accept(FgcpHeartbeat hb, string hbdev, bool keyed)
    {
        if (hb.Serial == _serial || _ha.Mode == HaMode.Standalone) return FgcpOutput.Nothing;
        var output = new Output();
        var now = _clock.GetTimestamp();
        _reports.Roll(output.History);

        if (MismatchWith(hb) is { } mismatch)
        {
            // FortiOS forms no cluster on a mismatch; each side keeps working alone. Say why, once per sender and interval.
            Count(mismatch.Cause);
            if (_reports.ShouldReport($"{hb.Serial}|{mismatch.Cause}", out var more))
                output.History.Add($"heartbeat from '{hb.Serial}' on {hbdev} ignored: {mismatch.Detail}; no cluster is formed with it"
                                   + (more > 0 ? $" ({more} more since the last report)" : ""));
            return output.Done();
        }

        if (keyed)
        {
            if (Replay(hb, now) is { } replay)
            {
                // Verified with the key, so the serial is the sender's own: one line per sender and cause per interval.
                Count(replay.Cause);
                if (_reports.ShouldReport($"{hb.Serial}|{replay.Cause}", out var more))
                    output.History.Add($"heartbeat from '{hb.Serial}' on {hbdev} dropped ({FgcpHeartbeatValidation.CounterName(replay.Cause)}): {replay.Detail}"
                                       + (more > 0 ? $" ({more} more since the last report)" : ""));
                return output.Done();
            }
            // A sender (or a new incarnation of it) becomes a member only once it proves it hears this unit's current
            // incarnation: no heartbeat captured before this unit started can, so a replay cannot bring back a dead unit
            // after this one restarted. Until then it is only listed in this unit's heartbeats (Hears), which is how it learns.
            var member = _peers.TryGetValue(hb.Serial, out var current) && current.Last.Incarnation == hb.Incarnation;
            if (!member && !hb.Hears.Contains(new HeardPeer(_serial, Incarnation))) return output.Done();
        }

        var isNew = !_peers.TryGetValue(hb.Serial, out var known) || known.Last.Incarnation != hb.Incarnation;
        _peers[hb.Serial] = new FgcpPeer(hb, now, isNew ? 1 : known!.HeardCount + 1);
        ReannounceIfPeerSteppedDown(output, hb.Serial, (hb.State, hb.Role));

        if (isNew)
        {
            output.History.Add($"new member '{hb.Serial}' joins the cluster");
            if (State == HaState.Work) Negotiate(output, $"member {hb.Serial} joined", (hb.State, hb.Role), hb.Serial);
            return output.Done();
        }

        if (State == HaState.Hello)
        {
            // Both sides have heard each other at least twice, so both run the election on the same inputs.
            if (_peers[hb.Serial].HeardCount >= 2) Negotiate(output, "cluster formed");
            return output.Done();
        }

        var before = known!.Last;
        if (hb.State == HaState.Work && hb.Role == HaRole.Primary && Role == HaRole.Primary)
            Negotiate(output, $"two primaries: {hb.Serial} also works as primary", (hb.State, hb.Role), hb.Serial);
        else if (before.ExeFailOver != hb.ExeFailOver)
            Negotiate(output, $"EXE_FAIL_OVER flag of {hb.Serial} {(hb.ExeFailOver ? "set" : "cleared")}");
        else if (before.MonitorUp != hb.MonitorUp)
            Negotiate(output, $"monitored interfaces of {hb.Serial} changed");
        else if ((hb.Override || _ha.Override) && before.Priority != hb.Priority)
            Negotiate(output, $"priority of {hb.Serial} changed");

        if (Role == HaRole.Primary && hb.SyncedConfigChecksum != SyncedChecksum && hb.State == HaState.Work)
            output.Effects.Add(new FgcpSyncConfigTo(hb));
        return output.Done();
    }

    /// <summary>
    /// The replay rule for a heartbeat verified with the key: within an incarnation the sequence must rise; an older
    /// incarnation than the newest heard from the sender is a replay from before it restarted; a newer one is a restart.
    /// Records the heartbeat when it passes. Null: fresh.
    /// </summary>
    private HeartbeatDrop? Replay(FgcpHeartbeat hb, long now)
    {
        if (_guards.TryGetValue(hb.Serial, out var guard))
        {
            if (hb.Incarnation < guard.Incarnation)
                return new(HeartbeatDropCause.StaleIncarnation,
                    $"incarnation {hb.Incarnation} is older than {guard.Incarnation}, the newest heard from it (a replay from before it restarted)");
            if (hb.Incarnation == guard.Incarnation && hb.Sequence <= guard.HighestSequence)
                return new(HeartbeatDropCause.Replayed,
                    $"sequence {hb.Sequence} is not above {guard.HighestSequence}, the highest heard from incarnation {hb.Incarnation} (replayed or reordered)");
        }
        else if (_guards.Count >= MaxReplayGuards)
        {
            // Forget the sender heard longest ago that is not a member (see MaxReplayGuards).
            var oldest = _guards.Where(g => !_peers.ContainsKey(g.Key)).OrderBy(g => g.Value.HeardAt).Select(g => g.Key).FirstOrDefault();
            if (oldest is not null) _guards.Remove(oldest);
        }
        _guards[hb.Serial] = new ReplayGuard(hb.Incarnation, hb.Sequence, now);
        return null;
    }

    /// <summary>A datagram on <paramref name="hbdev"/> that is no valid heartbeat: counted by cause; a line at most once per cause and interval.</summary>
    public FgcpOutput Dropped(HeartbeatDrop drop, string hbdev)
    {
        var output = new Output();
        _reports.Roll(output.History);
        Count(drop.Cause);
        if (_reports.ShouldReport($"{hbdev}|{drop.Cause}", out var more))
            output.History.Add($"hbdev {hbdev}: heartbeat dropped ({FgcpHeartbeatValidation.CounterName(drop.Cause)}): {drop.Detail}"
                               + (more > 0 ? $" ({more} more since the last report)" : ""));
        return output.Done();
    }

    /// <summary>Time passes: lost peers (no heartbeat for hb-interval × hb-lost-threshold) and the end of hello-holddown.</summary>
    public FgcpOutput Tick()
    {
        var output = new Output();
        _reports.Roll(output.History);
        if (_ha.Mode == HaMode.Standalone) return output.Done();
        var now = _clock.GetTimestamp();
        _checkDueAt = null; // the scheduled check ran: the owner asks CheckTimer for the next one
        if (StalledFor(now) is { } late)
        {
            // This tick is overdue because this unit did not run, not because its peers were silent: the heartbeats
            // they sent meanwhile wait unread behind it. Judging them now would depose a live primary (the frozen
            // secondary's double claim). Every peer gets a fresh hb-lost window from now, judged by what arrives.
            Stalled(now, output, $"peer check ran {(long)late.TotalMilliseconds}ms late");
            return output.Done();
        }
        var lostAfter = _ha.LostAfter;
        var lost = _peers.Where(p => _clock.GetElapsedTime(p.Value.HeardAt) > lostAfter).Select(p => p.Key).ToList();
        foreach (var serial in lost)
        {
            _peers.Remove(serial);
            output.History.Add($"member '{serial}' is lost: no heartbeat for {(long)lostAfter.TotalMilliseconds}ms (hb-interval {_ha.HbInterval} x hb-lost-threshold {_ha.HbLostThreshold})");
            output.Effects.Add(new FgcpMemberLost(serial));
        }
        if (lost.Count > 0 && State == HaState.Work) Negotiate(output, "member lost");
        // A peer that claimed primary and was lost before it was heard stepping down may have left the neighbours on its MAC.
        foreach (var serial in lost) ReannounceIfPeerSteppedDown(output, serial, null);
        if (State == HaState.Hello && _clock.GetElapsedTime(_helloSince) >= TimeSpan.FromSeconds(_ha.HelloHolddown))
            Negotiate(output, "hello-holddown expired");
        return output.Done();
    }

    /// <summary>
    /// The owner's heartbeat timer fired (every hb-interval; FgcpActor calls this before it seals and sends): the stall rule
    /// looks at how long the unit did not run. The owner's timers (this one and the peer check) wake it at least every
    /// hb-interval, so a longer gap than hb-interval + <see cref="StallTolerance"/> since the last of them means the unit
    /// itself was frozen, hung or starved: its peers get a fresh hb-lost window, as in <see cref="Tick"/>. Whichever timer
    /// runs first after the stall notices it, so the overdue peer check cannot judge the peers before the stall is seen.
    /// </summary>
    public FgcpOutput HeartbeatDue()
    {
        _scheduled = true;
        if (_ha.Mode == HaMode.Standalone) return FgcpOutput.Nothing;
        var now = _clock.GetTimestamp();
        if (StalledFor(now) is not { } late) return FgcpOutput.Nothing;
        var output = new Output();
        Stalled(now, output, $"heartbeat timer ran {(long)late.TotalMilliseconds}ms late");
        return output.Done();
    }

    /// <summary>
    /// How much later than the owner's timers allow this run comes, when by more than <see cref="StallTolerance"/>; null
    /// otherwise, or when the owner's schedule is not known. A periodic owner (<see cref="_checkInterval"/>) ticks every
    /// interval; one that schedules its checks (<see cref="CheckTimer"/>, <see cref="HeartbeatDue"/>) beats every hb-interval.
    /// Records this run as the owner's last.
    /// </summary>
    private TimeSpan? StalledFor(long now)
    {
        var gap = _clock.GetElapsedTime(_lastTickAt, now);
        _lastTickAt = now;
        TimeSpan? sleep = _checkInterval ?? (_scheduled ? _ha.HeartbeatInterval : null);
        return sleep is { } allowed && gap - allowed > StallTolerance ? gap - allowed : null;
    }

    private void Stalled(long now, Output output, string what)
    {
        Stalls++;
        foreach (var serial in _peers.Keys.ToList()) _peers[serial] = _peers[serial] with { HeardAt = now };
        output.History.Add($"{what}: this unit was stalled; its peers get a fresh hb-lost window of {(long)_ha.LostAfter.TotalMilliseconds}ms from now");
    }

    /// <summary>
    /// How long after its last heartbeat a silent peer's check runs: just past the hb-lost window, since a peer silent for
    /// exactly hb-interval × hb-lost-threshold is not yet lost (<see cref="Tick"/>).
    /// </summary>
    public static readonly TimeSpan LossCheckMargin = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// For an owner that runs <see cref="Tick"/> on a one-shot timer: the delay to (re)start that timer with, or null when
    /// the check already scheduled stands (or nothing is due). The check follows the heartbeat, not a fixed tick: it is
    /// due at the earliest moment anything can happen, the first peer's last heartbeat + hb-lost window
    /// (+ <see cref="LossCheckMargin"/>), the end of hello-holddown, or the end of a rejected-heartbeat report interval
    /// that left lines out. So a peer lost at 10 ms × 5 is judged 51 ms after its last heartbeat, not up to a tick later
    /// (at a fixed 25 ms tick: up to 75 ms), and an idle unit at the VM defaults checks every ~4 s instead of 40 times a
    /// second. A heartbeat moves its peer's deadline later and changes nothing here: the check runs at the old deadline,
    /// finds the peer alive and is scheduled again. <paramref name="timerLost"/>: the owner's timer is not running (a new actor
    /// on a parked table), so a check already scheduled is returned too, overdue at once if its time has passed.
    /// </summary>
    public TimeSpan? CheckTimer(bool timerLost = false)
    {
        _scheduled = true;
        if (_ha.Mode == HaMode.Standalone) return null;
        var now = Since(_clock.GetTimestamp());
        var next = NextCheckDue();
        if (_checkDueAt is { } scheduled && (next is null || next >= scheduled))
            return timerLost ? Max(scheduled - now, TimeSpan.Zero) : null;
        if (next is null) return null;
        _checkDueAt = next;
        return Max(next.Value - now, TimeSpan.Zero);

        static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
    }

    /// <summary>The earliest moment a <see cref="Tick"/> can change anything, as time since <see cref="_epoch"/>; null: never.</summary>
    private TimeSpan? NextCheckDue()
    {
        TimeSpan? due = null;
        var window = _ha.LostAfter + LossCheckMargin;
        foreach (var peer in _peers.Values) Earliest(Since(peer.HeardAt) + window);
        if (State == HaState.Hello) Earliest(Since(_helloSince) + TimeSpan.FromSeconds(_ha.HelloHolddown));
        if (_reports.SummaryDueAt is { } summary) Earliest(Since(summary));
        return due;

        void Earliest(TimeSpan at)
        {
            if (due is null || at < due) due = at;
        }
    }

    /// <summary>A timestamp of this table's clock as time since the table was made (timestamps of TimeProvider are opaque).</summary>
    private TimeSpan Since(long timestamp) => _clock.GetElapsedTime(_epoch, timestamp);

    /// <summary>
    /// This unit's HA settings or monitored interfaces changed: a change in the monitored interfaces that are up
    /// renegotiates (a failure also resets HA uptime, as FortiOS does); with override, so does a priority change.
    /// </summary>
    public FgcpOutput LocalChanged(HaConfig ha, int monitorUp)
    {
        var output = new Output();
        var before = _ha;
        var monitorBefore = _monitorUp;
        _ha = ha;
        _monitorUp = monitorUp;
        PasswordProof = ComputePasswordProof(ha);
        _protection = ProtectionOf(ha);
        if (monitorUp != monitorBefore)
        {
            if (monitorUp < monitorBefore) _uptime.Reset();
            if (State == HaState.Work) Negotiate(output, "monitored interfaces changed");
        }
        var overrideMode = ha.Override || _peers.Values.Any(p => p.Last.Override);
        if (State == HaState.Work && overrideMode && before.Priority != ha.Priority) Negotiate(output, "priority changed");
        return output.Done();
    }

    /// <summary>
    /// <c>execute ha failover set 1</c> (<paramref name="set"/>) or <c>execute ha failover unset 1</c>: the flag changes and,
    /// when this unit works in a cluster, the cluster renegotiates at once with it (FortiOS: set "will trigger an HA
    /// failover"; unset lets "HA use normal criteria to decide the primary. May trigger a failover"). Setting what is
    /// already set changes nothing. Peers renegotiate when they hear the flag change in this unit's heartbeat.
    /// </summary>
    public FgcpOutput SetExeFailOver(bool set)
    {
        if (set == ExeFailOver || _ha.Mode == HaMode.Standalone) return FgcpOutput.Nothing;
        ExeFailOver = set;
        var output = new Output();
        output.History.Add(set
            ? "EXE_FAIL_OVER flag set by administrator (execute ha failover set 1)"
            : "EXE_FAIL_OVER flag cleared by administrator (execute ha failover unset 1)");
        if (State == HaState.Work) Negotiate(output, set ? "failover flag set" : "failover flag unset");
        return output.Done();
    }

    /// <summary>`diagnose sys ha reset-uptime`.</summary>
    public FgcpOutput ResetUptime()
    {
        _uptime.Reset();
        return new FgcpOutput(["HA uptime reset by administrator"], []);
    }

    private HeartbeatDrop? MismatchWith(FgcpHeartbeat hb)
    {
        if (hb.GroupId != _ha.GroupId)
            return new(HeartbeatDropCause.GroupIdMismatch, $"group-id mismatch (peer {hb.GroupId}, local {_ha.GroupId})");
        if (!string.Equals(hb.GroupName, _ha.GroupName, StringComparison.Ordinal))
            return new(HeartbeatDropCause.GroupNameMismatch, $"group-name mismatch (peer \"{hb.GroupName}\", local \"{_ha.GroupName}\")");
        if (!CryptographicOperations.FixedTimeEquals(hb.PasswordProof, PasswordProof))
            return new(HeartbeatDropCause.PasswordMismatch, "password mismatch");
        return null;
    }

    private void Count(HeartbeatDropCause cause) => _drops[cause] = _drops.GetValueOrDefault(cause) + 1;

    /// <summary>
    /// A deferred announcement (<see cref="FgcpReannounceDecision.WhenPeerStepsDown"/>) for <paramref name="serial"/>: due
    /// once it is heard no longer claiming primary (<paramref name="peer"/>), or lost (null), while this unit is still the
    /// working primary; dropped when this unit is no longer primary.
    /// </summary>
    private void ReannounceIfPeerSteppedDown(Output output, string serial, (HaState State, HaRole Role)? peer)
    {
        if (!_reannounceWhenDown.TryGetValue(serial, out var why)) return;
        if (State != HaState.Work || Role != HaRole.Primary)
        {
            _reannounceWhenDown.Clear();
            return;
        }
        if (!FgcpAnnouncement.DeferredDue(State, Role, peer)) return;
        _reannounceWhenDown.Remove(serial);
        output.Effects.Add(new FgcpReannounce(peer is null ? $"{why}; {serial} lost" : $"{why}; {serial} stepped down"));
    }

    /// <param name="trigger">State and role heard from the peer whose heartbeat started this negotiation, if one did.</param>
    /// <param name="triggerSerial">That peer's serial.</param>
    private void Negotiate(Output output, string why, (HaState State, HaRole Role)? trigger = null, string? triggerSerial = null)
    {
        var (stateBefore, roleBefore) = (State, Role);
        var members = new List<FgcpCandidate> { new(_serial, _monitorUp, Uptime, _ha.Priority, _ha.Override, ExeFailOver) };
        foreach (var (serial, peer) in _peers)
            members.Add(new FgcpCandidate(serial, peer.Last.MonitorUp, PeerUptime(peer), peer.Last.Priority, peer.Last.Override, peer.Last.ExeFailOver));
        var outcome = FgcpElection.Elect(members, TimeSpan.FromSeconds(_ha.HaUptimeDiffMargin));
        var role = outcome.PrimarySerial == _serial ? HaRole.Primary : HaRole.Secondary;
        output.Effects.Add(new FgcpNegotiated(why, outcome.HistoryText));
        // Every negotiation is recorded, as FortiOS does, also when it confirms the current primary.
        EnterWork(output, role, outcome.PrimarySerial, outcome.OperatingOrder, outcome.HistoryText);
        if (role != HaRole.Primary) _reannounceWhenDown.Clear();
        switch (FgcpAnnouncement.Decide(stateBefore, roleBefore, role, trigger))
        {
            case FgcpReannounceDecision.Now:
                output.Effects.Add(new FgcpReannounce(why));
                break;
            case FgcpReannounceDecision.WhenPeerStepsDown when triggerSerial is not null:
                _reannounceWhenDown[triggerSerial] = why;
                break;
        }
    }

    private void EnterWork(Output output, HaRole role, string primary, IReadOnlyList<string> order, string? historyText)
    {
        var roleChanged = State != HaState.Work || role != Role;
        // o_ha_prio is the index in the last order this unit worked in. In hello it has none ([itself] is a placeholder):
        // a unit that joins shows its first index twice, as the document's DC2_VM1 after its reboot (1/1), not 1/0.
        if (State == HaState.Work)
            for (var i = 0; i < OperatingOrder.Count; i++) _previousOperatingIndex[OperatingOrder[i]] = i;
        OperatingOrder = order;
        PrimarySerial = primary;
        if (historyText is not null)
        {
            LastElection = historyText;
            output.History.Add(historyText);
        }
        if (roleChanged)
        {
            HaIdChanges++;
            StateChangedAt = _clock.GetUtcNow();
            output.History.Add($"unit {_serial} changes state: {(State == HaState.Hello ? "hello" : Role.ToString().ToLowerInvariant())} -> {role.ToString().ToLowerInvariant()}");
            output.Effects.Add(new FgcpStateChanged(role, primary));
        }
        State = HaState.Work;
        Role = role;
        output.Effects.Add(new FgcpRoleSettled(role, primary));
    }

    private sealed class Output
    {
        public readonly List<string> History = new();
        public readonly List<FgcpEffect> Effects = new();
        public FgcpOutput Done() => History.Count == 0 && Effects.Count == 0 ? FgcpOutput.Nothing : new FgcpOutput(History, Effects);
    }

    /// <summary>
    /// The rate limit on history lines about rejected heartbeats: one line per key (sender and cause) per
    /// <see cref="RejectReportInterval"/>, at most <see cref="MaxRejectReportsPerInterval"/> lines per interval in all,
    /// then one summary line for what was left out. Bounded memory: at most <see cref="MaxTrackedSenders"/> keys.
    /// </summary>
    private sealed class RejectReports(TimeProvider clock)
    {
        private readonly Dictionary<string, (long ReportedAt, long Suppressed)> _keys = new(StringComparer.Ordinal);
        private long _windowStart = clock.GetTimestamp();
        private int _linesInWindow;
        private long _leftOut;

        /// <summary>When the current interval ends with lines left out, so its summary line is due (a timestamp); null otherwise.</summary>
        public long? SummaryDueAt => _leftOut > 0
            ? _windowStart + (long)(RejectReportInterval.TotalSeconds * clock.TimestampFrequency)
            : null;

        /// <summary>Starts a new interval when the last one is over, with a summary of what the last one left out.</summary>
        public void Roll(List<string> history)
        {
            if (clock.GetElapsedTime(_windowStart) < RejectReportInterval) return;
            if (_leftOut > 0)
                history.Add($"{_leftOut} rejected heartbeats in the last {(int)RejectReportInterval.TotalSeconds}s got no history line of their own (see activity.hb_drop in diagnose sys ha status)");
            _windowStart = clock.GetTimestamp();
            _linesInWindow = 0;
            _leftOut = 0;
            // A sender with suppressed heartbeats is kept a while longer, so its next line can say how many there were.
            foreach (var stale in _keys.Where(k => clock.GetElapsedTime(k.Value.ReportedAt) is var age
                             && age >= RejectReportInterval && (k.Value.Suppressed == 0 || age >= 10 * RejectReportInterval))
                         .Select(k => k.Key).ToList())
                _keys.Remove(stale);
        }

        public bool ShouldReport(string key, out long suppressedSinceLast)
        {
            suppressedSinceLast = 0;
            var known = _keys.TryGetValue(key, out var entry);
            if (known && clock.GetElapsedTime(entry.ReportedAt) < RejectReportInterval)
            {
                _keys[key] = entry with { Suppressed = entry.Suppressed + 1 };
                return false;
            }
            if (_linesInWindow >= MaxRejectReportsPerInterval || (!known && _keys.Count >= MaxTrackedSenders))
            {
                _leftOut++;
                return false;
            }
            suppressedSinceLast = known ? entry.Suppressed : 0;
            _keys[key] = (clock.GetTimestamp(), 0);
            _linesInWindow++;
            return true;
        }
    }
}
