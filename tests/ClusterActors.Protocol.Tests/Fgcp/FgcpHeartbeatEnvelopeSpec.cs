using System.Text;
using ClusterActors.Protocol.Fgcp;
using CsCheck;

namespace ClusterActors.Protocol.Tests.Fgcp;

/// <summary>
/// The heartbeat datagram with `set authentication` (HMAC-SHA256 over every byte) and `set encryption` (AES-256-GCM over
/// the body), keys derived from the password and group: what is sealed opens, anything changed or keyed otherwise is a
/// drop with its cause, and no input makes the decoder throw (CsCheck).
/// </summary>
public sealed class FgcpHeartbeatEnvelopeSpec
{
    private static readonly FgcpHeartbeat Hb = new(
        "FGVM02TM22000002", "DC2_VM2", 1, "DC2_VM12", new byte[32], 128, false, 12_345, 2, HaState.Work, HaRole.Primary,
        "FGVM02TM22000002", 7, 1_764_000_000_000, [new HeardPeer("FGVM02TM22000001", 1_764_000_000_001)], "0123456789abcdef0123456789abcdef");

    private static readonly FgcpHeartbeatKeys Keys = FgcpHeartbeatKeys.Derive("secret", 1, "DC2_VM12");

    private static FgcpHeartbeatProtection P(bool auth, bool enc, FgcpHeartbeatKeys? keys = null) => new(auth, enc, keys ?? Keys);

    public static TheoryData<bool, bool> Settings() => new() { { false, false }, { true, false }, { false, true }, { true, true } };

    [Theory]
    [MemberData(nameof(Settings))]
    public void What_is_sealed_opens_with_the_same_keys_and_says_how_it_was_protected(bool auth, bool enc)
    {
        var opened = FgcpHeartbeatEnvelope.Open(FgcpHeartbeatEnvelope.Seal(Hb, P(auth, enc)), P(auth, enc));
        Assert.Null(opened.Drop);
        Assert.Equal(Hb.Serial, opened.Heartbeat!.Serial);
        Assert.Equal(Hb.Hears, opened.Heartbeat.Hears);
        Assert.Equal((auth, enc, auth || enc), (opened.Authenticated, opened.Encrypted, opened.Keyed));
    }

    [Fact]
    public void Encryption_hides_the_body_and_two_seals_of_one_heartbeat_differ()
    {
        var a = FgcpHeartbeatEnvelope.Seal(Hb, P(false, true));
        var b = FgcpHeartbeatEnvelope.Seal(Hb, P(false, true));
        var text = Encoding.ASCII.GetString(a);
        Assert.DoesNotContain("DC2_VM12", text);
        Assert.DoesNotContain("FGVM02TM22000002", text);
        Assert.NotEqual(a, b); // a fresh nonce each time
        Assert.Contains("DC2_VM12", Encoding.ASCII.GetString(FgcpHeartbeatEnvelope.Seal(Hb, P(true, false))));
    }

    /// <summary>A clear heartbeat has no integrity by design (the FortiOS default): see the README.</summary>
    public static TheoryData<bool, bool> Protected() => new() { { true, false }, { false, true }, { true, true } };

    [Theory]
    [MemberData(nameof(Protected))]
    public void Flipping_any_bit_of_a_protected_heartbeat_is_a_drop(bool auth, bool enc)
    {
        var sealedHb = FgcpHeartbeatEnvelope.Seal(Hb, P(auth, enc));
        for (var i = 0; i < sealedHb.Length; i++)
            for (var bit = 0; bit < 8; bit++)
            {
                var bytes = (byte[])sealedHb.Clone();
                bytes[i] ^= (byte)(1 << bit);
                var opened = FgcpHeartbeatEnvelope.Open(bytes, P(auth, enc));
                Assert.True(opened.Heartbeat is null, $"byte {i} bit {bit} accepted");
                Assert.NotNull(opened.Drop);
            }
    }

    [Fact]
    public void A_modified_heartbeat_fails_authentication_and_an_encrypted_one_fails_decryption()
    {
        var authenticated = FgcpHeartbeatEnvelope.Seal(Hb, P(true, false));
        authenticated[40] ^= 0x01;
        Assert.Equal(HeartbeatDropCause.AuthFailed, FgcpHeartbeatEnvelope.Open(authenticated, P(true, false)).Drop!.Cause);
        var encrypted = FgcpHeartbeatEnvelope.Seal(Hb, P(false, true));
        encrypted[40] ^= 0x01;
        Assert.Equal(HeartbeatDropCause.DecryptFailed, FgcpHeartbeatEnvelope.Open(encrypted, P(false, true)).Drop!.Cause);
    }

