using System.Globalization;
using System.Text.RegularExpressions;

namespace ClusterActors.Node.Drills;

/// <summary>Every tunnel's owners at one moment (the units listing it as sync-primary), ms after the fault: asked from
/// <see cref="AtMs"/>, the last unit answered at <see cref="EndMs"/> (the same when not measured).</summary>
public sealed record OwnerSample(double AtMs, IReadOnlyDictionary<string, IReadOnlyList<string>> Owners)
{
    public double EndMs { get; init; } = AtMs;
}

/// <summary>PC1's echo run at one moment, ms after the fault: requests sent and answered so far.</summary>
public sealed record TrafficSample(double AtMs, long Sent, long Answered);

/// <summary>
/// What one chaos run observed, as values (times in ms after the fault): the invariant checker's whole input.
/// </summary>
public sealed record ChaosObservation
{
    public required ChaosFault Fault { get; init; }
    public required double FaultBoundMs { get; init; }
    /// <summary>When the heal was applied (for a heal that starts a unit: when it was started).</summary>
    public required double HealAtMs { get; init; }
    /// <summary>The heal's bound, counted from <see cref="HealAtMs"/> (a started unit's time to answer included).</summary>
    public required double HealBoundMs { get; init; }
    /// <summary>The end of the observation after the heal.</summary>
    public required double ObservedUntilMs { get; init; }

    /// <summary>The tunnels at the start of the run: each must have exactly one owner.</summary>
    public required IReadOnlyList<string> Tunnels { get; init; }
    public required IReadOnlyList<OwnerSample> Owners { get; init; }
    public required IReadOnlyList<TrafficSample> Traffic { get; init; }

    /// <summary>CLIENT1's counters at the start and the end of the run; null where the client does not count them.</summary>
    public long? AntiReplayBefore { get; init; }
    public long? AntiReplayAfter { get; init; }
    /// <summary>The anti-replay drops of this run as the client traced them (with their senders where the lab captures them).</summary>
    public IReadOnlyList<string> AntiReplayTrace { get; init; } = [];
    public long? IcvBefore { get; init; }
    public long? IcvAfter { get; init; }

    /// <summary>Some unit holding the SAs was left running through the fault, so the SAs must be the ones of the run's start.</summary>
    public required bool SaReuseRequired { get; init; }
    /// <summary>The CHILD SA at the start of the run, in the gateway's terms (dec: the client's outbound SPI, enc: its inbound).</summary>
    public required uint DecSpi { get; init; }
    public required uint EncSpi { get; init; }
    /// <summary>The single owner's SPIs at the end; null when there was no single owner to ask.</summary>
    public uint? OwnerDecSpi { get; init; }
    public uint? OwnerEncSpi { get; init; }
    public required uint ClientOutboundSpi { get; init; }
    public required uint ClientInboundSpi { get; init; }
    /// <summary>The client's IKE SA (initiator, responder SPIs) at the start and the end; null where the client does not say.</summary>
    public (ulong SpiI, ulong SpiR)? ClientIkeBefore { get; init; }
    public (ulong SpiI, ulong SpiR)? ClientIkeAfter { get; init; }
    /// <summary>CHILD SA rekeys the gateway asked for and the client answered, at the start and the end; null where not counted.</summary>
    public long? ChildRekeysBefore { get; init; }
    public long? ChildRekeysAfter { get; init; }

    /// <summary>`diagnose sys ha history read` of every unit at the start and at the end; null where it could not be read.</summary>
    public required IReadOnlyDictionary<string, string?> HistoryBefore { get; init; }
    public required IReadOnlyDictionary<string, string?> HistoryAfter { get; init; }

    /// <summary>The FGCP clusters (units by group-id) and each unit's synced-config checksum at the end.</summary>
    public required IReadOnlyList<IReadOnlyList<string>> Clusters { get; init; }
    public required IReadOnlyDictionary<string, string?> Checksums { get; init; }

