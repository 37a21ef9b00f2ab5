using System.Diagnostics;
using System.Net;
using ClusterActors.Actors.Persistence;
using ClusterActors.Actors.Unit;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Config;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ClusterActors.Node.Tests.Storage;

/// <summary>
/// One spec per storage fault of issue 10 point 4 (decisions in src/Actors/Persistence/README.md): a unit never says
/// "up" on a database it cannot read, a change that cannot be journaled is refused with an error, and writes resume
/// once the database is back.
/// </summary>
public sealed class StorageFaultSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-storage-").FullName;
    private readonly List<string> _said = new();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    [Fact]
    public async Task A_corrupt_SQLite_file_ends_the_node_with_one_line_naming_the_file_and_a_non_zero_exit()
    {
        var data = Path.Combine(_dir, "data");
        Directory.CreateDirectory(data);
        var db = Path.Combine(data, PersistenceHocon.SqliteFile);
        File.WriteAllBytes(db, Enumerable.Range(0, 20_000).Select(i => (byte)(i * 7919 % 251)).ToArray());
        var (configFile, wiring) = NodeFiles();

        var psi = new ProcessStartInfo("dotnet", $"\"{UnitProcess.Executable}\" node --config \"{configFile}\" --hocon \"{wiring}\" --data \"{data}\"")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = AppContext.BaseDirectory
        };
        using var node = Process.Start(psi)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        if (!node.WaitForExit(30_000))
        {
            node.Kill();
            Assert.Fail($"the node kept running on a corrupt database; it said:\n{await stdout}{Head(await stderr)}");
        }
        var output = (await stdout + await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEqual(0, node.ExitCode);
        Assert.DoesNotContain(output, l => l.Contains(" up:"));
        var line = Assert.Single(output);
        Assert.Contains(db, line);
        Assert.Contains("Corrupt", line);
    }

    [Fact]
    public async Task A_locked_SQLite_file_makes_the_start_wait_saying_so_and_the_unit_starts_once_it_is_released()
    {
        var data = Path.Combine(_dir, "data");
        Directory.CreateDirectory(data);
        var db = Path.Combine(data, PersistenceHocon.SqliteFile);
        var holder = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = db, Pooling = false }.ConnectionString);
        holder.Open();
        using (var lockIt = holder.CreateCommand())
        {
            lockIt.CommandText = "BEGIN EXCLUSIVE; CREATE TABLE another_process(x);";
            lockIt.ExecuteNonQuery();
        }

        var start = UnitHost.StartAsync(Options(data), say: Say);
        await Task.WhenAny(start, Task.Delay(TimeSpan.FromSeconds(6)));
        if (start.IsCompletedSuccessfully) await start.Result.KillAsync();
        Assert.False(start.IsCompleted, "the unit started on a database another process holds locked");
        Assert.Contains(Said(), l => l.Contains(db) && l.Contains("Locked"));

        using (var release = holder.CreateCommand())
        {
            release.CommandText = "ROLLBACK";
            release.ExecuteNonQuery();
        }
        holder.Dispose();
        var host = await start.WaitAsync(TimeSpan.FromSeconds(30));
        try
        {
            Assert.Equal(0, (await host.CliAsync("config system global\nset hostname \"AFTER_LOCK\"\nend", FirstAfterStart)).ExitCode);
            Assert.Contains("AFTER_LOCK", (await host.CliAsync("show system global")).Output);
        }
        finally
        {
            await host.KillAsync();
        }
    }

    [Fact]
    public async Task A_full_disk_refuses_a_cli_change_with_an_error_keeps_FGCP_answering_and_writes_resume_when_space_is_back()
    {
        var mount = Path.Combine(_dir, "tmpfs");
        Directory.CreateDirectory(mount);
        Run("mount", $"-t tmpfs -o size=256k tmpfs \"{mount}\"");
        try
        {
            var options = Options(Path.Combine(mount, "data"));
            var host = await UnitHost.StartAsync(options, say: Say);
            try
            {
                Assert.Equal(0, (await host.CliAsync(Rename("BEFORE_FULL"), FirstAfterStart)).ExitCode);

                var filler = Path.Combine(mount, "filler");
                Fill(filler);
                var refused = await host.CliAsync(Rename("WHILE_FULL"));
                Assert.Equal(1, refused.ExitCode);
                Assert.Contains("not applied", refused.Output);
                Assert.DoesNotContain("did not answer", refused.Output);
                Assert.Equal(0, (await host.CliAsync("diagnose sys ha status")).ExitCode);
                Assert.DoesNotContain("WHILE_FULL", (await host.CliAsync("show system global")).Output);

                File.Delete(filler);
                await Until(async () => (await host.CliAsync(Rename("AFTER_FULL"))).ExitCode == 0, TimeSpan.FromSeconds(60),
                    "a change is journaled again once the disk has space");
            }
            finally
            {
                await host.KillAsync();
            }

            var again = await UnitHost.StartAsync(options, say: Say);
            try
            {
                var show = (await again.CliAsync("show system global", FirstAfterStart)).Output;
                Assert.Contains("AFTER_FULL", show);
                Assert.DoesNotContain("WHILE_FULL", show);
            }
            finally
            {
                await again.KillAsync();
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Run("umount", $"-l \"{mount}\"");
        }
    }

    [Fact]
    public async Task PostgreSQL_down_at_start_makes_the_start_wait_saying_so_and_the_unit_starts_when_it_answers()
    {
        using var proxy = new TcpProxy(PostgreSqlEndPoint(), LoopbackLab.FreeTcpPort()); // not started: the server is down
        var start = UnitHost.StartAsync(Options(Path.Combine(_dir, "data"), Hocon.PathOf("persistence-postgresql.conf")),
            say: Say, postgreSql: Through(proxy));
        await Task.WhenAny(start, Task.Delay(TimeSpan.FromSeconds(5)));
        if (start.IsCompletedSuccessfully) await start.Result.KillAsync();
        Assert.False(start.IsCompleted, "the unit started while its PostgreSQL was down");
        Assert.Contains(Said(), l => l.Contains($"PostgreSQL 127.0.0.1:{proxy.Port}/") && l.Contains("Unreachable"));
        // Rate-limited by the backoff: 1 + 2 + 4 s, so at most 3 lines in 5 s, never one per attempt of the plugin.
        Assert.InRange(Said().Count, 1, 3);

        proxy.Start();
        var host = await start.WaitAsync(TimeSpan.FromSeconds(30));
        try
        {
            Assert.Equal(0, (await host.CliAsync(Rename("PG_CAME_UP"), FirstAfterStart)).ExitCode);
        }
        finally
        {
            await host.KillAsync();
        }
    }

    [Fact]
    public async Task PostgreSQL_stopped_mid_run_refuses_a_cli_change_keeps_FGCP_answering_and_writes_resume_when_it_returns()
    {
        using var proxy = new TcpProxy(PostgreSqlEndPoint(), LoopbackLab.FreeTcpPort());
        proxy.Start();
        var options = Options(Path.Combine(_dir, "data"), Hocon.PathOf("persistence-postgresql.conf"));
        var host = await UnitHost.StartAsync(options, say: Say, postgreSql: Through(proxy));
        try
        {
            Assert.Equal(0, (await host.CliAsync(Rename("BEFORE_STOP"), FirstAfterStart)).ExitCode);

            proxy.Stop();
            var refused = await host.CliAsync(Rename("WHILE_STOPPED"));
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("not applied", refused.Output);
            Assert.DoesNotContain("did not answer", refused.Output);
            Assert.Equal(0, (await host.CliAsync("diagnose sys ha status")).ExitCode);
            Assert.DoesNotContain("WHILE_STOPPED", (await host.CliAsync("show system global")).Output);

            proxy.Start();
            await Until(async () => (await host.CliAsync(Rename("AFTER_RETURN"))).ExitCode == 0, TimeSpan.FromSeconds(60),
                "a change is journaled again once PostgreSQL is back");
            Assert.Equal(0, (await host.CliAsync("diagnose sys ha history read")).ExitCode);
        }
        finally
        {
            await host.KillAsync();
        }

        var again = await UnitHost.StartAsync(options, say: Say, postgreSql: Through(proxy));
        try
        {
            var show = (await again.CliAsync("show system global", FirstAfterStart)).Output;
            Assert.Contains("AFTER_RETURN", show);
            Assert.DoesNotContain("WHILE_STOPPED", show);
        }
        finally
        {
            await again.KillAsync();
        }
    }

    /// <summary>The first command after a start waits for the journals' replay: a cold start on a busy shared machine is slow.</summary>
    private static readonly TimeSpan FirstAfterStart = TimeSpan.FromSeconds(30);

    private void Say(string line)
    {
        lock (_said) _said.Add(line);
    }

    private List<string> Said()
    {
        lock (_said) return _said.ToList();
    }

    private static string Rename(string hostname) => $"config system global\nset hostname \"{hostname}\"\nend";

    private static UnitOptions Options(string dataDir, params string[] hocon)
    {
        var serial = "FGVM02TM" + Random.Shared.NextInt64(10_000_000, 99_999_999);
        var config = FortiConfig.Parse($"#serialno={serial}\nconfig system global\n    set hostname \"STORE\"\nend\n").Value!;
        return new UnitOptions("STORE", config, serial, dataDir, new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeTcpPort()),
            new IPEndPoint(IPAddress.Loopback, 0), [], [], hocon) { Tls = LabCertificateAuthority.ForSpecs("STORE", serial) };
    }

    private (string Config, string Wiring) NodeFiles()
    {
        var config = Path.Combine(_dir, "unit.conf");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "scenarios", "seed", "DC2_VM1.conf"), config);
        var wiring = Path.Combine(_dir, "unit.hocon");
        var certs = Path.Combine(_dir, "certs");
        LabCertificateAuthority.Create().WriteTo(certs, [("unit", LoopbackLab.ScenarioConfig("DC2_VM1").SerialNumber!)]);
        File.WriteAllText(wiring, $$"""
            clusteractors.unit {
              akka = "127.0.0.1:{{LoopbackLab.FreeTcpPort()}}"
              admin = "127.0.0.1:{{LoopbackLab.FreeTcpPort()}}"
              contacts = []
              certs = "{{certs}}"
            }
            """);
        return (config, wiring);
    }

    private static string PostgreSqlConnection()
    {
        var cs = Environment.GetEnvironmentVariable("CLUSTERACTORS_PG");
        Assert.False(string.IsNullOrEmpty(cs), "CLUSTERACTORS_PG is not set: start PostgreSQL with .ci/postgres-start (see README)");
        return cs!;
    }

    private static IPEndPoint PostgreSqlEndPoint()
    {
        var b = new NpgsqlConnectionStringBuilder(PostgreSqlConnection());
        return new IPEndPoint(IPAddress.Parse(b.Host!), b.Port);
    }

    private static string Through(TcpProxy proxy) =>
        new NpgsqlConnectionStringBuilder(PostgreSqlConnection()) { Host = "127.0.0.1", Port = proxy.Port }.ConnectionString;

    private static void Fill(string path)
    {
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 4096);
        var block = new byte[4096];
        try
        {
            for (var i = 0; i < 1_000; i++) { f.Write(block); f.Flush(flushToDisk: true); }
        }
        catch (IOException)
        {
            return; // the disk is full
        }
        Assert.Fail("the 256k tmpfs did not fill up");
    }

    private static void Run(string tool, string args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(tool, args) { RedirectStandardError = true, UseShellExecute = false })!;
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"{tool} {args} failed ({p.ExitCode}): {err} (this spec runs as root: it mounts a tmpfs)");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Fail($"{tool} is missing: install the Debian package mount");
        }
    }

    private static async Task Until(Func<Task<bool>> condition, TimeSpan within, string what)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < within)
        {
            if (await condition()) return;
            await Task.Delay(1000);
        }
        Assert.Fail($"not within {within.TotalSeconds:0} s: {what}");
    }

    private static string Head(string text) => string.Join('\n', text.Split('\n').Take(20));
}
