using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ipsec;
using Xunit;

namespace ClusterActors.Protocol.Tests.Config;

/// <summary>
/// Config values the code branches on are enums in the model (<see cref="ConfigWords"/>): every FortiOS word parses to
/// its value, `show` prints the word back, and an unknown word is a located error naming the words FortiOS accepts.
/// </summary>
public class ConfigWordsTests
{
    private static string L(params string[] lines) => string.Join("\n", lines);

    /// <summary>A phase1 with one setting under test on line 5.</summary>
    private static string Phase1(string setting) => L("config vpn ipsec phase1-interface", "    edit \"vpn1\"",
        "        set interface \"port1\"", "        set proposal aes128-sha1", $"        set {setting}", "    next", "end");

    public static TheoryData<string, string, Enum> Words => new()
    {
        { "type", "static", Phase1Type.Static },
        { "type", "dynamic", Phase1Type.Dynamic },
        { "type", "ddns", Phase1Type.Ddns },
        { "dpd", "disable", DpdMode.Disable },
        { "dpd", "on-idle", DpdMode.OnIdle },
        { "dpd", "on-demand", DpdMode.OnDemand },
        { "peertype", "any", PeerType.Any },
        { "peertype", "one", PeerType.One },
        { "peertype", "dialup", PeerType.Dialup },
        { "peertype", "peer", PeerType.Peer },
        { "peertype", "peergrp", PeerType.Peergrp },
        { "nattraversal", "enable", NatTraversal.Enable },
        { "nattraversal", "disable", NatTraversal.Disable },
        { "nattraversal", "forced", NatTraversal.Forced },
    };

    private static Enum ValueOf(Phase1Interface p, string key) => key switch
    {
        "type" => p.Type,
        "dpd" => p.Dpd,
        "peertype" => p.PeerType,
        "nattraversal" => p.NatTraversal,
        _ => throw new ArgumentOutOfRangeException(nameof(key))
    };

    private static string WordOf(Phase1Interface p, string key) => key switch
    {
        "type" => ConfigWords.Word(p.Type),
        "dpd" => ConfigWords.Word(p.Dpd),
        "peertype" => ConfigWords.Word(p.PeerType),
        "nattraversal" => ConfigWords.Word(p.NatTraversal),
        _ => throw new ArgumentOutOfRangeException(nameof(key))
    };

    [Theory]
    [MemberData(nameof(Words))]
    public void Each_fortios_word_becomes_its_enum_and_show_prints_the_word_back(string key, string word, Enum expected)
    {
        var r = FortiConfig.Parse(Phase1($"{key} {word}"), "p1.conf");
        Assert.True(r.Ok, string.Join("\n", r.Errors));
        var p = Assert.Single(r.Value!.Phase1);
        Assert.Equal(expected, ValueOf(p, key));
        Assert.Equal(word, WordOf(p, key));

        var shown = r.Value.Show("vpn ipsec phase1-interface vpn1", full: true);
        Assert.Contains($"set {key} {word}\n", shown);
        // What show printed parses to the same value again.
        var again = FortiConfig.Parse(r.Value.ToText(), "again.conf");
        Assert.True(again.Ok, string.Join("\n", again.Errors));
        Assert.Equal(expected, ValueOf(Assert.Single(again.Value!.Phase1), key));
    }

    [Fact]
    public void Every_enum_value_has_exactly_one_word_and_it_parses_back()
    {
        static void Check<T>() where T : struct, Enum
        {
            var words = ConfigWords.Of<T>();
            Assert.Equal(Enum.GetValues<T>().Length, words.Count);
            Assert.Equal(words.Count, words.Distinct().Count());
            foreach (var v in Enum.GetValues<T>())
            {
                Assert.True(ConfigWords.TryParse<T>(ConfigWords.Word(v), out var back));
                Assert.Equal(v, back);
            }
            Assert.False(ConfigWords.TryParse<T>("no-such-word", out _));
        }
        Check<Phase1Type>();
        Check<DpdMode>();
        Check<PeerType>();
        Check<NatTraversal>();
    }

    [Fact]
    public void Tunnel_roles_print_fortios_words_and_read_them_back()
    {
        Assert.Equal(["primary", "sync-primary", "standby"], Enum.GetValues<TunnelRole>().Select(TunnelRoles.Word));
        foreach (var role in Enum.GetValues<TunnelRole>())
        {
            Assert.True(TunnelRoles.TryParse(TunnelRoles.Word(role), out var back));
            Assert.Equal(role, back);
        }
        Assert.False(TunnelRoles.TryParse("owner", out _));
    }

    [Theory]
    [InlineData("type", "dialin", "static, dynamic, ddns")]
    [InlineData("dpd", "sometimes", "disable, on-idle, on-demand")]
    [InlineData("peertype", "none", "any, one, dialup, peer, peergrp")]
    [InlineData("nattraversal", "on", "enable, disable, forced")]
    public void An_unknown_word_is_a_located_error_naming_the_words_fortios_accepts(string key, string word, string accepted)
    {
        var text = Phase1($"{key} {word}");
        var r = FortiConfig.Parse(text, "bad.conf");
        Assert.False(r.Ok);
        var e = r.Errors[0];
        Assert.Equal(("bad.conf", 5, text.Split('\n')[4].IndexOf(word, StringComparison.Ordinal) + 1, word), (e.File, e.Line, e.Column, e.Token));
        Assert.Contains("invalid value", e.Message);
        Assert.Contains(accepted, e.ToString());
    }
}
