using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Serialization;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Node.Drills;

/// <summary>How a chaos session runs: the seed, the run numbers (1..N, or the one `--run` replays), PC1's rate.</summary>
public sealed record ChaosSettings(long Seed, IReadOnlyList<int> Runs, double RatePps, string Mode);

/// <summary>One chaos run: the planned fault, what was measured, the invariants broken. Times in ms after the fault.</summary>
public sealed record ChaosRunResult
{
    public required long Seed { get; init; }
    public required int Run { get; init; }
    public required string Mode { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public double DurationS { get; init; }
    public required ChaosFault Fault { get; init; }
    public required string FaultDescription { get; init; }
    public required DrillTimers Timers { get; init; }
    public required double RatePps { get; init; }
    /// <summary>Why the lab was brought up fresh before this run (the previous one left it unhealed); null when it was reused.</summary>
    public string? LabRebuilt { get; init; }

    public IReadOnlyDictionary<string, IReadOnlyList<string>> OwnersBefore { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
    public double FaultBoundMs { get; init; }
    public double HealAtMs { get; init; }
    public double HealBoundMs { get; init; }
    /// <summary>For a heal that starts the unit: when its HA answered, after the heal.</summary>
    public double? UnitUpMs { get; init; }
    public double ObservedUntilMs { get; init; }
    /// <summary>First moment after the fault (the heal) from which every tunnel had exactly one owner to the end of the window.</summary>
    public double? FaultSettledMs { get; init; }
    public double? HealSettledMs { get; init; }
    /// <summary>Every moment a tunnel had two or more owners ("vpn1_1: DC2_VM1+DC2_VM2 at 1.220 s for 40 ms").</summary>
    public IReadOnlyList<string> DoubleOwners { get; init; } = [];
    public IReadOnlyDictionary<string, IReadOnlyList<string>> OwnersAfter { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
    /// <summary>After the heal, when PC1's traffic flowed again (≥ 95 % answered over 500 ms).</summary>
    public double? FlowsAgainMs { get; init; }

    public long Sent { get; init; }
    public long Answered { get; init; }
    public long Lost { get; init; }
    /// <summary>PC1's longest time without a reply over the run's echo run (fault and heal).</summary>
    public double LongestGapMs { get; init; }
    public long? AntiReplayDrops { get; init; }
    public long? IcvFailures { get; init; }
    public string Sa { get; init; } = "unknown";
    public IReadOnlyDictionary<string, string?> Checksums { get; init; } = new Dictionary<string, string?>();
    /// <summary>database-stop: the answer to the config change made while the database was stopped.</summary>
    public DatabaseChangeResult? ChangeWhileStopped { get; init; }
    /// <summary>database-stop: ms after the heal when a config change was journaled again.</summary>
    public double? ChangeJournaledMs { get; init; }

    /// <summary>Every unit's forwarded packets and PC1's answers per 100 ms from the fault on (zero = the fault), for the SVG.</summary>
    public Timeline Timeline { get; init; } = Timeline.Empty;
    /// <summary>The fault, the heal, a started unit answering, the tunnel's owner settling: the SVG's markers.</summary>
    public IReadOnlyList<TimelineEvent> Events { get; init; } = [];

    public IReadOnlyList<ChaosViolation> Violations { get; init; } = [];
    /// <summary>A step that could not be carried out; the run counts as failed.</summary>
    public string? Error { get; init; }

    [JsonPropertyOrder(-1)]
    public string Verdict => Passed ? "pass" : "fail";

    [JsonIgnore]
    public bool Passed => Error is null && Violations.Count == 0;

    /// <summary>The command that replays this run's fault.</summary>
    public string Replay => string.Create(CultureInfo.InvariantCulture, $"clusteractors drill seed chaos --mode {Mode} --seed {Seed} --run {Run}");
}

/// <summary>
/// Runs the chaos drill's runs on one lab kept between runs: each run checks the lab is healed (every unit answering,
/// both clusters whole, every unit holding the tunnel, one owner; else it brings a fresh lab up and says so), plans its
/// fault from (seed, run) alone, starts PC1's traffic, injects the fault, holds it, heals it, watches until the lab is
/// healed again, and hands what it saw to <see cref="ChaosInvariants"/>. Only effects through <see cref="IDrillLab"/>.
/// </summary>
public sealed class ChaosRunner(Func<IDrillLab> newLab, TextWriter progress, IReadOnlyList<ChaosFaultKind>? catalog = null,
    ChaosTargets? targets = null)
{
    public static readonly TimeSpan SampleInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>After the heal the runner watches at least this long, and until the lab is healed and PC1's traffic flows.</summary>
    public const double MinObserveMs = 1000;

    /// <summary>How long past the heal's bound + 500 ms the runner waits for the lab to heal before it gives up on the run.</summary>
    public const double HealGraceMs = 10_000;

    private readonly IReadOnlyList<ChaosFaultKind> _catalog = catalog ?? ChaosCatalog.All;
    private readonly ChaosTargets _targets = targets ?? ChaosTargets.Seed;
    private IDrillLab? _lab;
    private string? _rebuild;

    private static string S(double ms) => (ms / 1000).ToString("0.000", CultureInfo.InvariantCulture) + " s";

    private async Task Say(string line)
    {
        await progress.WriteLineAsync("  " + line);
        await progress.FlushAsync();
    }

    public async Task<IReadOnlyList<ChaosRunResult>> RunAsync(ChaosSettings settings, Func<ChaosRunResult, Task> onRun, CancellationToken ct)
    {
        var results = new List<ChaosRunResult>();
        try
        {
            foreach (var run in settings.Runs)
            {
                ct.ThrowIfCancellationRequested();
                var result = await RunOne(settings, run, ct);
                results.Add(result);
                await onRun(result);
            }
        }
        finally
        {
            if (_lab is not null)
            {
                await progress.WriteAsync("  lab down … ");
                await _lab.DisposeAsync();
                await progress.WriteLineAsync("done");
            }
        }
        return results;
    }

    private async Task BringUp(CancellationToken ct)
    {
        if (_lab is not null) await _lab.DisposeAsync();
        _lab = null;
        var lab = newLab();
        _lab = lab;
        await progress.WriteAsync("  lab up … ");
        await progress.FlushAsync();
        await progress.WriteLineAsync(await lab.Up(DrillCatalog.Preferred, ct));
        var dial = await lab.Dial(ct);
        await Say($"dialed: router next hop {dial.NextHop} {string.Join("+", dial.NextHopUnits)}; spi in {dial.ClientOutboundSpi:x8} out {dial.ClientInboundSpi:x8}");
        if (await Unhealed(TimeSpan.FromSeconds(20), ct) is { } why) throw new DrillStepException($"the fresh lab is not ready: {why}");
    }

    private async Task<ChaosRunResult> RunOne(ChaosSettings settings, int run, CancellationToken ct)
    {
        var wall = Stopwatch.StartNew();
        var started = DateTimeOffset.UtcNow;
        string? rebuilt = _rebuild;
        _rebuild = null;
        if (_lab is null) await BringUp(ct);
        else
        {
            rebuilt ??= await Unhealed(TimeSpan.FromSeconds(10), ct);
            if (rebuilt is not null)
            {
                await Say($"the lab is not healed ({rebuilt}): a fresh lab for this run");
                await BringUp(ct);
            }
        }
        var lab = _lab!;
        var fault = ChaosPlan.Fault(settings.Seed, run, _catalog, _targets, lab.Timers);
        var kind = _catalog.First(k => k.Name == fault.Kind);
        var result = new ChaosRunResult
        {
            Seed = settings.Seed, Run = run, Mode = lab.Mode, StartedAt = started, Fault = fault, FaultDescription = kind.Describe(fault),
            Timers = lab.Timers, RatePps = settings.RatePps, LabRebuilt = rebuilt, FaultBoundMs = kind.FaultBoundMs(lab.Timers),
        };
        await progress.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"== chaos run {run} (seed {settings.Seed}): {fault.Short}"));
        var trafficRunning = false;
        var clock = new Stopwatch();
        var sampler = new Sampler(lab, clock);
        TimelineSampler? timeline = null;
        try
        {
            var tunnels = (await OwnersNow(lab)).Owners;
            var histories = await Histories(lab);
            var client = lab.Client();
            lab.TrafficStart(settings.RatePps);
            trafficRunning = true;
            if (!await FlowsWithin(lab, TimeSpan.FromSeconds(10), ct))
            {
                // A lab that looks healed but carries no traffic: a fresh one, once, so that one broken run does not fail every later one.
                await lab.TrafficStop();
                trafficRunning = false;
                if (rebuilt is not null) throw new DrillStepException("PC1's traffic did not flow before the fault, on a fresh lab");
                rebuilt = "PC1's traffic did not flow on it";
                result = result with { LabRebuilt = rebuilt };
                await Say("PC1's traffic does not flow on the lab of the run before: a fresh lab for this run");
                await BringUp(ct);
                lab = _lab!;
                sampler = new Sampler(lab, clock);
                tunnels = (await OwnersNow(lab)).Owners;
                histories = await Histories(lab);
                client = lab.Client();
                lab.TrafficStart(settings.RatePps);
                trafficRunning = true;
                if (!await FlowsWithin(lab, TimeSpan.FromSeconds(10), ct))
                    throw new DrillStepException("PC1's traffic did not flow before the fault, on a fresh lab");
            }
            result = result with { OwnersBefore = tunnels };

            clock.Start();
            sampler.Start();
            timeline = new TimelineSampler(lab, clock);
            timeline.Start();
            await kind.Inject(lab, fault);
            await Say($"fault: {kind.Describe(fault)} (the call returned after {Ms(clock):0} ms)");
            DatabaseChangeResult? changeWhileStopped = null;
            if (kind == ChaosCatalog.DatabaseStop)
            {
                changeWhileStopped = await Change(lab, fault.Unit);
                await Say($"config change while {fault.Unit}'s database is stopped: {ChangeText(changeWhileStopped)} at {S(Ms(clock))}");
            }
            await Until(clock, fault.HoldMs, ct);

            var healAt = Ms(clock);
            await kind.Heal(lab, fault);
            var journaled = kind == ChaosCatalog.DatabaseStop ? JournaledAfter(lab, fault.Unit, clock, healAt, ct) : null;
            double? unitUp = null;
            var healBound = kind.HealBoundMs(lab.Timers);
            if (kind.HealStartsUnit)
            {
                var sw = Stopwatch.StartNew();
                while (sw.Elapsed < TimeSpan.FromSeconds(60) && await lab.Ha(fault.Unit) is null) await Task.Delay(SampleInterval, ct);
                unitUp = Math.Round(sw.Elapsed.TotalMilliseconds, 1);
                healBound += unitUp.Value;
            }
            await Say($"heal at {S(healAt)}" + (unitUp is { } up ? $"; {fault.Unit} answers again after {S(up)}" : ""));

            // Watch until the lab is healed and PC1's traffic flows, at least MinObserveMs, at most past the bound by HealGraceMs.
            string? notHealed = "not checked";
            var until = healAt + healBound + ChaosInvariants.OwnerAllowanceMs + HealGraceMs;
            while (Ms(clock) < until)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), ct);
                if (Ms(clock) - healAt < MinObserveMs) continue;
                notHealed = ChaosInvariants.FlowsAgainMs(sampler.Traffic, healAt) is null ? "PC1's traffic does not flow" : await Unhealthy(lab);
                if (notHealed is null) break;
            }
            // The heal's window must end on a sample of the owners taken no earlier than this decision: one sample asks
            // every unit, and a unit still starting may take a second to answer, so the sampler's last complete sample can
            // be older than the runner's own poll that saw the lab healed (chaos seed 1 run 44, sixteenth session: the
            // restarted owner claimed 1 s after the heal, the runner saw it, and the window ended on a sample taken 100 ms
            // after the heal: "no owner at the end of the heal's window").
            if (notHealed is null) await sampler.SampledSince(Ms(clock), TimeSpan.FromSeconds(5));
            var observedUntil = Ms(clock);
            (double? Ms, string? Refusal) changeAfter = journaled is null ? (null, null) : await journaled;
            if (journaled is not null)
                await Say(changeAfter.Ms is { } jm ? $"config change journaled {S(jm)} after the database returned" : $"no config change journaled after the database returned ({changeAfter.Refusal?.Trim()})");
            await sampler.StopAsync();
            var tl = await timeline.StopAsync(lab.Units);
            timeline = null;
            var report = await lab.TrafficStop();
            trafficRunning = false;

