using System.Diagnostics;
using Akka.Actor;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Actors.Unit;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.Scenario;

/// <summary>
/// A topology's units (the seed's four by default) as ActorSystems in this process (<see cref="LoopbackLab"/>): real
/// Akka remoting and real UDP heartbeats on loopback, SQLite under a temporary data folder removed on dispose, the
/// links, routers and servers of the topology file on the in-memory fabric.
/// </summary>
public sealed class EmbeddedScenarioDriver : IScenarioDriver
{
    public const string Scenario = "seed";

    /// <summary>`--fast-timers`: with the VM defaults the shipped configs keep (hb-lost-threshold 20, hello-holddown 20 s)
    /// a lost peer is detected after 4 s and a unit started alone waits 20 s before it works as primary; these make
    /// it 1.2 s and 5 s.</summary>
    public const string FastTimers = "config system ha\n    set hb-lost-threshold 6\n    set hello-holddown 5\nend\n";

    /// <summary>`--hb-10ms`: FortiOS 7.x's 10 ms heartbeats (issue 13 goal 6): hb-interval counts 10 ms units, 1 × 5 = a lost
    /// peer detected after 50 ms; hello-holddown 5 as the drills always set it.</summary>
    public const string Hb10Ms = "config system ha\n    set hb-interval-in-milliseconds 10ms\n    set hb-interval 1\n    set hb-lost-threshold 5\n    set hello-holddown 5\nend\n";

    private readonly LoopbackLab _lab;
    private readonly Dictionary<string, ConfigDocument> _configs;
    private readonly TextWriter _progress;
    private FabricCapture? _capture;

    /// <param name="progress">Where StartAll reports each unit coming up and the clusters forming.</param>
    /// <param name="fastTimers">Apply <see cref="FastTimers"/> to every unit before it starts.</param>
    /// <param name="akkaLogLevel">Akka's own log level; it logs to stdout, so the transcript stays readable only when it is quiet.</param>
    /// <param name="topology">The lab; null: the shipped seed's topology file.</param>
    public EmbeddedScenarioDriver(TextWriter progress, bool fastTimers = false, string akkaLogLevel = "OFF", LabTopology? topology = null)
    {
        _progress = progress;
        Topology = topology ?? Scenarios.Topology(Scenario);
        Units = Topology.UnitNames;
        _configs = Topology.Units.ToDictionary(u => u.Name, u => LoopbackLab.WithChange(u.Config, fastTimers ? FastTimers : null));
        _lab = new LoopbackLab { ExtraHocon = $"akka.loglevel = {akkaLogLevel}\nakka.stdout-loglevel = {akkaLogLevel}" };
        // The heartbeat links of the topology (the seed's: one per FGCP cluster).
        _lab.Define(Topology, Units.ToDictionary(u => u, _ => fastTimers ? FastTimers : ""));
        RouterProbe = RouterProbeAbove(_configs.Values);
        _lab.UsePacketFabric(new ScenarioFabricOptions { Probe = RouterProbe }, Topology);
    }

    /// <summary>The lab this driver runs.</summary>
    public LabTopology Topology { get; }

    /// <summary>
    /// How the DC router probes each cluster's port2 address: every 100 ms, declaring it dead after enough misses to
    /// outlast the slowest FGCP failover (hb-interval × hb-lost-threshold) plus 200 ms. A failover inside a cluster must
    /// stay invisible to the router (the new primary takes the same address and announces it); a router quicker than
    /// FGCP would withdraw a cluster that is only failing over, send its clients to the other FGSP cluster and back.
    /// At least 3 misses, the issue's default, when FGCP is quicker than that.
    /// </summary>
    public static ProbeOptions RouterProbeAbove(IEnumerable<ConfigDocument> units)
    {
        var interval = TimeSpan.FromMilliseconds(100);
        // Standalone units (no FGCP) have no failover to outlast: a lab of standalone FGSP members probes at the floor.
        // hb-interval counts in its own unit (hb-interval-in-milliseconds): LostAfter is interval × threshold.
        var fgcp = units.Where(c => c.Ha.Mode != HaMode.Standalone).Select(c => c.Ha.LostAfter.TotalMilliseconds).DefaultIfEmpty(0).Max();
        return new ProbeOptions(interval, Math.Max(3, (int)Math.Ceiling((fgcp + 200) / interval.TotalMilliseconds)));
    }

