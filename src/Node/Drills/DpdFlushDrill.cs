using ClusterActors.Actors.Telemetry;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.Drills;

/// <summary>
/// The DPD variant of Fortinet's "FGSP per-tunnel failover for IPsec" ("Allow IPsec DPD in FGSP members to support
/// failovers", FortiOS 7.2.1+ administration guide): DPD on-idle on the members; a client disappears, the gateway that
/// owns its tunnel sends DPD probes and, once the three iterations go unanswered, flushes the tunnel. The guide's
/// example gateway is DC1_VM1; this drill casts the owner by role as the member with `set fgsp-sync disable` (the
/// guide's DC1_VM4), so the flush is that unit's alone: no other member ever held the SAs (see
/// src/Node/scenarios/README.md for what was sourced and what was chosen).
/// </summary>
public static partial class DpdFlushDrill
{
    public const string Name = "fgsp-dpd-flush";

    /// <summary>The drill's fast DPD timer on the owner: dpd-retryinterval 1 s (the schema's floor) instead of the guide's 60 s.</summary>
    public const int FastRetryIntervalSeconds = 1;

    /// <summary>IpsecPhase1Actor.DpdCheckInterval: each of the DPD waits ends on the first check at or after it is due.</summary>
    public const double DpdCheckMs = 250;

    /// <summary>
    /// The smallest hash seed (from 0) for which the DC router's flow hash sends <paramref name="client"/>'s flow to
    /// <paramref name="hop"/> first: pure, so the cast never depends on a random seed.
    /// </summary>
    public static ulong SeedPlacing(IPAddress client, IPAddress destination, IReadOnlyList<IPAddress> via, IPAddress hop)
    {
        for (ulong seed = 0; seed < 10_000; seed++)
            if (hop.Equals(EcmpSelection.Choose(client, destination, via, seed))) return seed;
        throw new ArgumentException($"no hash seed below 10000 places {client} on {hop}");
    }

    /// <summary>
    /// <paramref name="topology"/> as its file says, with the DC router's hash seed set so its first client lands on the
    /// member with fgsp-sync disabled; null when the lab has no such member.
    /// </summary>
    public static (LabTopology Topology, ulong Seed, string Owner)? OnNoSyncMember(LabTopology topology)
    {
        var noSync = DrillCast.Resolve(topology).NoSyncMember;
        if (noSync is null) return null;
        var route = topology.Routers.SelectMany(r => r.Routes).First(r => r.Kind == TopologyRouteKind.Ecmp);
        var client = topology.Clients.First();
        var hop = route.Via.First(v => topology.Wires.Any(w => w.Host == noSync && w.Address.Address.Equals(v)));
        var seed = SeedPlacing(client.Wan.Address, route.Destination.Network, route.Via, hop);
        var yaml = HashSeedLine().Replace(File.ReadAllText(topology.File), m => m.Groups[1].Value + seed.ToString(CultureInfo.InvariantCulture), 1);
        if (!HashSeedLine().IsMatch(yaml)) throw new ArgumentException($"{topology.File} has no `hash-seed:` line to set");
        var dir = Path.GetDirectoryName(Path.GetFullPath(topology.File))!;
        var parsed = TopologyFile.Parse(yaml, topology.File, f => FortiConfig.ParseFile(Path.Combine(dir, f)));
        if (!parsed.Ok) throw new ArgumentException(parsed.ToString());
        var cast = DrillCast.Resolve(parsed.Value!);
        if (cast.Owner != noSync) throw new InvalidOperationException($"seed {seed} casts {cast.Owner}, not {noSync}");
        return (parsed.Value!, seed, noSync);
    }

    [GeneratedRegex(@"(hash-seed:\s*)\d+")]
    private static partial Regex HashSeedLine();

    /// <summary>The CLI lines giving the owner's dialup phase1 the drill's fast DPD timer (dpd-retrycount stays as configured).</summary>
    public static string FastDpd(string phase1) =>
        $"config vpn ipsec phase1-interface\n    edit \"{phase1}\"\n        set dpd-retryinterval {FastRetryIntervalSeconds}\n    next\nend\n";

