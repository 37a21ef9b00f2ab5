using ClusterActors.Actors.Telemetry;
using ClusterActors.Actors.DataPlane;
using System.Net;
using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.Event;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Fgsp;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Actors.Unit;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Fgsp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Actors.Ipsec;

/// <summary>An IKE datagram that reached this unit's phase1 (UDP/500 of its local gateway).</summary>
/// <remarks><paramref name="LocalPort"/> is 500, or 4500 once NAT-T floated (the non-ESP marker already removed).</remarks>
public sealed record IkeDatagram(IPAddress From, int FromPort, byte[] Data, int LocalPort = 500)
{
    /// <summary>Chosen by whoever delivers it and copied into the <see cref="IkeReplies"/>: lets a told (not asked) sender match answers.</summary>
    public long Tag { get; init; }
}

/// <summary>
/// An IKE_AUTH answer the unit actor passes on to <paramref name="ReplyTo"/> (the forwarding plane) after the new tunnel's
/// path, which the phase1 actor told it just before: both go from the unit actor to the forwarding actor, in that order,
/// so the client's first ESP after its IKE_AUTH finds its SA.
/// </summary>
public sealed record RelayIkeReplies(IActorRef ReplyTo, IkeReplies Replies);

/// <summary>What the gateway sends back; <see cref="Refused"/> says why nothing was created, for the log and the client.</summary>
public sealed record IkeReplies(IReadOnlyList<byte[]> Datagrams, string? Refused)
{
    /// <summary>The <see cref="IkeDatagram.Tag"/> of the datagram these answer.</summary>
    public long Tag { get; init; }
}

public sealed record GetTunnelList
{
    public static readonly GetTunnelList Instance = new();
}

public sealed record TunnelList(IReadOnlyList<DialupTunnelState> Tunnels);

/// <summary>Every record this phase1 holds, owned or standby (for the host's restart of the unit's ActorSystem).</summary>
public sealed record GetTunnelRecords
{
    public static readonly GetTunnelRecords Instance = new();
}

public sealed record TunnelRecords(IReadOnlyList<TunnelRecord> Records);

/// <summary>
/// Published on the unit's event stream when a tunnel record becomes present on this unit, owned (IKE completed here)
/// or as a synced copy; <see cref="Timestamp"/> is <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>, for the SA
/// sync benchmark, which runs every unit in one process.
/// </summary>
public sealed record TunnelPresent(string Serial, string Key, bool Owned, long Timestamp);

/// <summary>
/// Published on the unit's event stream when a tunnel this unit holds changes owner here (a claim applied, its own or
/// another unit's); <see cref="Timestamp"/> as in <see cref="TunnelPresent"/>. For the failover figures of the SA sync
/// benchmark (`sa-sync --processes --failover`, src/Node/Hosting/TunnelTrace.cs): when each unit learnt each claim.
/// </summary>
public sealed record TunnelOwnerChanged(string Serial, string Key, string Owner, long Generation, long Timestamp);

/// <summary>
/// One `vpn ipsec phase1-interface` of type dynamic on one unit: the IKEv2 gateway (answered only by the FGCP primary,
/// which holds the cluster's addresses), the dialup instances as child actors, and their SA sync.
/// SA sync has two paths over the Akka cluster. The owner pushes every new or changed record straight to the same
/// phase1 actor on every other member, so a standby holds the SAs within milliseconds; and it writes the record to
/// Distributed Data (one LWW dictionary per phase1, ordered by <see cref="TunnelOwnership.Clock"/>) whose gossip
/// converges every unit, including one that joins or missed a push. Distributed Data alone was measured here at
/// seconds per tunnel once hundreds exist (a write carries the whole dictionary), hence the push.
/// </summary>
public sealed class IpsecPhase1Actor : ReceiveActor, IWithTimers
{
    private sealed record DpdTick
    {
        public static readonly DpdTick Instance = new();
    }

    private sealed record HandoverTick
    {
        public static readonly HandoverTick Instance = new();
    }

    /// <summary>How often, and how many times, a unit that stepped down re-sends the tunnels it still owns to the new
    /// primary (<see cref="TunnelOwnership.HandOverTo"/>): as often as an owner syncs its sequence, for as long as a
    /// restarted unit was seen to take to rejoin Akka (chaos seed 1 run 46: 3 s, up to 6 s on a loaded machine).</summary>
    private static readonly TimeSpan HandoverInterval = DialupTunnelActor.SequenceSyncInterval;
    private const int HandoverRounds = 10;

    private sealed record EntriesWantedTick
    {
        public static readonly EntriesWantedTick Instance = new();
    }

    /// <summary>How often, and how many times, a returning primary asks its FGCP peers for its previous incarnation's
    /// entries (<see cref="TunnelEntriesWanted"/>) until one answers or it is an Akka member: its first question may
    /// leave before a TLS handshake proved where a peer is.</summary>
    private static readonly TimeSpan EntriesWantedInterval = TimeSpan.FromMilliseconds(250);
    private const int EntriesWantedRounds = 20;

    /// <summary>A local read of Distributed Data made to answer <see cref="TunnelEntriesWanted"/>: for whom, and where.</summary>
    private sealed record EntriesFor(string Serial, Address To, EntriesAnswer Answer);

    /// <summary>One answer to <see cref="TunnelEntriesWanted"/> over every shard's local read: how many reads are
    /// still out and how many entries went, so a peer that holds none still says so once.</summary>
    private sealed class EntriesAnswer(int reads)
    {
        public int ReadsLeft = reads;
        public int Sent;
    }

    /// <summary>Per owned tunnel: when the peer was last heard and the DPD probes sent since (FortiOS `dpd: … count`).</summary>
    private sealed class Liveness(long heardAt)
    {
        public long HeardAt = heardAt;
        public long ProbedAt;
        public int Probes;
    }

    private readonly Dictionary<string, Liveness> _liveness = new();
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    public ITimerScheduler Timers { get; set; } = null!;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly UnitIdentities _identities = UnitIdentities.Of(Context.System);
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
    private readonly string _serial;
    private Phase1Interface _phase1;
    /// <summary>The keys clear records replicate under (<see cref="FgspSync.DataKey"/>, in <see cref="FgspSync.DataShards"/> shards).</summary>
    private TunnelSyncKeys _clear;
    /// <summary>Records written while standalone-cluster encryption is enable: sealed, so other clusters' units read them only with the psksecret.</summary>
    private readonly TunnelSyncKeys _sealed;
    /// <summary>Every entry this unit writes is signed with its lab key, and an entry's writer is the unit that signed it.</summary>
    private readonly SignedReplicas _replicas;
    private FgspSyncSettings _fgsp;
    /// <summary>The other units of this unit's FGCP cluster (FGCP peer table): FGSP settings do not apply to them.</summary>
    private IReadOnlyCollection<string> _ownCluster = [];
    private string? _primarySerial;
    /// <summary>Records this unit wrote to the clear dictionary: removed from it once they are written sealed.</summary>
    private readonly HashSet<string> _writtenClear = new();
    private IkeResponder _gateway;
    private readonly Dictionary<string, TunnelRecord> _records = new();
    /// <summary>The live records by their IKE SPIs: per IKE datagram a lookup, not a scan; deleted SAs leave it.</summary>
    private readonly IkeSaIndex _keyBySpis = new();
    private readonly Dictionary<string, IActorRef> _tunnels = new();
    /// <summary>The index each live instance shows on this unit (<see cref="DialupInstanceNames"/>): names are per unit.</summary>
    private readonly Dictionary<string, int> _localIndex = new();
    private readonly int _boundInterfaceIndex;
    private readonly IPAddress _localGateway;
    private readonly int _childLifetime;
    private int _fgcpGroup;
    private bool _isPrimary;
    /// <summary>Tunnels claimed since this unit last became FGCP primary: each is claimed at most once per term, so two
    /// units that both believe they are primary (split brain) cannot outbid each other forever.</summary>
    private readonly HashSet<string> _claimedThisTerm = new();
    /// <summary>The new primary this unit hands its tunnels over to since it stepped down, and the rounds left.</summary>
    private (string Primary, int RoundsLeft)? _handover;
    /// <summary>Rounds left asking for the previous incarnation's entries (<see cref="AskPreviousEntries"/>).</summary>
    private int _entriesWantedRounds;
    private readonly SyncPeers _peers = new();
    private readonly Dictionary<Address, ActorSelection> _selections = new();
    /// <summary>Tunnels this incarnation has written a record of as their owner: any other record naming this unit as
    /// owner is its previous incarnation's (<see cref="TunnelOwnership.Inherited"/>).</summary>
    private readonly HashSet<string> _ownedHere = new();

    /// <summary>Whether a new tunnel's IKE_AUTH answer goes through the parent (<see cref="Props"/>).</summary>
    private readonly bool _relayViaParent;

