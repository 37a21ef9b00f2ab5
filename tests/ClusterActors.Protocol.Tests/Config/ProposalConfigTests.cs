using ClusterActors.Protocol.Config;
using Xunit;

namespace ClusterActors.Protocol.Tests.Config;

/// <summary>
/// Issue 12 item 6: `config check` names, at its line and column, any proposal or DH group that FortiOS accepts but
/// the emulator cannot run, and accepts everything it can run.
/// </summary>
public class ProposalConfigTests
{
    private static string Config(string phase1Sets, string phase2Sets = "") => string.Join("\n",
        "config vpn ipsec phase1-interface",
        "    edit \"vpn1\"",
        "        set interface \"port2\"",
        "        set ike-version 2",
        phase1Sets,
        "    next",
        "end",
        "config vpn ipsec phase2-interface",
        "    edit \"vpn1\"",
        "        set phase1name \"vpn1\"",
        phase2Sets,
        "    next",
        "end");

    [Theory]
    [InlineData("        set proposal aes256gcm-prfsha384 aes128-sha256 chacha20poly1305-prfsha512\n        set dhgrp 19 20 21 16 15 14 5 2",
        "        set proposal aes128gcm aes256gcm chacha20poly1305 aes256-sha512\n        set pfs enable\n        set dhgrp 19 14")]
    [InlineData("        set proposal aes128-sha1\n        set dhgrp 2", "")]
    public void Every_proposal_and_group_the_emulator_runs_passes_config_check(string phase1, string phase2)
    {
        var r = FortiConfig.Parse(Config(phase1, phase2), "ok.conf");
        Assert.True(r.Ok, string.Join("\n", r.Errors));
        Assert.Equal(["aes128gcm", "aes256gcm", "chacha20poly1305", "aes256-sha512"],
            FortiConfig.Parse(Config(phase1, "        set proposal aes128gcm aes256gcm chacha20poly1305 aes256-sha512"), "ok.conf").Value!.Phase2[0].Proposal);
    }

    [Theory]
    [InlineData("        set proposal aes128-sha256 aes128-md5", "", 5, 36, "aes128-md5", "proposal 'aes128-md5' is valid FortiOS but not emulated: integrity 'md5' is not implemented")]
    [InlineData("        set proposal 3des-sha256", "", 5, 22, "3des-sha256", "cipher '3des' is not implemented")]
    [InlineData("        set proposal aes128-sha1\n        set dhgrp 19 20 31", "", 6, 25, "31", "dhgrp '31' is valid FortiOS but not emulated: DH group 31 is not implemented")]
    [InlineData("        set proposal aes128-sha1\n        set dhgrp 1", "", 6, 19, "1", "DH group 1 is not implemented")]
    [InlineData("        set proposal aes128-sha1", "        set proposal aes128-sha1 null-sha256", 11, 34, "null-sha256", "cipher 'null' is not implemented")]
    [InlineData("        set proposal aes128-sha1", "        set proposal aria256-sha512", 11, 22, "aria256-sha512", "cipher 'aria256' is not implemented")]
    [InlineData("        set proposal aes128-sha1", "        set dhgrp 14 32", 11, 22, "32", "DH group 32 is not implemented")]
    public void A_value_FortiOS_accepts_but_the_emulator_cannot_run_is_a_located_error(string phase1, string phase2, int line, int column, string token, string fragment)
    {
        var r = FortiConfig.Parse(Config(phase1, phase2), "p.conf");
        Assert.False(r.Ok);
        var e = Assert.Single(r.Errors);
        Assert.True(e.Line == line && e.Column == column && e.Token == token, $"expected {line}:{column} '{token}', got {e}");
        Assert.Contains(fragment, e.Message);
        Assert.NotNull(e.Expected);
    }
}
