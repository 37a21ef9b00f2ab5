using ClusterActors.Node.Commands;

namespace ClusterActors.Node.Tests.Cli;

/// <summary>
/// The interactive CLI's session model with synthetic input, no terminal and no unit: prompts and sub-modes, the
/// `config … end` script sent as one request, `abort`, `next`, local parse errors, `?` and Tab, history.
/// </summary>
public sealed class CliSessionSpec
{
    /// <summary>Lines typed in order → the prompt after the last one.</summary>
    [Theory]
    [InlineData("", "DC2_VM1 # ")]
    [InlineData("config system ha", "DC2_VM1 (ha) # ")]
    [InlineData("conf sys ha", "DC2_VM1 (ha) # ")]
    [InlineData("config system ha|end", "DC2_VM1 # ")]
    [InlineData("config vpn ipsec phase1-interface", "DC2_VM1 (phase1-interface) # ")]
    [InlineData("config vpn ipsec phase1-interface|edit vpn1", "DC2_VM1 (vpn1) # ")]
    [InlineData("config vpn ipsec phase1-interface|edit vpn1|next", "DC2_VM1 (phase1-interface) # ")]
    [InlineData("config vpn ipsec phase1-interface|edit vpn1|end", "DC2_VM1 # ")]
    [InlineData("config system standalone-cluster|config cluster-peer|edit 1", "DC2_VM1 (1) # ")]
    [InlineData("config system standalone-cluster|config cluster-peer|edit 1|next|end", "DC2_VM1 (standalone-cluster) # ")]
    [InlineData("config system ha|set priority 200|abort", "DC2_VM1 # ")]
    [InlineData("config system nothing", "DC2_VM1 # ")]
    [InlineData("config system ha|set nothing 1", "DC2_VM1 (ha) # ")]
    public void Prompt_after_lines(string lines, string prompt)
    {
        var s = new CliSession("DC2_VM1");
        foreach (var line in lines.Split('|')) s.Enter(line);
        Assert.Equal(prompt, s.Prompt);
    }

