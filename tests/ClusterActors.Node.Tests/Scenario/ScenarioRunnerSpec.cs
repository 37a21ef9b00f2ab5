using System.Diagnostics;
using ClusterActors.Actors.Unit;
using ClusterActors.Node.Scenario;

namespace ClusterActors.Node.Tests.Scenario;

/// <summary>The runner loop against an in-memory driver: the exact transcript, expect, failures and exit codes.</summary>
public sealed class ScenarioRunnerSpec
{
    private readonly FakeScenarioDriver _driver = new();
    private readonly StringWriter _out = new() { NewLine = "\n" };
    private readonly StringWriter _err = new() { NewLine = "\n" };
    private readonly ScenarioScript _script;

    public ScenarioRunnerSpec() => _script = new ScenarioScript(_driver.Units, "t.txt");

    private ScenarioRunner Runner(bool echo = true) => new(_driver, _out) { EchoSteps = echo, PollInterval = TimeSpan.FromMilliseconds(20) };

    private async Task<int> Run(string text)
    {
        var (steps, errors) = _script.Parse(text);
        Assert.Empty(errors);
        return await Runner().RunAsync(steps);
    }

    [Fact]
    public async Task Each_step_is_printed_as_written_then_its_output()
    {
        _driver.Answer("DC2_VM1", "get system status", new CliResult("Hostname: DC2_VM1\nOperation Mode: NAT\n", 0));
        _driver.Answer("DC2_VM3", "diag sys ha status", new CliResult("no final newline", 0));
        _driver.OnDial = () => "dialed in via DC2_VM2\n";
        var exit = await Run("""
            # a comment is not echoed
            DC2_VM1> get system status
            DC2_VM3> diag sys ha status

            kill DC2_VM2
            start DC2_VM2
            link DC2_VM1 port2 down
            link DC2_VM1 port2 up
            wait 10ms
            dial
            DC2_VM4> get system status
            """);
        Assert.Equal(0, exit);
        Assert.Equal("""
            DC2_VM1> get system status
            Hostname: DC2_VM1
            Operation Mode: NAT
            DC2_VM3> diag sys ha status
            no final newline
            kill DC2_VM2
            DC2_VM2 killed
            start DC2_VM2
            DC2_VM2 started
            link DC2_VM1 port2 down
            DC2_VM1 port2 down
            link DC2_VM1 port2 up
            DC2_VM1 port2 up
            wait 10ms
            dial
            dialed in via DC2_VM2
            DC2_VM4> get system status

            """.Replace("\r\n", "\n"), _out.ToString());
        Assert.Equal(["DC2_VM1> get system status", "DC2_VM3> diag sys ha status", "kill DC2_VM2", "start DC2_VM2",
            "link DC2_VM1 port2 down", "link DC2_VM1 port2 up", "dial", "DC2_VM4> get system status"], _driver.Calls);
    }

    [Fact]
    public async Task A_command_the_unit_rejects_is_printed_and_the_run_goes_on()
    {
        _driver.Answer("DC2_VM1", "get bogus", new CliResult("command parse error before 'bogus'\nCommand fail. Return code -61\n", 1));
        var exit = await Run("DC2_VM1> get bogus\nkill DC2_VM1\n");
        Assert.Equal(0, exit);
        Assert.Equal("DC2_VM1> get bogus\ncommand parse error before 'bogus'\nCommand fail. Return code -61\nkill DC2_VM1\nDC2_VM1 killed\n", _out.ToString());
    }

    [Fact]
    public async Task Expect_prints_the_matching_output_once_it_matches()
    {
        _driver.Answer("DC2_VM1", "get system ha status",
            new CliResult("Secondary   : DC2_VM1\n", 0), new CliResult("Secondary   : DC2_VM1\n", 0), new CliResult("Primary     : DC2_VM1\n", 0));
        var exit = await Run("expect DC2_VM1> get system ha status ~ Primary\\s+: DC2_VM1 within 2s\n");
        Assert.Equal(0, exit);
        Assert.Equal("expect DC2_VM1> get system ha status ~ Primary\\s+: DC2_VM1 within 2s\nPrimary     : DC2_VM1\n", _out.ToString());
        Assert.Equal(3, _driver.Calls.Count);
    }

    [Fact]
    public async Task A_failed_expect_prints_the_last_output_and_stops_the_run_non_zero()
    {
        _driver.Answer("DC2_VM1", "get system ha status", new CliResult("Secondary   : DC2_VM1\n", 0));
        var sw = Stopwatch.StartNew();
        // A 1 s window polled every 100 ms: ample room for several tries even on a loaded 2-core CI machine.
        var exit = await Run("expect DC2_VM1> get system ha status ~ Primary\\s+: DC2_VM1 within 1s\nkill DC2_VM2\n");
        Assert.Equal(1, exit);
        Assert.InRange(sw.Elapsed, TimeSpan.FromMilliseconds(950), TimeSpan.FromSeconds(4));
        Assert.Equal("expect DC2_VM1> get system ha status ~ Primary\\s+: DC2_VM1 within 1s\nSecondary   : DC2_VM1\n"
                     + "expect failed: /Primary\\s+: DC2_VM1/ not matched within 1s\n", _out.ToString());
        Assert.DoesNotContain("kill DC2_VM2", _driver.Calls);
        Assert.True(_driver.Calls.Count >= 3, "expect keeps trying until the time is up");
    }

