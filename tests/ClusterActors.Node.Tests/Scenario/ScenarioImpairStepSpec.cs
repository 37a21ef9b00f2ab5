using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.Scenario;

namespace ClusterActors.Node.Tests.Scenario;

/// <summary>Issue 14 item 5: `impair UNIT PORT [delay T] [jitter T] [loss N%] [duplicate N%] [rate R]` and `impair UNIT PORT clear`.</summary>
public sealed class ScenarioImpairStepSpec
{
    private readonly ScenarioScript _script = new(["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"], "s.txt");

    private ScenarioStep One(string line) =>
        _script.ParseLine(line, 4) is { Step: { } step } ? step : throw new Xunit.Sdk.XunitException(_script.ParseLine(line, 4).Error!.ToString());

    private ScriptError Error(string line) =>
        _script.ParseLine(line, 4).Error ?? throw new Xunit.Sdk.XunitException($"'{line}' parsed");

    [Fact]
    public void Impair_takes_netems_knobs_and_clear()
    {
        var step = Assert.IsType<ImpairStep>(One("impair DC2_VM2 port4 delay 50ms jitter 10ms loss 5% duplicate 1% rate 10mbit"));
        Assert.Equal(("DC2_VM2", "port4"), (step.Unit, step.Port));
        Assert.Equal(new ImpairmentSpec(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(10), 5, 1, 10_000_000), step.Spec);
        Assert.Equal(ImpairmentSpec.Loss(30), Assert.IsType<ImpairStep>(One("impair DC2_VM1 port4 loss 30%")).Spec);
        Assert.Null(Assert.IsType<ImpairStep>(One("impair DC2_VM1 port2 clear")).Spec);
        Assert.Equal(4, One("impair DC2_VM1 port2 clear").Line);
    }

    [Theory]
    [InlineData("impair", 7, "missing unit", "")]
    [InlineData("impair DC2_VM9 port4 loss 5%", 8, "unknown unit", "DC2_VM9")]
    [InlineData("impair DC2_VM1", 15, "missing port", "")]
    [InlineData("impair DC2_VM1 port4", 21, "missing impairment", "")]
    [InlineData("impair DC2_VM1 port4 loss", 26, "missing value after 'loss'", "")]
    [InlineData("impair DC2_VM1 port4 loss 5", 27, "bad loss", "5")]
    [InlineData("impair DC2_VM1 port4 delay 50", 28, "bad delay", "50")]
    [InlineData("impair DC2_VM1 port4 rate 10mbps", 27, "bad rate", "10mbps")]
    [InlineData("impair DC2_VM1 port4 delay 5ms corrupt 1%", 32, "unknown impairment", "corrupt")]
    [InlineData("impair DC2_VM1 port4 clear now", 28, "unexpected word", "now")]
    public void Bad_impair_steps_are_located_errors(string line, int column, string message, string token)
    {
        var e = Error(line);
        Assert.Equal((4, column, message, token), (e.Line, e.Column, e.Message, e.Token));
        Assert.NotNull(e.Expected);
    }

    [Fact]
    public void A_mistyped_knob_gets_a_did_you_mean()
    {
        Assert.Equal("loss", Error("impair DC2_VM1 port4 los 5%").DidYouMean);
        Assert.Equal("clear", Error("impair DC2_VM1 port4 clera").DidYouMean);
        Assert.Equal("impair", Error("impiar DC2_VM1 port4 loss 5%").DidYouMean);
    }

    [Fact]
    public async Task The_runner_hands_the_step_to_the_driver_and_prints_what_it_says()
    {
        var driver = new FakeScenarioDriver();
        var output = new StringWriter { NewLine = "\n" };
        var runner = new ScenarioRunner(driver, output);
        var (steps, errors) = _script.Parse("impair DC2_VM1 port4 loss 5% delay 1ms\nimpair DC2_VM1 port4 clear\n");
        Assert.Empty(errors);
        Assert.Equal(ScenarioRunner.Passed, await runner.RunAsync(steps));
        Assert.Equal(["impair DC2_VM1 port4 delay 1ms loss 5%", "impair DC2_VM1 port4 clear"], driver.Calls);
        Assert.Contains("DC2_VM1 port4 impaired", output.ToString());
    }
}
