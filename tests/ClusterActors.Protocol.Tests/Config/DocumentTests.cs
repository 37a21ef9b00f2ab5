using System.Text.RegularExpressions;
using ClusterActors.Protocol.Config;
using Xunit;

namespace ClusterActors.Protocol.Tests.Config;

public class DocumentTests
{
    private static string L(params string[] lines) => string.Join("\n", lines);

    private static ConfigDocument Parse(string text)
    {
        var r = FortiConfig.Parse(text, "t.conf");
        Assert.True(r.Ok, string.Join("\n", r.Errors));
        return r.Value!;
    }

    private static ConfigDocument Apply(ConfigDocument doc, string script)
    {
        var r = doc.Apply(script);
        Assert.True(r.Ok, string.Join("\n", r.Errors));
        return r.Value!;
    }

    private static string MaskEnc(string s) => Regex.Replace(s, @"ENC \S+", "ENC <x>");

    // ---- Lexing and syntax variety ----

    [Fact]
    public void Comments_blank_lines_odd_indentation_and_tabs_are_accepted()
    {
        var doc = Parse(L("# leading comment", "", "config system ha", "\t  # inner comment", "", "set priority 200", "\t\tset group-id 7", "   end", ""));
        Assert.Equal(200, doc.Ha.Priority);
        Assert.Equal(7, doc.Ha.GroupId);
    }

    [Fact]
    public void Crlf_line_endings_are_accepted()
    {
        Assert.Equal(5, Parse("config system ha\r\n    set priority 5\r\nend\r\n").Ha.Priority);
    }

    [Fact]
    public void Quoted_strings_support_escapes_and_spaces_and_round_trip()
    {
        var doc = Parse(L("config system interface", "    edit \"port2\"", "        set alias \"a \\\"b\\\" \\\\ c\"", "        set description 'single quoted'", "    next", "end"));
        var port2 = doc.Interfaces.Single(i => i.Name == "port2");
        Assert.Equal("a \"b\" \\ c", port2.Alias);
        Assert.Equal("single quoted", port2.Description);
        Assert.Equal("a \"b\" \\ c", Parse(doc.ToText()).Interfaces.Single(i => i.Name == "port2").Alias);
    }

    [Fact]
    public void Quoted_keyword_is_a_value_not_a_command()
    {
        var doc = Parse(L("config system ha", "    set group-name \"end\"", "end"));
        Assert.Equal("end", doc.Ha.GroupName);
    }

    [Theory]
    [InlineData("192.168.129.254 255.255.255.0", 24)]
    [InlineData("192.168.129.254/24", 24)]
    [InlineData("192.168.202.35/32", 32)]
    [InlineData("10.0.0.1 255.255.255.255", 32)]
    [InlineData("0.0.0.0/0", 0)]
    public void Interface_ip_accepts_dotted_mask_and_prefix_length(string value, int prefix)
    {
        var doc = Parse(L("config system interface", "    edit \"port2\"", $"        set ip {value}", "    next", "end"));
        var port2 = doc.Interfaces.Single(i => i.Name == "port2");
        Assert.Equal(prefix, port2.PrefixLength);
        Assert.Contains("set ip " + port2.Ip + " " + port2.Netmask, doc.Show("system interface port2", true));
    }

    [Fact]
    public void Multi_token_values_parse()
    {
        var doc = Parse(L(
            "config system interface",
            "    edit \"lb1\"",
            "        set type loopback",
            "        set ip 192.168.202.35 255.255.255.255",
            "        set allowaccess ping https ssh",
            "    next",
            "end",
            "config system ha",
            "    set hbdev \"port4\" 50 \"port5\" 40",
            "    set monitor \"port2\" \"port3\"",
            "end",
            "config system standalone-cluster",
            "    set session-sync-dev \"port5\" \"lb1\"",
            "end"));
        Assert.Equal([new HbDev("port4", 50), new HbDev("port5", 40)], doc.Ha.HbDevs);
        Assert.Equal(["port2", "port3"], doc.Ha.Monitor);
        Assert.Equal(["ping", "https", "ssh"], doc.Interfaces.Single(i => i.Name == "lb1").AllowAccess);
        Assert.Equal(["port5", "lb1"], doc.StandaloneCluster.SessionSyncDev);
    }

