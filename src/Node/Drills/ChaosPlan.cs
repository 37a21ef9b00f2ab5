using System.Globalization;
using ClusterActors.Node.LabHarness.Fabric;

namespace ClusterActors.Node.Drills;

/// <summary>
/// The fault one chaos run injects, decided before the run from the seed and the run number alone
/// (<see cref="ChaosPlan.Fault"/>): its kind, the unit (and port) it hits, and how long it is held before it is healed.
/// </summary>
/// <param name="Kind">The catalog entry's name: kill, restart, port-down, heartbeat-cut, akka-partition, sigstop, database-stop.</param>
/// <param name="HoldMs">From the fault to its heal (for a restart: how long the unit stays down).</param>
/// <param name="Scope">For a kind with scopes (akka-partition): which units around <paramref name="Unit"/> it cuts
/// (<see cref="ChaosCatalog.AkkaScopes"/>); null otherwise.</param>
public sealed record ChaosFault(string Kind, string Unit, string? Port, double HoldMs, string? Scope = null)
{
    /// <summary>A few words: progress, reports, the summary.</summary>
    public string Short => string.Create(CultureInfo.InvariantCulture,
        $"{Kind} {Unit}{(Port is null ? "" : " " + Port)}{(Scope is null ? "" : " " + Scope)}, held {HoldMs / 1000:0.000} s");
}

/// <summary>
/// One kind of fault the chaos drill injects, and how it is healed: one entry in <see cref="ChaosCatalog"/> and the
/// <see cref="IDrillLab"/> methods it calls. The bounds are how long after the fault (and after the heal) every tunnel
/// may go without exactly one owner, before the chaos drill's 500 ms allowance.
/// </summary>
/// <param name="Ports">The ports it picks among (port-down); empty when it hits the unit as a whole.</param>
/// <param name="Hold">From the lab's timers and a uniform draw u in [0, 1): how long the fault is held, in ms.</param>
/// <param name="FaultBoundMs">The fault's detection bound (the mechanism that notices it), ms.</param>
/// <param name="HealBoundMs">The heal's detection bound, ms; for a heal that starts a unit, counted from the unit answering again.</param>
/// <param name="HealStartsUnit">The heal starts the unit again: its bound counts from the moment its HA answers.</param>
/// <param name="Scopes">What around the unit it hits (akka-partition: its FGCP peer, the other cluster, every other
/// unit); empty when it hits the unit (or its port) alone.</param>
public sealed record ChaosFaultKind(
    string Name,
    string Title,
    Func<ChaosFault, string> Describe,
    IReadOnlyList<string> Ports,
    Func<DrillTimers, double, double> Hold,
    Func<DrillTimers, double> FaultBoundMs,
    Func<DrillTimers, double> HealBoundMs,
    bool HealStartsUnit,
    Func<IDrillLab, ChaosFault, Task> Inject,
    Func<IDrillLab, ChaosFault, Task> Heal,
    IReadOnlyList<string>? Scopes = null)
{
    public IReadOnlyList<string> Scopes { get; init; } = Scopes ?? [];
}

/// <summary>What a chaos fault can hit: the units, the data ports each has on the lab's links, and the FGCP clusters.</summary>
public sealed record ChaosTargets(IReadOnlyList<string> Units, IReadOnlyDictionary<string, IReadOnlyList<string>> Ports,
    IReadOnlyList<IReadOnlyList<string>> Clusters)
{
    /// <summary>The seed scenario's units, their data ports (port2 to the DC router, port3 to the DC core, port5 FGSP)
    /// and its two clusters (the units sharing a port2 segment).</summary>
    public static ChaosTargets Seed { get; } = new(ScenarioFabric.Units,
        ScenarioFabric.Units.ToDictionary(u => u, u => (IReadOnlyList<string>)ScenarioFabric.InterfacesOf(u).Select(w => w.Interface).ToList()),
        ScenarioFabric.Wiring.Where(w => w.Interface == "port2" && ScenarioFabric.Units.Contains(w.Host)).GroupBy(w => w.Segment)
            .Select(g => (IReadOnlyList<string>)g.Select(w => w.Host).ToList()).ToList());
}

