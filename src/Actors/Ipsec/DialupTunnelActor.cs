using ClusterActors.Actors.Telemetry;
using System.Net;
using Akka.Actor;
using Akka.Event;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Packets;
using IpsecSelector = ClusterActors.Protocol.Ipsec.TrafficSelector;

namespace ClusterActors.Actors.Ipsec;

public sealed record TunnelRecordChanged(TunnelRecord Record);

public sealed record GetTunnelState
{
    public static readonly GetTunnelState Instance = new();
}

/// <summary>A standby received valid ESP for this tunnel: its unit takes the tunnel over (traffic-driven takeover).</summary>
public sealed record ClaimTunnelByTraffic(string Key);

/// <summary>
/// From the phase1 to its instances: this unit became, or stopped being, its FGCP cluster's primary. Only a primary
/// claims a tunnel by traffic (<see cref="IpsecPhase1Actor"/> refuses a secondary's claim), so a standby on a secondary
/// neither claims nor encrypts for the ESP that reaches it.
/// </summary>
public sealed record TunnelClaimsAllowed(bool Allowed);

/// <summary>This instance's record stopped naming this unit owner: another unit's record (generation
/// <paramref name="Generation"/>, owner <paramref name="NewOwnerSerial"/>) took the tunnel, and every frame the instance
/// encrypted before is handed to the forwarding plane. The phase1 tells the new owner (<see cref="TunnelReleased"/>),
/// which may be holding its replies for it (<see cref="TrafficClaimHold{T}"/>).</summary>
public sealed record TunnelHandedOff(string Key, long Generation, string NewOwnerSerial);

/// <summary>The phase1 refused this instance's <see cref="ClaimTunnelByTraffic"/> (its unit is not its cluster's primary).</summary>
public sealed record TunnelClaimRefused(string Key);

/// <summary>
/// From the phase1, just before it writes an FGCP claim of this tunnel (this unit became primary) whose previous owner,
/// <paramref name="PreviousOwner"/> at <paramref name="Generation"/>, is still an Up, reachable Akka member: a split brain
/// or a stall, so it may still be encrypting. The instance holds its replies as a traffic claim does
/// (<see cref="TrafficClaimHold{T}"/>) until that unit's release or the wait (README "The hand-off of a traffic claim").
/// </summary>
public sealed record HoldForRelease(string PreviousOwner, long Generation);

/// <summary>
/// The owner's CHILD SA is running out of sequence numbers (<see cref="TunnelOwnership.ChildRekeyDue"/>): its phase1
/// asks the client for a CREATE_CHILD_SA rekey, or resends the request still unanswered.
/// </summary>
public sealed record RekeyTunnelChild(string Key);

/// <summary>The owner's sequence state to sync to the standbys: its next outbound number and the highest inbound one accepted.</summary>
/// <param name="OutboundSpi">The SA these numbers belong to: a sync that crosses a rekey is stale and ignored.</param>
public sealed record SyncTunnelSequence(string Key, uint NextOutboundSeq, uint ReplayHighest, uint OutboundSpi = 0);

/// <summary>Drops of one tunnel's ESP by reason, and packets refused because this unit does not own the tunnel.</summary>
public sealed record GetTunnelDrops
{
    public static readonly GetTunnelDrops Instance = new();
}

/// <param name="SequenceExhausted">Packets not sent because the CHILD SA's numbers were used up and its rekey was not done yet.</param>
/// <param name="StaleAfterStall">Packets not encrypted because they waited in this instance's queue past the unit's stall
/// tolerance (<see cref="ClusterActors.Actors.Forwarding.StalledInput"/>).</param>
/// <param name="ClaimHoldOverflow">Replies a traffic claim dropped while holding them (<see cref="TrafficClaimHold{T}"/>: full, or the claim void).</param>
/// <param name="ClaimHoldsReleased">Traffic claims whose hold the previous owner's release ended (or the phase1's word that it cannot send).</param>
/// <param name="ClaimHoldsTimedOut">Traffic claims whose hold ended by the wait, no release having come.</param>
public sealed record TunnelDrops(string Name, IReadOnlyDictionary<EspDropReason, ulong> Inbound, long NotOwner, long SequenceExhausted = 0, long StaleAfterStall = 0,
    long ClaimHoldOverflow = 0, long ClaimHoldsReleased = 0, long ClaimHoldsTimedOut = 0);