    /// <summary>The DC router's probing in this lab (see <see cref="RouterProbeAbove"/>).</summary>
    public ProbeOptions RouterProbe { get; }

    /// <summary>The lab underneath, for specs and drills that look at the fabric and the units directly.</summary>
    public LoopbackLab Lab => _lab;

    public IReadOnlyList<string> Units { get; }

    /// <summary>How long StartAll waits for the clusters: the slowest hello-holddown plus room for the Akka cluster.</summary>
    public TimeSpan FormationTimeout => TimeSpan.FromSeconds(_configs.Values.Max(c => c.Ha.HelloHolddown) + 30);

    public async Task StartAll()
    {
        foreach (var unit in Units)
        {
            await _progress.WriteAsync($"starting {unit} … ");
            await _progress.FlushAsync();
            await _lab.Start(unit);
            await _progress.WriteLineAsync("up");
        }
        // FGCP clusters as the topology derives them; a standalone unit (group-id 0 like every other by default) is its own.
        foreach (var group in Units.GroupBy(u => Topology.ClusterOf(u)?.GroupId.ToString() ?? "standalone:" + u))
        {
            var members = group.ToList();
            await _progress.WriteAsync(Topology.ClusterOf(members[0]) is { } cluster
                ? $"waiting for FGCP cluster {string.Join("+", members)} (group-id {cluster.GroupId}) … "
                : $"waiting for standalone {members[0]} … ");
            await _progress.FlushAsync();
            var sw = Stopwatch.StartNew();
            try
            {
                await LoopbackLab.Eventually(async () => await Formed(members), FormationTimeout - sw.Elapsed, "");
            }
            catch (TimeoutException)
            {
                await _progress.WriteLineAsync("not formed");
                throw new TimeoutException($"FGCP cluster {string.Join("+", members)} did not form within {FormationTimeout.TotalSeconds:0} s");
            }
            var primary = (await _lab.Status(members[0])).Primary?.Hostname ?? "?";
            await _progress.WriteLineAsync($"formed, primary {primary}");
        }
        // SA sync and FGSP travel over the Akka cluster: the lab is ready once every unit is an Up member of one.
        await _progress.WriteAsync($"waiting for the Akka cluster of {Units.Count} units … ");
        await _progress.FlushAsync();
        var akka = Stopwatch.StartNew();
        while (!Units.All(u => _lab.AkkaMembersUp(u) == Units.Count))
        {
            if (akka.Elapsed > FormationTimeout)
                throw new TimeoutException($"the units did not form one Akka cluster within {FormationTimeout.TotalSeconds:0} s");
            await Task.Delay(50);
        }
        await _progress.WriteLineAsync("up");
        await _progress.FlushAsync();
        await WaitForRouterNextHops();
    }

    /// <summary>
    /// The lab is up once the DC router's probes reach every next hop: until an FGCP primary holds its cluster's port2
    /// address, the router's probes to it go unanswered and it takes that next hop out of the ECMP route (as a real
    /// router would). A `dial` right after the start must not depend on how fast this machine brought the units up:
    /// with one next hop still dead the client's flow went to the other cluster (seen under load, embedded topology
    /// spec). The docker lab waits for the same ("router next hops alive").
    /// </summary>
    private async Task WaitForRouterNextHops()
    {
        var router = _lab.Net!.DcRouter;
        NextHopStatus[] EcmpHops() => router.Routes.Where(r => r.Kind == RouteKind.Ecmp).SelectMany(r => r.NextHops).ToArray();
        var hops = EcmpHops();
        if (hops.Length == 0 || !RouterProbe.Enabled) return;
        await _progress.WriteAsync($"waiting for the DC router's next hops {string.Join(", ", hops.Select(h => h.Address))} … ");
        await _progress.FlushAsync();
        var sw = Stopwatch.StartNew();
        static bool Answering(NextHopStatus h) => h.Alive && h.ConsecutiveMissed == 0 && h.ProbesSent > h.ProbesMissed;
        while (!EcmpHops().All(Answering))
        {
            if (sw.Elapsed > FormationTimeout)
                throw new TimeoutException($"the DC router's next hops did not all answer its probes within {FormationTimeout.TotalSeconds:0} s:\n{router.Describe()}");
            await Task.Delay(20);
        }
        await _progress.WriteLineAsync("alive");
        await _progress.FlushAsync();
    }