            var end = await OwnersNow(lab);
            var owners = sampler.Owners;
            var (dec, enc) = await OwnerSpis(lab, end.Owners);
            var clientAfter = lab.Client();
            var historiesAfter = await Histories(lab);
            var checksums = new Dictionary<string, string?>();
            foreach (var unit in lab.Units) checksums[unit] = await lab.ConfigChecksum(unit);
            var observation = new ChaosObservation
            {
                Fault = fault, FaultBoundMs = result.FaultBoundMs, HealAtMs = healAt, HealBoundMs = healBound, ObservedUntilMs = observedUntil,
                Tunnels = tunnels.Keys.ToList(), Owners = owners, Traffic = sampler.Traffic,
                AntiReplayBefore = client.AntiReplayDrops, AntiReplayAfter = clientAfter.AntiReplayDrops,
                AntiReplayTrace = (clientAfter.AntiReplayTrace ?? []).Except(client.AntiReplayTrace ?? []).ToList(),
                IcvBefore = client.IcvFailures, IcvAfter = clientAfter.IcvFailures,
                SaReuseRequired = sampler.LeastAnswering > 0,
                DecSpi = client.OutboundSpi, EncSpi = client.InboundSpi, OwnerDecSpi = dec, OwnerEncSpi = enc,
                ClientOutboundSpi = clientAfter.OutboundSpi, ClientInboundSpi = clientAfter.InboundSpi,
                ClientIkeBefore = client.IkeSpis, ClientIkeAfter = clientAfter.IkeSpis,
                ChildRekeysBefore = client.ChildSaRekeys, ChildRekeysAfter = clientAfter.ChildSaRekeys,
                HistoryBefore = histories, HistoryAfter = historiesAfter,
                Clusters = _targets.Clusters, Checksums = checksums,
                ChangeWhileStopped = changeWhileStopped, ChangeJournaledMs = changeAfter.Ms, ChangeAfterRefusal = changeAfter.Refusal,
                Healed = notHealed is null, NotHealed = notHealed is null ? null : $"not healed {S(observedUntil - healAt)} after the heal: {notHealed}",
            };
            var violations = ChaosInvariants.Check(observation);
            result = result with
            {
                HealAtMs = healAt, HealBoundMs = healBound, UnitUpMs = unitUp, ObservedUntilMs = observedUntil,
                FaultSettledMs = SettledAt(owners, tunnels.Keys, 0, healAt),
                HealSettledMs = SettledAt(owners, tunnels.Keys, healAt, observedUntil) is { } hs ? Math.Round(hs - healAt, 1) : null,
                DoubleOwners = Doubles(owners), OwnersAfter = end.Owners,
                FlowsAgainMs = ChaosInvariants.FlowsAgainMs(sampler.Traffic, healAt) is { } fa ? Math.Round(fa, 1) : null,
                Sent = report.Sent, Answered = report.Answered, Lost = report.Lost, LongestGapMs = Math.Round(report.LongestGap.TotalMilliseconds, 1),
                AntiReplayDrops = clientAfter.AntiReplayDrops - client.AntiReplayDrops, IcvFailures = clientAfter.IcvFailures - client.IcvFailures,
                Sa = ChaosInvariants.SaOutcome(observation) switch
                {
                    ChaosInvariants.SaFate.Reused => "reused",
                    ChaosInvariants.SaFate.Rekeyed => string.Create(CultureInfo.InvariantCulture,
                        $"reused, CHILD SA rekeyed by the gateway ({clientAfter.ChildSaRekeys - client.ChildSaRekeys}× answered by the client, same IKE SA)"),
                    ChaosInvariants.SaFate.Renegotiated => "renegotiated",
                    _ => "unknown",
                }, Checksums = checksums, Violations = violations,
                ChangeWhileStopped = changeWhileStopped, ChangeJournaledMs = changeAfter.Ms,
                Timeline = tl,
            };
            var events = new List<TimelineEvent> { new(0, "fault", fault.Short), new(healAt, "fault", "heal") };
            if (unitUp is { } u) events.Add(new(healAt + u, "unit-up", $"{fault.Unit} answers again"));
            if (result.FaultSettledMs is { } fs) events.Add(new(fs, "role-change", "one owner"));
            if (result.HealSettledMs is { } hs2) events.Add(new(healAt + hs2, "role-change", "one owner"));
            result = result with { Events = events };
            await Say(string.Create(CultureInfo.InvariantCulture,
                $"one owner {Opt(result.FaultSettledMs)} after the fault (bound {result.FaultBoundMs:0} ms), {Opt(result.HealSettledMs)} after the heal "
                + $"(bound {healBound:0} ms); traffic flows {Opt(result.FlowsAgainMs)} after the heal; longest gap {result.LongestGapMs:0} ms, "
                + $"lost {result.Lost} of {result.Sent}; SAs {result.Sa}"));
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            result = result with { Error = e is DrillStepException ? e.Message : $"{e.GetType().Name}: {e.Message}" };
            await Say($"stopped: {result.Error}");
            await sampler.StopAsync();
            if (timeline is not null) await timeline.StopAsync(lab.Units);
            if (trafficRunning)
                try { await _lab!.TrafficStop(); } catch { /* the error says what went wrong */ }
        }
        // The next run starts on a fresh lab when this one could not be seen healed: its faults are its own.
        if (result.Error is not null) _rebuild = $"run {run} stopped: {result.Error}";
        else if (result.Violations.FirstOrDefault(v => v.Invariant == ChaosInvariants.LabHealed) is { } unhealed)
            _rebuild = $"run {run} left it unhealed: {unhealed.Detail}";
        return result with { DurationS = Math.Round(wall.Elapsed.TotalSeconds, 1) };

        static string Opt(double? ms) => ms is { } v ? S(v) : "never";
    }

    /// <summary>The database-stop probe: <see cref="ChaosCatalog.DatabaseProbeChange"/> on the unit; a call that fails
    /// (no answer in time) is a result too, with no exit code.</summary>
    private static async Task<DatabaseChangeResult> Change(IDrillLab lab, string unit)
    {
        try
        {
            var r = await lab.Cli(unit, ChaosCatalog.DatabaseProbeChange);
            return new DatabaseChangeResult(r.ExitCode, r.Output);
        }
        catch (Exception e)
        {
            return new DatabaseChangeResult(null, $"{e.GetType().Name}: {e.Message}");
        }
    }

    private static string ChangeText(DatabaseChangeResult r) =>
        r.ExitCode is null ? $"no answer ({r.Output.Trim()})" : r.ExitCode == 0 ? "accepted" : $"refused ({r.ExitCode}: {r.Output.Trim()})";

    /// <summary>After the database returns: the change again every 500 ms until it is accepted (journaled), for at most
    /// the return bound + 500 ms + <see cref="HealGraceMs"/>; ms after the heal, or the last refusal.</summary>
    private static async Task<(double? Ms, string? Refusal)> JournaledAfter(IDrillLab lab, string unit, Stopwatch clock, double healAt, CancellationToken ct)
    {
        string? last = null;
        while (Ms(clock) - healAt < ChaosCatalog.DatabaseReturnBoundMs + ChaosInvariants.OwnerAllowanceMs + HealGraceMs)
        {
            var r = await Change(lab, unit);
            if (r.ExitCode == 0) return (Math.Round(Ms(clock) - healAt, 1), null);
            last = ChangeText(r);
            await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
        }
        return (null, last);
    }

    private static double Ms(Stopwatch clock) => Math.Round(clock.Elapsed.TotalMilliseconds, 1);

    private static async Task Until(Stopwatch clock, double ms, CancellationToken ct)
    {
        var left = ms - clock.Elapsed.TotalMilliseconds;
        if (left > 0) await Task.Delay(TimeSpan.FromMilliseconds(left), ct);
    }

    /// <summary>The first sample time in [from, until) from which every tunnel had exactly one owner to the window's end.</summary>
    public static double? SettledAt(IReadOnlyList<OwnerSample> samples, IEnumerable<string> tunnels, double from, double until)
    {
        double? settled = null;
        var names = tunnels.ToList();
        foreach (var s in samples.Where(s => s.EndMs >= from && s.EndMs < until).OrderBy(s => s.EndMs))
        {
            if (names.All(t => s.Owners.GetValueOrDefault(t)?.Count == 1)) settled ??= s.EndMs;
            else settled = null;
        }
        return settled;
    }

    private static IReadOnlyList<string> Doubles(IReadOnlyList<OwnerSample> samples)
    {
        var result = new List<string>();
        var open = new Dictionary<string, (IReadOnlyList<string> Owners, double Since)>();
        foreach (var s in samples.OrderBy(s => s.AtMs))
        {
            foreach (var (tunnel, owners) in s.Owners)
            {
                if (owners.Count >= 2) open.TryAdd(tunnel, (owners, s.AtMs));
                else if (open.Remove(tunnel, out var d)) result.Add(Text(tunnel, d.Owners, d.Since, s.AtMs));
            }
        }
        foreach (var (tunnel, d) in open) result.Add(Text(tunnel, d.Owners, d.Since, null));
        return result;

        static string Text(string tunnel, IReadOnlyList<string> owners, double since, double? until) =>
            $"{tunnel}: {string.Join("+", owners)} at {S(since)}" + (until is { } u ? string.Create(CultureInfo.InvariantCulture, $" for {u - since:0} ms") : " to the end");
    }

    /// <summary>The one unit owning the lab's one tunnel now (what the drills with their own runner report the dial came up on); null otherwise.</summary>
    internal static async Task<string?> SingleOwner(IDrillLab lab) =>
        (await OwnersNow(lab)).Owners.Values.ToList() is [[var unit]] ? unit : null;

    /// <summary>Each tunnel's owners now (units listing it sync-primary), and how many units answered.</summary>
    internal static async Task<(Dictionary<string, IReadOnlyList<string>> Owners, int Answering)> OwnersNow(IDrillLab lab)
    {
        var lists = await Task.WhenAll(lab.Units.Select(async u => (Unit: u, Tunnels: await lab.Tunnels(u))));
        var owners = new Dictionary<string, IReadOnlyList<string>>();
        foreach (var (unit, list) in lists)
        foreach (var t in list ?? [])
        {
            if (!owners.ContainsKey(t.Name)) owners[t.Name] = new List<string>();
            if (t.Role == TunnelRole.SyncPrimary) ((List<string>)owners[t.Name]).Add(unit);
        }
        return (owners, lists.Count(l => l.Tunnels is not null));
    }

    private static async Task<(uint? Dec, uint? Enc)> OwnerSpis(IDrillLab lab, IReadOnlyDictionary<string, IReadOnlyList<string>> owners)
    {
        if (owners.Count != 1 || owners.Values.Single().Count != 1) return (null, null);
        var unit = owners.Values.Single()[0];
        var t = (await lab.Tunnels(unit))?.FirstOrDefault(t => t.Role == TunnelRole.SyncPrimary);
        return t is null ? (null, null) : (t.DecSpi, t.EncSpi);
    }

    private static async Task<IReadOnlyDictionary<string, string?>> Histories(IDrillLab lab)
    {
        var result = new Dictionary<string, string?>();
        foreach (var unit in lab.Units)
        {
            try
            {
                var r = await lab.Cli(unit, "diagnose sys ha history read");
                result[unit] = r.ExitCode == 0 ? r.Output : null;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                result[unit] = null;
            }
        }
        return result;
    }

    /// <summary>Waits for PC1's traffic to flow (≥ 95 % answered over 500 ms).</summary>
    private static async Task<bool> FlowsWithin(IDrillLab lab, TimeSpan within, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < within)
        {
            var p0 = lab.TrafficProgress();
            await Task.Delay(TimeSpan.FromMilliseconds(ChaosInvariants.FlowWindowMs), ct);
            var p1 = lab.TrafficProgress();
            var sent = p1.Sent - p0.Sent;
            if (sent > 0 && p1.Answered - p0.Answered >= ChaosInvariants.FlowShare * sent) return true;
        }
        return false;
    }

    private async Task<string?> Unhealed(TimeSpan within, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var why = await Unhealthy(_lab!);
            if (why is null || sw.Elapsed > within) return why;
            await Task.Delay(TimeSpan.FromMilliseconds(100), ct);
        }
    }

    /// <summary>Null when the lab is healed: every unit answers and works in its whole cluster with one primary, every
    /// unit holds every tunnel, and each tunnel has exactly one owner; else what is missing.</summary>
    private async Task<string?> Unhealthy(IDrillLab lab)
    {
        foreach (var cluster in _targets.Clusters)
        {
            var views = new List<HaView>();
            foreach (var unit in cluster)
            {
                var ha = await lab.Ha(unit);
                if (ha is null) return $"{unit} does not answer";
                if (!ha.Working) return $"{unit} is not working yet (hello)";
                if (ha.Members != cluster.Count) return $"{unit} sees {ha.Members} of {cluster.Count} members";
                views.Add(ha);
            }
            if (views.Count(v => v.Primary) != 1) return $"{string.Join("+", cluster)}: {views.Count(v => v.Primary)} primaries";
        }
        var (owners, answering) = await OwnersNow(lab);
        if (answering != lab.Units.Count) return "a unit does not list its tunnels";
        if (owners.Count == 0) return "no tunnel on any unit";
        foreach (var (tunnel, units) in owners)
            if (units.Count != 1) return $"{tunnel} has {(units.Count == 0 ? "no owner" : string.Join("+", units) + " as owners")}";
        foreach (var unit in lab.Units)
        {
            var list = await lab.Tunnels(unit);
            var missing = owners.Keys.Where(t => list?.Any(x => x.Name == t) != true).ToList();
            if (missing.Count > 0) return $"{unit} does not hold {string.Join(", ", missing)}";
        }
        return null;
    }

    /// <summary>Every 20 ms from the fault: each tunnel's owners and PC1's counters, on its own task.</summary>
    private sealed class Sampler(IDrillLab lab, Stopwatch clock)
    {
        private readonly List<OwnerSample> _owners = new();
        private readonly List<TrafficSample> _traffic = new();
        private readonly CancellationTokenSource _stop = new();
        private Task? _loop;
        private int _leastAnswering = int.MaxValue;

        public IReadOnlyList<OwnerSample> Owners
        {
            get { lock (_owners) return _owners.ToList(); }
        }

        public IReadOnlyList<TrafficSample> Traffic
        {
            get { lock (_traffic) return _traffic.ToList(); }
        }

        /// <summary>The fewest units that answered at once: 0 means no unit was left holding the SAs.</summary>
        public int LeastAnswering => Volatile.Read(ref _leastAnswering) == int.MaxValue ? lab.Units.Count : Volatile.Read(ref _leastAnswering);

        public void Start()
        {
            _loop = Task.Run(async () =>
            {
                var traffic = Task.Run(async () =>
                {
                    while (!_stop.IsCancellationRequested)
                    {
                        var p = lab.TrafficProgress();
                        lock (_traffic) _traffic.Add(new TrafficSample(Ms(clock), p.Sent, p.Answered));
                        try { await Task.Delay(SampleInterval, _stop.Token); } catch (OperationCanceledException) { }
                    }
                });
                while (!_stop.IsCancellationRequested)
                {
                    var at = Ms(clock);
                    try
                    {
                        var (owners, answering) = await OwnersNow(lab);
                        lock (_owners) _owners.Add(new OwnerSample(at, owners) { EndMs = Ms(clock) });
                        if (answering < Volatile.Read(ref _leastAnswering)) Volatile.Write(ref _leastAnswering, answering);
                    }
                    catch (Exception) when (!_stop.IsCancellationRequested)
                    {
                        // a unit killed mid-ask: the next sample covers it
                    }
                    try { await Task.Delay(SampleInterval, _stop.Token); } catch (OperationCanceledException) { }
                }
                await traffic;
            });
        }

        /// <summary>Returns once an owner sample begun at or after <paramref name="ms"/> is recorded, or after <paramref name="within"/>.</summary>
        public async Task SampledSince(double ms, TimeSpan within)
        {
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < within)
            {
                lock (_owners)
                    if (_owners.Count > 0 && _owners[^1].AtMs >= ms) return;
                await Task.Delay(10);
            }
        }

        public async Task StopAsync()
        {
            if (_stop.IsCancellationRequested) return;
            await _stop.CancelAsync();
            if (_loop is not null) await _loop;
        }
    }
}
