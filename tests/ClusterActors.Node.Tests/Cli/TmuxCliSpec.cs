using System.Diagnostics;
using ClusterActors.Node.Commands;
using ClusterActors.Node.Hosting;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Cli;

/// <summary>
/// Issue 14's acceptance for the interactive CLI, typed into a real terminal: a `clusteractors node` process for DC2_VM1
/// and DC2_VM2 on loopback, `clusteractors cli --node …` in a detached tmux session (Debian's tmux, on a private server
/// socket), keys sent with send-keys and the screen read with capture-pane.
/// </summary>
[Collection(RealProcessesCollection.Name)]
public sealed class TmuxCliSpec(ITestOutputHelper output) : IDisposable
{
    private readonly RealProcessFailoverSpec _lab = new(output);
    private readonly TmuxSession _tmux = new();

    public void Dispose()
    {
        _tmux.Dispose();
        _lab.Dispose();
    }

    private string Tmux(params string[] args) => _tmux.Tmux(args);
    private void Type(string text, string? key) => _tmux.Type(text, key);
    private string Screen() => _tmux.Screen();
    private Task<string> Until(Func<string, bool> done, string what, int seconds = 20) => _tmux.Until(done, what, seconds);
    private static string LastLine(string screen) => TmuxSession.LastLine(screen);
    private bool SessionAlive() => _tmux.Alive();