    /// <summary>database-stop only: what the config change made on the unit while its database was stopped got back
    /// (exit code and output; an exception's message as exit code null); null for other kinds.</summary>
    public DatabaseChangeResult? ChangeWhileStopped { get; init; }
    /// <summary>database-stop only: ms after the heal when a config change on the unit was first accepted (journaled); null: never.</summary>
    public double? ChangeJournaledMs { get; init; }
    /// <summary>database-stop only: the last refusal after the heal, when no change was accepted.</summary>
    public string? ChangeAfterRefusal { get; init; }

    /// <summary>Every unit answered again, both clusters whole, every unit holding the tunnels: the next run can start.</summary>
    public required bool Healed { get; init; }
    public string? NotHealed { get; init; }
}

/// <summary>What a config change got back: the CLI's exit code (null when the call itself failed) and its output.</summary>
public sealed record DatabaseChangeResult(int? ExitCode, string Output);

/// <summary>One broken invariant of one run.</summary>
public sealed record ChaosViolation(string Invariant, string Detail);

/// <summary>
/// The chaos drill's invariants, from a <see cref="ChaosObservation"/> alone (pure): exactly one owner per tunnel within
/// each window's bound + 500 ms; PC1's traffic flows again after the heal; no anti-replay drops (nor ICV failures) at
/// CLIENT1; the SAs reused unless no unit was left to own them; every unit's HA history intact; the synced-config
/// checksum equal within each FGCP cluster; the lab healed for the next run.
/// </summary>
public static partial class ChaosInvariants
{
    /// <summary>What the issue allows on top of a fault's detection bound before a tunnel must have one owner again.</summary>
    public const double OwnerAllowanceMs = 500;

    /// <summary>"Flows": at least this share of what PC1 sent over <see cref="FlowWindowMs"/> answered (the drills' steady state).</summary>
    public const double FlowShare = 0.95;
    public const double FlowWindowMs = 500;

    /// <summary>FortiOS keeps the last 512 HA history entries: beyond that the oldest go, which is not a loss.</summary>
    public const int HistoryRing = 512;

    public const string OneOwner = "one-owner", TrafficFlows = "traffic-flows", AntiReplay = "anti-replay", Icv = "icv",
        SaReuse = "sa-reuse", HaHistory = "ha-history", ConfigChecksum = "config-checksum", LabHealed = "lab-healed",
        DatabaseRefused = "database-refused", DatabaseJournaled = "database-journaled";

    public static IReadOnlyList<ChaosViolation> Check(ChaosObservation o)
    {
        var v = new List<ChaosViolation>();
        OwnersSettle(o, v);
        Flows(o, v);
        Counter(AntiReplay, "CLIENT1 anti-replay drops", o.AntiReplayBefore, o.AntiReplayAfter, v, o.AntiReplayTrace);
        Counter(Icv, "CLIENT1 ICV failures", o.IcvBefore, o.IcvAfter, v);
        Sas(o, v);
        Histories(o, v);
        Checksums(o, v);
        Database(o, v);
        if (!o.Healed) v.Add(new(LabHealed, o.NotHealed ?? "the lab did not heal"));
        return v;
    }

    /// <summary>
    /// The fault's window (fault → heal) and the heal's (heal → end of observation): in each, from at most bound + 500 ms
    /// after its start until its end, every tunnel has exactly one owner at every sample. A fault window that ends before
    /// its bound + 500 ms (a short restart) is not judged: the heal came before the fault had to be answered.
    /// </summary>
    public static void OwnersSettle(ChaosObservation o, List<ChaosViolation> v)
    {
        Window("fault", 0, o.HealAtMs, o.FaultBoundMs, judgeShort: false, o, v);
        Window("heal", o.HealAtMs, o.ObservedUntilMs, o.HealBoundMs, judgeShort: true, o, v);
    }

