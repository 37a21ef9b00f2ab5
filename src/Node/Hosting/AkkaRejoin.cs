namespace ClusterActors.Node.Hosting;

/// <summary>
/// What a contact answered to this unit's bootstrap probe: whether it is a member of an Akka cluster, its own unique
/// address (address#uid) and the unique addresses of the live members (Joining, WeaklyUp, Up) it sees.
/// </summary>
public sealed record ContactView(string Address, bool IsMember, string UniqueAddress, IReadOnlyCollection<string> Members);

/// <summary>
/// How a contact's answer reached this unit: <see cref="Akka"/>, the bootstrap's question over Akka remoting (which
/// classic remoting drops locally once either side has quarantined the other's incarnation), or <see cref="Datagram"/>,
/// the same question signed with the lab certificates over the host's own UDP socket (<see cref="ClusterProbeSocket"/>),
/// which a quarantine does not stop.
/// </summary>
public enum ProbeChannel
{
    Akka,
    Datagram
}

/// <summary>The host restarts this unit's ActorSystem as a new incarnation and joins through <see cref="JoinThrough"/>
/// (addresses, empty: every configured contact, as at start).</summary>
public sealed record RejoinVerdict(string Why, IReadOnlyList<string> JoinThrough);

/// <summary>
/// When a unit must restart its ActorSystem to be in one Akka cluster with the others again, as a pure rule with
/// injected time (the shape of Akka's SBR DowningStrategy); the host carries it out (src/Node/Hosting/README.md,
/// "Safety net (b)"). Akka never lets a removed or downed ActorSystem back in, and two separately founded clusters never
/// merge by themselves, so in three cases the unit restarts as a new incarnation:
/// <list type="number">
/// <item>its own member was removed or downed (<see cref="SelfRemoved"/>), or a peer quarantined it
/// (<see cref="Quarantined"/>): at once;</item>
/// <item>a contact that is a member answers without this unit among its live members, while this unit counts the
/// contact among its own: the others removed this unit during a cut and it never learnt it;</item>
/// <item>neither lists the other (two clusters, e.g. both founded after a cut): the side whose lowest member address
/// (ordinal) is the higher restarts and joins the other, the bootstrap's founding tie-break; a contact whose cluster
/// lists this unit's address with another uid holds an older incarnation of this unit, so this side restarts.</item>
/// </list>
/// Evidence from probes must hold for <see cref="ConfirmAfter"/> (membership gossip takes a moment to reach everyone,
/// a joining unit is briefly listed by one side only); any answer that lists this unit clears that contact. Restarts
/// are at least <see cref="MinInterval"/> apart, and that spacing doubles with each restart after which no contact has
/// yet listed this unit as a member (up to <see cref="MaxBackoff"/> times), so a rule that keeps firing cannot spin.
/// One actor at a time uses it; the host keeps it across restarts.
/// <para>
/// Answers by <see cref="ProbeChannel.Datagram"/> count only for contacts that are not members of this unit's cluster:
/// that is the case Akka remoting cannot carry (both sides downed and quarantined each other, README "Two clusters that
/// downed each other"); a member's answers come over Akka as before, so a plain cut never restarts anybody. Whom a
/// verdict joins comes from an answer (wire content), so it is narrowed to the configured contacts
/// (<see cref="Contacts"/>): a unit never dials an address because a message named it.
/// </para>
/// </summary>
public sealed class AkkaRejoin(TimeSpan confirmAfter, TimeSpan minInterval, TimeProvider time)
{
    /// <summary>The spacing between restarts grows at most to <see cref="MinInterval"/> × this.</summary>
    public const int MaxBackoff = 4;

    /// <summary>
    /// The configured contacts (addresses, any scheme: compared by host:port). Empty: any address an answer names may be
    /// joined (the table specs); the host always sets them.
    /// </summary>
    public IReadOnlyCollection<string> Contacts { get; init; } = [];

    private int _streak;
    private readonly Dictionary<string, (DateTimeOffset Since, RejoinVerdict Verdict)> _evidence = new();
    private RejoinVerdict? _now;
    private DateTimeOffset? _lastRestart;

    public TimeSpan ConfirmAfter { get; } = confirmAfter;
    public TimeSpan MinInterval { get; } = minInterval;

    /// <summary>Restarts carried out so far (for the log and the specs).</summary>
    public int Restarts { get; private set; }

    /// <summary>This unit's own member was removed (downed, or removed while it was away).</summary>
    public void SelfRemoved(string why) => _now ??= new RejoinVerdict($"this unit's member was removed from the Akka cluster ({why})", []);

