using System.Diagnostics;

namespace ClusterActors.Node.Tests.Cli;

/// <summary>
/// One detached tmux session named "cli" on a private server socket (Debian's tmux): keys sent with send-keys, the
/// screen read with capture-pane. The specs that type into a real terminal share it (TmuxCliSpec, DockerCliSpec).
/// </summary>
public sealed class TmuxSession : IDisposable
{
    /// <summary>A private tmux server's socket (-S), removed at the end: tmux leaves it behind when its last session ends.</summary>
    private readonly string _socket = Path.Combine(Path.GetTempPath(), "clusteractors-cli-" + Guid.NewGuid().ToString("N")[..8] + ".tmux");

    public void Dispose()
    {
        try { Tmux("kill-server"); } catch { /* no server was started, or it ended with its last session */ }
        try { File.Delete(_socket); } catch { /* best effort */ }
    }

    /// <summary>Starts the session running <paramref name="command"/> in a terminal of that size.</summary>
    public void Start(string command, int width = 160, int height = 60) =>
        Tmux("new-session", "-d", "-s", "cli", "-x", width.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-y", height.ToString(System.Globalization.CultureInfo.InvariantCulture), command);

    public string Tmux(params string[] args)
    {
        var psi = new ProcessStartInfo(RequiredTool.Path("tmux")) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-S");
        psi.ArgumentList.Add(_socket);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var text = p.StandardOutput.ReadToEnd();
        var err = p.StandardError.ReadToEnd();
        if (!p.WaitForExit(10_000)) throw new TimeoutException($"tmux {string.Join(' ', args)}");
        if (p.ExitCode != 0) throw new InvalidOperationException($"tmux {string.Join(' ', args)}: exit {p.ExitCode}: {err}");
        return text;
    }

    /// <summary>Types <paramref name="text"/> literally (-l: tmux would read "end" as the End key), then the key named <paramref name="key"/>.</summary>
    public void Type(string text, string? key)
    {
        Tmux("send-keys", "-t", "cli", "-l", text);
        if (key is not null) Tmux("send-keys", "-t", "cli", key);
    }

    public string Screen() => Tmux("capture-pane", "-p", "-t", "cli", "-S", "-200");

    /// <summary>The screen once <paramref name="done"/> holds for it; fails with the screen after the time.</summary>
    public async Task<string> Until(Func<string, bool> done, string what, int seconds = 20)
    {
        var sw = Stopwatch.StartNew();
        var screen = "";
        while (sw.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            try
            {
                screen = Screen();
            }
            catch (InvalidOperationException)
            {
                Assert.Fail($"the cli's tmux session ended before: {what}; the last screen:\n{screen}");
            }
            if (done(screen)) return screen;
            await Task.Delay(100);
        }
        Assert.Fail($"not within {seconds} s: {what}; the screen:\n{screen}");
        return screen;
    }

    public static string LastLine(string screen) => screen.TrimEnd('\n', ' ').Split('\n')[^1];

    /// <summary>The tmux session runs (the server exits with its last session, and then answers nothing).</summary>
    public bool Alive()
    {
        try { return Tmux("list-sessions", "-F", "#{session_name}").Split('\n').Contains("cli"); }
        catch (InvalidOperationException) { return false; }
    }
}
