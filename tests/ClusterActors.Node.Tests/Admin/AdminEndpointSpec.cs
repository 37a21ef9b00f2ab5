using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Unit;
using ClusterActors.Actors.UnitConfig;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Config;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Node.Tests.Admin;

/// <summary>
/// The admin endpoint attacked from the same host (issue 11, items 3 and 6): no, wrong or untrusted credentials, a
/// password guessed until the address is locked out, a 16 MiB request, a slow client, more clients than sessions, and
/// refusals that never carry the request. The unit behind it is a stand-in that answers GetUnitConfig and RunCli, so
/// only the endpoint is under test. Alone in the process (<see cref="ProcessAllocationCollection"/>): the 16 MiB spec
/// bounds what the whole process allocated while the request arrived.
/// </summary>
[Collection(ProcessAllocationCollection.Name)]
public sealed class AdminEndpointSpec(Xunit.Abstractions.ITestOutputHelper output) : TestKit(output: output)
{
    private const string Password = "right-horse-battery";

    private static ConfigDocument Config(string admins = "") => FortiConfig.Parse($$"""
        config system admin
            edit "admin"
                set accprofile "super_admin"
                set password "{{Password}}"
                {{admins}}
            next
        end
        """).Value ?? throw new InvalidOperationException("spec config does not parse");

    /// <summary>Answers like a unit: its config for logins, "ran: COMMAND" for a command (so a spec sees what ran).</summary>
    private sealed class StandInUnit : ReceiveActor
    {
        public static int Ran;

        public StandInUnit(ConfigDocument config)
        {
            Receive<GetUnitConfig>(_ => Sender.Tell(config));
            Receive<RunCli>(c =>
            {
                Interlocked.Increment(ref Ran);
                Sender.Tell(new CliResult("ran: " + c.Command, 0));
            });
        }
    }

    private readonly List<AdminServer> _servers = [];
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-12-06T00:00:00Z"));

    private AdminServer Start(ConfigDocument? config = null, AdminServerLimits? limits = null)
    {
        var unit = Sys.ActorOf(Props.Create(() => new StandInUnit(config ?? Config(""))));
        var server = AdminServer.Start(new IPEndPoint(IPAddress.Loopback, 0), unit, Sys.Log, limits, _time);
        _servers.Add(server);
        return server;
    }

    private static AdminCredentials Right => new("admin", Password);

    private static Task<CliResult> Run(AdminServer s, string command, AdminCredentials? who) =>
        AdminClient.RunAsync(s.EndPoint, command, TimeSpan.FromSeconds(20), who);

    [Fact]
    public async Task The_right_login_runs_the_command()
    {
        var s = Start();
        var r = await Run(s, "diagnose sys ha status", Right);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("ran: diagnose sys ha status", r.Output);
    }

    [Fact]
    public async Task No_credentials_are_refused_and_nothing_runs()
    {
        var s = Start();
        var before = StandInUnit.Ran;
        var e = await Assert.ThrowsAsync<AdminRefusedException>(() => Run(s, "config system global\nset hostname X\nend", null));
        Assert.Equal(AdminRefusal.Login, e.Reason);
        Assert.Equal(before, StandInUnit.Ran);
    }

    [Theory]
    [InlineData("admin", "wrong-password")]
    [InlineData("nobody", Password)]
    [InlineData("Admin", Password)]
    public async Task Wrong_credentials_are_refused(string user, string password)
    {
        var s = Start();
        var e = await Assert.ThrowsAsync<AdminRefusedException>(() => Run(s, "show", new AdminCredentials(user, password)));
        Assert.Equal(AdminRefusal.Login, e.Reason);
    }

    [Fact]
    public async Task An_account_without_a_password_cannot_log_in_even_with_an_empty_one()
    {
        var s = Start(FortiConfig.Parse("config system admin\n    edit \"admin\"\n    next\nend\n").Value!);
        var e = await Assert.ThrowsAsync<AdminRefusedException>(() => Run(s, "show", new AdminCredentials("admin", "")));
        Assert.Equal(AdminRefusal.Login, e.Reason);
    }

