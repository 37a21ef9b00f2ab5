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
        await first.KillAsync();

        var second = await UnitHost.StartAsync(options);
        try
        {
            var show = await second.CliAsync("show system global");
            Assert.Contains("set hostname \"PG_UNIT_RENAMED\"", show.Output);
            var history = await second.CliAsync("diagnose sys ha history read");
            Assert.Contains("vcluster-1:", history.Output);
        }
        finally
        {
            await second.KillAsync();
        }
    }
}
