namespace ClusterActors.Node.Drills;

public enum FaultKind { Kill, Start, InterfaceDown, HeartbeatCut, HeartbeatHeal, ForcedFailover }

/// <summary>One fault injected into the lab.</summary>
public sealed record DrillFault(FaultKind Kind, string Unit, string? Port = null)
{
    public static DrillFault Kill(string unit) => new(FaultKind.Kill, unit);
    public static DrillFault Start(string unit) => new(FaultKind.Start, unit);
    public static DrillFault InterfaceDown(string unit, string port) => new(FaultKind.InterfaceDown, unit, port);
    public static DrillFault HeartbeatCut(string unit) => new(FaultKind.HeartbeatCut, unit, "port4");
    public static DrillFault HeartbeatHeal(string unit) => new(FaultKind.HeartbeatHeal, unit, "port4");

    /// <summary>`execute ha failover set 1` typed on the unit's CLI (FortiOS's forced failover: EXE_FAIL_OVER).</summary>
    public static DrillFault ForcedFailover(string unit) => new(FaultKind.ForcedFailover, unit);

    /// <summary>The command the fault types, for <see cref="FaultKind.ForcedFailover"/>.</summary>
    public const string ForcedFailoverCommand = "execute ha failover set 1";

    /// <summary>A few words: the progress lines, the timeline's markers, the summary table.</summary>
    public string Short => Kind switch
    {
        FaultKind.Kill => $"kill {Unit}",
        FaultKind.Start => $"start {Unit}",
        FaultKind.InterfaceDown => $"{Unit} {Port} down",
        FaultKind.HeartbeatCut => $"heartbeat cut at {Unit}",
        FaultKind.HeartbeatHeal => $"heartbeat healed at {Unit}",
        FaultKind.ForcedFailover => $"{Unit}: {ForcedFailoverCommand}",
        _ => Kind.ToString(),
    };

    /// <summary>What was done, in the reports.</summary>
    public string Describe() => Kind switch
    {
        FaultKind.Kill => $"kill -9 {Unit} (abrupt stop: no goodbye on the heartbeat, no leaving the Akka cluster)",
        FaultKind.Start => $"start {Unit} again on its data (HA history and CLI changes kept, HA uptime from 0)",
        FaultKind.InterfaceDown => $"{Unit}: `config system interface` / `edit {Port}` / `set status down` (the IPsec uplink shut, as the document does)",
        FaultKind.HeartbeatCut => $"pull {Unit}'s heartbeat cable ({Port}, its hbdev): the cluster's two units no longer hear each other",
        FaultKind.HeartbeatHeal => $"plug {Unit}'s heartbeat cable ({Port}) back in",
        FaultKind.ForcedFailover => $"`{ForcedFailoverCommand}` on {Unit}'s CLI (FortiOS's forced failover: the EXE_FAIL_OVER flag, the unit steps down)",
        _ => Kind.ToString(),
    };
}

public enum DetectionKind
{
    /// <summary>The unit reports itself Primary (working) in its HA status.</summary>
    BecomesPrimary,
    /// <summary>The DC router declares the next hop of the unit's cluster dead and stops sending to it.</summary>
    RouterWithdraws,
    /// <summary>The returning unit works as Secondary in a cluster of two.</summary>
    RejoinsAsSecondary,
    /// <summary>Every listed unit reports itself Primary at once.</summary>
    SplitBrain,
    /// <summary>The listed units agree on one primary again, each seeing the other.</summary>
    OnePrimary,
}

/// <summary>What "the lab noticed the fault" means for a phase, and how it is observed.</summary>
public sealed record DrillDetection(DetectionKind Kind, IReadOnlyList<string> Units)
{
    public static DrillDetection BecomesPrimary(string unit) => new(DetectionKind.BecomesPrimary, [unit]);
    public static DrillDetection RouterWithdraws(string unit) => new(DetectionKind.RouterWithdraws, [unit]);
    public static DrillDetection RejoinsAsSecondary(string unit) => new(DetectionKind.RejoinsAsSecondary, [unit]);
    public static DrillDetection SplitBrain(params string[] units) => new(DetectionKind.SplitBrain, units);
    public static DrillDetection OnePrimary(params string[] units) => new(DetectionKind.OnePrimary, units);

