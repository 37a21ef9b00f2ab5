using ClusterActors.Actors.Telemetry;
using System.Diagnostics;
using Akka.Actor;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Unit;
using ClusterActors.Actors.UnitConfig;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Scenario;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.Drills;

/// <summary>
/// A topology's units (the seed's four by default) as ActorSystems in this process (<see cref="LoopbackLab"/>: real Akka remoting, real
/// UDP heartbeats on loopback, SQLite under a temporary folder removed on dispose) on the in-memory packet fabric,
/// with CLIENT1 and PC1 on it and the DC router probing both clusters.
/// </summary>
public sealed class EmbeddedDrillLab : IDrillLab
{
    /// <summary>Akka's log level for the lab's units (OFF unless set): DEBUG, INFO, WARNING or ERROR.</summary>
    public const string LabLogLevelVariable = "CLUSTERACTORS_LAB_LOGLEVEL";

    /// <summary>Short: an ask in flight to a unit that is being killed never gets an answer, and a poll must not stall on it.</summary>
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(1);

    private readonly LoopbackLab _lab;
    private readonly LabTopology _topology;
    /// <summary>Which unit sent each ESP packet: names the sender of a frame CLIENT1 drops as a replay.</summary>
    private readonly EspSenderTrace _espSenders;
    private readonly Dictionary<string, ConfigDocument> _configs;
    // The running units as this lab sees them: the timeline's sampler reads it while a fault starts or kills a unit,
    // so it is kept here under a lock rather than read from LoopbackLab's own dictionary.
    private readonly Dictionary<string, UnitHost> _hosts = new();
    // Frozen units (SIGSTOP): still running, but nothing of theirs is asked until they resume.
    private readonly HashSet<string> _frozen = new();
    // Per running unit, how late its timers run (UnitTimerLag): from its start to its kill, one meter an incarnation.
    private readonly Dictionary<string, UnitTimerLag> _timerLag = new();
    private readonly object _gate = new();
    private EchoRun? _traffic;
    /// <summary>Every segment's packets, bounded (<see cref="FabricCapture"/>), saved next to the report.</summary>
    private readonly FabricCapture _capture;
    /// <summary>The CHILD SAs CLIENT1 held (the dial's, and a rekeyed one seen when saving), by SPI.</summary>
    private readonly Dictionary<uint, EspSaOnWire> _clientSas = new();
    /// <summary>The other clients (<see cref="DialOthers"/>), their PCs and their echo runs; disposed with the lab.</summary>
    private readonly List<(TopologyClient Cast, DialupClientGateway Client, Pc1TrafficGenerator Pc, EchoRun Run)> _others = new();
    /// <summary>CLIENT1's WAN address once other clients are dialed: <see cref="Tunnels"/> lists its tunnels only.</summary>
    private volatile string? _firstClient;

    /// <summary>Each other client's PC pings the Server this often: light, but a tunnel the router moves to another FGSP
    /// member is taken over there within a tenth of a second of its first packet (takeover is by traffic).</summary>
    public const double OtherClientsPps = 10;

    /// <param name="changes">Per unit, the CLI lines applied to its shipped config before it starts.</param>
    /// <param name="topology">The lab; null: the shipped seed's topology file.</param>
    public EmbeddedDrillLab(IReadOnlyDictionary<string, string> changes, LabTopology? topology = null)
    {
        _topology = topology ?? Scenarios.Topology(EmbeddedScenarioDriver.Scenario);
        Units = _topology.UnitNames;
        _configs = _topology.Units.ToDictionary(u => u.Name, u => LoopbackLab.WithChange(u.Config, changes.GetValueOrDefault(u.Name)));
        // Killing units makes remoting log every refused reconnect; what the drill prints is its progress.
        // AkkaCuts: remoting through the throttler, so a drill can cut the Akka path alone (CutAkkaAsync).
        // The units' own logs stay off (they would bury the drill's lines); CLUSTERACTORS_LAB_LOGLEVEL=INFO prints them, to
        // read why a replayed chaos run failed (Drills README, "Replaying a run with the units' logs").
        var level = Environment.GetEnvironmentVariable(LabLogLevelVariable) is { Length: > 0 } l ? l : "OFF";
        _lab = new LoopbackLab { ExtraHocon = $"akka.loglevel = {level}\nakka.stdout-loglevel = {level}", AkkaCuts = true };
        _lab.Define(_topology, changes);
        var probe = EmbeddedScenarioDriver.RouterProbeAbove(_configs.Values);
        _lab.UsePacketFabric(new ScenarioFabricOptions { Probe = probe }, _topology);
        _espSenders = new EspSenderTrace(Units.ToList());
        _lab.Net!.Fabric.Delivered += _espSenders.Observe;
        _capture = new FabricCapture(_lab.Net.Fabric);
        Timers = DrillTimers.From(_configs[Units[0]], probe);
    }