    /// <summary>
    /// A peer at <paramref name="by"/> (an address) quarantined this ActorSystem: it will never talk to this incarnation
    /// again (Akka quarantines a member it downed and removed). If this unit still counts it among its members, the others
    /// removed this unit: restart at once and join through it. If not, both sides removed each other (two clusters):
    /// the same tie-break as for probes decides, with <paramref name="by"/> standing for its cluster (every pair of units
    /// probes, so each unit of the higher side is sooner or later quarantined by the lowest unit of the other).
    /// </summary>
    public void Quarantined(string by, string self, IReadOnlyCollection<string> myMembers)
    {
        if (_now is not null) return;
        if (myMembers.Any(m => AddressOf(m) == by && m != self))
        {
            _now = new RejoinVerdict($"quarantined by {by}, a member of this unit's cluster: the others removed this unit", [by]);
            return;
        }
        var mine = myMembers.Select(AddressOf).Append(AddressOf(self)).Min(StringComparer.Ordinal)!;
        if (string.CompareOrdinal(mine, by) > 0)
            _now = new RejoinVerdict($"quarantined by {by} of another Akka cluster, whose addresses include one lower than this cluster's lowest ({mine}): this side rejoins", [by]);
    }

    /// <summary>A contact answered the probe. <paramref name="myMembers"/>: the live members this unit sees (unique addresses).</summary>
    public void Heard(string self, IReadOnlyCollection<string> myMembers, ContactView contact, ProbeChannel channel = ProbeChannel.Akka)
    {
        // A member of this unit's cluster is asked over Akka; its datagram answer neither adds nor clears evidence.
        if (channel == ProbeChannel.Datagram && myMembers.Any(m => HostPort(AddressOf(m)) == HostPort(contact.Address))) return;
        // Listed by a contact's cluster: the last restart worked, the next one (if ever) is spaced as the first.
        if (contact.IsMember && contact.Members.Contains(self)) _streak = 0;
        var verdict = Judge(self, myMembers, contact);
        if (verdict is not null && Contacts.Count > 0)
        {
            var configured = Contacts.Select(HostPort).ToHashSet(StringComparer.Ordinal);
            verdict = verdict with { JoinThrough = verdict.JoinThrough.Where(a => configured.Contains(HostPort(a))).ToList() };
        }
        if (verdict is null) _evidence.Remove(contact.Address);
        else if (!_evidence.ContainsKey(contact.Address)) _evidence[contact.Address] = (time.GetUtcNow(), verdict);
    }

    /// <summary>A contact did not answer or is not a member: no evidence either way, what it said before is forgotten.</summary>
    public void Silent(string contact) => _evidence.Remove(contact);

    /// <summary>The restart to carry out now, if any.</summary>
    public RejoinVerdict? Decide()
    {
        var now = time.GetUtcNow();
        if (_lastRestart is { } last && now - last < Spacing) return null;
        if (_now is not null) return _now;
        return _evidence.Values.Where(e => now - e.Since >= ConfirmAfter).Select(e => e.Verdict).FirstOrDefault();
    }

    /// <summary>
    /// How long after the last restart the next may come: <see cref="MinInterval"/> after a restart that led into a
    /// cluster (a contact listed this unit since), doubling for each restart in a row that did not, up to
    /// <see cref="MaxBackoff"/> × <see cref="MinInterval"/>.
    /// </summary>
    public TimeSpan Spacing => MinInterval * Math.Min(MaxBackoff, 1 << Math.Max(0, Math.Min(_streak - 1, 8)));

    /// <summary>The host restarted the ActorSystem: everything seen so far was about the old incarnation.</summary>
    public void Restarted()
    {
        _now = null;
        _evidence.Clear();
        _lastRestart = time.GetUtcNow();
        Restarts++;
        _streak++;
    }

    /// <summary>host:port of an address (any scheme, with or without #uid): how contacts and answers are compared.</summary>
    public static string HostPort(string address)
    {
        var at = address.LastIndexOf('@');
        var rest = at < 0 ? address : address[(at + 1)..];
        var hash = rest.IndexOf('#');
        return hash < 0 ? rest : rest[..hash];
    }

    private static string AddressOf(string unique)
    {
        var hash = unique.LastIndexOf('#');
        return hash < 0 ? unique : unique[..hash];
    }

    private static RejoinVerdict? Judge(string self, IReadOnlyCollection<string> myMembers, ContactView contact)
    {
        if (!contact.IsMember || contact.Members.Count == 0) return null; // it is looking for a cluster: it will join one
        if (contact.Members.Contains(self)) return null;                    // one cluster (or it is just joining ours)
        var join = contact.Members.Select(AddressOf).Distinct().OrderBy(a => a, StringComparer.Ordinal).ToList();
        if (myMembers.Contains(contact.UniqueAddress))
            return new RejoinVerdict($"{contact.Address} is a member of this unit's cluster but no longer lists this unit: the others removed it", join);
        var selfAddress = AddressOf(self);
        if (contact.Members.Any(m => AddressOf(m) == selfAddress))
            return new RejoinVerdict($"{contact.Address}'s cluster holds an older incarnation of this unit", join);
        var mine = myMembers.Select(AddressOf).Append(selfAddress).Min(StringComparer.Ordinal)!;
        var theirs = join[0];
        return string.CompareOrdinal(mine, theirs) > 0
            ? new RejoinVerdict($"two Akka clusters: {contact.Address}'s (lowest member {theirs}) and this unit's (lowest member {mine}); the higher one rejoins", join)
            : null;
    }
}