    [Fact]
    public async Task An_operator_types_into_the_console_of_DC2_VM1()
    {
        RequiredTool.Check("tmux");
        var (vm1, vm2) = _lab.Define("config system ha\nset hello-holddown 5\nend");
        vm1.Start();
        vm2.Start();
        var sw = Stopwatch.StartNew();
        while ((await vm1.TryCli("get system status", 2000))?.ExitCode != 0)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), "DC2_VM1's admin endpoint did not answer within 60 s");
            await Task.Delay(200);
        }

        var cli = $"CLUSTERACTORS_PASSWORD='{AdminCredentials.LabPassword}' dotnet '{UnitProcess.Executable}' cli --node 127.0.0.1:{vm1.Admin.Port} --member DC2_VM2=127.0.0.1:{vm2.Admin.Port}";
        Tmux("new-session", "-d", "-s", "cli", "-x", "160", "-y", "60", cli);
        await Until(s => LastLine(s) == "DC2_VM1 #", "the prompt DC2_VM1 #");

        Type("get system ha status", "Enter");
        var screen = await Until(s => s.Contains("number of vcluster: 1") && LastLine(s) == "DC2_VM1 #", "get system ha status, then the prompt");
        Assert.Contains("DC2_VM1 # get system ha status", screen);
        Assert.Contains("HA Health Status", screen);

        Type("config system ha", "Enter");
        await Until(s => LastLine(s) == "DC2_VM1 (ha) #", "the sub-mode prompt DC2_VM1 (ha) #");

        Type("set prio", "Tab");
        await Until(s => LastLine(s) == "DC2_VM1 (ha) # set priority", "Tab completing set prio to set priority");
        Type("201", "Enter");
        await Until(s => LastLine(s) == "DC2_VM1 (ha) #", "the prompt after set priority 201");

        // show and get in the block: the block with the line just typed, though nothing is saved before `end`.
        Type("show", "Enter");
        await Until(s => s.Contains("DC2_VM1 (ha) # show") && s.Contains("    set priority 201") && LastLine(s) == "DC2_VM1 (ha) #",
            "show in the block printing the typed priority");
        Type("get", "Enter");
        await Until(s => s.Contains("priority            : 201") && LastLine(s) == "DC2_VM1 (ha) #", "get in the block printing priority : 201");
        Assert.DoesNotContain("set priority 201", (await vm1.TryCli("show system ha", 5000))!.Output);

        Type("?", null);
        screen = await Until(s => s.Contains("End and discard last config.") && LastLine(s) == "DC2_VM1 (ha) #", "? listing the sub-mode's commands");
        Assert.Matches(@"(?m)^set +Modify value\.$", screen);
        Assert.Matches(@"(?m)^end +End and save last config\.$", screen);

        Type("end", "Enter");
        await Until(s => LastLine(s) == "DC2_VM1 #", "back to DC2_VM1 # after end");
        // The block typed in the session reached the unit, as a one-shot config command does.
        var shown = await vm1.TryCli("show system ha", 5000);
        Assert.NotNull(shown);
        Assert.Contains("set priority 201", shown!.Output);

        // execute ha manage: the session continues on the member with that HA cluster index (its prompt), by its hostname.
        var status = (await vm1.TryCli("get system ha status", 5000))!.Output;
        var vm2Index = System.Text.RegularExpressions.Regex.Match(status, @"DC2_VM2 +, \S+, HA cluster index = (\d)").Groups[1].Value;
        Assert.NotEqual("", vm2Index);
        Type($"execute ha manage {vm2Index} admin", "Enter");
        await Until(s => LastLine(s) == "DC2_VM2 #", "execute ha manage landing on DC2_VM2's prompt");
        Type("get system status", "Enter");
        screen = await Until(s => s.Contains("Hostname: DC2_VM2") && LastLine(s) == "DC2_VM2 #", "get system status answered by DC2_VM2");

        Type("exit", "Enter");
        var until = Stopwatch.StartNew();
        while (SessionAlive())
        {
            // The screen only when failing: read on every turn it raced the session's end ("no current target").
            if (until.Elapsed > TimeSpan.FromSeconds(10)) Assert.Fail("exit did not end the cli within 10 s:\n" + Screen());
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// `diagnose debug application ike -1` + `diagnose debug enable` in DC2_VM1's console, then `clusteractors client`
    /// dials DC2_VM1 over real UDP: the negotiation prints in the console as FortiOS's `ike 0:…` lines, under the
    /// session's log-filter; after `diagnose debug disable` a second dial prints nothing.
    /// </summary>
    [Fact]
    public async Task IKE_debug_lines_of_a_dial_print_in_the_console_while_debug_is_enabled()
    {
        RequiredTool.Check("tmux");
        var (vm1, vm2) = _lab.Define("config system ha\nset hello-holddown 5\nend");
        vm1.Start();
        vm2.Start();
        var sw = Stopwatch.StartNew();
        while ((await vm1.TryCli("diagnose sys ha status", 1000))?.Output.Contains("FGVM02TM22000002:    Secondary") != true)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), "cluster 1 did not form with DC2_VM1 primary within 60 s");
            await Task.Delay(200);
        }
        var cli = $"CLUSTERACTORS_PASSWORD='{AdminCredentials.LabPassword}' dotnet '{UnitProcess.Executable}' cli --node 127.0.0.1:{vm1.Admin.Port}";
        Tmux("new-session", "-d", "-s", "cli", "-x", "200", "-y", "60", cli);
        await Until(s => LastLine(s) == "DC2_VM1 #", "the prompt DC2_VM1 #");
        foreach (var line in new[] { "diagnose vpn ike log-filter dst-addr4 127.0.0.1", "diagnose debug application ike -1", "diagnose debug enable" })
        {
            Type(line, "Enter");
            await Until(s => s.Contains("DC2_VM1 # " + line) && LastLine(s) == "DC2_VM1 #", line);
        }
        // The console starts reading at its next poll; the dial comes after that.
        await Task.Delay(InteractiveCli.DebugPollInterval * 3);

        var client = Path.Combine(AppContext.BaseDirectory, "scenarios", "seed", "CLIENT1.conf");
        var (exit, stdout, stderr) = CommandLineSpec.Run($"client --config \"{client}\" --gateway 127.0.0.1:{_lab.IkePorts["DC2_VM1"]} --once");
        Assert.True(exit == 0, stdout + stderr);
        var screen = await Until(s => s.Contains("ike 0:vpn1: established IKE SA") && s.Contains("AUTH_RESPONSE"), "the dial's IKE debug lines");
        Assert.Matches(@"(?m)^ike 0: IKEv2 exchange=SA_INIT id=[0-9a-f]{16}/0{16}:00000000 len=\d+$", screen);
        Assert.Matches(@"(?m)^ike 0:vpn1: sent IKE msg \(SA_INIT_RESPONSE\): [\d.]+:\d+->127\.0\.0\.1:\d+, len=\d+, vrf=0, id=", screen);
        Assert.Matches(@"(?m)^ike 0: IKEv2 exchange=AUTH id=[0-9a-f]{16}/[0-9a-f]{16}:00000001 len=\d+$", screen);
        Assert.Equal("DC2_VM1 #", LastLine(screen));

        Type("diagnose debug disable", "Enter");
        await Until(s => LastLine(s) == "DC2_VM1 #" && s.Contains("DC2_VM1 # diagnose debug disable"), "debug disabled");
        var before = System.Text.RegularExpressions.Regex.Count(Screen(), "established IKE SA");
        (exit, stdout, stderr) = CommandLineSpec.Run($"client --config \"{client}\" --gateway 127.0.0.1:{_lab.IkePorts["DC2_VM1"]} --once");
        Assert.True(exit == 0, stdout + stderr);
        await Task.Delay(InteractiveCli.DebugPollInterval * 4);
        Assert.Equal(before, System.Text.RegularExpressions.Regex.Count(Screen(), "established IKE SA"));
    }

    /// <summary>
    /// Ctrl-C while a command runs stops waiting for it and gives the prompt back; the session lives on. The unit is a
    /// stand-in admin endpoint that answers `get system status` (the prompt's hostname) and never answers anything else.
    /// </summary>
    [Fact]
    public async Task Ctrl_C_stops_a_running_command_and_the_session_goes_on()
    {
        RequiredTool.Check("tmux");
        using var stop = new CancellationTokenSource();
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var held = new List<System.Net.Sockets.TcpClient>();
        _ = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var client = await listener.AcceptTcpClientAsync(stop.Token);
                var stream = client.GetStream();
                var request = new MemoryStream();
                await stream.CopyToAsync(request, stop.Token);
                var text = System.Text.Encoding.UTF8.GetString(request.ToArray());
                if (text.EndsWith("get system status", StringComparison.Ordinal))
                {
                    await stream.WriteAsync("exit 0\nHostname: STANDIN\n"u8.ToArray(), stop.Token);
                    client.Dispose();
                }
                else lock (held) held.Add(client); // never answered: a command that runs until stopped
            }
        });
        try
        {
            var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
            Tmux("new-session", "-d", "-s", "cli", "-x", "160", "-y", "40",
                $"CLUSTERACTORS_PASSWORD=x dotnet '{UnitProcess.Executable}' cli --node 127.0.0.1:{port} --timeout 300");
            await Until(s => LastLine(s) == "STANDIN #", "the prompt STANDIN #");
            Type("diagnose sniffer packet any", "Enter");
            await Until(s => s.Contains("STANDIN # diagnose sniffer packet any") && LastLine(s) != "STANDIN #", "the command running");
            await Task.Delay(500);
            Assert.Equal("STANDIN # diagnose sniffer packet any", LastLine(Screen()));
            Tmux("send-keys", "-t", "cli", "C-c");
            var screen = await Until(s => LastLine(s) == "STANDIN #", "the prompt back after Ctrl-C");
            Assert.Contains("(stopped)", screen);
            Assert.True(SessionAlive(), "Ctrl-C ended the cli instead of the command");
        }
        finally
        {
            stop.Cancel();
            listener.Stop();
            lock (held) foreach (var c in held) c.Dispose();
        }
    }
}
