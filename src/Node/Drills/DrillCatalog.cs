using ClusterActors.Node.Scenario;

namespace ClusterActors.Node.Drills;

/// <summary>
/// A drill as the catalog writes it: in roles (<see cref="DrillRole"/>), bound to a lab's units by its
/// <see cref="DrillCast"/> at run time. A drill whose roles the lab does not have is not applicable there.
/// </summary>
/// <param name="Requires">The roles the drill names besides the owner.</param>
public sealed record RoleDrill(string Name, string Title, IReadOnlyList<DrillRole> Requires, Func<DrillCast, DrillDefinition> Bind)
{
    /// <summary>A further reason the drill does not apply to a cast that has its roles (null: none).</summary>
    public Func<DrillCast, string?>? Also { get; init; }

    /// <summary>Why the drill cannot run on <paramref name="cast"/>'s lab, or null when it can.</summary>
    public string? NotApplicable(DrillCast cast) =>
        Requires.Select(cast.Missing).FirstOrDefault(why => why is not null) ?? Also?.Invoke(cast);
}

/// <summary>
/// The drills of issue 5, written in roles (issue 12): the tunnel's owner, the owner's FGCP peer, another FGSP member,
/// the owner's uplink, a member with fgsp-sync disabled. On the seed the cast is the document's as the shipped configs
/// carry it: DC2_VM1 and DC2_VM3 have `priority 200` (the document's usr_priority=200), so they are their clusters'
/// primaries, the client's tunnel comes up on DC2_VM1 (the DC router's flow hash picks cluster 1) and is synced to the
/// three others: owner DC2_VM1, its FGCP peer DC2_VM2, the other FGSP member DC2_VM3. No drill changes a unit's
/// priority: what a user of the shipped scenario sees is what a drill measures.
/// </summary>
public static class DrillCatalog
{
    public const string Vm1 = "DC2_VM1", Vm2 = "DC2_VM2", Vm3 = "DC2_VM3", Vm4 = "DC2_VM4";

    /// <summary>The seed's cluster primaries: the units the shipped configs give `priority 200` (what <see cref="DrillCast.Resolve"/> elects there).</summary>
    public static readonly IReadOnlyList<string> Preferred = [Vm1, Vm3];

    /// <summary>Always: a unit works alone as primary after 5 s instead of 20 s, so the lab comes up quickly. It plays no part in failover.</summary>
    public const string HelloHolddown = "config system ha\n    set hello-holddown 5\nend\n";

    /// <summary>The lab's changes for a drill with its own runner (heartbeat-loss, flapping-uplink): the drills'
    /// hello-holddown, or the fast timers, on every unit.</summary>
    public static Dictionary<string, string> OwnRunnerChanges(Protocol.Topology.LabTopology topology, bool fastTimers) =>
        topology.UnitNames.ToDictionary(u => u, _ => fastTimers ? EmbeddedScenarioDriver.FastTimers : HelloHolddown);

    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(1);

    /// <summary>The expected roles at the end: <paramref name="named"/> as given, every other unit as it started (its
    /// HA role, a standby copy where the cast expects one, else none).</summary>
    private static IReadOnlyList<ExpectedRoles> Afterwards(DrillCast cast, params (string Unit, string Ha, string Tunnel)[] named) =>
        cast.Units.Select(u => named.FirstOrDefault(n => n.Unit == u) is { Unit: not null } n
            ? new ExpectedRoles(u, n.Ha, n.Tunnel)
            : new ExpectedRoles(u, cast.HaAtStart(u), cast.Holders.Contains(u) ? "standby" : "none")).ToList();

    private static DrillDefinition Define(DrillCast cast, string name, string title, string summary, string? haChange,
        IReadOnlyList<DrillSetupStep> setup, IReadOnlyList<DrillPhase> phases, IReadOnlyList<ExpectedRoles> after, IReadOnlyList<string> notes,
        IReadOnlyList<string>? neverHold = null) =>
        new(name, title, summary, cast.Owner, haChange, setup, phases, after, notes)
        {
            Primaries = cast.Primaries, Holders = cast.Holders, NeverHold = neverHold ?? [], Cast = cast.Entries,
        };

