using System.Net;
using System.Text;
using ClusterActors.Actors.Unit;
using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Commands;

/// <summary>
/// `clusteractors cli` at a terminal with no command: the FortiOS console over the admin endpoint. Keys are read one at
/// a time (Console.ReadKey) so that `?` answers at once, without Enter, as FortiOS does; Tab completes, Up/Down walk the
/// history, Ctrl-C clears the line at the prompt and stops waiting for a running command. The decisions are
/// <see cref="CliSession"/>'s; this class only moves keys and text.
/// </summary>
public sealed class InteractiveCli(IPEndPoint endpoint, AdminCredentials? credentials, TimeSpan timeout, Func<string, IPEndPoint?> adminOfHostname)
{
    private IPEndPoint _endpoint = endpoint;
    private AdminCredentials? _credentials = credentials;

    /// <summary>Console output is written under this lock: debug lines arrive while the operator types.</summary>
    private readonly object _console = new();

    /// <summary>The line being typed and the prompt before it, redrawn after debug lines printed over them.</summary>
    private readonly StringBuilder _line = new();
    private string _prompt = "";

    /// <summary>How often the console asks the unit for IKE debug lines while `diagnose debug application ike` is on.</summary>
    public static readonly TimeSpan DebugPollInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>The hostname the unit reports (`get system status`): the prompt's name. Null when the unit cannot be reached.</summary>
    public static async Task<string?> HostnameOf(IPEndPoint endpoint, AdminCredentials? credentials, TimeSpan timeout)
    {
        var r = await AdminClient.RunAsync(endpoint, "get system status", timeout, credentials);
        return r.ExitCode != 0 ? null
            : r.Output.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("Hostname: ", StringComparison.Ordinal))?["Hostname: ".Length..];
    }

    public async Task<int> RunAsync(CancellationToken cancel)
    {
        string? hostname;
        try
        {
            hostname = await HostnameOf(_endpoint, _credentials, timeout);
        }
        catch (AdminRefusedException e)
        {
            Console.Error.WriteLine($"clusteractors cli: {e.Message}");
            return 3;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or OperationCanceledException)
        {
            Console.Error.WriteLine($"clusteractors cli: cannot reach the unit at {_endpoint}: {e.Message}");
            return 3;
        }
        var session = new CliSession(hostname ?? _endpoint.ToString());
        CancellationTokenSource? running = null;
        // Ctrl-C never ends the process here: it stops the command being waited for, or clears the line at the prompt.
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            running?.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using var stopDebug = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var debug = Task.Run(() => PollIkeDebug(session, stopDebug.Token));
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                var line = ReadLine(session);
                if (line is null) return 0;
                var step = session.Enter(line);
                switch (step)
                {
                    case CliExit:
                        return 0;
                    case CliPrint p:
                        Write(p.Text);
                        break;
                    case CliRunOnUnit run:
                        running = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                        try
                        {
                            Write(await Run(run.Command, running.Token));
                        }
                        finally
                        {
                            running.Dispose();
                            running = null;
                        }
                        break;
                    case CliManage manage:
                        Write(await Manage(session, manage));
                        break;
                }
            }
            return 0;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            stopDebug.Cancel();
            try
            {
                await debug;
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    /// <summary>
    /// While the session has IKE debug on, asks the unit for the lines since the last ask (`diagnose debug application
    /// ike read`) and prints them above the line being typed. Bounded on both sides: the unit keeps a ring and gives at
    /// most a few hundred events an ask; what the console missed is said in one line.
    /// </summary>
    private async Task PollIkeDebug(CliSession session, CancellationToken cancel)
    {
        long cursor = -1;
        IPEndPoint? from = null;
        while (!cancel.IsCancellationRequested)
        {
            await Task.Delay(DebugPollInterval, cancel);
            if (!session.IkeDebugOn || !Equals(from, _endpoint))
            {
                cursor = -1;
                from = _endpoint;
                if (!session.IkeDebugOn) continue;
            }
            var f = session.IkeFilter;
            var command = $"diagnose debug application ike read {cursor}" + (f.Name is null ? "" : $" name {f.Name}") + (f.DstAddr4 is null ? "" : $" dst-addr4 {f.DstAddr4}");
            string output;
            try
            {
                var r = await AdminClient.RunAsync(_endpoint, command, timeout, _credentials);
                if (r.ExitCode != 0) continue;
                output = r.Output;
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or AdminRefusedException)
            {
                continue;
            }
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var head = lines.Length > 0 ? lines[0].Split(' ') : [];
            if (head.Length != 3 || head[0] != "cursor" || !long.TryParse(head[1], out var next) || !long.TryParse(head[2], out var missed)) continue;
            cursor = next;
            var text = new StringBuilder();
            if (missed > 0) text.Append($"({missed} IKE debug events were not printed: the console fell behind)\n");
            foreach (var l in lines.Skip(1)) text.Append(l).Append('\n');
            if (text.Length > 0) PrintAbove(text.ToString());
        }
    }

    /// <summary>Prints <paramref name="text"/> on its own lines, then the prompt and the line being typed again.</summary>
    private void PrintAbove(string text)
    {
        lock (_console)
        {
            Console.Out.Write("\r\u001b[K" + text + _prompt + _line);
            Console.Out.Flush();
        }
    }

    private void Write(string text)
    {
        lock (_console) Console.Out.Write(text);
    }

    private async Task<string> Run(string command, CancellationToken cancel)
    {
        try
        {
            var answer = AdminClient.RunAsync(_endpoint, command, timeout, _credentials);
            var done = await Task.WhenAny(answer, Task.Delay(Timeout.Infinite, cancel));
            if (done != answer) return "\n(stopped)\n";
            var result = await answer;
            return result.Output.Length == 0 || result.Output.EndsWith('\n') ? result.Output : result.Output + "\n";
        }
        catch (AdminRefusedException e)
        {
            return e.Message + "\n";
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or OperationCanceledException)
        {
            return $"cannot reach the unit at {_endpoint}: {e.Message}\n";
        }
    }

    /// <summary>
    /// `execute ha manage INDEX USER`: the member with that HA cluster index in `get system ha status`, reached at the
    /// admin endpoint its hostname has in the scenario (the lab's stand-in for FortiOS's hop over the HA link).
    /// </summary>
    private async Task<string> Manage(CliSession session, CliManage manage)
    {
        var status = await Run("get system ha status", CancellationToken.None);
        var marker = $"HA cluster index = {manage.Index}";
        var line = status.Split('\n').FirstOrDefault(l => l.TrimEnd().EndsWith(marker, StringComparison.Ordinal));
        if (line is null) return CliSession.Fail($"no cluster member has HA cluster index {manage.Index}");
        // "Secondary   : DC2_VM2         , FGVM…, HA cluster index = 1"
        var peer = line.Split(':', 2)[1].Split(',')[0].Trim();
        var target = adminOfHostname(peer);
        if (target is null) return CliSession.Fail($"{peer}: its admin endpoint is not known (give --scenario to hop between members)");
        var password = _credentials?.Password;
        var credentials = password is null ? null : new AdminCredentials(manage.User, password);
        try
        {
            var hostname = await HostnameOf(target, credentials, timeout) ?? peer;
            _endpoint = target;
            _credentials = credentials;
            session.MovedTo(hostname);
            return "";
        }
        catch (AdminRefusedException e)
        {
            return e.Message + "\n";
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or OperationCanceledException)
        {
            return $"cannot reach {peer} at {target}: {e.Message}\n";
        }
    }

    /// <summary>One line from the keyboard with the session's prompt, `?` help, Tab and history; null at end of input (Ctrl-D on an empty line).</summary>
    private string? ReadLine(CliSession session)
    {
        var line = _line;
        lock (_console)
        {
            line.Clear();
            _prompt = session.Prompt;
            Console.Out.Write(_prompt);
        }
        var historyAt = session.History.Count;
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            lock (_console)
            {
                switch (key.Key)
                {
                    case ConsoleKey.Enter:
                        Console.Out.WriteLine();
                        var entered = line.ToString();
                        line.Clear();
                        _prompt = "";
                        return entered;
                    case ConsoleKey.Backspace:
                        if (line.Length > 0)
                        {
                            line.Length--;
                            Console.Out.Write("\b \b");
                        }
                        continue;
                    case ConsoleKey.Tab:
                        Replace(line, session.Complete(line.ToString()));
                        continue;
                    case ConsoleKey.UpArrow or ConsoleKey.DownArrow:
                        historyAt = Math.Clamp(historyAt + (key.Key == ConsoleKey.UpArrow ? -1 : 1), 0, session.History.Count);
                        Replace(line, historyAt < session.History.Count ? session.History[historyAt] : "");
                        continue;
                }
                if (key.Modifiers.HasFlag(ConsoleModifiers.Control) && key.Key == ConsoleKey.D && line.Length == 0)
                {
                    _prompt = "";
                    return null;
                }
                if (key.Modifiers.HasFlag(ConsoleModifiers.Control) && key.Key == ConsoleKey.C)
                {
                    Console.Out.WriteLine();
                    line.Clear();
                    Console.Out.Write(session.Prompt);
                    continue;
                }
                if (key.KeyChar == '?')
                {
                    // FortiOS answers `?` at once and gives the line back as it was.
                    Console.Out.WriteLine();
                    Console.Out.Write(session.Help(line.ToString()));
                    Console.Out.Write(session.Prompt + line);
                    continue;
                }
                if (key.KeyChar >= ' ' && key.KeyChar != '\x7f')
                {
                    line.Append(key.KeyChar);
                    Console.Out.Write(key.KeyChar);
                }
            }
        }
    }

    private static void Replace(StringBuilder line, string with)
    {
        Console.Out.Write(new string('\b', line.Length) + new string(' ', line.Length) + new string('\b', line.Length));
        line.Clear().Append(with);
        Console.Out.Write(with);
    }
}
