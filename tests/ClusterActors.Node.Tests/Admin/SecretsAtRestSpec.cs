using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Akka.Actor;
using ClusterActors.Actors.UnitConfig;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Config;

namespace ClusterActors.Node.Tests.Admin;

/// <summary>
/// Secrets typed on a unit never land in its journal in clear (issue 11, item 5): the SQLite file's bytes hold them
/// only as ENC (admin passwords as their one-way hash), and with `set private-data-encryption enable` only as ENC under
/// the unit's own key, kept beside the journal with mode 0600. Both read back after a restart.
/// </summary>
public sealed class SecretsAtRestSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-secrets-").FullName;

    private const string HaPassword = "HaClearPw-7391";
    private const string FgspPsk = "FgspClearPsk-5521";
    private const string IpsecPsk = "IpsecClearPsk-8842";
    private const string AdminPw = "AdminClearPw-1234";

    private static readonly string Secrets = $$"""
        config system ha
            set password "{{HaPassword}}"
        end
        config system standalone-cluster
            set encryption enable
            set psksecret {{FgspPsk}}
        end
        config vpn ipsec phase1-interface
            edit "vpnx"
                set interface "port2"
                set proposal aes128-sha1
                set psksecret "{{IpsecPsk}}"
            next
        end
        config system admin
            edit "ops"
                set password {{AdminPw}}
            next
        end
        """;

    private UnitOptions Options()
    {
        const string serial = "FGVM02TM22009901";
        var config = FortiConfig.Parse($"#serialno={serial}\nconfig system global\n    set hostname \"SECRETS\"\nend\n").Value!;
        return new UnitOptions("SECRETS", config, serial, Path.Combine(_dir, "data"), new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeTcpPort()),
            new IPEndPoint(IPAddress.Loopback, 0), [], [], []) { Tls = LabCertificateAuthority.ForSpecs("SECRETS", serial) };
    }

    private static readonly TimeSpan FirstAfterStart = TimeSpan.FromSeconds(30);

    /// <summary>Every byte under the data folder (the database, its WAL and shared memory files).</summary>
    private byte[] DataBytes() =>
        Directory.GetFiles(Path.Combine(_dir, "data"), "clusteractors.db*").SelectMany(f =>
        {
            using var s = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var ms = new MemoryStream();
            s.CopyTo(ms);
            return ms.ToArray();
        }).ToArray();

    private static void AssertNoClearSecret(byte[] bytes)
    {
        foreach (var secret in new[] { HaPassword, FgspPsk, IpsecPsk, AdminPw })
        {
            Assert.False(Contains(bytes, Encoding.UTF8.GetBytes(secret)), $"{secret} is in the journal in clear (UTF-8)");
            Assert.False(Contains(bytes, Encoding.Unicode.GetBytes(secret)), $"{secret} is in the journal in clear (UTF-16)");
        }
    }

    private static bool Contains(byte[] hay, byte[] needle) => hay.AsSpan().IndexOf(needle) >= 0;

    private static List<string> EncValues(byte[] bytes) =>
        Regex.Matches(Encoding.Latin1.GetString(bytes), @"ENC ([A-Za-z0-9+/=]{20,})").Select(m => m.Groups[1].Value).Distinct().ToList();

    private static async Task<ConfigDocument> Running(UnitHost host) =>
        await host.System.ActorSelection(host.Unit.Path / "config").Ask<ConfigDocument>(GetUnitConfig.Instance, TimeSpan.FromSeconds(10));

    private static void AssertSecretsRead(ConfigDocument c)
    {
        Assert.Equal(HaPassword, c.Ha.Password?.Clear);
        Assert.Equal(FgspPsk, c.StandaloneCluster.PskSecret?.Clear);
        Assert.Equal(IpsecPsk, c.Phase1.Single(p => p.Name == "vpnx").PskSecret?.Clear);
        Assert.True(c.Admins.Single(a => a.Name == "ops").Password!.Verify(AdminPw));
    }

    [Fact]
    public async Task Typed_secrets_are_journaled_only_as_ENC_and_read_back_after_a_restart()
    {
        var host = await UnitHost.StartAsync(Options());
        try
        {
            var r = await host.CliAsync(Secrets, FirstAfterStart);
            Assert.True(r.ExitCode == 0, r.Output);
        }
        finally { await host.DisposeAsync(); }

        var bytes = DataBytes();
        AssertNoClearSecret(bytes);
        var enc = EncValues(bytes);
        Assert.True(enc.Count >= 3, $"the journal holds {enc.Count} ENC values: the change was not journaled as expected");
        Assert.Contains(enc, e => e.StartsWith(AdminPasswordHash.Prefix, StringComparison.Ordinal));

        var again = await UnitHost.StartAsync(Options());
        try
        {
            await AwaitReady(again);
            AssertSecretsRead(await Running(again));
        }
        finally { await again.DisposeAsync(); }
    }

    [Fact]
    public async Task With_private_data_encryption_the_journal_holds_ENC_only_under_the_units_own_key()
    {
        var host = await UnitHost.StartAsync(Options());
        string shown;
        try
        {
            var on = await host.CliAsync("config system global\n    set private-data-encryption enable\nend", FirstAfterStart);
            Assert.True(on.ExitCode == 0, on.Output);
            var r = await host.CliAsync(Secrets);
            Assert.True(r.ExitCode == 0, r.Output);
            shown = (await host.CliAsync("show system ha")).Output;
        }
        finally { await host.DisposeAsync(); }

        var keyFile = Path.Combine(_dir, "data", PrivateDataKeyFile.FileName);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        var unitKey = PrivateDataKey.FromHex(File.ReadAllText(keyFile))!;

        var bytes = DataBytes();
        AssertNoClearSecret(bytes);
        var reversible = EncValues(bytes).Where(e => !e.StartsWith(AdminPasswordHash.Prefix, StringComparison.Ordinal)).ToList();
        Assert.True(reversible.Count >= 3, $"the journal holds {reversible.Count} ENC secrets");
        foreach (var e in reversible)
        {
            Assert.False(Secret.TryFromEncrypted(e, null, out _), "an ENC value in the journal decrypts under the product key");
            Assert.True(Secret.TryFromEncrypted(e, unitKey, out _), "an ENC value in the journal does not decrypt under the unit's key");
        }
        // `show` prints them under the unit's key too.
        var shownEnc = Regex.Match(shown, @"set password ENC (\S+)").Groups[1].Value;
        Assert.False(Secret.TryFromEncrypted(shownEnc, null, out _));
        Assert.Equal(HaPassword, (Secret.TryFromEncrypted(shownEnc, unitKey, out var s) ? s : null)?.Clear);

        var again = await UnitHost.StartAsync(Options());
        try
        {
            await AwaitReady(again);
            AssertSecretsRead(await Running(again));
        }
        finally { await again.DisposeAsync(); }
    }

    private static async Task AwaitReady(UnitHost host)
    {
        var r = await host.CliAsync("show system global", FirstAfterStart);
        Assert.Equal(0, r.ExitCode);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