    /// <summary>Lines typed → the step of the last one (R: run on the unit with that text; P: print that text; X: exit; M: manage).</summary>
    [Theory]
    [InlineData("get system ha status", "R:get system ha status")]
    [InlineData("diag sys ha stat", "R:diag sys ha stat")]
    [InlineData("exit", "X")]
    [InlineData("exi", "X")]
    [InlineData("config system ha", "P:")]
    [InlineData("config system ha|set priority 200|set override enable|end", "R:config system ha\nset priority 200\nset override enable\nend")]
    [InlineData("config vpn ipsec phase1-interface|edit vpn1|set keylife 3600|next|end", "R:config vpn ipsec phase1-interface\nedit vpn1\nset keylife 3600\nnext\nend")]
    [InlineData("config vpn ipsec phase1-interface|edit vpn1|set keylife 3600|end", "R:config vpn ipsec phase1-interface\nedit vpn1\nset keylife 3600\nend")]
    [InlineData("config system ha|set priority 1|abort|config system ha|set priority 2|end", "R:config system ha\nset priority 2\nend")]
    [InlineData("config system ha|set prio 7|unset override|end", "R:config system ha\nset prio 7\nunset override\nend")]
    [InlineData("config system nothing", "P:unknown section: one of: global, admin, interface, ha, standalone-cluster, ike\nCommand fail. Return code -61\n")]
    [InlineData("config system ha|set nothing 1", "P:unknown setting 'nothing'\nCommand fail. Return code -61\n")]
    [InlineData("config system ha|set h 1", "P:ambiguous setting 'h': hbdev, hb-interval, hb-interval-in-milliseconds, hb-lost-threshold, hello-holddown, ha-uptime-diff-margin\nCommand fail. Return code -61\n")]
    [InlineData("config system ha|set priority", "P:command incomplete: set priority <value>\nCommand fail. Return code -61\n")]
    [InlineData("config system ha|edit x", "P:command parse error before 'edit'\nCommand fail. Return code -61\n")]
    [InlineData("config system ha|next", "P:command parse error before 'next'\nCommand fail. Return code -61\n")]
    [InlineData("config", "P:command incomplete: config <section>\nCommand fail. Return code -61\n")]
    [InlineData("execute ha manage 1 admin", "M:1 admin")]
    [InlineData("exe ha man 1 admin", "M:1 admin")]
    [InlineData("execute ha manage 1", "P:command incomplete: execute ha manage <cluster-index> <admin-user>\nCommand fail. Return code -61\n")]
    [InlineData("execute ha failover set 1", "R:execute ha failover set 1")]
    [InlineData("   ", "P:")]
    [InlineData("config system ha|show", "R:config system ha\nshow")]
    [InlineData("config system ha|set priority 9|sh full", "R:config system ha\nset priority 9\nshow full-configuration")]
    [InlineData("config vpn ipsec phase1-interface|edit vpn1|show", "R:config vpn ipsec phase1-interface\nedit vpn1\nshow")]
    [InlineData("config vpn ipsec phase1-interface|show", "R:config vpn ipsec phase1-interface\nshow")]
    [InlineData("config system standalone-cluster|config cluster-peer|edit 1|show", "R:config system standalone-cluster\nconfig cluster-peer\nedit 1\nshow")]
    [InlineData("config system ha|show x", "P:command parse error before 'x'\nCommand fail. Return code -61\n")]
    [InlineData("config system ha|show|set priority 3|end", "R:config system ha\nset priority 3\nend")]
    [InlineData("config system ha|set priority 9|get", "R:config system ha\nset priority 9\nget")]
    [InlineData("config vpn ipsec phase1-interface|g", "R:config vpn ipsec phase1-interface\nget")]
    [InlineData("config system ha|get priority", "P:command parse error before 'priority'\nCommand fail. Return code -61\n")]
    [InlineData("config system ha|get|set priority 3|end", "R:config system ha\nset priority 3\nend")]
    // abort: FortiOS saved each entry of the outermost table at its `next`; only what came after is discarded.
    [InlineData("config vpn ipsec phase1-interface|edit vpn1|set keylife 3600|next|edit vpn2|set keylife 999|abort",
        "R:config vpn ipsec phase1-interface\nedit vpn1\nset keylife 3600\nnext\nend")]
    [InlineData("config vpn ipsec phase1-interface|edit vpn1|set keylife 3600|abort", "P:")]
    [InlineData("config system standalone-cluster|config cluster-peer|edit 1|next|abort", "P:")]
    [InlineData("config system ha|set priority 3|abort", "P:")]
    [InlineData("config system ha|abort now", "P:command parse error before 'now'\nCommand fail. Return code -61\n")]
    [InlineData("config vpn ipsec phase1-interface|edit vpn1|next|abort|config system ha|set priority 4|end", "R:config system ha\nset priority 4\nend")]
    public void Step_of_the_last_line(string lines, string expected)
    {
        var s = new CliSession("DC2_VM1");
        CliStep step = new CliPrint("");
        foreach (var line in lines.Split('|')) step = s.Enter(line);
        var actual = step switch
        {
            CliRunOnUnit r => "R:" + r.Command,
            CliPrint p => "P:" + p.Text,
            CliExit => "X",
            CliManage m => $"M:{m.Index} {m.User}",
            _ => "?",
        };
        // The section list of a parse error is the schema's: compare only its start for that case.
        if (expected.StartsWith("P:unknown section", StringComparison.Ordinal)) Assert.StartsWith("P:unknown section", actual);
        else Assert.Equal(expected, actual);
    }