    public string Mode => "embedded";

    /// <summary>The lab underneath, for benchmarks that read the units directly (hb-soak: FGCP status).</summary>
    public LoopbackLab Loopback => _lab;

    public IReadOnlyList<string> Units { get; }

    public DrillTimers Timers { get; }

    public async Task<string> Up(IReadOnlyList<string> primaries, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        foreach (var unit in Units) await Start(unit);
        var within = TimeSpan.FromSeconds(_configs.Values.Max(c => c.Ha.HelloHolddown) + 30);
        // FGCP clusters as the topology derives them; a standalone unit is a group of its own (every standalone unit has
        // group-id 0 by default, so grouping by it would wait for them to form one cluster).
        var groups = Units.GroupBy(u => _topology.ClusterOf(u)?.GroupName ?? "standalone:" + u).Select(g => g.ToList()).ToList();
        try
        {
            await LoopbackLab.Eventually(async () =>
            {
                ct.ThrowIfCancellationRequested();
                foreach (var group in groups)
                foreach (var unit in group)
                {
                    var ha = await Ha(unit);
                    if (ha is not { Working: true } || ha.Members != group.Count) return false;
                    if (ha.Primary != primaries.Contains(unit)) return false;
                }
                return true;
            }, within, "");
            // SA sync and FGSP travel over the Akka cluster: the lab is ready once every unit is an Up member of one.
            await LoopbackLab.Eventually(() => Task.FromResult(Units.All(u => _lab.AkkaMembersUp(u) == Units.Count)), within - sw.Elapsed, "");
        }
        catch (TimeoutException)
        {
            var seen = new List<string>();
            foreach (var unit in Units)
                seen.Add((await Ha(unit)) is { } h ? $"{unit} {(h.Working ? h.Primary ? "Primary" : "Secondary" : "hello")} of {h.Members}" : $"{unit} silent");
            throw new TimeoutException($"the lab did not form within {within.TotalSeconds:0} s with {string.Join(" and ", primaries)} primary "
                                       + $"({string.Join(", ", seen)})");
        }
        var clusters = groups.Select(g => $"{string.Join("+", g)} (primary {g.First(primaries.Contains)})");
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{Units.Count} units, FGCP clusters {string.Join(" and ", clusters)}, one Akka cluster, in {sw.Elapsed.TotalSeconds:0.0} s");
    }

    public async Task<DialInfo> Dial(CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        var client = await _lab.DialOverFabric(cancel: timeout.Token);
        var est = client.Established ?? throw new InvalidOperationException($"CLIENT1 did not dial: {client.LastError}");
        RememberSas(client);
        var route = _lab.Net!.DcRouter.Resolve(client.Settings.WanAddress.Address, client.Settings.RemoteGateway);
        var via = route?.NextHop.ToString();
        return new DialInfo(est.Child.InboundSpi, est.Child.OutboundSpi, via, via is null ? [] : UnitsBehind(via));
    }

    private void RememberSas(DialupClientGateway client)
    {
        lock (_gate)
            foreach (var sa in SegmentPcaps.ClientSas(client))
                _clientSas[sa.Keys.Spi] = sa;
    }

    public DrillPackets? SavePackets(string directory, string stem)
    {
        if (_lab.Client1 is { } client) RememberSas(client);
        var files = SegmentPcaps.Write(_capture, directory, stem);
        var wan = SegmentPcaps.ClientSegment(_lab.Net!.Fabric, _lab.Client1);
        lock (_gate) return new DrillPackets(files, wan, _clientSas.Values.ToList());
    }

