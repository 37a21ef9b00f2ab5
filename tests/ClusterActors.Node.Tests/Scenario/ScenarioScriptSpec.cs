using ClusterActors.Node.Scenario;

namespace ClusterActors.Node.Tests.Scenario;

/// <summary>The scenario script language: every step kind, comments, durations, and located errors.</summary>
public sealed class ScenarioScriptSpec
{
    private static readonly string[] Units = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];
    private readonly ScenarioScript _script = new(Units, "s.txt");

    private ScenarioStep One(string line)
    {
        var parsed = _script.ParseLine(line, 7);
        Assert.Null(parsed.Error);
        Assert.NotNull(parsed.Step);
        Assert.Equal(7, parsed.Step!.Line);
        return parsed.Step;
    }

    private ScriptError Error(string line, int lineNumber = 7)
    {
        var parsed = _script.ParseLine(line, lineNumber);
        Assert.Null(parsed.Step);
        return Assert.IsType<ScriptError>(parsed.Error);
    }

    [Fact]
    public void A_CLI_step_is_a_unit_prompt_and_the_command_as_written()
    {
        var step = Assert.IsType<CliStep>(One("DC2_VM3> diagnose vpn tunnel list"));
        Assert.Equal(("DC2_VM3", "diagnose vpn tunnel list"), (step.Unit, step.Command));
        Assert.Equal("DC2_VM3> diagnose vpn tunnel list", step.Text);
        Assert.Equal("DC2_VM1", Assert.IsType<CliStep>(One("DC2_VM1 >get system status")).Unit);
    }

    [Fact]
    public void Dial_kill_start_link_and_wait()
    {
        Assert.IsType<DialStep>(One("dial"));
        Assert.Equal("DC2_VM2", Assert.IsType<KillStep>(One("kill DC2_VM2")).Unit);
        Assert.Equal("DC2_VM2", Assert.IsType<StartStep>(One("start   DC2_VM2")).Unit);
        var down = Assert.IsType<LinkStep>(One("link DC2_VM1 port2 down"));
        Assert.Equal(("DC2_VM1", "port2", false), (down.Unit, down.Port, down.Up));
        Assert.True(Assert.IsType<LinkStep>(One("link DC2_VM4 port4 up")).Up);
        Assert.Equal(TimeSpan.FromMilliseconds(500), Assert.IsType<WaitStep>(One("wait 500ms")).Duration);
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("3s", 3000)]
    [InlineData("1.5s", 1500)]
    [InlineData("2m", 120_000)]
    [InlineData("0s", 0)]
    public void Durations(string text, int ms)
    {
        Assert.True(ScenarioScript.TryParseDuration(text, out var d));
        Assert.Equal(TimeSpan.FromMilliseconds(ms), d);
    }

    [Theory]
    [InlineData("3")]
    [InlineData("3x")]
    [InlineData("s")]
    [InlineData("-1s")]
    [InlineData("1,5s")]
    [InlineData("3 s")]
    public void Not_durations(string text) => Assert.False(ScenarioScript.TryParseDuration(text, out _));

    [Theory]
    [InlineData(500, "500ms")]
    [InlineData(3000, "3s")]
    [InlineData(1500, "1.5s")]
    [InlineData(120_000, "2m")]
    public void Durations_are_written_back_as_a_script_would(int ms, string text) =>
        Assert.Equal(text, ScenarioScript.FormatDuration(TimeSpan.FromMilliseconds(ms)));

    [Fact]
    public void Expect_takes_the_regex_after_the_tilde_and_an_optional_within()
    {
        var e = Assert.IsType<ExpectStep>(One(@"expect DC2_VM1> diagnose sys ha status ~ FGVM02TM22000002:\s+Primary within 10s"));
        Assert.Equal(("DC2_VM1", "diagnose sys ha status"), (e.Unit, e.Command));
        Assert.Equal(@"FGVM02TM22000002:\s+Primary", e.Pattern.ToString());
        Assert.Equal(TimeSpan.FromSeconds(10), e.Within);

        var d = Assert.IsType<ExpectStep>(One("expect DC2_VM2> get system ha status ~ Primary\\s+: DC2_VM1"));
        Assert.Equal(ExpectStep.DefaultWithin, d.Within);
        Assert.Equal(TimeSpan.FromSeconds(3), d.Within);
        Assert.Equal(@"Primary\s+: DC2_VM1", d.Pattern.ToString());
    }

    [Fact]
    public void An_expect_regex_may_contain_tildes_hashes_and_the_word_within()
    {
        var e = Assert.IsType<ExpectStep>(One("expect DC2_VM1> get system status ~ a ~ b # c within reach"));
        Assert.Equal("a ~ b # c within reach", e.Pattern.ToString());
        Assert.Equal(ExpectStep.DefaultWithin, e.Within);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), Assert.IsType<ExpectStep>(One("expect DC2_VM1> x ~ y within 1.5s")).Within);
    }

    [Fact]
    public void Expect_regexes_are_multiline()
    {
        var e = Assert.IsType<ExpectStep>(One("expect DC2_VM1> get system status ~ ^Hostname: DC2_VM1$"));
        Assert.Matches(e.Pattern, "Version: x\nHostname: DC2_VM1\nOperation Mode: NAT\n");
    }

    [Fact]
    public void Comments_and_blank_lines_are_skipped_and_lines_keep_their_numbers()
    {
        var (steps, errors) = _script.Parse("# a failover\n\n   \nDC2_VM1> get system status\r\n  # indented comment\nkill DC2_VM2  \n");
        Assert.Empty(errors);
        Assert.Equal([4, 6], steps.Select(s => s.Line));
        Assert.Equal(["DC2_VM1> get system status", "kill DC2_VM2"], steps.Select(s => s.Text));
    }

    [Fact]
    public void A_whole_script_reports_every_bad_line_with_its_number()
    {
        var (steps, errors) = _script.Parse("DC2_VM1> get system status\nkil DC2_VM2\nwait 1s\nwait soon\n");
        Assert.Equal(2, steps.Count);
        Assert.Equal([2, 4], errors.Select(e => e.Line));
        Assert.All(errors, e => Assert.Equal("s.txt", e.Source));
    }

    [Fact]
    public void A_mistyped_unit_gets_a_did_you_mean()
    {
        var e = Error("DC2_MV1> get system status", 12);
        Assert.Equal((12, 1, "DC2_MV1", "unknown unit", "DC2_VM1"), (e.Line, e.Column, e.Token, e.Message, e.DidYouMean));
        Assert.Equal("s.txt:12:1: error: unknown unit: 'DC2_MV1'; expected one of: DC2_VM1, DC2_VM2, DC2_VM3, DC2_VM4; did you mean 'DC2_VM1'?",
            e.ToString());
        Assert.Equal("DC2_VM3", Error("kill dc2_vm3").DidYouMean);
        Assert.Equal((7, "DC2_VM9"), (Error("start DC2_VM9").Column, Error("start DC2_VM9").Token));
        Assert.Null(Error("kill somebody").DidYouMean);
        Assert.Equal(("DC2_VM5", 8), (Error("expect DC2_VM5> x ~ y").Token, Error("expect DC2_VM5> x ~ y").Column));
    }

    [Fact]
    public void A_mistyped_keyword_gets_a_did_you_mean()
    {
        var e = Error("wiat 500ms");
        Assert.Equal(("unknown step", "wiat", "wait"), (e.Message, e.Token, e.DidYouMean));
        Assert.Contains("'UNIT> COMMAND'", e.Expected);
        Assert.Equal("expect", Error("expct DC2_VM1> x ~ y").DidYouMean);
        Assert.Equal("DC2_VM1>", Error("DC2_VM1 get system status").DidYouMean); // the '>' forgotten
        Assert.Equal("down", Error("link DC2_VM1 port2 dwn").DidYouMean);
    }

    [Theory]
    [InlineData("dial now", 6, "unexpected word", "now")]
    [InlineData("kill", 5, "missing unit", "")]
    [InlineData("kill DC2_VM1 DC2_VM2", 14, "unexpected word", "DC2_VM2")]
    [InlineData("link DC2_VM1", 13, "missing port", "")]
    [InlineData("link DC2_VM1 port2", 19, "missing link state", "")]
    [InlineData("link DC2_VM1 port2 sideways", 20, "unknown link state", "sideways")]
    [InlineData("link DC2_VM1 port2 up now", 23, "unexpected word", "now")]
    [InlineData("wait", 5, "missing duration", "")]
    [InlineData("wait 3x", 6, "bad duration", "3x")]
    [InlineData("wait 1s 2s", 9, "unexpected word", "2s")]
    [InlineData("DC2_VM1>", 9, "missing command after 'DC2_VM1>'", "")]
    [InlineData("DC2_VM1>   ", 9, "missing command after 'DC2_VM1>'", "")]
    [InlineData("expect", 7, "missing command", "")]
    [InlineData("expect DC2_VM1> get system status", 34, "missing ' ~ REGEX'", "")]
    [InlineData("expect DC2_VM1> get system status ~", 36, "missing regex", "")]
    [InlineData("expect DC2_VM1> get system status ~  within 2s", 37, "missing regex", "")]
    [InlineData("expect DC2_VM1> ~ x", 16, "missing command after 'DC2_VM1>'", "")]
    [InlineData("expect DC2_VM1> get system status ~ x within 3x", 46, "bad duration", "3x")]
    [InlineData("expect get system status ~ x", 8, "expected 'UNIT> COMMAND'", "get")]
    public void Errors_say_where_and_what_was_expected(string line, int column, string message, string token)
    {
        var e = Error(line);
        Assert.Equal((7, column, message, token), (e.Line, e.Column, e.Message, e.Token));
        Assert.NotNull(e.Expected);
    }

    [Fact]
    public void A_bad_regex_is_a_located_error()
    {
        var e = Error("expect DC2_VM1> get system status ~ Primary(");
        Assert.Equal((37, "Primary("), (e.Column, e.Token));
        Assert.StartsWith("bad regex", e.Message);
    }

    [Fact]
    public void Columns_count_the_indentation()
    {
        Assert.Equal(3, Error("  wiat 1s").Column);
        Assert.Equal("  DC2_VM1> get system status", One("  DC2_VM1> get system status").Text);
    }
}