/// <summary>
/// One dialup instance (vpn1_1 …) on one unit: its role and its copy of the SAs. The owner is `sync-primary`;
/// everywhere else the instance is `standby` with the outbound sequence number jumped ahead by 2^28, so that
/// whichever unit takes it over never sends a number the client has already seen.
/// </summary>
/// <remarks>
/// The instance also carries its ESP: it decrypts what arrives for its SPI (anti-replay window of 2048) and encrypts
/// what is routed into it. A standby that receives valid ESP takes the tunnel over (traffic-driven takeover, as VM3 in
/// the scenario's second drill): it asks its phase1 to claim the tunnel, forwards the packet at once and sends from the
/// jumped-ahead sequence number. The owner syncs its sequence state every <see cref="SequenceSyncInterval"/> while traffic
/// flows; the 2^28 jump covers what a standby has not yet seen.
/// </remarks>
public sealed class DialupTunnelActor : ReceiveActor, IWithTimers
{
    /// <summary>How often an owner with traffic syncs its sequence state (FortiOS's interval is not published: open question 3).</summary>
    public static readonly TimeSpan SequenceSyncInterval = TimeSpan.FromSeconds(1);

    private sealed record SyncDue
    {
        public static readonly SyncDue Instance = new();
    }

    private sealed record ClaimHoldOver
    {
        public static readonly ClaimHoldOver Instance = new();
    }

    /// <summary>A traffic claim's replies, held until the previous owner released the tunnel (<see cref="TrafficClaimHold{T}"/>).</summary>
    private readonly TrafficClaimHold<(EncryptForTunnel Packet, IActorRef ReplyTo)> _hold = new();

    public ITimerScheduler Timers { get; set; } = null!;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _serial;
    private readonly int _boundInterfaceIndex;
    /// <summary>The instance's index and name on this unit (names are per unit: <see cref="DialupInstanceNames"/>).</summary>
    private readonly int _index;
    private readonly string _name;
    private TunnelRecord _record;
    private TunnelRole _role;
    private bool _rgwyChanged;
    private bool _claiming;
    /// <summary>
    /// Whether this unit is its FGCP cluster's primary (<see cref="TunnelClaimsAllowed"/>). A secondary that claimed by
    /// traffic sent from the takeover number (the owner's synced next + 2^28) although its phase1 refused the claim:
    /// after a split brain or a stall healed, the former primary stepped down, ESP still reached it for a moment, and its
    /// replies took CLIENT1's window 2^28 past the real owner's numbers, which the client then dropped as replays for
    /// good (docker chaos seed 1 run 9: 10,826 anti-replay drops, PC1 never answered again).
    /// </summary>
    private bool _claimsAllowed;
    /// <summary>This unit is a member of an FGCP cluster (not a standalone unit): only its primary owns tunnels
    /// (<see cref="TunnelOwnership.ShownRole"/>).</summary>
    private readonly bool _inFgcpCluster;
    /// <summary>This instance owned the tunnel and then its unit stopped being primary: if it owns it again, it sends
    /// from past a claim made meanwhile (<see cref="OnClaimsAllowed"/>).</summary>
    private bool _steppedDown;
    /// <summary>The record names this unit owner but this incarnation did not write it (the constructor's
    /// <c>inherited</c>), until a record of a new generation or a new CHILD SA replaces it.</summary>
    private bool _inherited;
    private long _notClaimed;
    private EspInboundSa _in;
    private EspOutboundSa _out;
    private long _rxp, _txp, _rxb, _txb, _notOwner, _exhausted;
    /// <summary>The number after the highest this instance has sent on the current outbound SA (0: none yet). Whatever a
    /// record says, the instance never starts below it again: a number is sent once per SA (RFC 4303 §3.3.3).</summary>
    private ulong _sentNext;
    /// <summary>
    /// After a stall: the generation the owner held and since when (a Stopwatch timestamp) no CHILD SA rekey is asked, for
    /// <see cref="RekeyHoldAfterStall"/> unless a record with a newer generation or new SAs comes first: a rekey written on the pre-stall record loses to
    /// the peer's takeover (generation + 1, old SA) that is still on its way, while the client has taken the new SA and
    /// deleted the old one (chaos seed 1 run 21 of the 100-run session: a dead tunnel). Released by time, not by the
    /// jump's own sync coming back: that sync is written at once (<see cref="_syncJumpAtOnce"/>), and its quick return
    /// says nothing about a peer's record still on its way.
    /// </summary>
    private (long Generation, long Since)? _rekeyHeldAfterStall;

