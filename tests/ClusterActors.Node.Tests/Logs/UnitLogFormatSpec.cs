using ClusterActors.Node.Hosting;
using ClusterActors.Node.Hosting.Logs;

namespace ClusterActors.Node.Tests.Logs;

/// <summary>The choice of `clusteractors node --log-format` / CLUSTERACTORS_LOG_FORMAT, without a process.</summary>
public sealed class UnitLogFormatSpec
{
    [Theory]
    [InlineData(null, null, UnitLogFormat.Text)] // today's output when nothing is said
    [InlineData(null, "", UnitLogFormat.Text)]
    [InlineData("text", null, UnitLogFormat.Text)]
    [InlineData("json", null, UnitLogFormat.Json)]
    [InlineData("JSON", null, UnitLogFormat.Json)]
    [InlineData(null, "json", UnitLogFormat.Json)]
    [InlineData("text", "json", UnitLogFormat.Text)] // the option wins over the environment
    [InlineData("json", "text", UnitLogFormat.Json)]
    [InlineData("json", "nonsense", UnitLogFormat.Json)] // an overridden environment is not read
    public void The_option_wins_over_the_environment_which_wins_over_text(string? option, string? environment, UnitLogFormat expected) =>
        Assert.Equal(expected, UnitLogFormats.Choose(option, environment));

    [Theory]
    [InlineData("xml", null, "--log-format 'xml': expected text or json")]
    [InlineData("", null, "--log-format '': expected text or json")]
    [InlineData(null, "clef", "CLUSTERACTORS_LOG_FORMAT 'clef': expected text or json")]
    public void A_bad_value_is_a_usage_error_naming_where_it_came_from(string? option, string? environment, string message)
    {
        var e = Assert.Throws<UsageException>(() => UnitLogFormats.Choose(option, environment));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void A_node_with_a_bad_log_format_exits_2_before_it_starts_anything()
    {
        var (exit, stdout, stderr) = CommandLineSpec.Run("node --scenario seed --unit DC2_VM1 --log-format xml");
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Equal("clusteractors: --log-format 'xml': expected text or json", stderr.Trim());
    }
}