/// <summary>The traffic steps the data plane adds to the script language.</summary>
public sealed class ScenarioTrafficStepSpec
{
    private readonly ScenarioScript _script = new(["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"], "s.txt");

    [Fact]
    public void Traffic_start_stop_and_report()
    {
        Assert.Equal(new TrafficStartStep(1000, 56) { Text = "traffic start 1000", Line = 3 }, _script.ParseLine("traffic start 1000", 3).Step);
        Assert.Equal((500, 1400), _script.ParseLine("traffic start 500 1400", 3).Step is TrafficStartStep s ? (s.PacketsPerSecond, s.PayloadSize) : default);
        Assert.IsType<TrafficStopStep>(_script.ParseLine("traffic stop", 1).Step);
        Assert.IsType<TrafficReportStep>(_script.ParseLine("  traffic report", 1).Step);
    }

    [Theory]
    [InlineData("traffic", 8, "missing traffic action")]
    [InlineData("traffic begin 100", 9, "unknown traffic action")]
    [InlineData("traffic start", 14, "missing rate")]
    [InlineData("traffic start 0", 15, "bad packets per second")]
    [InlineData("traffic start fast", 15, "bad packets per second")]
    [InlineData("traffic start 100 2000", 19, "bad ICMP data bytes")]
    [InlineData("traffic start 100 56 extra", 22, "unexpected word")]
    [InlineData("traffic stop now", 14, "unexpected word")]
    public void Bad_traffic_steps_are_located(string line, int column, string message)
    {
        var error = _script.ParseLine(line, 4).Error;
        Assert.NotNull(error);
        Assert.Equal((4, column, message), (error!.Line, error.Column, error.Message));
    }

