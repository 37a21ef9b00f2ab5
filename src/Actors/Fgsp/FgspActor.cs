using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.Event;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Fgsp;

namespace ClusterActors.Actors.Fgsp;

public sealed record GetFgspStatus
{
    public static readonly GetFgspStatus Instance = new();
}

/// <summary>What `diagnose sys ha standalone-peers` needs from this unit's FGSP side.</summary>
public sealed record FgspStatus(
    int StandaloneGroupId,
    int GroupMemberId,
    string? OwnAddress,
    IReadOnlyList<FgspDetectedPeer> Peers,
    IReadOnlyDictionary<int, FgspSyncCounters> SessionSyncByMember,
    IReadOnlyList<FgspAnnouncement> KnownUnits,
    IReadOnlyCollection<string> LiveMembers)
{
    /// <summary>The `session-type` counters of the peer line for a peer member (its group-member-id).</summary>
    public FgspSyncCounters SessionSyncWith(int groupMemberId) =>
        SessionSyncByMember.TryGetValue(groupMemberId, out var c) ? c : FgspSyncCounters.Zero;

    /// <summary>standalone-cluster <c>encryption</c>.</summary>
    public bool Encryption { get; init; }

    public bool PskSecretSet { get; init; }

    /// <summary>FGSP sync records this unit dropped, by <see cref="FgspSyncPolicy.Cause"/>.</summary>
    public IReadOnlyDictionary<string, long> SyncRefusals { get; init; } = new Dictionary<string, long>();
}

/// <summary>Sync messages exchanged with one FGSP peer cluster.</summary>
public sealed record FgspSyncCounters(long Sent, long Received)
{
    public static readonly FgspSyncCounters Zero = new(0, 0);
}

/// <summary>
/// Told by the IPsec side for every SA sync message it pushes to, or receives from, another unit (by its Akka address).
/// The FGSP actor counts those exchanged with units of another FGCP cluster as the peer's `session-type` counters:
/// on FortiOS they count FGSP session-sync messages, and in this lab the per-tunnel SA sync is the session state
/// the peers exchange (no TCP/UDP session table is emulated). Syncs inside the unit's own FGCP cluster are FGCP's, not FGSP's.
/// One message may carry a batch of <paramref name="Records"/> (README "Batched sync" in Ipsec): the counters count records.
/// </summary>
public sealed record FgspSyncCounted(string AkkaAddress, bool Sent, int Records = 1);

/// <summary>
/// FGSP for one unit: announces itself in the Akka cluster (Distributed Data, one entry per unit) and finds the
/// peer its `config cluster-peer` names, following that cluster's FGCP primary when it fails over.
/// </summary>
public sealed class FgspActor : ReceiveActor
{
    public static readonly LWWDictionaryKey<string, FgspAnnouncement> Key = new("fgsp-units");

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly IActorRef _replicator = DistributedData.Get(Context.System).Replicator;
    private readonly string _serial;
    private readonly long _incarnation = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    private readonly HashSet<string> _live = new();
    private ConfigDocument _config;
    private bool _isPrimary;
    private IReadOnlyList<FgspAnnouncement> _known = [];
    private IReadOnlyList<FgspDetectedPeer> _peers = [];
    private readonly Dictionary<string, (long Sent, long Received)> _syncByAddress = new();