    /// <summary>
    /// The DPD bound from the client's loss to the flush (on-idle): the peer is idle for at most dpd-retryinterval
    /// before the first probe, then dpd-retrycount probes each wait dpd-retryinterval for an answer:
    /// (dpd-retrycount + 1) × dpd-retryinterval. Each of those waits ends on the phase1's next DPD check (up to
    /// <see cref="DpdCheckMs"/> late), and the drills' common slack (<see cref="DrillBounds.SlackMs"/>) covers the
    /// poll of the units' tunnel lists.
    /// </summary>
    public static double BoundMs(int retryIntervalSeconds, int retryCount) =>
        (retryCount + 1) * (retryIntervalSeconds * 1000.0 + DpdCheckMs) + DrillBounds.SlackMs;

    /// <summary>What the run measured; <see cref="Checks"/> holds it to the drill's expectations, purely, and
    /// <see cref="Report"/> is the run's report in the scripted drills' shape.</summary>
    public sealed record Result
    {
        public required string Scenario { get; init; }
        public required string Owner { get; init; }
        public required string Tunnel { get; init; }
        public required string Client { get; init; }
        public required ulong Seed { get; init; }
        public required uint SpiBefore { get; init; }
        public uint EncSpiBefore { get; init; }
        /// <summary>The redialed tunnel's `dec` SPI on the owner; 0 when the owner does not own one.</summary>
        public required uint SpiAfter { get; init; }
        /// <summary>Whether the client's own inbound SPI changed with the redial (a new CHILD SA, not the old one kept).</summary>
        public required bool ClientSpiChanged { get; init; }
        /// <summary>From the client's loss to the first poll without the tunnel on the owner; NaN when it was never flushed.</summary>
        public required double LossToFlushMs { get; init; }
        public required double BoundMs { get; init; }
        /// <summary>How late the owner's timers ran, summed from the loss to the poll that saw the flush (<see cref="UnitTimerLag"/>):
        /// added to <see cref="BoundMs"/>, since every DPD wait ends on one of them.</summary>
        public double TimersLateMs { get; init; }
        /// <summary>How long the drill waited for the flush before giving up.</summary>
        public required double FlushLimitMs { get; init; }
        public required int RetryIntervalSeconds { get; init; }
        public required int RetryCount { get; init; }
        /// <summary>Every unit's tunnel list read this many times (every 50 ms), the invariants checked on each.</summary>
        public required int Polls { get; init; }
        /// <summary>Polls that saw more than one unit own the tunnel ("poll 12: DC1_VM1+DC1_VM4").</summary>
        public required IReadOnlyList<string> TwoOwners { get; init; }
        /// <summary>Polls that saw a unit other than the owner list any tunnel ("poll 3: DC1_VM1 lists vpn1_1").</summary>
        public required IReadOnlyList<string> OtherHolders { get; init; }
        /// <summary>Units still listing the tunnel right after the flush was seen.</summary>
        public required IReadOnlyList<string> ListedAfterFlush { get; init; }
        public required long AntiReplayDrops { get; init; }
        public long? IcvFailures { get; init; }
        public required DrillTimers Timers { get; init; }
        public required IReadOnlyList<CastEntry> Cast { get; init; }
        public required DateTimeOffset StartedAt { get; init; }
        public required double DurationS { get; init; }
        public string? DialNextHop { get; init; }
        public required IReadOnlyList<string> Lines { get; init; }

        public IReadOnlyList<DrillCheck> Checks => DpdFlushDrill.Checks(this);
        public DrillRunResult Report => DpdFlushDrill.Report(this);
        public bool Passed => Report.Passed;
        public IReadOnlyList<string> Violations => Report.Failures;
    }

