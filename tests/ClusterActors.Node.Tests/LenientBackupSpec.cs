using System.Net;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Config;

namespace ClusterActors.Node.Tests;

/// <summary>
/// Issue 12, item 7 acceptance: the shipped FortiGate 7.4 backup (scenarios/samples) passes `config check --lenient` and
/// runs as a unit; its not-emulated sections are shown back by the unit's `show`, survive a change and a restart, and
/// are reported once. Without --lenient the same file is refused as before.
/// </summary>
public sealed class LenientBackupSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-lenient-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static string Sample => Path.Combine(AppContext.BaseDirectory, "scenarios", "samples", "fortigate-7.4-backup.conf");

    private static readonly TimeSpan FirstAfterStart = TimeSpan.FromSeconds(30);

    /// <summary>The file's `config firewall policy` … `end` block, as written.</summary>
    private static string Block(string name)
    {
        var lines = File.ReadAllLines(Sample);
        var start = Array.IndexOf(lines, "config " + name);
        var end = Array.IndexOf(lines, "end", start);
        return string.Join("\n", lines[start..(end + 1)]) + "\n";
    }

    private UnitOptions Options()
    {
        var parsed = FortiConfig.ParseFile(Sample, lenient: true);
        Assert.True(parsed.Ok, parsed.ToString());
        const string serial = "FGVM02TM22007401";
        return new UnitOptions("FGT-DC1-A", parsed.Value!.WithSerialNumber(serial), serial, Path.Combine(_dir, "data"),
            new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeTcpPort()), new IPEndPoint(IPAddress.Loopback, 0), [], [], []) { Tls = LabCertificateAuthority.ForSpecs("FGT-DC1-A", serial) };
    }

    [Fact]
    public async Task The_sample_backup_runs_as_a_unit_whose_show_prints_its_not_emulated_sections_back_across_a_change_and_a_restart()
    {
        var host = await UnitHost.StartAsync(Options());
        try
        {
            var policy = await host.CliAsync("show firewall policy", FirstAfterStart);
            Assert.True(policy.ExitCode == 0, policy.Output);
            Assert.Equal(Block("firewall policy"), policy.Output);
            Assert.Equal(Block("system dns"), (await host.CliAsync("show system dns")).Output);
            Assert.Contains("    set gui-theme mariner\n", (await host.CliAsync("show system global")).Output);
            // The CLI of a lenient unit edits kept sections too; the change is journaled like any other.
            var add = await host.CliAsync("config firewall address\n    edit \"DMZ-NET\"\n        set subnet 172.16.50.0 255.255.255.0\n    next\nend");
            Assert.True(add.ExitCode == 0, add.Output);
            Assert.Contains("    edit \"DMZ-NET\"\n        set subnet 172.16.50.0 255.255.255.0\n    next\n", (await host.CliAsync("show firewall address")).Output);
        }
        finally { await host.DisposeAsync(); }

        var again = await UnitHost.StartAsync(Options());
        try
        {
            var address = await again.CliAsync("show firewall address", FirstAfterStart);
            Assert.True(address.ExitCode == 0, address.Output);
            Assert.Contains("    edit \"DMZ-NET\"\n", address.Output);
            Assert.Equal(Block("firewall policy"), (await again.CliAsync("show firewall policy")).Output);
        }
        finally { await again.DisposeAsync(); }
    }

    [Fact]
    public void Config_check_lenient_accepts_the_sample_and_reports_the_not_emulated_paths_once()
    {
        var (exit, stdout, stderr) = CommandLineSpec.Run($"config check --lenient \"{Sample}\"");
        Assert.True(exit == 0, stderr);
        Assert.Contains("config-version: FGVM64-7.4.4-FW-build2662-240514", stdout);
        Assert.Contains("hostname: FGT-DC1-A", stdout);
        var report = Assert.Single(stdout.Split('\n'), l => l.StartsWith("not emulated (", StringComparison.Ordinal));
        Assert.Contains("firewall policy; ", report);
        Assert.Contains("system global set gui-theme; ", report);
        Assert.Single(stdout.Split('\n'), l => l.Contains("snmp-index"));
        Assert.EndsWith(": OK\n", stdout);
    }

    [Fact]
    public void Config_check_without_lenient_still_refuses_the_sample_and_names_the_option()
    {
        var (exit, stdout, stderr) = CommandLineSpec.Run($"config check \"{Sample}\"");
        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        Assert.Contains("error: unknown section: 'firewall'", stderr);
        Assert.Contains("--lenient keeps what this lab does not emulate", stderr);
    }

    [Fact]
    public void A_node_started_with_lenient_reports_the_not_emulated_paths_once_before_it_runs()
    {
        var options = UnitOptionsResolver.Resolve(new UnitOptionsResolver.Request(ConfigFile: Sample, DataDir: Path.Combine(_dir, "d"), Serial: "FGVM02TM22007402", Lenient: true));
        Assert.True(options.Config.Lenient);
        Assert.Contains("firewall policy", options.Config.NotEmulated);
        var refused = Assert.Throws<ConfigInvalidException>(() =>
            UnitOptionsResolver.Resolve(new UnitOptionsResolver.Request(ConfigFile: Sample, DataDir: Path.Combine(_dir, "d"), Serial: "FGVM02TM22007402")));
        Assert.Contains(refused.Errors, e => e.Message == "unknown section" && e.Token == "firewall");
    }
}
