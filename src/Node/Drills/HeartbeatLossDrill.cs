using System.Diagnostics;
using System.Globalization;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.Scenario;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.Drills;

/// <summary>
/// Issue 14 item 5: rising loss on the owner's FGCP heartbeat link (netem on the hbdev of both units of its cluster, so
/// the link loses each way). Each step holds one loss for a bounded time while both units are polled; the drill reports
/// the loss at which the first false failover appears — a role change in the cluster while both units are alive — and
/// sets it against hb-lost-threshold × hb-interval: a unit declares its peer lost only after that long without one
/// heartbeat, i.e. after hb-lost-threshold heartbeats lost in a row. Then the impairment is cleared and the cluster
/// must heal to one primary and the tunnel to one owner. The fabric's and the hbdevs' counters say what was dropped.
/// </summary>
public static class HeartbeatLossDrill
{
    public const string Name = "heartbeat-loss";

    /// <summary>The ramp: 0 %, 10 %, … 90 % (the brief's), each step held for <see cref="Options.Hold"/>.</summary>
    public static readonly IReadOnlyList<double> DefaultSteps = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90];

    public static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(100);

    /// <param name="Seed">What netem's draws come from (each unit's hbdev its own stream, <see cref="NetemModel.RandomFor"/>).</param>
    /// <param name="Hold">How long each step lasts; null: 3 × hb-lost-threshold × hb-interval (at least 5 s).</param>
    /// <param name="FastTimers">hb-lost-threshold 6 (<see cref="EmbeddedScenarioDriver.FastTimers"/>) instead of the shipped 20.</param>
    /// <param name="Impair">Whether the ramp is applied at all (false: the drill's control run, the same polls with no loss).</param>
    public sealed record Options(long Seed, IReadOnlyList<double>? Steps = null, TimeSpan? Hold = null, bool FastTimers = false, bool Impair = true);

    /// <summary>One step of the ramp as measured: heartbeats each end offered and lost, and what the polls saw.</summary>
    /// <param name="ChanceOfRun">The exact chance of hb-lost-threshold heartbeats lost in a row one way in the step's heartbeats (<see cref="ChanceOfLostRun"/>).</param>
    public sealed record Step(double LossPercent, TimeSpan Held, long OwnerSent, long OwnerLost, long PeerSent, long PeerLost, int Polls,
        int TwoPrimaryPolls, int TwoOwnerPolls, double ChanceOfRun = double.NaN);

    /// <summary>What the run measured; <see cref="Checks"/> holds it to the drill's expectations, purely, and
    /// <see cref="Report"/> is the run's report in the scripted drills' shape.</summary>
    public sealed record Result
    {
        public required string Scenario { get; init; }
        public required long Seed { get; init; }
        public required string Owner { get; init; }
        public required string Peer { get; init; }
        public required string Hbdev { get; init; }
        public required int HbIntervalMs { get; init; }
        public required int HbLostThreshold { get; init; }
        public double? FalseFailoverAtLoss { get; init; }
        /// <summary>From before the step's first impairment was set to the poll that saw the false failover.</summary>
        public double? FalseFailoverAfterMs { get; init; }
        /// <summary>How late the owner's timers ran from one detection window and one interval before the step to the false
        /// failover (<see cref="IDrillLab.UnitTimersLate"/>: the embedded lab's own measure of them, the container lab's the
        /// machine's stalls): heartbeats it held back then count toward the peer's detection, so the failover may come
        /// that much earlier into the step.</summary>
        public double? OwnerTimersLateBeforeFailoverMs { get; init; }
        public string? FalseFailoverSeen { get; init; }
        /// <summary>The ramp as run: it stops at the step of the first false failover.</summary>
        public required IReadOnlyList<Step> Steps { get; init; }
        public double? HealedAfterMs { get; init; }
        /// <summary>How long the drill waits for the heal: 2 × the FGCP detection + 5 s.</summary>
        public required double HealWithinMs { get; init; }
        /// <summary>What the last poll saw when the heal did not come.</summary>
        public string? NotHealed { get; init; }
        public required bool FastTimers { get; init; }
        /// <summary>The lab it ran in: embedded (netem's model on the hbdev's socket) or docker (`tc … netem` on port4).</summary>
        public string Mode { get; init; } = "embedded";
        public required bool Impair { get; init; }
        public required TimeSpan Hold { get; init; }
        public required DrillTimers Timers { get; init; }
        public required IReadOnlyList<CastEntry> Cast { get; init; }
        public required DateTimeOffset StartedAt { get; init; }
        public required double DurationS { get; init; }
        public string? DialedVia { get; init; }
        public string? DialNextHop { get; init; }
        public long? AntiReplayDrops { get; init; }
        public long? IcvFailures { get; init; }
        public required IReadOnlyList<string> Lines { get; init; }

        public double LostAfterMs => (double)HbIntervalMs * HbLostThreshold;
        public IReadOnlyList<DrillCheck> Checks => HeartbeatLossDrill.Checks(this);
        public DrillRunResult Report => HeartbeatLossDrill.Report(this);
        public bool Passed => Report.Passed;
        public IReadOnlyList<string> Violations => Report.Failures;
    }

    /// <summary>
    /// The drill's own expectations of <paramref name="r"/>: per step before the false failover, no poll with two
    /// primaries or two owners of a tunnel (at the false failover's own step they are the finding: reported, not judged);
    /// the heal within its bound. The loss of the first false failover and the heartbeats lost per step are reported.
    /// </summary>
    public static IReadOnlyList<DrillCheck> Checks(Result r)
    {
        var checks = new List<DrillCheck>();
        for (var i = 0; i < r.Steps.Count; i++)
        {
            var s = r.Steps[i];
            var phase = $"loss {F(s.LossPercent)}%";
            var falseFailoverStep = r.FalseFailoverAtLoss is not null && i == r.Steps.Count - 1;
            checks.Add(new(phase, $"heartbeats lost ({r.Owner} / {r.Peer}, {r.Hbdev} netem)",
                string.Create(CultureInfo.InvariantCulture,
                    $"{s.OwnerLost} of {s.OwnerSent} / {s.PeerLost} of {s.PeerSent} in {s.Held.TotalSeconds:0.0} s; chance of {r.HbLostThreshold} in a row one way {s.ChanceOfRun:0.####}"),
                "measured", null));
            var ok = s.TwoPrimaryPolls == 0 && s.TwoOwnerPolls == 0;
            checks.Add(new(phase, "polls with two primaries / two owners of a tunnel", $"{s.TwoPrimaryPolls} / {s.TwoOwnerPolls} of {s.Polls}",
                falseFailoverStep ? "measured (the false failover's split brain)" : "0 / 0", falseFailoverStep ? null : ok));
        }
        checks.Add(new("result", "first false failover (a role change in the cluster while both units answer)",
            r.FalseFailoverAtLoss is { } at
                ? string.Create(CultureInfo.InvariantCulture, $"at {F(at)}% loss, {r.FalseFailoverAfterMs:0} ms into the step: {r.FalseFailoverSeen}")
                : $"none up to {(r.Steps.Count == 0 ? "—" : F(r.Steps[^1].LossPercent) + "%")} loss",
            string.Create(CultureInfo.InvariantCulture, $"reported against hb-lost-threshold {r.HbLostThreshold} × hb-interval {r.HbIntervalMs} ms = {r.LostAfterMs:0} ms"),
            null));
        checks.Add(new("heal", "one primary and one owner per tunnel after the impairment is cleared",
            r.HealedAfterMs is { } healed ? DrillVerdict.Ms(healed) : $"not healed: {r.NotHealed ?? "—"}", $"≤ {DrillVerdict.Ms(r.HealWithinMs)}",
            r.HealedAfterMs is not null));
        return checks;
    }

    private static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);

    public const string Title = "Heartbeat loss: rising loss on the FGCP heartbeat link until the first false failover";

    /// <summary>The run as a report in the scripted drills' shape (<see cref="DrillCommand.Write"/>): no PC1 traffic, so no timeline.</summary>
    public static DrillRunResult Report(Result r) => new()
    {
        Drill = Name, Title = Title, Run = 1, Scenario = r.Scenario, Mode = r.Mode, StartedAt = r.StartedAt, DurationS = r.DurationS,
        Summary = string.Create(CultureInfo.InvariantCulture,
            $"netem loss on the egress of both ends of {r.Owner}'s FGCP heartbeat link ({r.Hbdev} on {r.Owner} and {r.Peer}), rising "
            + $"{string.Join(", ", r.Steps.Select(s => F(s.LossPercent)))} % (the ramp stops at the first false failover), each step held "
            + $"{r.Hold.TotalSeconds:0.#} s while both units and every unit's tunnels are polled every {PollEvery.TotalMilliseconds:0} ms. A unit declares its "
            + $"peer lost after hb-lost-threshold {r.HbLostThreshold} × hb-interval {r.HbIntervalMs} ms without a heartbeat; the loss of the first false "
            + $"failover is reported against that. Then the impairment is cleared and the cluster must heal to one primary and one owner per tunnel."
            + $"{(r.Impair ? "" : " Control run: the ramp's polls with no impairment applied.")}"),
        RatePps = 0, FastTimers = r.FastTimers, Timers = r.Timers, Cast = r.Cast, HasTimeline = false,
        ConfigChanges = [r.Mode == "docker"
            ? $"{r.Owner}, {r.Peer}: `tc qdisc replace dev {r.Hbdev} root netem loss N%` in each unit's namespace (the kernel draws the losses; seed {r.Seed} is not replayed)"
            : $"{r.Owner}, {r.Peer}: netem loss on {r.Hbdev}'s egress, seed {r.Seed} (`--seed {r.Seed}` replays the same losses)"],
        ExpectedDialedVia = r.Owner, DialedVia = r.DialedVia, DialNextHop = r.DialNextHop,
        AntiReplayDrops = r.AntiReplayDrops, IcvFailures = r.IcvFailures, OwnChecks = Checks(r), Log = r.Lines,
    };

    /// <summary>
    /// The chance that one heartbeat stream at <paramref name="lossPercent"/> has <paramref name="threshold"/> losses in a
    /// row within <paramref name="heartbeats"/> heartbeats (exact, by the run-length recurrence): what a false failover
    /// needs in one direction. Printed beside the measurement so the figure can be read against the timers.
    /// </summary>
    public static double ChanceOfLostRun(double lossPercent, int threshold, int heartbeats)
    {
        var p = lossPercent / 100;
        // state[k]: probability of being k losses into a run, no run of `threshold` yet.
        var state = new double[threshold];
        state[0] = 1;
        double done = 0;
        for (var i = 0; i < heartbeats; i++)
        {
            var next = new double[threshold];
            for (var k = 0; k < threshold; k++)
            {
                next[0] += state[k] * (1 - p);
                if (k + 1 == threshold) done += state[k] * p;
                else next[k + 1] += state[k] * p;
            }
            state = next;
        }
        return done;
    }

    /// <summary>`clusteractors drill [seed] heartbeat-loss [--seed N] [--fast-timers] [--mode embedded|docker]`: one run, the report
    /// folder as the scripted drills' (<see cref="DrillCommand.RunOwn"/>). In the container lab the loss is `tc … netem` on
    /// each unit's hbdev in its namespace, and the heartbeats are counted from the units' own metrics.
    /// <paramref name="options"/>: a test's own ramp instead of the default one; <paramref name="labFactory"/>: a test's lab.</summary>
    public static async Task<int> RunCommand(DrillCommand.Request request, LabTopology topology, TextWriter stdout, CancellationToken ct,
        TimeProvider? clock = null, Options? options = null, DrillCommand.LabFactory? labFactory = null)
    {
        if (request.Mode is not ("embedded" or "docker")) throw new Hosting.UsageException($"--mode is embedded or docker, not '{request.Mode}'");
        if (request.Runs != 1 || request.Hb10Ms || request.Run is not null || request.Client != DrillCommand.FortiGateClient)
            throw new Hosting.UsageException($"{Name} takes --seed, --fast-timers and --mode only: one run, the ramp is its own");
        if (DrillCatalog.Own(Name).NotApplicable(DrillCast.Resolve(topology)) is { } why)
            throw new Hosting.UsageException($"{Name} is not applicable to {topology.Name}: {why}");
        if (request.Mode == "docker" && labFactory is null)
        {
            DockerDrillCast.From(topology);
            await DockerDrillLab.Preflight(ct);
        }
        options ??= new Options(request.Seed ?? Random.Shared.NextInt64(1, 1_000_000), FastTimers: request.FastTimers);
        var changes = DrillCatalog.OwnRunnerChanges(topology, options.FastTimers);
        return await DrillCommand.RunOwn(request, topology.Name, Name, 0, options.Seed, stdout, async outDir =>
        {
            await using var lab = labFactory?.Invoke(Definition(DrillCast.Resolve(topology)), changes) ?? (request.Mode == "docker"
                ? new DockerDrillLab(changes, stdout, DrillCommand.FortiGateClient, topology, null)
                : new EmbeddedDrillLab(changes, topology));
            var report = (await Run(lab, topology, options, stdout, ct)).Report;
            // The heartbeat segments' pcaps next to the report: the netem losses and the false failover, packet by packet.
            return DrillCommand.WithPackets(report, lab.SavePackets(outDir, DrillCommand.Stem(report)));
        }, clock);
    }

    /// <summary>What a test's lab factory is told of the drill: its name and owner (the ramp is the drill's own).</summary>
    public static DrillDefinition Definition(DrillCast cast) => new(Name, Title, "", cast.Owner, null, [], [], [], []);


    public static async Task<Result> RunEmbedded(LabTopology topology, Options options, TextWriter progress, CancellationToken ct)
    {
        await using var lab = new EmbeddedDrillLab(DrillCatalog.OwnRunnerChanges(topology, options.FastTimers), topology);
        return await Run(lab, topology, options, progress, ct);
    }

    /// <summary>Runs the drill on <paramref name="lab"/> (not yet up).</summary>
    public static async Task<Result> Run(IDrillLab lab, LabTopology topology, Options options, TextWriter progress, CancellationToken ct)
    {
        var cast = DrillCast.Resolve(topology);
        var owner = cast.Owner;
        var peer = cast.OwnerPeer ?? throw new ArgumentException($"{topology.Name}: the owner {owner} has no FGCP peer");
        var hbdev = topology.Unit(owner).Config.Ha.HbDevs.FirstOrDefault()?.Interface ?? "port4";
        var timers = lab.Timers;
        var hold = options.Hold ?? TimeSpan.FromMilliseconds(Math.Max(5000, 3 * timers.FgcpDetectionMs));
        var steps = options.Steps ?? DefaultSteps;
        var lines = new List<string>();
        var startedAt = DateTimeOffset.UtcNow;
        var wall = Stopwatch.StartNew();
        async Task Say(string line) { lines.Add(line); await progress.WriteLineAsync(line); }

        await Say($"{Name}: seed {options.Seed}; owner {owner}, FGCP peer {peer}, heartbeat link {hbdev} (netem loss on both ends' egress); "
                  + $"hb-interval {timers.HbIntervalMs} ms x hb-lost-threshold {timers.HbLostThreshold} = peer lost after {F(timers.FgcpDetectionMs)} ms "
                  + $"without a heartbeat; steps {string.Join(",", steps.Select(F))}% held {F(hold.TotalSeconds)} s each"
                  + (options.Impair ? "" : " (control run: no impairment applied)"));
        await Say("  lab: " + await lab.Up(cast.Primaries, ct));
        var dial = await lab.Dial(ct);
        var dialedVia = await ChaosRunner.SingleOwner(lab);
        await Say($"  dialed: client SPIs in {dial.ClientInboundSpi:x8} out {dial.ClientOutboundSpi:x8} via {dial.NextHop}");

        var pair = new[] { owner, peer };
        // One poll: both units' HA view and every unit's tunnels. Counts, per poll, primaries in the cluster and owners per tunnel.
        async Task<(int Primaries, bool BothAlive, string? Swapped, int MaxOwners, string Owners)> Poll()
        {
            var views = new Dictionary<string, HaView?>();
            foreach (var u in pair) views[u] = await lab.Ha(u);
            var primaries = views.Count(v => v.Value is { Working: true, Primary: true });
            var bothAlive = views.Values.All(v => v is not null);
            string? swapped = null;
            if (bothAlive && views[peer]!.Primary) swapped = $"{peer} Primary";
            else if (bothAlive && views[owner] is { Working: true, Primary: false }) swapped = $"{owner} Secondary";
            var owners = new Dictionary<string, List<string>>();
            foreach (var u in lab.Units)
            foreach (var t in await lab.Tunnels(u) ?? [])
                if (t.Role != TunnelRole.Standby)
                    (owners.TryGetValue(t.Name, out var l) ? l : owners[t.Name] = new List<string>()).Add(u);
            var max = owners.Count == 0 ? 0 : owners.Values.Max(l => l.Count);
            return (primaries, bothAlive, swapped, max, string.Join("; ", owners.Select(o => $"{o.Key}: {string.Join("+", o.Value)}")));
        }

        // Heartbeats per unit as it counts them, and what the impairment on its hbdev dropped: the same figures in both labs.
        async Task<Dictionary<string, HeartbeatCount>> Count()
        {
            var counts = new Dictionary<string, HeartbeatCount>();
            foreach (var u in pair) counts[u] = await lab.Heartbeats(u, hbdev) ?? new HeartbeatCount(0, 0, 0);
            return counts;
        }
        var measured = new List<Step>();
        double? failoverLoss = null, failoverAfter = null, ownerLateBefore = null;
        // The owner's timer lateness (embedded: UnitTimerLag) sampled at every poll: a stall of the owner just before a
        // step holds back heartbeats its peer counts toward the detection, so a false failover can come that much earlier
        // into the step (a CI trial: "605 ms" into the 100 % step, the owner having sent 6 heartbeats in its first 0.6 s).
        var ownerLate = new List<(double AtMs, double LateMs)>();
        void SampleOwnerLate()
        {
            if (lab.UnitTimersLate(owner) is { } l) ownerLate.Add((wall.Elapsed.TotalMilliseconds, l.TotalMilliseconds));
        }
        double? OwnerLateSince(double sinceMs)
        {
            if (ownerLate.Count == 0) return null;
            var from = ownerLate.LastOrDefault(x => x.AtMs <= sinceMs, ownerLate[0]);
            return Math.Max(0, ownerLate[^1].LateMs - from.LateMs);
        }
        string? failoverSeen = null;
        foreach (var loss in steps)
        {
            var spec = ImpairmentSpec.Loss(loss);
            // A false failover's time counts from before the step's first impairment is set: in a container each one is
            // an nsenter of ~100 ms, and the owner's rule already drops while the peer's is set and the counters are
            // read. Counted from after them, a CI trial saw the peer take over "993 ms" into a step whose detection
            // can be no shorter than 1,000 ms (1,200 less the interval of the last heartbeat that got through).
            SampleOwnerLate();
            var stepClock = Stopwatch.StartNew();
            var stepWall = DateTimeOffset.UtcNow;
            if (options.Impair)
                foreach (var u in pair)
                    // Embedded, the same seed each step: unit u's k-th heartbeat of a step draws the same number at every
                    // loss, so what is lost at 20 % is also lost at 30 % (the ramp only adds losses). In a container the
                    // kernel draws.
                    await lab.Impair(u, hbdev, loss == 0 ? null : spec, options.Seed);
            var before = await Count();
            int polls = 0, twoPrimaries = 0, twoOwners = 0;
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < hold)
            {
                ct.ThrowIfCancellationRequested();
                var p = await Poll();
                SampleOwnerLate();
                polls++;
                if (p.Primaries > 1) twoPrimaries++;
                if (p.MaxOwners > 1) twoOwners++;
                if (p.Swapped is not null && failoverLoss is null)
                {
                    (failoverLoss, failoverAfter, failoverSeen) = (loss, stepClock.Elapsed.TotalMilliseconds, $"{p.Swapped} with both units alive; tunnels {p.Owners}");
                    // Over the detection window and one interval before the failover was seen.
                    ownerLateBefore = OwnerLateSince(wall.Elapsed.TotalMilliseconds - timers.FgcpDetectionMs - timers.HbIntervalMs - failoverAfter.Value);
                    break;
                }
                await Task.Delay(PollEvery, ct);
            }
            // A flap shorter than a poll: the peer primary for a few ms, then back (container CI trial 15: at 40 % loss a
            // sixth heartbeat 1 ms late; the tunnel moved there and back, and the polls saw a clean step). The unit's own
            // log says it was primary (the container lab reads it; the embedded lab keeps no such record: polls only).
            if (failoverLoss is null && await lab.RoleChangedAt(peer, true, stepWall) is { } flapAt)
                (failoverLoss, failoverAfter, failoverSeen) = (loss, (flapAt - stepWall).TotalMilliseconds,
                    $"{peer} Primary by its own log, between two polls (back before the next); tunnels {(await Poll()).Owners}");
            var held = sw.Elapsed;
            var after = await Count();
            // Sent: what the unit sent in the step; lost: what the impairment on its egress dropped of it.
            var counts = pair.ToDictionary(u => u, u => (after[u].Sent - before[u].Sent, Math.Max(0, after[u].Dropped - before[u].Dropped)));
            var beats = (int)(held.TotalMilliseconds / timers.HbIntervalMs);
            var step = new Step(loss, held, counts[owner].Item1, counts[owner].Item2, counts[peer].Item1, counts[peer].Item2, polls, twoPrimaries, twoOwners,
                ChanceOfLostRun(options.Impair ? loss : 0, timers.HbLostThreshold, beats));
            measured.Add(step);
            await Say(string.Create(CultureInfo.InvariantCulture,
                $"  loss {F(loss),3}% for {held.TotalSeconds:0.0} s: {owner} sent {step.OwnerSent} lost {step.OwnerLost}, {peer} sent {step.PeerSent} lost {step.PeerLost}; "
                + $"{polls} polls, two primaries at {twoPrimaries}, two owners at {twoOwners}; "
                + $"chance of {timers.HbLostThreshold} in a row in {beats} heartbeats one way: {step.ChanceOfRun:0.####}"));
            if (failoverLoss is not null)
            {
                var lateNote = ownerLateBefore is { } late
                    ? lab.LatenessIsMachineWide
                        ? string.Create(CultureInfo.InvariantCulture, $" (the machine stood still {late:0} ms from one detection window before the step, the drill's sleeping probe)")
                        : string.Create(CultureInfo.InvariantCulture, $" ({owner}'s timers ran {late:0} ms late from one detection window before the step)")
                    : "";
                await Say(string.Create(CultureInfo.InvariantCulture,
                    $"  FALSE FAILOVER at loss {F(loss)}% after {failoverAfter:0} ms of the step: {failoverSeen}") + lateNote);
                break;
            }
            // Before any false failover the cluster must never show two primaries, nor the tunnel two owners: Checks holds each step to it.
        }

        // Heal: the impairment cleared, one primary again and one owner of the tunnel.
        foreach (var u in pair) await lab.Impair(u, hbdev, null, options.Seed);
        double? healed = null;
        var healWithin = TimeSpan.FromMilliseconds(2 * timers.FgcpDetectionMs + 5000);
        var heal = Stopwatch.StartNew();
        (int Primaries, bool BothAlive, string? Swapped, int MaxOwners, string Owners) last = default;
        while (heal.Elapsed < healWithin)
        {
            last = await Poll();
            if (last.Primaries == 1 && last.MaxOwners == 1 && last.BothAlive) { healed = heal.Elapsed.TotalMilliseconds; break; }
            await Task.Delay(PollEvery, ct);
        }
        if (healed is null)
            await Say($"  not healed {healWithin.TotalSeconds:0.0} s after the impairment was cleared: {last.Primaries} primaries, tunnels {last.Owners}");
        else
            await Say(string.Create(CultureInfo.InvariantCulture, $"  cleared -> one primary and one owner after {healed:0} ms (tunnels {last.Owners})"));
        var total = await Count();
        await Say("  hbdev counters: " + string.Join("; ", pair.Select(u => $"{u} {hbdev} sent {total[u].Sent}, received {total[u].Received}, dropped by netem {total[u].Dropped}")));
        await Say(failoverLoss is { } at
            ? string.Create(CultureInfo.InvariantCulture,
                $"  result: first false failover at {F(at)}% loss (hb-lost-threshold {timers.HbLostThreshold} x hb-interval {timers.HbIntervalMs} ms = {F(timers.FgcpDetectionMs)} ms), seed {options.Seed}")
            : $"  result: no false failover up to {F(steps[^1])}% loss (hb-lost-threshold {timers.HbLostThreshold} x hb-interval {timers.HbIntervalMs} ms), seed {options.Seed}");
        var client = lab.Client();
        var result = new Result
        {
            Scenario = topology.Name, Seed = options.Seed, Owner = owner, Peer = peer, Hbdev = hbdev, HbIntervalMs = timers.HbIntervalMs,
            HbLostThreshold = timers.HbLostThreshold, FalseFailoverAtLoss = failoverLoss, FalseFailoverAfterMs = failoverAfter,
            OwnerTimersLateBeforeFailoverMs = ownerLateBefore, FalseFailoverSeen = failoverSeen, Steps = measured, HealedAfterMs = healed, HealWithinMs = healWithin.TotalMilliseconds,
            NotHealed = healed is null ? $"{last.Primaries} primaries, tunnels {last.Owners}" : null, FastTimers = options.FastTimers, Mode = lab.Mode,
            Impair = options.Impair, Hold = hold, Timers = timers, Cast = cast.Entries, StartedAt = startedAt,
            DurationS = Math.Round(wall.Elapsed.TotalSeconds, 1), DialedVia = dialedVia, DialNextHop = dial.NextHop,
            AntiReplayDrops = client.AntiReplayDrops, IcvFailures = client.IcvFailures, Lines = lines,
        };
        await Say(result.Passed ? "  PASS (at most one primary and one owner per tunnel at every poll before it, healed after)"
            : "  FAIL: " + string.Join("; ", result.Violations));
        return result with { Lines = lines.ToList() };
    }
}