    public static readonly RoleDrill FgcpFailoverRoles = new("fgcp-failover", "FGCP failover: the tunnel's owner is killed", [DrillRole.OwnerPeer], c =>
    {
        string owner = c.Owner, peer = c.OwnerPeer!;
        return Define(c, "fgcp-failover", "FGCP failover: the tunnel's owner is killed",
            $"PC1's traffic goes through {owner}, which owns vpn1_1. {owner} is killed (kill -9); its FGCP secondary {peer} "
            + "stops hearing it, becomes primary, takes the cluster's addresses and claims the tunnels its cluster owned, "
            + "with the same SAs.",
            null, [],
            [new DrillPhase(DrillFault.Kill(owner), DrillDetection.BecomesPrimary(peer), peer, OwnerMoves: true, LossBoundKind.Fgcp, Settle)],
            Afterwards(c, (owner, "down", "down"), (peer, "Primary", "sync-primary")),
            []);
    });

    /// <summary>
    /// `execute ha failover set 1` on the owner, its cluster's primary (src/Actors/Fgcp/README.md, "Forced failover"):
    /// nothing dies, the owner steps down at once and its peer takes the cluster and the tunnel. The loss bound is
    /// fgcp-failover's (hb-interval × hb-lost-threshold + 200 ms): no heartbeat has to be missed here, so the gap is
    /// expected well inside it.
    /// </summary>
    public static readonly RoleDrill ForcedFailoverRoles = new("forced-failover", "Forced failover: execute ha failover set 1 on the owner",
        [DrillRole.OwnerPeer], c =>
    {
        string owner = c.Owner, peer = c.OwnerPeer!;
        return Define(c, "forced-failover", "Forced failover: execute ha failover set 1 on the owner",
            $"PC1's traffic goes through {owner}, its cluster's primary and vpn1_1's owner. `execute ha failover set 1` is typed "
            + $"on {owner}: the EXE_FAIL_OVER flag outranks every election rule, {owner} becomes secondary and its FGCP peer {peer} "
            + $"primary (\"{peer}'s serial is selected as the primary because it has EXE_FAIL_OVER flag set\"), takes the cluster's "
            + $"addresses and claims the tunnels its cluster owned, with the same SAs. {owner} stays up, as secondary with a standby copy.",
            null, [],
            [new DrillPhase(DrillFault.ForcedFailover(owner), DrillDetection.BecomesPrimary(peer), peer, OwnerMoves: true, LossBoundKind.Fgcp, Settle)],
            Afterwards(c, (owner, "Secondary", "standby"), (peer, "Primary", "sync-primary")),
            [$"The flag stays set on {owner} after the drill (FortiOS clears it only with `execute ha failover unset 1` or a reboot)."]);
    });

    public static readonly RoleDrill FgspFailoverRoles = new("fgsp-failover", "FGSP failover: the document's step 5, cluster 1 lost",
        [DrillRole.OwnerPeer, DrillRole.OtherMember], c =>
    {
        string owner = c.Owner, peer = c.OwnerPeer!, other = c.OtherMember!, uplink = c.Uplink(peer);
        return Define(c, "fgsp-failover", "FGSP failover: the document's step 5, cluster 1 lost",
            $"The document's step 5: {owner} is down (killed before the traffic starts, so the tunnel is already on {peer}) "
            + $"and then {peer}'s IPsec uplink is shut (`set status down` on {uplink}). The DC router's probes to that cluster go "
            + $"unanswered, it withdraws that next hop, the client's ESP reaches the other FGSP member's primary {other}, whose standby "
            + "copy of vpn1_1 decrypts it and claims the tunnel (traffic-driven takeover) with the SPIs the client dialed.",
            null,
            [new DrillSetupStep(DrillFault.Kill(owner), peer)],
            [new DrillPhase(DrillFault.InterfaceDown(peer, uplink), DrillDetection.RouterWithdraws(peer), other, OwnerMoves: true, LossBoundKind.Router, Settle)],
            Afterwards(c, (owner, "down", "down"), (peer, "Primary", "standby"), (other, "Primary", "sync-primary")),
            [$"{peer} stays FGCP primary with its {uplink} shut: the config has no `set monitor`, so FGCP does not fail over "
             + "on the uplink (reference §6); only the DC router notices."]);
    });

    /// <summary>
    /// With the default `ha-uptime-diff-margin 300` a unit restarted within five minutes of the cluster's start is
    /// within the margin of the survivor, so priority decides and the returning DC2_VM1 (the shipped priority 200)
    /// takes the cluster back (src/Actors/Fgcp/README.md, "Returning unit with override disabled"). The drill sets the
    /// margin to 1 s, as Fortinet's failover-testing advice does, so the uptime rule applies as it would in a cluster
    /// that has run for more than five minutes. At the lab's start the margin of 1 s makes the order of the units'
    /// starts count: the lab starts DC2_VM1 and DC2_VM3 first, so they win on uptime or, within 1 s, on priority.
    /// </summary>
    public const string FailbackMargin = "config system ha\n    set ha-uptime-diff-margin 1\nend\n";

