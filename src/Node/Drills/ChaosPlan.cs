using System.Globalization;
using ClusterActors.Actors.DataPlane;

namespace ClusterActors.Node.Drills;

/// <summary>
/// The fault one chaos run injects, decided before the run from the seed and the run number alone
/// (<see cref="ChaosPlan.Fault"/>): its kind, the unit (and port) it hits, and how long it is held before it is healed.
/// </summary>
/// <param name="Kind">The catalog entry's name: kill, restart, port-down, heartbeat-cut, sigstop.</param>
/// <param name="HoldMs">From the fault to its heal (for a restart: how long the unit stays down).</param>
public sealed record ChaosFault(string Kind, string Unit, string? Port, double HoldMs)
{
    /// <summary>A few words: progress, reports, the summary.</summary>
    public string Short => string.Create(CultureInfo.InvariantCulture,
        $"{Kind} {Unit}{(Port is null ? "" : " " + Port)}, held {HoldMs / 1000:0.000} s");
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
    Func<IDrillLab, ChaosFault, Task> Heal);

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
/// port's cable, cut a heartbeat cable, freeze a unit (SIGSTOP … SIGCONT). Akka-only partitions and database
/// stop/start join as one entry each once their lab methods exist.
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

    public static IReadOnlyList<ChaosFaultKind> All { get; } = [Kill, Restart, PortDown, HeartbeatCut, Sigstop];

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
        return new ChaosFault(kind.Name, unit, port, hold);
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