    [Fact]
    public async Task A_source_outside_the_accounts_trusthosts_is_refused_and_one_inside_is_let_in()
    {
        var untrusted = Start(Config("set trusthost1 10.0.0.0 255.0.0.0\n        set trusthost2 192.168.1.0/24"));
        var e = await Assert.ThrowsAsync<AdminRefusedException>(() => Run(untrusted, "show", Right));
        Assert.Equal(AdminRefusal.Login, e.Reason);

        var trusted = Start(Config("set trusthost1 10.0.0.0 255.0.0.0\n        set trusthost3 127.0.0.0 255.0.0.0"));
        Assert.Equal(0, (await Run(trusted, "show", Right)).ExitCode);
    }

    [Fact]
    public async Task After_threshold_failures_the_address_is_locked_out_even_with_the_right_password_until_the_duration_has_passed()
    {
        var s = Start(FortiConfig.Parse($"config system global\n    set admin-lockout-threshold 3\n    set admin-lockout-duration 60\nend\n" +
                                        $"config system admin\n    edit \"admin\"\n        set password \"{Password}\"\n    next\nend\n").Value!);
        for (var i = 0; i < 3; i++)
            Assert.Equal(AdminRefusal.Login, (await Assert.ThrowsAsync<AdminRefusedException>(() => Run(s, "show", new AdminCredentials("admin", "guess" + i)))).Reason);

        var locked = await Assert.ThrowsAsync<AdminRefusedException>(() => Run(s, "show", Right));
        Assert.Equal(AdminRefusal.LockedOut, locked.Reason);

        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(AdminRefusal.LockedOut, (await Assert.ThrowsAsync<AdminRefusedException>(() => Run(s, "show", Right))).Reason);
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(0, (await Run(s, "show", Right)).ExitCode);
    }

    [Fact]
    public async Task A_16_MiB_request_gets_a_short_refusal_and_the_endpoint_reads_no_more_than_its_cap()
    {
        var s = Start();
        await Run(s, "warm up", Right); // JIT and pools, so the measurement is the request's alone
        var chunk = new byte[64 * 1024];
        Array.Fill(chunk, (byte)'A');
        const int total = 16 * 1024 * 1024;

        GC.Collect();
        GC.WaitForPendingFinalizers();
        var managedBefore = GC.GetTotalMemory(forceFullCollection: true);
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var rssBefore = Process.GetCurrentProcess().WorkingSet64;

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(s.EndPoint);
        var stream = tcp.GetStream();
        var sent = 0L;
        var sender = Task.Run(async () =>
        {
            try
            {
                for (var i = 0; i < total / chunk.Length; i++)
                {
                    await stream.WriteAsync(chunk);
                    sent += chunk.Length;
                }
            }
            catch (IOException) { /* the endpoint stopped reading and closed: expected */ }
        });
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        int n;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while ((n = await stream.ReadAsync(buffer, cts.Token)) > 0) answer.Write(buffer, 0, n);
        await sender;

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        var managedAfter = GC.GetTotalMemory(forceFullCollection: true);
        var rssGrowth = Process.GetCurrentProcess().WorkingSet64 - rssBefore;
        var text = Encoding.UTF8.GetString(answer.ToArray());

        output.WriteLine($"16 MiB request: sent {sent / 1024} KiB before the close, answer {text.Length} characters, process allocated " +
                         $"{allocated / 1024} KiB, managed heap {(managedAfter - managedBefore) / 1024} KiB, RSS {rssGrowth / 1024} KiB");
        Assert.StartsWith("refused too-large\n", text);
        Assert.True(text.Length < 200, $"answer of {text.Length} characters");
        Assert.DoesNotContain("AAAA", text);
        // Everything the process allocated while 16 MiB arrived (the client's sends included): the endpoint buffers none of it.
        Assert.True(allocated < 10 * 1024 * 1024, $"{allocated / 1024} KiB allocated while a 16 MiB request arrived (sent {sent / 1024} KiB)");
        Assert.True(managedAfter - managedBefore < 10 * 1024 * 1024, $"managed heap grew {(managedAfter - managedBefore) / 1024} KiB");
        Assert.True(rssGrowth < 10 * 1024 * 1024, $"RSS grew {rssGrowth / 1024} KiB");
        Assert.Equal(1, s.Refusals.GetValueOrDefault(AdminRefusal.TooLarge));
    }