    /// <summary>The drill's own expectations of <paramref name="r"/>, each measured value against its bound.</summary>
    public static IReadOnlyList<DrillCheck> Checks(Result r)
    {
        var flushed = !double.IsNaN(r.LossToFlushMs);
        var checks = new List<DrillCheck>
        {
            new("flush", $"{r.Owner} flushes {r.Tunnel} after {r.Client} is lost (DPD)",
                flushed ? DrillVerdict.Ms(r.LossToFlushMs) : $"still listed {DrillVerdict.Ms(r.FlushLimitMs)} after",
                string.Create(CultureInfo.InvariantCulture, $"≤ {DrillVerdict.Ms(r.BoundMs + r.TimersLateMs)} ((dpd-retrycount {r.RetryCount} + 1) × (dpd-retryinterval {r.RetryIntervalSeconds} s + {DpdCheckMs:0} ms check) + {DrillBounds.SlackMs:0} ms")
                + (r.TimersLateMs > 0 ? string.Create(CultureInfo.InvariantCulture, $" + {r.TimersLateMs:0} ms {r.Owner}'s timers ran late)") : ")"),
                flushed && r.LossToFlushMs <= r.BoundMs + r.TimersLateMs),
        };
        if (flushed)
            checks.Add(new("flush", $"units listing {r.Tunnel} once {r.Owner} flushed it", Units(r.ListedAfterFlush), "none", r.ListedAfterFlush.Count == 0));
        checks.Add(new("run", $"units but {r.Owner} listing a tunnel (fgsp-sync disabled: only it holds the SAs)",
            r.OtherHolders.Count == 0 ? $"none in {r.Polls} polls" : First(r.OtherHolders), "never", r.OtherHolders.Count == 0 && r.Polls > 0));
        checks.Add(new("run", $"owners of {r.Tunnel} at once", r.TwoOwners.Count == 0 ? $"at most one in {r.Polls} polls" : First(r.TwoOwners),
            "at most one", r.TwoOwners.Count == 0));
        var redialed = r.SpiAfter != 0 && r.SpiAfter != r.SpiBefore && r.ClientSpiChanged;
        checks.Add(new("redial", $"{r.Client} back, its DPD unanswered, dials again",
            r.SpiAfter == 0 ? $"no tunnel owned by {r.Owner}" : $"{r.Owner} dec {r.SpiAfter:x8} (was {r.SpiBefore:x8}){(r.ClientSpiChanged ? "" : ", the client's SPI unchanged")}",
            $"a new tunnel (new SPIs) on {r.Owner}", redialed));
        return checks;

        static string Units(IReadOnlyList<string> units) => units.Count == 0 ? "none" : string.Join(", ", units);
        static string First(IReadOnlyList<string> seen) => seen[0] + (seen.Count > 1 ? $" (+{seen.Count - 1} more)" : "");
    }

    public const string Title = "FGSP DPD: the lost client's tunnel flushed by its fgsp-sync disabled owner";

    /// <summary>The run as a report in the scripted drills' shape (<see cref="DrillCommand.Write"/>): no PC1 traffic, so no timeline.</summary>
    public static DrillRunResult Report(Result r) => new()
    {
        Drill = Name, Title = Title, Run = 1, Scenario = r.Scenario, Mode = "embedded", StartedAt = r.StartedAt, DurationS = r.DurationS,
        Summary = $"Fortinet's \"Allow IPsec DPD in FGSP members to support failovers\": {r.Owner} has `set fgsp-sync disable`, so it alone holds "
                  + $"{r.Client}'s tunnel {r.Tunnel} (the DC router's hash seed {r.Seed} places {r.Client} on it). {r.Client}'s WAN cable is pulled: "
                  + $"{r.Owner}'s DPD probes go unanswered and it flushes the tunnel; no other unit ever lists it. {r.Client} comes back, finds its own "
                  + "DPD unanswered and dials a new tunnel (new SPIs) on the same owner.",
        RatePps = 0, FastTimers = false, Timers = r.Timers, Cast = r.Cast, HasTimeline = false,
        ConfigChanges = [$"{r.Owner}: `config vpn ipsec phase1-interface` / `set dpd-retryinterval {r.RetryIntervalSeconds}` (drill timer; dpd-retrycount {r.RetryCount} as configured)",
            $"DC router: `hash-seed: {r.Seed}` (the smallest seed placing {r.Client} on {r.Owner})"],
        ExpectedDialedVia = r.Owner, DialedVia = r.Owner, DialNextHop = r.DialNextHop,
        DialedDecSpi = r.SpiBefore.ToString("x8", CultureInfo.InvariantCulture), DialedEncSpi = r.EncSpiBefore.ToString("x8", CultureInfo.InvariantCulture),
        AntiReplayDrops = r.AntiReplayDrops, IcvFailures = r.IcvFailures, OwnChecks = Checks(r), Log = r.Lines,
    };