    [Fact]
    public void System_ike_embryonic_limit_is_parsed_with_its_range_and_default()
    {
        Assert.Equal(1000, ConfigDocument.Empty.Ike.EmbryonicLimit);
        var doc = Parse(L("config system ike", "    set embryonic-limit 50", "end"));
        Assert.Equal(50, doc.Ike.EmbryonicLimit);
        Assert.Equal(20000, Apply(doc, L("config system ike", "set embryonic-limit 20000", "end")).Ike.EmbryonicLimit);
        Assert.Contains("embryonic-limit 50", doc.ToText());
        foreach (var bad in new[] { "49", "20001", "many" })
            Assert.False(FortiConfig.Parse(L("config system ike", $"    set embryonic-limit {bad}", "end")).Ok, bad);
    }

    [Fact]
    public void Duplicate_setting_last_wins()
    {
        Assert.Equal(50, Parse(L("config system ha", "set priority 10", "set priority 50", "end")).Ha.Priority);
    }

    [Fact]
    public void Unset_restores_default()
    {
        var doc = Parse(L("config system ha", "set priority 10", "unset priority", "end"));
        Assert.Equal(128, doc.Ha.Priority);
    }

    [Fact]
    public void End_closes_an_open_entry_and_its_table_like_FortiOS()
    {
        var doc = Parse(L("config system standalone-cluster", "config cluster-peer", "edit 1", "set peerip 10.0.0.2", "end", "end"));
        Assert.Equal("10.0.0.2", doc.StandaloneCluster.Peers.Single().PeerIp);
    }

    [Fact]
    public void Edit_zero_allocates_the_next_free_id()
    {
        var doc = Parse(L("config system standalone-cluster", "config cluster-peer", "edit 4", "next", "edit 0", "set peerip 10.0.0.9", "next", "end", "end"));
        Assert.Equal([4, 5], doc.StandaloneCluster.Peers.Select(p => p.Id));
    }

    [Fact]
    public void Empty_document_is_a_vm_with_ten_ports_and_defaults()
    {
        var doc = ConfigDocument.Empty;
        Assert.Equal(Enumerable.Range(1, 10).Select(i => $"port{i}"), doc.Interfaces.Select(i => i.Name));
        Assert.All(doc.Interfaces, i => Assert.Equal("physical", i.Type));
        Assert.Equal(HaMode.Standalone, doc.Ha.Mode);
        Assert.Equal(128, doc.Ha.Priority);
        Assert.Equal(5, doc.Global.AdminTimeout);
        Assert.Null(doc.SerialNumber);
        Assert.Empty(doc.Phase1);
        Assert.Equal("", doc.ToText());
    }

    // ---- Abbreviation ----

    [Fact]
    public void Abbreviated_path_keyword_setting_and_value_work()
    {
        var doc = Apply(ConfigDocument.Empty, L("conf sys ha", "set prio 200", "se mod a-p", "s upgrade-mode sec", "en"));
        Assert.Equal(200, doc.Ha.Priority);
        Assert.Equal(HaMode.ActivePassive, doc.Ha.Mode);
        Assert.Equal("secondary-only", doc.Ha.UpgradeMode);
    }

    [Fact]
    public void Ambiguous_setting_lists_candidates()
    {
        var r = ConfigDocument.Empty.Apply(L("conf sys ha", "set p 1", "end"));
        var e = Assert.Single(r.Errors);
        Assert.Equal("p", e.Token);
        Assert.Contains("password", e.Message);
        Assert.Contains("priority", e.Message);
        Assert.Equal("cli", e.File);
    }

