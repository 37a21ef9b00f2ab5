using System.Globalization;
using System.Text;

namespace ClusterActors.Node.Drills;

/// <summary>A run's report as plain Markdown: setup, faults, measured values against bounds, roles afterwards, verdict.</summary>
public static class MarkdownReport
{
    public const string Pass = "✓", Fail = "✗";

    public static string Render(DrillRunResult r, string? svgFile = null)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        var checks = r.Checks;
        sb.Append(c, $"# Drill {r.Drill}, run {r.Run}: {(r.Passed ? "PASS" : "FAIL")}\n\n");
        sb.Append(c, $"**{r.Title}.** {r.Summary}\n\n");

        sb.Append("## Setup\n\n");
        sb.Append(c, $"- Scenario `{r.Scenario}`, {LabText(r.Mode)}; started {r.StartedAt:yyyy-MM-dd HH:mm:ss} UTC, {r.DurationS.ToString("0.0", c)} s.\n");
        if (r.Cast.Count == 0)
            sb.Append(c, $"- Cast: DC2_VM1 and DC2_VM3 have the shipped `priority 200` (the document's usr_priority=200), so they are their clusters' primaries; "
                         + $"CLIENT1 dials lb1 192.168.202.35 and the DC router's flow hash picks cluster 1.\n");
        else
            foreach (var role in r.Cast) sb.Append(c, $"- Cast: {role.Role} **{role.Unit}**: {role.Why}.\n");
        foreach (var change in r.ConfigChanges) sb.Append(c, $"- Config: {change}\n");
        var t = r.Timers;
        sb.Append(c, $"- HA timers: hb-interval {t.HbIntervalMs} ms × hb-lost-threshold {t.HbLostThreshold} = FGCP detection {t.FgcpDetectionMs:0} ms; ");
        sb.Append(c, $"hello-holddown {t.HelloHolddownSeconds} s; ha-uptime-diff-margin {t.HaUptimeDiffMarginSeconds} s");
        sb.Append(r.FastTimers ? " (`--fast-timers`).\n"
            : t.HbIntervalMs < 100 ? " (`--hb-10ms`: hb-interval-in-milliseconds 10ms).\n"
            : " (the VM defaults the seed keeps, hello-holddown lowered).\n");
        sb.Append(c, $"- DC router: probes each cluster's port2 address every {t.ProbeIntervalMs} ms, dead after {t.ProbeMisses} missed: ");
        sb.Append(c, $"router detection ({t.ProbeMisses} + 1) × {t.ProbeIntervalMs} ms = {t.RouterDetectionMs:0} ms.\n");
        sb.Append(r.RatePps == 0
            ? "- Traffic: none through the tunnel (the drill watches the units' roles and tunnel lists, not PC1's echoes).\n"
            : r.Mode.Contains("strongSwan", StringComparison.Ordinal)
            ? string.Create(c, $"- Traffic: strongSwan's LAN side 10.10.1.1 → Server 10.10.101.2, `ping -D -O -i {(1 / r.RatePps).ToString("0.######", c)}` ({r.RatePps.ToString(c)} pps nominal) through charon's ipsec0 and the tunnel, one ping run per fault; strongSwan counts no anti-replay drops or ICV failures (the report says so, not 0).\n")
            : string.Create(c, $"- Traffic: PC1 10.10.1.2 → Server 10.10.101.2, ICMP echo at {r.RatePps.ToString(c)} pps through the tunnel, one echo run per fault.\n"));
        sb.Append(c, $"- Tunnel: vpn1_1 came up on {r.DialedVia ?? "no single unit"} (expected {r.ExpectedDialedVia})");
        if (r.DialNextHop is not null) sb.Append(c, $" via the router's next hop {r.DialNextHop}");
        if (r.DialedDecSpi is not null) sb.Append(c, $"; SAs dec spi `{r.DialedDecSpi}`, enc spi `{r.DialedEncSpi}`");
        sb.Append(".\n\n");

        sb.Append("## Faults\n\n| # | at | fault |\n|---|---:|---|\n");
        foreach (var s in r.Setup) sb.Append(c, $"| setup | {Sec(s.AtMs)} | {Cell(s.Fault)}, before the traffic: vpn1_1 then on {s.Owner ?? "no single unit"} |\n");
        foreach (var p in r.Phases) sb.Append(c, $"| {p.Index} | {Sec(p.FaultAtMs)} | {Cell(p.FaultDescription)} |\n");
        // A drill with its own runner has no scripted phases: its faults are on the timeline (the flaps), or in its log.
        var ownFaults = r.Setup.Count + r.Phases.Count == 0 ? r.Events.Where(e => e.Kind == "fault").ToList() : [];
        foreach (var (e, i) in ownFaults.Select((e, i) => (e, i + 1))) sb.Append(c, $"| {i} | {Sec(e.AtMs)} | {Cell(e.Text)} |\n");
        if (r.Setup.Count + r.Phases.Count + ownFaults.Count == 0)
            sb.Append(r.Log is { Count: > 0 } ? "| — | — | as the drill's log below says |\n" : "| — | — | none injected |\n");
        sb.Append("\nTimes are seconds since the tunnel came up (the timeline's zero); measured delays are after the fault.\n\n");

        sb.Append("## Measured\n\n| phase | what | measured | expected | |\n|---|---|---:|---|:-:|\n");
        foreach (var check in checks.Where(x => x.Phase != "afterwards"))
            sb.Append(c, $"| {Cell(check.Phase)} | {Cell(check.What)} | {Cell(check.Measured)} | {Cell(check.Expected)} | {Mark(check.Ok)} |\n");
        sb.Append('\n');
        foreach (var p in r.Phases)
        {
            if (p.UnitUpMs is { } up)
                sb.Append(c, $"Phase {p.Index}: the started unit ran again (its HA answered) {up:0} ms after the start; the detection bound is that "
                             + $"plus hello-holddown {r.Timers.HelloHolddownSeconds} s, which counts from when HA starts.  \n");
            if (p.LossBound is not null)
                sb.Append(c, $"Phase {p.Index} loss bound: {DrillBounds.LossFormula(Enum.Parse<LossBoundKind>(p.LossBoundKind!, true), r.Timers, r.RatePps)}")
                    .Append(p.LossBoundLateMs > 0 ? string.Create(c, $", the window {p.LossBoundLateMs:0} ms longer for the lab running late") : "")
                    .Append(c, $" = {p.LossBound}.  \n");
            var fwd = string.Join(", ", p.Forwarded.Where(kv => kv.Value > 0).Select(kv => $"{kv.Key} {kv.Value}"));
            sb.Append(c, $"Phase {p.Index} traffic: sent {p.Sent}, answered {p.Answered}, longest gap {p.LongestGapMs:0} ms from {Sec(p.LongestGapAtMs)}; ");
            sb.Append(c, $"forwarded from the tunnel: {(fwd.Length == 0 ? "nothing" : fwd)}");
            if (p.OwnerDecSpi is not null) sb.Append(c, $"; owner's SAs dec `{p.OwnerDecSpi}` enc `{p.OwnerEncSpi}`");
            sb.Append(".  \n");
            if (p.Lost > 0) sb.Append(LossText(p)).Append("  \n");
            if (p.LostBeforeSteady > 0)
                sb.Append(c, $"Phase {p.Index}: {p.LostBeforeSteady} of them lost before the traffic was steady, ahead of the fault, in outages already over: not held against the bound.  \n");
        }
        if (r.Phases.Count > 0) sb.Append('\n');

        if (r.Censuses.Count > 0)
        {
            // Many clients: every tunnel per owner before the faults and after each phase, one column per unit.
            var units = r.Censuses.SelectMany(x => x.PerOwner.Select(o => o.Unit)).Distinct().ToList();
            sb.Append(c, $"## Clients\n\n{r.Clients.Count} clients dialed; the DC router placed them: ")
                .Append(string.Join(", ", r.Clients.GroupBy(x => x.NextHop ?? "no next hop")
                    .Select(g => $"{g.Count()} via {g.Key} ({string.Join("+", g.First().NextHopUnits)})")))
                .Append(r.OthersTraffic is { } ot ? string.Create(c, $". The other clients' PCs sent {ot.Sent} echo requests, {ot.Answered} answered.") : ".")
                .Append("\n\nTunnels each unit lists as sync-primary:\n\n")
                .Append(c, $"| when | {string.Join(" | ", units)} | settled after | |\n|---|{string.Concat(units.Select(_ => "--:|"))}--:|:-:|\n");
            foreach (var census in r.Censuses)
            {
                var cells = units.Select(u => census.PerOwner.FirstOrDefault(o => o.Unit == u) is { } o ? o.Tunnels.ToString(c) : "down");
                sb.Append(c, $"| {Cell(census.Label)} | {string.Join(" | ", cells)} | {census.SettledMs:0} ms | {Mark(census.Holds)} |\n");
            }
            sb.Append('\n');
            foreach (var census in r.Censuses.Where(x => !x.Holds))
                foreach (var v in census.Violations) sb.Append(c, $"- {Cell(census.Label)}: {Cell(v)}\n");
            if (r.Censuses.Any(x => !x.Holds)) sb.Append('\n');
            if (r.Recoveries.Count > 0)
            {
                // Per tunnel, measured by its own client's probe: when each moved tunnel forwarded again after the fault.
                sb.Append("Each other client's tunnel back after the fault, by its own PC's probe (the reply to the first answered request after the last one lost since the fault; CLIENT1's is the traffic above); moved: another owner than in the census before:\n\n")
                    .Append("| phase | moved | back | first | median | last | bound | probe every | stayed (lost requests) | |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|:-:|\n");
                foreach (var b in r.Recoveries)
                    sb.Append(c, $"| {Cell(b.Label)} | {b.Moved} | {b.Back} | {DrillVerdict.Ms(b.FirstMs)} | {DrillVerdict.Ms(b.MedianMs)} | {DrillVerdict.Ms(b.LastMs)} | {b.BoundMs:0} ms | {b.ProbeIntervalMs:0} ms | {b.Stayed} ({b.StayedLosing}) | {Mark(b.Holds)} |\n");
                sb.Append('\n');
                foreach (var b in r.Recoveries)
                {
                    foreach (var n in b.NotBack) sb.Append(c, $"- {Cell(b.Label)}: {Cell(n)} not back\n");
                    foreach (var l in b.Late) sb.Append(c, $"- {Cell(b.Label)}: {Cell(l)}: late\n");
                }
                if (r.Recoveries.Any(b => !b.Holds)) sb.Append('\n');
            }
        }

        if (r.Roles.Count > 0 || r.OwnChecks.Count == 0)
        {
            sb.Append("## Roles afterwards\n\n| unit | HA expected | HA actual | tunnel expected | tunnel actual | |\n|---|---|---|---|---|:-:|\n");
            foreach (var role in r.Roles)
                sb.Append(c, $"| {role.Unit} | {role.ExpectedHa} | {role.ActualHa} | {role.ExpectedTunnel} | {role.ActualTunnel} | {Mark(role.Ok)} |\n");
            if (r.Roles.Count == 0) sb.Append("| — | | | | not reached | |\n");
            sb.Append('\n');
        }
        if (r.Log is { Count: > 0 })
        {
            sb.Append("## Log\n\nThe drill's progress as it printed it:\n\n```\n");
            foreach (var line in r.Log) sb.Append(line).Append('\n');
            sb.Append("```\n\n");
        }

        if (r.Notes.Count > 0)
        {
            sb.Append("## Notes\n\n");
            foreach (var n in r.Notes) sb.Append(c, $"- {n}\n");
            sb.Append('\n');
        }
        if (svgFile is not null) sb.Append(c, $"Timeline (packets per 100 ms through each unit): [{svgFile}]({svgFile})\n\n");
        if (r.Pcaps.Count > 0)
        {
            sb.Append("## Packets\n\nOne pcapng per segment (raw IPv4, one interface per sending port):\n\n");
            foreach (var p in r.Pcaps)
                sb.Append(c, $"- `{Path.GetFileName(p.File)}`: {p.Segment}, {p.Packets} packets{(p.NotKept > 0 ? $" ({p.NotKept} more between the first and the most recent, past the capture's bound, not saved)" : "")}\n");
            if (r.TsharkCommand is not null)
                sb.Append("\nDecrypt the tunnel's ESP with this run's keys (the same options work on every file):\n\n```\n").Append(r.TsharkCommand).Append("\n```\n");
            sb.Append('\n');
        }

        sb.Append("## Verdict\n\n");
        var failed = checks.Where(x => x.Ok == false).ToList();
        if (failed.Count == 0) sb.Append(c, $"**PASS**: all {checks.Count(x => x.Ok == true)} expectations held.\n");
        else
        {
            sb.Append(c, $"**FAIL**: {failed.Count} of {checks.Count(x => x.Ok is not null)} expectations failed:\n\n");
            foreach (var f in failed) sb.Append(c, $"- {f.Phase}: {f.What}: {f.Measured} (expected {f.Expected})\n");
        }
        return sb.ToString();
    }

    /// <summary>
    /// Where a phase's losses were: inside the longest gap (the failover) and elsewhere, with the bursts outside the gap,
    /// largest first: `lost 4757: 4240 while the longest gap lasted, 517 elsewhere in 12 burst(s): 101 from 4.870 s (100 ms), …`.
    /// </summary>
    public static string LossText(PhaseResult p)
    {
        var c = CultureInfo.InvariantCulture;
        var elsewhere = p.Lost - p.LostInLongestGap;
        var text = string.Create(c, $"Phase {p.Index} loss: {p.Lost} lost, {p.LostInLongestGap} while the longest gap lasted, {elsewhere} elsewhere");
        if (elsewhere <= 0) return text + ".";
        var outside = p.LossBursts.Where(b => !b.InLongestGap).OrderByDescending(b => b.Count).ThenBy(b => b.AtMs).ToList();
        var inGap = p.LossBursts.Count(b => b.InLongestGap);
        var total = p.LossBurstCount - inGap;
        text += string.Create(c, $" in {total} burst(s)");
        if (outside.Count == 0) return text + ".";
        text += outside.Count < total ? string.Create(c, $", the largest {outside.Count}: ") : ": ";
        return text + string.Join(", ", outside.Take(10).Select(b => string.Create(c, $"{b.Count} from {Sec(b.AtMs)} ({b.LastedMs:0} ms)")))
               + (outside.Count > 10 ? string.Create(c, $" and {outside.Count - 10} more in the JSON") : "") + ".";
    }

    public static string LabText(string mode) => mode == "embedded"
        ? "embedded lab (four units as ActorSystems in one process, real Akka remoting and UDP heartbeats on loopback, the in-memory packet fabric, SQLite)"
        : $"{mode} lab";

    private static string Mark(bool? ok) => ok switch { true => Pass, false => Fail, null => "" };

    private static string Sec(double ms) => (ms / 1000).ToString("0.000", CultureInfo.InvariantCulture) + " s";

    private static string Cell(string text) => text.Replace("|", "\\|").Replace("\n", " ");
}
