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

    /// <summary>What the run measured and the invariants it checked; <see cref="Violations"/> empty means it passed.</summary>
    public sealed record Result(string Owner, ulong Seed, uint SpiBefore, uint SpiAfter, double LossToFlushMs, double BoundMs,
        int RetryIntervalSeconds, int RetryCount, long AntiReplayDrops, IReadOnlyList<string> Violations, IReadOnlyList<string> Lines)
    {
        public bool Passed => Violations.Count == 0;
    }

    /// <summary>`clusteractors drill fgsp-standalone fgsp-dpd-flush`: embedded only, one run, its own timers (no --rate, --runs, --fast-timers).</summary>
    public static async Task<int> RunCommand(DrillCommand.Request request, LabTopology topology, TextWriter stdout, CancellationToken ct)
    {
        if (request.Mode != "embedded") throw new Hosting.UsageException($"{Name} runs embedded only for now");
        if (request.Runs != 1 || request.FastTimers || request.Hb10Ms || request.Client != DrillCommand.FortiGateClient)
            throw new Hosting.UsageException($"{Name} takes no --runs, --fast-timers, --hb-10ms or --client: it sets its own DPD timer");
        if (DrillCast.Resolve(topology).NoSyncMember is null)
            throw new Hosting.UsageException($"{Name} is not applicable to {topology.Name}: no FGSP member has `set fgsp-sync disable` on the dialup phase1");
        var result = await RunEmbedded(topology, stdout, ct);
        return result.Passed ? 0 : 1;
    }

    /// <summary>Runs the drill embedded on <paramref name="topology"/> (the shipped fgsp-standalone by default).</summary>
    public static async Task<Result> RunEmbedded(LabTopology topology, TextWriter progress, CancellationToken ct)
    {
        var placed = OnNoSyncMember(topology) ?? throw new ArgumentException($"{topology.Name}: no member has fgsp-sync disabled");
        var owner = placed.Owner;
        var phase1 = placed.Topology.Unit(owner).Config.Phase1.First(p => p.Type == Phase1Type.Dynamic);
        await using var lab = new EmbeddedDrillLab(new Dictionary<string, string> { [owner] = FastDpd(phase1.Name) }, placed.Topology);
        var lines = new List<string>();
        var violations = new List<string>();
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
        async Task<Dictionary<string, IReadOnlyList<TunnelView>>> Lists()
        {
            var all = new Dictionary<string, IReadOnlyList<TunnelView>>();
            foreach (var u in lab.Units) all[u] = await lab.Tunnels(u) ?? [];
            var owners = all.Where(kv => kv.Value.Any(t => t.Role != TunnelRole.Standby)).Select(kv => kv.Key).ToList();
            if (owners.Count > 1) violations.Add($"more than one owner: {string.Join(", ", owners)}");
            foreach (var (u, list) in all.Where(kv => kv.Key != owner && kv.Value.Count > 0))
                violations.Add($"{u} holds {string.Join(", ", list.Select(t => t.Name))} (only {owner} may: fgsp-sync disabled)");
            return all;
        }

        var before = await Lists();
        if (before[owner].FirstOrDefault(t => t.Role != TunnelRole.Standby) is not { } tunnel)
            throw new DrillStepException($"{owner} does not own the client's tunnel after the dial");
        await Say($"  {owner}: {tunnel.Name} {TunnelRoles.Word(tunnel.Role)} dec {tunnel.DecSpi:x8} enc {tunnel.EncSpi:x8}; no other unit lists it");

        // The client is lost: its WAN cable pulled. Nothing of it reaches the DC any more.
        var client = placed.Topology.Clients[0];
        var sw = Stopwatch.StartNew();
        lab.Loopback.SetCable(client.Name, client.WanInterface, false);
        double? flushedAt = null;
        var limit = TimeSpan.FromMilliseconds(bound * 2 + 2000);
        while (sw.Elapsed < limit)
        {
            var now = await Lists();
            if (now[owner].All(t => t.Name != tunnel.Name)) { flushedAt = sw.Elapsed.TotalMilliseconds; break; }
            await Task.Delay(50, ct);
        }
        if (flushedAt is null)
            violations.Add($"{owner} still lists {tunnel.Name} {limit.TotalSeconds:0.0} s after {client.Name} was lost (no DPD flush)");
        else
        {
            await Say(string.Create(CultureInfo.InvariantCulture,
                $"  {client.Name} lost ({client.WanInterface} pulled) -> {owner} flushed {tunnel.Name} after {flushedAt:0} ms "
                + $"(bound (dpd-retrycount {retryCount} + 1) x (dpd-retryinterval {FastRetryIntervalSeconds} s + {DpdCheckMs:0} ms check) + {DrillBounds.SlackMs:0} ms = {bound:0} ms)"));
            if (flushedAt > bound) violations.Add($"flush after {flushedAt:0} ms, above the DPD bound {bound:0} ms");
            var after = await Lists();
            foreach (var (u, list) in after.Where(kv => kv.Value.Any(t => t.Name == tunnel.Name)))
                violations.Add($"{u} still lists {tunnel.Name} after the flush");
        }

        // The client comes back: its own DPD finds the gateway no longer knows the IKE SA, it takes the tunnel down and dials again.
        lab.Loopback.SetCable(client.Name, client.WanInterface, true);
        var gateway = lab.Loopback.Client1!;
        var alive = await gateway.DpdAsync();
        await Say($"  {client.Name} back: its DPD {(alive ? "answered (the gateway still knew the SA)" : "unanswered, tunnel down")}; dialing again");
        var again = await lab.Dial(ct);
        var redialed = await Lists();
        var newTunnel = redialed[owner].FirstOrDefault(t => t.Role != TunnelRole.Standby);
        if (newTunnel is null) violations.Add($"{owner} does not own the redialed tunnel");
        else if (newTunnel.DecSpi == tunnel.DecSpi || again.ClientInboundSpi == dial.ClientInboundSpi)
            violations.Add($"the redial kept the SPIs {tunnel.DecSpi:x8} (no new tunnel)");
        else
            await Say($"  redialed: {owner} {newTunnel.Name} {TunnelRoles.Word(newTunnel.Role)} dec {newTunnel.DecSpi:x8} enc {newTunnel.EncSpi:x8} (new SPIs)");
        var drops = lab.Client().AntiReplayDrops ?? 0;
        if (drops != 0) violations.Add($"{drops} anti-replay drops at {client.Name}");
        await Say(violations.Count == 0 ? $"  PASS ({drops} anti-replay drops, one owner throughout)" : "  FAIL: " + string.Join("; ", violations.Distinct()));
        return new Result(owner, placed.Seed, tunnel.DecSpi, newTunnel?.DecSpi ?? 0, flushedAt ?? double.NaN, bound, FastRetryIntervalSeconds, retryCount,
            drops, violations.Distinct().ToList(), lines);
    }
}