    [Fact]
    public void Router_shows_the_DC_router_and_takes_no_argument()
    {
        Assert.IsType<RouterStep>(_script.ParseLine("router", 1).Step);
        Assert.Equal("unexpected word", _script.ParseLine("router show", 1).Error!.Message);
        Assert.Equal("router", _script.ParseLine("routr", 1).Error!.DidYouMean);
    }

    [Fact]
    public void A_mistyped_traffic_action_gets_a_did_you_mean()
    {
        Assert.Equal("report", _script.ParseLine("traffic reprot", 1).Error!.DidYouMean);
    }

    [Fact]
    public async Task The_runner_prints_each_traffic_step_and_what_the_lab_said()
    {
        var driver = new FakeScenarioDriver();
        var output = new StringWriter();
        var (steps, errors) = _script.Parse("traffic start 1000\ntraffic report\ntraffic stop\n");
        Assert.Empty(errors);
        Assert.Equal(ScenarioRunner.Passed, await new ScenarioRunner(driver, output).RunAsync(steps));
        Assert.Equal(["traffic start 1000 56", "traffic report", "traffic stop"], driver.Calls);
        Assert.Equal("traffic start 1000\ntraffic started: 1000 pps\ntraffic report\nsent 10, answered 10, lost 0\ntraffic stop\ntraffic stopped\n",
            output.ToString().Replace("\r\n", "\n"));
    }
}

