using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Node.LabHarness.Fabric;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ClusterActors.Actors.Unit;
using ClusterActors.Node.DockerLab;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Scenario;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.Drills;

/// <summary>
/// A topology's container lab as a drill lab: one container per unit on kernel packet I/O, dc_router (`clusteractors
/// router` + the DC core's reverse path), the client container (CLIENT1 and PC1 behind a TCP control endpoint) and the
/// Server. Who and where each of them is comes from the topology (<see cref="DockerDrillCast"/>, read from the same
/// <see cref="DockerLabPlan"/> the generated compose file and `lab up` are laid from). The seed runs the repository's
/// docker-compose.yml (the generated seed lab) with src/Node/lab/units; any other topology runs its generated compose
/// file, units' wiring HOCON and lab certificates, written into the drill's own folder. Either way the drill's config
/// changes go into a copy of the units' configs mounted instead (a compose override). Units are reached from this host
/// on their admin endpoints (the management network, 172.31.99.1N:8022), the client on its control endpoint
/// (172.31.99.2:8023); faults are signals, `docker start` and links set in the unit's network namespace; the router's
/// next hops are read from its status file.
/// With the strongSwan client (<see cref="StrongSwanLabClient"/>, compose profile `strongswan`, seed only) the `strongswan`
/// container runs instead of `client`: it dials with swanctl and its traffic is ping from its LAN side.
/// </summary>
public sealed partial class DockerDrillLab : IDrillLab
{
    /// <summary>The compose project the drills use.</summary>
    public const string Project = "clusteractors-drill";

