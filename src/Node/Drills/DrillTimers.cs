using ClusterActors.Protocol.Config;
using ClusterActors.Node.LabHarness.Fabric;

namespace ClusterActors.Node.Drills;

/// <summary>
/// The timers a drill's bounds follow: FGCP's (the same on every unit) and the DC router's probing of each cluster's
/// port2 address (<see cref="Scenario.EmbeddedScenarioDriver.RouterProbeAbove"/>).
/// </summary>
public sealed record DrillTimers(
    int HbIntervalMs,
    int HbLostThreshold,
    int HelloHolddownSeconds,
    int HaUptimeDiffMarginSeconds,
    int ProbeIntervalMs,
    int ProbeMisses)
{
    /// <summary>hb-interval × hb-lost-threshold: how long a unit waits without heartbeats before it declares a peer lost.</summary>
    public double FgcpDetectionMs => (double)HbIntervalMs * HbLostThreshold;

    /// <summary>
    /// (misses + 1) × probe interval: a probe counts as missed when the next one is due, and the fault may come just
    /// after an answered probe, so the router declares the next hop dead at most this long after it stops answering.
    /// </summary>
    public double RouterDetectionMs => (double)ProbeIntervalMs * (ProbeMisses + 1);

    /// <summary>Slack on top of <see cref="DrillBounds.SlackMs"/> that the lab needs: 0 embedded, 100 ms in containers
    /// (the issue allows detection + 300 ms in docker mode).</summary>
    public int ExtraSlackMs { get; init; }

    /// <summary>What every nominal detection time gets added in this lab.</summary>
    public double SlackMs => DrillBounds.SlackMs + ExtraSlackMs;

    public static DrillTimers From(ConfigDocument unit, ProbeOptions probe) => new(
        (int)unit.Ha.HeartbeatInterval.TotalMilliseconds, unit.Ha.HbLostThreshold, unit.Ha.HelloHolddown, unit.Ha.HaUptimeDiffMargin,
        (int)probe.Interval.TotalMilliseconds, probe.MissedProbes);
}
