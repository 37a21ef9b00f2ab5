using System.Diagnostics;

namespace ClusterActors.Node.Tests;

/// <summary>`clusteractors config check` and `clusteractors node` with bad input, as a user runs them.</summary>
public sealed class CommandLineSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    internal static (int Exit, string Out, string Err) Run(string args, int timeoutMs = 60_000)
    {
        var psi = new ProcessStartInfo("dotnet", $"\"{UnitProcess.Executable}\" {args}")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = AppContext.BaseDirectory
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(timeoutMs), $"clusteractors {args} did not finish");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [Theory]
    [InlineData("DC2_VM1")]
    [InlineData("DC2_VM2")]
    [InlineData("DC2_VM3")]
    [InlineData("DC2_VM4")]
    public void Config_check_accepts_every_shipped_scenario_unit_and_prints_a_summary_without_secrets(string unit)
    {
        var file = Path.Combine(AppContext.BaseDirectory, "scenarios", "seed", unit + ".conf");
        var (exit, stdout, stderr) = Run($"config check \"{file}\"");
        Assert.True(exit == 0, stderr);
        Assert.Contains($"hostname: {unit}", stdout);
        Assert.Contains("ha: mode=a-p", stdout);
        Assert.Contains("password=set", stdout);
        Assert.Contains(": OK", stdout);
        Assert.DoesNotContain("fgcp-DC2_VM", stdout);
        Assert.DoesNotContain("scenario-psk", stdout);
    }

    [Fact]
    public void Config_check_prints_each_error_located_and_exits_non_zero()
    {
        var file = Path.Combine(_dir, "bad.conf");
        File.WriteAllText(file, "config system ha\n    set priority 256\n    set grup-name \"x\"\nend\n");
        var (exit, stdout, stderr) = Run($"config check \"{file}\"");
        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        Assert.Contains($"{file}:2:", stderr);
        Assert.Contains("256", stderr);
        Assert.Contains($"{file}:3:", stderr);
        Assert.Contains("did you mean 'group-name'", stderr);
        Assert.Contains("2 error(s); nothing applied", stderr);
    }

    [Fact]
    public void A_node_with_a_bad_config_does_not_start_and_says_where()
    {
        var file = Path.Combine(_dir, "bad.conf");
        File.WriteAllText(file, "#serialno=FGVM02TM22000009\nconfig system ha\n    set hb-interval 21\nend\n");
        var (exit, _, stderr) = Run($"node --config \"{file}\" --data \"{Path.Combine(_dir, "data")}\"");
        Assert.Equal(1, exit);
        Assert.Contains($"{file}:3:", stderr);
        Assert.Contains("the unit was not started", stderr);
    }

    [Fact]
    public void Cli_to_a_unit_that_is_not_running_exits_non_zero()
    {
        var (exit, _, stderr) = Run($"cli --node 127.0.0.1:{RealProcessFailoverSpec.FreeTcpPort()} diagnose sys ha status");
        Assert.Equal(3, exit);
        Assert.Contains("cannot reach the unit", stderr);
    }

    [Fact]
    public void Cli_without_a_command_and_stdin_not_a_terminal_still_wants_a_command()
    {
        // The interactive console opens only at a terminal; piped input keeps the one-shot contract (a command is required).
        var psi = new ProcessStartInfo("dotnet", $"\"{UnitProcess.Executable}\" cli --node 127.0.0.1:{RealProcessFailoverSpec.FreeTcpPort()}")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory
        };
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "cli without a command did not finish");
        Assert.NotEqual(0, p.ExitCode);
        Assert.Contains("Required argument missing for command: 'cli'", stderr.Result);
        Assert.DoesNotContain(" # ", stdout.Result);
    }

    [Fact]
    public void Unknown_scenario_unit_is_a_usage_error()
    {
        var (exit, _, stderr) = Run("node --scenario seed --unit DC2_VM9");
        Assert.Equal(2, exit);
        Assert.Contains("no unit 'DC2_VM9'", stderr);
    }
}