    public static readonly RoleDrill FgcpFailbackRoles = new("fgcp-failback", "FGCP failback: the killed unit comes back", [DrillRole.OwnerPeer], c =>
    {
        string owner = c.Owner, peer = c.OwnerPeer!;
        return Define(c, "fgcp-failback", "FGCP failback: the killed unit comes back",
            $"After an FGCP failover ({owner} killed before the traffic starts; {peer} primary and owner), {owner} is started "
            + "again while PC1's traffic flows. Override is disabled, so HA uptime is compared before priority: "
            + $"{peer}'s uptime exceeds the returning unit's by more than the margin and it stays primary although {owner} has "
            + $"the higher priority. {owner} rejoins as Secondary (`diagnose sys ha status` as in the document: {peer} Primary, "
            + $"{owner} Secondary), the tunnel stays on {peer}, the traffic never stops.",
            FailbackMargin,
            [new DrillSetupStep(DrillFault.Kill(owner), peer)],
            [new DrillPhase(DrillFault.Start(owner), DrillDetection.RejoinsAsSecondary(owner), peer, OwnerMoves: false, LossBoundKind.NoFailover,
                TimeSpan.FromSeconds(3))],
            Afterwards(c, (owner, "Secondary", "standby"), (peer, "Primary", "sync-primary")),
            [$"`ha-uptime-diff-margin 1` on every unit: with the default 300 s the returning {owner} is within the margin of "
             + $"{peer}'s uptime (the lab is seconds old), so its higher priority would make it primary again (src/Actors/Fgcp/README.md). "
             + "A margin of 1 s lets the uptime rule decide, as in a cluster that has run for more than five minutes."]);
    });

    public static readonly RoleDrill HeartbeatCutRoles = new("heartbeat-cut", "Heartbeat cut: split brain in cluster 1, then heal", [DrillRole.OwnerPeer], c =>
    {
        string owner = c.Owner, peer = c.OwnerPeer!;
        return Define(c, "heartbeat-cut", "Heartbeat cut: split brain in cluster 1, then heal",
            $"PC1's traffic goes through {owner}. {peer}'s heartbeat cable (its hbdev) is pulled: neither unit hears the other, "
            + $"{peer} declares {owner} lost and works as primary too (split brain); both hold the cluster's addresses and the "
            + "newest to announce itself receives the traffic. Two units claiming one tunnel resolve by the record order "
            + "(src/Actors/Ipsec/README.md, double claims). The cable is plugged back: the two primaries see each other, "
            + $"negotiate (uptime within the margin, so priority: {owner}), and exactly one owner of the tunnel remains.",
            null, [],
            [
                new DrillPhase(DrillFault.HeartbeatCut(peer), DrillDetection.SplitBrain(owner, peer), null, OwnerMoves: true, LossBoundKind.None,
                    TimeSpan.FromSeconds(2)),
                new DrillPhase(DrillFault.HeartbeatHeal(peer), DrillDetection.OnePrimary(owner, peer), owner, OwnerMoves: true, LossBoundKind.None, Settle),
            ],
            Afterwards(c, (owner, "Primary", "sync-primary"), (peer, "Secondary", "standby")),
            ["No loss bound: a split brain is a fault of the cluster, not a failover it is built to hide. What the tunnel and "
             + "the traffic do is measured and reported; the expectation is one owner after the heal and traffic through it."]);
    });

    public static readonly RoleDrill FullScenarioRoles = new("full-scenario", "The document's whole sequence", [DrillRole.OwnerPeer, DrillRole.OtherMember], c =>
    {
        string owner = c.Owner, peer = c.OwnerPeer!, other = c.OtherMember!, uplink = c.Uplink(peer);
        return Define(c, "full-scenario", "The document's whole sequence",
            $"The document's \"To test failover scenarios\" with PC1's traffic throughout: the tunnel comes up on {owner}; "
            + $"{owner} is killed and {peer} takes over (FGCP); then {peer}'s IPsec uplink is shut and the other FGSP member's primary "
            + $"{other} takes the tunnel on its traffic (FGSP), with the SPIs the client dialed.",
            null, [],
            [
                new DrillPhase(DrillFault.Kill(owner), DrillDetection.BecomesPrimary(peer), peer, OwnerMoves: true, LossBoundKind.Fgcp, Settle),
                new DrillPhase(DrillFault.InterfaceDown(peer, uplink), DrillDetection.RouterWithdraws(peer), other, OwnerMoves: true, LossBoundKind.Router, Settle),
            ],
            Afterwards(c, (owner, "down", "down"), (peer, "Primary", "standby"), (other, "Primary", "sync-primary")),
            ["Each fault has its own echo run (its own gap and loss against its own bound); between the two runs PC1 pauses "
             + "for the first run's grace period, which shows as a short dip in the timeline."]);
    });