    private async Task<bool> Formed(IReadOnlyList<string> members)
    {
        try
        {
            foreach (var unit in members)
            {
                var s = await _lab.Status(unit);
                if (s.State != HaState.Work || s.Members.Count != members.Count) return false;
            }
            return true;
        }
        catch (AskTimeoutException)
        {
            return false; // a unit still busy starting
        }
    }

    public async Task<CliResult> Cli(string unit, string command) => await Running(unit).CliAsync(command);

    /// <summary>
    /// CLIENT1 dials the shared local gateway (lb1) over the lab's links: the DC router's flow hash picks an FGSP cluster
    /// and that cluster's FGCP primary answers, as it holds the cluster's addresses.
    /// </summary>
    public async Task<string> Dial()
    {
        var client = await _lab.DialOverFabric();
        var est = client.Established!;
        var route = _lab.Net!.DcRouter.Resolve(client.Settings.WanAddress.Address, client.Settings.RemoteGateway);
        var via = route is null ? "" : $" via {route.NextHop} ({string.Join("+", UnitsOn(route.NextHop))})";
        return $"IKEv2 SA established with {client.Settings.RemoteGateway}{via}: " +
               $"ike spi {est.Sa.SpiI:x16}/{est.Sa.SpiR:x16}, child spi in {est.Child.InboundSpi:x8} out {est.Child.OutboundSpi:x8}";
    }

    private IEnumerable<string> UnitsOn(System.Net.IPAddress address) =>
        Topology.Wires.Where(w => w.Address.Address.Equals(address) && Units.Contains(w.Host)).Select(w => w.Host);

    private EchoRun? _traffic;
    private Dictionary<string, ForwardingStatus> _trafficBaseline = new();

    public async Task<string> TrafficStart(int packetsPerSecond, int payloadSize)
    {
        var pc1 = _lab.Pc1 ?? throw new InvalidOperationException("PC1 has no tunnel yet: dial first");
        if (_traffic is { IsSending: true }) throw new InvalidOperationException("traffic is already running: traffic stop first");
        _trafficBaseline = await Forwarding();
        // Bounded like every load loop of the lab: it stops by itself after TrafficLimit.
        var server = Topology.Servers.FirstOrDefault() ?? throw new InvalidOperationException($"topology {Topology.Name} has no server to ping");
        _traffic = pc1.Start(new EchoRunOptions { Target = server.Address.Address, RatePps = packetsPerSecond, PayloadBytes = payloadSize, Duration = TrafficLimit });
        var pcName = Topology.Clients.FirstOrDefault()?.Pcs.FirstOrDefault()?.Name ?? "PC1";
        return $"{pcName} {pc1.Settings.Address.Address} -> {server.Name} {server.Address.Address}: echo requests at {packetsPerSecond} pps, " +
               $"{payloadSize} bytes of data (stops by itself after {ScenarioScript.FormatDuration(TrafficLimit)})";
    }

    /// <summary>The longest a `traffic start` runs without a `traffic stop`.</summary>
    public static readonly TimeSpan TrafficLimit = TimeSpan.FromMinutes(10);

    public async Task<string> TrafficStop()
    {
        var run = _traffic ?? throw new InvalidOperationException("no traffic was started");
        run.Stop();
        var report = await run.Completion;
        return "traffic stopped\n" + await Report(report);
    }

    public async Task<string> TrafficReport()
    {
        var run = _traffic ?? throw new InvalidOperationException("no traffic was started");
        return await Report(run.Snapshot());
    }