    /// <param name="judgeShort">Judge a window that ends before its bound + 500 ms too: the heal's, which the runner ends
    /// once the lab is healed (it must end with one owner); not the fault's, which a short restart ends early.</param>
    private static void Window(string name, double from, double until, double bound, bool judgeShort, ChaosObservation o, List<ChaosViolation> v)
    {
        var limit = bound + OwnerAllowanceMs;
        if (until - from < limit && !judgeShort) return;
        // A sample belongs to the window it was answered in: one asked during a stall and answered after SIGCONT reads
        // the resumed unit's view of the first ms after the heal (chaos seed 1 run 97, sixteenth session: the stalled
        // owner still listed itself sync-primary for 25 ms after it ran again, judged as the fault window's last sample).
        var samples = o.Owners.Where(s => s.EndMs >= from && s.EndMs < until).OrderBy(s => s.EndMs).ToList();
        foreach (var tunnel in o.Tunnels)
        {
            if (samples.Count == 0)
            {
                v.Add(new(OneOwner, $"{tunnel}: no owner sample after the {name}"));
                continue;
            }
            double? settled = null;
            IReadOnlyList<string> lastWrong = [];
            double lastWrongAt = 0;
            foreach (var s in samples)
            {
                var owners = s.Owners.GetValueOrDefault(tunnel) ?? [];
                if (owners.Count == 1) settled ??= s.EndMs;
                else
                {
                    settled = null;
                    lastWrong = owners;
                    lastWrongAt = s.EndMs;
                }
            }
            if (settled is null)
                v.Add(new(OneOwner, F($"{tunnel}: {Owners(lastWrong)} at the end of the {name}'s window ({lastWrongAt - from:0} ms after it), not exactly one owner")));
            else if (settled.Value - from > limit)
                v.Add(new(OneOwner, F($"{tunnel}: exactly one owner only {settled.Value - from:0} ms after the {name} (bound {bound:0} + {OwnerAllowanceMs:0} ms); {Owners(lastWrong)} at {lastWrongAt - from:0} ms")));
        }
    }

    private static string Owners(IReadOnlyList<string> owners) => owners.Count == 0 ? "no owner" : string.Join("+", owners);

    /// <summary>
    /// When PC1's traffic flowed again after the heal: the end of the first <see cref="FlowWindowMs"/> window, from a
    /// sample at or after the heal, in which at least <see cref="FlowShare"/> of what was sent was answered; ms after the heal.
    /// </summary>
    public static double? FlowsAgainMs(IReadOnlyList<TrafficSample> traffic, double healAtMs)
    {
        var samples = traffic.Where(s => s.AtMs >= healAtMs).OrderBy(s => s.AtMs).ToList();
        var j = 0;
        for (var i = 0; i < samples.Count; i++)
        {
            if (j < i) j = i;
            while (j < samples.Count && samples[j].AtMs < samples[i].AtMs + FlowWindowMs) j++;
            if (j == samples.Count) return null;
            var sent = samples[j].Sent - samples[i].Sent;
            var answered = samples[j].Answered - samples[i].Answered;
            if (sent > 0 && answered >= FlowShare * sent) return samples[j].AtMs - healAtMs;
        }
        return null;
    }

    /// <summary>The heal's bound + 500 ms + one window to see it flow.</summary>
    public static double FlowDeadlineMs(ChaosObservation o) => o.HealBoundMs + OwnerAllowanceMs + FlowWindowMs;

    private static void Flows(ChaosObservation o, List<ChaosViolation> v)
    {
        var deadline = FlowDeadlineMs(o);
        var flows = FlowsAgainMs(o.Traffic, o.HealAtMs);
        if (flows is null) v.Add(new(TrafficFlows, F($"PC1's traffic did not flow again after the heal (≥ {FlowShare:P0} answered over {FlowWindowMs:0} ms)")));
        else if (flows.Value > deadline)
            v.Add(new(TrafficFlows, F($"PC1's traffic flowed again {flows.Value:0} ms after the heal, later than {deadline:0} ms")));
    }

    private static void Counter(string invariant, string what, long? before, long? after, List<ChaosViolation> v, IReadOnlyList<string>? trace = null)
    {
        if (before is { } b && after is { } a && a != b)
            v.Add(new(invariant, F($"{what}: {a - b} during the run") + (trace is { Count: > 0 } ? ": " + string.Join("; ", trace) : "")));
    }