    /// <summary>In mode (lines typed before), Tab after the partial line → the line.</summary>
    [Theory]
    [InlineData("", "get sys", "get system ")]
    [InlineData("", "diag", "diagnose ")]
    [InlineData("", "diagnose sys ha st", "diagnose sys ha sta")]
    [InlineData("", "diagnose sys ha stat", "diagnose sys ha status ")]
    [InlineData("", "conf", "config ")]
    [InlineData("", "config sys", "config system ")]
    [InlineData("", "config system h", "config system ha ")]
    [InlineData("", "config vpn ipsec phase1", "config vpn ipsec phase1-interface ")]
    [InlineData("", "e", "ex")]
    [InlineData("", "zzz", "zzz")]
    [InlineData("config system ha", "set prio", "set priority ")]
    [InlineData("config system ha", "set mode a-", "set mode a-")]
    [InlineData("config system ha", "set mode a-p", "set mode a-p ")]
    [InlineData("config system ha", "set hb-interval", "set hb-interval")]
    [InlineData("config system ha", "se", "set ")]
    [InlineData("config vpn ipsec phase1-interface|edit vpn1", "ne", "next ")]
    [InlineData("config vpn ipsec phase1-interface", "ed", "edit ")]
    public void Tab_completes(string before, string partial, string completed)
    {
        var s = new CliSession("DC2_VM1");
        foreach (var line in before.Split('|', StringSplitOptions.RemoveEmptyEntries)) s.Enter(line);
        Assert.Equal(completed, s.Complete(partial));
    }