    [Fact]
    public async Task A_request_of_exactly_the_cap_is_read_whole()
    {
        var s = Start();
        var login = AdminProtocol.Encode("", Right.User, Right.Password).Length;
        var command = new string('x', AdminProtocol.MaxRequestBytes - login);
        var r = await Run(s, command, Right);
        Assert.Equal("ran: " + command, r.Output);
    }

    [Fact]
    public async Task A_client_that_connects_and_says_nothing_is_dropped_after_the_idle_timeout()
    {
        var s = Start(limits: new AdminServerLimits { IdleTimeout = TimeSpan.FromMilliseconds(500), ReadTimeout = TimeSpan.FromSeconds(10) });
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(s.EndPoint);
        var sw = Stopwatch.StartNew();
        var text = await ReadAll(tcp, TimeSpan.FromSeconds(10));
        Assert.StartsWith("refused timeout\n", text);
        Assert.InRange(sw.Elapsed, TimeSpan.FromMilliseconds(300), TimeSpan.FromSeconds(4));
        tcp.Dispose();
        await AwaitConditionAsync(() => Task.FromResult(s.Sessions == 0), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_slowloris_client_trickling_bytes_is_dropped_at_the_read_timeout()
    {
        var s = Start(limits: new AdminServerLimits { IdleTimeout = TimeSpan.FromSeconds(2), ReadTimeout = TimeSpan.FromSeconds(2) });
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(s.EndPoint);
        var stream = tcp.GetStream();
        var sw = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        var trickle = Task.Run(async () =>
        {
            try
            {
                // One byte every 300 ms: never idle for the idle timeout, never done.
                while (!stop.IsCancellationRequested)
                {
                    await stream.WriteAsync("d"u8.ToArray(), stop.Token);
                    await Task.Delay(300, stop.Token);
                }
            }
            catch (Exception) { }
        });
        var text = await ReadAll(stream, TimeSpan.FromSeconds(15));
        stop.Cancel();
        await trickle;
        Assert.StartsWith("refused timeout\n", text);
        Assert.InRange(sw.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(8));
    }

    [Fact]
    public async Task The_session_after_the_cap_is_refused_busy_and_the_cap_frees_when_sessions_end()
    {
        var s = Start(limits: new AdminServerLimits { MaxSessions = 4, IdleTimeout = TimeSpan.FromSeconds(30), ReadTimeout = TimeSpan.FromSeconds(30) });
        var idle = new List<TcpClient>();
        for (var i = 0; i < 4; i++)
        {
            var c = new TcpClient();
            await c.ConnectAsync(s.EndPoint);
            idle.Add(c);
        }
        await AwaitConditionAsync(() => Task.FromResult(s.Sessions == 4), TimeSpan.FromSeconds(5));

        var busy = await Assert.ThrowsAsync<AdminRefusedException>(() => Run(s, "show", Right));
        Assert.Equal(AdminRefusal.Busy, busy.Reason);

        foreach (var c in idle) c.Dispose();
        await AwaitConditionAsync(() => Task.FromResult(s.Sessions == 0), TimeSpan.FromSeconds(5));
        Assert.Equal(0, (await Run(s, "show", Right)).ExitCode);
    }

    [Fact]
    public async Task Three_hundred_idle_connections_hold_at_most_the_session_cap()
    {
        var s = Start(limits: new AdminServerLimits { MaxSessions = 16, IdleTimeout = TimeSpan.FromSeconds(30), ReadTimeout = TimeSpan.FromSeconds(30) });
        var clients = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 300; i++)
            {
                var c = new TcpClient();
                await c.ConnectAsync(s.EndPoint);
                clients.Add(c);
            }
            await Task.Delay(500);
            Assert.InRange(s.Sessions, 0, 16);
            Assert.True(s.Refusals.GetValueOrDefault(AdminRefusal.Busy) >= 300 - 16 - 5, $"busy refusals {s.Refusals.GetValueOrDefault(AdminRefusal.Busy)}");
        }
        finally
        {
            foreach (var c in clients) c.Dispose();
        }
    }

