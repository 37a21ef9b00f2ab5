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

    public void Dispose() => Kill9();
}