    /// <summary>Fortinet's "FGSP per-tunnel failover for IPsec": a standalone owner is lost, another peer takes its tunnel on its traffic.</summary>
    public static readonly RoleDrill FgspOwnerKilledRoles = new("fgsp-owner-killed", "FGSP per-tunnel failover: the standalone owner is killed",
        [DrillRole.OtherMember], c =>
    {
        string owner = c.Owner, other = c.OtherMember!;
        return Define(c, "fgsp-owner-killed", "FGSP per-tunnel failover: the standalone owner is killed",
            $"Fortinet's \"FGSP per-tunnel failover for IPsec\": PC1's traffic goes through {owner}, a standalone FGSP member "
            + $"that owns vpn1_1. {owner} is killed (kill -9). No FGCP peer takes its addresses: the DC router's probes to it go "
            + $"unanswered, it withdraws {owner}'s next hop and sends the client to {other}, whose standby copy of vpn1_1 "
            + "decrypts the client's ESP and claims the tunnel (traffic-driven takeover) with the SPIs the client dialed.",
            null, [],
            [new DrillPhase(DrillFault.Kill(owner), DrillDetection.RouterWithdraws(owner), other, OwnerMoves: true, LossBoundKind.Router, Settle)],
            Afterwards(c, (owner, "down", "down"), (other, "Primary", "sync-primary")),
            ["Router detection bounds the loss: no FGCP here, so the DC router's probing is the lab's floor (3 misses)."]);
    })
    {
        Also = c => c.OwnerPeer is { } peer
            ? $"the owner {c.Owner} has an FGCP peer {peer}: killing it is an FGCP failover (fgcp-failover), the DC router never notices"
            : null,
    };

    /// <summary>The same guide's DC1_VM4: a member with `set fgsp-sync disable` never holds another member's tunnels, through a failover too.</summary>
    public static readonly RoleDrill FgspSyncDisabledRoles = new("fgsp-sync-disabled", "fgsp-sync disable: that peer never holds the client's SAs",
        [DrillRole.NoSyncMember, DrillRole.OtherMember], c =>
    {
        string owner = c.Owner, other = c.OtherMember!, noSync = c.NoSyncMember!;
        var fault = c.OwnerPeer is { } peer
            ? new DrillPhase(DrillFault.Kill(owner), DrillDetection.BecomesPrimary(peer), peer, OwnerMoves: true, LossBoundKind.Fgcp, Settle)
            : new DrillPhase(DrillFault.Kill(owner), DrillDetection.RouterWithdraws(owner), other, OwnerMoves: true, LossBoundKind.Router, Settle);
        var newOwner = fault.ExpectedOwner!;
        return Define(c, "fgsp-sync-disabled", "fgsp-sync disable: that peer never holds the client's SAs",
            $"{noSync}'s dialup phase1 has `set fgsp-sync disable` (the guide's DC1_VM4): the other members sync vpn1_1's SAs "
            + $"among themselves, {noSync} never receives them. PC1's traffic goes through {owner}; {owner} is killed and "
            + $"{newOwner} takes the tunnel with the same SPIs. {noSync} is polled throughout: it must never list vpn1_1.",
            null, [], [fault],
            Afterwards(c, (owner, "down", "down"), (newOwner, "Primary", "sync-primary"), (noSync, c.HaAtStart(noSync), "none")),
            [$"{noSync} is asked for its tunnels every 100 ms from the dial to the end; any sight of vpn1_1 there fails the run."],
            neverHold: [noSync]);
    });

    /// <summary>Every drill, in the order `all` runs them.</summary>
    public static IReadOnlyList<RoleDrill> Drills { get; } =
        [FgcpFailoverRoles, FgspFailoverRoles, FgcpFailbackRoles, HeartbeatCutRoles, FullScenarioRoles, FgspOwnerKilledRoles, FgspSyncDisabledRoles,
         ForcedFailoverRoles];