    public string Describe() => Kind switch
    {
        DetectionKind.BecomesPrimary => $"{Units[0]} reports itself Primary",
        DetectionKind.RouterWithdraws => $"the DC router withdraws {Units[0]}'s next hop",
        DetectionKind.RejoinsAsSecondary => $"{Units[0]} rejoins as Secondary",
        DetectionKind.SplitBrain => $"{string.Join(" and ", Units)} both Primary (split brain)",
        DetectionKind.OnePrimary => $"{string.Join(" and ", Units)} agree on one primary",
        _ => Kind.ToString(),
    };
}

public enum LossBoundKind
{
    /// <summary>(hb-interval × hb-lost-threshold + 200 ms) × rate: FGCP failover inside a cluster.</summary>
    Fgcp,
    /// <summary>(router detection + 200 ms) × rate: the DC router withdraws a cluster, the other FGSP cluster takes the tunnel.</summary>
    Router,
    /// <summary>200 ms × rate: nothing should move, only scheduling jitter is allowed.</summary>
    NoFailover,
    /// <summary>Measured and reported, no bound.</summary>
    None,
}

/// <summary>
/// One measured fault of a drill: PC1's echo run starts, the traffic reaches steady state, the fault goes in, the
/// detection and the role change are timed, the traffic settles again (through <see cref="ExpectedOwner"/> when one
/// is expected), and the run's report gives the gap and the loss.
/// </summary>
/// <param name="ExpectedOwner">The unit that lists vpn1_1 as sync-primary once the phase settles; null: observed, not expected.</param>
/// <param name="OwnerMoves">True: the tunnel is expected to move to <see cref="ExpectedOwner"/> (a role change is timed);
/// false: it is expected to stay where it is.</param>
/// <param name="Hold">How long to keep the traffic running and watching once the phase settled.</param>
public sealed record DrillPhase(
    DrillFault Fault,
    DrillDetection Detection,
    string? ExpectedOwner,
    bool OwnerMoves,
    LossBoundKind LossBound,
    TimeSpan Hold);

/// <summary>A fault applied before the traffic starts, not measured: the drill's starting point (e.g. the tunnel already on DC2_VM2).</summary>
public sealed record DrillSetupStep(DrillFault Fault, string OwnerAfter);

/// <summary>The role every unit is expected to have at the end: HA (Primary, Secondary, down) and the tunnel's (sync-primary, standby, down).</summary>
public sealed record ExpectedRoles(string Unit, string Ha, string Tunnel);

/// <summary>A drill as data: the lab's changes, the starting point, the faults with what each should do, the roles at the end.</summary>
/// <param name="HaChange">`config system ha` lines added on every unit for this drill (after the timers).</param>
public sealed record DrillDefinition(
    string Name,
    string Title,
    string Summary,
    string InitialOwner,
    string? HaChange,
    IReadOnlyList<DrillSetupStep> Setup,
    IReadOnlyList<DrillPhase> Phases,
    IReadOnlyList<ExpectedRoles> ExpectedAfter,
    IReadOnlyList<string> Notes)
{
    /// <summary>The primaries the lab must come up with (the cast's); null: the seed's <see cref="DrillCatalog.Preferred"/>.</summary>
    public IReadOnlyList<string>? Primaries { get; init; }

    /// <summary>The units that must hold the client's SAs before any fault (the cast's holders); null: every unit.</summary>
    public IReadOnlyList<string>? Holders { get; init; }

    /// <summary>Units polled from the dial to the end that must never list the tunnel (fgsp-sync disabled).</summary>
    public IReadOnlyList<string> NeverHold { get; init; } = [];

    /// <summary>Who played each role (<see cref="DrillCast.Entries"/>), for the reports.</summary>
    public IReadOnlyList<CastEntry> Cast { get; init; } = [];
}
