using System.Diagnostics;
using System.Globalization;
using ClusterActors.Actors.Unit;
using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.DockerLab;

/// <summary>A program the lab needs is not installed: one line naming it and its Debian package; exit 1.</summary>
public sealed class LabToolMissingException(string message) : Exception(message);

/// <summary>
/// `lab up|down|status --mode docker`: the topology's generated container lab under artifacts/labs/NAME/ (compose
/// file, units' configs and wiring HOCON, the lab CA and unit certificates), run as compose project NAME. `up` starts
/// it the way the docker drill lab does (compose up, the host's bridges opened, then waits until every FGCP cluster
/// has formed with one primary) and prints the status; `down` removes containers, networks and volumes; `status`
/// asks every unit over its management address.
/// </summary>
public sealed class DockerLabLifecycle
{
    private readonly string _root;
    private readonly TextWriter _out;
    private readonly Func<string, string?> _locate;

    /// <param name="locate">Finds a program on PATH (null: missing); the specs pass one that finds nothing.</param>
    public DockerLabLifecycle(LabTopology topology, string root, TextWriter output, Func<string, string?>? locate = null)
    {
        Plan = DockerLabPlan.From(topology);
        _root = root;
        _out = output;
        _locate = locate ?? Locate;
        Project = DockerLabPlan.ServiceName(topology.Name);
        Dir = Path.Combine(root, "artifacts", "labs", Project);
    }

    public DockerLabPlan Plan { get; }

    /// <summary>The compose project: the topology's name as a compose name.</summary>
    public string Project { get; }

    /// <summary>artifacts/labs/NAME: the generated files.</summary>
    public string Dir { get; }

    public string ComposeFilePath => Path.Combine(Dir, "docker-compose.yml");

    private static readonly Dictionary<string, string> Packages = new() { ["docker"] = "docker.io", ["docker-compose"] = "docker-compose" };

    private string Tool(string name) => Require(name, _locate);

    /// <summary>Where <paramref name="name"/> (docker or docker-compose) is; else <see cref="LabToolMissingException"/>, one line
    /// naming it and its Debian package.</summary>
    public static string Require(string name, Func<string, string?>? locate = null) =>
        (locate ?? Locate)(name) ?? throw new LabToolMissingException($"{name} (Debian package {Packages[name]}) is not installed: --mode docker runs the lab in containers (.ci/docker-setup installs it)");

