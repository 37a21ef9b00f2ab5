using System.Diagnostics;
using System.Net;
using System.Text;
using ClusterActors.Actors.Unit;
using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Tests;

/// <summary>A real `clusteractors node` OS process, as a user runs it, that a test can kill -9 and restart.</summary>
public sealed class UnitProcess : IDisposable
{
    private readonly string _args;
    private Process? _process;
    private readonly StringBuilder _log = new();

    public UnitProcess(string args, IPEndPoint admin)
    {
        _args = args;
        Admin = admin;
    }

    public IPEndPoint Admin { get; }
    public string Log { get { lock (_log) return _log.ToString(); } }
    public int? Pid => _process is { HasExited: false } p ? p.Id : null;

    public static string Executable => Path.Combine(AppContext.BaseDirectory, "clusteractors.dll");

    public void Start()
    {
        var psi = new ProcessStartInfo("dotnet", $"\"{Executable}\" {_args}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory
        };
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>SIGKILL: no shutdown hooks, no goodbye, as `kill -9`.</summary>
    public void Kill9()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: false);
            p.WaitForExit(5000);
        }
    }

    public async Task<CliResult?> TryCli(string command, int timeoutMs = 2000)
    {
        try
        {
            return await AdminClient.RunAsync(Admin, command, TimeSpan.FromMilliseconds(timeoutMs));
        }
        catch (Exception)
        {
            return null;
        }
    }

    /// <summary>
    /// For a spec's failure message when the process did not get where it should: alive or exited (code), its state,
    /// threads, CPU time and RSS from /proc, how its threads wait (state and kernel wait channel, counted), and whether
    /// its admin endpoint answers `get system status` (a unit that answers runs, and only its output stalled).
    /// </summary>
    public async Task<string> Diagnose()
    {
        if (_process is null) return "not started";
        if (_process.HasExited) return $"exited with code {_process.ExitCode}";
        var pid = _process.Id;
        var text = new StringBuilder($"pid {pid} alive");
        try
        {
            var status = File.ReadAllLines($"/proc/{pid}/status");
            foreach (var key in new[] { "State:", "Threads:", "VmRSS:" })
                text.Append("; ").Append(status.FirstOrDefault(l => l.StartsWith(key))?.Replace('\t', ' ') ?? key + " ?");
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            text.Append($"; cpu {(long.Parse(fields[11]) + long.Parse(fields[12])) * 10} ms");
            var waits = Directory.GetDirectories($"/proc/{pid}/task").Select(t =>
            {
                try
                {
                    var ts = File.ReadAllText(Path.Combine(t, "stat"));
                    var state = ts[(ts.LastIndexOf(')') + 2)..].Split(' ')[0];
                    var wchan = File.Exists(Path.Combine(t, "wchan")) ? File.ReadAllText(Path.Combine(t, "wchan")) : "?";
                    return $"{state}:{(wchan is "" or "0" ? "-" : wchan)}";
                }
                catch (IOException) { return "gone"; }
            }).GroupBy(w => w).OrderByDescending(g => g.Count()).Select(g => $"{g.Count()}×{g.Key}");
            text.Append("; threads by state:wait ").Append(string.Join(", ", waits));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            text.Append($"; /proc unreadable ({e.Message})");
        }
        var cli = await TryCli("get system status", 3000);
        text.Append(cli is null ? "; admin endpoint: no answer in 3 s" : $"; admin endpoint answers ({cli.Output.Split('\n').FirstOrDefault()})");
        return text.ToString();
    }

    public void Dispose() => Kill9();
}
