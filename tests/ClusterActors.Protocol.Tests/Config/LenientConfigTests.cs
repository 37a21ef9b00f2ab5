using ClusterActors.Protocol.Config;
using Xunit;

namespace ClusterActors.Protocol.Tests.Config;

/// <summary>
/// Lenient mode (issue 12, item 7): a whole FortiOS 7.4 backup parses; what the lab does not model is kept, printed back
/// by `show` in FortiOS layout, listed once as not emulated, and never blocks the document. Strict mode still refuses it.
/// </summary>
public class LenientConfigTests
{
    private static string L(params string[] lines) => string.Join("\n", lines) + "\n";

    private static string SamplePath => Path.Combine(AppContext.BaseDirectory, "samples", "fortigate-7.4-backup.conf");
    private static string Sample => File.ReadAllText(SamplePath);

    private static ConfigDocument Lenient(string text)
    {
        var r = FortiConfig.Parse(text, "t.conf", lenient: true);
        Assert.True(r.Ok, r.ToString());
        return r.Value!;
    }

    /// <summary>Each top-level `config NAME` … `end` block of a file in FortiOS layout, by name, as written.</summary>
    private static Dictionary<string, string> TopLevelBlocks(string text)
    {
        var blocks = new Dictionary<string, string>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (!lines[i].StartsWith("config ", StringComparison.Ordinal)) continue;
            var j = i;
            while (lines[j] != "end") j++;
            blocks[lines[i]["config ".Length..]] = string.Join("\n", lines[i..(j + 1)]) + "\n";
            i = j;
        }
        return blocks;
    }

    private static readonly string[] Modelled =
        ["system global", "system admin", "system interface", "system ha", "system standalone-cluster", "vpn ipsec phase1-interface", "vpn ipsec phase2-interface", "router static"];

    [Fact]
    public void The_sample_backup_is_refused_strictly_at_its_first_unknown_section_and_parses_leniently()
    {
        var strict = FortiConfig.Parse(Sample, "backup.conf");
        Assert.False(strict.Ok);
        Assert.Contains(strict.Errors, e => e.Message == "unknown section" && e.Token == "firewall");
        Assert.Contains(strict.Errors, e => e.Message.StartsWith("unknown setting", StringComparison.Ordinal) && e.Token == "gui-theme");

        var doc = Lenient(Sample);
        Assert.True(doc.Lenient);
        Assert.Equal("FGT-DC1-A", doc.Global.Hostname);
        Assert.Equal(12, doc.Ha.GroupId);
        Assert.Contains(doc.Interfaces, i => i.Name == "lan.100" && i.Type == "vlan");
        Assert.Equal("dialup", Assert.Single(doc.Phase1).Name);
        Assert.Equal(2, doc.StaticRoutes.Count);
        foreach (var path in new[]
                 {
                     "firewall policy", "firewall address", "firewall addrgrp", "system dns", "system ntp", "vpn certificate ca", "log setting",
                     "system global set gui-theme", "system global set admin-sport", "system interface set snmp-index", "system interface config ipv6",
                     "system ha config ha-mgmt-interfaces", "system admin config gui-dashboard", "vpn ipsec phase1-interface set wizard-type",
                 })
            Assert.Contains(path, doc.NotEmulated);
        // Once per path: ten ports' snmp-index is one line of the report.
        Assert.Single(doc.NotEmulated, p => p == "system interface set snmp-index");
        Assert.Equal(doc.NotEmulated.Count, doc.NotEmulated.Distinct().Count());
        Assert.DoesNotContain(doc.NotEmulated, p => p.StartsWith("system global set hostname", StringComparison.Ordinal) || p.Contains("set timezone") || p.Contains("set admintimeout"));
        var report = doc.NotEmulatedReport()!;
        Assert.Single(report.Split('\n'));
    }

    [Fact]
    public void Show_prints_each_not_emulated_section_back_as_the_backup_wrote_it()
    {
        var doc = Lenient(Sample);
        var blocks = TopLevelBlocks(Sample);
        var kept = blocks.Keys.Where(k => !Modelled.Contains(k)).ToList();
        Assert.True(kept.Count >= 10, string.Join(", ", kept));
        foreach (var name in kept) Assert.Equal(blocks[name], doc.Show(name, full: false));
        var whole = doc.ToText();
        foreach (var name in kept) Assert.Contains(blocks[name], whole);
        Assert.StartsWith("#config-version=FGVM64-7.4.4-FW-build2662-240514:opmode=0:vdom=0:user=admin\n#conf_file_ver=", whole);
        Assert.Contains("#global_vdom=1\n", whole);
    }

    [Fact]
    public void Show_of_one_kept_entry_prints_that_entry_alone()
    {
        var doc = Lenient(Sample);
        var policy = doc.Show("firewall policy 2", full: false);
        Assert.StartsWith("config firewall policy\n    edit 2\n        set name \"Dialup-to-LAN\"\n", policy);
        Assert.DoesNotContain("LAN-to-Internet", policy);
        Assert.EndsWith("    next\nend\n", policy);
        var e = Assert.Throws<ConfigPathException>(() => doc.Show("firewall policy 9", full: false));
        Assert.Contains("no such entry", e.Error.Message);
    }

    [Fact]
    public void Kept_settings_of_modelled_sections_print_after_the_modelled_ones_and_the_whole_text_round_trips()
    {
        var doc = Lenient(Sample);
        var global = doc.Show("system global", full: false);
        Assert.Contains("    set hostname \"FGT-DC1-A\"\n", global);
        Assert.Contains("    set admin-sport 8443\n    set gui-auto-upgrade-setup-warning disable\n    set gui-theme mariner\n    set switch-controller enable\n", global);
        var port1 = doc.Show("system interface port1", full: false);
        Assert.Contains("        set snmp-index 1\n        config ipv6\n            set ip6-mode dhcp\n            set ip6-allowaccess ping https\n        end\n    next\n", port1);
        var ha = doc.Show("system ha", full: false);
        Assert.Contains("    config ha-mgmt-interfaces\n        edit 1\n            set interface \"port1\"\n            set gateway 198.51.100.1\n        next\n    end\n", ha);

        var text = doc.ToText();
        var again = Lenient(text);
        Assert.Equal(text, again.ToText());
        Assert.Equal(doc.NotEmulated, again.NotEmulated);
    }

    [Fact]
    public void A_quoted_value_may_span_lines_in_lenient_mode_and_is_shown_back_with_its_lines()
    {
        var cert = Lenient(Sample).Show("vpn certificate ca", full: false);
        Assert.Contains("        set ca \"-----BEGIN CERTIFICATE-----\nMIIB7zCCAZWg", cert);
        Assert.Contains("nuyxCCMnvy9lMaZutim4LuYb6Q==\n-----END CERTIFICATE-----\"\n        set range global\n", cert);

        var text = L("config vpn certificate local", "    edit \"c\"", "        set certificate \"line one", "line # two", "end", "\"", "        set range global", "    next", "end");
        var doc = Lenient(text);
        Assert.Equal(text, doc.Show("vpn certificate local", full: false));
    }

    [Fact]
    public void An_unterminated_quote_is_an_error_at_the_opening_quote_in_both_modes()
    {
        var text = L("config firewall address", "    edit \"a\"", "        set comment \"never closed", "    next", "end");
        var lenient = FortiConfig.Parse(text, "t.conf", lenient: true);
        var e = Assert.Single(lenient.Errors, x => x.Message == "unterminated quoted string");
        Assert.Equal((3, 21), (e.Line, e.Column));
        Assert.Equal("closing \" before end of input", e.Expected);

        var strict = FortiConfig.Parse(L("config system ha", "    set group-name \"DC2", "end"), "t.conf");
        var s = Assert.Single(strict.Errors);
        Assert.Equal("closing \" before end of line", s.Expected);
    }

    [Fact]
    public void Escaped_quotes_and_backslashes_in_kept_values_are_shown_back_escaped()
    {
        var doc = Lenient(Sample);
        Assert.Contains("        set comments \"Allow \\\"LAN\\\" and VLAN 100 out, with NAT\"\n", doc.Show("firewall policy 1", full: false));
        var text = L("config firewall address", "    edit \"a\\\\b\"", "        set comment 'single \"quoted\"'", "    next", "end");
        var shown = Lenient(text).Show("firewall address", full: false);
        Assert.Equal(L("config firewall address", "    edit \"a\\\\b\"", "        set comment \"single \\\"quoted\\\"\"", "    next", "end"), shown);
        Assert.Equal(shown, Lenient(shown).Show("firewall address", full: false));
    }

    [Fact]
    public void Nested_configs_inside_kept_entries_keep_their_order_and_depth()
    {
        var text = L(
            "config router bgp",
            "    set as 65001",
            "    config neighbor",
            "        edit \"10.0.0.2\"",
            "            set remote-as 65002",
            "            config conditional-advertise",
            "                edit \"rm-out\"",
            "                    set condition-routemap \"rm-cond\"",
            "                next",
            "            end",
            "            set description \"peer\"",
            "        next",
            "    end",
            "    set router-id 10.0.0.1",
            "end");
        Assert.Equal(text, Lenient(text).Show("router bgp", full: false));
    }

    [Fact]
    public void Unset_append_select_unselect_clear_delete_and_edit_0_act_on_kept_blocks()
    {
        var doc = Lenient(L(
            "config firewall addrgrp",
            "    edit \"g\"",
            "        set member \"a\" \"b\"",
            "        set comment \"x\"",
            "        set color 3",
            "    next",
            "end",
            "config firewall policy",
            "    edit 4",
            "        set name \"four\"",
            "    next",
            "    edit 7",
            "        set name \"seven\"",
            "    next",
            "end"));
        var after = doc.Apply(L(
            "config firewall addrgrp",
            "    edit \"g\"",
            "        append member \"c\" \"a\"",
            "        unselect member \"b\"",
            "        unset comment",
            "        clear color",
            "        select allow-routing enable",
            "    next",
            "end",
            "config firewall policy",
            "    delete 4",
            "    edit 0",
            "        set name \"new\"",
            "    next",
            "end"));
        Assert.True(after.Ok, after.ToString());
        Assert.Equal(L("config firewall addrgrp", "    edit \"g\"", "        set member \"a\" \"c\"", "        set allow-routing enable", "    next", "end"),
            after.Value!.Show("firewall addrgrp", full: false));
        Assert.Equal(L("config firewall policy", "    edit 7", "        set name \"seven\"", "    next", "    edit 8", "        set name \"new\"", "    next", "end"),
            after.Value.Show("firewall policy", full: false));
        Assert.True(after.Value.Lenient);
    }

    [Fact]
    public void Append_select_unselect_and_clear_act_on_modelled_list_settings_too()
    {
        var doc = Lenient(L("config system interface", "    edit \"port2\"", "        set allowaccess ping https", "    next", "end"));
        var r = doc.Apply(L("config system interface", "    edit \"port2\"", "        append allowaccess ssh", "        unselect allowaccess ping", "    next", "end"));
        Assert.True(r.Ok, r.ToString());
        Assert.Contains("set allowaccess https ssh", r.Value!.Show("system interface port2", full: false));
        var selected = r.Value.Apply(L("config system interface", "    edit \"port2\"", "        select allowaccess ping", "    next", "end"));
        Assert.Contains("set allowaccess ping\n", selected.Value!.Show("system interface port2", full: false));
        var cleared = selected.Value.Apply(L("config system interface", "    edit \"port2\"", "        clear allowaccess", "    next", "end"));
        Assert.DoesNotContain("allowaccess", cleared.Value!.Show("system interface port2", full: false));
        // The same words work in strict mode; abbreviations still resolve as before (`se` is `set`).
        var strict = ConfigDocument.Empty.Apply(L("config system ha", "    se mode a-p", "    select monitor port2 port3", "    unselect monitor port2", "end"));
        Assert.True(strict.Ok, strict.ToString());
        Assert.Equal(["port3"], strict.Value!.Ha.Monitor);
    }

    [Fact]
    public void Unset_of_a_kept_setting_of_a_modelled_section_removes_it()
    {
        var doc = Lenient(L("config system global", "    set gui-theme mariner", "    set hostname \"A\"", "end"));
        Assert.Contains("system global set gui-theme", doc.NotEmulated);
        var r = doc.Apply(L("config system global", "    unset gui-theme", "end"));
        Assert.True(r.Ok, r.ToString());
        Assert.Empty(r.Value!.NotEmulated);
        Assert.DoesNotContain("gui-theme", r.Value.ToText());
    }

    [Fact]
    public void ENC_values_of_another_FortiGate_are_kept_unreadable_and_the_unit_runs_without_them()
    {
        var doc = Lenient(Sample);
        Assert.Null(doc.Ha.Password);
        Assert.Null(Assert.Single(doc.Phase1).PskSecret);
        // An administrator whose hash is FortiOS's own (SH2) has no password here: the login refuses the account.
        Assert.Null(Assert.Single(doc.Admins, a => a.Name == "admin").Password);
        Assert.Contains("system ha set password (ENC not readable here: runs unset)", doc.NotEmulated);
        Assert.Contains("vpn ipsec phase1-interface set psksecret (ENC not readable here: runs unset)", doc.NotEmulated);
        // Shown back exactly as read, so the file still restores on the FortiGate it came from.
        Assert.Contains("    set password ENC kam+S9rzucCg19KUPL58MTi4Gs1K7aGhRnsBEdxhRl0Vf39bcMFdtjEZys80", doc.Show("system ha", full: false));
        Assert.Contains("        set password ENC SH2CS+vwhfp6d+hL1449KZl8HNPFb1EKRYUD04Ui7kJsEgOTgGjL0mKM9csoWQ=\n", doc.Show("system admin", full: false));
        // Typing a readable secret replaces the kept one.
        var r = doc.Apply(L("config system ha", "    set password \"NewHaPass1\"", "end"));
        Assert.True(r.Ok, r.ToString());
        Assert.Equal("NewHaPass1", r.Value!.Ha.Password!.Clear);
        Assert.DoesNotContain(r.Value.NotEmulated, p => p.StartsWith("system ha set password", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("config user local\n    edit \"u\"\n        set passwd LeakyClear1\n    next\nend\n")]
    [InlineData("config system ha\n    set ha-mgmt-password LeakyClear2\nend\n")]
    [InlineData("config vpn certificate local\n    edit \"c\"\n        set private-key \"-----BEGIN PRIVATE KEY-----LeakyClear3\"\n    next\nend\n")]
    public void A_secret_the_lab_does_not_model_is_refused_in_clear_and_never_echoed(string text)
    {
        var r = FortiConfig.Parse(text, "t.conf", lenient: true);
        var e = Assert.Single(r.Errors);
        Assert.Contains("secret this lab does not emulate", e.Message);
        Assert.DoesNotContain("Leaky", e.ToString());
    }

    [Fact]
    public void A_kept_secret_given_as_ENC_is_kept_as_typed()
    {
        var doc = Lenient(L("config user local", "    edit \"u\"", "        set type password", "        set passwd ENC QUJDRA==", "    next", "end"));
        Assert.Contains("        set passwd ENC QUJDRA==\n", doc.Show("user local", full: false));
    }

    [Theory]
    // Value errors of modelled settings stay errors in lenient mode: lenient keeps what is unknown, not what is wrong.
    [InlineData("config system ha\n    set priority 256\nend\n", "value out of range")]
    [InlineData("config system ha\n    set mode a-b\nend\n", "invalid value")]
    [InlineData("config vpn ipsec phase1-interface\n    edit \"v\"\n        set proposal aes128-sha1\n    next\nend\n", "missing required setting 'interface'")]
    [InlineData("config system interface\n    edit \"wan1\"\n        set ip 10.0.0.1 255.255.255.0\n    next\nend\n", "not a port of the VM")]
    [InlineData("#config-version=FGVM64-7.4.4-FW-build2662-240514:opmode=0:vdom=1:user=admin\nconfig vdom\nend\n", "multi-VDOM configuration is not emulated")]
    public void Lenient_mode_still_refuses_what_is_wrong_in_what_it_models(string text, string message)
    {
        var r = FortiConfig.Parse(text, "t.conf", lenient: true);
        Assert.Contains(r.Errors, e => e.Message.Contains(message));
    }

    [Fact]
    public void Lenient_names_are_whole_words_so_a_name_we_do_not_model_is_never_taken_for_a_prefix_of_one_we_do()
    {
        // IKEv1's `set mode aggressive` is not our `mode-cfg`; strict mode reads it as the prefix and refuses the value.
        var text = L("config vpn ipsec phase1-interface", "    edit \"v1\"", "        set interface \"port2\"", "        set proposal aes128-sha1",
            "        set mode aggressive", "    next", "end");
        Assert.Contains(FortiConfig.Parse(text).Errors, e => e.Token == "aggressive");
        var doc = Lenient(text);
        Assert.False(Assert.Single(doc.Phase1).ModeCfg);
        Assert.Contains("vpn ipsec phase1-interface set mode", doc.NotEmulated);
        // `config sys ha` is a section we do not know, in lenient mode; strict mode still expands it.
        Assert.Contains("sys ha", Lenient(L("config sys ha", "    set priority 5", "end")).NotEmulated);
        Assert.Equal(5, ConfigDocument.Empty.Apply(L("config sys ha", "    set priority 5", "end")).Value!.Ha.Priority);
    }

    [Fact]
    public void Strict_documents_keep_todays_errors_for_what_they_do_not_model()
    {
        var r = ConfigDocument.Empty.Apply(L("config firewall policy", "    edit 1", "    next", "end"));
        var e = Assert.Single(r.Errors);
        Assert.Equal(("unknown section", "firewall"), (e.Message, e.Token));
        var s = ConfigDocument.Empty.Apply(L("config system global", "    set gui-theme mariner", "end"));
        Assert.Equal("unknown setting in 'config system global'", Assert.Single(s.Errors).Message);
        Assert.Empty(ConfigDocument.Empty.NotEmulated);
        Assert.Null(ConfigDocument.Empty.NotEmulatedReport());
    }

    [Fact]
    public void FGCP_sync_takes_the_primarys_kept_sections_and_keeps_the_secondarys_own_hostname()
    {
        var primary = Lenient(L("config system global", "    set hostname \"P\"", "end", "config firewall address", "    edit \"a\"", "        set subnet 10.0.0.0 255.0.0.0", "    next", "end"));
        var secondary = Lenient(L("config system global", "    set hostname \"S\"", "end"));
        var synced = secondary.WithSyncedFrom(primary);
        Assert.Equal("S", synced.Global.Hostname);
        Assert.Equal(primary.Show("firewall address", false), synced.Show("firewall address", false));
        Assert.True(synced.Lenient);
    }
}
