using ClusterActors.Node.Scenario;

namespace ClusterActors.Node.Drills;

/// <summary>
/// The drills of issue 5 on the seed scenario, with the document's cast as the shipped configs carry it: DC2_VM1 and
/// DC2_VM3 have `priority 200` (the document's usr_priority=200), so they are their clusters' primaries when the lab
/// starts, the client's tunnel comes up on DC2_VM1 (the DC router's flow hash picks cluster 1) and is synced to the
/// three others. No drill changes a unit's priority: what a user of the shipped scenario sees is what a drill measures.
/// </summary>
public static class DrillCatalog
{
    public const string Vm1 = "DC2_VM1", Vm2 = "DC2_VM2", Vm3 = "DC2_VM3", Vm4 = "DC2_VM4";

    /// <summary>The units the drills name: a topology a drill runs on must have them (until drills name roles).</summary>
    public static readonly IReadOnlyList<string> Cast = [Vm1, Vm2, Vm3, Vm4];

    /// <summary>The cluster primaries the lab must come up with: the units the shipped configs give `priority 200`.</summary>
    public static readonly IReadOnlyList<string> Preferred = [Vm1, Vm3];

    /// <summary>Always: a unit works alone as primary after 5 s instead of 20 s, so the lab comes up quickly. It plays no part in failover.</summary>
    public const string HelloHolddown = "config system ha\n    set hello-holddown 5\nend\n";

    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(1);

    public static readonly DrillDefinition FgcpFailover = new(
        "fgcp-failover",
        "FGCP failover: the tunnel's owner is killed",
        "PC1's traffic goes through DC2_VM1, which owns vpn1_1. DC2_VM1 is killed (kill -9); its FGCP secondary DC2_VM2 "
        + "stops hearing it, becomes primary, takes the cluster's addresses and claims the tunnels its cluster owned, "
        + "with the same SAs.",
        Vm1, null, [],
        [new DrillPhase(DrillFault.Kill(Vm1), DrillDetection.BecomesPrimary(Vm2), Vm2, OwnerMoves: true, LossBoundKind.Fgcp, Settle)],
        [new(Vm1, "down", "down"), new(Vm2, "Primary", "sync-primary"), new(Vm3, "Primary", "standby"), new(Vm4, "Secondary", "standby")],
        []);

    public static readonly DrillDefinition FgspFailover = new(
        "fgsp-failover",
        "FGSP failover: the document's step 5, cluster 1 lost",
        "The document's step 5: DC2_VM1 is down (killed before the traffic starts, so the tunnel is already on DC2_VM2) "
        + "and then DC2_VM2's IPsec uplink is shut (`set status down` on port2). The DC router's probes to cluster 1 go "
        + "unanswered, it withdraws that next hop, the client's ESP reaches cluster 2's primary DC2_VM3, whose standby "
        + "copy of vpn1_1 decrypts it and claims the tunnel (traffic-driven takeover) with the SPIs the client dialed.",
        Vm1, null,
        [new DrillSetupStep(DrillFault.Kill(Vm1), Vm2)],
        [new DrillPhase(DrillFault.InterfaceDown(Vm2, "port2"), DrillDetection.RouterWithdraws(Vm2), Vm3, OwnerMoves: true, LossBoundKind.Router, Settle)],
        [new(Vm1, "down", "down"), new(Vm2, "Primary", "standby"), new(Vm3, "Primary", "sync-primary"), new(Vm4, "Secondary", "standby")],
        ["DC2_VM2 stays FGCP primary with its port2 shut: the seed configures no `set monitor`, so FGCP does not fail over "
         + "on the uplink (reference §6); only the DC router notices."]);

    /// <summary>
    /// With the default `ha-uptime-diff-margin 300` a unit restarted within five minutes of the cluster's start is
    /// within the margin of the survivor, so priority decides and the returning DC2_VM1 (the shipped priority 200)
    /// takes the cluster back (src/Actors/Fgcp/README.md, "Returning unit with override disabled"). The drill sets the
    /// margin to 1 s, as Fortinet's failover-testing advice does, so the uptime rule applies as it would in a cluster
    /// that has run for more than five minutes. At the lab's start the margin of 1 s makes the order of the units'
    /// starts count: the lab starts DC2_VM1 and DC2_VM3 first, so they win on uptime or, within 1 s, on priority.
    /// </summary>
    public const string FailbackMargin = "config system ha\n    set ha-uptime-diff-margin 1\nend\n";