    /// <summary>`clusteractors drill fgsp-standalone fgsp-dpd-flush`: embedded only, one run, its own timers (no --rate, --runs, --fast-timers);
    /// the report folder as the scripted drills' (<see cref="DrillCommand.RunOwn"/>).</summary>
    public static async Task<int> RunCommand(DrillCommand.Request request, LabTopology topology, TextWriter stdout, CancellationToken ct, TimeProvider? clock = null)
    {
        if (request.Mode != "embedded") throw new Hosting.UsageException($"{Name} runs embedded only for now");
        if (request.Runs != 1 || request.FastTimers || request.Hb10Ms || request.Client != DrillCommand.FortiGateClient)
            throw new Hosting.UsageException($"{Name} takes no --runs, --fast-timers, --hb-10ms or --client: it sets its own DPD timer");
        if (DrillCatalog.Own(Name).NotApplicable(DrillCast.Resolve(topology)) is { } why)
            throw new Hosting.UsageException($"{Name} is not applicable to {topology.Name}: {why}");
        return await DrillCommand.RunOwn(request, topology.Name, Name, 0, null, stdout,
            async () => (await RunEmbedded(topology, stdout, ct)).Report, clock);
    }

    /// <summary>Runs the drill embedded on <paramref name="topology"/> (the shipped fgsp-standalone by default).</summary>
    public static async Task<Result> RunEmbedded(LabTopology topology, TextWriter progress, CancellationToken ct)
    {
        var placed = OnNoSyncMember(topology) ?? throw new ArgumentException($"{topology.Name}: no member has fgsp-sync disabled");
        var owner = placed.Owner;
        var phase1 = placed.Topology.Unit(owner).Config.Phase1.First(p => p.Type == Phase1Type.Dynamic);
        await using var lab = new EmbeddedDrillLab(new Dictionary<string, string> { [owner] = FastDpd(phase1.Name) }, placed.Topology);
        var lines = new List<string>();
        var startedAt = DateTimeOffset.UtcNow;
        var wall = Stopwatch.StartNew();
        async Task Say(string line) { lines.Add(line); await progress.WriteLineAsync(line); }
        var cast = DrillCast.Resolve(placed.Topology);
        var retryCount = phase1.DpdRetryCount;
        var bound = BoundMs(FastRetryIntervalSeconds, retryCount);
        await Say($"{Name}: owner {owner} (fgsp-sync disabled; DC router hash seed {placed.Seed} places {placed.Topology.Clients[0].Name} on it), "
                  + $"dpd on-idle, dpd-retryinterval {FastRetryIntervalSeconds} s (drill timer; shipped {phase1.DpdRetryInterval} s), dpd-retrycount {retryCount}");
        await Say("  lab: " + await lab.Up(cast.Primaries, ct));
        var dial = await lab.Dial(ct);
        await Say($"  dialed: client SPIs in {dial.ClientInboundSpi:x8} out {dial.ClientOutboundSpi:x8} via {dial.NextHop}");

        // Every unit's `diagnose vpn tunnel list`, the invariants checked on each look.
        var polls = 0;
        List<string> twoOwners = new(), otherHolders = new();
        var sw = new Stopwatch();
        var ownerReadAt = TimeSpan.Zero;
        TimeSpan? lateAtLoss = null;
        var lateAtOwnerRead = 0.0;
        async Task<Dictionary<string, IReadOnlyList<TunnelView>>> Lists()
        {
            // The owner first, its answer timed: the flush happened before that answer, whatever the other units take.
            var all = new Dictionary<string, IReadOnlyList<TunnelView>> { [owner] = await lab.Tunnels(owner) ?? [] };
            ownerReadAt = sw.Elapsed;
            lateAtOwnerRead = lateAtLoss is { } l0 && lab.UnitTimersLate(owner) is { } l1 ? (l1 - l0).TotalMilliseconds : 0;
            foreach (var u in lab.Units.Where(u => u != owner)) all[u] = await lab.Tunnels(u) ?? [];
            polls++;
            var owners = all.Where(kv => kv.Value.Any(t => t.Role != TunnelRole.Standby)).Select(kv => kv.Key).ToList();
            if (owners.Count > 1) twoOwners.Add($"poll {polls}: {string.Join("+", owners)}");
            foreach (var (u, list) in all.Where(kv => kv.Key != owner && kv.Value.Count > 0))
                otherHolders.Add($"poll {polls}: {u} lists {string.Join(", ", list.Select(t => t.Name))}");
            return all;
        }

        var before = await Lists();
        if (before[owner].FirstOrDefault(t => t.Role != TunnelRole.Standby) is not { } tunnel)
            throw new DrillStepException($"{owner} does not own the client's tunnel after the dial");
        await Say($"  {owner}: {tunnel.Name} {TunnelRoles.Word(tunnel.Role)} dec {tunnel.DecSpi:x8} enc {tunnel.EncSpi:x8}; no other unit lists it");

        // The client is lost: its WAN cable pulled. Nothing of it reaches the DC any more.
        var client = placed.Topology.Clients[0];
        lateAtLoss = lab.UnitTimersLate(owner);
        sw.Start();
        lab.Loopback.SetCable(client.Name, client.WanInterface, false);
        double? flushedAt = null;
        var lateMs = 0.0;
        var limit = TimeSpan.FromMilliseconds(bound * 2 + 2000);
        while (sw.Elapsed < limit)
        {
            var now = await Lists();
            lateMs = lateAtOwnerRead;
            if (now[owner].All(t => t.Name != tunnel.Name)) { flushedAt = ownerReadAt.TotalMilliseconds; break; }
            await Task.Delay(50, ct);
        }
        var listedAfter = new List<string>();
        if (flushedAt is null)
            await Say($"  {owner} still lists {tunnel.Name} {limit.TotalSeconds:0.0} s after {client.Name} was lost (no DPD flush)");
        else
        {
            await Say(string.Create(CultureInfo.InvariantCulture,
                $"  {client.Name} lost ({client.WanInterface} pulled) -> {owner} flushed {tunnel.Name} after {flushedAt:0} ms "
                + $"(bound (dpd-retrycount {retryCount} + 1) x (dpd-retryinterval {FastRetryIntervalSeconds} s + {DpdCheckMs:0} ms check) + {DrillBounds.SlackMs:0} ms = {bound:0} ms)"));
            await Say(string.Create(CultureInfo.InvariantCulture,
                $"  {owner}'s timers ran {lateMs:0} ms late in all since the loss (a loaded machine's, measured on its own scheduler): its DPD bound is {bound + lateMs:0} ms"));
            var after = await Lists();
            listedAfter.AddRange(after.Where(kv => kv.Value.Any(t => t.Name == tunnel.Name)).Select(kv => kv.Key));
        }

        // The client comes back: its own DPD finds the gateway no longer knows the IKE SA, it takes the tunnel down and dials again.
        lab.Loopback.SetCable(client.Name, client.WanInterface, true);
        var gateway = lab.Loopback.Client1!;
        var alive = await gateway.DpdAsync();
        await Say($"  {client.Name} back: its DPD {(alive ? "answered (the gateway still knew the SA)" : "unanswered, tunnel down")}; dialing again");
        var again = await lab.Dial(ct);
        var redialed = await Lists();
        var newTunnel = redialed[owner].FirstOrDefault(t => t.Role != TunnelRole.Standby);
        if (newTunnel is not null)
            await Say($"  redialed: {owner} {newTunnel.Name} {TunnelRoles.Word(newTunnel.Role)} dec {newTunnel.DecSpi:x8} enc {newTunnel.EncSpi:x8}");
        var clientView = lab.Client();
        var result = new Result
        {
            Scenario = topology.Name, Owner = owner, Tunnel = tunnel.Name, Client = client.Name, Seed = placed.Seed,
            SpiBefore = tunnel.DecSpi, EncSpiBefore = tunnel.EncSpi, SpiAfter = newTunnel?.DecSpi ?? 0,
            ClientSpiChanged = again.ClientInboundSpi != dial.ClientInboundSpi, LossToFlushMs = flushedAt ?? double.NaN, BoundMs = bound,
            TimersLateMs = lateMs,
            FlushLimitMs = limit.TotalMilliseconds, RetryIntervalSeconds = FastRetryIntervalSeconds, RetryCount = retryCount, Polls = polls,
            TwoOwners = twoOwners, OtherHolders = otherHolders, ListedAfterFlush = listedAfter,
            AntiReplayDrops = clientView.AntiReplayDrops ?? 0, IcvFailures = clientView.IcvFailures, Timers = lab.Timers, Cast = cast.Entries,
            StartedAt = startedAt, DurationS = Math.Round(wall.Elapsed.TotalSeconds, 1), DialNextHop = dial.NextHop, Lines = lines,
        };
        await Say(result.Passed ? $"  PASS ({result.AntiReplayDrops} anti-replay drops, one owner throughout)" : "  FAIL: " + string.Join("; ", result.Violations));
        return result with { Lines = lines.ToList() };
    }
}