    [Fact]
    public void Exact_match_wins_over_longer_names()
    {
        // hb-interval is also a prefix of hb-interval-in-milliseconds; dpd of dpd-retry*.
        var doc = Parse(L("config system ha", "set hb-interval 5", "set session-pickup enable", "end"));
        Assert.Equal(5, doc.Ha.HbInterval);
        Assert.True(doc.Ha.SessionPickup);
        Assert.False(doc.Ha.SessionPickupConnectionless);
    }

    [Fact]
    public void Abbreviated_vpn_path_resolves_word_by_word()
    {
        var doc = Parse(L("conf vpn ipsec phase1", "edit vpn1", "set interface port2", "set proposal aes256-sha256 aes128gcm-prfsha256", "end"));
        Assert.Equal(["aes256-sha256", "aes128gcm-prfsha256"], doc.Phase1.Single().Proposal);
    }

    [Fact]
    public void Ambiguous_path_word_lists_candidates()
    {
        var r = FortiConfig.Parse(L("config vpn ipsec phase", "end"));
        var e = Assert.Single(r.Errors);
        Assert.Contains("phase1-interface, phase2-interface", e.Message);
    }

    [Fact]
    public void Nested_block_names_abbreviate_too()
    {
        var doc = Apply(ConfigDocument.Empty, L("conf sys stand", "set standalone 3", "conf cluster", "ed 2", "set peerip 10.1.1.1", "n", "en", "en"));
        Assert.Equal(3, doc.StandaloneCluster.StandaloneGroupId);
        Assert.Equal((2, "10.1.1.1"), (doc.StandaloneCluster.Peers.Single().Id, doc.StandaloneCluster.Peers.Single().PeerIp));
    }

    [Fact]
    public void Show_accepts_the_full_configuration_word()
    {
        var doc = Parse(ScenarioConfigTests.Cluster1Ha);
        Assert.Equal(doc.Show("system ha", true), doc.Show("full-configuration system ha", false));
        Assert.Contains("set hb-lost-threshold 20", doc.Show("full sys ha", false));
    }

    // ---- All-or-nothing ----

    [Fact]
    public void Apply_with_one_bad_line_changes_nothing()
    {
        var original = Parse(ScenarioConfigTests.Cluster1Ha);
        var before = original.ToText();

        var r = original.Apply(L("config system ha", "    set priority 200", "    set group-id 1024", "    set override enable", "end"));

        Assert.False(r.Ok);
        Assert.Null(r.Value);
        var e = Assert.Single(r.Errors);
        Assert.Equal((3, 18, "1024"), (e.Line, e.Column, e.Token));
        Assert.Equal(100, original.Ha.Priority);
        Assert.False(original.Ha.Override);
        Assert.Equal(before, original.ToText());
    }

    [Fact]
    public void Apply_that_breaks_a_reference_is_rejected()
    {
        var doc = Parse(L(ScenarioConfigTests.Phase1, ScenarioConfigTests.Phase2));
        var r = doc.Apply(L("config vpn ipsec phase1-interface", "delete vpn1", "end"));
        Assert.False(r.Ok);
        Assert.Contains("unknown phase1-interface", r.Errors.Single().Message);
        Assert.Single(doc.Phase1);
    }

    [Fact]
    public void Apply_on_top_keeps_everything_else()
    {
        var doc = Parse(L(ScenarioConfigTests.Cluster1Ha, ScenarioConfigTests.Vm1Fgsp));
        var changed = Apply(doc, L("config system ha", "set priority 200", "end"));
        Assert.Equal(200, changed.Ha.Priority);
        Assert.Equal(100, doc.Ha.Priority);
        Assert.Equal("DC2_VM12", changed.Ha.GroupName);
        Assert.Equal("172.31.2.2", changed.StandaloneCluster.Peers.Single().PeerIp);
    }