    /// <summary>What became of the run's SAs, as the report prints it.</summary>
    public enum SaFate
    {
        /// <summary>No single owner at the end to ask.</summary>
        Unknown,
        /// <summary>The owner's and the client's CHILD SA are the run's start's.</summary>
        Reused,
        /// <summary>
        /// Same IKE SA; the CHILD SA was replaced by a rekey the gateway asked for and the client answered (counted by the
        /// client), and the owner and the client hold the new one. The gateway does this when an SA's sequence numbers near
        /// the end of the 32-bit space after many ownership moves (src/Actors/Ipsec/README.md): the SA is kept, not renegotiated.
        /// </summary>
        Rekeyed,
        /// <summary>Anything else: a new IKE SA (the client dialed again), or a CHILD SA changed without a rekey the client answered.</summary>
        Renegotiated,
    }

    /// <summary>Pure: the owner's and the client's SAs at the end against the run's start (README, "sa-reuse").</summary>
    public static SaFate SaOutcome(ChaosObservation o)
    {
        if (o.OwnerDecSpi is not { } dec || o.OwnerEncSpi is not { } enc) return SaFate.Unknown;
        // A client that does not say (strongSwan) has its IKE SA taken as kept: the CHILD SA's SPIs then decide alone.
        var sameIke = o.ClientIkeBefore is not { } before || o.ClientIkeAfter is not { } after || before == after;
        var sameChild = dec == o.DecSpi && enc == o.EncSpi && o.ClientOutboundSpi == o.DecSpi && o.ClientInboundSpi == o.EncSpi;
        if (sameChild && sameIke) return SaFate.Reused;
        var ikeKnownKept = o.ClientIkeBefore is { } b && o.ClientIkeAfter is { } a && a == b;
        var ownerAndClientAgree = dec == o.ClientOutboundSpi && enc == o.ClientInboundSpi;
        var answeredRekey = o.ChildRekeysBefore is { } rb && o.ChildRekeysAfter is { } ra && ra > rb;
        return ikeKnownKept && ownerAndClientAgree && answeredRekey ? SaFate.Rekeyed : SaFate.Renegotiated;
    }

    private static void Sas(ChaosObservation o, List<ChaosViolation> v)
    {
        if (!o.SaReuseRequired) return;
        switch (SaOutcome(o))
        {
            case SaFate.Unknown:
                v.Add(new(SaReuse, "no single owner at the end to compare its SAs with the run's"));
                return;
            case SaFate.Renegotiated:
                var ike = o.ClientIkeBefore is { } b && o.ClientIkeAfter is { } a && a != b
                    ? $"; the client's IKE SA is new ({b.SpiI:x16}/{b.SpiR:x16} → {a.SpiI:x16}/{a.SpiR:x16})"
                    : o.ChildRekeysBefore is { } rb && o.ChildRekeysAfter is { } ra && ra == rb ? "; the client answered no CHILD SA rekey" : "";
                v.Add(new(SaReuse, $"SAs renegotiated: owner dec {o.OwnerDecSpi:x8} enc {o.OwnerEncSpi:x8}, client out {o.ClientOutboundSpi:x8} in {o.ClientInboundSpi:x8}; "
                                   + $"the run started with dec {o.DecSpi:x8} enc {o.EncSpi:x8}{ike}"));
                return;
        }
    }

    private static void Histories(ChaosObservation o, List<ChaosViolation> v)
    {
        foreach (var (unit, before) in o.HistoryBefore.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var after = o.HistoryAfter.GetValueOrDefault(unit);
            if (HistoryProblem(before, after) is { } problem) v.Add(new(HaHistory, $"{unit}: {problem}"));
        }
    }

    /// <summary>Null when the history after the run is the one before it with entries added (and, in a full ring, the oldest gone), every line well formed.</summary>
    public static string? HistoryProblem(string? before, string? after)
    {
        if (before is null) return "history not readable at the start of the run";
        if (after is null) return "history not readable at the end of the run";
        var (old, oldError) = ParseHistory(before);
        if (oldError is not null) return $"history malformed at the start: {oldError}";
        var (now, nowError) = ParseHistory(after);
        if (nowError is not null) return $"history malformed: {nowError}";
        // The entries of the start, in order, then only new ones; in a full ring the oldest may have gone.
        var mayDrop = now.Count >= HistoryRing ? old.Count : 0;
        for (var d = 0; d <= mayDrop; d++)
        {
            var kept = old.Skip(d).ToList();
            if (kept.Count <= now.Count && kept.SequenceEqual(now.Take(kept.Count))) return null;
        }
        var firstMissing = old.FirstOrDefault(e => !now.Contains(e));
        return firstMissing is not null
            ? $"entry lost: <{firstMissing.Stamp}> {firstMissing.Text} ({old.Count} entries before, {now.Count} after)"
            : $"entries rewritten or reordered ({old.Count} entries before, {now.Count} after)";
    }