    [Fact]
    public async Task Expect_gives_up_in_time_when_the_unit_does_not_answer()
    {
        _driver.Hang("DC2_VM1", "get system status");
        var sw = Stopwatch.StartNew();
        var exit = await Run("expect DC2_VM1> get system status ~ x within 200ms\n");
        Assert.Equal(1, exit);
        Assert.InRange(sw.Elapsed, TimeSpan.FromMilliseconds(180), TimeSpan.FromSeconds(2));
        Assert.EndsWith("expect failed: /x/ not matched within 200ms\n", _out.ToString());
    }

    [Fact]
    public async Task Expect_on_a_unit_that_is_down_shows_why_it_failed()
    {
        _driver.Down.Add("DC2_VM2");
        var exit = await Run("expect DC2_VM2> get system status ~ x within 100ms\n");
        Assert.Equal(1, exit);
        Assert.Equal("expect DC2_VM2> get system status ~ x within 100ms\nDC2_VM2: DC2_VM2 is not running\nexpect failed: /x/ not matched within 100ms\n",
            _out.ToString());
    }

    [Fact]
    public async Task Expect_with_the_default_within_reports_3s()
    {
        _driver.Answer("DC2_VM1", "get system status", new CliResult("nothing\n", 0));
        var runner = Runner();
        var step = new ExpectStep("DC2_VM1", "get system status", new("x"), ExpectStep.DefaultWithin) { Text = "expect DC2_VM1> get system status ~ x" };
        var sw = Stopwatch.StartNew();
        Assert.False(await runner.RunStepAsync(step));
        Assert.InRange(sw.Elapsed, TimeSpan.FromSeconds(2.9), TimeSpan.FromSeconds(6));
        Assert.EndsWith("expect failed: /x/ not matched within 3s\n", _out.ToString());
    }

    [Fact]
    public async Task A_step_the_driver_cannot_carry_out_fails_the_run()
    {
        var exit = await Run("dial\nkill DC2_VM1\n");
        Assert.Equal(1, exit);
        Assert.Equal("dial\ndial failed: no client\n", _out.ToString());
        Assert.Equal(["dial"], _driver.Calls);
    }

    [Fact]
    public async Task Killing_a_unit_twice_fails_with_the_drivers_reason()
    {
        var exit = await Run("kill DC2_VM1\nkill DC2_VM1\n");
        Assert.Equal(1, exit);
        Assert.Equal("kill DC2_VM1\nDC2_VM1 killed\nkill DC2_VM1\nkill failed: DC2_VM1 is not running\n", _out.ToString());
    }

    [Fact]
    public async Task A_CLI_step_on_a_unit_that_is_down_fails()
    {
        _driver.Down.Add("DC2_VM4");
        Assert.Equal(1, await Run("DC2_VM4> get system status\n"));
        Assert.Equal("DC2_VM4> get system status\nDC2_VM4> failed: DC2_VM4 is not running\n", _out.ToString());
    }

    [Fact]
    public async Task Wait_sleeps()
    {
        var sw = Stopwatch.StartNew();
        Assert.Equal(0, await Run("wait 150ms\n"));
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(140));
        Assert.Equal("wait 150ms\n", _out.ToString());
    }

    [Fact]
    public async Task Steps_from_a_pipe_stop_at_a_bad_line_with_exit_2()
    {
        var input = new StringReader("DC2_VM1> get system status\nkil DC2_VM2\nkill DC2_VM3\n");
        var exit = await Runner().RunLinesAsync(input, _script, interactive: false, _err);
        Assert.Equal(2, exit);
        Assert.Equal("DC2_VM1> get system status\n", _out.ToString());
        Assert.StartsWith("t.txt:2:1: error: unknown step: 'kil'", _err.ToString());
        Assert.Equal(["DC2_VM1> get system status"], _driver.Calls);
    }

    [Fact]
    public async Task Steps_from_a_pipe_stop_at_a_failed_step()
    {
        var exit = await Runner().RunLinesAsync(new StringReader("dial\nkill DC2_VM3\n"), _script, interactive: false, _err);
        Assert.Equal(1, exit);
        Assert.Equal(["dial"], _driver.Calls);
    }

    [Fact]
    public async Task Interactively_bad_lines_and_failed_steps_are_reported_and_the_session_goes_on()
    {
        _driver.Answer("DC2_VM1", "get system status", new CliResult("Hostname: DC2_VM1\n", 0));
        var input = new StringReader("kil DC2_VM2\ndial\n\nDC2_VM1> get system status\n");
        var exit = await new ScenarioRunner(_driver, _out) { EchoSteps = false }.RunLinesAsync(input, _script, interactive: true, _err);
        Assert.Equal(1, exit);
        Assert.Equal("> > dial failed: no client\n> > Hostname: DC2_VM1\n> \n", _out.ToString());
        Assert.Contains("t.txt:1:1: error: unknown step: 'kil'", _err.ToString());
        Assert.Equal(["dial", "DC2_VM1> get system status"], _driver.Calls);
    }

    [Fact]
    public async Task An_interactive_session_where_everything_passed_exits_0()
    {
        var exit = await new ScenarioRunner(_driver, _out) { EchoSteps = false }
            .RunLinesAsync(new StringReader("kill DC2_VM1\nstart DC2_VM1\n"), _script, interactive: true, _err);
        Assert.Equal(0, exit);
        Assert.Equal("> DC2_VM1 killed\n> DC2_VM1 started\n> \n", _out.ToString());
    }

    [Fact]
    public async Task Cancelling_stops_a_wait()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var (steps, _) = _script.Parse("wait 1m\n");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Runner().RunAsync(steps, cts.Token));
    }
}
