using ClusterActors.Protocol.Config;
using Xunit;

namespace ClusterActors.Protocol.Tests.Config;

/// <summary>
/// `get` / `show` inside an interactive config block: the block as it would be with the lines typed so far (the open
/// script, `|` for a new line), nothing saved. Each row: what is typed, the verb, lines that must appear, a line that must not.
/// </summary>
public class ConfigBlockViewTests
{
    private static readonly ConfigDocument Saved = Saved0();

    private static ConfigDocument Saved0()
    {
        var r = ConfigDocument.Empty.Apply("config system ha\nset priority 150\nend\nconfig system interface\nedit port3\nset alias \"wan-a\"\nnext\nend");
        Assert.True(r.Ok, string.Join("\n", r.Errors));
        return r.Value!;
    }

    [Theory]
    // show: only what differs from the defaults, the saved value and the one typed since `config` alike.
    [InlineData("config system ha", ConfigBlockVerb.Show, "config system ha|    set priority 150|end", "set override")]
    [InlineData("config system ha|set override enable", ConfigBlockVerb.Show, "    set priority 150|    set override enable", "set hb-interval")]
    [InlineData("config system ha|set priority 7", ConfigBlockVerb.Show, "    set priority 7", "set priority 150")]
    [InlineData("config system ha|unset priority", ConfigBlockVerb.Show, "config system ha|end", "set priority")]
    // show full-configuration: defaults included.
    [InlineData("config system ha", ConfigBlockVerb.ShowFull, "    set priority 150|    set override disable", "set priority 128")]
    // In an entry: that entry only, with the lines typed in it.
    [InlineData("config system interface|edit port3|set description \"uplink\"", ConfigBlockVerb.Show,
        "config system interface|    edit \"port3\"|        set alias \"wan-a\"|        set description \"uplink\"|    next|end", "edit \"port1\"")]
    // A table's show lists its entries; an entry added by `next` is there though nothing was saved.
    [InlineData("config system interface|edit port4|set alias \"lan-b\"|next", ConfigBlockVerb.Show, "    edit \"port3\"|        set alias \"lan-b\"", "NOTHING")]
    // get: every setting of the object with its value, defaults too, `name : value` at FortiOS's width.
    [InlineData("config system ha|set priority 9", ConfigBlockVerb.Get, "priority            : 9|override            : disable", "priority            : 150")]
    [InlineData("config system interface|edit port3", ConfigBlockVerb.Get, "name                : port3|alias               : \"wan-a\"", "NOTHING")]
    [InlineData("config system interface", ConfigBlockVerb.Get, "== [ port1 ]|== [ port3 ]|== [ port10 ]", "alias")]
    public void View_of_the_block(string typed, ConfigBlockVerb verb, string mustContain, string mustNot)
    {
        var view = ConfigBlockView.Of(Saved, typed.Replace('|', '\n'), verb);
        Assert.True(view.Ok, string.Join("\n", view.Errors));
        foreach (var part in mustContain.Split('|')) Assert.Contains(part + "\n", view.Value!);
        Assert.DoesNotContain(mustNot, view.Value!);
    }

    [Fact]
    public void Nothing_is_saved_by_a_view()
    {
        var before = Saved.ToText();
        Assert.True(ConfigBlockView.Of(Saved, "config system ha\nset priority 9", ConfigBlockVerb.Show).Ok);
        Assert.Equal(before, Saved.ToText());
        Assert.Equal(150, Saved.Ha.Priority);
    }

    [Fact]
    public void A_value_the_block_would_refuse_is_reported_as_end_would()
    {
        var view = ConfigBlockView.Of(Saved, "config system ha\nset priority 900", ConfigBlockVerb.Get);
        Assert.False(view.Ok);
        Assert.Contains("cli:2:14: error: value out of range: '900'", string.Join("\n", view.Errors));
    }

    [Theory]
    [InlineData("")]
    [InlineData("config system ha\nend")]
    public void Outside_a_block_there_is_nothing_to_view(string typed) =>
        Assert.False(ConfigBlockView.Of(Saved, typed, ConfigBlockVerb.Show).Ok);

    [Fact]
    public void A_nested_block_shows_itself_not_its_parent()
    {
        var view = ConfigBlockView.Of(Saved, "config system standalone-cluster\nconfig cluster-peer\nedit 1\nset peervd \"root\"", ConfigBlockVerb.Show);
        Assert.True(view.Ok, string.Join("\n", view.Errors));
        Assert.StartsWith("config cluster-peer\n    edit 1\n", view.Value!);
    }
}