    public IpsecPhase1Actor(string serial, ConfigDocument config, Phase1Interface phase1, bool relayViaParent = false)
    {
        _relayViaParent = relayViaParent;
        _serial = serial;
        _phase1 = phase1;
        _fgcpGroup = FgspSync.ClusterOf(config.Ha);
        _clear = new TunnelSyncKeys(FgspSync.DataKey(phase1.Name, phase1.FgspSync, _fgcpGroup, serial), SignedReplicas.ClearManifest);
        _sealed = new TunnelSyncKeys(FgspSync.SealedDataKey(phase1.Name), SignedReplicas.SealedManifest);
        _replicas = new SignedReplicas(_identities.Enforcing, _identities.LabTrust, _identities.RecordSigner);
        _fgsp = FgspSyncSettings.From(config.StandaloneCluster);
        var phase2 = config.Phase2.FirstOrDefault(p => p.Phase1Name == phase1.Name);
        _childLifetime = phase2?.KeyLifeSeconds ?? 43200;
        _localGateway = IPAddress.Parse(phase1.LocalGw);
        // FortiOS's bound_if is the ifindex of `set interface`: the seed prints 6 for port2, so a VM's portN is N + 4.
        _boundInterfaceIndex = phase1.Interface.StartsWith("port", StringComparison.Ordinal) && int.TryParse(phase1.Interface[4..], out var n) ? n + 4 : 0;
        _gateway = Gateway(phase1, phase2);
        _signature = Signature(config, phase1.Name);

        Receive<IkeDatagram>(OnIke);
        Receive<IkeSaAdopted>(OnAdopted);
        Receive<UnitConfigChanged>(OnConfigChanged);
        Receive<DpdTick>(_ =>
        {
            CheckIdleTunnels();
            WatchIdleTunnels();
        });
        Receive<ClaimTunnelByTraffic>(c => ClaimByTraffic(c.Key));
        Receive<TunnelHandedOff>(SendRelease);
        Receive<TunnelReleased>(OnReleased);
        Receive<RekeyTunnelChild>(c => RekeyChild(c.Key));
        Receive<SyncTunnelSequence>(c =>
        {
            if (_records.TryGetValue(c.Key, out var r) && r.OwnerSerial == _serial && !r.Deleted && (c.OutboundSpi == 0 || c.OutboundSpi == r.Child.OutboundSpi))
                Write(r with { NextOutboundSeq = c.NextOutboundSeq, ReplayHighest = c.ReplayHighest, SyncSeq = r.SyncSeq + 1 });
        });
        // Pushed by an owner, alone or in a batch: each accepted only from the unit its TLS certificate proves it is
        // (SyncAuthorization), each record of a batch checked as if it came alone.
        Receive<TunnelRecord>(r =>
        {
            CountReceived(1);
            OnPushed(r);
        });
        Receive<TunnelRecordBatch>(b =>
        {
            CountReceived(b.Records.Count);
            foreach (var r in b.Records) OnPushed(r);
        });
        // From a unit of another FGCP cluster with standalone-cluster encryption enable (FgspSyncPolicy).
        Receive<SealedTunnelRecord>(s =>
        {
            CountReceived(1);
            OnPushedSealed(s);
        });
        Receive<SealedTunnelRecordBatch>(b =>
        {
            CountReceived(b.Records.Count);
            foreach (var s in b.Records) OnPushedSealed(s);
        });
        Receive<FgcpClusterMembers>(m => _ownCluster = m.Serials);
        // This unit's own records from its previous ActorSystem: not sync input, so not checked as if a peer sent them
        // (a local sender proves nothing under SyncAuthorization, and they were dropped, losing what only this unit held).
        Receive<CarriedTunnel>(c => Apply(c.Record));
        Receive<HaRoleChanged>(OnRole);
        Receive<HandoverTick>(_ => HandOver());
        Receive<EntriesWantedTick>(_ => AskPreviousEntries());
        Receive<TunnelEntriesWanted>(OnEntriesWanted);
        Receive<TunnelEntries>(OnEntries);
        // Matched by type, not cast: any lab unit can write another CRDT under the same key, and a cast would restart us.
        Receive<Changed>(c => ApplyReplicated(c.Key, c.Data));
        Receive<ReplicaFlush>(_ => FlushReplicas());
        Receive<GetSuccess>(g =>
        {
            if (g.Request is EntriesFor wanted) AnswerEntriesWanted(wanted, g.Key, g.Data);
            else ApplyReplicated(g.Key, g.Data);
        });
        Receive<NotFound>(n =>
        {
            if (n.Request is EntriesFor wanted) AnswerEntriesWanted(wanted, n.Key, null);
        });
        Receive<GetFailure>(g =>
        {
            // Too few units answered in time: fall back to this unit's own replica.
            if (_clear.Holds(g.Key, out _, out var clear)) _replicator.Tell(Dsl.Get(clear, ReadLocal.Instance));
            else if (_sealed.Holds(g.Key, out _, out var sealedKey)) _replicator.Tell(Dsl.Get(sealedKey, ReadLocal.Instance));
        });
        // The shards that exist (written by some unit and gossiped here), read from a majority on becoming primary.
        Receive<GetKeysIdsResult>(r =>
        {
            foreach (var id in r.Keys)
                if (_clear.HoldsId(id, out _, out var key)) _replicator.Tell(Dsl.Get(key, new ReadMajority(TimeSpan.FromSeconds(2))));
        });
        Receive<UpdateSuccess>(_ => { });
        Receive<IUpdateFailure>(f => _log.Debug("tunnel sync not yet on every unit: {0}", f));
        Receive<GetTunnelList>(_ => ListTunnels().PipeTo(Sender));
        Receive<GetTunnelRecords>(_ => Sender.Tell(new TunnelRecords(_records.Values.ToList())));
        // A unit that joins or restarts gets every tunnel at once from their owners, not at the next gossip round.
        Receive<ClusterEvent.MemberUp>(e => Arrived(e.Member));
        Receive<ClusterEvent.MemberWeaklyUp>(e => Arrived(e.Member));
        Receive<ClusterEvent.MemberRemoved>(e => _peers.Removed(e.Member.UniqueAddress));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        // An Akka-only partition healed: every push to that unit while it was cut was lost, so it gets every tunnel this
        // unit owns again at once. Where both sides owned a tunnel, TunnelOwnership.Compare picks the same winner on both.
        Receive<ClusterEvent.ReachableMember>(e => Reachable(e.Member));
        Receive<ClusterEvent.UnreachableMember>(_ => { });
    }

    private IkeResponder Gateway(Phase1Interface phase1, Phase2Interface? phase2) => new(GatewaySettings(phase1, phase2));

    /// <summary>The responder's view of `vpn ipsec phase1-interface` + its phase2, shared with the <see cref="IkeFrontActor"/>.</summary>
    internal static IkeGatewaySettings GatewaySettings(ConfigDocument config, Phase1Interface phase1) =>
        GatewaySettings(phase1, config.Phase2.FirstOrDefault(p => p.Phase1Name == phase1.Name));

    private static IkeGatewaySettings GatewaySettings(Phase1Interface phase1, Phase2Interface? phase2) =>
        new(phase1.PskSecret?.Clear ?? "", phase1.PeerType == PeerType.One ? phase1.PeerId : null,
            phase1.Proposal, phase1.DhGroups, IPAddress.Parse(phase1.LocalGw), phase1.KeyLife, phase2?.KeyLifeSeconds ?? 43200)
        {
            ChildProposals = phase2?.Proposal,
            // phase2 pfs (FortiOS default enable, dhgrp 14 5): a DH in every CREATE_CHILD_SA that asks for one, and in ours.
            ChildDhGroups = phase2 is { Pfs: true } ? phase2.DhGroups : null,
            NatTraversal = phase1.NatTraversal
        };

    /// <summary>
    /// `config vpn ipsec phase1-interface` changed at run time: new IKE attempts and DPD follow the new settings at once;
    /// established IKE SAs carry on under the new gateway with their synced state.
    /// </summary>
    private void OnConfigChanged(UnitConfigChanged changed)
    {
        _fgcpGroup = FgspSync.ClusterOf(changed.Config.Ha);
        _fgsp = FgspSyncSettings.From(changed.Config.StandaloneCluster);
        var phase1 = changed.Config.Phase1.FirstOrDefault(p => p.Name == _phase1.Name);
        if (phase1 is null) return;
        var dataKey = FgspSync.DataKey(phase1.Name, phase1.FgspSync, _fgcpGroup, _serial);
        if (dataKey != _clear.DataKey)
        {
            // fgsp-sync (or the unit's FGCP cluster) changed: replicate under the new scope from now on, this unit's own
            // tunnels included, and read only what that scope's members write.
            foreach (var k in _clear.All) _replicator.Tell(Dsl.Unsubscribe(k, Self));
            _clear = new TunnelSyncKeys(dataKey, SignedReplicas.ClearManifest);
            foreach (var k in _clear.All) _replicator.Tell(Dsl.Subscribe(k, Self));
            _phase1 = phase1;
            foreach (var r in _records.Values.Where(r => r.OwnerSerial == _serial && !r.Deleted).ToList()) Write(r with { SyncSeq = r.SyncSeq + 1 });
        }
        // Compared as FortiOS prints them: the records hold lists, which compare by reference.
        var signature = Signature(changed.Config, phase1.Name);
        if (signature == _signature) return;
        _signature = signature;
        _phase1 = phase1;
        _gateway = Gateway(phase1, changed.Config.Phase2.FirstOrDefault(p => p.Phase1Name == phase1.Name));
        foreach (var r in _records.Values.Where(r => r.OwnerSerial == _serial && !r.Deleted)) _gateway.Resume(r.Ike);
        Timers.Cancel("dpd");
        WatchIdleTunnels();
    }

