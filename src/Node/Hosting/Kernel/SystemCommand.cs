using System.Diagnostics;

namespace ClusterActors.Node.Hosting.Kernel;

/// <summary>The outcome of one external command.</summary>
public sealed record CommandResult(string Command, int ExitCode, string Output, string Error)
{
    public bool Ok => ExitCode == 0;

    public override string ToString() => $"`{Command}` exited {ExitCode}" + (Error.Length > 0 ? ": " + Error.Trim() : "");
}

/// <summary>
/// Runs iproute2 and nftables as child processes, for what runs once (namespace preparation, finding an interface,
/// `set status`), never on a role change: the cluster's addresses move by netlink in-process (<see cref="NetlinkRouteSocket"/>),
/// since a forked `ip` per address delayed a new primary's takeover on a loaded machine. Binaries are looked up on PATH, then in
/// /usr/sbin and /sbin, where Debian puts them and where a non-root PATH does not look.
/// </summary>
public static class SystemCommand
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static long _started;

    /// <summary>Child processes started so far by this process (specs check that a role change starts none).</summary>
    public static long ProcessesStarted => Interlocked.Read(ref _started);

    public static string? Find(string program)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]))
        {
            var candidate = Path.Combine(dir, program);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    public static CommandResult Run(string program, IEnumerable<string> args, string? stdin = null)
    {
        var exe = Find(program) ?? throw new InvalidOperationException(
            $"'{program}' is not installed (looked on PATH, /usr/sbin, /sbin): the kernel packet I/O needs it (Debian: {PackageOf(program)})");
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var text = program + " " + string.Join(' ', psi.ArgumentList);
        Interlocked.Increment(ref _started);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {text}");
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            try { process.Kill(); } catch (InvalidOperationException) { /* exited meanwhile */ }
            throw new TimeoutException($"{text} did not finish within {Timeout.TotalSeconds:0} s");
        }
        return new CommandResult(text, process.ExitCode, output.Result, error.Result);
    }

    /// <summary>`ip ARGS` in namespace <paramref name="ns"/> (`ip -n NS ARGS`), or in the process's own when null.</summary>
    public static CommandResult Ip(string? ns, params string[] args) =>
        Run("ip", ns is null ? args : ["-n", ns, .. args]);

    /// <summary>Like <see cref="Ip"/> but throws with the command's own error when it fails.</summary>
    public static string IpOrThrow(string? ns, params string[] args)
    {
        var r = Ip(ns, args);
        if (!r.Ok) throw new InvalidOperationException(r.ToString());
        return r.Output;
    }

    /// <summary><paramref name="program"/> run inside namespace <paramref name="ns"/> (`ip netns exec`), or here when null.</summary>
    public static CommandResult InNamespace(string? ns, string program, IEnumerable<string> args, string? stdin = null)
    {
        if (ns is null) return Run(program, args, stdin);
        var exe = Find(program) ?? throw new InvalidOperationException(
            $"'{program}' is not installed (looked on PATH, /usr/sbin, /sbin) (Debian: {PackageOf(program)})");
        return Run("ip", ["netns", "exec", ns, exe, .. args], stdin);
    }

    private static string PackageOf(string program) => program switch
    {
        "ip" => "iproute2",
        "nft" => "nftables",
        "iptables" => "iptables",
        _ => program
    };
}
