using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using ClusterActors.Protocol.Fgcp;

namespace ClusterActors.Node.Hosting;

/// <summary>
/// Joins this unit to the Akka cluster. Akka's own seed-node process does the work (every unit lists every unit,
/// sorted, so all agree on the first seed), but it can only found a cluster from that first seed: with that unit
/// down the others would wait forever, and FortiGates must run in any subset. So when this unit is still not a
/// member after <c>fallback-after</c>, it probes the others: it joins any unit that is a member, and when none is,
/// the unit with the lowest address among those that keep answering founds the cluster.
/// </summary>
public sealed class ClusterBootstrap : ReceiveActor, IWithTimers
{
    public const string Name = "cluster-bootstrap";

    private sealed record Probe
    {
        public static readonly Probe Instance = new();
    }

    private sealed record RejoinCheck
    {
        public static readonly RejoinCheck Instance = new();
    }

    private sealed record SelfRemoved
    {
        public static readonly SelfRemoved Instance = new();
    }

    /// <summary>A signed answer to this unit's datagram probe (<see cref="ClusterProbeSocket"/>), about contact <c>View.Address</c>.</summary>
    private sealed record DatagramAnswer(ContactView View);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly IReadOnlyList<Address> _contacts;
    /// <summary>Longer than remoting's gate after a refused connection (hocon/cluster.conf), so a gated reply cannot hide a unit.</summary>
    private const int StableRoundsToFound = 4;

    private readonly Address _firstSeed;
    private HashSet<Address> _answering = new();
    private HashSet<Address> _lastRound = new();
    private int _stableRounds;
    private bool _joining;
    private bool _founding;
    private int _roundsSinceJoin;

    public ITimerScheduler Timers { get; set; } = null!;

    private readonly AkkaRejoin? _rejoin;
    private readonly Action<RejoinVerdict>? _restart;
    private readonly HashSet<Address> _answeredSinceCheck = new();
    private bool _restartAsked;
    private readonly ClusterProbeSocket? _probe;