    private async Task<string> Report(EchoReport report)
    {
        var now = await Forwarding();
        var lines = new List<string> { report.Format() };
        foreach (var unit in Units)
        {
            if (!now.TryGetValue(unit, out var s)) continue;
            var before = _trafficBaseline.GetValueOrDefault(unit);
            var (inbound, outbound) = (s.TunnelIn - (before?.TunnelIn ?? 0), s.TunnelOut - (before?.TunnelOut ?? 0));
            if (inbound + outbound > 0) lines.Add($"  {unit} forwarded {inbound} from the tunnel, {outbound} into it");
        }
        if (lines.Count == 1) lines.Add("  no unit forwarded any of it");
        var client = _lab.Client1?.Counters;
        if (client is not null) lines.Add($"  {Topology.Clients.FirstOrDefault()?.Name ?? "CLIENT1"} anti-replay drops {client.AntiReplayDrops}, ICV failures {client.IcvFailures}");
        return string.Join("\n", lines) + "\n";
    }

    public Task<string> Router() => Task.FromResult(_lab.Net!.DcRouter.Describe());

    private async Task<Dictionary<string, ForwardingStatus>> Forwarding()
    {
        var result = new Dictionary<string, ForwardingStatus>();
        foreach (var (unit, host) in _lab.Units.ToList())
        {
            try
            {
                result[unit] = await host.Unit.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(2));
            }
            catch (AskTimeoutException) { /* a unit busy starting says nothing */ }
        }
        return result;
    }

    public async Task Kill(string unit)
    {
        Running(unit);
        await _lab.Kill(unit);
    }

    public async Task Start(string unit)
    {
        if (!Units.Contains(unit)) throw new ArgumentException($"no unit {unit} in topology {Topology.Name}");
        if (_lab.Units.ContainsKey(unit)) throw new InvalidOperationException($"{unit} is already running");
        await _lab.Start(unit);
    }

    public async Task Link(string unit, string port, bool up)
    {
        var host = Running(unit);
        var ports = _configs[unit].Interfaces.Select(i => i.Name).ToList();
        if (!ports.Contains(port))
        {
            var suggestion = ScenarioScript.Suggest(port, ports);
            throw new ArgumentException($"{unit} has no port {port}" + (suggestion is null ? $" (ports: {string.Join(", ", ports)})" : $"; did you mean '{suggestion}'?"));
        }
        if (Topology.Wires.Any(w => w.Host == unit && w.Interface == port)) _lab.SetCable(unit, port, up);
        else await host.Unit.Ask<Akka.Done>(new SetLinkState(port, up), TimeSpan.FromSeconds(5)); // port4: the heartbeat's own link
    }

    /// <summary>The seed impairments draw from (`scenario run --seed`): the same seed, the same losses, in every run.</summary>
    public long Seed { get; init; } = 1;

    public Task<string> Impair(string unit, string port, ImpairmentSpec? spec)
    {
        if (!Units.Contains(unit)) throw new ArgumentException($"no unit {unit} in topology {Topology.Name}");
        return Task.FromResult(LabImpairment.Apply(_lab, Topology, unit, port, spec, Seed));
    }

    private UnitHost Running(string unit) =>
        _lab.Units.TryGetValue(unit, out var host)
            ? host
            : throw new InvalidOperationException(Units.Contains(unit) ? $"{unit} is not running" : $"no unit {unit} in topology {Topology.Name}");

    public Task<string> PcapStart()
    {
        var fabric = _lab.Net?.Fabric ?? throw new InvalidOperationException("the lab has no packet fabric");
        _capture?.Dispose();
        _capture = new FabricCapture(fabric);
        return Task.FromResult($"capturing every segment (at most {_capture.MaxPacketsPerSegment} packets or {_capture.MaxBytesPerSegment / (1024 * 1024)} MiB each)");
    }

    public Task<string> PcapSave(string directory)
    {
        if (_capture is null) return Task.FromResult("no capture: 'pcap start' first");
        var files = ClusterActors.Node.Drills.SegmentPcaps.Write(_capture, directory, prefix: null);
        var sas = ClusterActors.Node.Drills.SegmentPcaps.ClientSas(_lab.Client1);
        return Task.FromResult(ClusterActors.Node.Drills.SegmentPcaps.Describe(files, ClusterActors.Node.Drills.SegmentPcaps.ClientSegment(_lab.Net!.Fabric, _lab.Client1), sas).TrimEnd('\n'));
    }

    public async ValueTask DisposeAsync()
    {
        _traffic?.Stop();
        _capture?.Dispose();
        await _lab.DisposeAsync();
    }
}
