using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>`clusteractors drill` usage: what it accepts, and the clear errors (exit 2) for what it does not.</summary>
public sealed class DrillCommandSpec
{
    private static Task<int> Run(params string[] words) => Run(new DrillCommand.Request(words));

    private static Task<int> Run(DrillCommand.Request request) =>
        DrillCommand.RunAsync(request, TextWriter.Null, TextWriter.Null, CancellationToken.None,
            (_, _) => throw new InvalidOperationException("a usage error must stop before any lab"));

    [Theory]
    [InlineData(new[] { "fgcp-failovr" }, "unknown drill 'fgcp-failovr'; did you mean 'fgcp-failover'?")]
    [InlineData(new[] { "seed", "heartbeat-cutt" }, "did you mean 'heartbeat-cut'?")]
    [InlineData(new string[0], "give the drill to run: drill [SCENARIO] DRILL")]
    [InlineData(new[] { "seed", "fgcp-failover", "fgsp-failover" }, "one drill at a time")]
    [InlineData(new[] { "nosuch", "fgcp-failover" }, "unknown scenario 'nosuch'")]
    [InlineData(new[] { "fgcp-failover", "--bogus" }, "unknown option '--bogus'")]
    public async Task Bad_words_are_usage_errors_that_say_what_is_known(string[] words, string message)
    {
        var e = await Assert.ThrowsAsync<UsageException>(() => Run(words));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData("podman", 1000, 1, "--mode is embedded or docker")]
    [InlineData("embedded", 0, 1, "--rate")]
    [InlineData("embedded", 1000, 0, "--runs")]
    public async Task Out_of_range_options_are_usage_errors(string mode, double rate, int runs, string message)
    {
        var e = await Assert.ThrowsAsync<UsageException>(() => Run(new DrillCommand.Request(["fgcp-failover"], mode, rate, runs)));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Every_drill_starts_from_the_cast_and_all_selects_the_five()
    {
        Assert.Equal(["fgcp-failover", "fgsp-failover", "fgcp-failback", "heartbeat-cut", "full-scenario"], DrillCatalog.Select("all").Select(d => d.Name));
        foreach (var drill in DrillCatalog.All)
        {
            Assert.Equal("DC2_VM1", drill.InitialOwner);
            Assert.Equal(4, drill.ExpectedAfter.Count);
            Assert.Single(drill.ExpectedAfter, e => e.Tunnel == "sync-primary");
            Assert.NotEmpty(drill.Phases);
        }
    }

    [Fact]
    public void The_lab_changes_keep_hello_holddown_short_prefer_VM1_and_VM3_and_add_the_drills_own()
    {
        var slow = DrillCommand.Changes(DrillCatalog.FgcpFailover, fastTimers: false);
        Assert.All(slow.Values, c => Assert.Contains("set hello-holddown 5", c));
        Assert.All(slow.Values, c => Assert.DoesNotContain("hb-lost-threshold", c));
        Assert.Contains("set priority 200", slow["DC2_VM1"]);
        Assert.Contains("set priority 200", slow["DC2_VM3"]);
        Assert.DoesNotContain("priority", slow["DC2_VM2"]);
        var fast = DrillCommand.Changes(DrillCatalog.FgcpFailback, fastTimers: true);
        Assert.All(fast.Values, c => Assert.Contains("set hb-lost-threshold 6", c));
        Assert.All(fast.Values, c => Assert.Contains("set ha-uptime-diff-margin 1", c));
        // Every change is valid FortiOS for the shipped configs.
        foreach (var (unit, change) in fast) LoopbackLab.ScenarioConfig(unit, change);
        Assert.Contains("DC2_VM1, DC2_VM3: `config system ha` / `set priority 200`", DrillCommand.Describe(fast));
        Assert.Contains("DC2_VM1, DC2_VM2, DC2_VM3, DC2_VM4: `config system ha` / `set ha-uptime-diff-margin 1`", DrillCommand.Describe(fast));
    }
}