    /// <summary>First <paramref name="name"/> on PATH, or null.</summary>
    public static string? Locate(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    /// <summary>Writes the compose file, each unit's config (the topology's, serial applied) and wiring HOCON, and the
    /// certificates (kept when there: running units keep trusting each other).</summary>
    public void WriteFiles()
    {
        var units = Path.Combine(Dir, "units");
        Directory.CreateDirectory(units);
        var topologyDir = Path.GetDirectoryName(Path.GetFullPath(Plan.Topology.File))!;
        var paths = new ComposePaths("./units", "./certs", topologyDir, Path.Combine(_root, "src/Node/lab/strongswan"));
        File.WriteAllText(ComposeFilePath, ComposeFile.Render(Plan, paths));
        foreach (var unit in Plan.Topology.Units)
        {
            File.WriteAllText(Path.Combine(units, unit.Name + ".conf"), unit.Config.ToText());
            File.WriteAllText(Path.Combine(units, unit.Name + ".hocon"), ComposeFile.UnitHocon(Plan, unit.Name));
        }
        WriteCertificates(Path.Combine(Dir, "certs"), Plan.Topology);
    }

    /// <summary>
    /// The lab CA and a certificate per unit of <paramref name="topology"/> (its serial) in <paramref name="certs"/>, kept
    /// when there (running units keep trusting each other). Also the docker drill lab's, for a topology that is not the seed.
    /// </summary>
    public static void WriteCertificates(string certs, LabTopology topology)
    {
        if (File.Exists(Path.Combine(certs, LabCertificateAuthority.CaFile))) return;
        LabCertificateAuthority.Create().WriteTo(certs, topology.Units.Select(u => (u.Name, u.Serial)));
        // The units read their key as the container's lab user (uid 10001): readable inside the lab only, as
        // build-images.sh leaves artifacts/lab-certs.
        if (!OperatingSystem.IsWindows())
            foreach (var key in Directory.GetFiles(certs, "*.key"))
                File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    private string[] Compose(params string[] args) => ["-p", Project, "-f", ComposeFilePath, .. args];

    private IEnumerable<string> Bridges => Plan.Networks.Where(n => n.Kind != LabNetworkKind.Management).Select(n => n.Bridge);

    public async Task<int> Up(CancellationToken ct)
    {
        var docker = Tool("docker");
        var compose = Tool("docker-compose");
        var sw = Stopwatch.StartNew();
        var (imageExit, _) = await DockerDrillLab.Run(docker, ["image", "inspect", DockerLabPlan.Image], TimeSpan.FromSeconds(30), check: false);
        if (imageExit != 0)
            throw new LabToolMissingException($"the image {DockerLabPlan.Image} is missing: build it with .ci/docker-setup (or src/Node/lab/build-images.sh)");
        WriteFiles();
        await _out.WriteLineAsync($"lab {Plan.Topology.Name}: {ComposeFilePath} ({Plan.Units.Count} units, {Plan.Networks.Count} networks), project {Project}");
        var (_, weight) = await DockerDrillLab.Run(Path.Combine(_root, "src/Node/lab/host-cpu-weight.sh"), [], TimeSpan.FromSeconds(30), check: false);
        if (weight.Trim().Length > 0) await _out.WriteLineAsync(weight.Trim());
        await DockerDrillLab.Run(compose, Compose("up", "-d"), TimeSpan.FromSeconds(180), workDir: Dir);
        await DockerDrillLab.Run(Path.Combine(_root, "src/Node/lab/host-bridges.sh"), ["add", .. Bridges], TimeSpan.FromSeconds(30));
        var within = TimeSpan.FromSeconds(Plan.Topology.Units.Max(u => u.Config.Ha.HelloHolddown) + 60);
        string? missing = "not asked yet";
        while (sw.Elapsed < within && missing is not null)
        {
            missing = LabStatus.NotFormed(Plan.Topology, await AskHa());
            if (missing is not null) await Task.Delay(250, ct);
        }
        await _out.WriteAsync(await Status(ct));
        if (missing is not null)
        {
            await _out.WriteLineAsync($"lab {Plan.Topology.Name} did not form within {within.TotalSeconds:0} s: {missing}");
            return 1;
        }
        if (LabStatus.NotRunning(await OtherStates()) is { } stopped)
        {
            await _out.WriteLineAsync($"lab {Plan.Topology.Name}: its units formed but not every container runs: {stopped}");
            return 1;
        }
        await _out.WriteLineAsync($"lab {Plan.Topology.Name} up in {LabStatus.Seconds(sw.Elapsed)}; `clusteractors lab down --topology {Plan.Topology.Name} --mode docker` removes it");
        return 0;
    }

    public async Task<int> Down(CancellationToken ct)
    {
        Tool("docker");
        var compose = Tool("docker-compose");
        WriteFiles();
        var (exit, output) = await DockerDrillLab.Run(compose, Compose("down", "-t", "1", "-v"), TimeSpan.FromSeconds(120), check: false, workDir: Dir,
            env: new Dictionary<string, string> { ["COMPOSE_PROFILES"] = "strongswan,postgres" });
        await DockerDrillLab.Run(Path.Combine(_root, "src/Node/lab/host-bridges.sh"), ["remove", .. Bridges], TimeSpan.FromSeconds(30), check: false);
        await _out.WriteLineAsync(exit == 0
            ? $"lab {Plan.Topology.Name} down: containers, networks and volumes of project {Project} removed"
            : $"lab {Plan.Topology.Name}: docker-compose down failed ({exit}): {output.Trim()}");
        return exit == 0 ? 0 : 1;
    }

    /// <summary>Each container's state (`docker inspect`: running, exited, …; absent when there is none).</summary>
    private async Task<Dictionary<string, string>> States()
    {
        var docker = Tool("docker");
        var states = new Dictionary<string, string>();
        await Task.WhenAll(Plan.Hosts.Select(async h =>
        {
            var (exit, text) = await DockerDrillLab.Run(docker, ["inspect", "-f", "{{.State.Status}}", h.Service], TimeSpan.FromSeconds(30), check: false);
            lock (states) states[h.Service] = exit == 0 ? text.Trim() : "absent";
        }));
        return states;
    }

    private async Task<IReadOnlyList<(string Host, string State)>> OtherStates()
    {
        var states = await States();
        return Plan.Hosts.Where(h => h.Kind != LabHostKind.Unit).Select(h => (h.Service, states[h.Service])).ToList();
    }

    public async Task<string> Status(CancellationToken ct)
    {
        var states = await States();
        var ha = await AskHa();
        var units = new List<UnitObservation>();
        foreach (var u in Plan.Units)
        {
            var tunnels = await Ask(u.TopologyName, "diagnose vpn tunnel list") is { ExitCode: 0 } r ? DockerDrillLab.ParseTunnels(r.Output) : null;
            units.Add(new UnitObservation(u.TopologyName, $"{states[u.Service]} ({u.Service})", ha[u.TopologyName], tunnels));
        }
        var others = Plan.Hosts.Where(h => h.Kind != LabHostKind.Unit).Select(h => (h.Service, states[h.Service])).ToList();
        return LabStatus.Render(Plan.Topology, $"lab {Plan.Topology.Name} (docker, project {Project}, {ComposeFilePath})", units,
            LabStatus.Addresses(Plan, ha), others);
    }

    private async Task<Dictionary<string, HaView?>> AskHa()
    {
        var answers = await Task.WhenAll(Plan.Units.Select(async u =>
            (u.TopologyName, await Ask(u.TopologyName, "diagnose sys ha status") is { ExitCode: 0 } r ? DockerDrillLab.ParseHa(u.TopologyName, r.Output) : null)));
        return answers.ToDictionary(a => a.TopologyName, a => a.Item2);
    }

    private async Task<CliResult?> Ask(string unit, string command)
    {
        try { return await AdminClient.RunAsync(Plan.Wiring.First(w => w.Unit == unit).Admin, command, TimeSpan.FromSeconds(1)); }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or OperationCanceledException or AdminRefusedException) { return null; }
    }
}

/// <summary>
/// `lab up|status --mode embedded`: every unit of the topology an ActorSystem in this process on the in-memory fabric
/// (the embedded drill lab). An embedded lab lives only as long as its process, so `up` runs in the foreground: it prints
/// the status once the FGCP clusters have formed, again for each `status` (or empty) line on stdin, and stops on `quit`,
/// at the end of stdin or on Ctrl-C; `status` brings the lab up, prints once and stops; `down` has nothing to stop.
/// </summary>
public static class EmbeddedLabLifecycle
{
    public static async Task<int> Run(LabTopology topology, bool once, TextReader input, TextWriter output, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        await using var lab = new EmbeddedDrillLab(new Dictionary<string, string>(), topology);
        await output.WriteLineAsync($"lab {topology.Name}: starting {topology.Units.Count} units in this process");
        foreach (var unit in topology.UnitNames) await lab.Start(unit);
        var within = TimeSpan.FromSeconds(topology.Units.Max(u => u.Config.Ha.HelloHolddown) + 30);
        string? missing = "not asked yet";
        while (sw.Elapsed < within && missing is not null)
        {
            missing = LabStatus.NotFormed(topology, await AskHa(lab, topology));
            if (missing is not null) await Task.Delay(250, ct);
        }
        await output.WriteAsync(await Status(lab, topology));
        if (missing is not null)
        {
            await output.WriteLineAsync($"lab {topology.Name} did not form within {within.TotalSeconds:0} s: {missing}");
            return 1;
        }
        await output.WriteLineAsync($"lab {topology.Name} up in {LabStatus.Seconds(sw.Elapsed)}");
        if (once) return 0;
        await output.WriteLineAsync("type `status` (or an empty line) for the status, `quit` (or Ctrl-C, or end of input) to stop the lab");
        try
        {
            while (await input.ReadLineAsync(ct) is { } line)
            {
                switch (line.Trim())
                {
                    case "" or "status": await output.WriteAsync(await Status(lab, topology)); break;
                    case "quit" or "exit": return 0;
                    default: await output.WriteLineAsync($"unknown command '{line.Trim()}': status or quit"); break;
                }
            }
        }
        catch (OperationCanceledException) { /* Ctrl-C: stop the lab */ }
        await output.WriteLineAsync($"lab {topology.Name} stopped");
        return 0;
    }

    private static async Task<Dictionary<string, HaView?>> AskHa(EmbeddedDrillLab lab, LabTopology topology)
    {
        var result = new Dictionary<string, HaView?>();
        foreach (var unit in topology.UnitNames) result[unit] = await lab.Ha(unit);
        return result;
    }

    private static async Task<string> Status(EmbeddedDrillLab lab, LabTopology topology)
    {
        var ha = await AskHa(lab, topology);
        var units = new List<UnitObservation>();
        foreach (var unit in topology.UnitNames)
            units.Add(new UnitObservation(unit, ha[unit] is null ? "silent" : "running", ha[unit], await lab.Tunnels(unit)));
        return LabStatus.Render(topology, string.Create(CultureInfo.InvariantCulture, $"lab {topology.Name} (embedded, in process {Environment.ProcessId})"),
            units, LabStatus.Addresses(topology, ha));
    }
}