    public void TrafficStart(double packetsPerSecond)
    {
        var pc1 = _lab.Pc1 ?? throw new InvalidOperationException("PC1 has no tunnel yet: dial first");
        // Bounded like every load loop of the lab; a short grace so that the next phase's run follows closely.
        _traffic = pc1.Start(new EchoRunOptions { RatePps = packetsPerSecond, Duration = TimeSpan.FromMinutes(10), Grace = TimeSpan.FromMilliseconds(500) });
    }

    public TrafficProgress TrafficProgress() => _traffic is { } run ? new(run.Sent, run.Answered) : new(0, 0);

    public async Task<EchoReport> TrafficStop()
    {
        var run = _traffic ?? throw new InvalidOperationException("no traffic was started");
        run.Stop();
        return await run.Completion.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async Task<IReadOnlyDictionary<string, long>> TunnelForwarded()
    {
        var hosts = Running();
        var asks = hosts.Select(async h =>
        {
            try
            {
                return (h.Key, (long?)(await h.Value.Unit.Ask<ForwardingStatus>(GetForwardingStatus.Instance, AskTimeout)).TunnelIn);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                return (h.Key, null); // a unit busy starting or being killed says nothing
            }
        });
        var results = await Task.WhenAll(asks);
        return results.Where(r => r.Item2 is not null).ToDictionary(r => r.Key, r => r.Item2!.Value);
    }

    public async Task Kill(string unit)
    {
        Host(unit);
        bool frozen;
        lock (_gate)
        {
            _hosts.Remove(unit);
            frozen = _frozen.Remove(unit);
            if (_timerLag.Remove(unit, out var lag)) lag.Dispose();
        }
        // SIGKILL ends a stopped process too; the ActorSystem must run to terminate.
        if (frozen) ((ExtendedActorSystem)_lab.Units[unit].System).Provider.RootGuardian.Resume();
        await _lab.Kill(unit);
    }

    /// <summary>
    /// SIGSTOP in one process: every actor of the unit's ActorSystem is suspended from its root guardian down (remoting
    /// and the Akka cluster's daemons included), so nothing of it runs: no heartbeat leaves (FGCP sends from its actor),
    /// no packet is forwarded, no Akka heartbeat or gossip answers, no timer is acted on. What arrives meanwhile (FGCP
    /// heartbeats from its UDP socket, packets from the fabric, Akka messages from its peers, its own timer ticks) waits
    /// in its mailboxes, as it would in a stopped process's socket buffers, and is handled in arrival order on SIGCONT
    /// (Resume). Unlike a kernel buffer the mailboxes do not drop when full: a long freeze at a high rate replays
    /// everything. Cables keep their carrier, as a stopped process's NICs do.
    /// </summary>
    public Task Freeze(string unit, bool frozen)
    {
        var root = ((ExtendedActorSystem)Host(unit).System).Provider.RootGuardian;
        if (frozen)
        {
            lock (_gate)
                if (!_frozen.Add(unit)) throw new InvalidOperationException($"{unit} is already frozen");
            root.Suspend();
        }
        else
        {
            lock (_gate)
                if (!_frozen.Contains(unit)) throw new InvalidOperationException($"{unit} is not frozen");
            root.Resume();
            lock (_gate) _frozen.Remove(unit);
        }
        return Task.CompletedTask;
    }

    public async Task<string?> ConfigChecksum(string unit)
    {
        var host = Answering(unit);
        if (host is null) return null;
        try
        {
            var config = await host.System.ActorSelection(host.Unit.Path / "config").Ask<ConfigDocument>(GetUnitConfig.Instance, AskTimeout);
            return FgcpConfigSync.Checksum(config);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or ActorNotFoundException)
        {
            return null;
        }
    }

    public async Task Start(string unit)
    {
        if (!Units.Contains(unit)) throw new ArgumentException($"no unit {unit} in the scenario");
        lock (_gate)
            if (_hosts.ContainsKey(unit)) throw new InvalidOperationException($"{unit} is already running");
        var host = await _lab.Start(unit);
        lock (_gate)
        {
            _hosts[unit] = host;
            _timerLag[unit] = UnitTimerLag.Watch(host.System);
        }
    }

    public Task Link(string unit, string port, bool up)
    {
        Host(unit);
        if (!_topology.Wires.Any(w => w.Host == unit && w.Interface == port))
            throw new ArgumentException($"{unit} has no {port} on the packet fabric");
        _lab.SetCable(unit, port, up);
        return Task.CompletedTask;
    }

    public async Task SetInterfaceStatus(string unit, string port, bool up)
    {
        var result = await Cli(unit, $"config system interface\n    edit {port}\n        set status {(up ? "up" : "down")}\n    next\nend");
        if (result.ExitCode != 0) throw new InvalidOperationException($"{unit} refused `set status` on {port}: {result.Output.Trim()}");
    }

    public async Task SetHeartbeat(string unit, bool up)
    {
        var hbdev = _configs[unit].Ha.HbDevs.FirstOrDefault()?.Interface ?? "port4";
        await Host(unit).Unit.Ask<Akka.Done>(new SetLinkState(hbdev, up), TimeSpan.FromSeconds(5));
    }

    public Task CutAkkaAsync(string unitA, string unitB) => _lab.CutAkka(unitA, unitB);

    public Task HealAkkaAsync(string unitA, string unitB) => _lab.HealAkka(unitA, unitB);

    private readonly Dictionary<string, SqliteDatabaseLock> _dbLocks = new();

    /// <summary>The unit's SQLite file (under the lab's temporary folder) locked from this process: see <see cref="SqliteDatabaseLock"/>.</summary>
    public Task StopDatabaseAsync(string unit)
    {
        Host(unit);
        lock (_gate)
            if (_dbLocks.ContainsKey(unit)) throw new InvalidOperationException($"{unit}'s database is already stopped");
        var dbLock = SqliteDatabaseLock.Take(_lab.SqliteFile(unit), TimeSpan.FromSeconds(5));
        lock (_gate) _dbLocks[unit] = dbLock;
        return Task.CompletedTask;
    }

    public Task StartDatabaseAsync(string unit)
    {
        SqliteDatabaseLock? dbLock;
        lock (_gate)
            if (!_dbLocks.Remove(unit, out dbLock)) throw new InvalidOperationException($"{unit}'s database is not stopped");
        dbLock.Dispose();
        return Task.CompletedTask;
    }

    public async Task<CliResult> Cli(string unit, string command) => await Host(unit).CliAsync(command);

    public async Task<HaView?> Ha(string unit)
    {
        var host = Answering(unit);
        if (host is null) return null;
        try
        {
            var s = await host.Unit.Ask<HaStatusSnapshot>(GetHaStatus.Instance, AskTimeout);
            return new HaView(unit, s.State == HaState.Work, s.Role == HaRole.Primary, s.Primary?.Hostname ?? "", s.Members.Count);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return null;
        }
    }

    public async Task<IReadOnlyList<TunnelView>?> Tunnels(string unit) =>
        _firstClient is { } first && await AllTunnels(unit) is { } all ? all.Where(t => t.Remote == first).ToList() : await AllTunnels(unit);

    /// <summary>Every dialup tunnel the unit lists, whichever client's.</summary>
    private async Task<IReadOnlyList<TunnelView>?> AllTunnels(string unit)
    {
        var host = Answering(unit);
        if (host is null) return null;
        try
        {
            var lists = await Task.WhenAll(_configs[unit].Phase1.Where(p => p.Type == Phase1Type.Dynamic).Select(p =>
                host.System.ActorSelection(host.Unit.Path / ("phase1-" + p.Name)).Ask<TunnelList>(GetTunnelList.Instance, AskTimeout)));
            return lists.SelectMany(l => l.Tunnels)
                .Select(t => new TunnelView(t.Name, t.Role, t.Sa.Dec.Spi, t.Sa.Enc.Spi, t.RemoteGateway.ToString())).ToList();
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or ActorNotFoundException)
        {
            return null;
        }
    }

    public async Task<IReadOnlyList<ClientDial>> DialOthers(CancellationToken ct)
    {
        var first = _lab.Client1 ?? throw new InvalidOperationException("CLIENT1 has not dialed");
        var others = _topology.Clients.Skip(1).ToList();
        if (others.Count == 0) return [];
        if (others.FirstOrDefault(c => c.Kind != ClientKind.FortiGate) is { } swan)
            throw new InvalidOperationException($"{swan.Name} is a strongSwan client: the embedded lab dials FortiGate clients only");
        // From now on Tunnels() lists CLIENT1's alone, so the drill's own watchers never see another client's tunnel.
        _firstClient = first.Settings.WanAddress.Address.ToString();
        var dials = new List<ClientDial> { DialOf(_topology.Clients[0].Name, first.Settings.WanAddress.Address) };
        var server = _topology.Servers.FirstOrDefault()?.Address.Address ?? new EchoRunOptions().Target;
        // One after the other, as clients of a hub come up: each IKE_SA_INIT costs its owner a DH.
        foreach (var cast in others)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            var (client, pc) = await _lab.DialOtherOverFabric(cast, timeout.Token);
            if (client.Established is null)
            {
                var why = client.LastError;
                pc.Dispose();
                client.Dispose();
                throw new InvalidOperationException($"{cast.Name} did not dial: {why}");
            }
            var run = pc.Start(new EchoRunOptions { Target = server, RatePps = OtherClientsPps, Duration = TimeSpan.FromMinutes(10), Grace = TimeSpan.FromMilliseconds(500) });
            lock (_gate) _others.Add((cast, client, pc, run));
            dials.Add(DialOf(cast.Name, cast.Wan.Address));
        }
        return dials;
    }

