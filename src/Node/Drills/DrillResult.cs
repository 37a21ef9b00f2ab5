using System.Text.Json.Serialization;

namespace ClusterActors.Node.Drills;

/// <summary>
/// Everything one run of one drill measured, as values: the reports (Markdown, JSON, SVG) and the verdict are pure
/// functions of it. Times are milliseconds since the tunnel came up (the timeline's zero) unless named "after the fault".
/// </summary>
public sealed record DrillRunResult
{
    public required string Drill { get; init; }
    public required string Title { get; init; }
    public required string Summary { get; init; }
    public required int Run { get; init; }
    public required string Scenario { get; init; }
    public required string Mode { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public double DurationS { get; init; }
    public required double RatePps { get; init; }
    public required bool FastTimers { get; init; }
    public required DrillTimers Timers { get; init; }

    /// <summary>What the lab changed on the shipped configs, one line each (`DC2_VM1, DC2_VM2, DC2_VM3, DC2_VM4: set hello-holddown 5`).</summary>
    public IReadOnlyList<string> ConfigChanges { get; init; } = [];

    /// <summary>The unit the tunnel is expected to come up on, and the one it did.</summary>
    public required string ExpectedDialedVia { get; init; }
    public string? DialedVia { get; init; }
    public string? DialNextHop { get; init; }

    /// <summary>The CHILD SA as dialed, in the gateway's terms: `dec: spi` (the client's outbound) and `enc: spi` (the client's inbound).</summary>
    public string? DialedDecSpi { get; init; }
    public string? DialedEncSpi { get; init; }

    /// <summary>Who played each of the drill's roles in this lab (owner, its FGCP peer, the other FGSP member, …).</summary>
    public IReadOnlyList<CastEntry> Cast { get; init; } = [];

    /// <summary>Units that must never have held the tunnel (fgsp-sync disabled), and when one was first seen holding it.</summary>
    public IReadOnlyList<NeverHeldResult> NeverHeld { get; init; } = [];

    public IReadOnlyList<SetupResult> Setup { get; init; } = [];
    public IReadOnlyList<PhaseResult> Phases { get; init; } = [];

    /// <summary>With other clients dialed (`--clients N`): every client, as the DC router placed it, at the dial.</summary>
    public IReadOnlyList<ClientDial> Clients { get; init; } = [];

    /// <summary>With other clients dialed: every client's tunnel counted per owner before the first fault and after each
    /// phase (<see cref="TunnelCensus"/>); empty with CLIENT1 alone.</summary>
    public IReadOnlyList<TunnelCensus> Censuses { get; init; } = [];

    /// <summary>With other clients dialed: per phase, when each moved tunnel forwarded again (<see cref="TunnelRecovery"/>).</summary>
    public IReadOnlyList<TunnelRecovery> Recoveries { get; init; } = [];

    /// <summary>With other clients dialed: their PCs' light echo runs (<see cref="EmbeddedDrillLab.OtherClientsPps"/> each),
    /// summed over the run; reported, not judged (the census is).</summary>
    public TrafficProgress? OthersTraffic { get; init; }
    public IReadOnlyList<RoleResult> Roles { get; init; } = [];

    /// <summary>CLIENT1's anti-replay drops (replayed + too old) over the whole run: legitimate traffic must never hit them.</summary>
    /// <remarks>Null when the client counts none (the strongSwan client): reported as not measured, never as 0.</remarks>
    public long? AntiReplayDrops { get; init; }
    public long? IcvFailures { get; init; }

    public Timeline Timeline { get; init; } = Timeline.Empty;

    /// <summary>One pcapng per segment saved next to the report (embedded lab; none from the container lab yet).</summary>
    public IReadOnlyList<SegmentPcap> Pcaps { get; init; } = [];

    /// <summary>The tshark command that decrypts the run's ESP in the segment CLIENT1's ESP crosses, with the run's keys;
    /// the same options decrypt every other segment's file. Null when nothing was captured; a reason instead when the
    /// suite is one Wireshark cannot decrypt.</summary>
    public string? TsharkCommand { get; init; }
    public IReadOnlyList<TimelineEvent> Events { get; init; } = [];
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>Why the run stopped early (a step that could not be carried out, a timeout); null when it ran to the end.</summary>
    public string? Error { get; init; }

    /// <summary>
    /// The checks a drill with its own runner makes of its own measurement (heartbeat-loss, flapping-uplink,
    /// fgsp-dpd-flush: <see cref="DrillCatalog.OwnRunners"/>), pure functions of its result; part of <see cref="Checks"/>
    /// (and so of the JSON's `checks[]` and the verdict), not written twice.
    /// </summary>
    [JsonIgnore]
    public IReadOnlyList<DrillCheck> OwnChecks { get; init; } = [];

    /// <summary>The progress lines such a drill printed, in order (its per-step figures); null, and left out of the JSON, for the scripted drills.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Log { get; init; }

    /// <summary>False for a drill that sends no traffic through the tunnel (heartbeat-loss, fgsp-dpd-flush): it has no
    /// timeline to draw, so no SVG is written or linked.</summary>
    [JsonIgnore]
    public bool HasTimeline { get; init; } = true;

    public IReadOnlyList<DrillCheck> Checks => DrillVerdict.Checks(this);

    [JsonIgnore]
    public bool Passed => Checks.All(c => c.Ok != false);

    /// <summary>Each failed check as one line (<see cref="DrillCheck.Failure"/>): the FAIL line, the summary's "what failed".</summary>
    [JsonIgnore]
    public IReadOnlyList<string> Failures => Checks.Where(c => c.Ok == false).Select(c => c.Failure).ToList();

    /// <summary>"pass" when every expectation held, else "fail".</summary>
    [JsonPropertyOrder(-1)]
    public string Verdict => Passed ? "pass" : "fail";
}

/// <summary>A unit polled for the tunnel from the dial to the end: <paramref name="HeldAtMs"/> the first sight of it (ms after
/// the dial began), null when it never held it; <paramref name="Polls"/> how many answers were read.</summary>
public sealed record NeverHeldResult(string Unit, double? HeldAtMs, int Polls);

/// <summary>A fault applied before the traffic, to reach the drill's starting point.</summary>
public sealed record SetupResult(string Fault, double AtMs, string ExpectedOwner, string? Owner, double? OwnerAfterMs);

/// <summary>One measured fault.</summary>
public sealed record PhaseResult
{
    public required int Index { get; init; }
    public required string Fault { get; init; }
    public required string FaultDescription { get; init; }
    public double FaultAtMs { get; init; }