/// <summary>The packet-capture steps: `pcap start` and `pcap save DIR`.</summary>
public sealed class ScenarioPcapStepSpec
{
    private readonly ScenarioScript _script = new(["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"], "s.txt");

    [Fact]
    public void Pcap_start_and_save()
    {
        Assert.IsType<PcapStartStep>(_script.ParseLine("pcap start", 1).Step);
        Assert.Equal(new PcapSaveStep("/tmp/run-1") { Text = "pcap save /tmp/run-1", Line = 2 }, _script.ParseLine("pcap save /tmp/run-1", 2).Step);
    }

    [Theory]
    [InlineData("pcap", 5, "missing pcap action", "")]
    [InlineData("pcap begin", 6, "unknown pcap action", "begin")]
    [InlineData("pcap save", 10, "missing directory", "")]
    [InlineData("pcap save a b", 13, "unexpected word", "b")]
    [InlineData("pcap start now", 12, "unexpected word", "now")]
    public void Bad_pcap_steps_are_located(string line, int column, string message, string token)
    {
        var error = _script.ParseLine(line, 4).Error;
        Assert.NotNull(error);
        Assert.Equal((4, column, message, token), (error!.Line, error.Column, error.Message, error.Token));
    }

    [Fact]
    public void A_mistyped_pcap_action_or_keyword_gets_a_did_you_mean()
    {
        Assert.Equal("save", _script.ParseLine("pcap svae x", 1).Error!.DidYouMean);
        Assert.Equal("pcap", _script.ParseLine("pcpa start", 1).Error!.DidYouMean);
    }

    [Fact]
    public async Task The_runner_hands_each_pcap_step_to_the_lab_and_prints_its_answer()
    {
        var driver = new FakeScenarioDriver();
        var output = new StringWriter();
        var (steps, errors) = _script.Parse("pcap start\npcap save out\n");
        Assert.Empty(errors);
        Assert.Equal(ScenarioRunner.Passed, await new ScenarioRunner(driver, output).RunAsync(steps));
        Assert.Equal(["pcap start", "pcap save out"], driver.Calls);
        Assert.Equal("pcap start\ncapturing\npcap save out\nsaved to out\n", output.ToString().Replace("\r\n", "\n"));
    }
}