/// <summary>
/// The faults the chaos drill picks from, each a line. Every run starts from a healed lab (every unit up, both
/// clusters formed, one owner per tunnel, every unit holding the tunnel), so every fault here makes sense at the start
/// of every run: kill any unit (the owner included), restart one (kill, then start after a short outage), pull a data
/// port's cable, cut a heartbeat cable, cut only the Akka path (around a unit, within its pair, or between the
/// clusters), freeze a unit (SIGSTOP … SIGCONT), stop a unit's database.
/// </summary>
public static class ChaosCatalog
{
    /// <summary>Observation after the bound + 500 ms before a heal: one traffic window (500 ms) at least, up to twice that.</summary>
    private const double Observe = 500;

    public static readonly ChaosFaultKind Kill = new(
        "kill", "kill -9 of a unit, started again once the cluster has failed over",
        f => $"kill -9 {f.Unit} (no goodbye on the heartbeat or to Akka); started again on its data after {Sec(f.HoldMs)}",
        [],
        (t, u) => DrillBounds.DetectionMs(DetectionKind.BecomesPrimary, t) + ChaosInvariants.OwnerAllowanceMs + Observe + u * Observe,
        t => DrillBounds.DetectionMs(DetectionKind.BecomesPrimary, t),
        t => DrillBounds.DetectionMs(DetectionKind.RejoinsAsSecondary, t),
        HealStartsUnit: true,
        (lab, f) => lab.Kill(f.Unit),
        (lab, f) => lab.Start(f.Unit));

    /// <summary>A quick power cycle: down for 0.2 s to twice FGCP's detection, so it comes back before or after its
    /// peer noticed. The outage may end before the fault's bound: then only the heal's window is judged.</summary>
    public static readonly ChaosFaultKind Restart = new(
        "restart", "a unit power-cycled: kill -9, started again after a short outage",
        f => $"kill -9 {f.Unit}, started again on its data after {Sec(f.HoldMs)} down",
        [],
        (t, u) => 200 + u * 2 * t.FgcpDetectionMs,
        t => DrillBounds.DetectionMs(DetectionKind.BecomesPrimary, t),
        t => DrillBounds.DetectionMs(DetectionKind.RejoinsAsSecondary, t),
        HealStartsUnit: true,
        (lab, f) => lab.Kill(f.Unit),
        (lab, f) => lab.Start(f.Unit));

    /// <summary>The cable, not `set status`: a physical fault, and no config change to sync (or to differ between members).</summary>
    public static readonly ChaosFaultKind PortDown = new(
        "port-down", "a data port's cable pulled, then plugged back",
        f => $"pull {f.Unit}'s {f.Port} cable (carrier lost), plug it back after {Sec(f.HoldMs)}",
        ["port2", "port3", "port5"],
        (t, u) => DrillBounds.DetectionMs(DetectionKind.RouterWithdraws, t) + ChaosInvariants.OwnerAllowanceMs + Observe + u * Observe,
        t => Math.Max(DrillBounds.DetectionMs(DetectionKind.RouterWithdraws, t), DrillBounds.DetectionMs(DetectionKind.BecomesPrimary, t)),
        t => DrillBounds.DetectionMs(DetectionKind.RouterWithdraws, t),
        HealStartsUnit: false,
        (lab, f) => lab.Link(f.Unit, f.Port!, up: false),
        (lab, f) => lab.Link(f.Unit, f.Port!, up: true));

    public static readonly ChaosFaultKind HeartbeatCut = new(
        "heartbeat-cut", "a unit's heartbeat cable (its hbdev) pulled, then plugged back",
        f => $"pull {f.Unit}'s heartbeat cable (port4): its cluster splits; plugged back after {Sec(f.HoldMs)}",
        [],
        (t, u) => DrillBounds.DetectionMs(DetectionKind.SplitBrain, t) + ChaosInvariants.OwnerAllowanceMs + Observe + u * Observe,
        t => DrillBounds.DetectionMs(DetectionKind.SplitBrain, t),
        t => DrillBounds.DetectionMs(DetectionKind.OnePrimary, t),
        HealStartsUnit: false,
        (lab, f) => lab.SetHeartbeat(f.Unit, up: false),
        (lab, f) => lab.SetHeartbeat(f.Unit, up: true));