    /// <summary>
    /// The drills with their own runner, outside `all` (src/Node/Drills/README.md, "Not in all": each takes 26–50 s
    /// embedded with the fast timers, more than `all`'s scripted drills together): the guide's DPD variant and issue 14's
    /// impairment drills. `drill [SCENARIO] NAME` runs one, one run, and writes the same report folder as the others.
    /// </summary>
    public static IReadOnlyList<OwnRunner> OwnRunners { get; } =
    [
        new(DpdFlushDrill.Name, "FGSP DPD: the lost client's tunnel flushed by its fgsp-sync disabled owner", TakesFastTimers: false,
            c => c.NoSyncMember is null ? "no FGSP member has `set fgsp-sync disable` on the dialup phase1" : null),
        new(HeartbeatLossDrill.Name, "rising loss on the FGCP heartbeat link: the loss of the first false failover (--seed)", TakesFastTimers: true,
            c => c.OwnerPeer is null ? "the tunnel's owner has no FGCP peer" : null),
        new(FlappingUplinkDrill.Name, "the owner's uplink flaps N times: one owner per tunnel, traffic back, no anti-replay drops (--seed)", TakesFastTimers: true,
            _ => null),
    ];

    /// <summary>The own runner named <paramref name="name"/>.</summary>
    public static OwnRunner Own(string name) => OwnRunners.First(r => r.Name == name);

    /// <summary>
    /// What `all` prints it leaves out: the own runners this lab has roles for, each as the command that runs it
    /// (`clusteractors drill seed heartbeat-loss --fast-timers`); <paramref name="lab"/> is the scenario's name or
    /// `--topology FILE`, <paramref name="fastTimers"/> whether `all` was asked with them.
    /// </summary>
    public static IReadOnlyList<string> NotInAll(DrillCast cast, string lab, bool fastTimers) =>
        OwnRunners.Where(r => r.NotApplicable(cast) is null)
            .Select(r => $"clusteractors drill {lab} {r.Name}{(fastTimers && r.TakesFastTimers ? " --fast-timers" : "")}").ToList();

    /// <summary>The seed's cast: what <see cref="DrillCast.Resolve"/> gives for the shipped seed topology.</summary>
    public static DrillCast SeedCast => SeedCastLazy.Value;

    private static readonly Lazy<DrillCast> SeedCastLazy = new(() => DrillCast.Resolve(Hosting.Scenarios.Topology(EmbeddedScenarioDriver.Scenario)));

    public static DrillDefinition FgcpFailover => FgcpFailoverRoles.Bind(SeedCast);
    public static DrillDefinition FgspFailover => FgspFailoverRoles.Bind(SeedCast);
    public static DrillDefinition FgcpFailback => FgcpFailbackRoles.Bind(SeedCast);
    public static DrillDefinition HeartbeatCut => HeartbeatCutRoles.Bind(SeedCast);
    public static DrillDefinition FullScenario => FullScenarioRoles.Bind(SeedCast);
    public static DrillDefinition ForcedFailover => ForcedFailoverRoles.Bind(SeedCast);

    /// <summary>The drills that apply to the seed, bound to its cast (the docker lab and the specs that name the seed's units).</summary>
    public static IReadOnlyList<DrillDefinition> All => Drills.Where(d => d.NotApplicable(SeedCast) is null).Select(d => d.Bind(SeedCast)).ToList();

    public static IReadOnlyList<string> Names => Drills.Select(d => d.Name).ToList();

    /// <summary>The drill named <paramref name="name"/>, or every drill for "all"; a usage error names the known ones.</summary>
    public static IReadOnlyList<RoleDrill> SelectRoles(string name)
    {
        if (name == "all") return Drills;
        var found = Drills.FirstOrDefault(d => d.Name == name);
        if (found is not null) return [found];
        var suggestion = ScenarioScript.Suggest(name, Names.Append("all"));
        throw new Hosting.UsageException($"unknown drill '{name}'" + (suggestion is null ? "" : $"; did you mean '{suggestion}'?")
                                         + $" (drills: {string.Join(", ", Names)}, or all)");
    }

    /// <summary><see cref="SelectRoles"/> bound to the seed's cast, the drills the seed has roles for.</summary>
    public static IReadOnlyList<DrillDefinition> Select(string name) =>
        SelectRoles(name).Where(d => d.NotApplicable(SeedCast) is null).Select(d => d.Bind(SeedCast)).ToList();
}

/// <summary>A drill with its own runner: its name, a line for `drill --help`, whether it takes `--fast-timers`, and why a lab
/// has no role for it (null: applicable).</summary>
public sealed record OwnRunner(string Name, string Title, bool TakesFastTimers, Func<DrillCast, string?> NotApplicable);
