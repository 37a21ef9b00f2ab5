namespace ClusterActors.Actors.Fgcp;

/// <summary>
/// One cluster member as seen by the FGCP primary election.
/// </summary>
/// <param name="Serial">16-character FortiGate serial number (e.g. <c>FGVM02TM22000001</c>); unique per cluster.</param>
/// <param name="MonitorUp">Number of monitored interfaces (<c>set monitor</c>) currently up.</param>
/// <param name="HaUptime">HA uptime; 0 after a reboot, a monitored-interface failure or <c>diagnose sys ha reset-uptime</c>.</param>
/// <param name="Priority">Per-unit <c>priority</c>, 0–255 (FortiOS default 128).</param>
/// <param name="Override">Per-unit <c>override enable</c>.</param>
/// <param name="ExeFailOver">
/// <c>execute ha failover set 1</c> is in force on this unit (FortiOS's EXE_FAIL_OVER flag): it ranks below every member
/// without the flag, whatever the other rules say. Not persisted: a restarted unit starts without it.
/// </param>
public sealed record FgcpCandidate(string Serial, int MonitorUp, TimeSpan HaUptime, int Priority, bool Override, bool ExeFailOver = false);

/// <summary>The election rule that decided the primary against the runner-up.</summary>
public enum ElectionReason
{
    /// <summary>Single member: nothing to compare.</summary>
    OnlyMember,
    /// <summary>More monitored interfaces up (rule 1 in both modes).</summary>
    MonitoredInterfaces,
    /// <summary>HA uptime larger by more than <c>ha-uptime-diff-margin</c>.</summary>
    Uptime,
    /// <summary>Higher <c>priority</c> with override disabled (uptime gap within the margin).</summary>
    Priority,
    /// <summary>Higher serial number: every other rule tied.</summary>
    SerialNumber,
    /// <summary>Higher <c>priority</c> with override enabled (priority is checked before uptime).</summary>
    OverridePriority,
    /// <summary>
    /// The runner-up has the EXE_FAIL_OVER flag (<c>execute ha failover set 1</c>) and the primary has not: the flag
    /// outranks every other rule (reference §1, "Flags outrank everything").
    /// </summary>
    ExeFailOver,
}

/// <summary>Result of one FGCP election.</summary>
/// <param name="PrimarySerial">Elected primary.</param>
/// <param name="Reason">Rule that decided <see cref="PrimarySerial"/> against <see cref="RunnerUpSerial"/>.</param>
/// <param name="RunnerUpSerial">Second in <see cref="OperatingOrder"/>; <c>null</c> for a single member.</param>
/// <param name="OperatingOrder">Serials by HA operating index (<c>ha_prio</c>): 0 = primary, then secondaries in election order.</param>
/// <param name="HistoryText">The line FortiOS writes to <c>diagnose sys ha history read</c> for this election.</param>
public sealed record ElectionOutcome(
    string PrimarySerial,
    ElectionReason Reason,
    string? RunnerUpSerial,
    IReadOnlyList<string> OperatingOrder,
    string HistoryText);