    public sealed record HistoryLine(string Stamp, string Text);

    /// <summary>`diagnose sys ha history read`: newest first, `&lt;i&gt; HA event` then `    &lt;stamp&gt; vcluster-1: text`,
    /// i from 0; returned oldest first. Any other line is an error (a forged or broken entry).</summary>
    public static (IReadOnlyList<HistoryLine> Entries, string? Error) ParseHistory(string text)
    {
        var lines = text.Replace("\r\n", "\n").Split('\n');
        var count = lines.Length > 0 && lines[^1].Length == 0 ? lines.Length - 1 : lines.Length;
        if (count % 2 != 0) return ([], $"{count} lines, not pairs of header and entry");
        var entries = new List<HistoryLine>();
        for (var i = 0; i < count; i += 2)
        {
            var header = HistoryHeader().Match(lines[i]);
            if (!header.Success || header.Groups[1].Value != (i / 2).ToString(CultureInfo.InvariantCulture))
                return ([], $"line {i + 1} is not `<{i / 2}> HA event`: {Clip(lines[i])}");
            var entry = HistoryEntry().Match(lines[i + 1]);
            if (!entry.Success) return ([], $"line {i + 2} is not an entry: {Clip(lines[i + 1])}");
            entries.Add(new HistoryLine(entry.Groups[1].Value, entry.Groups[2].Value));
        }
        entries.Reverse();
        return (entries, null);
    }

    [GeneratedRegex(@"^<(\d+)> HA event$")]
    private static partial Regex HistoryHeader();

    [GeneratedRegex(@"^    <([^<>]+)> vcluster-1: (.*)$")]
    private static partial Regex HistoryEntry();

    private static string Clip(string s) => s.Length > 80 ? s[..80] + "…" : s;

    private static void Checksums(ChaosObservation o, List<ChaosViolation> v)
    {
        foreach (var cluster in o.Clusters)
        {
            var sums = cluster.Select(u => (Unit: u, Sum: o.Checksums.GetValueOrDefault(u))).ToList();
            if (sums.Any(s => s.Sum is null) || sums.Select(s => s.Sum).Distinct().Count() > 1)
                v.Add(new(ConfigChecksum, string.Join(", ", sums.Select(s => $"{s.Unit} {s.Sum ?? "unreadable"}"))));
        }
    }

    /// <summary>
    /// database-stop: the change made while the database was stopped was refused with an error (a CLI answer with a
    /// non-zero code, the running config unchanged), not taken without its journal and not left unanswered; and a change
    /// made after the database returned was journaled within <see cref="ChaosCatalog.DatabaseReturnBoundMs"/> + 500 ms.
    /// </summary>
    private static void Database(ChaosObservation o, List<ChaosViolation> v)
    {
        if (o.Fault.Kind != ChaosCatalog.DatabaseStop.Name) return;
        var during = o.ChangeWhileStopped;
        if (during is null) v.Add(new(DatabaseRefused, "no config change was made while the database was stopped"));
        else if (during.ExitCode is null) v.Add(new(DatabaseRefused, $"the change made while the database was stopped got no answer: {Clip(during.Output.Trim())}"));
        else if (during.ExitCode == 0) v.Add(new(DatabaseRefused, "a config change was accepted while the unit's database was stopped (not journaled, yet applied)"));
        var limit = ChaosCatalog.DatabaseReturnBoundMs + OwnerAllowanceMs;
        if (o.ChangeJournaledMs is not { } ms)
            v.Add(new(DatabaseJournaled, $"no config change was journaled after the database returned{(o.ChangeAfterRefusal is { } r ? $" (last answer: {Clip(r.Trim())})" : "")}"));
        else if (ms > limit)
            v.Add(new(DatabaseJournaled, F($"the first config change journaled after the database returned came {ms:0} ms after it, later than {limit:0} ms")));
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