    /// <summary>How long a rekey waits after a stall for a takeover made meanwhile: a peer pushes such a record to
    /// every member at once, so it is in this unit's mailbox when the stall ends; two sync intervals leave a loaded
    /// machine room to deliver it.</summary>
    public static readonly TimeSpan RekeyHoldAfterStall = 2 * SequenceSyncInterval;
    private long _rekeyAskedAt = long.MinValue;

    /// <summary>How often an owner whose CHILD SA needs a rekey asks its phase1 again (which resends the request).</summary>
    private static readonly TimeSpan RekeyAskInterval = TimeSpan.FromMilliseconds(250);
    private DateTimeOffset? _lastRx, _lastTx;
    private (ulong Out, uint In) _synced;

    /// <param name="inherited">The record names this unit as owner but this incarnation did not write it
    /// (<see cref="TunnelOwnership.Inherited"/>): the previous incarnation's counter is lost, so this one sends from the
    /// synced next number + 2^28, never from the synced number itself.</param>
    /// <param name="localIndex">The index this unit shows the instance under (<see cref="DialupInstanceNames"/>); the
    /// record's when not given.</param>
    /// <param name="claimsAllowed">This unit is its FGCP cluster's primary, so valid ESP on a standby claims the tunnel
    /// (<see cref="TunnelClaimsAllowed"/> changes it later).</param>
    /// <param name="inFgcpCluster">The unit is in an FGCP cluster: while it is not the primary it holds even the tunnels
    /// its records name it owner of as standby (<see cref="TunnelOwnership.ShownRole"/>).</param>
    /// <param name="dpd">The phase1's DPD as the tunnel list prints it (<see cref="DpdState.Configured"/>); null: the seed's.</param>
    /// <param name="claimHoldMaxWait">How long a traffic claim holds its replies for the previous owner's release at most
    /// (<see cref="TrafficClaimHold{T}.MaxWait"/> unless a spec needs another).</param>
    public DialupTunnelActor(string serial, TunnelRecord record, int boundInterfaceIndex, bool inherited = false, int? localIndex = null, bool claimsAllowed = true,
        bool inFgcpCluster = false, DpdState? dpd = null, TimeSpan? claimHoldMaxWait = null)
    {
        _claimHoldMaxWait = claimHoldMaxWait ?? TrafficClaimHold<EncryptForTunnel>.MaxWait;
        _dpd = dpd ?? DpdState.Seed;
        _serial = serial;
        _index = localIndex ?? record.Index;
        _name = DialupInstanceNames.Name(record.Phase1, _index);
        _claimsAllowed = claimsAllowed;
        _inFgcpCluster = inFgcpCluster;
        _inherited = inherited;
        _boundInterfaceIndex = boundInterfaceIndex;
        _record = record;
        _role = RoleOf(record);
        (_in, _out) = Sas(record, inherited ? TunnelRole.Standby : _role);
        _synced = (_out.NextSeq, record.ReplayHighest);
        Receive<TunnelRecordChanged>(c => OnRecord(c.Record));
        Receive<GetTunnelState>(_ => Sender.Tell(State()));
        Receive<EspArrived>(OnEsp);
        Receive<EncryptForTunnel>(OnEncrypt);
        Receive<UnitStalled>(OnStalled);
        Receive<TunnelClaimsAllowed>(OnClaimsAllowed);
        Receive<TunnelClaimRefused>(_ => OnClaimRefused());
        Receive<HoldForRelease>(h => StartHold(h.PreviousOwner, h.Generation));
        Receive<TunnelReleased>(r =>
        {
            var holding = _hold.IsHolding;
            var held = _hold.Released(r.FromSerial, r.Generation);
            if (holding && !_hold.IsHolding) _holdsReleased++;
            EndHold(held);
        });
        Receive<ClaimHoldOver>(_ =>
        {
            if (!_hold.IsHolding) return;
            _holdsTimedOut++;
            if (_hold.WaitingFor == AfterStallNobody)
                _log.Info("{0}: no takeover reached this unit within {1:0} ms of its stall: sending the held replies from the jump", _name, _claimHoldMaxWait.TotalMilliseconds);
            else
                _log.Warning("{0}: {1} did not say within {2:0} ms that it stopped sending on the tunnel this unit claimed: sending the held replies",
                    _name, _hold.WaitingFor, _claimHoldMaxWait.TotalMilliseconds);
            EndHold(_hold.Expired());
        });
        Receive<SyncDue>(_ =>
        {
            SyncSequence();
            RekeyIfDue();
        });
        Receive<GetTunnelDrops>(_ => Sender.Tell(new TunnelDrops(_name,
            Enum.GetValues<EspDropReason>().Where(r => r != EspDropReason.None).ToDictionary(r => r, r => _in.DropCount(r)), _notOwner, _exhausted, _staleEncrypts,
            _hold.Dropped, _holdsReleased, _holdsTimedOut)));
    }

