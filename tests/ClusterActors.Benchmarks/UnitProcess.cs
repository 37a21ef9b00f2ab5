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
