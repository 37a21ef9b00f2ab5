using ClusterActors.Protocol.Config;
using Xunit;

namespace ClusterActors.Protocol.Tests.Config;

/// <summary>
/// Each case is a distinct way to get a config wrong. The first error must point at the exact line, column
/// and token an operator has to fix, and say what is wrong in words they can act on.
/// </summary>
public class MalformedConfigTests
{
    private static string L(params string[] lines) => string.Join("\n", lines);

    private const string Ha = "config system ha";
    private const string P1 = "config vpn ipsec phase1-interface";
    private const string Intf = "config system interface";
    private const string Rs = "config router static";

    // text, line, column, token, message fragment, did-you-mean (or null)
    public static TheoryData<string, int, int, string, string, string?> Cases => new()
    {
        // Structure
        { L("config sytem ha", "end"), 1, 8, "sytem", "unknown section", "system" },
        { L("config system hx", "end"), 1, 15, "hx", "unknown section", "ha" },
        { L("config system", "end"), 1, 8, "system", "incomplete section name", null },
        { L(Ha, "    set priority 100"), 1, 1, "config", "missing 'end'", null },
        { L(Ha, "    next", "end"), 2, 5, "next", "'next' outside edit", null },
        { L(Ha, "    edit 1", "    next", "end"), 2, 5, "edit", "'edit' outside a table", null },
        { L("set priority 100"), 1, 1, "set", "'set' outside config", null },
        { L("edit \"vpn1\""), 1, 1, "edit", "'edit' outside config", null },
        { L("end"), 1, 1, "end", "'end' without matching 'config'", null },
        { L(P1, "    set type dynamic", "end"), 2, 5, "set", "'set' outside edit", null },
        { L(Ha, "    sett priority 1", "end"), 2, 5, "sett", "unknown command", "set" },
        { L(Ha, "    e", "end"), 2, 5, "e", "ambiguous command; candidates: edit, end", null },
        { L(P1, "    edit \"a\"", "        set interface \"port1\"", "        set proposal aes128-sha1", "    edit \"b\"", "    next", "end"), 5, 5, "edit", "missing 'next' before 'edit'", null },
        { L(Ha, "    set group-name \"DC2", "end"), 2, 20, "\"DC2", "unterminated quoted string", null },
        { L(Intf, "    delete port1", "end"), 2, 12, "port1", "built-in port cannot be deleted", null },
        // Setting names
        { L(Ha, "    set grup-id 1", "end"), 2, 9, "grup-id", "unknown setting", "group-id" },
        { L(Ha, "    set p 1", "end"), 2, 9, "p", "ambiguous setting in 'config system ha'; candidates: password, priority", null },
        { L(Ha, "    set", "end"), 2, 5, "set", "missing setting name", null },
        // Values: ranges and types
        { L(Ha, "    set priority 256", "end"), 2, 18, "256", "value out of range", null },
        { L(Ha, "    set hb-interval 0", "end"), 2, 21, "0", "value out of range", null },
        { L(Ha, "    set hb-interval 21", "end"), 2, 21, "21", "value out of range", null },
        { L(Ha, "    set group-id 1024", "end"), 2, 18, "1024", "value out of range", null },
        { L(Ha, "    set priority high", "end"), 2, 18, "high", "not an integer", null },
        { L(Ha, "    set priority", "end"), 2, 9, "priority", "missing value", null },
        { L(Ha, "    set priority 100 200", "end"), 2, 22, "200", "too many values", null },
        { L(Ha, "    set group-name \"" + new string('x', 33) + "\"", "end"), 2, 20, new string('x', 33), "string too long (33 > 32", null },
        { L(Ha, "    set mode a-b", "end"), 2, 14, "a-b", "invalid value", "a-a" },
        { L(Ha, "    set mode a", "end"), 2, 14, "a", "ambiguous value; candidates: a-a, a-p", null },
        { L(Ha, "    unset priority 5", "end"), 2, 20, "5", "unexpected value after unset", null },
        { L(Ha, "    set password ENC notbase64!!", "end"), 2, 22, "********", "cannot decrypt ENC value", null }, // a mistyped ENC is nearly the secret: masked like the clear text
        { L(Ha, "    set hbdev \"port4\"", "end"), 2, 15, "port4", "missing heartbeat priority", null },
        { L(Ha, "    set hbdev \"port4\" 513", "end"), 2, 23, "513", "value out of range", null },
        { L("config system global", "    set hostname \"my host\"", "end"), 2, 18, "my host", "hostname may only contain", null },
        { L("config system standalone-cluster", "    set group-member-id 16", "end"), 2, 25, "16", "value out of range", null },
        { L(P1, "    edit \"vpn1\"", "        set dhgrp 14 3", "    next", "end"), 3, 22, "3", "invalid value", null },
        { L(P1, "    edit \"vpn1\"", "        set proposal aes128-sha", "    next", "end"), 3, 22, "aes128-sha", "ambiguous value", null },
        { L(P1, "    edit \"vpn1\"", "        set psksecret abc", "    next", "end"), 3, 23, "********", "secret length must be 6-128", null },
        { L(P1, "    edit \"vpn1\"", "        set ike-version 3", "    next", "end"), 3, 25, "3", "invalid value", null },
        // Addresses
        { L(Intf, "    edit \"port2\"", "        set ip 192.168.1.256 255.255.255.0", "    next", "end"), 3, 16, "192.168.1.256", "invalid IPv4 address", null },
        { L(Intf, "    edit \"port2\"", "        set ip 192.168.1.1 255.0.255.0", "    next", "end"), 3, 28, "255.0.255.0", "not contiguous", null },
        { L(Intf, "    edit \"port2\"", "        set ip 10.0.0.1/33", "    next", "end"), 3, 16, "10.0.0.1/33", "invalid prefix length", null },
        { L(Intf, "    edit \"port2\"", "        set ip 10.0.0.1", "    next", "end"), 3, 16, "10.0.0.1", "missing netmask", null },
        { L("config system standalone-cluster", "    config cluster-peer", "        edit 1", "            set peerip 172.31.2.300", "        next", "    end", "end"), 4, 24, "172.31.2.300", "invalid IPv4 address", null },
        // Entries
        { L("config system standalone-cluster", "    config cluster-peer", "        edit abc", "        next", "    end", "end"), 3, 14, "abc", "invalid entry id", null },
        { L(Intf, "    edit \"port1234567890123\"", "    next", "end"), 2, 10, "port1234567890123", "entry name too long", null },
        // Cross references (checked after the whole file)
        { L(Ha, "    set hbdev \"port11\" 50", "end"), 2, 15, "port11", "unknown interface", "port1" },
        { L(Ha, "    set monitor \"port2\" \"lb1\"", "end"), 2, 25, "lb1", "unknown interface", null },
        { L("config vpn ipsec phase2-interface", "    edit \"p2\"", "        set phase1name \"vpnX\"", "    next", "end"), 3, 24, "vpnX", "unknown phase1-interface", null },
        { L(P1, "    edit \"vpn1\"", "        set proposal aes128-sha1", "    next", "end"), 2, 10, "vpn1", "missing required setting 'interface'", null },
        { L(Intf, "    edit \"lb1\"", "        set ip 10.0.0.1/32", "    next", "end"), 2, 10, "lb1", "needs a logical type", null },
        { L(Intf, "    edit \"port3\"", "        set type loopback", "    next", "end"), 3, 18, "loopback", "physical port of the VM", null },
        { L(Intf, "    edit \"lb1\"", "        set type loopback", "    next", "end", Ha, "    set hbdev \"lb1\" 50", "end"), 7, 15, "lb1", "heartbeat device must be a physical", null },
        { L(Intf, "    edit \"lb1\"", "        set type loopback", "    next", "end", Ha, "    set monitor \"port2\" \"lb1\"", "end"), 7, 25, "lb1", "monitored interface must be a physical", null },
        // Router static and the NAT-T settings of phase1
        { L("config router statc", "end"), 1, 15, "statc", "unknown section", "static" },
        { L(Rs, "    edit 1", "        set gatway 192.168.129.1", "    next", "end"), 3, 13, "gatway", "unknown setting", "gateway" },
        { L(Rs, "    edit 1", "        set dst 10.10.101.0 255.255.255.300", "    next", "end"), 3, 29, "255.255.255.300", "invalid netmask", null },
        { L(Rs, "    edit 1", "        set dst 10.10.101.0 255.255.0.255", "    next", "end"), 3, 29, "255.255.0.255", "not contiguous", null },
        { L(Rs, "    edit 1", "        set gateway 192.168.129.300", "    next", "end"), 3, 21, "192.168.129.300", "invalid IPv4 address", null },
        { L(Rs, "    edit 1", "        set distance 256", "    next", "end"), 3, 22, "256", "value out of range", null },
        { L(Rs, "    edit 1", "        set status up", "    next", "end"), 3, 20, "up", "invalid value", null },
        { L(Rs, "    edit 1", "        set device \"port2\" \"port3\"", "    next", "end"), 3, 28, "port3", "too many values", null },
        { L(Rs, "    edit \"default\"", "    next", "end"), 2, 10, "default", "invalid entry id", null },
        { L(Rs, "    edit 1", "        set device \"port11\"", "    next", "end"), 3, 20, "port11", "unknown interface", "port1" },
        { L(Rs, "    edit 1", "        set gateway 192.168.129.1", "    next", "end"), 2, 10, "1", "missing required setting 'device'", null },
        { L(Rs, "    delete 7", "end"), 2, 12, "7", "no such entry in 'config router static'", null },
        { L(P1, "    edit \"vpn1\"", "        set keepalive 4", "    next", "end"), 3, 23, "4", "value out of range", null },
        { L(P1, "    edit \"vpn1\"", "        set keepalive 901", "    next", "end"), 3, 23, "901", "value out of range", null },
        { L(P1, "    edit \"vpn1\"", "        set nattraversal enabled", "    next", "end"), 3, 26, "enabled", "invalid value", "enable" },
        // Serial header
        { L("#serialno=FGVM02TM2200000", Ha, "end"), 1, 11, "FGVM02TM2200000", "invalid serial number", null },
        { L("#serialno=XXVM02TM22000001", Ha, "end"), 1, 11, "XXVM02TM22000001", "invalid serial number", null },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Malformed_config_reports_located_error(string text, int line, int column, string token, string fragment, string? didYouMean)
    {
        var r = FortiConfig.Parse(text, "bad.conf");

        Assert.False(r.Ok);
        Assert.Null(r.Value);
        var e = r.Errors[0];
        Assert.True(e.Line == line && e.Column == column && e.Token == token,
            $"expected {line}:{column} '{token}', got: {string.Join(" | ", r.Errors)}");
        Assert.Contains(fragment, e.Message);
        Assert.Equal("bad.conf", e.File);
        if (didYouMean is not null) Assert.Equal(didYouMean, e.DidYouMean);
    }

    [Fact]
    public void Cases_are_distinct()
    {
        var texts = Cases.Select(c => (string)c[0]).ToList();
        Assert.True(texts.Count >= 30);
        Assert.Equal(texts.Count, texts.Distinct().Count());
    }

    [Fact]
    public void Error_renders_as_one_compiler_style_line()
    {
        var e = FortiConfig.Parse(L(Ha, "    set grup-id 1", "end"), "dc2.conf").Errors.Single();
        Assert.StartsWith("dc2.conf:2:9: error: unknown setting in 'config system ha': 'grup-id'; expected one of: group-id,", e.ToString());
        Assert.EndsWith("; did you mean 'group-id'?", e.ToString());
        Assert.DoesNotContain('\n', e.ToString());
    }

    [Fact]
    public void Errors_are_collected_across_statements()
    {
        var r = FortiConfig.Parse(L(Ha, "    set priority 256", "    set group-id 1024", "    set mode x", "end", "set foo"), "multi.conf");
        Assert.Equal([2, 3, 4, 6], r.Errors.Select(e => e.Line));
    }

    [Fact]
    public void Unknown_section_swallows_its_body_instead_of_cascading()
    {
        var r = FortiConfig.Parse(L("config system hax", "    edit 1", "        set foo bar", "    next", "end"), "x.conf");
        var e = Assert.Single(r.Errors);
        Assert.Equal("hax", e.Token);
    }

    [Theory]
    [InlineData("ned")]
    [InlineData("confg system ha")]
    public void Mistyped_block_keyword_does_not_cascade(string typo)
    {
        var text = typo.StartsWith("conf", StringComparison.Ordinal)
            ? L(typo, "    set priority 1", "end")
            : L(Ha, "    set priority 1", typo);
        var e = Assert.Single(FortiConfig.Parse(text).Errors);
        Assert.Equal(typo.Split(' ')[0], e.Token);
        Assert.Contains("unknown command", e.Message);
    }

    [Fact]
    public void Unterminated_quote_does_not_cascade()
    {
        var r = FortiConfig.Parse(L(P1, "    edit \"vpn1", "        set interface \"port2\"", "        set proposal aes128-sha1", "    next", "end"), "x.conf");
        var e = Assert.Single(r.Errors);
        Assert.Equal(2, e.Line);
    }
}