    /// <summary>`?` after the partial line lists these words (each on its own line, first on the line), and no word of <c>absent</c>.</summary>
    [Theory]
    [InlineData("", "", "config,get,show,diagnose,execute,exit", "set,next")]
    [InlineData("", "ex", "execute,exit", "config")]
    [InlineData("", "get ", "system,vpn", "diagnose")]
    [InlineData("", "get system ", "ha,status", "vpn")]
    [InlineData("", "get system ha status ", "<Enter>", "ha")]
    [InlineData("", "config ", "system,vpn,router", "set")]
    [InlineData("", "execute ha ", "failover,manage", "set")]
    [InlineData("config system ha", "", "set,unset,config,get,show,abort,end", "next,edit,exit")]
    [InlineData("config system ha", "set ", "priority,override,hb-interval,mode", "keylife")]
    [InlineData("config system ha", "set p", "priority,password", "override")]
    [InlineData("config system ha", "set mode ", "standalone,a-a,a-p", "priority")]
    [InlineData("config system ha", "set priority ", "<priority>", "a-p")]
    [InlineData("config vpn ipsec phase1-interface", "", "edit,delete,get,show,abort,end", "set,next")]
    [InlineData("config vpn ipsec phase1-interface|edit vpn1", "", "set,unset,next,end,abort", "edit")]
    public void Question_mark_lists(string before, string partial, string present, string absent)
    {
        var s = new CliSession("DC2_VM1");
        foreach (var line in before.Split('|', StringSplitOptions.RemoveEmptyEntries)) s.Enter(line);
        var help = s.Help(partial);
        var firstWords = help.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]).ToList();
        foreach (var w in present.Split(',')) Assert.Contains(w, firstWords);
        foreach (var w in absent.Split(',')) Assert.DoesNotContain(w, firstWords);
    }

    [Fact]
    public void Question_mark_gives_FortiOS_help_lines_and_setting_ranges()
    {
        var s = new CliSession("DC2_VM1");
        Assert.Contains("config      Configure object.\n", s.Help(""));
        s.Enter("config system ha");
        Assert.Matches(@"(?m)^priority +integer 0-255", s.Help("set pri"));
        Assert.Contains("End and discard last config.", s.Help("a"));
    }

    [Fact]
    public void Question_mark_after_a_word_that_fits_nothing_is_a_parse_error()
    {
        var s = new CliSession("DC2_VM1");
        Assert.Equal(CliSession.Fail("command parse error before 'zz'"), s.Help("zz"));
    }

    [Fact]
    public void History_keeps_lines_once_in_order_without_blanks()
    {
        var s = new CliSession("DC2_VM1");
        foreach (var line in new[] { "get system status", "", "get system status", "config system ha", "end" }) s.Enter(line);
        Assert.Equal(["get system status", "config system ha", "end"], s.History);
    }

    [Fact]
    public void Moving_to_another_member_changes_the_prompt_and_drops_an_unfinished_block()
    {
        var s = new CliSession("DC2_VM1");
        s.Enter("config system ha");
        s.Enter("set priority 9");
        s.MovedTo("DC2_VM2");
        Assert.Equal("DC2_VM2 # ", s.Prompt);
        s.Enter("config system ha");
        Assert.Equal(new CliRunOnUnit("config system ha\nend"), s.Enter("end"));
    }

    /// <summary>
    /// The session's debug settings (kept here, never sent): lines typed → whether IKE debug lines print, the filter, and
    /// the step of the last line (P: printed text, R: run on the unit).
    /// </summary>
    [Theory]
    [InlineData("diagnose debug application ike -1|diagnose debug enable", true, "", "P:")]
    [InlineData("diag deb app ike -1|diag deb en", true, "", "P:")]
    [InlineData("diagnose debug enable|diagnose debug application ike -1", true, "", "P:")]
    [InlineData("diagnose debug application ike -1", false, "", "P:")]
    [InlineData("diagnose debug enable", false, "", "P:")]
    [InlineData("diagnose debug application ike -1|diagnose debug enable|diagnose debug disable", false, "", "P:")]
    [InlineData("diagnose debug application ike -1|diagnose debug enable|diagnose debug reset", false, "", "P:")]
    [InlineData("diagnose debug application ike -1|diagnose debug enable|diagnose debug application ike 0", false, "", "P:")]
    [InlineData("diagnose debug application ike", false, "", "P:command incomplete: diagnose debug application ike <level>\nCommand fail. Return code -61\n")]
    [InlineData("diagnose debug application ike x", false, "", "P:invalid debug level 'x'\nCommand fail. Return code -61\n")]
    [InlineData("diagnose debug enable now", false, "", "P:command parse error before 'now'\nCommand fail. Return code -61\n")]
    [InlineData("diagnose vpn ike log-filter name vpn1", false, "name=vpn1", "P:")]
    [InlineData("diag vpn ike log-f dst-addr4 192.168.7.2", false, "dst=192.168.7.2", "P:")]
    [InlineData("diagnose vpn ike log-filter name vpn1|diagnose vpn ike log-filter dst-addr4 192.168.7.2", false, "name=vpn1 dst=192.168.7.2", "P:")]
    [InlineData("diagnose vpn ike log-filter name vpn1|diagnose vpn ike log-filter clear", false, "", "P:")]
    [InlineData("diagnose vpn ike log-filter dst-addr4 ::1", false, "", "P:invalid IPv4 address '::1'\nCommand fail. Return code -61\n")]
    [InlineData("diagnose vpn ike log-filter", false, "", "P:command incomplete: diagnose vpn ike log-filter dst-addr4 <ip> | name <phase1> | clear\nCommand fail. Return code -61\n")]
    [InlineData("diagnose vpn ike gateway list", false, "", "R:diagnose vpn ike gateway list")]
    [InlineData("diagnose debug application ike read 0", false, "", "R:diagnose debug application ike read 0")]
    public void Debug_settings_of_the_session(string lines, bool ikeDebugOn, string filter, string lastStep)
    {
        var s = new CliSession("DC2_VM1");
        CliStep step = new CliPrint("");
        foreach (var line in lines.Split('|')) step = s.Enter(line);
        Assert.Equal(ikeDebugOn, s.IkeDebugOn);
        var f = s.IkeFilter;
        Assert.Equal(filter, string.Join(' ', new[] { f.Name is null ? null : $"name={f.Name}", f.DstAddr4 is null ? null : $"dst={f.DstAddr4}" }.OfType<string>()));
        Assert.Equal(lastStep, step switch
        {
            CliRunOnUnit r => "R:" + r.Command,
            CliPrint p => "P:" + p.Text,
            _ => "?",
        });
    }
}