    public static Props Props(string serial, TunnelRecord record, int boundInterfaceIndex, bool inherited = false, int? localIndex = null, bool claimsAllowed = true,
        bool inFgcpCluster = false, DpdState? dpd = null, TimeSpan? claimHoldMaxWait = null) =>
        Akka.Actor.Props.Create(() => new DialupTunnelActor(serial, record, boundInterfaceIndex, inherited, localIndex, claimsAllowed, inFgcpCluster, dpd, claimHoldMaxWait));

    private readonly TimeSpan _claimHoldMaxWait;
    /// <summary>Traffic claims' holds ended by the previous owner's release (or the phase1's word that it cannot send), and by the wait.</summary>
    private long _holdsReleased, _holdsTimedOut;

    private readonly DpdState _dpd;

    protected override void PreStart() => Timers.StartPeriodicTimer("sync", SyncDue.Instance, SequenceSyncInterval);

    private static EspSaKeys InboundKeys(TunnelRecord r) => r.Child.InboundEsp();

    private static EspSaKeys OutboundKeys(TunnelRecord r) => r.Child.OutboundEsp();

    /// <summary>
    /// The SAs as a unit holds them: the owner sends from the synced next number; a standby would send from the jumped
    /// one if it took over. The inbound window starts at the synced highest number, so replays older than the last sync
    /// are still refused by a new owner.
    /// </summary>
    private static (EspInboundSa, EspOutboundSa) Sas(TunnelRecord r, TunnelRole role) =>
        (new EspInboundSa(InboundKeys(r), Window(r.ReplayHighest)),
         new EspOutboundSa(OutboundKeys(r), role == TunnelRole.SyncPrimary ? TunnelOwnership.OwnerSequence(r) : TunnelOwnership.TakeoverSequence(r)));

    /// <summary>
    /// The window a unit holds for a tunnel it did not receive on: everything up to the synced highest number counts as
    /// seen. A replay of anything the owner accepted before its last sync is refused, and so cannot make a standby take
    /// the tunnel over; what the owner accepted after its last sync is the gap no sync interval closes (open question 6).
    /// </summary>
    private static ReplayWindow Window(uint highest)
    {
        var bitmap = new byte[ReplayWindow.DefaultSize / 8];
        Array.Fill(bitmap, (byte)0xFF);
        return new ReplayWindow(new ReplayWindowState(highest, bitmap));
    }

    private void OnRecord(TunnelRecord record)
    {
        var role = RoleOf(record);
        // FortiOS sets rgwy-chg on a tunnel a unit took over from another owner (the seed's VM2 after FGCP failover).
        if (role == TunnelRole.SyncPrimary && _role == TunnelRole.Standby && record.Generation > 1) _rgwyChanged = true;
        var rekeyed = record.Child.InboundSpi != _record.Child.InboundSpi || record.Child.OutboundSpi != _record.Child.OutboundSpi;
        var previous = _role;
        // The record stops naming this unit: every frame it encrypted is handed over already (this mailbox's order), so
        // the new owner, which may be holding its replies for this word, can send.
        if (_record.OwnerSerial == _serial && record.OwnerSerial != _serial && !record.Deleted)
            Context.Parent.Tell(new TunnelHandedOff(record.Key, record.Generation, record.OwnerSerial));
        if (rekeyed || record.Generation != _record.Generation) _inherited = false;
        if (role == TunnelRole.Standby && record.OwnerSerial != _serial) _steppedDown = false; // another unit's now: a claim, not a return
        _record = record;
        _role = role;
        if (rekeyed)
        {
            (_in, _out) = Sas(record, role);
            _sentNext = 0; // a new SA numbers from 1
            _claiming = false;
        }
        else if (role == TunnelRole.SyncPrimary && previous == TunnelRole.Standby)
        {
            // Became the owner (FGCP failover, or our own traffic claim came back): send from the claimed number, or
            // from where this instance's own sending already got to (since the claim, or before a stall), or, for our
            // own claim, from where its numbers stand (a stall while it was on its way jumped them before any was sent).
            var claimed = TunnelOwnership.OwnerSequence(record);
            _out = Outbound(record, _claiming ? Math.Max(claimed, _out.NextSeq) : claimed);
            _claiming = false;
            // A stall's jump made while the claim was on its way is synced now (_syncJumpAtOnce, below).
        }
        else if (role == TunnelRole.Standby)
        {
            // Another unit owns it (again): what it synced is the state this unit would take over from.
            _claiming = false;
            CancelHold();
            _out = Outbound(record, TunnelOwnership.TakeoverSequence(record));
            if (record.ReplayHighest > _in.Window.Highest) _in = new EspInboundSa(InboundKeys(record), Window(record.ReplayHighest));
        }
        if (role == TunnelRole.SyncPrimary) _synced = (Math.Max(_synced.Out, TunnelOwnership.OwnerSequence(record)), Math.Max(_synced.In, record.ReplayHighest));
        if (rekeyed) _rekeyAskedAt = long.MinValue;
        if (_syncJumpAtOnce) SyncSequence();
        if (_rekeyHeldAfterStall is { } held && (rekeyed || record.Generation > held.Generation))
            _rekeyHeldAfterStall = null;
        RekeyIfDue(); // a new owner near the end of the sequence space rekeys at once, not at the next sync tick
    }