    public FgspActor(string serial, ConfigDocument config)
    {
        _serial = serial;
        _config = config;
        Receive<HaRoleChanged>(r =>
        {
            if (r.Serial != _serial || _isPrimary == (r.Role == HaRole.Primary)) return;
            _isPrimary = r.Role == HaRole.Primary;
            Announce();
        });
        Receive<UnitConfigChanged>(c =>
        {
            _config = c.Config;
            Redetect();
            Announce();
        });
        Receive<Changed>(c =>
        {
            if (!c.Key.Equals(Key)) return;
            _known = c.Get(Key).Entries.Values.ToList();
            Redetect();
        });
        // A unit's first announcements are made before it is a member; it says them again to every unit that
        // arrives (including itself) so nobody depends on gossip having carried the early ones.
        Receive<ClusterEvent.MemberUp>(e => Arrived(e.Member));
        Receive<ClusterEvent.MemberWeaklyUp>(e => Arrived(e.Member));
        Receive<ClusterEvent.MemberJoined>(e => Arrived(e.Member));
        // Reachable again after an Akka-only partition: say this unit's announcement again, as to a unit that arrives;
        // a failover on either side while cut was not carried to the other.
        Receive<ClusterEvent.ReachableMember>(e => Arrived(e.Member));
        Receive<ClusterEvent.UnreachableMember>(e => Live(e.Member, false));
        Receive<ClusterEvent.MemberRemoved>(e => Live(e.Member, false));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<UpdateSuccess>(_ => { });
        Receive<IUpdateFailure>(f => _log.Debug("FGSP announcement not yet on every unit: {0}", f));
        Receive<FgspSyncCounted>(c =>
        {
            var (sent, received) = _syncByAddress.GetValueOrDefault(c.AkkaAddress);
            _syncByAddress[c.AkkaAddress] = c.Sent ? (sent + c.Records, received) : (sent, received + c.Records);
        });
        Receive<GetFgspStatus>(_ => Sender.Tell(new FgspStatus(_config.StandaloneCluster.StandaloneGroupId,
            _config.StandaloneCluster.GroupMemberId, FgspPeering.OwnAddress(_config), _peers, SyncByPeerMember(), _known, _live.ToList())
        {
            Encryption = _config.StandaloneCluster.Encryption,
            PskSecretSet = _config.StandaloneCluster.PskSecret?.Clear is { Length: > 0 },
            // FGSP's refusals by cause, and the Distributed Data entries of SA sync dropped for their signature
            // (Ipsec/README.md "Signed Distributed Data entries"), shown as "dd-signature:CAUSE".
            SyncRefusals = Unit.UnitIdentities.Of(Context.System).Refusals.Counts
                .Where(kv => kv.Key.StartsWith(FgspSyncPolicy.RefusalKindPrefix, StringComparison.Ordinal)
                             || kv.Key.StartsWith(Ipsec.SignedReplicas.RefusalKindPrefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key.StartsWith(FgspSyncPolicy.RefusalKindPrefix, StringComparison.Ordinal)
                    ? kv.Key[FgspSyncPolicy.RefusalKindPrefix.Length..]
                    : "dd-signature:" + kv.Key[Ipsec.SignedReplicas.RefusalKindPrefix.Length..], kv => kv.Value),
        }));
    }

    public static Props Props(string serial, ConfigDocument config) => Akka.Actor.Props.Create(() => new FgspActor(serial, config));

    protected override void PreStart()
    {
        _replicator.Tell(Dsl.Subscribe(Key, Self));
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        Redetect(); // every configured peer is listed from the start, detected or not
        Announce();
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
    }

    private void Arrived(Member member)
    {
        Live(member, true);
        Announce();
    }

    private void Live(Member member, bool live)
    {
        var changed = live ? _live.Add(member.Address.ToString()) : _live.Remove(member.Address.ToString());
        if (changed) Redetect();
    }

    private void Announce()
    {
        var address = FgspPeering.OwnAddress(_config);
        if (address is null) return; // no FGSP configured on this unit
        var self = Self.Path.ToStringWithAddress(_cluster.SelfAddress);
        var me = new FgspAnnouncement(_serial, _config.Global.Hostname, _config.StandaloneCluster.StandaloneGroupId,
            _config.StandaloneCluster.GroupMemberId, _config.Ha.GroupId, address, _isPrimary, self, _cluster.SelfAddress.ToString(), _incarnation);
        // Written to every reachable unit at once rather than at the next gossip round, so a failover is followed in milliseconds.
        _replicator.Tell(Dsl.Update(Key, LWWDictionary<string, FgspAnnouncement>.Empty, new WriteAll(TimeSpan.FromSeconds(2)),
            d => d.SetItem(_cluster, _serial, me)));
    }

    /// <summary>Per FGCP group of another cluster: the counters of every unit of that cluster this unit synced with.</summary>
    private IReadOnlyDictionary<int, FgspSyncCounters> SyncByPeerMember() =>
        FgspPeering.SyncByPeerMember(_config.StandaloneCluster.GroupMemberId, _known, _syncByAddress);

    private void Redetect()
    {
        var before = _peers;
        _peers = FgspPeering.Detect(_config.StandaloneCluster, _config.Ha.Mode == HaMode.Standalone ? null : _config.Ha.GroupId, _known, _live, _serial);
        foreach (var (old, now) in before.Zip(_peers))
            if (old.Unit?.Serial != now.Unit?.Serial)
                _log.Info("FGSP peer {0} ({1}) is now {2}", now.PeerId, now.PeerIp, now.Unit is null ? "not detected" : $"{now.Unit.Hostname} ({now.Unit.Serial})");
    }
}