    [Fact]
    public void Apply_delete_and_append()
    {
        var doc = Parse(L("config system interface", "edit lb1", "set type loopback", "next", "end", "config system ha", "set monitor port2", "end"));
        doc = Apply(doc, L("config system ha", "append monitor port3 port2", "append hbdev port4 50", "end"));
        Assert.Equal(["port2", "port3"], doc.Ha.Monitor);
        Assert.Equal([new HbDev("port4", 50)], doc.Ha.HbDevs);
        doc = Apply(doc, L("config system interface", "delete lb1", "end"));
        Assert.DoesNotContain(doc.Interfaces, i => i.Name == "lb1");
        var r = doc.Apply(L("config system ha", "append priority 5", "end"));
        Assert.Contains("needs a list setting", r.Errors.Single().Message);
    }

    [Fact]
    public void Apply_ignores_serial_header_lines()
    {
        var doc = Parse(L("#serialno=FGVM02TM22000001", "config system ha", "end"));
        var changed = Apply(doc, L("#serialno=FGVM02TM22000009", "config system ha", "set priority 1", "end"));
        Assert.Equal("FGVM02TM22000001", changed.SerialNumber);
    }

    // ---- Secrets ----

    [Fact]
    public void Secrets_never_appear_in_clear_in_output()
    {
        const string clear = "Sup3r-S3cret!";
        var doc = Parse(L(
            "config system ha", $"    set password \"{clear}\"", "end",
            "config system standalone-cluster", "    set encryption enable", $"    set psksecret {clear}", "end",
            ScenarioConfigTests.Phase1.Replace("set psksecret ********", $"set psksecret {clear}")));
        Assert.Equal(clear, doc.Ha.Password!.Clear);
        foreach (var text in new[] { doc.ToText(), doc.Show("system ha", false), doc.Show("system ha", true), doc.Show("", true), doc.Summary(),
                     doc.Ha.ToString(), doc.Ha.Password.ToString(), doc.Phase1[0].ToString(), doc.StandaloneCluster.ToString() })
            Assert.DoesNotContain(clear, text);
        Assert.Contains("set password ENC ", doc.ToText());
        Assert.Contains("set psksecret ENC ", doc.Show("vpn ipsec phase1-interface", false));
    }

    [Fact]
    public void Secret_errors_do_not_echo_the_clear_text()
    {
        var r = FortiConfig.Parse(L(ScenarioConfigTests.Phase1.Replace("set psksecret ********", "set psksecret abc")));
        Assert.DoesNotContain("abc", r.Errors.Single().ToString());
    }

    [Fact]
    public void Enc_round_trips_through_text()
    {
        var doc = Parse(ScenarioConfigTests.Cluster1Ha);
        var enc = Regex.Match(doc.ToText(), @"set password ENC (\S+)").Groups[1].Value;
        Assert.NotEqual("********", enc);
        var again = Parse(L("config system ha", $"    set password ENC {enc}", "end"));
        Assert.Equal("********", again.Ha.Password!.Clear);
        Assert.Equal(doc.Ha.Password, again.Ha.Password);
        Assert.Contains(enc, again.ToText()); // read as ENC, written back unchanged
    }

    [Fact]
    public void Secret_to_string_is_masked_and_uses_a_random_iv()
    {
        var a = new Secret("********");
        var b = new Secret("********");
        Assert.StartsWith("ENC ", a.ToString());
        Assert.Equal(a.ToString(), a.ToString());
        Assert.NotEqual(a.Encrypted, b.Encrypted);
        Assert.Equal(a, b);
        Assert.Equal("********", Secret.FromEncrypted(b.Encrypted).Clear);
        Assert.False(Secret.TryFromEncrypted("AAAA", out _));
    }

    // ---- Show ----

    [Fact]
    public void Show_system_ha_prints_only_non_defaults_in_fortios_layout()
    {
        var doc = Parse(ScenarioConfigTests.Cluster1Ha);
        Assert.Equal(L(
            "config system ha",
            "    set group-id 1",
            "    set group-name \"DC2_VM12\"",
            "    set mode a-p",
            "    set password ENC <x>",
            "    set hbdev \"port4\" 50",
            "    set session-pickup enable",
            "    set upgrade-mode simultaneous",
            "    set priority 100",
            "end",
            ""), MaskEnc(doc.Show("system ha", false)));
    }