    /// <summary>
    /// The owner (or a unit whose traffic claim is under way) whose outbound numbers near the end of the 32-bit space
    /// asks its phase1 for a CHILD SA rekey (<see cref="TunnelOwnership.ChildRekeyDue"/>), again every
    /// <see cref="RekeyAskInterval"/> until the new SAs arrive as a record with new SPIs.
    /// </summary>
    private void RekeyIfDue()
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        if (_rekeyHeldAfterStall is { } held && System.Diagnostics.Stopwatch.GetElapsedTime(held.Since, now) >= RekeyHoldAfterStall) _rekeyHeldAfterStall = null;
        if (!MaySend || !TunnelOwnership.ChildRekeyDue(_out.NextSeq) || _rekeyHeldAfterStall is not null) return;
        if (_rekeyAskedAt != long.MinValue && System.Diagnostics.Stopwatch.GetElapsedTime(_rekeyAskedAt, now) < RekeyAskInterval) return;
        _rekeyAskedAt = now;
        _log.Info("{0}: outbound seqno {1:x} is near the end of the 32-bit space: rekeying the CHILD SA", _name, _out.NextSeq);
        Context.Parent.Tell(new RekeyTunnelChild(_record.Key));
    }

    /// <summary>The outbound SA of <paramref name="r"/> from <paramref name="from"/>, or from past what this instance
    /// already sent on it when that is higher (a record synced before it sent more, or a claim written before it learnt
    /// of a takeover): never a number twice.</summary>
    private EspOutboundSa Outbound(TunnelRecord r, ulong from) => new(OutboundKeys(r), Math.Max(from, _sentNext));

    /// <summary>Packets to encrypt that waited through a stall (dropped), and whether the last one did (the jump is made
    /// once per stall, whether the forwarding plane's <see cref="UnitStalled"/> or such a packet told of it first).</summary>
    private long _staleEncrypts;
    private bool _staleSeen;

    /// <summary>
    /// This unit did not run for a while (<see cref="UnitStalled"/>): an owner (or a unit claiming by traffic) moves its
    /// outbound numbers two jumps on (<see cref="TunnelOwnership.AfterStall"/>) before it encrypts again, as its peers
    /// may have taken the tunnel over and sent from one jump on meanwhile. A standby sends nothing and has nothing to move.
    /// </summary>
    private void OnStalled(UnitStalled stalled)
    {
        if (_staleSeen) return; // this stall's jump is made already: a stale packet came first
        if (!MaySend) return;
        var from = _out.NextSeq;
        _out = Outbound(_record, TunnelOwnership.AfterStall(Math.Max(from, _sentNext)));
        _log.Info("{0}: this unit stalled for at least {1:0} ms: outbound seqno moves from {2:x} to {3:x}, past a takeover its peers may have made",
            _name, stalled.Waited.TotalMilliseconds, from, _out.NextSeq);
        // The jump is written now, not at the next sync tick: a peer that claims the tunnel within that second (the
        // router moved the client back meanwhile) would otherwise start from the pre-stall record + 2^28, below what
        // this unit sends now, and the client would drop it all as too old (RepeatedFailoverSpec, CI trial 10 of the
        // thirteenth session: move 44's owner stalled and jumped to 0x40000017, move 45's claim sent from 0x30000017).
        HoldRekeyAfterStall();
        _syncJumpAtOnce = true;
        SyncSequence();
        // The stall was long enough for a peer to take the tunnel over (more than half FGCP's detection), and its claim,
        // pushed while this unit did not run, waits in this unit's socket buffers: it arrives within ms of the resume.
        // Until it does (this instance is then standby and drops what it held, counted) or the wait ends (no takeover:
        // sent from the jump), replies are held. Sent at once from the jump, a frame of the peer's, still the owner,
        // after ours is too old for the client (container chaos seed 1 run 11, sixteenth session: 1 drop).
        if (!_hold.IsHolding) StartHold(AfterStallNobody, long.MaxValue);
    }

    /// <summary>A hold after a stall waits for no unit's release (<see cref="TrafficClaimHold{T}.Released"/> never
    /// matches it): only a record that takes the tunnel, or the wait, ends it.</summary>
    private const string AfterStallNobody = "(a takeover made during the stall)";

    /// <summary>Set where the outbound numbers jumped above the record: the next <see cref="SyncSequence"/> is due now
    /// (or, for a claim still on its way, as soon as the claim comes back).</summary>
    private bool _syncJumpAtOnce;

    private void HoldRekeyAfterStall() => _rekeyHeldAfterStall = (_record.Generation, System.Diagnostics.Stopwatch.GetTimestamp());

    private bool MaySend => _role == TunnelRole.SyncPrimary || _claiming;

    /// <summary>
    /// The unit became, or stopped being, its FGCP cluster's primary. Inside an FGCP cluster that moves the tunnels its
    /// records name it owner of (<see cref="TunnelOwnership.ShownRole"/>):
    /// - stepping down, the instance holds the tunnel as standby at once and sends nothing more on it, without waiting for
    ///   the new primary's claim to come over Akka; what it sent stays counted in <see cref="_sentNext"/>;
    /// - made primary again before any newer claim reached it, the instance owns the tunnel again, and sends from two
    ///   jumps past its own numbers (<see cref="TunnelOwnership.AfterStall"/>), as after a stall: while it was not
    ///   primary another unit may have claimed the tunnel from the synced number + 2^28 and sent from there, and that
    ///   claim may still be on its way. The next sequence sync writes the jump, and no rekey is asked before it.
    /// </summary>
    private void OnClaimsAllowed(TunnelClaimsAllowed allowed)
    {
        _claimsAllowed = allowed.Allowed;
        _notClaimed = 0;
        var role = RoleOf(_record);
        if (role == _role) return;
        _role = role;
        if (role == TunnelRole.Standby)
        {
            _claiming = false;
            CancelHold();
            _steppedDown = true;
            _log.Info("{0}: this unit is no longer its FGCP cluster's primary: the tunnel is held as standby until the new primary's claim arrives", _name);
            return;
        }
        if (!_steppedDown)
        {
            // Never owned in this instance's life (made while its unit was not yet primary): it sends as if made now.
            _out = Outbound(_record, _inherited ? TunnelOwnership.TakeoverSequence(_record) : TunnelOwnership.OwnerSequence(_record));
            return;
        }
        _steppedDown = false;
        var from = Math.Max(_out.NextSeq, _sentNext);
        _out = Outbound(_record, TunnelOwnership.AfterStall(from));
        HoldRekeyAfterStall();
        _log.Info("{0}: this unit is its FGCP cluster's primary again and no newer claim reached it: it owns the tunnel again, outbound seqno moves from {1:x} to {2:x}",
            _name, from, _out.NextSeq);
        _syncJumpAtOnce = true;
        SyncSequence();
    }

    /// <summary>
    /// The phase1 refused the claim (its unit stopped being primary before the instance was told): stop sending on it
    /// and claim no more until the phase1 says the unit is primary again. What was sent stays counted in
    /// <see cref="_sentNext"/>, so a later claim never starts below it.
    /// </summary>
    private void OnClaimRefused()
    {
        _claimsAllowed = false;
        CancelHold();
        if (!_claiming) return;
        _claiming = false;
        _out = Outbound(_record, TunnelOwnership.TakeoverSequence(_record));
    }

    private void OnEsp(EspArrived esp)
    {
        if (!_in.TryOpen(esp.Esp, out var decrypted, out var reason))
        {
            _log.Debug("{0}: ESP seq dropped: {1}", _name, reason);
            UnitCounters.Of(Context.System).EspDropped(EspDropCause(reason));
            return;
        }
        _rxp++;
        _rxb += decrypted.Payload.Length;
        _lastRx = DateTimeOffset.UtcNow;
        if (!MaySend && !_claimsAllowed)
        {
            // Forwarded inward (it is valid and new), but not claimed and nothing encrypted: the owner's numbers stay
            // the only ones the client sees. Logged once per run of such packets.
            if (_notClaimed++ == 0)
                _log.Warning("{0}: valid ESP from {1} reached this unit, which holds the tunnel as standby and is not its FGCP cluster's primary: not claimed",
                    _record.Name, esp.From);
        }
        else if (!MaySend)
        {
            _log.Info("{0}: valid ESP from {1} reached this unit, which holds the tunnel as standby: taking it over from {2}",
                _name, esp.From, _record.OwnerSerial);
            _claiming = true;
            _out = Outbound(_record, TunnelOwnership.TakeoverSequence(_record));
            Context.Parent.Tell(new ClaimTunnelByTraffic(_record.Key));
            // Its replies wait for the previous owner's word that it sends no more (the phase1 answers at once when
            // that unit cannot answer): a frame of it arriving after our first would be too old for the client.
            StartHold(_record.OwnerSerial, _record.Generation);
            RekeyIfDue();
        }
        Sender.Tell(new TunnelDecrypted(_record.Phase1, decrypted.Payload));
    }

    /// <summary>The metric label of an SA's drop reason: "sa " and its name in snake case (sa anti_replay, sa bad_icv …).</summary>
    public static string EspDropCause(EspDropReason reason) => DropCauses.TryGetValue(reason, out var cause) ? cause : "sa other";

    private static readonly IReadOnlyDictionary<EspDropReason, string> DropCauses = Enum.GetValues<EspDropReason>().ToDictionary(r => r,
        r => "sa " + System.Text.RegularExpressions.Regex.Replace(r.ToString(), "(?<=[a-z0-9])([A-Z])", "_$1").ToLowerInvariant());

    private void OnEncrypt(EncryptForTunnel packet)
    {
        // A packet handed over just before the unit stalled, encrypted after it: it waited through the stall ahead of the
        // forwarding plane's UnitStalled (chaos seed 1 run 39: five such frames sent from the pre-stall numbers, below
        // what the peer's takeover had sent, and CLIENT1 dropped them as replays). Dropped, and the stall's jump made
        // here, once per stall.
        if (packet.ArrivedAt != 0 && System.Diagnostics.Stopwatch.GetElapsedTime(packet.ArrivedAt) is var waited
            && StalledInput.IsStale(waited, packet.StaleAfter))
        {
            _staleEncrypts++;
            if (!_staleSeen) OnStalled(new UnitStalled(waited));
            _staleSeen = true;
            return;
        }
        _staleSeen = false;
        if (!MaySend)
        {
            _notOwner++;
            return;
        }
        if (_hold.TryHold((packet, Sender), out _)) return; // a full hold counts what it drops
        Send(packet, Sender);
    }

    /// <summary>The hold is over: its frames go out in the order they came, as the owner they were held for.</summary>
    private void EndHold(IReadOnlyList<(EncryptForTunnel Packet, IActorRef ReplyTo)> held)
    {
        if (!_hold.IsHolding) Timers.Cancel("claim-hold");
        foreach (var (packet, replyTo) in held)
        {
            if (MaySend) Send(packet, replyTo);
            else _notOwner++;
        }
    }

    /// <summary>Replies wait from now for <paramref name="waitingFor"/>'s release past <paramref name="generation"/>, or
    /// until the wait ends (<see cref="TrafficClaimHold{T}"/>).</summary>
    private void StartHold(string waitingFor, long generation)
    {
        _hold.Start(waitingFor, generation);
        Timers.StartSingleTimer("claim-hold", ClaimHoldOver.Instance, _claimHoldMaxWait);
    }

    private void CancelHold()
    {
        if (!_hold.IsHolding) return;
        _hold.Cancel();
        Timers.Cancel("claim-hold");
    }

    private void Send(EncryptForTunnel packet, IActorRef replyTo)
    {
        if (_out.IsExhausted)
        {
            // No silent wrap (RFC 4303 §3.3.3, ESN off): nothing is sent until the CHILD SA is rekeyed.
            _exhausted++;
            RekeyIfDue();
            return;
        }
        var sealedEsp = _out.Seal(packet.InnerPacket);
        _sentNext = _out.NextSeq;
        _txp++;
        _txb += packet.InnerPacket.Length;
        _lastTx = DateTimeOffset.UtcNow;
        // NAT-T (RFC 3948): ESP inside UDP 4500 to the port the client's NAT mapped; otherwise IP protocol 50.
        var outer = _record.NattActive
            ? new Ipv4Packet(_record.LocalGateway, _record.RemoteGateway, Ipv4Packet.ProtocolUdp,
                UdpEncap.Wrap(sealedEsp.Bytes, UdpEncap.NatTPort, (ushort)_record.NattRemotePort))
            : new Ipv4Packet(_record.LocalGateway, _record.RemoteGateway, Ipv4Packet.ProtocolEsp, sealedEsp.Bytes);
        replyTo.Tell(new TunnelEncrypted(outer.ToBytes()));
    }

    private void SyncSequence()
    {
        if (_role != TunnelRole.SyncPrimary) return;
        _syncJumpAtOnce = false;
        var now = (Out: _out.NextSeq, In: _in.Window.Highest);
        if (now == _synced) return;
        _synced = now;
        // Used up is synced as such: a standby taking over from it must rekey, not send.
        Context.Parent.Tell(new SyncTunnelSequence(_record.Key, TunnelOwnership.InRecord(now.Out), now.In, _out.Keys.Spi));
    }

    private TunnelRole RoleOf(TunnelRecord r) => TunnelOwnership.ShownRole(r, _serial, _inFgcpCluster, _claimsAllowed);

    private DialupTunnelState State()
    {
        var r = _record;
        var owner = _role == TunnelRole.SyncPrimary;
        var seq = (uint)Math.Min(_out.NextSeq, uint.MaxValue);
        var child = r.Child;
        var sa = new ChildSaState(r.ProxyIdSerial,
            new SaDirection(child.InboundSpi, child.InboundEncKey, child.InboundAuthKey, (long)_in.Counters.Packets, (long)_in.Counters.Bytes),
            new SaDirection(child.OutboundSpi, child.OutboundEncKey, child.OutboundAuthKey, (long)_out.Counters.Packets, (long)_out.Counters.Bytes),
            // The standby's window is not synced packet by packet (open question 6): it prints 0, as the seed's standbys do.
            seq, owner ? _in.Window.Highest : 0, ReplayWindow.DefaultSize, r.EstablishedAt, r.ChildLifetimeSeconds,
            // Path MTU is learnt by the forwarding unit and not synced: a standby shows the 1280 default and dst_mtu 0.
            owner ? 1438 : 1280);
        var remote = r.RemoteSelectors.FirstOrDefault();
        var local = r.LocalSelectors.FirstOrDefault();
        return new DialupTunnelState(_name, r.Phase1, _index, 4, r.LocalGateway, r.NattLocalPort,
            r.RemoteGateway, r.RemotePort, owner ? 1500 : 0, _boundInterfaceIndex, _role, true, owner && _rgwyChanged, r.Phase1,
            Selector(local), Selector(remote), sa,
            _dpd with { Seqno = owner && _dpd.On ? r.Ike.NextRequestId : 0 },
            r.NattLine, new TunnelCounters(_rxp, _txp, _rxb, _txb), _lastRx, _lastTx)
        {
            // The IKE SA's establishment is not recorded apart: the initial CHILD SA is made in the same IKE_AUTH exchange, so
            // the record's time is the IKE SA's until the CHILD SA is rekeyed (README "diagnose vpn ike gateway list").
            Ike = new IkeGatewaySa(r.Ike.SpiI, r.Ike.SpiR, r.Ike.IsInitiator, r.Ike.Proposal, r.Ike.NextRequestId, r.Ike.ExpectedPeerRequestId,
                r.Ike.IkeLifetimeSeconds, r.EstablishedAt, r.Ike.LocalPort, r.Ike.PeerPort, r.Ike.PeerId),
            RxErrors = Enum.GetValues<EspDropReason>().Where(d => d != EspDropReason.None).Sum(d => (long)_in.DropCount(d)),
            TxErrors = _notOwner + _exhausted + _staleEncrypts,
        };
    }

    private static IpsecSelector Selector(ClusterActors.Protocol.Ike.TrafficSelector? s) =>
        s is null ? IpsecSelector.Any : new IpsecSelector(s.IpProtocol, s.StartAddress, s.EndAddress, s.StartPort == 0 && s.EndPort == 65535 ? (ushort)0 : s.StartPort);
}
