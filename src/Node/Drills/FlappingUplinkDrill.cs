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

    /// <summary>What the run measured; <see cref="Checks"/> holds it to the drill's expectations, purely, and
    /// <see cref="Report"/> is the run's report in the scripted drills' shape, with PC1's timeline.</summary>
    public sealed record Result
    {
        public required string Scenario { get; init; }
        public required long Seed { get; init; }
        public required string Owner { get; init; }
        public required string Uplink { get; init; }
        public required TimeSpan Period { get; init; }
        public required IReadOnlyList<Flap> Flaps { get; init; }
        public required int Polls { get; init; }
        /// <summary>Polls that saw two owners outside the allowance after a change (each fails the run).</summary>
        public required int TwoOwnerPolls { get; init; }
        /// <summary>Those polls: which, when after which change, who.</summary>
        public required IReadOnlyList<string> TwoOwnersAt { get; init; }
        /// <summary>Polls that saw two owners within the allowance after a change, with when and who.</summary>
        public required IReadOnlyList<string> Transients { get; init; }
        /// <summary>The DC router's detection + <see cref="ChaosInvariants.OwnerAllowanceMs"/>.</summary>
        public required double AllowanceMs { get; init; }
        public double? FlowingAfterMs { get; init; }
        /// <summary>How long after the last flap PC1's traffic may take to flow again: the router's detection + 5 s.</summary>
        public required double FlowingBoundMs { get; init; }
        public required long AntiReplayDrops { get; init; }
        public long? IcvFailures { get; init; }
        public required long Sent { get; init; }
        public required long Answered { get; init; }
        public required double LongestGapMs { get; init; }
        public required double RatePps { get; init; }
        public required bool FastTimers { get; init; }
        public required string Mode { get; init; }
        public required DrillTimers Timers { get; init; }
        public required IReadOnlyList<CastEntry> Cast { get; init; }
        public required DateTimeOffset StartedAt { get; init; }
        public required double DurationS { get; init; }
        public string? DialedVia { get; init; }
        public string? DialNextHop { get; init; }
        public string? DialedDecSpi { get; init; }
        public string? DialedEncSpi { get; init; }
        public Timeline Timeline { get; init; } = Timeline.Empty;
        public IReadOnlyList<TimelineEvent> Events { get; init; } = [];
        public required IReadOnlyList<string> Lines { get; init; }

        public IReadOnlyList<DrillCheck> Checks => FlappingUplinkDrill.Checks(this);
        public DrillRunResult Report => FlappingUplinkDrill.Report(this);
        public bool Passed => Report.Passed;
        public IReadOnlyList<string> Violations => Report.Failures;
    }

    /// <summary>The drill's own expectations of <paramref name="r"/>: one owner per tunnel at every poll outside the allowance
    /// after a change, PC1's traffic flowing again after the last flap; who owned the tunnel after each down and up, the
    /// transient double claims and the longest gap are reported.</summary>
    public static IReadOnlyList<DrillCheck> Checks(Result r)
    {
        var c = CultureInfo.InvariantCulture;
        var checks = new List<DrillCheck>();
        foreach (var f in r.Flaps)
            checks.Add(new($"flap {f.Index}", string.Create(c, $"{r.Uplink} down {f.Down.TotalSeconds:0.0} s, then up {f.Up.TotalSeconds:0.0} s: tunnel owners at the end of each"),
                $"{f.OwnerAfterDown} / {f.OwnerAfterUp}", "measured", null));
        checks.Add(new("run", $"polls with two owners of a tunnel outside {DrillVerdict.Ms(r.AllowanceMs)} of a change",
            r.TwoOwnersAt.Count == 0 ? $"{r.TwoOwnerPolls} of {r.Polls}" : $"{r.TwoOwnerPolls} of {r.Polls}: {r.TwoOwnersAt[0]}", "0",
            r.TwoOwnerPolls == 0 && r.Polls > 0));
        checks.Add(new("run", $"transient double claims within {DrillVerdict.Ms(r.AllowanceMs)} of a change",
            r.Transients.Count == 0 ? "none" : $"{r.Transients.Count}: {r.Transients[0]}", "measured", null));
        checks.Add(new("after the last flap", "PC1's traffic flowing again",
            r.FlowingAfterMs is { } f2 ? $"after {DrillVerdict.Ms(f2)}" : "not flowing", $"≤ {DrillVerdict.Ms(r.FlowingBoundMs)}", r.FlowingAfterMs is { } ok && ok <= r.FlowingBoundMs));
        checks.Add(new("run", "PC1's longest gap", $"{DrillVerdict.Ms(r.LongestGapMs)} (sent {r.Sent}, answered {r.Answered})", "measured", null));
        return checks;
    }

    public const string Title = "Flapping uplink: the owner's IPsec uplink pulled and plugged back, again and again";

    /// <summary>A definition for the lab factory (tests bring a fake lab through it): no scripted phases.</summary>
    public static DrillDefinition Definition(DrillCast cast) => new(Name, Title, "", cast.Owner, null, [], [], [], []);

    /// <summary>The run as a report in the scripted drills' shape (<see cref="DrillCommand.Write"/>), PC1's timeline and the flaps on it.</summary>
    public static DrillRunResult Report(Result r) => new()
    {
        Drill = Name, Title = Title, Run = 1, Scenario = r.Scenario, Mode = r.Mode, StartedAt = r.StartedAt, DurationS = r.DurationS,
        Summary = string.Create(CultureInfo.InvariantCulture,
            $"PC1's traffic goes through {r.Owner}. Its IPsec uplink {r.Uplink} is pulled and plugged back {r.Flaps.Count} times, one flap every "
            + $"{r.Period.TotalSeconds:0.0} s, each down 40–60 % of the period (drawn from seed {r.Seed}): a down outlasts the DC router's withdrawal, "
            + $"so the tunnel moves to the other FGSP member on its traffic, and an up lets the router take the owner's member back. Every unit's "
            + $"tunnels are polled every {PollEvery.TotalMilliseconds:0} ms: one owner per tunnel outside {r.AllowanceMs:0} ms of a change "
            + $"(the chaos drill's rule), PC1's traffic flowing again after the last flap, no anti-replay drops."),
        RatePps = r.RatePps, FastTimers = r.FastTimers, Timers = r.Timers, Cast = r.Cast,
        ConfigChanges = [$"{r.Owner}: {r.Uplink}'s cable pulled and plugged back {r.Flaps.Count} times, seed {r.Seed} (`--seed {r.Seed}` replays the same flaps)"],
        ExpectedDialedVia = r.Owner, DialedVia = r.DialedVia, DialNextHop = r.DialNextHop, DialedDecSpi = r.DialedDecSpi, DialedEncSpi = r.DialedEncSpi,
        AntiReplayDrops = r.AntiReplayDrops, IcvFailures = r.IcvFailures, Timeline = r.Timeline, Events = r.Events, OwnChecks = Checks(r), Log = r.Lines,
    };

    /// <summary>The down time of each flap: 40–60 % of the period, from the seed alone.</summary>
    public static IReadOnlyList<TimeSpan> DownTimes(long seed, int flaps, TimeSpan period)
    {
        var random = new Random((int)(seed & int.MaxValue) ^ (int)(seed >> 32));
        return Enumerable.Range(0, flaps).Select(_ => TimeSpan.FromMilliseconds(Math.Round(period.TotalMilliseconds * (0.4 + 0.2 * random.NextDouble())))).ToList();
    }

    /// <summary>`clusteractors drill [seed] flapping-uplink [--seed N] [--fast-timers] [--rate PPS] [--mode embedded|docker]`:
    /// one run, the report folder as the scripted drills' (<see cref="DrillCommand.RunOwn"/>). In the container lab the
    /// flaps pull the owner's uplink inside its container (`ip link set port2 down|up` in its namespace) and the DC
    /// router is the lab router container. <paramref name="labFactory"/>: a test's lab; <paramref name="options"/>: a
    /// test's flaps instead of the request's.</summary>
    public static async Task<int> RunCommand(DrillCommand.Request request, LabTopology topology, TextWriter stdout, CancellationToken ct,
        DrillCommand.LabFactory? labFactory = null, TimeProvider? clock = null, Options? options = null)
    {
        if (request.Mode is not ("embedded" or "docker")) throw new Hosting.UsageException($"--mode is embedded or docker, not '{request.Mode}'");
        if (request.Runs != 1 || request.Hb10Ms || request.Run is not null || request.Client != DrillCommand.FortiGateClient)
            throw new Hosting.UsageException($"{Name} takes --seed, --fast-timers, --rate and --mode only: one run");
        if (request.Mode == "docker" && labFactory is null)
        {
            DockerDrillCast.From(topology);
            await DockerDrillLab.Preflight(ct);
        }
        options ??= new Options(request.Seed ?? Random.Shared.NextInt64(1, 1_000_000), FastTimers: request.FastTimers,
            RatePps: request.Rate == DrillCommand.DefaultRate ? 200 : request.Rate);
        var cast = DrillCast.Resolve(topology);
        var changes = DrillCatalog.OwnRunnerChanges(topology, options.FastTimers);
        return await DrillCommand.RunOwn(request, topology.Name, Name, options.RatePps, options.Seed, stdout, async outDir =>
        {
            await using var lab = labFactory?.Invoke(Definition(cast), changes) ?? (request.Mode == "docker"
                ? new DockerDrillLab(changes, stdout, DrillCommand.FortiGateClient, topology, null)
                : new EmbeddedDrillLab(changes, topology));
            var report = (await Run(lab, cast, topology.Name, options, stdout, ct)).Report;
            // The run's pcaps next to its report, as the scripted drills save them: an anti-replay drop is then found by
            // its SPI and number on the segments, and the segment names the unit that sent it.
            return DrillCommand.WithPackets(report, lab.SavePackets(outDir, DrillCommand.Stem(report)));
        }, clock);
    }


    public static async Task<Result> RunEmbedded(LabTopology topology, Options options, TextWriter progress, CancellationToken ct)
    {
        await using var lab = new EmbeddedDrillLab(DrillCatalog.OwnRunnerChanges(topology, options.FastTimers), topology);
        return await Run(lab, DrillCast.Resolve(topology), topology.Name, options, progress, ct);
    }

    /// <summary>Runs the drill on <paramref name="lab"/> (not yet up) as <paramref name="cast"/> says.</summary>
    public static async Task<Result> Run(IDrillLab lab, DrillCast cast, string scenario, Options options, TextWriter progress, CancellationToken ct)
    {
        var owner = cast.Owner;
        var uplink = cast.Uplink(owner);
        var startedAt = DateTimeOffset.UtcNow;
        var wall = Stopwatch.StartNew();
        var timers = lab.Timers;
        var period = options.Period ?? TimeSpan.FromMilliseconds(Math.Round(2.5 * (timers.RouterDetectionMs + 1000)));
        var downs = DownTimes(options.Seed, options.Flaps, period);
        var lines = new List<string>();
        var twoOwnersAt = new List<string>();
        async Task Say(string line) { lines.Add(line); await progress.WriteLineAsync(line); }

        await Say(string.Create(CultureInfo.InvariantCulture,
            $"{Name}: seed {options.Seed}; owner {owner}, uplink {uplink}; {options.Flaps} flaps, period {period.TotalSeconds:0.0} s "
            + $"(down {string.Join(", ", downs.Select(d => $"{d.TotalSeconds:0.0}"))} s); DC router detection {timers.RouterDetectionMs:0} ms "
            + $"(probe {timers.ProbeIntervalMs} ms x {timers.ProbeMisses}); PC1 {options.RatePps:0} pps"));
        await Say("  lab: " + await lab.Up(cast.Primaries, ct));
        var dial = await lab.Dial(ct);
        await Say($"  dialed: client SPIs in {dial.ClientInboundSpi:x8} out {dial.ClientOutboundSpi:x8} via {dial.NextHop}");
        var dialedVia = await ChaosRunner.SingleOwner(lab);
        // The timeline's zero: the tunnel is up. PC1's answers and each unit's forwarded packets every 100 ms, the flaps and the moves on it.
        var clock = Stopwatch.StartNew();
        var events = new List<TimelineEvent>();
        lab.TrafficStart(options.RatePps);
        var sampler = new TimelineSampler(lab, clock);
        sampler.Start();

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
            var was = ownersNow;
            ownersNow = owners.Count == 0 ? "none" : string.Join("; ", owners.Select(o => $"{o.Key}: {string.Join("+", o.Value)}"));
            if (ownersNow != was && polls > 1) events.Add(new TimelineEvent(clock.Elapsed.TotalMilliseconds, "role-change", ownersNow));
            if (owners.Values.Any(l => l.Count > 1))
            {
                var at = string.Create(CultureInfo.InvariantCulture, $"{sinceChange.Elapsed.TotalMilliseconds:0} ms after {lastChange}: {ownersNow}");
                if (sinceChange.Elapsed <= allowance) transients.Add(at);
                else
                {
                    twoOwners++;
                    twoOwnersAt.Add($"poll {polls}, {at}");
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
            events.Add(new TimelineEvent(clock.Elapsed.TotalMilliseconds, "fault", $"flap {i + 1}: {uplink} out"));
            await lab.Link(owner, uplink, up: false);
            (lastChange, sinceChange) = ($"flap {i + 1} down", Stopwatch.StartNew());
            await PollFor(downs[i]);
            var afterDown = ownersNow;
            events.Add(new TimelineEvent(clock.Elapsed.TotalMilliseconds, "fault", $"flap {i + 1}: {uplink} in"));
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
        var timeline = await sampler.StopAsync(lab.Units);
        var report = await lab.TrafficStop();
        var client = lab.Client();
        var drops = client.AntiReplayDrops ?? 0;
        await Say(string.Create(CultureInfo.InvariantCulture,
            $"  after the last flap: traffic {(flowingAfter is { } f ? $"flowing (checked {f:0} ms after)" : "not flowing")}; PC1 sent {report.Sent}, answered {report.Answered}, "
            + $"longest gap {report.LongestGap.TotalMilliseconds:0} ms; {polls} polls, two owners at {twoOwners} outside and {transients.Count} within "
            + $"{allowance.TotalMilliseconds:0} ms of a change; anti-replay drops {drops}"));
        foreach (var t in transients) await Say("  transient double claim " + t);
        // What CLIENT1 refused, as chaos prints it for an anti-replay violation: its last drops (SPI, number, why, the
        // window's highest; embedded, the unit that sent it), so a failed run says which unit sent from too low.
        if (drops > 0)
            foreach (var line in client.AntiReplayTrace ?? []) await Say("  anti-replay drop " + line);
        var result = new Result
        {
            Scenario = scenario, Seed = options.Seed, Owner = owner, Uplink = uplink, Period = period, Flaps = flaps, Polls = polls,
            TwoOwnerPolls = twoOwners, TwoOwnersAt = twoOwnersAt, Transients = transients, AllowanceMs = allowance.TotalMilliseconds,
            FlowingAfterMs = flowingAfter, FlowingBoundMs = bound.TotalMilliseconds, AntiReplayDrops = drops, IcvFailures = client.IcvFailures,
            Sent = report.Sent, Answered = report.Answered, LongestGapMs = report.LongestGap.TotalMilliseconds, RatePps = options.RatePps,
            FastTimers = options.FastTimers, Mode = lab.Mode, Timers = timers, Cast = cast.Entries, StartedAt = startedAt,
            DurationS = Math.Round(wall.Elapsed.TotalSeconds, 1), DialedVia = dialedVia, DialNextHop = dial.NextHop,
            DialedDecSpi = dial.ClientOutboundSpi.ToString("x8", CultureInfo.InvariantCulture), DialedEncSpi = dial.ClientInboundSpi.ToString("x8", CultureInfo.InvariantCulture),
            Timeline = timeline, Events = events, Lines = lines,
        };
        var violations = result.Violations;
        await Say(violations.Count == 0 ? $"  PASS (one owner per tunnel at every poll outside the allowance after a change, traffic flowing after the last flap, 0 anti-replay drops), seed {options.Seed}"
            : "  FAIL: " + string.Join("; ", violations.Take(5)) + (violations.Count > 5 ? $" (+{violations.Count - 5} more)" : ""));
        return result with { Lines = lines.ToList() };
    }
}