/// <summary>
/// FGCP primary-election rules as pure functions (no actor system, no clock).
/// </summary>
/// <remarks>
/// <para>
/// Pairwise rules (reference §1):
/// <list type="bullet">
/// <item><b>EXE_FAIL_OVER first</b> (both modes): a member on which <c>execute ha failover set 1</c> is in force loses
/// to every member without it; between two members that both have it, or both not, the rules below decide
/// (<b>choice</b>: FortiOS's KB says setting the flag on the second member of a pair clears it on the first; we do not
/// model that clearing, so both flagged compare as neither flagged).</item>
/// <item><b>override disable</b> (default): (1) more monitored interfaces up → (2) larger HA uptime, only when the
/// difference is strictly greater than <c>ha-uptime-diff-margin</c> (a gap equal to the margin is not decisive)
/// → (3) higher priority → (4) higher serial number.</item>
/// <item><b>override enable</b>: (1) monitored interfaces up → (2) priority → (3) uptime (same margin rule)
/// → (4) serial number.</item>
/// </list>
/// Serial numbers are compared with <see cref="StringComparison.Ordinal"/>; FortiGate serials are fixed-length
/// upper-case ASCII, so ordinal order is the numeric order of the trailing digits within one model prefix.
/// </para>
/// <para>
/// <b>Mixed override settings</b> (project choice; FortiOS does not document it): <c>override</c> is a per-unit,
/// non-synchronised setting, and a unit with override enabled forces renegotiation whenever it joins or its
/// priority changes. We therefore apply the <i>override-enable</i> ordering to the whole cluster as soon as
/// <b>any</b> member has <see cref="FgcpCandidate.Override"/> set. Priority decisions in that mode are reported as
/// <see cref="ElectionReason.OverridePriority"/>.
/// </para>
/// <para>
/// <b>Three or more members</b> (project choice): because of the uptime margin the pairwise relation is not
/// transitive (A within margin of B, B within margin of C, but A more than the margin above C), so a cycle
/// such as "A beats B on priority, B beats C on priority, C beats A on uptime" can occur and no ordering can
/// satisfy every pair. The procedure is deterministic and independent of input order:
/// <list type="number">
/// <item>Seed: sort the members by the margin-free total order of the active mode (monitor desc, then
/// uptime/priority desc in mode order, then serial desc).</item>
/// <item>Rank: insert the seeded members one by one into the ranking, each in front of the <i>first</i>
/// member it beats under the pairwise rules (or at the end if it beats none).</item>
/// </list>
/// Index 0 is the primary, the rest is the operating order. This insertion guarantees that every member beats
/// its successor under the pairwise rules, so the primary always beats the runner-up and
/// <see cref="ElectionOutcome.Reason"/>/<see cref="ElectionOutcome.HistoryText"/> are truthful; only in a
/// margin cycle can a member lose head-to-head to a non-adjacent member ranked below it. Without cycles the
/// result is the plain sort by the pairwise rules. Monitored-interface count is transitive and first, so a
/// member with fewer monitored interfaces up never ranks above one with more.
/// </para>
/// </remarks>
public static class FgcpElection
{
    /// <summary>Elects the primary and the operating order of <paramref name="members"/>.</summary>
    /// <param name="members">Cluster members; serials must be unique.</param>
    /// <param name="uptimeMargin"><c>ha-uptime-diff-margin</c> (FortiOS default 300 s).</param>
    /// <exception cref="ArgumentException">Empty list, null member, empty or duplicate serial, negative
    /// monitor count or uptime, priority outside 0–255, or negative margin.</exception>
    public static ElectionOutcome Elect(IReadOnlyList<FgcpCandidate> members, TimeSpan uptimeMargin)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count == 0)
            throw new ArgumentException("An election needs at least one member.", nameof(members));
        if (uptimeMargin < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(uptimeMargin), uptimeMargin, "ha-uptime-diff-margin cannot be negative.");
        Validate(members);

        if (members.Count == 1)
        {
            var only = members[0].Serial;
            return new ElectionOutcome(only, ElectionReason.OnlyMember, null, [only],
                $"{only} is selected as the primary because it's the only member in the cluster.");
        }

        var overrideMode = members.Any(m => m.Override);

        var ranking = new List<FgcpCandidate>(members.Count);
        foreach (var candidate in Seed(members, overrideMode))
        {
            var at = ranking.FindIndex(placed => ReferenceEquals(Compare(candidate, placed, overrideMode, uptimeMargin).Winner, candidate));
            ranking.Insert(at < 0 ? ranking.Count : at, candidate);
        }

        var primary = ranking[0];
        var runnerUp = ranking[1];
        var reason = Compare(primary, runnerUp, overrideMode, uptimeMargin).Reason;
        return new ElectionOutcome(
            primary.Serial,
            reason,
            runnerUp.Serial,
            ranking.Select(m => m.Serial).ToArray(),
            HistoryText(primary.Serial, reason, runnerUp.Serial));
    }

    /// <summary>
    /// <c>serialno_prio</c> / "HA cluster index": rank of <paramref name="serial"/> among the member serials,
    /// 0 = highest serial (ordinal comparison). Also fixes the heartbeat IP 169.254.0.(index+1).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="serial"/> is not among the members.</exception>
    public static int SerialIndex(string serial, IEnumerable<string> memberSerials)
    {
        ArgumentNullException.ThrowIfNull(serial);
        var order = ClusterIndexOrder(memberSerials);
        for (var i = 0; i < order.Count; i++)
            if (string.Equals(order[i], serial, StringComparison.Ordinal))
                return i;
        throw new ArgumentException($"{serial} is not a member of the cluster.", nameof(serial));
    }

    /// <summary>Member serials by HA cluster index: highest serial first (ordinal), duplicates removed.</summary>
    public static IReadOnlyList<string> ClusterIndexOrder(IEnumerable<string> memberSerials)
    {
        ArgumentNullException.ThrowIfNull(memberSerials);
        var serials = memberSerials.Distinct(StringComparer.Ordinal).ToList();
        if (serials.Any(string.IsNullOrEmpty))
            throw new ArgumentException("Serial numbers must be non-empty.", nameof(memberSerials));
        serials.Sort((a, b) => string.CompareOrdinal(b, a));
        return serials;
    }

    /// <summary>
    /// Pairwise FGCP comparison: which of <paramref name="a"/> and <paramref name="b"/> wins and by which rule.
    /// Never a tie, since serials are unique.
    /// </summary>
    internal static (FgcpCandidate Winner, ElectionReason Reason) Compare(
        FgcpCandidate a, FgcpCandidate b, bool overrideMode, TimeSpan uptimeMargin)
    {
        if (a.ExeFailOver != b.ExeFailOver)
            return (a.ExeFailOver ? b : a, ElectionReason.ExeFailOver);
        if (a.MonitorUp != b.MonitorUp)
            return (a.MonitorUp > b.MonitorUp ? a : b, ElectionReason.MonitoredInterfaces);

        var uptimeGap = a.HaUptime - b.HaUptime;
        var uptimeDecides = uptimeGap.Duration() > uptimeMargin; // strictly greater: gap == margin is not decisive
        var uptimeWinner = uptimeGap > TimeSpan.Zero ? a : b;

        if (overrideMode)
        {
            if (a.Priority != b.Priority)
                return (a.Priority > b.Priority ? a : b, ElectionReason.OverridePriority);
            if (uptimeDecides)
                return (uptimeWinner, ElectionReason.Uptime);
        }
        else
        {
            if (uptimeDecides)
                return (uptimeWinner, ElectionReason.Uptime);
            if (a.Priority != b.Priority)
                return (a.Priority > b.Priority ? a : b, ElectionReason.Priority);
        }

        return (string.CompareOrdinal(a.Serial, b.Serial) > 0 ? a : b, ElectionReason.SerialNumber);
    }

    /// <summary>FortiOS <c>diagnose sys ha history read</c> wording for an election decided by <paramref name="reason"/>.</summary>
    internal static string HistoryText(string primary, ElectionReason reason, string? peer) => reason switch
    {
        ElectionReason.OnlyMember => $"{primary} is selected as the primary because it's the only member in the cluster.",
        ElectionReason.MonitoredInterfaces => $"{primary} is selected as the primary because it has more monitored interfaces up than peer member {peer}.",
        ElectionReason.Uptime => $"{primary} is selected as the primary because its uptime is larger than peer member {peer}.",
        ElectionReason.Priority => $"{primary} is selected as the primary because its priority is larger than peer member {peer}.",
        ElectionReason.OverridePriority => $"{primary} is selected as the primary because its override priority is larger than peer member {peer}.",
        ElectionReason.SerialNumber => $"{primary} is selected as the primary because its serial number is larger than peer member {peer}.",
        // FortiOS's own words (Fortinet KB 196696, admin guide 6.4.5 "Force HA failover"): said of the unit that became
        // primary, although the flag is on its peer.
        ElectionReason.ExeFailOver => $"{primary} is selected as the primary because it has EXE_FAIL_OVER flag set.",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, null),
    };

    /// <summary>Margin-free total order of the active mode, best first; only used to seed the ranking.</summary>
    private static IEnumerable<FgcpCandidate> Seed(IReadOnlyList<FgcpCandidate> members, bool overrideMode)
    {
        var byMonitor = members.OrderBy(m => m.ExeFailOver).ThenByDescending(m => m.MonitorUp);
        var ordered = overrideMode
            ? byMonitor.ThenByDescending(m => m.Priority).ThenByDescending(m => m.HaUptime)
            : byMonitor.ThenByDescending(m => m.HaUptime).ThenByDescending(m => m.Priority);
        return ordered.ThenByDescending(m => m.Serial, StringComparer.Ordinal);
    }

    private static void Validate(IReadOnlyList<FgcpCandidate> members)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in members)
        {
            if (m is null)
                throw new ArgumentException("Members cannot contain null.", nameof(members));
            if (string.IsNullOrEmpty(m.Serial))
                throw new ArgumentException("Serial numbers must be non-empty.", nameof(members));
            if (!seen.Add(m.Serial))
                throw new ArgumentException($"Duplicate serial number {m.Serial}.", nameof(members));
            if (m.MonitorUp < 0)
                throw new ArgumentException($"{m.Serial}: monitored-interface count cannot be negative.", nameof(members));
            if (m.HaUptime < TimeSpan.Zero)
                throw new ArgumentException($"{m.Serial}: HA uptime cannot be negative.", nameof(members));
            if (m.Priority is < 0 or > 255)
                throw new ArgumentException($"{m.Serial}: priority {m.Priority} is outside 0-255.", nameof(members));
        }
    }
}
