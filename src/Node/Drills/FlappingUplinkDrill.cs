using System.Diagnostics;
using System.Globalization;
using ClusterActors.Node.Scenario;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.Drills;

/// <summary>
/// Issue 14 item 5: the tunnel owner's IPsec uplink (its port2 on the seed) flaps: its cable is pulled and plugged back
/// N times, one flap per period, while PC1's traffic flows. Each flap's down time is drawn from the seed (40–60 % of the
/// period), so a run replays. Checked by code: one owner per tunnel at every poll (every 100 ms), the traffic flowing
/// again after the last flap, zero anti-replay drops at the client. What the DC router and the tunnel did in each flap
/// is printed (who owned the tunnel at the end of each down and each up).
/// <para>"One owner at every poll" is the chaos drill's invariant (<see cref="ChaosInvariants.OwnersSettle"/>): a move
/// of the tunnel is a claim by the new owner followed by the old one's demotion over SA sync, so for a moment after each
/// link change two units may hold it; a poll that sees two owners within the DC router's detection bound + 500 ms
/// (<see cref="ChaosInvariants.OwnerAllowanceMs"/>) of the last change is counted and printed as a transient, any
/// other one fails the run.</para>
/// </summary>
public static class FlappingUplinkDrill
{
    public const string Name = "flapping-uplink";

    public static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(100);

    /// <param name="Flaps">How many times the uplink goes down and up.</param>
    /// <param name="Period">One flap (down, then up); null: 2.5 × (the DC router's detection + 1 s), so that a down
    /// phase outlasts the router's withdrawal and the tunnel moves, and an up phase lets it come back.</param>
    /// <param name="RatePps">PC1's echo rate through the tunnel.</param>
    public sealed record Options(long Seed, int Flaps = 3, TimeSpan? Period = null, bool FastTimers = false, double RatePps = 200);

    public sealed record Flap(int Index, TimeSpan Down, TimeSpan Up, string OwnerAfterDown, string OwnerAfterUp);

    /// <param name="TwoOwnerPolls">Polls that saw two owners outside the allowance after a change (each a violation).</param>
    /// <param name="Transients">Polls that saw two owners within the allowance after a change, with when and who.</param>
    public sealed record Result(long Seed, string Owner, string Uplink, IReadOnlyList<Flap> Flaps, int Polls, int TwoOwnerPolls, IReadOnlyList<string> Transients,
        double? FlowingAfterMs, long AntiReplayDrops, long Sent, long Answered, double LongestGapMs, IReadOnlyList<string> Violations,
        IReadOnlyList<string> Lines)
    {
        public bool Passed => Violations.Count == 0;
    }

    /// <summary>The down time of each flap: 40–60 % of the period, from the seed alone.</summary>
    public static IReadOnlyList<TimeSpan> DownTimes(long seed, int flaps, TimeSpan period)
    {
        var random = new Random((int)(seed & int.MaxValue) ^ (int)(seed >> 32));
        return Enumerable.Range(0, flaps).Select(_ => TimeSpan.FromMilliseconds(Math.Round(period.TotalMilliseconds * (0.4 + 0.2 * random.NextDouble())))).ToList();
    }

    /// <summary>`clusteractors drill [seed] flapping-uplink [--seed N] [--fast-timers] [--rate PPS]`: embedded only, one run.</summary>
    public static async Task<int> RunCommand(DrillCommand.Request request, LabTopology topology, TextWriter stdout, CancellationToken ct)
    {
        if (request.Mode != "embedded") throw new Hosting.UsageException($"{Name} runs embedded only for now");
        if (request.Runs != 1 || request.Hb10Ms || request.Run is not null || request.Client != DrillCommand.FortiGateClient)
            throw new Hosting.UsageException($"{Name} takes --seed, --fast-timers and --rate only: one run");
        var seed = request.Seed ?? Random.Shared.NextInt64(1, 1_000_000);
        var rate = request.Rate == DrillCommand.DefaultRate ? 200 : request.Rate;
        var result = await RunEmbedded(topology, new Options(seed, FastTimers: request.FastTimers, RatePps: rate), stdout, ct);
        return result.Passed ? 0 : 1;
    }