    public required string Detection { get; init; }
    /// <summary>After the fault; null when not seen in time.</summary>
    public double? DetectionMs { get; init; }
    /// <summary>Includes <see cref="UnitUpMs"/> for a unit started by the fault.</summary>
    public required double DetectionBoundMs { get; init; }
    /// <summary>For a fault that starts a unit: when it answered again (its HA running), after the fault.</summary>
    public double? UnitUpMs { get; init; }

    public string? OwnerBefore { get; init; }
    public string? ExpectedOwner { get; init; }
    public bool OwnerMoves { get; init; }
    /// <summary>After the fault: when <see cref="ExpectedOwner"/> listed vpn1_1 as sync-primary (or, with no expected owner,
    /// when the owners first differed from <see cref="OwnerBefore"/>); null when not seen.</summary>
    public double? RoleChangeMs { get; init; }
    public IReadOnlyList<string> RoleChangeOwners { get; init; } = [];
    /// <summary>Units listing vpn1_1 as sync-primary when the phase ended.</summary>
    public IReadOnlyList<string> OwnersAfter { get; init; } = [];
    /// <summary>Moments when two or more units listed vpn1_1 as sync-primary at once ("DC2_VM1+DC2_VM2 at 4.210 s for 40 ms").</summary>
    public IReadOnlyList<string> DoubleOwners { get; init; } = [];

    public string? ForwarderBefore { get; init; }
    /// <summary>The unit that forwarded most of the traffic once it was steady again; null when it did not settle.</summary>
    public string? ForwarderAfter { get; init; }
    /// <summary>Per unit, packets forwarded out of the tunnel during this phase's echo run.</summary>
    public IReadOnlyDictionary<string, long> Forwarded { get; init; } = new Dictionary<string, long>();