    [Fact]
    public void Show_full_system_ha_prints_every_setting()
    {
        var doc = Parse(ScenarioConfigTests.Cluster2Ha);
        Assert.Equal(L(
            "config system ha",
            "    set group-id 2",
            "    set group-name \"DC2_VM34\"",
            "    set mode a-p",
            "    set password ENC <x>",
            "    set hbdev \"port4\" 50",
            "    set authentication disable",
            "    set encryption disable",
            "    set session-pickup enable",
            "    set session-pickup-connectionless disable",
            "    set upgrade-mode simultaneous",
            "    set hb-interval 2",
            "    set hb-interval-in-milliseconds 100ms",
            "    set hb-lost-threshold 20",
            "    set hello-holddown 20",
            "    set arps 5",
            "    set arps-interval 8",
            "    set ha-uptime-diff-margin 300",
            "    set failover-hold-time 0",
            "    set override disable",
            "    set priority 100",
            "end",
            ""), MaskEnc(doc.Show("sys ha", true)));
    }

    [Fact]
    public void Show_nested_table_layout()
    {
        var doc = Parse(ScenarioConfigTests.Vm1Fgsp);
        Assert.Equal(L(
            "config system standalone-cluster",
            "    set standalone-group-id 2",
            "    set group-member-id 1",
            "    config cluster-peer",
            "        edit 1",
            "            set peerip 172.31.2.2",
            "        next",
            "    end",
            "end",
            ""), doc.Show("system standalone-cluster", false));
    }

    [Fact]
    public void Show_single_table_entry()
    {
        var doc = Parse(L(ScenarioConfigTests.Phase1, ScenarioConfigTests.Phase2));
        var text = doc.Show("vpn ipsec phase2 vpn1", false);
        Assert.Equal(L("config vpn ipsec phase2-interface", "    edit \"vpn1\"", "        set phase1name \"vpn1\"", "        set proposal aes128-sha1",
            "        set keylifeseconds 10800", "    next", "end", ""), text);
    }

    [Theory]
    [InlineData("system hax", "hax")]
    [InlineData("systen ha", "systen")]
    [InlineData("vpn ipsec phase1-interface vpn9", "vpn9")]
    [InlineData("system ha extra", "extra")]
    public void Show_unknown_path_throws_located_error(string path, string token)
    {
        var ex = Assert.Throws<ConfigPathException>(() => ConfigDocument.Empty.Show(path, false));
        Assert.Equal(token, ex.Error.Token);
        Assert.Equal(path.IndexOf(token, StringComparison.Ordinal) + 1, ex.Error.Column);
    }

    // ---- FGCP config sync ----

    [Fact]
    public void WithSyncedFrom_takes_primary_config_but_keeps_per_unit_settings()
    {
        var primary = Parse(L("#serialno=FGVM02TM22000002", "config system global", "set hostname DC2_VM2", "end",
            ScenarioConfigTests.Cluster1Ha.Replace("set override disable", "set override enable"), ScenarioConfigTests.Vm1Fgsp));
        var secondary = Parse(L("#serialno=FGVM02TM22000001", "config system global", "set hostname DC2_VM1", "end",
            "config system ha", "set priority 200", "set group-name old", "end"));

        var synced = secondary.WithSyncedFrom(primary);

        Assert.Equal("DC2_VM1", synced.Global.Hostname);
        Assert.Equal(200, synced.Ha.Priority);
        Assert.False(synced.Ha.Override);
        Assert.Equal("FGVM02TM22000001", synced.SerialNumber);
        Assert.Equal("DC2_VM12", synced.Ha.GroupName);
        Assert.Equal(primary.Ha.Password, synced.Ha.Password);
        Assert.Equal("172.31.2.2", synced.StandaloneCluster.Peers.Single().PeerIp);
        // Neither input changed.
        Assert.Equal("old", secondary.Ha.GroupName);
        Assert.True(primary.Ha.Override);
    }