    /// <param name="rejoin">The host's rejoin rule (kept across restarts); null: this unit never restarts to rejoin.</param>
    /// <param name="restart">How the host restarts the ActorSystem when the rule says so (called once, from this actor).</param>
    /// <param name="joinThrough">A restarted incarnation joins the cluster these members belong to, not the first seed.</param>
    /// <param name="probe">The host's datagram probe (outlives this ActorSystem): asks contacts that are not members of
    /// this unit's cluster, which Akka remoting may no longer reach (both sides quarantined each other); null: none.</param>
    public ClusterBootstrap(IReadOnlyList<Address> contacts, TimeSpan probeInterval, TimeSpan fallbackAfter,
        AkkaRejoin? rejoin = null, Action<RejoinVerdict>? restart = null, IReadOnlyList<Address>? joinThrough = null,
        ClusterProbeSocket? probe = null)
    {
        _contacts = contacts.Where(a => a != _cluster.SelfAddress).Distinct().ToList();
        _rejoin = rejoin;
        _restart = restart;
        _probe = rejoin is null ? null : probe;
        // A unit that has decided to found answers as a member at once, so a unit that started just after it joins it
        // instead of founding a second cluster (Akka clusters never merge). A member also says whom it sees, so that
        // a member asking can tell two clusters apart (AkkaRejoin).
        Receive<ClusterBootstrapProbe>(_ => Sender.Tell(new ClusterBootstrapStatus(_cluster.SelfAddress.ToString(), IsMember || _founding,
            Unique(_cluster.SelfUniqueAddress), IsMember ? LiveMembers().ToList() : [])));
        Receive<ClusterBootstrapStatus>(OnStatus);
        Receive<Probe>(_ => ProbeRound());
        Receive<RejoinCheck>(_ => CheckRejoin());
        Receive<SelfRemoved>(_ =>
        {
            if (!_restartAsked) _rejoin?.SelfRemoved(_cluster.SelfMember.Status.ToString());
        });
        Receive<Akka.Remote.ThisActorSystemQuarantinedEvent>(q =>
        {
            if (!_restartAsked) _rejoin?.Quarantined(q.RemoteAddress.ToString(), Unique(_cluster.SelfUniqueAddress), LiveMembers().ToList());
        });
        Receive<DatagramAnswer>(OnDatagramAnswer);
        Receive<ClusterEvent.MemberUp>(_ => { });
        var seeds = contacts.Append(_cluster.SelfAddress).Distinct().OrderBy(a => a.ToString(), StringComparer.Ordinal).ToList();
        _firstSeed = seeds[0];
        _cluster.JoinSeedNodes(joinThrough is { Count: > 0 } ? joinThrough.OrderBy(a => a.ToString(), StringComparer.Ordinal).ToList() : seeds);
        Timers.StartPeriodicTimer("probe", Probe.Instance, fallbackAfter, probeInterval);
        if (_rejoin is not null)
        {
            var self = Self;
            // Akka calls this once this unit's member is removed (downed, or the cluster extension shut down); with
            // run-coordinated-shutdown-when-down off the ActorSystem lives on, and the host starts a new one.
            _cluster.RegisterOnMemberRemoved(() => self.Tell(SelfRemoved.Instance));
            Context.System.EventStream.Subscribe(Self, typeof(Akka.Remote.ThisActorSystemQuarantinedEvent));
            Timers.StartPeriodicTimer("rejoin", RejoinCheck.Instance, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
            _probe?.Attach(view => self.Tell(new DatagramAnswer(view)));
        }
    }

    protected override void PostStop() => _probe?.Attach(null);

    public static Props Props(IReadOnlyList<Address> contacts, TimeSpan probeInterval, TimeSpan fallbackAfter,
        AkkaRejoin? rejoin = null, Action<RejoinVerdict>? restart = null, IReadOnlyList<Address>? joinThrough = null,
        ClusterProbeSocket? probe = null) =>
        Akka.Actor.Props.Create(() => new ClusterBootstrap(contacts, probeInterval, fallbackAfter, rejoin, restart, joinThrough, probe));

    private IEnumerable<string> LiveMembers() => _cluster.State.Members
        .Where(m => m.Status is MemberStatus.Joining or MemberStatus.WeaklyUp or MemberStatus.Up)
        .Select(m => Unique(m.UniqueAddress));

    /// <summary>A member's address and incarnation as the probe carries them: akka.tcp://fortigate@host:port#uid.</summary>
    public static string Unique(UniqueAddress u) => $"{u.Address}#{u.Uid}";

    /// <summary>
    /// Once a second while a member: asks every contact whom it sees and hands the answers to the rejoin rule; a contact
    /// that did not answer since the last check counts as silent (a cut path says nothing). Then carries out the rule.
    /// </summary>
    private void CheckRejoin()
    {
        if (_rejoin is null || _restartAsked) return;
        if (_cluster.SelfMember.Status is MemberStatus.Up or MemberStatus.WeaklyUp)
        {
            foreach (var contact in _contacts.Where(c => !_answeredSinceCheck.Contains(c))) _rejoin.Silent(contact.ToString());
            _answeredSinceCheck.Clear();
            foreach (var contact in _contacts)
                Context.ActorSelection(new RootActorPath(contact) / "user" / Name).Tell(new ClusterBootstrapProbe(_cluster.SelfAddress.ToString()));
            // A contact outside this unit's cluster may have quarantined this incarnation (or this one it): Akka drops the
            // question locally, so it is asked again over the host's signed datagram.
            if (_probe is not null)
            {
                var members = _cluster.State.Members.Select(m => m.Address).ToHashSet();
                foreach (var contact in _contacts.Where(c => !members.Contains(c)))
                    _probe.Ask(_cluster.SelfAddress.ToString(), contact.ToString());
            }
        }
        if (_rejoin.Decide() is not { } verdict) return;
        _restartAsked = true;
        _log.Warning("restarting this unit's ActorSystem to rejoin the Akka cluster: {0}", verdict.Why);
        _restart?.Invoke(verdict);
    }

    private void OnDatagramAnswer(DatagramAnswer answer)
    {
        if (_rejoin is null || _restartAsked || _cluster.SelfMember.Status is not (MemberStatus.Up or MemberStatus.WeaklyUp)) return;
        var contact = _contacts.FirstOrDefault(c => c.ToString() == answer.View.Address);
        if (contact is null) return; // the socket only delivers answers to what this actor asked
        _answeredSinceCheck.Add(contact);
        _rejoin.Heard(Unique(_cluster.SelfUniqueAddress), LiveMembers().ToList(), answer.View, ProbeChannel.Datagram);
    }

    private bool IsMember => _cluster.SelfMember.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining;

    private void ProbeRound()
    {
        if (IsMember && _cluster.SelfMember.Status != MemberStatus.Joining)
        {
            Timers.Cancel("probe");
            return;
        }
        if (_joining)
        {
            // The unit we asked may have died before accepting us: look again rather than wait forever.
            if (++_roundsSinceJoin < 20) return;
            _joining = false;
            _roundsSinceJoin = 0;
        }
        if (_contacts.Count == 0)
        {
            Found("no other unit is configured");
            return;
        }
        // Found only when the set of answering units has stayed the same for a few rounds, none of them is a member,
        // and this unit has the lowest address among them: units starting together agree on one founder.
        _stableRounds = _answering.SetEquals(_lastRound) ? _stableRounds + 1 : 0;
        _lastRound = _answering;
        _answering = new HashSet<Address>();
        // While the first seed answers, Akka's own seed process will form the cluster around it: never found a second one.
        if (_stableRounds >= StableRoundsToFound && !_lastRound.Contains(_firstSeed))
        {
            var lowest = _lastRound.Append(_cluster.SelfAddress).OrderBy(a => a.ToString(), StringComparer.Ordinal).First();
            if (lowest == _cluster.SelfAddress)
            {
                Found(_lastRound.Count == 0 ? "no other unit answers" : "no unit is a member and this unit has the lowest address");
                return;
            }
        }
        foreach (var contact in _contacts)
            Context.ActorSelection(new RootActorPath(contact) / "user" / Name).Tell(new ClusterBootstrapProbe(_cluster.SelfAddress.ToString()));
    }

    private void OnStatus(ClusterBootstrapStatus status)
    {
        Address address;
        try
        {
            address = Address.Parse(status.Address);
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
        {
            _log.Warning("bootstrap answer with an unreadable address dropped: {0}", e.Message);
            return;
        }
        _answering.Add(address);
        if (_rejoin is not null && _cluster.SelfMember.Status is MemberStatus.Up or MemberStatus.WeaklyUp)
        {
            _answeredSinceCheck.Add(address);
            _rejoin.Heard(Unique(_cluster.SelfUniqueAddress), LiveMembers().ToList(),
                new ContactView(address.ToString(), status.IsMember, status.UniqueAddress, status.LiveMembers));
        }
        if (status.IsMember && !_joining && !IsMember)
        {
            _joining = true;
            _log.Info("joining the Akka cluster through {0}", address);
            _cluster.Join(address);
        }
    }

    private void Found(string why)
    {
        _joining = true;
        _founding = true;
        _log.Info("founding the Akka cluster: {0}", why);
        _cluster.Join(_cluster.SelfAddress);
    }
}

/// <summary>
/// Carries <see cref="UnreachableDowning"/>'s decisions out: once a second it shows the rule this unit's view of the
/// Akka cluster and downs what the rule names. It never downs a member for being unreachable alone (a partition heals
/// by reachability), and never this unit.
/// </summary>
public sealed class ClusterJanitor : ReceiveActor, IWithTimers
{
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly UnreachableDowning _rule;

    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public ClusterJanitor(TimeSpan downAfter, TimeProvider time)
    {
        _rule = new UnreachableDowning(downAfter, time);
        Receive<Tick>(_ => Check());
    }

    public static Props Props(TimeSpan downAfter) => Akka.Actor.Props.Create(() => new ClusterJanitor(downAfter, TimeProvider.System));

    protected override void PreStart() => Timers.StartPeriodicTimer("check", Tick.Instance, TimeSpan.FromSeconds(1));

    private void Check()
    {
        var state = _cluster.State;
        var unreachable = state.Unreachable.Select(m => m.UniqueAddress).ToHashSet();
        var members = state.Members.Concat(state.Unreachable).DistinctBy(m => m.UniqueAddress)
            .Select(m => (Member: m, View: new MemberView(m.UniqueAddress.ToString(), m.Status, unreachable.Contains(m.UniqueAddress))))
            .ToList();
        foreach (var node in _rule.Decide(_cluster.SelfUniqueAddress.ToString(), members.Select(m => m.View).ToList()))
        {
            var member = members.First(m => m.View.Node == node).Member;
            _log.Warning("downing {0}: unreachable for {1} while a membership change waits on convergence", member.Address, _rule.After);
            _cluster.Down(member.Address);
        }
    }
}