    /// <summary>SIGSTOP for 2–6 s (the issue's range), then SIGCONT: the unit neither runs nor answers, its peers' inputs wait for it.</summary>
    public static readonly ChaosFaultKind Sigstop = new(
        "sigstop", "a unit frozen (SIGSTOP) for 2–6 s, then resumed (SIGCONT)",
        f => $"SIGSTOP {f.Unit} for {Sec(f.HoldMs)}, then SIGCONT",
        [],
        (_, u) => 2000 + u * 4000,
        t => DrillBounds.DetectionMs(DetectionKind.BecomesPrimary, t),
        t => DrillBounds.DetectionMs(DetectionKind.OnePrimary, t),
        HealStartsUnit: false,
        (lab, f) => lab.Freeze(f.Unit, frozen: true),
        (lab, f) => lab.Freeze(f.Unit, frozen: false));

    /// <summary>The Akka partition's scopes: <c>pair</c> cuts the unit from its FGCP peer, <c>clusters</c> its whole
    /// cluster from the other one, <c>isolate</c> the unit from every other unit.</summary>
    public static readonly IReadOnlyList<string> AkkaScopes = ["pair", "clusters", "isolate"];

    /// <summary>How long the Akka path stays cut: past Akka's failure detection (heartbeat 1 s, acceptable pause 3 s) so
    /// that every side sees the other unreachable, up to past the 8 s after which a waiting membership change downs
    /// (src/Node/Hosting/README.md): 4–14 s.</summary>
    public const double AkkaHoldMinMs = 4000, AkkaHoldSpanMs = 10_000;

    /// <summary>From the heal until the Akka members see each other reachable again and the owners have re-pushed: the
    /// failure detector's heartbeat and acceptable pause plus one push, asserted at 10 s by AkkaPartitionHealSpec.</summary>
    public const double AkkaHealBoundMs = 10_000;

    /// <summary>
    /// Only the Akka path (SA sync, config sync, FGSP announcements) cut, FGCP heartbeats and data ports untouched, then
    /// restored. FGCP sees every unit all along, so no role and no owner may change: the fault's bound is 0 (every tunnel
    /// must keep exactly one owner from the start, within the 500 ms allowance). The heal's bound is Akka's.
    /// </summary>
    public static readonly ChaosFaultKind AkkaPartition = new(
        "akka-partition", "only the Akka path cut (heartbeats flowing), then healed: within a pair, between the clusters, around a unit",
        f => $"cut the Akka path {AkkaScopeText(f)} (FGCP heartbeats and data ports untouched); healed after {Sec(f.HoldMs)}",
        [],
        (_, u) => AkkaHoldMinMs + u * AkkaHoldSpanMs,
        _ => 0,
        _ => AkkaHealBoundMs,
        HealStartsUnit: false,
        async (lab, f) => { foreach (var (a, b) in AkkaCutPairs(f, ChaosTargets.Seed.Clusters)) await lab.CutAkkaAsync(a, b); },
        async (lab, f) => { foreach (var (a, b) in AkkaCutPairs(f, ChaosTargets.Seed.Clusters)) await lab.HealAkkaAsync(a, b); },
        AkkaScopes);

    /// <summary>The pairs of units whose Akka path an akka-partition fault cuts, each once.</summary>
    public static IReadOnlyList<(string A, string B)> AkkaCutPairs(ChaosFault f, IReadOnlyList<IReadOnlyList<string>> clusters)
    {
        var mine = clusters.FirstOrDefault(c => c.Contains(f.Unit)) ?? throw new ArgumentException($"{f.Unit} is in no cluster");
        var all = clusters.SelectMany(c => c).ToList();
        return f.Scope switch
        {
            "pair" => mine.Where(u => u != f.Unit).Select(u => (f.Unit, u)).ToList(),
            "clusters" => mine.SelectMany(a => all.Where(b => !mine.Contains(b)).Select(b => (a, b))).ToList(),
            "isolate" => all.Where(u => u != f.Unit).Select(u => (f.Unit, u)).ToList(),
            _ => throw new ArgumentException($"akka-partition has no scope {f.Scope ?? "(none)"}"),
        };
    }

    private static string AkkaScopeText(ChaosFault f) => f.Scope switch
    {
        "pair" => $"between {f.Unit} and its FGCP peer",
        "clusters" => $"between {f.Unit}'s cluster and the other cluster",
        "isolate" => $"around {f.Unit} (from every other unit)",
        _ => $"({f.Scope})",
    };

    /// <summary>How long the database stays stopped: long enough for the config change made meanwhile to be refused
    /// (UnitConfigActor waits 4 s for its journal; the docker lab's CLI round trip on top), 6–10 s.</summary>
    public const double DatabaseHoldMinMs = 6000, DatabaseHoldSpanMs = 4000;