    public static async Task<Result> RunEmbedded(LabTopology topology, Options options, TextWriter progress, CancellationToken ct)
    {
        var cast = DrillCast.Resolve(topology);
        var owner = cast.Owner;
        var uplink = cast.Uplink(owner);
        var change = options.FastTimers ? EmbeddedScenarioDriver.FastTimers : DrillCatalog.HelloHolddown;
        await using var lab = new EmbeddedDrillLab(topology.UnitNames.ToDictionary(u => u, _ => change), topology);
        var timers = lab.Timers;
        var period = options.Period ?? TimeSpan.FromMilliseconds(Math.Round(2.5 * (timers.RouterDetectionMs + 1000)));
        var downs = DownTimes(options.Seed, options.Flaps, period);
        var lines = new List<string>();
        var violations = new List<string>();
        async Task Say(string line) { lines.Add(line); await progress.WriteLineAsync(line); }

        await Say(string.Create(CultureInfo.InvariantCulture,
            $"{Name}: seed {options.Seed}; owner {owner}, uplink {uplink}; {options.Flaps} flaps, period {period.TotalSeconds:0.0} s "
            + $"(down {string.Join(", ", downs.Select(d => $"{d.TotalSeconds:0.0}"))} s); DC router detection {timers.RouterDetectionMs:0} ms "
            + $"(probe {timers.ProbeIntervalMs} ms x {timers.ProbeMisses}); PC1 {options.RatePps:0} pps"));
        await Say("  lab: " + await lab.Up(cast.Primaries, ct));
        var dial = await lab.Dial(ct);
        await Say($"  dialed: client SPIs in {dial.ClientInboundSpi:x8} out {dial.ClientOutboundSpi:x8} via {dial.NextHop}");
        lab.TrafficStart(options.RatePps);

        int polls = 0, twoOwners = 0;
        var transients = new List<string>();
        var ownersNow = "";
        var allowance = TimeSpan.FromMilliseconds(timers.RouterDetectionMs + ChaosInvariants.OwnerAllowanceMs);
        var sinceChange = Stopwatch.StartNew();
        var lastChange = "the start";
        async Task PollOnce()
        {
            var owners = new Dictionary<string, List<string>>();
            foreach (var u in lab.Units)
            foreach (var t in await lab.Tunnels(u) ?? [])
                if (t.Role != TunnelRole.Standby)
                    (owners.TryGetValue(t.Name, out var l) ? l : owners[t.Name] = new List<string>()).Add(u);
            polls++;
            ownersNow = owners.Count == 0 ? "none" : string.Join("; ", owners.Select(o => $"{o.Key}: {string.Join("+", o.Value)}"));
            if (owners.Values.Any(l => l.Count > 1))
            {
                var at = string.Create(CultureInfo.InvariantCulture, $"{sinceChange.Elapsed.TotalMilliseconds:0} ms after {lastChange}: {ownersNow}");
                if (sinceChange.Elapsed <= allowance) transients.Add(at);
                else
                {
                    twoOwners++;
                    violations.Add($"two owners at poll {polls}, {at} (allowance {allowance.TotalMilliseconds:0} ms)");
                }
            }
        }

        async Task PollFor(TimeSpan span)
        {
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < span)
            {
                ct.ThrowIfCancellationRequested();
                await PollOnce();
                var left = span - sw.Elapsed;
                if (left > TimeSpan.Zero) await Task.Delay(left < PollEvery ? left : PollEvery, ct);
            }
        }

        await PollFor(TimeSpan.FromSeconds(1)); // steady before the first flap
        var flaps = new List<Flap>();
        for (var i = 0; i < options.Flaps; i++)
        {
            var up = period - downs[i];
            await lab.Link(owner, uplink, up: false);
            (lastChange, sinceChange) = ($"flap {i + 1} down", Stopwatch.StartNew());
            await PollFor(downs[i]);
            var afterDown = ownersNow;
            await lab.Link(owner, uplink, up: true);
            (lastChange, sinceChange) = ($"flap {i + 1} up", Stopwatch.StartNew());
            await PollFor(up);
            var afterUp = ownersNow;
            flaps.Add(new Flap(i + 1, downs[i], up, afterDown, afterUp));
            await Say(string.Create(CultureInfo.InvariantCulture,
                $"  flap {i + 1}: {uplink} down {downs[i].TotalSeconds:0.0} s -> tunnels {afterDown}; up {up.TotalSeconds:0.0} s -> tunnels {afterUp}"));
        }

        // Traffic must flow again after the last flap: PC1's answers grow again within the bound.
        var bound = TimeSpan.FromMilliseconds(timers.RouterDetectionMs + 5000);
        var flowing = Stopwatch.StartNew();
        double? flowingAfter = null;
        var start = lab.TrafficProgress().Answered;
        while (flowing.Elapsed < bound)
        {
            await PollOnce();
            if (lab.TrafficProgress().Answered >= start + Math.Max(5, options.RatePps / 10)) { flowingAfter = flowing.Elapsed.TotalMilliseconds; break; }
            await Task.Delay(PollEvery, ct);
        }
        var report = await lab.TrafficStop();
        var drops = lab.Client().AntiReplayDrops ?? 0;
        if (flowingAfter is null) violations.Add($"no traffic {bound.TotalSeconds:0.0} s after the last flap");
        if (drops != 0) violations.Add($"{drops} anti-replay drops at the client");
        await Say(string.Create(CultureInfo.InvariantCulture,
            $"  after the last flap: traffic {(flowingAfter is { } f ? $"flowing (checked {f:0} ms after)" : "not flowing")}; PC1 sent {report.Sent}, answered {report.Answered}, "
            + $"longest gap {report.LongestGap.TotalMilliseconds:0} ms; {polls} polls, two owners at {twoOwners} outside and {transients.Count} within "
            + $"{allowance.TotalMilliseconds:0} ms of a change; anti-replay drops {drops}"));
        foreach (var t in transients) await Say("  transient double claim " + t);
        await Say(violations.Count == 0 ? $"  PASS (one owner per tunnel at every poll outside the allowance after a change, traffic flowing after the last flap, 0 anti-replay drops), seed {options.Seed}"
            : "  FAIL: " + string.Join("; ", violations.Distinct().Take(5)) + (violations.Count > 5 ? $" (+{violations.Count - 5} more)" : ""));
        return new Result(options.Seed, owner, uplink, flaps, polls, twoOwners, transients, flowingAfter, drops, report.Sent, report.Answered,
            report.LongestGap.TotalMilliseconds, violations.Distinct().ToList(), lines);
    }
}