    public static readonly DrillDefinition FgcpFailback = new(
        "fgcp-failback",
        "FGCP failback: the killed unit comes back",
        "After an FGCP failover (DC2_VM1 killed before the traffic starts; DC2_VM2 primary and owner), DC2_VM1 is started "
        + "again while PC1's traffic flows. Override is disabled, so HA uptime is compared before priority: DC2_VM2's uptime "
        + "exceeds the returning unit's by more than the margin and it stays primary although DC2_VM1 has priority 200. "
        + "DC2_VM1 rejoins as Secondary (`diagnose sys ha status` as in the document: DC2_VM2 Primary usr_priority=100, "
        + "DC2_VM1 Secondary usr_priority=200), the tunnel stays on DC2_VM2, the traffic never stops.",
        Vm1, FailbackMargin,
        [new DrillSetupStep(DrillFault.Kill(Vm1), Vm2)],
        [new DrillPhase(DrillFault.Start(Vm1), DrillDetection.RejoinsAsSecondary(Vm1), Vm2, OwnerMoves: false, LossBoundKind.NoFailover,
            TimeSpan.FromSeconds(3))],
        [new(Vm1, "Secondary", "standby"), new(Vm2, "Primary", "sync-primary"), new(Vm3, "Primary", "standby"), new(Vm4, "Secondary", "standby")],
        ["`ha-uptime-diff-margin 1` on every unit: with the default 300 s the returning DC2_VM1 is within the margin of "
         + "DC2_VM2's uptime (the lab is seconds old), so its priority 200 would make it primary again (src/Actors/Fgcp/README.md). "
         + "A margin of 1 s lets the uptime rule decide, as in a cluster that has run for more than five minutes."]);

    public static readonly DrillDefinition HeartbeatCut = new(
        "heartbeat-cut",
        "Heartbeat cut: split brain in cluster 1, then heal",
        "PC1's traffic goes through DC2_VM1. DC2_VM2's heartbeat cable (port4) is pulled: neither unit hears the other, "
        + "DC2_VM2 declares DC2_VM1 lost and works as primary too (split brain); both hold the cluster's addresses and the "
        + "newest to announce itself receives the traffic. Two units claiming one tunnel resolve by the record order "
        + "(src/Actors/Ipsec/README.md, double claims). The cable is plugged back: the two primaries see each other, "
        + "negotiate (uptime within the margin, so priority: DC2_VM1), and exactly one owner of the tunnel remains.",
        Vm1, null, [],
        [
            new DrillPhase(DrillFault.HeartbeatCut(Vm2), DrillDetection.SplitBrain(Vm1, Vm2), null, OwnerMoves: true, LossBoundKind.None,
                TimeSpan.FromSeconds(2)),
            new DrillPhase(DrillFault.HeartbeatHeal(Vm2), DrillDetection.OnePrimary(Vm1, Vm2), Vm1, OwnerMoves: true, LossBoundKind.None, Settle),
        ],
        [new(Vm1, "Primary", "sync-primary"), new(Vm2, "Secondary", "standby"), new(Vm3, "Primary", "standby"), new(Vm4, "Secondary", "standby")],
        ["No loss bound: a split brain is a fault of the cluster, not a failover it is built to hide. What the tunnel and "
         + "the traffic do is measured and reported; the expectation is one owner after the heal and traffic through it."]);

    public static readonly DrillDefinition FullScenario = new(
        "full-scenario",
        "The document's whole sequence",
        "The document's \"To test failover scenarios\" with PC1's traffic throughout: the tunnel comes up on DC2_VM1; "
        + "DC2_VM1 is killed and DC2_VM2 takes over (FGCP); then DC2_VM2's IPsec uplink is shut and cluster 2's primary "
        + "DC2_VM3 takes the tunnel on its traffic (FGSP), with the SPIs the client dialed.",
        Vm1, null, [],
        [
            new DrillPhase(DrillFault.Kill(Vm1), DrillDetection.BecomesPrimary(Vm2), Vm2, OwnerMoves: true, LossBoundKind.Fgcp, Settle),
            new DrillPhase(DrillFault.InterfaceDown(Vm2, "port2"), DrillDetection.RouterWithdraws(Vm2), Vm3, OwnerMoves: true, LossBoundKind.Router, Settle),
        ],
        [new(Vm1, "down", "down"), new(Vm2, "Primary", "standby"), new(Vm3, "Primary", "sync-primary"), new(Vm4, "Secondary", "standby")],
        ["Each fault has its own echo run (its own gap and loss against its own bound); between the two runs PC1 pauses "
         + "for the first run's grace period, which shows as a short dip in the timeline."]);

    public static IReadOnlyList<DrillDefinition> All { get; } = [FgcpFailover, FgspFailover, FgcpFailback, HeartbeatCut, FullScenario];

    public static IReadOnlyList<string> Names => All.Select(d => d.Name).ToList();

    /// <summary>The drill named <paramref name="name"/>, or every drill for "all"; a usage error names the known ones.</summary>
    public static IReadOnlyList<DrillDefinition> Select(string name)
    {
        if (name == "all") return All;
        var found = All.FirstOrDefault(d => d.Name == name);
        if (found is not null) return [found];
        var suggestion = ScenarioScript.Suggest(name, Names.Append("all"));
        throw new Hosting.UsageException($"unknown drill '{name}'" + (suggestion is null ? "" : $"; did you mean '{suggestion}'?")
                                         + $" (drills: {string.Join(", ", Names)}, or all)");
    }
}
