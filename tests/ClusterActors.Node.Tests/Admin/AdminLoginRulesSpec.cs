using System.Net;
using System.Text;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Config;
using CsCheck;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Node.Tests.Admin;

/// <summary>The admin endpoint's pure parts: the request decoder (fuzzed), the lockout rule and the login check.</summary>
public sealed class AdminLoginRulesSpec
{
    private static readonly IPAddress A = IPAddress.Parse("10.1.1.1");
    private static readonly IPAddress B = IPAddress.Parse("10.1.1.2");

    [Fact]
    public void The_decoder_never_throws_on_any_bytes_and_never_reads_past_the_cap()
    {
        Gen.Byte.Array[0, 2048].Sample(bytes =>
        {
            var r = AdminProtocol.TryDecode(bytes, out var refusal);
            Assert.True(r is not null || Enum.IsDefined(refusal));
        }, iter: 20_000);
        Assert.Null(AdminProtocol.TryDecode(new byte[AdminProtocol.MaxRequestBytes + 1], out var tooLarge));
        Assert.Equal(AdminRefusal.TooLarge, tooLarge);
    }

    [Fact]
    public void The_decoder_never_throws_on_mutated_login_requests()
    {
        var valid = AdminProtocol.Encode("diagnose sys ha status", "admin", "pässword with spaces");
        Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Byte, Gen.Int[0, 3]).Array[1, 8].Sample(edits =>
        {
            var b = (byte[])valid.Clone();
            foreach (var (at, value, kind) in edits)
                if (kind == 0) b[at] = value; else if (kind == 1) b[at] ^= (byte)(1 << (value % 8)); else b[at] = (byte)"\n \0"[value % 3];
            _ = AdminProtocol.TryDecode(b, out _);
        }, iter: 20_000);
    }

    [Fact]
    public void Any_user_password_and_command_survive_encoding()
    {
        var user = Gen.String[Gen.Char['!', '~'], 1, AdminProtocol.MaxUserLength];
        var password = Gen.String[0, 128];
        var command = Gen.String[0, 300];
        Gen.Select(user, password, command).Sample((u, p, c) =>
        {
            var r = AdminProtocol.TryDecode(AdminProtocol.Encode(c, u, p), out _);
            Assert.NotNull(r);
            Assert.Equal((u, p, c), (r!.User, r.Password, r.Command));
            Assert.DoesNotContain(p.Length > 3 ? p : "\u0001never", r.ToString());
        }, iter: 5_000);
    }

    [Fact]
    public void A_request_without_a_login_line_is_a_command_without_a_user()
    {
        var r = AdminProtocol.TryDecode(Encoding.UTF8.GetBytes("diagnose sys ha status"), out _);
        Assert.Equal(new AdminRequest(null, null, "diagnose sys ha status"), r);
        Assert.False(r!.HasLogin);
    }

    [Fact]
    public void Lockout_follows_the_threshold_and_duration_per_source_address()
    {
        var time = new FakeTimeProvider();
        var guard = new AdminLoginGuard(time);
        var d = TimeSpan.FromSeconds(60);
        Assert.Equal((1, false), guard.Failed(A, 3, d));
        Assert.Equal((2, false), guard.Failed(A, 3, d));
        Assert.False(guard.IsLockedOut(A, out _));
        Assert.Equal((3, true), guard.Failed(A, 3, d));
        Assert.True(guard.IsLockedOut(A, out var remaining));
        Assert.Equal(d, remaining);
        Assert.False(guard.IsLockedOut(B, out _)); // the address, not the account
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.False(guard.IsLockedOut(A, out _));
        Assert.Equal((1, false), guard.Failed(A, 3, d)); // counting starts again
    }

    [Fact]
    public void A_success_clears_the_count_and_old_failures_are_forgotten()
    {
        var time = new FakeTimeProvider();
        var guard = new AdminLoginGuard(time);
        var d = TimeSpan.FromSeconds(60);
        guard.Failed(A, 3, d);
        guard.Failed(A, 3, d);
        guard.Succeeded(A);
        Assert.Equal((1, false), guard.Failed(A, 3, d));
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal((1, false), guard.Failed(A, 3, d));
    }

    [Fact]
    public void A_threshold_of_one_locks_at_the_first_failure_and_IPv4_mapped_addresses_are_the_same_source()
    {
        var guard = new AdminLoginGuard(new FakeTimeProvider());
        Assert.Equal((1, true), guard.Failed(A.MapToIPv6(), 1, TimeSpan.FromSeconds(5)));
        Assert.True(guard.IsLockedOut(A, out _));
    }

    [Fact]
    public void Failures_from_many_addresses_never_track_more_than_the_capacity()
    {
        var guard = new AdminLoginGuard(new FakeTimeProvider(), capacity: 100);
        for (var i = 0; i < 5000; i++) guard.Failed(new IPAddress(BitConverter.GetBytes(0x0A000000 + i)), 3, TimeSpan.FromSeconds(60));
        Assert.Equal(100, guard.Tracked);
    }

    [Fact]
    public void The_login_check_needs_the_account_its_password_and_a_trusted_source()
    {
        var config = FortiConfig.Parse("""
            config system admin
                edit "admin"
                    set password "pw-admin-1"
                    set trusthost1 192.168.1.0 255.255.255.0
                next
                edit "nopass"
                next
            end
            """).Value!;
        var login = new AdminLogin(new AdminLoginGuard(new FakeTimeProvider()));
        var inside = IPAddress.Parse("192.168.1.7");
        Assert.True(login.Check(config, "admin", "pw-admin-1", inside).Ok);
        Assert.True(login.Check(config, "admin", "pw-admin-1", inside).Ok); // the remembered path agrees
        Assert.False(login.Check(config, "admin", "pw-admin-1", IPAddress.Parse("192.168.2.7")).Ok);
        Assert.False(login.Check(config, "admin", "pw-admin-2", inside).Ok);
        Assert.False(login.Check(config, "nopass", "", inside).Ok);
        var unknown = login.Check(config, "ghost", "pw-admin-1", inside);
        Assert.False(unknown.Ok);
        Assert.False(unknown.KnownUser);
    }

    [Fact]
    public void Verification_does_the_whole_derivation_for_a_wrong_password_as_for_the_right_one()
    {
        var hash = AdminPasswordHash.Create("correct horse", AdminPasswordHash.MinIterations * 20);
        // Warm-up, then the median of several: a wrong first byte must not answer faster than a right password.
        for (var i = 0; i < 3; i++) { hash.Verify("correct horse"); hash.Verify("x"); }
        double Median(string p) => Enumerable.Range(0, 9).Select(_ =>
        {
            var sw = System.Diagnostics.Stopwatch.StartNew();
            hash.Verify(p);
            return sw.Elapsed.TotalMilliseconds;
        }).Order().ElementAt(4);
        var right = Median("correct horse");
        var wrong = Median("Xorrect horse");
        Assert.True(wrong > right * 0.5, $"wrong {wrong:0.00} ms vs right {right:0.00} ms");
        Assert.True(hash.Verify("correct horse"));
        Assert.False(hash.Verify("correct horse "));
    }
}