    public double TrafficStartMs { get; init; }
    public long Sent { get; init; }
    public long Answered { get; init; }
    public long Lost { get; init; }
    public double LongestGapMs { get; init; }
    /// <summary>When the longest gap began, on the timeline.</summary>
    public double LongestGapAtMs { get; init; }
    /// <summary>The part of <see cref="Lost"/> in the loss bursts that overlap the longest gap; the rest was lost elsewhere in the run.</summary>
    public long LostInLongestGap { get; init; }
    /// <summary>Runs of consecutive lost requests on the timeline, in time order (the largest 20 when there were more).</summary>
    public IReadOnlyList<LossBurstResult> LossBursts { get; init; } = [];
    /// <summary>How many runs of consecutive lost requests there were in all.</summary>
    public long LossBurstCount { get; init; }
    /// <summary>
    /// Lost before the traffic was steady, ahead of the fault (<see cref="EchoReport.LostBefore"/>): a run on a loaded
    /// machine lost 517 at its start (CI, stop 21's trial), with no unit's tunnel forwarding them and the failover's own
    /// 341 well inside 600. Reported, not held against the fault's bound.
    /// </summary>
    public long LostBeforeSteady { get; init; }
    public string? LossBoundKind { get; init; }
    /// <summary>The fault's share of <see cref="Lost"/> may be at most this: the window's bound, plus <see cref="LossBoundLateMs"/> at the rate.</summary>
    public long? LossBound { get; init; }
    /// <summary>How late the lab ran during the detection (the router's probe rounds or the detecting unit's timers), added
    /// to the detection bound; the outage lasts as much longer, so the loss bound grows by it at the rate.</summary>
    public double LossBoundLateMs { get; init; }
    /// <summary>The longest gap allowed (the loss bound's window, <see cref="DrillBounds.WindowMs"/>); null when the gap is only reported.</summary>
    public double? GapBoundMs { get; init; }

    /// <summary>"reused" (the owner's SPIs are the dialed ones), "renegotiated", or "unknown" (no single owner).</summary>
    public string Sa { get; init; } = "unknown";
    public string? OwnerDecSpi { get; init; }
    public string? OwnerEncSpi { get; init; }
}

/// <summary>A run of <paramref name="Count"/> consecutive lost requests, the first sent at <paramref name="AtMs"/> on the timeline,
/// the last <paramref name="LastedMs"/> later; <paramref name="InLongestGap"/> when sent while the longest gap lasted.</summary>
public sealed record LossBurstResult(double AtMs, long Count, double LastedMs, bool InLongestGap);

public sealed record RoleResult(string Unit, string ExpectedHa, string ActualHa, string ExpectedTunnel, string ActualTunnel)
{
    public bool Ok => ExpectedHa == ActualHa && ExpectedTunnel == ActualTunnel;
}

/// <summary>A marker on the timeline: "setup", "fault", "detection", "role-change" or "traffic".</summary>
public sealed record TimelineEvent(double AtMs, string Kind, string Text);

/// <summary>
/// Packets per interval: <see cref="Forwarded"/>[unit][i] is what the unit forwarded out of the tunnel between
/// <see cref="AtMs"/>[i-1] and <see cref="AtMs"/>[i] (from the previous sample; the first is against the tunnel's
/// start), <see cref="Answered"/>[i] what PC1 got answered in the same interval.
/// </summary>
public sealed record Timeline(double IntervalMs, IReadOnlyList<string> Units, IReadOnlyList<double> AtMs,
    IReadOnlyDictionary<string, IReadOnlyList<long>> Forwarded, IReadOnlyList<long> Answered)
{
    public static readonly Timeline Empty = new(100, [], [], new Dictionary<string, IReadOnlyList<long>>(), []);
}

/// <summary>One line of the verdict: what was measured against what was expected; <see cref="Ok"/> null for a value only reported.</summary>
public sealed record DrillCheck(string Phase, string What, string Measured, string Expected, bool? Ok)
{
    /// <summary>One line for a failed check: `PHASE: WHAT: MEASURED, expected EXPECTED` (the FAIL line, the summary's "what failed").</summary>
    [JsonIgnore]
    public string Failure => $"{Phase}: {What}: {Measured}, expected {Expected}";
}
