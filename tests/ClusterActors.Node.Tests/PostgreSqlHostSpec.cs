using System.Net;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Config;

namespace ClusterActors.Node.Tests;

/// <summary>
/// A unit started with hocon/persistence-postgresql.conf keeps its runtime config changes and HA history in
/// PostgreSQL (CLUSTERACTORS_PG, as .ci/postgres-start prints it). Without a server this spec fails.
/// </summary>
public sealed class PostgreSqlHostSpec
{
    [Fact]
    public async Task Runtime_config_changes_and_history_survive_a_restart_on_PostgreSQL()
    {
        var cs = Environment.GetEnvironmentVariable("CLUSTERACTORS_PG");
        Assert.False(string.IsNullOrEmpty(cs), "CLUSTERACTORS_PG is not set: start PostgreSQL with .ci/postgres-start (see README)");

        // A serial of its own so earlier runs' journals in the shared database do not interfere.
        var serial = "FGVM02TM" + Random.Shared.NextInt64(10_000_000, 99_999_999);
        var config = FortiConfig.Parse($"#serialno={serial}\nconfig system global\n    set hostname \"PG_UNIT\"\nend\n").Value!;
        var options = new UnitOptions("PG_UNIT", config, serial, Directory.CreateTempSubdirectory("clusteractors-pg-").FullName,
            new IPEndPoint(IPAddress.Loopback, RealProcessFailoverSpec.FreeTcpPort()), new IPEndPoint(IPAddress.Loopback, 0), [], [],
            [Hocon.PathOf("persistence-postgresql.conf")]) { Tls = LabCertificateAuthority.ForSpecs("PG_UNIT", serial) };

        var first = await UnitHost.StartAsync(options);
        Assert.Equal("PostgreSQL.15", first.System.Settings.Config.GetString("akka.persistence.journal.sql.provider-name"));
        var change = await first.CliAsync("config system global\nset hostname \"PG_UNIT_RENAMED\"\nend");
        Assert.True(change.ExitCode == 0, $"the change was refused (exit {change.ExitCode}): {change.Output}");
        // An HA event of this first run, once it is in the history (it is recorded a moment after the start: CI trial
        // 12 of the fourteenth session read an empty history right after a restart), is what must survive.
        var firstEvent = "";
        await LoopbackLab.Eventually(async () =>
        {
            firstEvent = (await first.CliAsync("diagnose sys ha history read")).Output.Split('\n').FirstOrDefault(l => l.Contains("vcluster-1:")) ?? "";
            return firstEvent.Length > 0;
        }, TimeSpan.FromSeconds(10), "an HA event in the first run's history");
        await first.KillAsync();

        var second = await UnitHost.StartAsync(options);
        try
        {
            var show = await second.CliAsync("show system global");
            Assert.Contains("set hostname \"PG_UNIT_RENAMED\"", show.Output);
            // The journal is recovered as the unit starts; the history actor answers from it once it has replayed.
            var history = "";
            await LoopbackLab.Eventually(async () => (history = (await second.CliAsync("diagnose sys ha history read")).Output).Contains(firstEvent),
                TimeSpan.FromSeconds(10), "the first run's HA event in the history after the restart").ContinueWith(t =>
            {
                if (t.IsFaulted) throw new Xunit.Sdk.XunitException($"{t.Exception!.InnerException!.Message}: {firstEvent.Trim()} not in\n{history}");
            });
        }
        finally
        {
            await second.KillAsync();
        }
    }
}
