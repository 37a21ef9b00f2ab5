using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ClusterActors.Node.Hosting;

/// <summary>
/// One FortiGate unit as a `clusteractors` OS process for the process benchmarks (sa-sync, footprint): started with its
/// output in NAME.log under the run's folder, asked through its admin endpoint, and killed by its own pid only.
/// </summary>
internal class UnitProcess(string name, IPEndPoint admin, string args)
{
    private Process? _process;
    private StreamWriter? _log;
    private string? _logPath;

    public string Name => name;
    public int Pid => _process!.Id;
    public bool Exited => _process is { HasExited: true };
    public int ExitCode => _process!.ExitCode;

    /// <summary>The Node build output is copied beside the benchmark (project reference), hocon/ and scenarios/ included.</summary>
    private static string Executable => Path.Combine(AppContext.BaseDirectory, "clusteractors.dll");

    public void Start(string root, IReadOnlyList<(string Name, string Value)>? environment = null)
    {
        _logPath = Path.Combine(root, name + ".log");
        _log = new StreamWriter(_logPath) { AutoFlush = true };
        var psi = new ProcessStartInfo("dotnet", $"\"{Executable}\" {args}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = root
        };
        foreach (var (k, v) in environment ?? []) psi.Environment[k] = v;
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => Log(e.Data);
        _process.ErrorDataReceived += (_, e) => Log(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    private void Log(string? line)
    {
        if (line is null) return;
        lock (this)
        {
            try { _log?.WriteLine(line); } catch (ObjectDisposedException) { }
        }
    }

    public string LogTail()
    {
        try
        {
            lock (this) _log?.Flush();
            return string.Join('\n', File.ReadAllLines(_logPath!).TakeLast(30));
        }
        catch (Exception e) when (e is IOException or ArgumentNullException)
        {
            return "(no log)";
        }
    }

    /// <summary>The lines of the unit's log so far that contain <paramref name="text"/> (ordinal).</summary>
    public IReadOnlyList<string> LogLinesContaining(string text)
    {
        try
        {
            lock (this) _log?.Flush();
            return File.ReadLines(_logPath!).Where(l => l.Contains(text, StringComparison.Ordinal)).ToList();
        }
        catch (Exception e) when (e is IOException or ArgumentNullException)
        {
            return [];
        }
    }

    public async Task<string?> Cli(string command)
    {
        try
        {
            var r = await AdminClient.RunAsync(admin, command, TimeSpan.FromSeconds(3));
            return r.ExitCode == 0 ? r.Output : null;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or AdminRefusedException)
        {
            return null;
        }
    }

    /// <summary>The process's CPU time so far.</summary>
    public TimeSpan Cpu()
    {
        _process!.Refresh();
        return _process.TotalProcessorTime;
    }

    /// <summary>SIGKILL of this process only (its pid); the data folder goes with the benchmark's temp folder.</summary>
    public void Stop()
    {
        try
        {
            if (_process is { HasExited: false } p)
            {
                p.Kill(entireProcessTree: false);
                p.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException) { /* never started or already gone */ }
        lock (this)
        {
            _log?.Dispose();
            _log = null;
        }
    }
}

/// <summary>Where one unit of a process lab lives: its files under the run's folder, its loopback endpoints, its command line.</summary>
internal sealed record UnitProcessLayout(string Name, ClusterActors.Protocol.Config.ConfigDocument Config, IPEndPoint Admin, IPEndPoint Ike,
    string Trace, string Args);

/// <summary>The process benchmarks' lab: seed units as `clusteractors node` processes on loopback (sa-sync, footprint).</summary>
internal static class ProcessLab
{
    /// <summary>
    /// Writes each unit's config, its wiring (free loopback ports for Akka, admin, IKE and the port4 heartbeat, the
    /// pair's heartbeat peers by HA group, the opt-in trace) and a lab CA's certificates under <paramref name="root"/>.
    /// </summary>
    public static IReadOnlyList<UnitProcessLayout> Write(string root, IReadOnlyList<string> units,
        Func<string, ClusterActors.Protocol.Config.ConfigDocument> configOf, string extraHocon)
    {
        var akka = units.ToDictionary(u => u, _ => LoopbackLab.FreeTcpPort());
        var admin = units.ToDictionary(u => u, _ => LoopbackLab.FreeTcpPort());
        var hb = units.ToDictionary(u => u, _ => LoopbackLab.FreeUdpPort());
        var ike = units.ToDictionary(u => u, _ => LoopbackLab.FreeUdpPort());
        var configs = units.ToDictionary(u => u, configOf);
        var contacts = string.Join(", ", units.Select(u => $"\"akka.tcp://{UnitHost.SystemName}@127.0.0.1:{akka[u]}\""));
        var certs = Path.Combine(root, "certs");
        LabCertificateAuthority.Create().WriteTo(certs, units.Select(u => (u, configs[u].SerialNumber!)));
        var result = new List<UnitProcessLayout>();
        foreach (var name in units)
        {
            var config = configs[name];
            var configFile = Path.Combine(root, name + ".conf");
            File.WriteAllText(configFile, config.ToText());
            var peers = units.Where(o => o != name && configs[o].Ha.GroupId == config.Ha.GroupId).Select(o => $"\"127.0.0.1:{hb[o]}\"");
            var trace = Path.Combine(root, name + ".trace");
            var wiring = Path.Combine(root, name + ".hocon");
            File.WriteAllText(wiring, $$"""
                clusteractors.unit {
                  akka = "127.0.0.1:{{akka[name]}}"
                  admin = "127.0.0.1:{{admin[name]}}"
                  ike = "127.0.0.1:{{ike[name]}}"
                  contacts = [{{contacts}}]
                  hbdev.port4 { bind = "127.0.0.1:{{hb[name]}}", peers = [{{string.Join(", ", peers)}}] }
                  trace-tunnels = "{{trace}}"
                  certs = "{{certs}}"
                }
                {{extraHocon}}
                """);
            result.Add(new UnitProcessLayout(name, config, new IPEndPoint(IPAddress.Loopback, admin[name]), new IPEndPoint(IPAddress.Loopback, ike[name]),
                trace, $"node --config \"{configFile}\" --hocon \"{wiring}\" --data \"{Path.Combine(root, name)}\""));
        }
        return result;
    }

    /// <summary>Polls <paramref name="condition"/> every <paramref name="poll"/> until it holds; fails at once, naming the unit,
    /// when one of <paramref name="units"/> exited meanwhile, and after <paramref name="within"/>.</summary>
    public static async Task<TimeSpan> Until(Func<Task<bool>> condition, TimeSpan within, string what, IEnumerable<UnitProcess> units,
        TimeSpan poll, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < within)
        {
            if (await condition()) return sw.Elapsed;
            if (units.FirstOrDefault(u => u.Exited) is { } dead)
                throw new TimeoutException($"{dead.Name} exited (code {dead.ExitCode}) while waiting for {what}");
            await Task.Delay(poll, ct);
        }
        throw new TimeoutException($"not within {within.TotalSeconds:0} s: {what}");
    }

    /// <summary>The serial both members of an FGCP pair name as their primary, once both see two members in state work; else null.</summary>
    public static async Task<string?> AgreedPrimary(UnitProcess a, UnitProcess b)
    {
        static string? Of(string? status)
        {
            if (status is null || !status.Contains("state=work")) return null;
            var members = status.Split('\n').Where(l => l.Contains("serialno_prio=")).ToList();
            if (members.Count != 2) return null;
            return members.FirstOrDefault(l => l.Contains(":      Primary,"))?[..16];
        }
        var pa = Of(await a.Cli("diagnose sys ha status"));
        var pb = Of(await b.Cli("diagnose sys ha status"));
        return pa is not null && pa == pb ? pa : null;
    }
}
