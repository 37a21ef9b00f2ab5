using ClusterActors.Node.Drills;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>Synthetic drill results: what a passing fgcp-failover run measures, to vary one value at a time.</summary>
internal static class DrillSamples
{
    public static readonly DrillTimers Fast = new(HbIntervalMs: 200, HbLostThreshold: 6, HelloHolddownSeconds: 5, HaUptimeDiffMarginSeconds: 300,
        ProbeIntervalMs: 100, ProbeMisses: 14);

    public static readonly string[] Units = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];

    public static PhaseResult Phase() => new()
    {
        Index = 1, Fault = "kill DC2_VM1", FaultDescription = "kill -9 DC2_VM1", FaultAtMs = 1_000,
        Detection = "DC2_VM2 reports itself Primary", DetectionMs = 1_150, DetectionBoundMs = 1_400,
        OwnerBefore = "DC2_VM1", ExpectedOwner = "DC2_VM2", OwnerMoves = true, RoleChangeMs = 1_160, RoleChangeOwners = ["DC2_VM2"],
        OwnersAfter = ["DC2_VM2"], ForwarderBefore = "DC2_VM1", ForwarderAfter = "DC2_VM2",
        Forwarded = new Dictionary<string, long> { ["DC2_VM1"] = 1_000, ["DC2_VM2"] = 1_500, ["DC2_VM3"] = 0, ["DC2_VM4"] = 0 },
        TrafficStartMs = 10, Sent = 3_700, Answered = 2_500, Lost = 1_200, LongestGapMs = 1_190, LongestGapAtMs = 1_005,
        LossBoundKind = "fgcp", LossBound = 1_400, Sa = "reused", OwnerDecSpi = "0000abcd", OwnerEncSpi = "0000dcba",
    };

    public static DrillRunResult Passing() => new()
    {
        Drill = "fgcp-failover", Title = "FGCP failover: the tunnel's owner is killed", Summary = "DC2_VM1 dies; DC2_VM2 takes over.",
        Run = 1, Scenario = "seed", Mode = "embedded", StartedAt = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero), DurationS = 12.3,
        RatePps = 1000, FastTimers = true, Timers = Fast, ConfigChanges = ["DC2_VM1, DC2_VM2, DC2_VM3, DC2_VM4: `config system ha` / `set hb-lost-threshold 6`"],
        ExpectedDialedVia = "DC2_VM1", DialedVia = "DC2_VM1", DialNextHop = "192.168.129.254", DialedDecSpi = "0000abcd", DialedEncSpi = "0000dcba",
        Phases = [Phase()],
        Roles =
        [
            new("DC2_VM1", "down", "down", "down", "down"), new("DC2_VM2", "Primary", "Primary", "sync-primary", "sync-primary"),
            new("DC2_VM3", "Primary", "Primary", "standby", "standby"), new("DC2_VM4", "Secondary", "Secondary", "standby", "standby"),
        ],
        Timeline = new Timeline(100, Units, [100, 200, 300, 400],
            new Dictionary<string, IReadOnlyList<long>>
            {
                ["DC2_VM1"] = [100, 100, 0, 0], ["DC2_VM2"] = [0, 0, 0, 100], ["DC2_VM3"] = [0, 0, 0, 0], ["DC2_VM4"] = [0, 0, 0, 0],
            }, [100, 100, 0, 100]),
        Events =
        [
            new(0, "traffic", "tunnel up"), new(1_000, "fault", "kill DC2_VM1"), new(2_150, "detection", "DC2_VM2 reports itself Primary"),
            new(2_160, "role-change", "DC2_VM2 sync-primary"),
        ],
        Notes = ["a note"],
    };
}
