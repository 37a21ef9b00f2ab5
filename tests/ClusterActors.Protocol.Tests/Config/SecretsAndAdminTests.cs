using ClusterActors.Protocol.Config;

namespace ClusterActors.Protocol.Tests.Config;

/// <summary>
/// Secrets in the configuration language (issue 11, items 3 and 5): `config system admin` as FortiOS has it, admin
/// passwords as one-way hashes, errors that never show a secret, scripts rewritten with their secrets as ENC for the
/// journal, and ENC under a unit's own private data key.
/// </summary>
public sealed class SecretsAndAdminTests
{
    private static ConfigDocument Parse(string text, PrivateDataKey? key = null)
    {
        var r = FortiConfig.Parse(text, "t.conf", key);
        Assert.True(r.Ok, string.Join("\n", r.Errors));
        return r.Value!;
    }

    [Fact]
    public void System_admin_takes_a_password_shows_only_its_hash_and_has_FortiOS_defaults()
    {
        var c = Parse("""
            config system admin
                edit "admin"
                    set accprofile "super_admin"
                    set vdom "root"
                    set password "s3cret-pw"
                    set trusthost1 10.0.0.0 255.0.0.0
                    set trusthost2 192.168.1.0/24
                next
            end
            """);
        var admin = Assert.Single(c.Admins);
        Assert.Equal("admin", admin.Name);
        Assert.True(admin.Password!.Verify("s3cret-pw"));
        Assert.False(admin.Password.Verify("s3cret-pw2"));
        Assert.True(admin.Trusts(System.Net.IPAddress.Parse("10.9.8.7")));
        Assert.True(admin.Trusts(System.Net.IPAddress.Parse("192.168.1.200")));
        Assert.False(admin.Trusts(System.Net.IPAddress.Parse("192.168.2.1")));
        var shown = c.Show("system admin", full: false);
        Assert.DoesNotContain("s3cret-pw", shown);
        Assert.Matches(@"set password ENC PB2[A-Za-z0-9+/=]+\n", shown);
        Assert.DoesNotContain("trusthost3", shown); // 0.0.0.0 0.0.0.0 is the default
        Assert.Contains("set trusthost3 0.0.0.0 0.0.0.0", c.Show("system admin", full: true));
        // The hash as shown reads back as the same hash.
        var again = Parse(c.ToText());
        Assert.Equal(admin.Password.Encoded, again.Admins.Single().Password!.Encoded);
        // FortiOS defaults: 3 failures, 60 s, private data encryption off.
        Assert.Equal(3, c.Global.AdminLockoutThreshold);
        Assert.Equal(TimeSpan.FromSeconds(60), c.Global.AdminLockoutDuration);
        Assert.False(c.Global.PrivateDataEncryption);
        Assert.True(Assert.Single(Parse("config system admin\n    edit \"x\"\n    next\nend\n").Admins).Trusts(System.Net.IPAddress.Parse("203.0.113.9")));
    }

    [Theory]
    [InlineData("config system global\n    set admin-lockout-threshold 11\nend\n")]
    [InlineData("config system global\n    set admin-lockout-threshold 0\nend\n")]
    [InlineData("config system global\n    set admin-lockout-duration 0\nend\n")]
    [InlineData("config system admin\n    edit \"a\"\n        set password ENC SH2notours\n    next\nend\n")]
    public void Out_of_range_lockout_settings_and_foreign_hashes_are_rejected(string text) =>
        Assert.False(FortiConfig.Parse(text).Ok);