    /// <summary>Containers add a little to every reaction (docker kill, veth carrier, a process per container on two
    /// cores): the issue allows detection + 300 ms in docker mode, 100 ms more than the embedded lab's slack.</summary>
    public const int ContainerSlackMs = 100;

    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Where everything of this topology's lab is (containers, endpoints, the router's next hops and units).</summary>
    private readonly DockerDrillCast _cast;
    /// <summary>The shipped seed: the root docker-compose.yml and src/Node/lab/units, as before the topology's lab was generated.</summary>
    private readonly bool _seed;
    private readonly string _composeFile;
    private readonly string _root;
    private readonly string _work;
    private readonly Dictionary<string, ConfigDocument> _configs;
    private readonly HashSet<string> _down = new();
    private readonly HashSet<string> _frozen = new();
    private readonly Dictionary<string, int> _pids = new();
    private readonly object _gate = new();
    private readonly TextWriter _log;
    private string? _routerStatus;
    private TrafficProgress _progress = new(0, 0);
    private Thread? _progressThread;
    private ManualResetEventSlim? _progressStop;
    private readonly Dictionary<string, (Task<CliResult?> Fetch, long At)> _tunnelLists = new();
    private bool _up;
    private readonly StrongSwanLabClient? _swan;

    /// <param name="changes">CLI lines applied to each unit's shipped config.</param>
    /// <param name="log">Where the strongSwan client's lines go (its SAs, ping's totals, charon's exchanges).</param>
    /// <param name="client"><see cref="DrillCommand.FortiGateClient"/> (CLIENT1 and PC1 in `client`) or
    /// <see cref="DrillCommand.StrongSwanClient"/> (the `strongswan` container, seed only). Either dials from its own WAN
    /// address and dc_router places it by the embedded router's rule: no client is steered.</param>
    /// <param name="topology">The lab; null: the shipped seed.</param>
    /// <param name="suite">strongSwan's proposals (the units' vpn1 gets the same through <paramref name="changes"/>); null: the seed's.</param>
    public DockerDrillLab(IReadOnlyDictionary<string, string> changes, TextWriter? log = null, string client = DrillCommand.FortiGateClient,
        LabTopology? topology = null, StrongSwanSuite? suite = null)
    {
        _log = log ?? TextWriter.Null;
        _root = FindRoot();
        topology ??= Scenarios.Topology(EmbeddedScenarioDriver.Scenario);
        _seed = IsShippedSeed(topology);
        if (client == DrillCommand.StrongSwanClient)
        {
            if (!_seed) throw new UsageException($"--client strongswan runs the seed's container lab only, not {topology.Name}");
            _swan = new StrongSwanLabClient(_log, suite);
        }
        var plan = _plan = DockerLabPlan.From(topology);
        _cast = DockerDrillCast.From(plan);
        Units = _cast.Units;
        _work = Path.Combine(Path.GetTempPath(), "clusteractors-drill-" + Guid.NewGuid().ToString("n")[..8]);
        var units = Path.Combine(_work, "units");
        Directory.CreateDirectory(units);
        _configs = new();
        foreach (var unit in Units)
        {
            ConfigDocument config;
            if (_seed)
            {
                var shipped = Path.Combine(_root, "src/Node/lab/units", unit + ".conf");
                var parsed = FortiConfig.ParseFile(shipped);
                if (!parsed.Ok) throw new ConfigInvalidException(parsed.Errors);
                config = parsed.Value!;
            }
            else config = topology.Unit(unit).Config;
            if (changes.GetValueOrDefault(unit) is { Length: > 0 } change)
            {
                var applied = config.Apply(change, "drill");
                if (!applied.Ok) throw new ConfigInvalidException(applied.Errors);
                config = applied.Value!;
            }
            _configs[unit] = config;
            File.WriteAllText(Path.Combine(units, unit + ".conf"), config.ToText());
            if (_seed) File.Copy(Path.Combine(_root, "src/Node/lab/units", unit + ".hocon"), Path.Combine(units, unit + ".hocon"));
            else File.WriteAllText(Path.Combine(units, unit + ".hocon"), ComposeFile.UnitHocon(plan, unit));
        }
        if (_seed) _composeFile = Path.Combine(_root, "docker-compose.yml");
        else
        {
            // The topology's generated lab (what `lab up` runs), its bind mounts in this drill's folder; the units'
            // volumes point at the same copy the override names.
            var certs = Path.Combine(_work, "certs");
            DockerLabLifecycle.WriteCertificates(certs, topology);
            var topologyDir = Path.GetDirectoryName(Path.GetFullPath(topology.File))!;
            _composeFile = Path.Combine(_work, "docker-compose.yml");
            File.WriteAllText(_composeFile, ComposeFile.Render(plan, new ComposePaths(units, certs, topologyDir, Path.Combine(_root, "src/Node/lab/strongswan"))));
        }
        var probe = EmbeddedScenarioDriver.RouterProbeAbove(_configs.Values);
        Timers = DrillTimers.From(_configs[Units[0]], probe) with { ExtraSlackMs = ContainerSlackMs };
        File.WriteAllText(Path.Combine(_work, "docker-compose.drill.yml"), Override(_cast, units, probe));
    }

    /// <summary>
    /// The drill's compose override: each unit's configs from <paramref name="units"/> (the drill's changed copy) and
    /// the router probing as the drill's configs need (<see cref="EmbeddedScenarioDriver.RouterProbeAbove"/>).
    /// </summary>
    public static string Override(DockerDrillCast cast, string units, ProbeOptions probe)
    {
        var o = new StringBuilder("version: \"2.4\"\nservices:\n");
        foreach (var unit in cast.Units)
        {
            var svc = cast.Container(unit);
            o.Append(CultureInfo.InvariantCulture, $"  {svc}:\n    volumes: [\"{units}:/etc/clusteractors:ro\", \"{svc}-data:/var/lib/clusteractors\"]\n");
        }
        o.Append(CultureInfo.InvariantCulture, $"  {cast.RouterContainer}:\n    environment:\n      LAB_PROBE_MISSES: \"{probe.MissedProbes}\"\n      LAB_PROBE_INTERVAL: \"{(int)probe.Interval.TotalMilliseconds}ms\"\n");
        return o.ToString();
    }

    /// <summary>
    /// What every docker drill needs before it starts, each missing one in one line (<see cref="LabToolMissingException"/>):
    /// docker and docker-compose (with their Debian packages), an engine that answers, the lab's image.
    /// </summary>
    public static async Task Preflight(CancellationToken ct, Func<string, string?>? locate = null)
    {
        var docker = DockerLabLifecycle.Require("docker", locate);
        DockerLabLifecycle.Require("docker-compose", locate);
        ct.ThrowIfCancellationRequested();
        var (info, infoText) = await Run(docker, ["info", "-f", "{{.ServerVersion}}"], TimeSpan.FromSeconds(30), check: false);
        if (info != 0)
            throw new LabToolMissingException($"the Docker engine does not answer ({infoText.Trim().Split('\n')[0]}): .ci/docker-setup starts it");
        var (image, _) = await Run(docker, ["image", "inspect", DockerLabPlan.Image], TimeSpan.FromSeconds(30), check: false);
        if (image != 0)
            throw new LabToolMissingException($"the image {DockerLabPlan.Image} is missing: build it with .ci/docker-setup (or src/Node/lab/build-images.sh)");
    }

    /// <summary>The shipped seed's topology file (not a file of the same name elsewhere): its lab is the root docker-compose.yml.</summary>
    public static bool IsShippedSeed(LabTopology topology) =>
        topology.Name == EmbeddedScenarioDriver.Scenario
        && Path.GetFullPath(topology.File) == Path.GetFullPath(Path.Combine(Scenarios.Directory(EmbeddedScenarioDriver.Scenario), Scenarios.TopologyFileName));

    public string Mode => _swan is null ? "docker" : "docker (strongSwan client)";

    /// <summary>`down` names the strongswan profile too, so a strongSwan lab left behind goes as well; `up` only with it.</summary>
    private static readonly Dictionary<string, string> WithSwanProfile = new() { ["COMPOSE_PROFILES"] = "strongswan" };

    public IReadOnlyList<string> Units { get; }

    public DrillTimers Timers { get; }

    /// <summary>The repo root: the folder with docker-compose.yml and src/Node/lab, from $CLUSTERACTORS_LAB_ROOT or upwards of here.</summary>
    public static string FindRoot()
    {
        if (Environment.GetEnvironmentVariable("CLUSTERACTORS_LAB_ROOT") is { Length: > 0 } env) return env;
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "docker-compose.yml")) && Directory.Exists(Path.Combine(dir.FullName, "src/Node/lab")))
                    return dir.FullName;
        }
        throw new UsageException("--mode docker runs the container lab of this repository: run it from the checkout "
                                 + "(docker-compose.yml, src/Node/lab) or set CLUSTERACTORS_LAB_ROOT");
    }

    /// <summary>The unit's admin endpoint on the management network (seed: DC2_VM1 → 172.31.99.11:8022, src/Node/lab/units/*.hocon).</summary>
    private IPEndPoint Admin(string unit) => _cast.Admin[unit];

    private string Container(string unit) => _cast.Container(unit);

    private string[] Compose(params string[] args) =>
        ["-p", Project, "-f", _composeFile, "-f", Path.Combine(_work, "docker-compose.drill.yml"), .. args];

    /// <summary>`down` of this project: another topology's lab left under it (containers of services this file does not
    /// name) goes too; the seed's call is unchanged.</summary>
    private string[] ComposeDown() => _seed ? Compose("down", "-t", "1", "-v") : Compose("down", "-t", "1", "-v", "--remove-orphans");

    /// <summary>host-bridges.sh's arguments: the seed's default bridges, or this topology's.</summary>
    private string[] Bridges(string action) => _seed ? [action] : [action, .. _cast.Bridges];

    /// <summary>Runs a program to its end; throws with its output when it fails and <paramref name="check"/>.</summary>
    /// <param name="stdin">Written to the tool's standard input, which is then closed (an `nft -f -` script); null: none.</param>
    public static async Task<(int Exit, string Output)> Run(string file, IEnumerable<string> args, TimeSpan timeout, bool check = true,
        string? workDir = null, IDictionary<string, string>? env = null, string? stdin = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null, WorkingDirectory = workDir ?? ""
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) start.Environment[k] = v;
        using var p = Process.Start(start) ?? throw new InvalidOperationException($"cannot run {file}");
        if (stdin is not null)
        {
            await p.StandardInput.WriteAsync(stdin);
            p.StandardInput.Close();
        }
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new TimeoutException($"{file} {string.Join(' ', start.ArgumentList)} did not finish within {timeout.TotalSeconds:0} s");
        }
        var output = (await stdout) + (await stderr);
        if (check && p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', start.ArgumentList)} failed ({p.ExitCode}): {output.Trim()}");
        return (p.ExitCode, output);
    }

    private async Task<HaView?> WaitHa(string unit, TimeSpan within, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < within)
        {
            if (await Ha(unit) is { } ha) return ha;
            await Task.Delay(TimeSpan.FromMilliseconds(100), ct);
        }
        return null;
    }

    public async Task<string> Up(IReadOnlyList<string> primaries, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        // A previous drill's lab (or one left behind) would hold the containers' names and the bridges.
        await Run("docker-compose", ComposeDown(), TimeSpan.FromSeconds(120), check: false, _root, WithSwanProfile);
        // The preferred units (priority 200 in the shipped configs) start first and the others once those run. With
        // the default ha-uptime-diff-margin (300 s) the order would not matter, priority decides; but fgcp-failback
        // sets the margin to 1 s, where the unit that started earlier wins on uptime (override disabled: uptime before
        // priority), and containers starting together on two cores come up seconds apart in any order. Still needed.
        // The strongSwan client runs instead of ours (both dial from PC1's subnet).
        var others = Units.Where(u => !primaries.Contains(u)).Select(Container).ToList();
        var first = Units.Where(primaries.Contains).Select(Container)
            .Concat(_cast.Companions.Select(c => c == _cast.ClientContainer && _swan is not null ? StrongSwanLabClient.Container : c)).ToList();
        var env = _swan is null ? null : WithSwanProfile;
        // The containers together must weigh as much on the CPU as their processes would on the host, or a busy
        // machine starves the whole lab at once (src/Node/lab/host-cpu-weight.sh); idempotent, also done by .ci/docker-setup.
        var (_, weight) = await Run(Path.Combine(_root, "src/Node/lab/host-cpu-weight.sh"), [], TimeSpan.FromSeconds(30), check: false);
        if (weight.Trim().Length > 0) _log.WriteLine(weight.Trim());
        _up = true;
        await Run("docker-compose", Compose(["up", "-d", .. first]), TimeSpan.FromSeconds(180), workDir: _root, env: env);
        foreach (var unit in primaries)
            if (await WaitHa(unit, TimeSpan.FromSeconds(60), ct) is null)
                throw new TimeoutException($"{unit} did not answer within 60 s of its start");
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        await Run("docker-compose", Compose(["up", "-d", .. others]), TimeSpan.FromSeconds(180), workDir: _root, env: env);
        await Run(Path.Combine(_root, "src/Node/lab/host-bridges.sh"), Bridges("add"), TimeSpan.FromSeconds(30));
        // Every lab bridge but the management one, from here to the run's end (DockerCaptures).
        _captures?.Dispose();
        _captures = DockerCaptures.Start(_plan, Path.Combine(_work, "captures"), out var noCapture);
        if (noCapture is not null) _log.WriteLine($"  {noCapture}");
        await FollowRouter();
        var within = TimeSpan.FromSeconds(_configs.Values.Max(c => c.Ha.HelloHolddown) + 60);
        // FGCP clusters as the topology derives them; a standalone unit is a group of its own (standalone units all have
        // group-id 0, so grouping by it would wait for them to form one cluster).
        var groups = _cast.Clusters;
        var formed = false;
        while (sw.Elapsed < within && !formed)
        {
            ct.ThrowIfCancellationRequested();
            formed = true;
            foreach (var group in groups)
            foreach (var unit in group)
            {
                var ha = await Ha(unit);
                if (ha is not { Working: true } || ha.Members != group.Count || ha.Primary != primaries.Contains(unit)) formed = false;
            }
            if (formed)
                foreach (var unit in Units)
                    if (!await FgspPeers(unit)) formed = false;
            if (formed && RouterNextHops() is var hops && (hops.Count != _cast.HopUnits.Count || hops.Any(h => !h.Alive))) formed = false;
            if (!formed) await Task.Delay(250, ct);
        }
        if (!formed)
        {
            var seen = new List<string>();
            foreach (var unit in Units)
                seen.Add((await Ha(unit)) is { } h ? $"{unit} {(h.Working ? h.Primary ? "Primary" : "Secondary" : "hello")} of {h.Members}" : $"{unit} silent");
            var router = string.Join(", ", RouterNextHops().Select(h => $"{h.Address} {(h.Alive ? "alive" : "dead")}"));
            throw new TimeoutException($"the container lab did not form within {within.TotalSeconds:0} s with {string.Join(" and ", primaries)} primary "
                                       + $"({string.Join(", ", seen)}; router {router})");
        }
        foreach (var unit in Units)
        {
            var pid = await Pid(unit);
            lock (_gate) _pids[unit] = pid;
            // The hardening is checked on what runs, not only on the compose file (UnitHardeningSpec): the unit's
            // process as the kernel sees it.
            string status;
            try { status = await File.ReadAllTextAsync($"/proc/{pid}/status", ct); }
            catch (IOException e) { throw new InvalidOperationException($"{unit}: cannot read its process status: {e.Message}"); }
            if (UnitPrivileges.Problem(status) is { } problem)
                throw new InvalidOperationException($"{unit} does not run with the lab's least privilege: {problem}");
            ContainerFaults.Warm(pid); // the first fault is stamped before its call: no JIT in it
        }
        var clusters = groups.Select(g => $"{string.Join("+", g)} (primary {g.First(primaries.Contains)})");
        return string.Create(CultureInfo.InvariantCulture,
            $"{Units.Count} unit containers, FGCP clusters {string.Join(" and ", clusters)}, FGSP peers, router next hops alive, in {sw.Elapsed.TotalSeconds:0.0} s");
    }

    private async Task<bool> FgspPeers(string unit)
    {
        var r = await TryCli(unit, "diagnose sys ha standalone-peers");
        return r is { ExitCode: 0 } && DetectedPeers().Match(r.Output) is { Success: true } m && int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) >= 1;
    }

    [GeneratedRegex(@"Detected-peers=(\d+)")]
    private static partial Regex DetectedPeers();

    /// <summary>
    /// dc_router's next hops as its `clusteractors router` wrote them last (it rewrites the status file the moment a next
    /// hop dies or answers again), read from this host through /proc/PID/root of the container's PID 1: no docker exec
    /// and no log following in the way of the detection's timing.
    /// </summary>
    private async Task FollowRouter()
    {
        var (_, text) = await Run("docker", ["inspect", "-f", "{{.State.Pid}}", _cast.RouterContainer], TimeSpan.FromSeconds(30));
        _routerStatus = $"/proc/{text.Trim()}/root{Commands.RouterCommand.DefaultStatus}";
    }

    /// <summary>The next hops in a `clusteractors router` status text: `via ADDRESS alive|dead`.</summary>
    public static IReadOnlyList<(string Address, bool Alive)> ParseRouterStatus(string text) =>
        RouterHop().Matches(text).Select(m => (m.Groups[1].Value, m.Groups[2].Value == "alive")).ToList();

    [GeneratedRegex(@"(?m)^\s+via (\d+\.\d+\.\d+\.\d+) (alive|dead)")]
    private static partial Regex RouterHop();

    public async Task<DialInfo> Dial(CancellationToken ct)
    {
        uint inSpi, outSpi;
        string source;
        if (_swan is not null)
        {
            var sas = await _swan.Dial(ct);
            (inSpi, outSpi, source) = (sas.ChildIn, sas.ChildOut, StrongSwanLabClient.WanAddress);
        }
        else
        {
            var answer = await Control("dial", TimeSpan.FromSeconds(40));
            var w = answer.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (w is not ["in", var i, "out", var o]) throw new InvalidOperationException($"CLIENT1 did not dial: {answer.Trim()}");
            (inSpi, outSpi, source) = (uint.Parse(i, CultureInfo.InvariantCulture), uint.Parse(o, CultureInfo.InvariantCulture), _cast.ClientWanAddress);
        }
        // The router's placement of this client's flow, as the kernel holds it (its per-flow policy route).
        var (_, route) = await Run("docker", ["exec", _cast.RouterContainer, "ip", "route", "get", _cast.EcmpDestination, "from", source, "iif", _cast.RouterClientLeg],
            TimeSpan.FromSeconds(10), check: false);
        var via = Regex.Match(route, @"via (\S+)") is { Success: true } m ? m.Groups[1].Value : null;
        return new DialInfo(inSpi, outSpi, via, via is not null && _cast.HopUnits.TryGetValue(via, out var units) ? units : []);
    }

    /// <summary>One command on the client container's control endpoint; throws with its message when it fails.</summary>
    private async Task<string> Control(string command, TimeSpan timeout)
    {
        CliResult r;
        var control = _cast.ClientControl;
        try { r = await AdminClient.RunAsync(control, command, timeout, credentials: null); }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or OperationCanceledException)
        {
            throw new InvalidOperationException($"the client container does not answer on {control}: {e.Message}");
        }
        if (r.ExitCode != 0) throw new InvalidOperationException($"client `{command}`: {r.Output.Trim()}");
        return r.Output;
    }

    public void TrafficStart(double packetsPerSecond)
    {
        if (_swan is not null)
        {
            _swan.TrafficStart(packetsPerSecond);
            return;
        }
        Control(string.Create(CultureInfo.InvariantCulture, $"traffic start {packetsPerSecond}"), TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
        StopProgressPoller();
        lock (_gate) _progress = new(0, 0);
        // The runner reads the progress from its polling loops without awaiting: a thread of its own asks the client
        // every 20 ms, so no thread-pool thread blocks on TCP and the runner's timing loops stay on time.
        var stop = _progressStop = new ManualResetEventSlim();
        _progressThread = new Thread(() =>
        {
            while (!stop.Wait(20))
            {
                try
                {
                    var w = Control("traffic progress", TimeSpan.FromSeconds(5)).GetAwaiter().GetResult()
                        .Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    if (w is ["sent", var sent, "answered", var answered])
                        lock (_gate) _progress = new(long.Parse(sent, CultureInfo.InvariantCulture), long.Parse(answered, CultureInfo.InvariantCulture));
                }
                catch (InvalidOperationException) { /* the client is busy or gone; the last value stands */ }
            }
        }) { IsBackground = true, Name = "drill client progress" };
        _progressThread.Start();
    }

    private void StopProgressPoller()
    {
        _progressStop?.Set();
        _progressThread?.Join(TimeSpan.FromSeconds(6));
        _progressThread = null;
    }

    public TrafficProgress TrafficProgress()
    {
        if (_swan is not null) return _swan.TrafficProgress();
        lock (_gate) return _progress;
    }

    public async Task<EchoReport> TrafficStop()
    {
        if (_swan is not null) return await _swan.TrafficStop();
        StopProgressPoller();
        var report = JsonSerializer.Deserialize<EchoReport>(await Control("traffic stop", TimeSpan.FromSeconds(40)))
                     ?? throw new InvalidOperationException("the client sent no report");
        lock (_gate) _progress = new(report.Sent, report.Answered);
        return report;
    }

    public async Task<IReadOnlyDictionary<string, long>> TunnelForwarded()
    {
        var lists = await Task.WhenAll(Units.Select(async u => (u, await TunnelList(u))));
        var result = new Dictionary<string, long>();
        foreach (var (unit, r) in lists)
            if (r is { ExitCode: 0 })
                result[unit] = RxPackets().Matches(r.Output).Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        return result;
    }

    [GeneratedRegex(@"stat: rxp=(\d+)")]
    private static partial Regex RxPackets();

    public async Task Kill(string unit)
    {
        Known(unit);
        lock (_gate)
        {
            _down.Add(unit);
            _frozen.Remove(unit); // SIGKILL ends a stopped process too
        }
        // `docker kill` goes through the CLI and the daemon, which take up to a second on two busy cores, and the drill
        // times the fault from the call: SIGKILL goes straight to the container's PID 1 (the unit itself, exec'd by
        // lab-net and unit-run), which is what docker kill sends; the container then exits as it would.
        int pid;
        lock (_gate) pid = _pids.GetValueOrDefault(unit);
        if (pid == 0) pid = await Pid(unit);
        var signalled = ContainerFaults.Kill(pid);
        // `docker kill` returns only when the daemon has torn the container down (2.4-2.8 s measured at load 20-40),
        // and that wait fell inside the 4 s detection the drill is timing. Once the unit has its SIGKILL the teardown
        // is the daemon's bookkeeping: run it in the background; Start and DisposeAsync wait for it.
        var teardown = Run("docker", ["kill", Container(unit)], TimeSpan.FromSeconds(30), check: false); // already gone, or now
        if (!signalled) await teardown;
        else lock (_gate) _teardowns[unit] = teardown;
    }

    private readonly Dictionary<string, Task> _teardowns = new();

    private async Task TeardownDone(string unit)
    {
        Task? pending;
        lock (_gate) _teardowns.Remove(unit, out pending);
        if (pending is not null) await pending;
    }

    /// <summary>The host PID of the unit container's PID 1 (the unit); 0 when it is not running.</summary>
    private async Task<int> Pid(string unit)
    {
        var (_, text) = await Run("docker", ["inspect", "-f", "{{.State.Pid}}", Container(unit)], TimeSpan.FromSeconds(30), check: false);
        return int.TryParse(text.Trim(), out var pid) ? pid : 0;
    }

    public async Task Start(string unit)
    {
        Known(unit);
        await TeardownDone(unit);
        await Run("docker", ["start", Container(unit)], TimeSpan.FromSeconds(60));
        var pid = await Pid(unit);
        lock (_gate)
        {
            _down.Remove(unit);
            _pids[unit] = pid;
        }
    }

    public async Task Link(string unit, string port, bool up)
    {
        Known(unit);
        // The drill times the fault from the call: `docker exec` took a few hundred ms on two busy cores before `ip` ran,
        // and `nsenter … ip` still a fork and two execs (split brain seen 4.36–4.67 s after the stamp with FGCP's 4 s).
        // The link is set from this process, in the unit's network namespace (ContainerFaults.SetLink).
        var pid = await NamespacePid(unit);
        if (pid > 0) ContainerFaults.SetLink(ContainerFaults.NetnsOf(pid), port, up);
        else await Run("docker", ["exec", Container(unit), "ip", "link", "set", port, up ? "up" : "down"], TimeSpan.FromSeconds(30));
    }

    public async Task SetInterfaceStatus(string unit, string port, bool up)
    {
        var result = await Cli(unit, $"config system interface\n    edit {port}\n        set status {(up ? "up" : "down")}\n    next\nend");
        if (result.ExitCode != 0) throw new InvalidOperationException($"{unit} refused `set status` on {port}: {result.Output.Trim()}");
    }

    /// <summary>
    /// The `impair UNIT PORT …` step in the container lab: the arguments of `nsenter` that run
    /// `tc qdisc replace dev PORT root netem …` (or `tc qdisc del dev PORT root` to clear) in the unit's network
    /// namespace, from this host, as <see cref="Link"/> and the Akka cut do (no `docker exec` round trip).
    /// </summary>
    public static IReadOnlyList<string> NetemCommand(int pid, string port, ImpairmentSpec? spec) =>
        NsenterArgs(pid, "tc", spec is null ? ImpairmentSpec.TcClearArguments(port) : spec.TcArguments(port));

    /// <summary>`nsenter`'s arguments that run <paramref name="tool"/> in the network namespace of process <paramref name="pid"/>.</summary>
    public static IReadOnlyList<string> NsenterArgs(int pid, string tool, IEnumerable<string> args) =>
        ["-t", pid.ToString(CultureInfo.InvariantCulture), "-n", tool, .. args];

    /// <summary>
    /// Runs a network tool (tc, nft) in the unit's network namespace: from this host with `nsenter` (a fork and two execs;
    /// `docker exec` takes hundreds of ms on two busy cores), or through `docker exec` while its pid is not known.
    /// Never throws on the tool's exit code: the caller reads it.
    /// </summary>
    private async Task<(int Exit, string Output)> InNamespace(string unit, string tool, IReadOnlyList<string> args, string? stdin = null, TimeSpan? timeout = null)
    {
        var pid = await NamespacePid(unit);
        var within = timeout ?? TimeSpan.FromSeconds(30);
        return pid > 0
            ? await Run("nsenter", NsenterArgs(pid, tool, args), within, check: false, stdin: stdin)
            : await Run("docker", ["exec", .. stdin is null ? Array.Empty<string>() : ["-i"], Container(unit), tool, .. args], within, check: false, stdin: stdin);
    }

    /// <summary>
    /// netem on the unit's <paramref name="port"/> (its egress). The kernel draws netem's randomness, not the lab's seed:
    /// a container run does not replay an embedded one packet for packet. Clearing a port that has no netem is not an
    /// error (tc refuses to delete the default root qdisc; nothing was impaired).
    /// A kernel without sch_netem (this project's CI VMs: "Specified qdisc kind is unknown") still gets a loss-only
    /// impairment, from nftables (<see cref="NftLoss"/>): the same per-packet random loss on the port's egress, counted
    /// by its rule. Delay, jitter, duplicate and rate need netem, and such a kernel refuses them by name.
    /// </summary>
    public async Task Impair(string unit, string port, ImpairmentSpec? spec)
    {
        Known(unit);
        // Whatever was on the port goes first: netem's qdisc, or the nftables fallback's table.
        await InNamespace(unit, "nft", ["delete", "table", "inet", NftTable(port)]);
        if (spec is null)
        {
            await InNamespace(unit, "tc", ImpairmentSpec.TcClearArguments(port));
            return;
        }
        var (exit, output) = await InNamespace(unit, "tc", spec.TcArguments(port));
        if (exit == 0) return;
        if (output.Contains("qdisc kind is unknown", StringComparison.Ordinal))
        {
            if (spec with { LossPercent = 0 } != ImpairmentSpec.None)
                throw new InvalidOperationException($"{Container(unit)}'s kernel has no netem (sch_netem): only `loss N%` can be applied here (nftables), not `{spec.NetemArguments}`");
            var (nftExit, nftOutput) = await InNamespace(unit, "nft", ["-f", "-"], NftLoss(port, spec.LossPercent));
            if (nftExit == 0) return;
            throw new InvalidOperationException($"nft in {Container(unit)} refused the loss on {port}: {nftOutput.Trim()}");
        }
        throw new InvalidOperationException($"tc in {Container(unit)} refused netem on {port}: {output.Trim()}");
    }

    private async Task<int> NamespacePid(string unit)
    {
        int pid;
        lock (_gate) pid = _pids.GetValueOrDefault(unit);
        return pid != 0 ? pid : await Pid(unit);
    }

    /// <summary>The nftables table of a port's loss-only impairment (<see cref="NftLoss"/>).</summary>
    public static string NftTable(string port) => "clusteractors_impair_" + Regex.Replace(port, "[^A-Za-z0-9_]", "_");

    /// <summary>
    /// netem's `loss N%` where the kernel has no netem: every packet leaving <paramref name="port"/> (postrouting: sent by
    /// the unit or forwarded, as an egress qdisc sees them) is dropped with probability N % (`numgen random`, in steps
    /// of 0.01 %), and the rule's counter is what was dropped.
    /// </summary>
    public static string NftLoss(string port, double lossPercent)
    {
        var below = (int)Math.Round(Math.Clamp(lossPercent, 0, 100) * 100);
        // nft takes 0-9999 on this side of a `mod 10000`: all of them is `<= 9999`.
        var test = below >= 10000 ? "<= 9999" : $"< {below}";
        return $"table inet {NftTable(port)} {{\n" +
               "  chain egress {\n" +
               "    type filter hook postrouting priority 0; policy accept;\n" +
               $"    oifname \"{port}\" numgen random mod 10000 {test} counter drop\n" +
               "  }\n" +
               "}\n";
    }

    /// <summary>The packets <see cref="NftLoss"/>'s rule dropped, from `nft list table inet NAME`; 0 without one.</summary>
    public static long NftDropped(string nftList)
    {
        var m = Regex.Match(nftList, @"numgen random mod 10000 <=? \d+ counter packets (\d+) bytes \d+ drop");
        return m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    public Task SetHeartbeat(string unit, bool up) =>
        Link(unit, _configs[unit].Ha.HbDevs.FirstOrDefault()?.Interface ?? "port4", up);

    /// <summary>The unit's Akka endpoint port on its FGSP-link address (src/Node/lab/units/*.hocon).</summary>
    private const int AkkaPort = 2552;

    /// <summary>In each unit's namespace, an nft table that drops TCP to and from the other unit's FGSP-link address on the
    /// Akka port (both the connection it opens and the one the other unit opens), and the datagram cluster probe (UDP to
    /// that port number, both ways: src/Node/Hosting/README.md); heartbeats (port4, UDP) are untouched.</summary>
    public Task CutAkkaAsync(string unitA, string unitB) => SetAkkaPath(unitA, unitB, cut: true);

    public Task HealAkkaAsync(string unitA, string unitB) => SetAkkaPath(unitA, unitB, cut: false);

    /// <summary>The nft script that cuts (or restores) the Akka path to <paramref name="peerIp"/> in one unit's namespace:
    /// one line, so the chains are separated by `;` (nft rejects `} chain` on one line: seen in the first docker run).</summary>
    public static string AkkaCutScript(string table, string peerIp, bool cut) => cut
        ? $"table inet {table} {{ chain in {{ type filter hook input priority -10; ip saddr {peerIp} tcp sport {AkkaPort} drop; ip saddr {peerIp} tcp dport {AkkaPort} drop; ip saddr {peerIp} udp dport {AkkaPort} drop; }}; " +
          $"chain out {{ type filter hook output priority -10; ip daddr {peerIp} tcp dport {AkkaPort} drop; ip daddr {peerIp} tcp sport {AkkaPort} drop; ip daddr {peerIp} udp dport {AkkaPort} drop; }}; }}"
        : $"delete table inet {table}";

    private async Task SetAkkaPath(string unitA, string unitB, bool cut)
    {
        Known(unitA);
        Known(unitB);
        foreach (var (on, peer) in new[] { (unitA, unitB), (unitB, unitA) })
        {
            lock (_gate)
                if (_down.Contains(on)) continue;
            var peerIp = FgspLinkAddress(peer);
            var table = "clusteractors_akka_cut_" + peer.ToLowerInvariant();
            var script = AkkaCutScript(table, peerIp, cut);
            // As for Link: nft from this host in the unit's network namespace (nsenter), not `docker exec`, which takes
            // hundreds of ms per call on two busy cores (an isolation is 6 calls) and would skew the fault's timing.
            var (exit, output) = await InNamespace(on, "nft", [script]);
            if (exit != 0 && cut) throw new InvalidOperationException($"nft in {Container(on)} refused the Akka cut: {output.Trim()}");
        }
    }

    private readonly Dictionary<string, SqliteDatabaseLock> _dbLocks = new();

    /// <summary>Where the unit keeps its journal (docker-compose.yml: a volume per unit on /var/lib/clusteractors).</summary>
    private const string UnitDataDir = "/var/lib/clusteractors";

    /// <summary>
    /// The drill lab runs without the `postgres` profile: each unit's journal is SQLite on its own volume. The file is
    /// locked from this host (<see cref="SqliteDatabaseLock"/>: the kernel's record lock on the same inode the unit
    /// locks), reached through the volume's host directory (`docker inspect`: the mount's Source), so no tool is needed
    /// in the container. Not through /proc/PID/root: SQLite resolves symbolic links in a path, and that magic link reads
    /// as "/" (the first docker run: SQLite error 14, unable to open). (Stopping the `postgres` service would stop every
    /// unit's database at once.)
    /// </summary>
    public async Task StopDatabaseAsync(string unit)
    {
        Known(unit);
        lock (_gate)
            if (_dbLocks.ContainsKey(unit)) throw new InvalidOperationException($"{unit}'s database is already stopped");
        var (_, source) = await Run("docker", ["inspect", "-f", $"{{{{range .Mounts}}}}{{{{if eq .Destination \"{UnitDataDir}\"}}}}{{{{.Source}}}}{{{{end}}}}{{{{end}}}}", Container(unit)],
            TimeSpan.FromSeconds(30));
        if (source.Trim().Length == 0) throw new InvalidOperationException($"{Container(unit)} has no volume on {UnitDataDir}");
        var file = Path.Combine(source.Trim(), ClusterActors.Actors.Persistence.PersistenceHocon.SqliteFile);
        var dbLock = await Task.Run(() => SqliteDatabaseLock.Take(file, TimeSpan.FromSeconds(5)));
        lock (_gate) _dbLocks[unit] = dbLock;
    }

    public Task StartDatabaseAsync(string unit)
    {
        SqliteDatabaseLock? dbLock;
        lock (_gate)
            if (!_dbLocks.Remove(unit, out dbLock)) throw new InvalidOperationException($"{unit}'s database is not stopped");
        dbLock.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>The unit's address on the FGSP link (seed: DC2_VMn's 172.31.2.1n), where its Akka remoting binds.</summary>
    private string FgspLinkAddress(string unit) => _cast.AkkaAddress[unit];
    /// <summary>
    /// SIGSTOP or SIGCONT to the container's PID 1 (the unit) from this host's PID namespace, where SIGSTOP reaches even a
    /// PID 1 (what `docker kill -s STOP|CONT` has the daemon do, without the CLI and the daemon in between: through them
    /// the unit stopped ~0.9 s after the drill's stamp, docker chaos seed 1 run 20). While stopped the kernel still takes
    /// its packets and TCP into the sockets' buffers (dropping beyond them) and keeps its links up; the unit answers
    /// nothing, so it is not asked until SIGCONT.
    /// </summary>
    public async Task Freeze(string unit, bool frozen)
    {
        Known(unit);
        if (frozen)
            lock (_gate) _frozen.Add(unit);
        int pid;
        lock (_gate) pid = _pids.GetValueOrDefault(unit);
        if (pid == 0) pid = await Pid(unit);
        if (pid > 0) ContainerFaults.Signal(pid, stop: frozen);
        else await Run("docker", ["kill", "-s", frozen ? "STOP" : "CONT", Container(unit)], TimeSpan.FromSeconds(30));
        if (!frozen)
            lock (_gate) _frozen.Remove(unit);
    }

    /// <summary>The synced-config checksum of what `show full-configuration` prints (the unit's running config).</summary>
    public async Task<string?> ConfigChecksum(string unit)
    {
        return await TryCli(unit, "show full-configuration") is { ExitCode: 0 } r ? ChecksumOfShown(r.Output, unit) : null;
    }

    /// <summary>The synced-config checksum of a `show full-configuration` text; a text that does not parse gives a value
    /// naming the error, which differs from every checksum.</summary>
    public static string ChecksumOfShown(string shown, string unit)
    {
        var parsed = FortiConfig.Parse(shown, unit);
        return parsed.Ok ? ClusterActors.Actors.Fgcp.FgcpConfigSync.Checksum(parsed.Value!) : "unparsable: " + parsed.Errors[0];
    }

    public async Task<CliResult> Cli(string unit, string command)
    {
        Known(unit);
        return await AdminClient.RunAsync(Admin(unit), command, TimeSpan.FromSeconds(15));
    }

    private async Task<CliResult?> TryCli(string unit, string command)
    {
        lock (_gate)
            if (_down.Contains(unit) || _frozen.Contains(unit)) return null;
        try { return await AdminClient.RunAsync(Admin(unit), command, AskTimeout); }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or OperationCanceledException or AdminRefusedException) { return null; }
    }

    /// <summary>From the unit's own log (<see cref="UnitLog"/>): `docker logs` from a second before <paramref name="since"/>.</summary>
    public async Task<DateTimeOffset?> RoleChangedAt(string unit, bool primary, DateTimeOffset since)
    {
        Known(unit);
        var from = (since.ToUnixTimeMilliseconds() - 1000) / 1000.0;
        var (exit, text) = await Run("docker", ["logs", "--since", from.ToString("0.000", CultureInfo.InvariantCulture), Container(unit)],
            TimeSpan.FromSeconds(30), check: false);
        return exit == 0 ? UnitLog.FirstChange(text, primary, since) : null;
    }

    public async Task<DateTimeOffset?> RouterWithdrewAt(string address, DateTimeOffset since)
    {
        var from = (since.ToUnixTimeMilliseconds() - 1000) / 1000.0;
        var (exit, text) = await Run("docker", ["logs", "--timestamps", "--since", from.ToString("0.000", CultureInfo.InvariantCulture), _cast.RouterContainer],
            TimeSpan.FromSeconds(30), check: false);
        return exit == 0 ? RouterLog.FirstWithdrawal(text, address, since) : null;
    }

    public async Task<HaView?> Ha(string unit) =>
        await TryCli(unit, "diagnose sys ha status") is { ExitCode: 0 } r ? ParseHa(unit, r.Output) : null;

    /// <summary>`diagnose sys ha status` in a value: state=work, is_manage_primary, the member lines and the primary's hostname.</summary>
    public static HaView? ParseHa(string unit, string text)
    {
        var lines = text.Split('\n');
        var start = Array.FindIndex(lines, l => l.StartsWith("HA group member information", StringComparison.Ordinal));
        if (start < 0) return null;
        var members = lines.Skip(start + 1).TakeWhile(l => l.Contains("hostname=", StringComparison.Ordinal)).ToList();
        var primaryLine = members.FirstOrDefault(l => Regex.IsMatch(l, @":\s*Primary,"));
        var primaryHost = primaryLine is null ? "" : Regex.Match(primaryLine, @"hostname=(\S+)").Groups[1].Value;
        return new HaView(unit, text.Contains("state=work", StringComparison.Ordinal), lines[start].Contains("is_manage_primary=1", StringComparison.Ordinal),
            primaryHost, members.Count);
    }

    public async Task<IReadOnlyList<TunnelView>?> Tunnels(string unit) =>
        await TunnelList(unit) is { ExitCode: 0 } r ? ParseTunnels(r.Output) : null;

    /// <summary>
    /// `diagnose vpn tunnel list` of a unit, shared by everything that asks within 25 ms (the runner's owner polls and
    /// the sampler's forwarded counters read the same list): the units forward PC1's traffic on the same two cores,
    /// and each answer renders every tunnel with its keys.
    /// </summary>
    private Task<CliResult?> TunnelList(string unit)
    {
        lock (_gate)
        {
            if (_tunnelLists.TryGetValue(unit, out var last)
                && (!last.Fetch.IsCompleted || Stopwatch.GetElapsedTime(last.At) < TimeSpan.FromMilliseconds(25)))
                return last.Fetch;
            var fetch = TryCli(unit, "diagnose vpn tunnel list");
            _tunnelLists[unit] = (fetch, Stopwatch.GetTimestamp());
            return fetch;
        }
    }

    /// <summary>`diagnose vpn tunnel list` in values: each tunnel's name, role and its dec/enc SPIs.</summary>
    public static IReadOnlyList<TunnelView> ParseTunnels(string text)
    {
        var result = new List<TunnelView>();
        foreach (var block in Regex.Split(text, @"(?m)^(?=name=)").Where(b => b.StartsWith("name=", StringComparison.Ordinal)))
        {
            var name = Regex.Match(block, @"^name=(\S+)").Groups[1].Value;
            // A role word this reader does not know (output of another version) is no tunnel it can reason about: skipped.
            if (!TunnelRoles.TryParse(Regex.Match(block, @"role=(\S+)").Groups[1].Value, out var role)) continue;
            uint Spi(string dir) => Regex.Match(block, $@"{dir}: spi=([0-9a-f]+)") is { Success: true } m ? uint.Parse(m.Groups[1].Value, NumberStyles.HexNumber) : 0;
            var remote = Regex.Match(block, @"^name=\S+ .*?->(\d+\.\d+\.\d+\.\d+):") is { Success: true } r ? r.Groups[1].Value : null;
            result.Add(new TunnelView(name, role, Spi("dec"), Spi("enc"), remote));
        }
        return result;
    }

    public IReadOnlyList<NextHopView> RouterNextHops()
    {
        if (_routerStatus is null) return [];
        string text;
        try { text = File.ReadAllText(_routerStatus); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
        return ParseRouterStatus(text).Where(h => _cast.HopUnits.ContainsKey(h.Address))
            .Select(h => new NextHopView(h.Address, _cast.HopUnits[h.Address], h.Alive)).ToList();
    }

    private static readonly HttpClient MetricsHttp = new() { Timeout = TimeSpan.FromSeconds(3) };

    /// <summary>From the unit's Prometheus metrics on the management network (the host reaches it, as the observability
    /// profile's Prometheus does): what the unit itself counted, so a figure means the same in both labs.</summary>
    public async Task<HeartbeatCount?> Heartbeats(string unit, string port)
    {
        Known(unit);
        var at = _plan.Wiring.First(w => w.Unit == unit).Metrics;
        string text;
        try
        {
            text = await MetricsHttp.GetStringAsync($"http://{at}/metrics");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null; // down, or not answering: as Ha() and Tunnels() say null
        }
        var samples = Hosting.Metrics.PrometheusText.Parse(text);
        double? Count(string name) => samples.FirstOrDefault(m => m.Name == name && m.Labels.GetValueOrDefault("hbdev") == port)?.Value;
        if (Count("fortigate_ha_heartbeats_sent_total") is not { } sent) return null;
        // What the impairment dropped: the port's root netem's own count (`tc -s`), or the nftables fallback's rule counter,
        // in the unit's namespace. Neither: nothing.
        var (tcExit, qdisc) = await InNamespace(unit, "tc", ["-s", "qdisc", "show", "dev", port], timeout: TimeSpan.FromSeconds(10));
        var (nftExit, nft) = await InNamespace(unit, "nft", ["list", "table", "inet", NftTable(port)], timeout: TimeSpan.FromSeconds(10));
        var (byQdisc, byNft) = (tcExit == 0 ? QdiscDropped(qdisc) : 0, nftExit == 0 ? NftDropped(nft) : 0);
        // A datagram netem drops left the socket (the unit counted it sent); one nftables drops fails the send itself
        // (EPERM), so the unit did not count it: added back, "sent" is what the unit sent either way.
        return new HeartbeatCount((long)sent + byNft, (long)(Count("fortigate_ha_heartbeats_received_total") ?? 0), byQdisc + byNft);
    }

    /// <summary>The packets a port's root netem dropped, from `tc -s qdisc show dev PORT` ("Sent … (dropped N, …)"); 0 without netem.</summary>
    public static long QdiscDropped(string tcStats)
    {
        var netem = Regex.Match(tcStats, @"qdisc netem [^\n]*\n\s*Sent \d+ bytes \d+ pkt \(dropped (\d+)");
        return netem.Success ? long.Parse(netem.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    public Task Impair(string unit, string port, ClusterActors.Actors.DataPlane.ImpairmentSpec? spec, long seed) => Impair(unit, port, spec);

    public ClientView Client()
    {
        if (_swan is not null) return _swan.Counters();
        var view = Commands.LabClientCommand.ClientViewOf(Control("counters", TimeSpan.FromSeconds(5)).GetAwaiter().GetResult());
        if (view.AntiReplayDrops is not > 0) return view;
        // Which frames CLIENT1 refused (SPI, number, why, the window's highest): the run's pcaps say who sent them.
        var drops = Control("drops", TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
        return view with { AntiReplayTrace = drops.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) };
    }

    /// <summary>The lab as laid out (addresses of each unit's endpoints).</summary>
    private readonly DockerLabPlan _plan;

    private DockerCaptures? _captures;

    /// <summary>
    /// The run's pcaps (one per captured bridge, <see cref="DockerCaptures"/>), and the ESP SAs that decrypt CLIENT1's
    /// segment, read from every running unit's `diagnose vpn tunnel list` (the owner's SAs and each standby's copy, so a
    /// rekey's SAs are there too). Called once the run ends, before the lab goes down.
    /// </summary>
    public DrillPackets? SavePackets(string directory, string stem)
    {
        if (_captures is null) return null;
        var files = _captures.Save(directory, stem);
        var sas = new Dictionary<uint, ClusterActors.Protocol.Esp.EspSaOnWire>();
        foreach (var unit in Units)
        {
            // A unit the drill killed or froze says nothing.
            if (TryCli(unit, "diagnose vpn tunnel list").GetAwaiter().GetResult() is not { ExitCode: 0 } list) continue;
            foreach (var sa in DockerCaptures.SasOf(list.Output, DockerCaptures.Proposals(_configs[unit]))) sas.TryAdd(sa.Keys.Spi, sa);
        }
        var wan = _plan.Clients.FirstOrDefault()?.Host.Attachments.FirstOrDefault()?.Network;
        return new DrillPackets(files, wan, sas.Values.ToList());
    }

    private void Known(string unit)
    {
        if (!Units.Contains(unit)) throw new ArgumentException($"no unit {unit} in the topology {_cast.Topology}");
    }

    /// <summary>The machine's stalls from the lab's start (<see cref="MachineStalls"/>): the container lab's measure of how
    /// late the units' and the router's timers ran, which it cannot read inside them.</summary>
    private readonly MachineStalls _stalls = MachineStalls.Watch();

    public bool LatenessIsMachineWide => true;

    public TimeSpan? RouterProbesLate() => _stalls.Late;

    public TimeSpan? UnitTimersLate(string unit)
    {
        lock (_gate) return _down.Contains(unit) ? null : _stalls.Late;
    }

    public async ValueTask DisposeAsync()
    {
        _stalls.Dispose();
        StopProgressPoller();
        _captures?.Dispose();
        Task[] teardowns;
        lock (_gate) teardowns = [.. _teardowns.Values];
        await Task.WhenAll(teardowns);
        lock (_gate)
        {
            foreach (var dbLock in _dbLocks.Values) dbLock.Dispose();
            _dbLocks.Clear();
        }
        if (_up)
        {
            if (Environment.GetEnvironmentVariable("CLUSTERACTORS_DRILL_KEEP") != "1")
            {
                await Run("docker-compose", ComposeDown(), TimeSpan.FromSeconds(120), check: false, _root, WithSwanProfile);
                await Run(Path.Combine(_root, "src/Node/lab/host-bridges.sh"), Bridges("remove"), TimeSpan.FromSeconds(30), check: false);
            }
        }
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { }
        _log.Flush();
    }
}