    [Fact]
    public async Task Refusals_never_carry_the_request()
    {
        // Threshold 10: the three wrong logins below must not lock the address before the malformed request.
        var s = Start(FortiConfig.Parse($"config system global\n    set admin-lockout-threshold 10\nend\n" +
                                        $"config system admin\n    edit \"admin\"\n        set password \"{Password}\"\n    next\nend\n").Value!);
        var inputs = new[]
        {
            ("admin", "ThePasswordTyped1", "config system ha\nset password LeakMeNot42\nend"),
            ("SecretAsUser99", "x", "show"),
            ("admin", "zz", "diagnose sys ha status MarkerWord"),
        };
        foreach (var (user, password, command) in inputs)
        {
            var e = await Assert.ThrowsAsync<AdminRefusedException>(() => Run(s, command, new AdminCredentials(user, password)));
            // "admin" is a word of the constant message itself; every other piece is the request's own.
            foreach (var piece in new[] { user, password, "LeakMeNot42", "MarkerWord" }.Where(p => p != "admin"))
                Assert.DoesNotContain(piece, e.Message);
        }
        // Malformed: a login line with a broken password field.
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(s.EndPoint);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes("login admin !!notbase64SECRETFRAG!!\nshow"));
        tcp.Client.Shutdown(SocketShutdown.Send);
        var text = await ReadAll(stream, TimeSpan.FromSeconds(10));
        Assert.StartsWith("refused malformed\n", text);
        Assert.DoesNotContain("SECRETFRAG", text);
    }

    [Fact]
    public async Task Clusteractors_cli_exits_3_when_refused_and_logs_in_with_the_password_from_a_file_or_the_environment()
    {
        var s = Start();
        var file = Path.GetTempFileName();
        try
        {
            (int Exit, string Out, string Err) Cli(string args, string? password)
            {
                var psi = new ProcessStartInfo("dotnet", $"\"{UnitProcess.Executable}\" cli --node 127.0.0.1:{s.EndPoint.Port} {args}")
                {
                    RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false
                };
                psi.Environment.Remove("CLUSTERACTORS_PASSWORD");
                if (password is not null) psi.Environment["CLUSTERACTORS_PASSWORD"] = password;
                using var p = Process.Start(psi)!;
                p.StandardInput.Close(); // not a terminal: never a prompt
                var stdout = p.StandardOutput.ReadToEndAsync();
                var stderr = p.StandardError.ReadToEndAsync();
                Assert.True(p.WaitForExit(60_000), "clusteractors cli did not finish");
                return (p.ExitCode, stdout.Result, stderr.Result);
            }

            var none = await Task.Run(() => Cli("get system status", null));
            Assert.Equal(3, none.Exit);
            Assert.Contains("login refused", none.Err);

            var wrong = await Task.Run(() => Cli("get system status", "NotThePassword77"));
            Assert.Equal(3, wrong.Exit);
            Assert.Contains("login refused", wrong.Err);
            Assert.DoesNotContain("NotThePassword77", wrong.Err + wrong.Out);

            var env = await Task.Run(() => Cli("get system status", Password));
            Assert.Equal(0, env.Exit);
            Assert.Equal("ran: get system status", env.Out);

            File.WriteAllText(file, Password + "\n");
            var fromFile = await Task.Run(() => Cli($"--user admin --password-file \"{file}\" get system status", "NotThePassword77"));
            Assert.Equal(0, fromFile.Exit); // the file wins over the environment
        }
        finally { File.Delete(file); }
    }

    /// <summary>
    /// Reads to the end on the stream the spec wrote to. Not `tcp.GetStream()` again: once our side is shut down and the
    /// endpoint has answered and closed, TcpClient may count itself disconnected and refuse to hand out a stream.
    /// </summary>
    private static async Task<string> ReadAll(TcpClient tcp, TimeSpan within) => await ReadAll(tcp.GetStream(), within);

    private static async Task<string> ReadAll(Stream stream, TimeSpan within)
    {
        using var cts = new CancellationTokenSource(within);
        var ms = new MemoryStream();
        var buffer = new byte[4096];
        int n;
        try
        {
            while ((n = await stream.ReadAsync(buffer, cts.Token)) > 0) ms.Write(buffer, 0, n);
        }
        catch (IOException) { }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    protected override void Dispose(bool disposing)
    {
        foreach (var s in _servers) s.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>
/// Specs that bound what the whole process allocates (GC.GetTotalAllocatedBytes counts every thread): run with no other
/// test class beside them. A CI trial counted 10,950 KiB against the 16 MiB spec's 10 MiB while other classes ran.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessAllocationCollection
{
    public const string Name = "process-allocation";
}
