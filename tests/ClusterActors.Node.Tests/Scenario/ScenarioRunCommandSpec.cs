using ClusterActors.Actors.Unit;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Scenario;

namespace ClusterActors.Node.Tests.Scenario;

/// <summary>`clusteractors scenario run`: argument checks, a script file validated before anything starts, stdin.</summary>
public sealed class ScenarioRunCommandSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-scenario-").FullName;
    private readonly StringWriter _out = new() { NewLine = "\n" };
    private readonly StringWriter _err = new() { NewLine = "\n" };
    private readonly FakeScenarioDriver _driver = new();
    private int _driversCreated;

    public void Dispose() => Directory.Delete(_dir, true);

    private string File(string text)
    {
        var path = Path.Combine(_dir, "s.txt");
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    private Task<int> Run(string? script, string stdin = "", bool embedded = true, string scenario = "seed") =>
        ScenarioRunCommand.RunAsync(new ScenarioRunCommand.Request(scenario, embedded, script, FastTimers: false),
            new ScenarioRunCommand.Console(new StringReader(stdin), InIsTerminal: false, _out, _err), CancellationToken.None,
            _ => { _driversCreated++; return _driver; });

    [Fact]
    public async Task A_topology_file_with_errors_is_refused_with_every_located_error_before_anything_starts()
    {
        var topology = Path.Combine(_dir, "lab.yml");
        System.IO.File.WriteAllText(topology, "units:\n  A: { config: missing.conf }\nsegmnts: {}\n");
        var e = await Assert.ThrowsAsync<TopologyInvalidException>(() =>
            ScenarioRunCommand.RunAsync(new ScenarioRunCommand.Request("seed", true, File("kill DC2_VM1\n"), false, Topology: topology),
                new ScenarioRunCommand.Console(TextReader.Null, false, _out, _err), CancellationToken.None, _ => { _driversCreated++; return _driver; }));
        Assert.Equal(0, _driversCreated);
        Assert.Collection(e.Errors,
            a => Assert.Equal((2, 16, "missing.conf"), (a.Line, a.Column, a.Token)),
            b => Assert.Equal((3, 1, "segmnts", "segments"), (b.Line, b.Column, b.Token, b.DidYouMean)));
    }

    [Fact]
    public async Task A_script_file_runs_after_the_lab_has_started()
    {
        _driver.Answer("DC2_VM1", "get system status", new CliResult("Hostname: DC2_VM1\n", 0));
        Assert.Equal(0, await Run(File("DC2_VM1> get system status\nkill DC2_VM2\n")));
        Assert.Equal("DC2_VM1> get system status\nHostname: DC2_VM1\nkill DC2_VM2\nDC2_VM2 killed\n", _out.ToString());
        Assert.Equal(["start-all", "DC2_VM1> get system status", "kill DC2_VM2"], _driver.Calls);
        Assert.True(_driver.Disposed);
    }

    [Fact]
    public async Task A_bad_script_file_fails_before_anything_starts()
    {
        var path = File("DC2_VM1> get system status\nkill DC2_MV2\nwait 3x\n");
        Assert.Equal(2, await Run(path));
        Assert.Equal(0, _driversCreated);
        Assert.Equal("", _out.ToString());
        Assert.Equal($"""
            {path}:2:6: error: unknown unit: 'DC2_MV2'; expected one of: DC2_VM1, DC2_VM2, DC2_VM3, DC2_VM4; did you mean 'DC2_VM2'?
            {path}:3:6: error: bad duration: '3x'; expected a number and a unit: ms, s or m (e.g. 500ms, 3s, 1.5s, 2m)
            {path}: 2 error(s); nothing started

            """.Replace("\r\n", "\n"), _err.ToString());
    }

    [Fact]
    public async Task Without_a_script_steps_come_from_stdin()
    {
        Assert.Equal(0, await Run(null, "kill DC2_VM3\n"));
        Assert.Equal(0, await Run("-", "start DC2_VM3\n"));
        Assert.Equal("kill DC2_VM3\nDC2_VM3 killed\nstart DC2_VM3\nDC2_VM3 started\n", _out.ToString());
    }

    [Fact]
    public async Task A_lab_that_does_not_start_is_exit_1_and_runs_no_step()
    {
        _driver.StartAllFails = new TimeoutException("FGCP cluster DC2_VM1+DC2_VM2 did not form within 50 s");
        Assert.Equal(1, await Run(File("kill DC2_VM1\n")));
        Assert.Equal(["start-all"], _driver.Calls);
        Assert.Contains("did not start: FGCP cluster DC2_VM1+DC2_VM2 did not form", _err.ToString());
        Assert.True(_driver.Disposed);
    }

    [Fact]
    public async Task Usage_errors()
    {
        Assert.Contains("unknown scenario 'nope' (known: fgsp-standalone, seed)", (await Assert.ThrowsAsync<UsageException>(() => Run(null, scenario: "nope"))).Message);
        Assert.Contains("needs --embedded", (await Assert.ThrowsAsync<UsageException>(() => Run(null, embedded: false))).Message);
        Assert.Contains("no such file", (await Assert.ThrowsAsync<UsageException>(() => Run(Path.Combine(_dir, "missing.txt")))).Message);
        Assert.Equal(0, _driversCreated);
    }

    [Fact]
    public void The_executable_says_so_and_exits_2_without_embedded()
    {
        var (exit, stdout, stderr) = CommandLineSpec.Run("scenario run seed");
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Contains("scenario run needs --embedded", stderr);
    }
}