    private ClientDial DialOf(string name, System.Net.IPAddress wan)
    {
        var via = _lab.Net!.DcRouter.Resolve(wan, _lab.Client1!.Settings.RemoteGateway)?.NextHop.ToString();
        return new ClientDial(name, wan.ToString(), via, via is null ? [] : UnitsBehind(via));
    }

    public IReadOnlyList<ClientProbes> OthersProbes(long fromTimestamp)
    {
        List<(TopologyClient Cast, EchoRun Run)> runs;
        lock (_gate) runs = _others.Select(o => (o.Cast, o.Run)).ToList();
        return runs.Select(o =>
        {
            var start = o.Run.StartTimestamp;
            var offset = start == 0 ? 0 : (start - fromTimestamp) * 1000.0 / Stopwatch.Frequency;
            var requests = o.Run.Requests();
            return new ClientProbes(o.Cast.Name, o.Cast.Wan.Address.ToString(),
                requests.Select(r => offset + r.Sent.TotalMilliseconds).ToList(),
                requests.Select(r => r.Reply is { } at ? offset + at.TotalMilliseconds : (double?)null).ToList());
        }).ToList();
    }

    public double OthersProbeIntervalMs => 1000 / OtherClientsPps;

    public TrafficProgress OthersTraffic()
    {
        lock (_gate) return new(_others.Sum(o => o.Run.Sent), _others.Sum(o => o.Run.Answered));
    }