    /// <summary>How often owned tunnels are looked at for DPD on-idle (a probe is due dpd-retryinterval after the peer fell silent).</summary>
    private static readonly TimeSpan DpdCheckInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// The DPD check runs only while this unit owns a live tunnel and the phase1 has DPD on-idle: a unit with no tunnels
    /// of its own has nothing to probe and does not wake for it (src/Node/README.md, "Idle footprint").
    /// </summary>
    private void WatchIdleTunnels()
    {
        var due = _phase1.Dpd == DpdMode.OnIdle && _records.Values.Any(r => r.OwnerSerial == _serial && !r.Deleted);
        if (!due) Timers.Cancel("dpd");
        else if (!Timers.IsTimerActive("dpd")) Timers.StartPeriodicTimer("dpd", DpdTick.Instance, DpdCheckInterval);
    }

    private string _signature = "";

    internal static string Signature(ConfigDocument config, string phase1) =>
        config.Show($"vpn ipsec phase1-interface \"{phase1}\"", true) +
        string.Concat(config.Phase2.Where(p => p.Phase1Name == phase1).Select(p => config.Show($"vpn ipsec phase2-interface \"{p.Name}\"", true)));

    /// <param name="relayViaParent">The unit actor's phase1s: a new tunnel's IKE_AUTH answer goes through the parent after
    /// the tunnel's path (<see cref="RelayIkeReplies"/>). A phase1 actor on its own (specs) answers directly.</param>
    public static Props Props(string serial, ConfigDocument config, Phase1Interface phase1, bool relayViaParent = false) =>
        Akka.Actor.Props.Create(() => new IpsecPhase1Actor(serial, config, phase1, relayViaParent));

    /// <summary>A new tunnel's IKE_AUTH answer, after its path (see <see cref="Props"/>).</summary>
    private void AnswerEstablished(IActorRef replyTo, IkeReplies replies)
    {
        if (_relayViaParent) Context.Parent.Tell(new RelayIkeReplies(replyTo, replies));
        else replyTo.Tell(replies);
    }

