using System.Globalization;

namespace ClusterActors.Node.Drills;

/// <summary>The bounds a drill's measurements are held to, from the lab's timers alone.</summary>
public static class DrillBounds
{
    /// <summary>Added to every nominal detection time: the fault can fall anywhere in a heartbeat or probe interval and
    /// the units take a moment to act on it (DataPlaneDrillSpec's allowance).</summary>
    public const double SlackMs = 200;

    /// <summary>How long after the fault the detection may come.</summary>
    public static double DetectionMs(DetectionKind kind, DrillTimers t) => kind switch
    {
        // The secondary declares the primary lost after hb-interval × hb-lost-threshold without a heartbeat.
        DetectionKind.BecomesPrimary or DetectionKind.SplitBrain => t.FgcpDetectionMs + t.SlackMs,
        DetectionKind.RouterWithdraws => t.RouterDetectionMs + t.SlackMs,
        // A returning unit that has not found its cluster by the end of hello-holddown works alone as primary.
        DetectionKind.RejoinsAsSecondary => t.HelloHolddownSeconds * 1000.0,
        // Two primaries that hear each other again negotiate on the next heartbeats.
        DetectionKind.OnePrimary => 2.0 * t.HbIntervalMs + t.SlackMs,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The most packets the phase may lose at <paramref name="ratePps"/>; null for a phase without a loss bound.</summary>
    /// <param name="lateMs">How late the lab ran during the detection (added to its bound): the window grows by it.</param>
    public static long? Loss(LossBoundKind kind, DrillTimers t, double ratePps, double lateMs = 0) =>
        WindowMs(kind, t) is { } ms ? Packets(ms + lateMs, ratePps) : null;

    /// <summary>How long the phase's traffic may go unanswered: FGCP detection (hb-interval × hb-lost-threshold), or the
    /// router's, or nothing, plus the lab's slack; null for a phase without a bound.</summary>
    public static double? WindowMs(LossBoundKind kind, DrillTimers t) => kind switch
    {
        LossBoundKind.Fgcp => t.FgcpDetectionMs + t.SlackMs,
        LossBoundKind.Router => t.RouterDetectionMs + t.SlackMs,
        LossBoundKind.NoFailover => t.SlackMs,
        LossBoundKind.None => null,
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>How the loss bound is computed, for the reports.</summary>
    public static string LossFormula(LossBoundKind kind, DrillTimers t, double ratePps) => kind switch
    {
        LossBoundKind.Fgcp => F($"(hb-interval {t.HbIntervalMs} ms × hb-lost-threshold {t.HbLostThreshold} + {t.SlackMs} ms) × {ratePps} pps"),
        LossBoundKind.Router => F($"(router detection ({t.ProbeMisses} + 1) × {t.ProbeIntervalMs} ms + {t.SlackMs} ms) × {ratePps} pps"),
        LossBoundKind.NoFailover => F($"{t.SlackMs} ms × {ratePps} pps (nothing moves)"),
        _ => "no bound",
    };

    private static long Packets(double ms, double ratePps) => (long)Math.Floor(ms / 1000.0 * ratePps + 1e-9);

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

/// <summary>The checks of a run, each measured value against its expectation, from the result alone.</summary>
public static class DrillVerdict
{
    public static IReadOnlyList<DrillCheck> Checks(DrillRunResult r)
    {
        var checks = new List<DrillCheck>();
        if (r.Error is not null) checks.Add(new("run", "the drill ran to the end", r.Error, "no error", false));
        checks.Add(new("tunnel", "CLIENT1's tunnel came up on", r.DialedVia ?? "no unit", r.ExpectedDialedVia, r.DialedVia == r.ExpectedDialedVia));
        foreach (var s in r.Setup)
            checks.Add(new($"setup: {s.Fault}", "vpn1_1 moved to", s.Owner is null ? "no single owner" : $"{s.Owner} after {Ms(s.OwnerAfterMs)}",
                s.ExpectedOwner, s.Owner == s.ExpectedOwner));
        foreach (var n in r.NeverHeld)
            checks.Add(new("run", $"{n.Unit} never holds vpn1_1 (fgsp-sync disable)",
                n.HeldAtMs is { } at ? $"held it {Ms(at)} after the dial" : $"never held it ({n.Polls} polls)", "never", n.HeldAtMs is null && n.Polls > 0));
        foreach (var p in r.Phases) Phase(p, checks);
        foreach (var census in r.Censuses)
            checks.Add(new($"clients: {census.Label}", $"{census.Clients} tunnels: one owner each, by the router's rule, on all their holders",
                census.Holds ? $"per owner {census.Counts}" : $"{census.Violations.Count} wrong: {string.Join("; ", census.Violations.Take(3))}"
                                                             + (census.Violations.Count > 3 ? $"; {census.Violations.Count - 3} more" : ""),
                "every tunnel", census.Holds));
        foreach (var back in r.Recoveries.Where(x => x.Moved > 0))
            checks.Add(new($"clients: back {back.Label}", $"{back.Moved} moved tunnels forwarding again (first / median / last after the fault)",
                $"{back.Back} back; {Ms(back.FirstMs)} / {Ms(back.MedianMs)} / {Ms(back.LastMs)}"
                + (back.NotBack.Count > 0 ? $"; not back: {string.Join(", ", back.NotBack.Take(3))}" + (back.NotBack.Count > 3 ? $" and {back.NotBack.Count - 3} more" : "") : "")
                + (back.Late.Count > 0 ? $"; late: {string.Join(", ", back.Late.Take(3))}" + (back.Late.Count > 3 ? $" and {back.Late.Count - 3} more" : "") : ""),
                $"all within {back.BoundMs:0} ms (+ {back.ProbeIntervalMs:0} ms probe interval)", back.Holds));
        checks.AddRange(r.OwnChecks);
        ClientCounter(checks, "anti-replay drops", r.AntiReplayDrops);
        ClientCounter(checks, "ICV failures", r.IcvFailures);
        foreach (var role in r.Roles)
            checks.Add(new("afterwards", $"{role.Unit} HA / tunnel role", $"{role.ActualHa} / {role.ActualTunnel}",
                $"{role.ExpectedHa} / {role.ExpectedTunnel}", role.Ok));
        if (r.Roles.Count > 0)
        {
            var owners = r.Roles.Where(x => x.ActualTunnel == "sync-primary").Select(x => x.Unit).ToList();
            checks.Add(new("afterwards", "units owning vpn1_1", owners.Count == 0 ? "none" : string.Join(", ", owners), "exactly one", owners.Count == 1));
        }
        return checks;
    }

    private static void ClientCounter(List<DrillCheck> checks, string what, long? count) =>
        checks.Add(count is { } n
            ? new("run", $"CLIENT1 {what}", Count(n), "0", n == 0)
            : new("run", $"client {what}", "not counted by this client (strongSwan)", "—", null));

    private static void Phase(PhaseResult p, List<DrillCheck> checks)
    {
        var name = $"{p.Index}: {p.Fault}";
        checks.Add(new(name, $"detection: {p.Detection}", p.DetectionMs is { } d ? Ms(d) : "not seen",
            $"≤ {Ms(p.DetectionBoundMs)}", p.DetectionMs is { } dd && dd <= p.DetectionBoundMs));
        if (p.OwnerMoves && p.ExpectedOwner is { } expected)
            checks.Add(new(name, $"role change: {expected} lists vpn1_1 as sync-primary", p.RoleChangeMs is { } rc ? Ms(rc) : "not seen",
                "after the fault", p.RoleChangeMs is not null));
        else if (p.OwnerMoves)
            checks.Add(new(name, "role change: vpn1_1's owner after the fault",
                p.RoleChangeMs is { } rc ? $"{Join(p.RoleChangeOwners)} after {Ms(rc)}" : $"unchanged ({p.OwnerBefore ?? "none"})", "measured", null));
        foreach (var twice in p.DoubleOwners) checks.Add(new(name, "two owners at once", twice, "measured", null));
        if (p.ExpectedOwner is { } owner)
            checks.Add(new(name, p.OwnerMoves ? "vpn1_1's owner once settled" : "vpn1_1 stays on", Join(p.OwnersAfter), owner,
                p.OwnersAfter.Count == 1 && p.OwnersAfter[0] == owner));
        else
            checks.Add(new(name, "vpn1_1's owner(s) at the end of the phase", Join(p.OwnersAfter), "measured", null));
        var resumed = p.ForwarderAfter is null ? "did not settle" : $"through {p.ForwarderAfter}";
        if (p.ExpectedOwner is { } via)
            checks.Add(new(name, "traffic steady again", resumed, $"through {via}", p.ForwarderAfter == via));
        else
            checks.Add(new(name, "traffic steady again", resumed, "measured", null));
        checks.Add(new(name, "traffic gap (PC1's longest without a reply)", Ms(p.LongestGapMs),
            p.GapBoundMs is { } g ? $"≤ {Ms(g)}" : "measured", p.GapBoundMs is { } gb ? p.LongestGapMs <= gb : null));
        checks.Add(new(name, "packets lost", $"{Count(p.Lost)} of {Count(p.Sent)}"
                                             + (p.LostBeforeSteady > 0 ? $" ({Count(p.LostBeforeSteady)} before the traffic was steady, not the fault's)" : ""),
            p.LossBound is { } b ? $"≤ {Count(b)}" : "measured", p.LossBound is { } bound ? p.Lost - p.LostBeforeSteady <= bound : null));
        checks.Add(new(name, "SAs", p.Sa, "reused", p.Sa == "reused"));
    }

    private static string Join(IReadOnlyList<string> units) => units.Count == 0 ? "none" : string.Join("+", units);

    public static string Ms(double? ms) => ms is { } v ? v.ToString("0", CultureInfo.InvariantCulture) + " ms" : "—";

    public static string Count(long n) => n.ToString(CultureInfo.InvariantCulture);
}