    /// <summary>
    /// Every client's tunnel over the units that answer, against the router's rule as the DC router applies it now: the
    /// next hop it resolves for the client's flow to lb1, the unit behind it that FGCP made primary, and that owner's
    /// holders (<see cref="DrillCast.HoldersOf"/>) among the running units.
    /// </summary>
    public async Task<TunnelCensus?> Census(string label)
    {
        var first = _firstClient;
        if (first is null) return null;
        List<CensusClient> clients;
        lock (_gate)
            clients = [new CensusClient(_topology.Clients[0].Name, first), .. _others.Select(o => new CensusClient(o.Cast.Name, o.Cast.Wan.Address.ToString()))];
        var lists = await Task.WhenAll(Units.Select(async u => (Unit: u, List: await AllTunnels(u))));
        var tunnels = lists.Where(l => l.List is not null).ToDictionary(l => l.Unit, l => l.List!);
        var ha = await Task.WhenAll(Units.Select(async u => (Unit: u, View: await Ha(u))));
        var primaries = ha.Where(h => h.View is { Working: true, Primary: true }).Select(h => h.Unit).ToHashSet();
        var lb1 = _lab.Client1!.Settings.RemoteGateway;
        return TunnelCensus.Take(label, clients, Units, tunnels, c =>
        {
            var via = _lab.Net!.DcRouter.Resolve(System.Net.IPAddress.Parse(c.Address), lb1)?.NextHop.ToString();
            var owner = via is null ? null : UnitsBehind(via).FirstOrDefault(primaries.Contains);
            return new CensusExpectation(owner, owner is null ? [] : DrillCast.HoldersOf(_topology, owner, u => _configs[u]));
        });
    }