    [Fact]
    public void What_a_unit_enables_it_requires_and_what_it_can_verify_it_reads()
    {
        var clear = FgcpHeartbeatEnvelope.Seal(Hb, P(false, false));
        Assert.Equal(HeartbeatDropCause.AuthMissing, FgcpHeartbeatEnvelope.Open(clear, P(true, false)).Drop!.Cause);
        Assert.Equal(HeartbeatDropCause.NotEncrypted, FgcpHeartbeatEnvelope.Open(clear, P(false, true)).Drop!.Cause);
        Assert.Equal(HeartbeatDropCause.AuthMissing, FgcpHeartbeatEnvelope.Open(FgcpHeartbeatEnvelope.Seal(Hb, P(false, true)), P(true, true)).Drop!.Cause);
        // A unit with protection disabled still reads a protected heartbeat of its own cluster: protection is switched on
        // one unit at a time (config sync), and the cluster must not fall apart in between.
        Assert.Null(FgcpHeartbeatEnvelope.Open(FgcpHeartbeatEnvelope.Seal(Hb, P(true, true)), P(false, false)).Drop);
    }

    [Fact]
    public void Keys_of_another_password_or_group_do_not_open_a_heartbeat()
    {
        var sealedHb = FgcpHeartbeatEnvelope.Seal(Hb, P(true, false));
        Assert.Equal(HeartbeatDropCause.AuthFailed, FgcpHeartbeatEnvelope.Open(sealedHb, P(true, false, FgcpHeartbeatKeys.Derive("Secret", 1, "DC2_VM12"))).Drop!.Cause);
        Assert.Equal(HeartbeatDropCause.AuthFailed, FgcpHeartbeatEnvelope.Open(sealedHb, P(true, false, FgcpHeartbeatKeys.Derive("secret", 2, "DC2_VM12"))).Drop!.Cause);
        Assert.Equal(HeartbeatDropCause.AuthFailed, FgcpHeartbeatEnvelope.Open(sealedHb, P(true, false, FgcpHeartbeatKeys.Derive("secret", 1, "DC1_VM12"))).Drop!.Cause);
        var encrypted = FgcpHeartbeatEnvelope.Seal(Hb, P(false, true));
        Assert.Equal(HeartbeatDropCause.DecryptFailed, FgcpHeartbeatEnvelope.Open(encrypted, P(false, true, FgcpHeartbeatKeys.Derive("other", 1, "DC2_VM12"))).Drop!.Cause);
    }

