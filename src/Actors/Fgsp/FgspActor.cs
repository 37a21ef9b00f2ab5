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
    long SessionSyncSent,
    long SessionSyncReceived,
    IReadOnlyList<FgspAnnouncement> KnownUnits,
    IReadOnlyCollection<string> LiveMembers);

/// <summary>Counted by the IPsec side for every SA sync message it sends to or receives from the FGSP peer cluster.</summary>
public sealed record FgspSyncCounted(bool Sent);

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
    private long _sent, _received;

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
        Receive<ClusterEvent.ReachableMember>(e => Live(e.Member, true));
        Receive<ClusterEvent.UnreachableMember>(e => Live(e.Member, false));
        Receive<ClusterEvent.MemberRemoved>(e => Live(e.Member, false));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<UpdateSuccess>(_ => { });
        Receive<IUpdateFailure>(f => _log.Debug("FGSP announcement not yet on every unit: {0}", f));
        Receive<FgspSyncCounted>(c =>
        {
            if (c.Sent) _sent++;
            else _received++;
        });
        Receive<GetFgspStatus>(_ => Sender.Tell(new FgspStatus(_config.StandaloneCluster.StandaloneGroupId,
            _config.StandaloneCluster.GroupMemberId, FgspPeering.OwnAddress(_config), _peers, _sent, _received, _known, _live.ToList())));
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

    private void Redetect()
    {
        var before = _peers;
        _peers = FgspPeering.Detect(_config.StandaloneCluster, _config.Ha.GroupId, _known, _live);
        foreach (var (old, now) in before.Zip(_peers))
            if (old.Unit?.Serial != now.Unit?.Serial)
                _log.Info("FGSP peer {0} ({1}) is now {2}", now.PeerId, now.PeerIp, now.Unit is null ? "not detected" : $"{now.Unit.Hostname} ({now.Unit.Serial})");
    }
}