    [Theory]
    [InlineData("config system ha\n    set password \"Leaky1 Leaky2\" Leaky3\nend\n")]
    [InlineData("config system ha\n    set password \"LeakyUnterminated\nend\n")]
    [InlineData("config system ha\n    set password Leaky1 Leaky2\nend\n")]
    [InlineData("config vpn ipsec phase1-interface\n    edit \"v\"\n        set psksecret Leak\n    next\nend\n")]
    [InlineData("config system ha\n    set password ENC LeakyNotBase64!!\nend\n")]
    [InlineData("config system admin\n    edit \"a\"\n        set password Leaky1 Leaky2\n    next\nend\n")]
    [InlineData("config system admin\n    edit \"a\"\n        set password ENC PB2Leaky\n    next\nend\n")]
    public void Errors_on_a_secret_never_show_any_of_its_text(string text)
    {
        var r = FortiConfig.Parse(text, "t.conf");
        Assert.False(r.Ok);
        foreach (var e in r.Errors) Assert.DoesNotContain("Leak", e.ToString());
    }

    [Fact]
    public void A_script_rewritten_for_the_journal_holds_every_secret_as_ENC_and_applies_to_the_same_config()
    {
        const string script = """
            config system ha
                set group-name "G1"
                set password "Ha Pass 1"
            end
            config vpn ipsec phase1-interface
                edit "v"
                    set interface "port2"
                    set proposal aes128-sha1
                    set psk 'psk-secret-2'
                next
            end
            config system admin
                edit "ops"
                    set passw adminpw3
                next
            end
            """;
        var applied = ConfigDocument.Empty.Apply(script, "cli", null, out var secrets);
        Assert.True(applied.Ok, string.Join("\n", applied.Errors));
        Assert.True(secrets.Any);
        foreach (var key in new[] { PrivateDataKey.Product, PrivateDataKey.Generate() })
        {
            var journaled = secrets.Rewrite(key);
            foreach (var clear in new[] { "Ha Pass 1", "psk-secret-2", "adminpw3" }) Assert.DoesNotContain(clear, journaled);
            Assert.Contains("set group-name \"G1\"", journaled); // other lines as typed
            var replayed = ConfigDocument.Empty.Apply(journaled, "journal", key);
            Assert.True(replayed.Ok, string.Join("\n", replayed.Errors));
            var c = replayed.Value!;
            Assert.Equal("Ha Pass 1", c.Ha.Password!.Clear);
            Assert.Equal("psk-secret-2", c.Phase1.Single().PskSecret!.Clear);
            // The same hash as applied, not a new one: the replayed config is the running one.
            Assert.Equal(applied.Value!.Admins.Single().Password!.Encoded, c.Admins.Single().Password!.Encoded);
        }
    }

    [Fact]
    public void ENC_under_a_units_own_key_reads_only_with_that_key_and_the_product_key_still_reads()
    {
        var unitKey = PrivateDataKey.Generate();
        var c = Parse("config system global\n    set private-data-encryption enable\nend\nconfig system ha\n    set password \"pw-under-key\"\nend\n");
        Assert.True(c.Global.PrivateDataEncryption);
        Assert.Same(unitKey, c.EncKey(unitKey));
        Assert.Same(PrivateDataKey.Product, Parse("").EncKey(unitKey));
        var text = c.ToText(c.EncKey(unitKey));
        Assert.False(FortiConfig.Parse(text).Ok);                       // not under the product key
        Assert.False(FortiConfig.Parse(text, "t", PrivateDataKey.Generate()).Ok); // nor under another unit's
        Assert.Equal("pw-under-key", Parse(text, unitKey).Ha.Password!.Clear);
        Assert.Equal("pw-under-key", Parse(c.ToText(), unitKey).Ha.Password!.Clear); // product-key ENC (synced text) still reads
        // Written back as read: rendering under the same key gives the same text.
        Assert.Equal(text, Parse(text, unitKey).ToText(unitKey));
        Assert.Equal(unitKey.ToHex(), PrivateDataKey.FromHex(unitKey.ToHex())!.ToHex());
        Assert.Null(PrivateDataKey.FromHex("not hex"));
    }

    [Fact]
    public void Private_data_encryption_is_the_units_own_and_not_taken_from_the_primary()
    {
        var primary = Parse("config system global\n    set private-data-encryption enable\nend\n");
        Assert.False(ConfigDocument.Empty.WithSyncedFrom(primary).Global.PrivateDataEncryption);
    }
}