    [Fact]
    public void The_keys_are_derived_from_password_and_group_and_the_two_keys_differ()
    {
        var again = FgcpHeartbeatKeys.Derive("secret", 1, "DC2_VM12");
        Assert.Equal(Keys.Authentication, again.Authentication);
        Assert.Equal(Keys.Encryption, again.Encryption);
        Assert.NotEqual(Keys.Authentication, Keys.Encryption);
        Assert.NotEqual(Keys.Authentication, FgcpHeartbeatKeys.Derive("secret", 1, "DC2_VM13").Authentication);
        Assert.Equal(32, FgcpHeartbeatKeys.Derive(null, 0, "").Authentication.Length);
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void The_EXE_FAIL_OVER_flag_travels_in_the_heartbeat(bool auth, bool enc)
    {
        var flagged = Hb with { ExeFailOver = true };
        var sealedHb = FgcpHeartbeatEnvelope.Seal(flagged, P(auth, enc));
        Assert.Equal(FgcpHeartbeatEnvelope.Version, sealedHb[4]);
        Assert.True(FgcpHeartbeatEnvelope.Open(sealedHb, P(auth, enc)).Heartbeat!.ExeFailOver);
        Assert.False(FgcpHeartbeatEnvelope.Open(FgcpHeartbeatEnvelope.Seal(Hb, P(auth, enc)), P(auth, enc)).Heartbeat!.ExeFailOver);
    }

    [Fact]
    public void Section_checksums_travel_in_the_heartbeat_and_a_malformed_one_drops_it_as_bad_checksum()
    {
        var sums = new HaConfigChecksums("7e06790265a9eae3685873c233d016f1", "432cee2cf1b3b213ff37345e8611dcbf", "0b16f2e4e289eba1bf8f159be14e3bf2");
        Assert.Equal(sums, FgcpHeartbeatEnvelope.Open(FgcpHeartbeatEnvelope.Seal(Hb with { ConfigChecksums = sums }, P(true, true)), P(true, true))
            .Heartbeat!.ConfigChecksums);
        foreach (var bad in new[] { sums with { Global = "XYZ" }, sums with { Root = "7E06790265A9EAE3685873C233D016F1" }, sums with { All = "" } })
            Assert.Equal(HeartbeatDropCause.BadChecksum,
                FgcpHeartbeatEnvelope.Open(FgcpHeartbeatEnvelope.Seal(Hb with { ConfigChecksums = bad }, P(false, false)), P(false, false)).Drop!.Cause);
    }

    [Fact]
    public void A_version_2_heartbeat_of_a_unit_without_the_flag_is_still_read_as_not_flagged()
    {
        // The previous layout, as a unit of the previous version sends it: envelope 2, body fgcp.hb.v2 (no flag byte).
        var body = ClusterActors.Protocol.Serialization.WireCodecs.TryGet(FgcpHeartbeatValidation.ManifestV2, out var v2) ? v2 : null;
        Assert.NotNull(body);
        var w = new ClusterActors.Protocol.Serialization.WireWriter();
        body!.Write(w, Hb);
        byte[] datagram = [.. "FGCP"u8, FgcpHeartbeatEnvelope.PreviousVersion, 0, .. w.ToArray()];
        var opened = FgcpHeartbeatEnvelope.Open(datagram, P(false, false));
        Assert.Null(opened.Drop);
        Assert.Equal(Hb.Serial, opened.Heartbeat!.Serial);
        Assert.False(opened.Heartbeat.ExeFailOver);
        // A v3 body behind a v2 header has a byte too many: corrupt, not misread.
        byte[] mixed = [.. FgcpHeartbeatEnvelope.Seal(Hb with { ExeFailOver = true }, P(false, false))];
        mixed[4] = FgcpHeartbeatEnvelope.PreviousVersion;
        Assert.NotNull(FgcpHeartbeatEnvelope.Open(mixed, P(false, false)).Drop);
    }

    [Fact]
    public void Another_version_and_unknown_flags_are_dropped_with_their_cause()
    {
        var v = FgcpHeartbeatEnvelope.Seal(Hb, P(false, false));
        v[4] = 1;
        Assert.Equal(HeartbeatDropCause.BadVersion, FgcpHeartbeatEnvelope.Open(v, P(false, false)).Drop!.Cause);
        var f = FgcpHeartbeatEnvelope.Seal(Hb, P(false, false));
        f[5] = 0x80;
        Assert.Equal(HeartbeatDropCause.Corrupt, FgcpHeartbeatEnvelope.Open(f, P(false, false)).Drop!.Cause);
    }

    /// <summary>The decoder's contract for any input: no exception, exactly one of a valid heartbeat or a drop with a cause.</summary>
    private static void Holds(byte[] datagram, FgcpHeartbeatProtection protection)
    {
        var opened = FgcpHeartbeatEnvelope.Open(datagram, protection);
        Assert.True(opened.Heartbeat is null ^ opened.Drop is null, "neither or both of a heartbeat and a drop");
        if (opened.Heartbeat is not null) Assert.Null(FgcpHeartbeatValidation.Validate(opened.Heartbeat));
        else Assert.True(Enum.IsDefined(opened.Drop!.Cause) && FgcpHeartbeatValidation.CounterName(opened.Drop.Cause) != "unknown");
    }

    private static readonly Gen<FgcpHeartbeatProtection> Protection =
        Gen.Select(Gen.Bool, Gen.Bool, (a, e) => P(a, e));

    [Fact]
    public void Fuzz_random_datagrams_never_make_the_decoder_throw() =>
        Gen.Select(Gen.Byte.Array[0, 2100], Protection).Sample((bytes, p) => Holds(bytes, p), iter: 20_000);

    [Fact]
    public void Fuzz_datagrams_that_start_like_a_heartbeat_never_make_the_decoder_throw() =>
        Gen.Select(Gen.Byte.Array[0, 600], Gen.Byte[0, 3], Protection)
            .Sample((tail, flags, p) => Holds([.. "FGCP"u8, FgcpHeartbeatEnvelope.Version, flags, .. tail], p), iter: 20_000);

    [Fact]
    public void Fuzz_mutations_of_a_genuine_heartbeat_never_make_the_decoder_throw()
    {
        // Mutations of real datagrams reach deep into the body (lengths, lists, booleans), where random bytes rarely get.
        var genuine = Settings().Select(row => ((bool)row[0], (bool)row[1]))
            .Select(s => (Datagram: FgcpHeartbeatEnvelope.Seal(Hb, P(s.Item1, s.Item2)), Protection: P(s.Item1, s.Item2))).ToArray();
        Gen.Select(Gen.Int[0, genuine.Length - 1], Gen.Int[0, 4096].Array[1, 8], Gen.Byte.Array[8], Gen.Int[-8, 8])
            .Sample((which, positions, values, resize) =>
            {
                var (datagram, protection) = genuine[which];
                var bytes = datagram.ToList();
                for (var i = 0; i < positions.Length; i++) bytes[positions[i] % bytes.Count] = values[i % values.Length];
                if (resize > 0) bytes.AddRange(values.Take(resize));
                else if (resize < 0) bytes.RemoveRange(bytes.Count + resize, -resize);
                Holds([.. bytes], protection);
            }, iter: 20_000);
    }
}