    protected override void PreStart()
    {
        foreach (var k in _clear.All.Concat(_sealed.All)) _replicator.Tell(Dsl.Subscribe(k, Self));
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent),
            typeof(ClusterEvent.IReachabilityEvent));
        WatchIdleTunnels();
    }

    /// <summary>
    /// DPD on-idle: a tunnel this unit owns whose peer has been silent for dpd-retryinterval is probed with an empty
    /// INFORMATIONAL, again every interval; after dpd-retrycount unanswered probes the tunnel is flushed on every unit.
    /// </summary>
    private void CheckIdleTunnels()
    {
        var now = _clock.ElapsedMilliseconds;
        var interval = _phase1.DpdRetryInterval * 1000L;
        foreach (var r in _records.Values.Where(r => r.OwnerSerial == _serial && !r.Deleted).ToList())
        {
            var live = _liveness.TryGetValue(r.Key, out var l) ? l : _liveness[r.Key] = new Liveness(now);
            if (now - live.HeardAt < interval || now - live.ProbedAt < interval) continue;
            if (live.Probes >= _phase1.DpdRetryCount)
            {
                _log.Warning("{0}: {1}: {2} unanswered DPD probes to {3}; peer is dead, tunnel flushed", _phase1.Name, r.Name, live.Probes, r.RemoteGateway);
                _liveness.Remove(r.Key);
                Write(r with { Deleted = true, SyncSeq = r.SyncSeq + 1 });
                continue;
            }
            byte[] probe;
            try
            {
                // An unanswered probe is sent again as it was (same message ID, RFC 7296 §2.1); each try counts.
                probe = _gateway.PendingRequest(r.Ike.SpiR) ?? _gateway.CreateDpd(r.Ike.SpiR);
            }
            catch (InvalidOperationException)
            {
                continue; // the IKE SA is not (yet) established here; look again next round
            }
            live.Probes++;
            live.ProbedAt = now;
            Context.Parent.Tell(new SendIke(new IPEndPoint(r.RemoteGateway, r.RemotePort), probe, r.NattActive));
        }
    }

    /// <summary>Anything heard from the peer of an owned tunnel proves it alive.</summary>
    private void Heard(byte[] datagram)
    {
        if (datagram.Length < 16) return;
        var spiI = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(datagram.AsSpan(0, 8));
        var spiR = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(datagram.AsSpan(8, 8));
        if (OwnedBySpis(spiI, spiR) is not { } record) return;
        var live = _liveness.TryGetValue(record.Key, out var l) ? l : _liveness[record.Key] = new Liveness(0);
        live.HeardAt = _clock.ElapsedMilliseconds;
        live.Probes = 0;
        live.ProbedAt = 0;
    }

    /// <summary>The record of the IKE SA with these SPIs, if this unit owns it.</summary>
    private TunnelRecord? OwnedBySpis(ulong spiI, ulong spiR) =>
        _keyBySpis.KeyOf(spiI, spiR) is { } key && _records.TryGetValue(key, out var r) && r.OwnerSerial == _serial
        && !r.Deleted && r.Ike.SpiI == spiI && r.Ike.SpiR == spiR ? r : null;

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
    }

    /// <summary>A unit that joins or restarts gets every tunnel this unit owns at once, not at the next gossip round.</summary>
    private void Arrived(Member member)
    {
        if (member.Address == _cluster.SelfAddress || !_peers.Arrived(member.UniqueAddress)) return;
        PushOwned(member.Address);
    }

    private void Reachable(Member member)
    {
        if (member.Address == _cluster.SelfAddress) return;
        if (!_peers.Knows(member.UniqueAddress)) Arrived(member);
        else PushOwned(member.Address);
    }

    /// <summary>Every tunnel this incarnation owns; not a previous incarnation's records, which it has not re-claimed yet.</summary>
    private void PushOwned(Address to)
    {
        if (!PushesTo(to)) return;
        Push(to, _records.Values.Where(r => r.OwnerSerial == _serial && _ownedHere.Contains(r.Key)).ToList());
    }

    /// <summary>Where this unit's records are pushed (<see cref="FgspSync.PushesTo"/>): every member with fgsp-sync
    /// enabled, else the members of its own FGCP cluster, known by the lab certificate they proved.</summary>
    private IEnumerable<Address> PushTargets() => _peers.Targets.Where(PushesTo);

    private bool PushesTo(Address to) =>
        FgspSync.PushesTo(_phase1.FgspSync, InFgcpCluster && _identities.SerialOf(to) is { } serial && serial != _serial && InOwnCluster(serial));

    /// <summary>
    /// <paramref name="records"/> to the unit at <paramref name="to"/>, in order: one alone as itself, several in batches
    /// (<see cref="TunnelRecordBatch"/>, README "Batched sync"). Inside the own FGCP cluster a record goes as it is
    /// (FGCP's sync); to another cluster's unit FGSP's settings apply. <paramref name="sealedForm"/>, when given, holds each
    /// record already sealed (one seal for every unit of other clusters, not one per unit).
    /// </summary>
    private void Push(Address to, IReadOnlyList<TunnelRecord> records, IReadOnlyList<SealedTunnelRecord>? sealedForm = null)
    {
        if (records.Count == 0) return;
        var form = FgspSyncPolicy.SendForm(_fgsp, InOwnCluster(_identities.SerialOf(to)));
        if (form == FgspSendForm.Withheld)
        {
            if (_withheldLog.ShouldLog(to.ToString(), out var suppressed))
                _log.Warning("{0}: tunnel record {1}{2} not sent to {3}: standalone-cluster encryption enable but no psksecret set{4}", _phase1.Name,
                    records[0].Name, records.Count > 1 ? $" and {records.Count - 1} more" : "", to, suppressed > 0 ? $" ({suppressed} more since)" : "");
            return;
        }
        var peer = Phase1At(to);
        if (form == FgspSendForm.Sealed)
        {
            var sealedRecords = sealedForm ?? records.Select(r => FgspSyncSeal.Seal(r, _serial, _fgsp.Key!)).ToList();
            if (sealedRecords.Count == 1) peer.Tell(sealedRecords[0]);
            else
                foreach (var chunk in SyncBatches.Chunks(sealedRecords, SyncBatches.EstimatedBytes))
                    peer.Tell(new SealedTunnelRecordBatch(chunk));
        }
        else if (records.Count == 1) peer.Tell(records[0]);
        else
            foreach (var chunk in SyncBatches.Chunks(records, SyncBatches.EstimatedBytes))
                peer.Tell(new TunnelRecordBatch(chunk));
        Context.Parent.Tell(new FgspSyncCounted(to.ToString(), Sent: true, records.Count));
    }

    private readonly PerSenderLog _withheldLog = new(TimeSpan.FromSeconds(60), TimeProvider.System);

    /// <summary>This unit, its FGCP cluster's primary, or a unit its FGCP peer table holds.</summary>
    private bool InOwnCluster(string? serial) =>
        serial is not null && (serial == _serial || serial == _primarySerial || _ownCluster.Contains(serial));

    /// <summary>Drops (counted by cause, logged once per sender a minute) FGSP sync input the standalone-cluster settings refuse.</summary>
    private bool FgspAccepted(FgspSyncRefusal refusal, string what, string? sender, string from)
    {
        if (refusal == FgspSyncRefusal.None) return true;
        if (_identities.Refusals.Refused(FgspSyncPolicy.RefusalKindPrefix + FgspSyncPolicy.Cause(refusal), sender ?? from, out var suppressed,
                logKey: "fgsp-sync|" + (sender ?? from)))
            _log.Warning("{0}: FGSP sync {1} from {2} ({3}) dropped: {4}{5}", _phase1.Name, what, from, sender ?? "unauthenticated",
                FgspSyncPolicy.Explain(refusal), suppressed > 0 ? $" ({suppressed} more from it since)" : "");
        return false;
    }

    private void OnIke(IkeDatagram d)
    {
        if (!_isPrimary)
        {
            // Only the FGCP primary answers on the cluster's addresses; a secondary never sees this traffic on FortiOS.
            Sender.Tell(new IkeReplies([], "not the FGCP primary") { Tag = d.Tag });
            return;
        }
        var output = _gateway.Handle(new IPEndPoint(d.From, d.FromPort), d.LocalPort, d.Data);
        if (output.Events.All(e => e is not IkeDropped)) Heard(d.Data);
        string? refused = null;
        foreach (var e in output.Events)
        {
            switch (e)
            {
                case IkeSaEstablished est:
                    Established(est, d);
                    break;
                case IkeRefused r:
                    refused = r.Reason;
                    _log.Warning("{0}: IKE from {1}:{2} refused ({3}): {4}; no tunnel created", _phase1.Name, d.From, d.FromPort, r.Kind, r.Reason);
                    break;
                case IkeDpdAnswered dpd:
                    Resync(dpd.Sa);
                    break;
                case IkeDpdConfirmed confirmed:
                    Resync(confirmed.Sa);
                    break;
                case ChildSaRekeyed rekeyed:
                    Rekeyed(rekeyed);
                    break;
                case ChildSaDeleted childDeleted:
                    // The Delete advanced the message IDs: the record must carry them, or the next write of the record
                    // (the tunnel's sequence sync) resumes the gateway one request behind and the client's following
                    // request (strongSwan: the IKE SA Delete after a rekey) is dropped as outside the window.
                    Resync(childDeleted.Sa);
                    break;
                case IkeSaDeleted deleted:
                    Deleted(deleted.Sa);
                    break;
            }
        }
        var replies = new IkeReplies(output.Replies, refused) { Tag = d.Tag };
        if (output.Events.Any(e => e is IkeSaEstablished)) AnswerEstablished(Sender, replies);
        else Sender.Tell(replies);
    }

    /// <summary>
    /// An IKE SA that completed IKE_AUTH at the phase1's <see cref="IkeFrontActor"/> (which did its IKE_SA_INIT and DH):
    /// from now on this actor answers it, exactly as if it had been negotiated here.
    /// </summary>
    private void OnAdopted(IkeSaAdopted adopted)
    {
        _gateway.Resume(adopted.Established.Sa);
        Established(adopted.Established, adopted.Datagram);
        Heard(adopted.Datagram.Data);
        if (adopted is { Reply: { } reply, ReplyTo: { } replyTo }) AnswerEstablished(replyTo, reply);
    }

    private void Established(IkeSaEstablished est, IkeDatagram d)
    {
        // Named after the highest index this unit shows; a tunnel synced from another unit keeps its index only where it
        // is free (an Akka cut lets both sides give one name to two tunnels).
        var index = DialupInstanceNames.ForNewTunnel(_localIndex.Values);
        var name = DialupInstanceNames.Name(_phase1.Name, index);
        var record = new TunnelRecord(TunnelRecord.KeyOf(_phase1.Name, est.Sa.SpiI, est.Sa.SpiR), _phase1.Name, name, index, _serial,
            _fgcpGroup, 1, 1, est.Sa, est.Child, 1, 1, 0, DateTimeOffset.UtcNow, _childLifetime, _localGateway, d.From, d.FromPort,
            est.Ts.Initiator, est.Ts.Responder, false).WithNatT(est.Sa, _phase1.Keepalive);
        _log.Debug("{0}: {1} established with {2} ({3}); syncing to every unit", _phase1.Name, name, d.From, est.PeerId);
        Write(record);
    }

    private void Resync(IkeSaState sa)
    {
        var record = OwnedBySpis(sa.SpiI, sa.SpiR);
        if (record is not null) Write(record with { Ike = sa, SyncSeq = record.SyncSeq + 1 });
    }

    /// <summary>
    /// The owner's CHILD SA nears the end of its sequence space: ask the client for a CREATE_CHILD_SA rekey (FortiOS
    /// rekeys rather than cycle), or resend the request still unanswered. The advanced message ID is synced at once,
    /// so a unit that takes the tunnel over mid-exchange never reuses it for a different request (README).
    /// </summary>
    private void RekeyChild(string key)
    {
        if (!_isPrimary || !_records.TryGetValue(key, out var r) || r.Deleted || r.OwnerSerial != _serial) return;
        byte[] request;
        try
        {
            request = _gateway.PendingRequest(r.Ike.SpiR) ?? _gateway.RekeyChild(r.Ike.SpiR);
        }
        catch (InvalidOperationException e)
        {
            _log.Warning("{0}: {1}: CHILD SA rekey not possible now: {2}", _phase1.Name, r.Name, e.Message);
            return;
        }
        Context.Parent.Tell(new SendIke(new IPEndPoint(r.RemoteGateway, r.RemotePort), request, r.NattActive));
        if (_gateway.Export(r.Ike.SpiR) is { } sa && sa.NextRequestId != r.Ike.NextRequestId) Write(r with { Ike = sa, SyncSeq = r.SyncSeq + 1 });
    }

    /// <summary>
    /// A new CHILD SA (the client rekeyed, or answered our rekey): new SPIs and keys, the next proxyid serial, sequence
    /// from 1, synced at once. After our own rekey we delete the old CHILD SA (RFC 7296 §2.8).
    /// </summary>
    private void Rekeyed(ChildSaRekeyed rekeyed)
    {
        var record = OwnedBySpis(rekeyed.Sa.SpiI, rekeyed.Sa.SpiR);
        if (record is null) return;
        _log.Info("{0}: {1} rekeyed: new CHILD SA in {2:x8} out {3:x8}", _phase1.Name, record.Name, rekeyed.New.InboundSpi, rekeyed.New.OutboundSpi);
        var ike = rekeyed.Sa;
        if (rekeyed.RekeyedHere && rekeyed.Old is { } old)
        {
            Context.Parent.Tell(new SendIke(new IPEndPoint(record.RemoteGateway, record.RemotePort), _gateway.CreateDeleteChild(ike.SpiR, old), record.NattActive));
            ike = _gateway.Export(ike.SpiR) ?? ike;
        }
        Write(record with
        {
            Ike = ike, Child = rekeyed.New, ProxyIdSerial = record.ProxyIdSerial + 1, NextOutboundSeq = 1, ReplayHighest = 0,
            EstablishedAt = DateTimeOffset.UtcNow, SyncSeq = record.SyncSeq + 1
        });
    }

    /// <summary>The client deleted its IKE SA: the instance goes on every unit.</summary>
    private void Deleted(IkeSaState sa)
    {
        var record = OwnedBySpis(sa.SpiI, sa.SpiR);
        if (record is null) return;
        _log.Info("{0}: {1} deleted by the client", _phase1.Name, record.Name);
        Write(record with { Deleted = true, Ike = sa, SyncSeq = record.SyncSeq + 1 });
    }

    private void CountReceived(int records)
    {
        if (Sender.Path.Address.HasGlobalScope) Context.Parent.Tell(new FgspSyncCounted(Sender.Path.Address.ToString(), Sent: false, records));
    }

    private void OnPushed(TunnelRecord r)
    {
        var sender = _identities.Attribute(Sender, r.OwnerSerial);
        var from = Sender.Path.Address.ToString();
        if (FgspAccepted(FgspSyncPolicy.AcceptClear(_fgsp, sender, InOwnCluster(sender)), r.Name, sender, from) && Authorized(r, sender, from)) Apply(r);
    }

    private void OnPushedSealed(SealedTunnelRecord s)
    {
        var sender = _identities.Attribute(Sender, s.SenderSerial);
        var from = Sender.Path.Address.ToString();
        var r = FgspSyncPolicy.AcceptSealed(_fgsp, s, sender, InOwnCluster(sender), out var refusal);
        if (FgspAccepted(refusal, s.Key, sender, from) && r is not null && Authorized(r, sender, from)) Apply(r);
    }

    private void OnRole(HaRoleChanged role)
    {
        if (role.Serial != _serial) return;
        _primarySerial = role.PrimarySerial;
        var wasPrimary = _isPrimary;
        _isPrimary = role.Role == HaRole.Primary;
        if (_isPrimary != wasPrimary)
        {
            foreach (var tunnel in _tunnels.Values) tunnel.Tell(new TunnelClaimsAllowed(_isPrimary));
            // Inside an FGCP cluster the tunnels this unit's records name it owner of follow its FGCP role at once
            // (TunnelOwnership.ShownRole): their watchers see them go standby, or sync-primary again.
            if (InFgcpCluster)
                foreach (var r in NamingThisUnitOwner())
                    Context.System.EventStream.Publish(new TunnelRoleObserved(_serial, _phase1.Name, r.Key, ShownRole(r)));
        }
        if (TunnelOwnership.HandOverTo(wasPrimary, _isPrimary, _fgcpGroup, role.PrimarySerial, _serial) is { } primary)
        {
            _handover = (primary, HandoverRounds);
            Timers.StartPeriodicTimer("handover", HandoverTick.Instance, HandoverInterval);
            HandOver(); // the first round at once; it cancels the timer when there is nothing to hand over
        }
        if (!_isPrimary || wasPrimary) return;
        // FGCP failover: this unit now answers for its cluster, so it owns every tunnel its cluster owned.
        _claimedThisTerm.Clear();
        foreach (var r in _records.Values.ToList()) ClaimIfOurClusters(r);
        // A push this unit missed is still in the other units' replicas: read them all, claims follow in Apply. Only the
        // shards that exist (GetKeysIdsResult above), not 256 reads from a majority at the moment of a failover.
        _replicator.Tell(Dsl.GetKeyIds);
        // Not an Akka member (yet): a restarted unit, primary again before its rejoin. Distributed Data reaches it only
        // once it is Up, seconds later; its FGCP peers hold what its previous incarnation signed.
        if (InFgcpCluster && !IsAkkaMember)
        {
            _entriesWantedRounds = EntriesWantedRounds;
            Timers.StartPeriodicTimer("entries-wanted", EntriesWantedTick.Instance, EntriesWantedInterval);
            AskPreviousEntries();
        }
    }

    /// <summary>This incarnation is an Up (or weakly up) member of the Akka cluster, so Distributed Data reaches it.</summary>
    private bool IsAkkaMember =>
        _cluster.State.Members.Any(m => m.UniqueAddress == _cluster.SelfUniqueAddress && m.Status is MemberStatus.Up or MemberStatus.WeaklyUp);

    /// <summary>
    /// One round of a returning primary's question (<see cref="TunnelEntriesWanted"/>) to every other unit of its FGCP
    /// cluster, at the address its lab certificate was proved on. Ends when one answers, when this unit is an Akka member
    /// (gossip brings the entries), when it is no longer primary, or after <see cref="EntriesWantedRounds"/>.
    /// </summary>
    private void AskPreviousEntries()
    {
        if (!_isPrimary || _entriesWantedRounds <= 0 || IsAkkaMember)
        {
            StopAskingEntries();
            return;
        }
        _entriesWantedRounds--;
        foreach (var serial in _ownCluster.Where(s => s != _serial))
            if (AuthenticatedAddressOf(serial) is { } to) Phase1At(to).Tell(new TunnelEntriesWanted(_serial));
    }

    private void StopAskingEntries()
    {
        _entriesWantedRounds = 0;
        Timers.Cancel("entries-wanted");
    }

    /// <summary>A returning unit of this FGCP cluster asks for its previous incarnation's entries: read from this unit's
    /// replicas and sent to the address its certificate was proved on. From anyone else: dropped and counted.</summary>
    private void OnEntriesWanted(TunnelEntriesWanted m)
    {
        var sender = _identities.Attribute(Sender, m.Serial);
        if (sender != m.Serial || sender == _serial || !InFgcpCluster || !InOwnCluster(sender) || AuthenticatedAddressOf(sender) is not { } to)
        {
            if (_identities.Refusals.Refused("tunnel-entries-wanted", sender ?? Sender.Path.Address.ToString(), out var suppressed))
                _log.Warning("{0}: request for {1}'s tunnel entries from {2} dropped: {3}{4}", _phase1.Name, m.Serial, Sender.Path.Address,
                    sender is null ? "its certificate proves no unit" : sender != m.Serial ? $"its certificate proves {sender}" : "not a unit of this FGCP cluster",
                    suppressed > 0 ? $" ({suppressed} more from it since)" : "");
            return;
        }
        // Every shard of both kinds, read locally: a shard never written answers NotFound.
        var answer = new EntriesAnswer(_clear.All.Count + _sealed.All.Count);
        foreach (var k in _clear.All.Concat(_sealed.All)) _replicator.Tell(Dsl.Get(k, ReadLocal.Instance, new EntriesFor(sender, to, answer)));
    }

    private void AnswerEntriesWanted(EntriesFor wanted, IKey key, object? data)
    {
        var manifest = _clear.Holds(key, out _, out _) ? _clear.Manifest : _sealed.Holds(key, out _, out _) ? _sealed.Manifest : null;
        if (manifest is null) return;
        var entries = data is LWWDictionary<string, SignedTunnelRecord> replicated
            ? replicated.Entries.Where(e => e.Value.SignerSerial == wanted.Serial).Select(e => new TunnelEntry(e.Key, e.Value)).ToList()
            : [];
        var peer = Phase1At(wanted.To);
        foreach (var chunk in entries.Chunk(TunnelEntries.MaxPerMessage)) peer.Tell(new TunnelEntries(_serial, manifest, chunk));
        wanted.Answer.Sent += entries.Count;
        if (--wanted.Answer.ReadsLeft > 0) return;
        // Nothing it signed here: one empty answer, so it stops asking.
        if (wanted.Answer.Sent == 0) peer.Tell(new TunnelEntries(_serial, SignedReplicas.ClearManifest, []));
        else _log.Info("{0}: {1} returned before its Akka rejoin: sent it the {2} entries it signed", _phase1.Name, wanted.Serial, wanted.Answer.Sent);
    }

    /// <summary>
    /// The answer to this unit's <see cref="TunnelEntriesWanted"/>, accepted only from a unit of its FGCP cluster that its
    /// certificate proves; each entry is checked as gossip is (its signature, then the sync rules), and a record its
    /// previous incarnation owned is re-claimed in <see cref="Apply"/>. What this incarnation then owns goes back to the
    /// answerer at once: it is no Akka member yet, so no push reached it.
    /// </summary>
    private void OnEntries(TunnelEntries m)
    {
        var sender = _identities.Attribute(Sender, m.FromSerial);
        var manifest = m.Manifest == SignedReplicas.ClearManifest || m.Manifest == SignedReplicas.SealedManifest ? m.Manifest : null;
        if (sender != m.FromSerial || sender == _serial || !InOwnCluster(sender) || manifest is null)
        {
            if (_identities.Refusals.Refused("tunnel-entries", sender ?? Sender.Path.Address.ToString(), out var suppressed))
                _log.Warning("{0}: tunnel entries from {1} dropped: {2}{3}", _phase1.Name, Sender.Path.Address,
                    sender is null ? "its certificate proves no unit" : sender != m.FromSerial ? $"it names {m.FromSerial}, its certificate {sender}"
                    : manifest is null ? $"unknown payload {m.Manifest}" : "not a unit of this FGCP cluster",
                    suppressed > 0 ? $" ({suppressed} more from it since)" : "");
            return;
        }
        StopAskingEntries();
        foreach (var e in m.Entries) ApplyReplicatedEntry(e.Key, e.Entry, manifest);
        if (m.Entries.Count > 0 && AuthenticatedAddressOf(sender) is { } back) PushOwned(back);
    }

    /// <summary>
    /// One round of the hand-over (<see cref="TunnelOwnership.HandOverTo"/>): every live record that still names this
    /// unit owner goes to the new primary, at the address its lab certificate was proved on (authenticated membership,
    /// never an address a heartbeat named). Ends when no record names this unit any more (the claim arrived), when it is
    /// primary again, or after <see cref="HandoverRounds"/>.
    /// </summary>
    private void HandOver()
    {
        var owned = NamingThisUnitOwner().ToList();
        if (_isPrimary || _handover is not { } h || h.RoundsLeft <= 0 || owned.Count == 0)
        {
            _handover = null;
            Timers.Cancel("handover");
            return;
        }
        _handover = h with { RoundsLeft = h.RoundsLeft - 1 };
        if (AuthenticatedAddressOf(h.Primary) is not { } to)
            return; // not yet authenticated anywhere: the next round, or its Akka join, carries the records
        Push(to, owned);
        // After the records, on the same path: this unit, no longer primary, sends nothing on them and claims nothing
        // while secondary, so the primary may take each even when it already claimed it this term (OnReleased).
        foreach (var r in owned) Phase1At(to).Tell(new TunnelReleased(r.Key, r.Generation, _serial));
    }

    private void ClaimIfOurClusters(TunnelRecord r)
    {
        if (!_isPrimary || !TunnelOwnership.ClaimedByPrimary(r, _serial, _fgcpGroup, _ownedHere.Contains(r.Key)) || !_claimedThisTerm.Add(r.Key)) return;
        _log.Info("{0}: taking {1} over from {2}: this unit is its FGCP cluster's primary", _phase1.Name, r.Name,
            r.OwnerSerial == _serial ? "this unit's previous incarnation" : r.OwnerSerial);
        // A previous owner that is still an Up, reachable member (a split brain, a stall) may still be encrypting: the
        // instance holds its replies for that unit's release, as a traffic claim does (container heartbeat-cut: the old
        // primary encrypted 9 replies 3.5 ms after the new one's first frame, all too old for the client).
        if (r.OwnerSerial != _serial && !r.Deleted && CanRelease(r.OwnerSerial) && _tunnels.TryGetValue(r.Key, out var instance))
            instance.Tell(new HoldForRelease(r.OwnerSerial, r.Generation));
        Write(TunnelOwnership.Claim(r, _serial, _fgcpGroup));
    }

    /// <summary>
    /// Valid ESP for a tunnel held as standby reached this unit: the router sends the client here now (its cluster was
    /// removed from ECMP), so this unit becomes the owner and tells every other unit, the former owner included.
    /// </summary>
    private void ClaimByTraffic(string key)
    {
        if (!_records.TryGetValue(key, out var r) || r.Deleted || r.OwnerSerial == _serial) return;
        if (!_isPrimary)
        {
            _log.Warning("{0}: traffic for {1} reached an FGCP secondary; not claimed", _phase1.Name, r.Name);
            Sender.Tell(new TunnelClaimRefused(key));
            return;
        }
        _log.Info("{0}: taking {1} over from {2}: its traffic now arrives at this unit", _phase1.Name, r.Name, r.OwnerSerial);
        var claim = TunnelOwnership.Claim(r, _serial, _fgcpGroup);
        Write(claim);
        // The instance holds its replies for the previous owner's release (TrafficClaimHold); a unit that is not an Up,
        // reachable member at the address its certificate was proved on cannot send it, nor ESP: no reason to wait.
        if (!CanRelease(r.OwnerSerial)) Sender.Tell(new TunnelReleased(key, claim.Generation, r.OwnerSerial));
    }

    /// <summary>The unit with <paramref name="serial"/> is an Up, reachable Akka member at its authenticated address: it
    /// can still send ESP, and its release (<see cref="TunnelReleased"/>) can reach this unit.</summary>
    private bool CanRelease(string serial)
    {
        if (_identities.AddressOf(serial) is not { } hostPort) return false;
        var state = _cluster.State;
        bool At(Member m) => UnitIdentities.KeyOf(m.Address) == hostPort;
        return state.Members.Any(m => At(m) && m.Status == MemberStatus.Up) && !state.Unreachable.Any(At);
    }

    /// <summary>An instance of this unit lost its tunnel to another unit's record: that unit hears it at the address its
    /// certificate was proved on (never one a message named), so a claim's held replies go out at once: a traffic claim's,
    /// or an FGCP claim's made while this unit was still a reachable member (<see cref="HoldForRelease"/>).</summary>
    private void SendRelease(TunnelHandedOff h)
    {
        if (h.NewOwnerSerial == _serial || AuthenticatedAddressOf(h.NewOwnerSerial) is not { } to) return;
        Phase1At(to).Tell(new TunnelReleased(h.Key, h.Generation, _serial));
    }

    /// <summary>The Akka address the unit with <paramref name="serial"/> proved its lab certificate on; null when it has
    /// not (yet) authenticated anywhere.</summary>
    private Address? AuthenticatedAddressOf(string serial) =>
        _identities.AddressOf(serial) is { } hostPort
        && Address.TryParse($"{_cluster.SelfAddress.Protocol}://{_cluster.SelfAddress.System}@{hostPort}", out var to) ? to : null;

    /// <summary>This phase1's counterpart on the unit at <paramref name="to"/>.</summary>
    private ActorSelection Phase1At(Address to)
    {
        if (!_selections.TryGetValue(to, out var peer)) _selections[to] = peer = Context.ActorSelection(Self.Path.ToStringWithAddress(to));
        return peer;
    }

    /// <summary>A previous owner's release, from the wire: accepted only from the unit whose certificate proves the serial
    /// it names, and only for a tunnel this unit holds (the instance checks it is the owner it waits for).</summary>
    private void OnReleased(TunnelReleased m)
    {
        var sender = _identities.Attribute(Sender, m.FromSerial);
        if (sender != m.FromSerial)
        {
            if (_identities.Refusals.Refused("tunnel-release", sender ?? Sender.Path.Address.ToString(), out var suppressed))
                _log.Warning("{0}: tunnel release for {1} from {2} dropped: it names {3}, its certificate {4}{5}", _phase1.Name, m.Key,
                    Sender.Path.Address, m.FromSerial, sender ?? "proves no unit", suppressed > 0 ? $" ({suppressed} more from it since)" : "");
            return;
        }
        if (_tunnels.TryGetValue(m.Key, out var tunnel)) tunnel.Tell(m);
        // A unit of this FGCP cluster that stepped down hands the tunnel over (HandOver): the record still names it at
        // that generation. It is not primary, so it cannot outbid this claim; the one claim per term, which keeps two
        // split-brain primaries from outbidding each other, must not keep a primary whose term outlived an earlier
        // claim from taking it (heartbeat-loss, CI trial 15: no owner at all after the heal).
        if (_isPrimary && m.FromSerial != _serial && InOwnCluster(m.FromSerial) && _records.TryGetValue(m.Key, out var r)
            && !r.Deleted && r.OwnerSerial == m.FromSerial && r.Generation == m.Generation)
        {
            _claimedThisTerm.Remove(m.Key);
            ClaimIfOurClusters(r);
        }
    }

    /// <summary>
    /// A record this unit writes: applied here at once, and sent (pushed to every target, written to Distributed Data)
    /// with every other record the same message wrote, once its handling ends (<see cref="AroundReceive"/>): an FGCP
    /// takeover's claims of a whole cluster's tunnels go as batches, one Distributed Data update per shard, not one
    /// message per tunnel (README "Batched sync").
    /// </summary>
    private void Write(TunnelRecord record)
    {
        if (record.OwnerSerial == _serial) _ownedHere.Add(record.Key);
        Apply(record);
        _unsent.Add((record, true));
    }

    /// <summary>What this message wrote (or answered: <see cref="AnswerCrossedClaim"/>, pushed only), in order, not yet sent.</summary>
    private readonly List<(TunnelRecord Record, bool Replicate)> _unsent = new();

    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        finally
        {
            // Also when the handler threw: what it applied here is sent, not lost with the restart.
            if (_unsent.Count > 0) SendWritten();
        }
    }

    private void SendWritten()
    {
        var unsent = _unsent.ToList();
        _unsent.Clear();
        var records = unsent.Select(u => u.Record).ToList();
        var replicated = unsent.Where(u => u.Replicate).Select(u => u.Record).ToList();
        var acrossClusters = FgspSync.Pushes(_phase1.FgspSync);
        // Sealed once for every unit of another cluster (and Distributed Data), not once per unit.
        var targets = PushTargets().ToList();
        List<SealedTunnelRecord>? sealedForm = null;
        var fgspForm = FgspSyncPolicy.SendForm(_fgsp, targetInOwnCluster: false);
        if (fgspForm == FgspSendForm.Sealed && (acrossClusters || targets.Any(t => !InOwnCluster(_identities.SerialOf(t)))))
            sealedForm = records.Select(r => FgspSyncSeal.Seal(r, _serial, _fgsp.Key!)).ToList();
        foreach (var address in targets) Push(address, records, sealedForm);
        if (replicated.Count == 0) return;
        // Distributed Data reaches every member, other clusters' units included: with encryption enable only sealed. With
        // fgsp-sync disable the clear key is one only this unit's FGCP cluster reads (FgspSync.DataKey), and nothing is sealed.
        // Queued by shard and written within the unit's budget (FlushReplicas), however many records this message wrote.
        switch (acrossClusters ? fgspForm : FgspSendForm.Clear)
        {
            case FgspSendForm.Clear:
                foreach (var r in replicated)
                {
                    _writtenClear.Add(r.Key);
                    QueueReplica(_clear.For(r.Key), r.Key, r, TunnelOwnership.Clock(r));
                }
                break;
            case FgspSendForm.Sealed:
                // sealedForm is set here (Sealed across clusters), index by index with records.
                for (var i = 0; i < records.Count; i++)
                {
                    if (!unsent[i].Replicate) continue;
                    var sealedRecord = sealedForm![i];
                    QueueReplica(_sealed.For(records[i].Key), records[i].Key, sealedRecord,
                        (sealedRecord.Generation << 32) | Math.Min(sealedRecord.SyncSeq, uint.MaxValue));
                }
                // Encryption turned on at run time: the clear copies this unit wrote before must not stay readable.
                foreach (var r in replicated.Where(r => _writtenClear.Remove(r.Key)))
                    QueueReplica(_clear.For(r.Key), r.Key, null, 0);
                break;
        }
        FlushReplicas();
    }

    /// <summary>
    /// Distributed Data writes not made yet, by shard key, oldest shard first: the unit's <see cref="ReplicaWriteBudget"/>
    /// lets through what one delta propagation can carry (README "Distributed Data at scale"). A record written again
    /// before its shard goes replaces the pending one (the newer wins in the dictionary anyway). Signed when its shard
    /// goes, not before: an FGCP takeover's claims are pushed first and signed for Distributed Data after.
    /// </summary>
    private readonly Dictionary<LWWDictionaryKey<string, SignedTunnelRecord>, PendingShardWrite> _replicaPending = new();
    private readonly Queue<LWWDictionaryKey<string, SignedTunnelRecord>> _replicaOrder = new();
    private readonly ReplicaWriteBudget _replicaBudget = ReplicaWriteBudgets.Of(Context.System);

    /// <summary>One shard's pending writes by record key: a clear or sealed record to sign and set, or null to remove.</summary>
    private sealed class PendingShardWrite
    {
        public readonly Dictionary<string, (object? Payload, SignedTunnelRecord? Entry, long Clock)> Ops = new(StringComparer.Ordinal);
    }

    private void QueueReplica(LWWDictionaryKey<string, SignedTunnelRecord> shard, string recordKey, object? payload, long clock)
    {
        if (!_replicaPending.TryGetValue(shard, out var write))
        {
            _replicaPending[shard] = write = new PendingShardWrite();
            _replicaOrder.Enqueue(shard);
        }
        write.Ops[recordKey] = (payload, null, clock);
    }

    private void FlushReplicas()
    {
        var others = Math.Max(0, _cluster.State.Members.Count(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp) - 1);
        while (_replicaOrder.TryPeek(out var shard))
        {
            var write = _replicaPending[shard];
            var bytes = 0;
            foreach (var (recordKey, op) in write.Ops.ToList())
            {
                var entry = op.Entry ?? op.Payload switch
                {
                    TunnelRecord r => _replicas.Wrap(r),
                    // Signed outside the seal (README "Signed Distributed Data entries"): who wrote it is checked before opening.
                    SealedTunnelRecord sr => _replicas.Wrap(sr),
                    _ => null
                };
                if (entry is not null && op.Entry is null) write.Ops[recordKey] = op with { Entry = entry };
                bytes += entry is null ? ReplicaWriteBudget.PerEntryOverhead + 2 * recordKey.Length : ReplicaWriteBudget.EntryBytes(recordKey, entry);
            }
            if (!_replicaBudget.TryTake(bytes, others, out var retryAfter))
            {
                Timers.StartSingleTimer("replica-flush", ReplicaFlush.Instance, retryAfter);
                return;
            }
            _replicaOrder.Dequeue();
            _replicaPending.Remove(shard);
            var ops = write.Ops.Select(kv => (Key: kv.Key, kv.Value.Entry, kv.Value.Clock)).ToList();
            _replicator.Tell(Dsl.Update(shard, LWWDictionary<string, SignedTunnelRecord>.Empty, WriteLocal.Instance, d =>
            {
                foreach (var (key, entry, clock) in ops)
                    d = entry is null ? d.Remove(_cluster, key) : d.SetItem(_cluster, key, entry, (_, _) => clock);
                return d;
            }));
        }
    }

    /// <summary>The budget allows the next pending shard's writes (<see cref="FlushReplicas"/>).</summary>
    private sealed class ReplicaFlush
    {
        public static readonly ReplicaFlush Instance = new();
    }

    private void ApplyReplicated(IKey key, object? data)
    {
        if (data is not LWWDictionary<string, SignedTunnelRecord> replicated) return;
        if (_clear.Holds(key, out var shard, out _)) ApplyReplicated(replicated, _clear.Manifest, shard);
        else if (_sealed.Holds(key, out shard, out _)) ApplyReplicated(replicated, _sealed.Manifest, shard);
    }

    /// <summary>
    /// Distributed Data's view: each entry is attributed to the lab unit whose key signed it (<see cref="SignedReplicas"/>),
    /// never to its register's UpdatedBy, which any lab-certificate holder can set to any member, this unit included; then
    /// checked as a push from that unit would be. An unsigned or badly signed entry is dropped and counted once
    /// (<c>dd-signature CAUSE</c>), logged once per claimed signer a minute.
    /// </summary>
    private void ApplyReplicated(LWWDictionary<string, SignedTunnelRecord> replicated, string manifest, int shard)
    {
        var entries = replicated.Entries;
        _replicas.Retain(manifest, shard, entries.Keys.ToHashSet(StringComparer.Ordinal));
        foreach (var (key, entry) in entries) ApplyReplicatedEntry(key, entry, manifest, shard);
    }

    /// <summary>One entry of Distributed Data (or of a <see cref="TunnelEntries"/> answer), checked as gossip is.</summary>
    private void ApplyReplicatedEntry(string key, SignedTunnelRecord entry, string manifest, int? shard = null)
    {
        var opened = _replicas.Open(key, entry, manifest, out var fresh, shard);
        if (!opened.Accepted)
        {
            if (fresh) RefusedReplica(key, entry, opened);
            return;
        }
        var sender = opened.Writer;
        var from = $"distributed data, signed by {sender}";
        switch (opened.Payload)
        {
            case TunnelRecord record:
                if (FgspAccepted(FgspSyncPolicy.AcceptClear(_fgsp, sender, InOwnCluster(sender)), record.Name, sender, from)
                    && Authorized(record, sender, from)) Apply(record);
                break;
            case SealedTunnelRecord sealedRecord:
                // An entry already applied is not opened again at every gossip round.
                if (_records.TryGetValue(key, out var known) && known.Generation == sealedRecord.Generation && known.SyncSeq >= sealedRecord.SyncSeq
                    && sealedRecord.SenderSerial == known.OwnerSerial) return;
                var opened2 = FgspSyncPolicy.AcceptSealed(_fgsp, sealedRecord, sender, InOwnCluster(sender), out var refusal);
                if (FgspAccepted(refusal, key, sender, from) && opened2 is not null && Authorized(opened2, sender, from)) Apply(opened2);
                break;
        }
    }

    private void RefusedReplica(string key, SignedTunnelRecord entry, OpenedReplica opened)
    {
        // The serial an unverified entry names is only a label for the log: one line per name a minute, bounded (PerSenderLog).
        var claimed = entry.SignerSerial ?? "?";
        if (_identities.Refusals.Refused(SignedReplicas.RefusalKindPrefix + opened.Cause, claimed, out var suppressed, logKey: "dd-signature|" + claimed))
            _log.Warning("{0}: Distributed Data entry {1} (naming {2} as signer) dropped: {3}: {4}{5}", _phase1.Name, key, claimed, opened.Cause, opened.Why,
                suppressed > 0 ? $" ({suppressed} more naming it since)" : "");
    }

    /// <summary>Drops (counted, logged once per sender a minute) a record its sender may not send.</summary>
    private bool Authorized(TunnelRecord incoming, string? sender, string from)
    {
        var why = FgspSync.Refuses(incoming, _phase1.FgspSync, _fgcpGroup, _serial)
                  ?? SyncAuthorization.TunnelRecord(incoming, _records.GetValueOrDefault(incoming.Key), sender);
        if (why is null) return true;
        if (_identities.Refusals.Refused("tunnel-record", sender ?? from, out var suppressed))
            _log.Warning("{0}: tunnel record {1} from {2} ({3}) dropped: {4}{5}", _phase1.Name, incoming.Name, from, sender ?? "unauthenticated", why,
                suppressed > 0 ? $" ({suppressed} more from it since)" : "");
        return false;
    }

    /// <summary>Where the unit's forwarding plane finds this instance: its inbound SPI and the client's subnets.</summary>
    private static TunnelPathChanged PathOf(TunnelRecord r, IActorRef tunnel) =>
        new(r.Key, r.Phase1, r.Child.InboundSpi,
            r.RemoteSelectors.Select(s => (Ipv4Address.ToUInt32(s.StartAddress), Ipv4Address.ToUInt32(s.EndAddress))).ToList(), tunnel)
        {
            RemoteGateway = r.RemoteGateway
        };

    /// <summary>
    /// Applies a record seen locally or from another unit: the owner by <see cref="TunnelOwnership.Compare"/>, the CHILD SA
    /// the newest either carries (<see cref="TunnelOwnership.Merge"/>). A graft of the two is written like any record,
    /// so every unit, and the owner that never saw the rekey, converges on it.
    /// </summary>
    private void Apply(TunnelRecord incoming)
    {
        TunnelRecord? known = null;
        if (_records.TryGetValue(incoming.Key, out known))
        {
            var merged = TunnelOwnership.Merge(known, incoming);
            if (ReferenceEquals(merged, known))
            {
                if (TunnelOwnership.Compare(incoming, known) < 0)
                {
                    _log.Warning($"{_phase1.Name}: stale sync for {known.Name} ignored: generation {incoming.Generation}/sync {incoming.SyncSeq} " +
                                 $"from {incoming.OwnerSerial} is older than generation {known.Generation}/sync {known.SyncSeq} from {known.OwnerSerial}");
                    AnswerCrossedClaim(known, incoming);
                }
                return; // never applied: an equal record is one we already hold
            }
            if (!ReferenceEquals(merged, incoming))
            {
                _log.Info("{0}: {1}: a CHILD SA rekey (proxyid serial {2}) crossed the claim of generation {3} by {4}: the owner takes the new CHILD SA",
                    _phase1.Name, known.Name, merged.ProxyIdSerial, merged.Generation, merged.OwnerSerial);
                Write(merged);
                return;
            }
            if (known.OwnerSerial == _serial && incoming.OwnerSerial != _serial)
            {
                _log.Info("{0}: {1} is now owned by {2}; this unit holds it as standby", _phase1.Name, incoming.Name, incoming.OwnerSerial);
                _gateway.Forget(incoming.Ike.SpiR);
            }
        }
        _records[incoming.Key] = incoming;
        _keyBySpis.Applied(known, incoming);
        if (known is not null && known.OwnerSerial != incoming.OwnerSerial && !incoming.Deleted)
            Context.System.EventStream.Publish(new TunnelOwnerChanged(_serial, incoming.Key, incoming.OwnerSerial, incoming.Generation,
                System.Diagnostics.Stopwatch.GetTimestamp()));
        PublishRole(known, incoming);
        if (incoming.OwnerSerial == _serial && !incoming.Deleted && _phase1.Dpd == DpdMode.OnIdle && !Timers.IsTimerActive("dpd"))
            Timers.StartPeriodicTimer("dpd", DpdTick.Instance, DpdCheckInterval);
        if (incoming.Deleted)
        {
            // Deleted by the client or flushed by DPD, on whichever unit: the gateway answers it no more (it was resumed from
            // the deleted record before, so a flushed peer's next DPD was answered and the gateway held every SA that
            // ever existed), and nothing is left of its liveness.
            _gateway.Forget(incoming.Ike.SpiR);
            _liveness.Remove(incoming.Key);
        }
        else if (incoming.OwnerSerial == _serial) _gateway.Resume(incoming.Ike); // answer DPD with the synced message IDs
        if (_tunnels.TryGetValue(incoming.Key, out var tunnel))
        {
            if (incoming.Deleted)
            {
                Context.Stop(tunnel);
                _tunnels.Remove(incoming.Key);
                _localIndex.Remove(incoming.Key);
                Context.Parent.Tell(new TunnelPathRemoved(incoming.Key));
            }
            else
            {
                tunnel.Tell(new TunnelRecordChanged(incoming));
                if (known is not null && known.Child.InboundSpi != incoming.Child.InboundSpi) Context.Parent.Tell(PathOf(incoming, tunnel));
            }
        }
        else if (!incoming.Deleted)
        {
            Context.System.EventStream.Publish(new TunnelPresent(_serial, incoming.Key, incoming.OwnerSerial == _serial, System.Diagnostics.Stopwatch.GetTimestamp()));
            // A previous incarnation's record: its counter is not known here, so the instance sends only from the jump.
            var inherited = TunnelOwnership.Inherited(incoming, _serial, _ownedHere.Contains(incoming.Key));
            var index = _localIndex[incoming.Key] = DialupInstanceNames.ForSynced(incoming.Index, _localIndex.Values);
            if (index != incoming.Index)
                _log.Info("{0}: {1} (owner {2}) is shown here as {3}: this unit already shows another tunnel under that name",
                    _phase1.Name, incoming.Name, incoming.OwnerSerial, DialupInstanceNames.Name(_phase1.Name, index));
            var created = _tunnels[incoming.Key] = Context.ActorOf(DialupTunnelActor.Props(_serial, incoming, _boundInterfaceIndex, inherited, index, claimsAllowed: _isPrimary,
                    inFgcpCluster: InFgcpCluster, dpd: DpdState.Configured(_phase1.Dpd, _phase1.DpdRetryInterval, _phase1.DpdRetryCount)),
                Uri.EscapeDataString(incoming.Key));
            Context.Parent.Tell(PathOf(incoming, created));
        }
        // A record that reaches the primary late (it restarted, or the sync arrived after its election) is still its cluster's.
        ClaimIfOurClusters(incoming);
    }

    /// <summary>
    /// Another unit's claim of the same generation lost here to this unit's own (README, "Two claims from one record"):
    /// this unit's record goes to every member once per such claim, so the claimer steps down and every unit holds the
    /// same owner. Distributed Data alone may not carry it: with equal generation and sync sequence the two entries'
    /// clocks tie, the dictionary keeps one by Akka's node order, and that may be the claim that lost by serial.
    /// </summary>
    private void AnswerCrossedClaim(TunnelRecord ours, TunnelRecord lost)
    {
        if (ours.OwnerSerial != _serial || ours.Deleted || lost.OwnerSerial == _serial || lost.Generation != ours.Generation) return;
        if (!_crossedClaimsAnswered.Add((ours.Key, lost.OwnerSerial, lost.Generation, lost.SyncSeq))) return;
        _unsent.Add((ours, false));
    }

    /// <summary>The crossed claims answered (<see cref="AnswerCrossedClaim"/>): each once, however often gossip shows it.</summary>
    private readonly HashSet<(string Key, string Owner, long Generation, long SyncSeq)> _crossedClaimsAnswered = new();

    /// <summary>
    /// The instance's role here changed (present, owner changed, deleted): told to the unit's watchers
    /// (<see cref="TunnelRoleObserved"/>). A first synced copy of a record as its owner wrote it at IKE_AUTH (generation 1,
    /// sync 1) carries the sync lag: a later one would measure how old the tunnel is, not how late its sync was.
    /// </summary>
    private void PublishRole(TunnelRecord? known, TunnelRecord incoming)
    {
        TunnelRole? RoleOf(TunnelRecord? r) => r is null || r.Deleted ? null : ShownRole(r);
        var (before, now) = (RoleOf(known), RoleOf(incoming));
        if (before == now) return;
        TimeSpan? lag = before is null && now == TunnelRole.Standby && incoming is { Generation: 1, SyncSeq: 1 }
            ? TimeSpan.FromTicks(Math.Max(0, (DateTimeOffset.UtcNow - incoming.EstablishedAt).Ticks))
            : null;
        Context.System.EventStream.Publish(new TunnelRoleObserved(_serial, _phase1.Name, incoming.Key, now, lag));
    }

    private TunnelRole ShownRole(TunnelRecord r) => TunnelOwnership.ShownRole(r, _serial, InFgcpCluster, _isPrimary);

    /// <summary>This unit is a member of an FGCP cluster, not a standalone FGSP member.</summary>
    private bool InFgcpCluster => _fgcpGroup != TunnelOwnership.NoFgcpCluster;

    /// <summary>The live records that name this unit owner (this incarnation's or a previous one's).</summary>
    private IEnumerable<TunnelRecord> NamingThisUnitOwner() => _records.Values.Where(r => !r.Deleted && r.OwnerSerial == _serial);

    private async Task<TunnelList> ListTunnels()
    {
        var states = await Task.WhenAll(_tunnels.Values.Select(t => t.Ask<DialupTunnelState>(GetTunnelState.Instance, TimeSpan.FromSeconds(5))));
        return new TunnelList(states.OrderBy(s => s.Index).ToList());
    }
}

/// <summary>
/// A record the unit's phase1 held in its previous ActorSystem, handed to the new one by <c>FortiGateUnit</c> after a
/// restart to rejoin Akka. Local only: not an IWireMessage, so the protocol serializer never carries it.
/// </summary>
public sealed record CarriedTunnel(TunnelRecord Record);