    /// <summary>From the database's return until a config change is journaled again: the journal supervisor's longest
    /// backoff (10 s) plus the plugin's circuit-breaker reset (5 s).</summary>
    public const double DatabaseReturnBoundMs = 15_000;

    /// <summary>The change the chaos drill makes on the unit whose database is stopped, once while it is stopped (must be
    /// refused) and once after it returns (must be journaled): `set override disable`, the shipped value, per unit (not
    /// synced by FGCP), so it changes neither the election nor any checksum, yet it is journaled like any change.</summary>
    public const string DatabaseProbeChange = "config system ha\n    set override disable\nend";

    /// <summary>
    /// The unit's database unavailable, then back (see the labs' StopDatabaseAsync: the unit's SQLite file locked by
    /// another process). FGCP, IKE and forwarding do not depend on the journals once up (src/Actors/Persistence), so no
    /// role and no owner may change: bound 0, as for the Akka partition.
    /// </summary>
    public static readonly ChaosFaultKind DatabaseStop = new(
        "database-stop", "a unit's database stopped, then started again",
        f => $"stop {f.Unit}'s database (its SQLite file locked by another process) for {Sec(f.HoldMs)}; a config change meanwhile must be refused, one after must be journaled",
        [],
        (_, u) => DatabaseHoldMinMs + u * DatabaseHoldSpanMs,
        _ => 0,
        _ => 0,
        HealStartsUnit: false,
        (lab, f) => lab.StopDatabaseAsync(f.Unit),
        (lab, f) => lab.StartDatabaseAsync(f.Unit));

    public static IReadOnlyList<ChaosFaultKind> All { get; } = [Kill, Restart, PortDown, HeartbeatCut, Sigstop, AkkaPartition, DatabaseStop];

    public static ChaosFaultKind Get(string name) => All.First(k => k.Name == name);

    private static string Sec(double ms) => (ms / 1000).ToString("0.000", CultureInfo.InvariantCulture) + " s";
}

/// <summary>
/// Run r of seed S: its fault from (S, r) alone, through SplitMix64 (fixed arithmetic, the same on every runtime, unlike
/// an unseeded or version-dependent generator), so `--seed S --run r` replays exactly that run's fault. Pure.
/// </summary>
public static class ChaosPlan
{
    public static ChaosFault Fault(long seed, int run, IReadOnlyList<ChaosFaultKind> catalog, ChaosTargets targets, DrillTimers timers)
    {
        if (catalog.Count == 0) throw new ArgumentException("no fault kinds to pick from", nameof(catalog));
        var draw = new Draws(seed, run);
        var kind = catalog[draw.Below(catalog.Count)];
        // Only the (unit, port) pairs the lab has: a kind with ports hits one of them, the others a unit.
        var choices = kind.Ports.Count == 0
            ? targets.Units.Select(u => (Unit: u, Port: (string?)null)).ToList()
            : targets.Units.SelectMany(u => kind.Ports.Where(p => targets.Ports.GetValueOrDefault(u)?.Contains(p) == true)
                .Select(p => (Unit: u, Port: (string?)p))).ToList();
        if (choices.Count == 0) throw new ArgumentException($"no target for {kind.Name} in this lab", nameof(targets));
        var (unit, port) = choices[draw.Below(choices.Count)];
        var hold = Math.Round(kind.Hold(timers, draw.Unit()), 0);
        var scope = kind.Scopes.Count == 0 ? null : kind.Scopes[draw.Below(kind.Scopes.Count)];
        return new ChaosFault(kind.Name, unit, port, hold, scope);
    }

    /// <summary>A stream of draws from (seed, run): SplitMix64 over the seed mixed with the run number.</summary>
    private sealed class Draws(long seed, int run)
    {
        private ulong _state = Mix(unchecked((ulong)seed) ^ Mix(unchecked((ulong)run * 0x9E3779B97F4A7C15UL)));

        private ulong Next()
        {
            _state = unchecked(_state + 0x9E3779B97F4A7C15UL);
            return Mix(_state);
        }

        private static ulong Mix(ulong z)
        {
            z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
            z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
            return z ^ (z >> 31);
        }

        /// <summary>Uniform in [0, n).</summary>
        public int Below(int n) => (int)(Next() % (ulong)n);

        /// <summary>Uniform in [0, 1).</summary>
        public double Unit() => (Next() >> 11) * (1.0 / (1UL << 53));
    }
}