    public IReadOnlyList<NextHopView> RouterNextHops()
    {
        var router = _lab.Net!.DcRouter;
        var route = router.Routes.FirstOrDefault(r => r.Kind == RouteKind.Ecmp);
        if (route is null) return [];
        // The router stamps a withdrawal on its own clock (time since it started); read against its clock now, that is
        // a wall time the drill can set beside the fault's.
        var (wall, elapsed) = (DateTimeOffset.UtcNow, router.Elapsed);
        return route.NextHops.Select(h => new NextHopView(h.Address.ToString(), UnitsBehind(h.Address.ToString()), h.Alive,
            !h.Alive && h.DownSince is { } since ? wall - (elapsed - since) : null)).ToList();
    }

    public TimeSpan? RouterProbesLate() => _lab.Net!.DcRouter.ProbeRoundsLate;

    public TimeSpan? UnitTimersLate(string unit)
    {
        lock (_gate) return _timerLag.GetValueOrDefault(unit)?.Late;
    }

    private IReadOnlyList<string> UnitsBehind(string address) =>
        _topology.Wires.Where(w => w.Address.Address.ToString() == address && Units.Contains(w.Host)).Select(w => w.Host).ToList();

    public Task Impair(string unit, string port, ClusterActors.Actors.DataPlane.ImpairmentSpec? spec, long seed)
    {
        ClusterActors.Node.Scenario.LabImpairment.Apply(_lab, _topology, unit, port, spec, seed);
        return Task.CompletedTask;
    }

    /// <summary>The hbdev's own counters. Its transmit count is what left after the link's netem model; what the model
    /// dropped is added back, so "sent" is what the unit sent, as a container unit's counter (netem is in its kernel) says.</summary>
    public Task<HeartbeatCount?> Heartbeats(string unit, string port) => Task.FromResult(
        _lab.Units.TryGetValue(unit, out var host) && host.Hbdevs.TryGetValue(port, out var hbdev)
            ? new HeartbeatCount(hbdev.Counters.TxPackets + (hbdev.Impairment?.Dropped ?? 0), hbdev.Counters.RxPackets, hbdev.Impairment?.Dropped ?? 0)
            : null);

    public ClientView Client()
    {
        var client = _lab.Client1 ?? throw new InvalidOperationException("CLIENT1 has not dialed");
        var counters = client.Counters;
        var est = client.Established;
        return new ClientView(counters.AntiReplayDrops, counters.IcvFailures, est?.Child.InboundSpi ?? 0, est?.Child.OutboundSpi ?? 0, est is not null,
            est is null ? null : (est.Sa.SpiI, est.Sa.SpiR), counters.ChildSaRekeys, _espSenders.Describe(client.RecentAntiReplayDrops));
    }

    private UnitHost Host(string unit)
    {
        lock (_gate)
            return _hosts.TryGetValue(unit, out var host)
                ? host
                : throw new InvalidOperationException(Units.Contains(unit) ? $"{unit} is not running" : $"no unit {unit} in the scenario");
    }

    private List<KeyValuePair<string, UnitHost>> Running()
    {
        lock (_gate) return _hosts.Where(h => !_frozen.Contains(h.Key)).ToList();
    }

    /// <summary>The unit's host when it runs and is not frozen (a frozen unit answers nothing), else null.</summary>
    private UnitHost? Answering(string unit)
    {
        lock (_gate) return _frozen.Contains(unit) ? null : _hosts.GetValueOrDefault(unit);
    }

    public async ValueTask DisposeAsync()
    {
        _traffic?.Stop();
        lock (_gate)
        {
            foreach (var o in _others)
            {
                o.Run.Stop();
                o.Pc.Dispose();
                o.Client.Dispose();
            }
            _others.Clear();
        }
        _capture.Dispose();
        lock (_gate)
        {
            foreach (var dbLock in _dbLocks.Values) dbLock.Dispose();
            _dbLocks.Clear();
        }
        List<string> frozen;
        lock (_gate)
        {
            frozen = _frozen.ToList();
            _frozen.Clear();
        }
        foreach (var unit in frozen) ((ExtendedActorSystem)_lab.Units[unit].System).Provider.RootGuardian.Resume();
        lock (_gate)
        {
            _hosts.Clear();
            _timerLag.Clear(); // their systems end with the lab
        }
        await _lab.DisposeAsync();
    }
}