    [Fact]
    public void WithSyncedFrom_resets_per_unit_settings_the_secondary_never_set()
    {
        var primary = Parse(L("config system ha", "set priority 250", "end"));
        var synced = ConfigDocument.Empty.WithSyncedFrom(primary);
        Assert.Equal(128, synced.Ha.Priority);
    }

    // ---- Round trip and summary ----

    [Fact]
    public void Parse_of_ToText_round_trips()
    {
        var doc = Parse(L("#serialno=FGVM02TM22000001",
            "config system global", "set hostname DC2_VM1", "set alias \"a b\"", "end",
            "config system interface", "edit port2", "set ip 192.168.129.254/24", "set allowaccess ping https", "next",
            "edit lb1", "set type loopback", "set ip 192.168.202.35/32", "next", "end",
            ScenarioConfigTests.Cluster1Ha.Replace("set priority 100", "set priority 100\n    set monitor port2 port3\n    set hb-lost-threshold 6"),
            ScenarioConfigTests.Vm1Fgsp, ScenarioConfigTests.Phase1, ScenarioConfigTests.Phase2));
        var text = doc.ToText();
        var again = Parse(text);
        Assert.Equal(text, again.ToText());
        Assert.Equal(doc.Ha, again.Ha with { HbDevs = doc.Ha.HbDevs, Monitor = doc.Ha.Monitor });
        Assert.Equal(doc.Ha.HbDevs, again.Ha.HbDevs);
        Assert.Equal(doc.Phase1[0].PskSecret, again.Phase1[0].PskSecret);
        Assert.Equal(doc.SerialNumber, again.SerialNumber);
        Assert.Equal(doc.Interfaces.Select(i => (i.Name, i.Ip, i.PrefixLength, i.Type)), again.Interfaces.Select(i => (i.Name, i.Ip, i.PrefixLength, i.Type)));
        Assert.Equal(text, Parse(doc.Show("", true)).ToText());
    }

    [Fact]
    public void Summary_lists_the_essentials()
    {
        var doc = Parse(L("#serialno=FGVM02TM22000001", ScenarioConfigTests.Cluster1Ha, ScenarioConfigTests.Vm1Fgsp, ScenarioConfigTests.Phase1, ScenarioConfigTests.Phase2));
        var s = doc.Summary();
        foreach (var expected in new[] { "FGVM02TM22000001", "a-p", "DC2_VM12", "priority=100", "port4/50", "hb-lost-threshold=20", "172.31.2.2", "phase1 vpn1", "phase2 vpn1", "password=set" })
            Assert.Contains(expected, s);
    }

    [Fact]
    public void ParseFile_reports_the_path()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ca-{Guid.NewGuid():N}.conf");
        File.WriteAllText(path, L("config system ha", "set priority 999", "end"));
        try
        {
            var e = FortiConfig.ParseFile(path).Errors.Single();
            Assert.Equal(path, e.File);
            Assert.Equal(2, e.Line);
        }
        finally { File.Delete(path); }
        Assert.False(FortiConfig.ParseFile(path).Ok);
    }

    [Fact]
    public void Heartbeat_timing_follows_the_interval_unit()
    {
        var doc = Parse(L("config system ha", "set hb-interval 3", "set hb-lost-threshold 6", "end"));
        Assert.Equal(TimeSpan.FromMilliseconds(300), doc.Ha.HeartbeatInterval);
        Assert.Equal(TimeSpan.FromMilliseconds(1800), doc.Ha.LostAfter);
        var fast = Apply(doc, L("config system ha", "set hb-interval-in-milliseconds 10ms", "end"));
        Assert.Equal(TimeSpan.FromMilliseconds(30), fast.Ha.HeartbeatInterval);
    }
}
