using ClusterActors.Protocol.Esp;

namespace ClusterActors.Protocol.Tests.Esp;

public class EspCodecTests
{
    private static readonly EspSaKeys Seed = new(EspReference.SeedSpi, EspReference.SeedEncKey, EspReference.SeedAuthKey);

    // ---- Byte-for-byte against the independent reference ----

    [Fact]
    public void Seed_echo_request_seals_to_exactly_the_reference_bytes()
    {
        var inner = EspReference.SeedEchoRequest();
        var expected = EspReference.Seal(EspReference.SeedSpi, 1, EspReference.SeedEncKey, EspReference.SeedAuthKey, EspReference.FixedIv, inner);

        var actual = EspCodec.Encrypt(Seed, 1, inner, EspReference.FixedIv);

        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(actual));
        // 8 header + 16 IV + 96 (84 + 10 pad + 2) + 12 ICV.
        Assert.Equal(132, actual.Length);
        Assert.Equal(132, EspCodec.SealedLength(84));
        Assert.Equal(Convert.FromHexString("37f426a100000001"), actual[..8]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(13)]
    [InlineData(14)] // 14 + 2 = one block: no padding at all
    [InlineData(15)] // needs 15 bytes of padding
    [InlineData(16)]
    [InlineData(30)]
    [InlineData(31)]
    [InlineData(47)]
    [InlineData(1400)]
    public void Every_padding_length_matches_the_reference(int innerLength)
    {
        var inner = Enumerable.Range(0, innerLength).Select(i => (byte)(i * 7)).ToArray();
        var expected = EspReference.Seal(0x10aa4d3a, 0xdeadbeef, EspReference.SeedEncKey, EspReference.SeedAuthKey, EspReference.FixedIv, inner, nextHeader: 41);
        var keys = new EspSaKeys(0x10aa4d3a, EspReference.SeedEncKey, EspReference.SeedAuthKey);

        Assert.Equal(expected, EspCodec.Encrypt(keys, 0xdeadbeef, inner, EspReference.FixedIv, nextHeader: 41));
        Assert.Equal(expected.Length, EspCodec.SealedLength(innerLength));
    }

    [Fact]
    public void Reference_built_packet_decrypts_to_inner_packet_next_header_and_seq()
    {
        var inner = EspReference.SeedEchoRequest();
        var esp = EspReference.Seal(EspReference.SeedSpi, 0x1b0, EspReference.SeedEncKey, EspReference.SeedAuthKey, EspReference.FixedIv, inner);

        Assert.True(EspCodec.TryDecrypt(Seed, esp, out var result, out var reason));

        Assert.Equal(EspDropReason.None, reason);
        Assert.Equal(inner, result.Payload);
        Assert.Equal(4, result.NextHeader);
        Assert.Equal(0x1b0u, result.Seq);
        Assert.Equal(EspReference.SeedSpi, result.Spi);
    }

    [Fact]
    public void Random_iv_overload_draws_a_fresh_iv_each_time_and_still_decrypts()
    {
        var inner = EspReference.SeedEchoRequest();
        var a = EspCodec.Encrypt(Seed, 5, inner);
        var b = EspCodec.Encrypt(Seed, 5, inner);

        Assert.NotEqual(a[8..24], b[8..24]);
        Assert.True(EspCodec.TryDecrypt(Seed, a, out var ra, out _));
        Assert.True(EspCodec.TryDecrypt(Seed, b, out var rb, out _));
        Assert.Equal(inner, ra.Payload);
        Assert.Equal(inner, rb.Payload);
    }

    // ---- External known-answer vectors ----

    [Fact]
    public void Ciphertext_matches_RFC_3602_case_5()
    {
        // RFC 3602 §4 Case #5: ESP with AES-128-CBC and no authentication; the ICV is simply appended after it here.
        var key = Convert.FromHexString("90d382b410eeba7ad938c46cec1a82bf");
        var iv = Convert.FromHexString("e96e8c08ab465763fd098d45dd3ff893");
        var payload = Convert.FromHexString(
            "08000ebda70a00008e9c083db95b070008090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" +
            "202122232425262728292a2b2c2d2e2f3031323334353637");
        var expected = Convert.FromHexString(
            "0000432100000001e96e8c08ab465763fd098d45dd3ff893f663c25d325c18c6a9453e194e120849" +
            "a4870b66cc6b9965330013b4898dc856a4699e523a55db080b59ec3a8e4b7e52775b07d1db34ed9c" +
            "538ab50c551b874aa269add047ad2d5913ac19b7cfbad4a6");
        var keys = new EspSaKeys(0x4321, key, new byte[20]);

        var esp = EspCodec.Encrypt(keys, 1, payload, iv, nextHeader: 1);

        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(esp[..^EspCodec.IcvLength]));
    }

    [Fact]
    public void RFC_3602_case_6_decrypts_once_given_an_ICV()
    {
        var key = Convert.FromHexString("90d382b410eeba7ad938c46cec1a82bf");
        var authKey = Enumerable.Range(1, 20).Select(i => (byte)i).ToArray();
        var rfc = Convert.FromHexString(
            "000043210000000869d08df7d203329db093fc4924e5bd80f51995881ec4e0c4488987ce742e8109" +
            "689bb379d2d750c0d915dca346a89f75");
        byte[] esp = [.. rfc, .. EspReference.Icv(authKey, rfc)];

        Assert.True(EspCodec.TryDecrypt(new EspSaKeys(0x4321, key, authKey), esp, out var result, out _));

        Assert.Equal(Convert.FromHexString("0800b5e8a80a0500a69c083d0b660e00777777777777777777777777"), result.Payload);
        Assert.Equal(1, result.NextHeader);
        Assert.Equal(8u, result.Seq);
    }

    [Fact]
    public void Icv_is_HMAC_SHA1_96_per_RFC_2202_case_1()
    {
        // RFC 2202 test case 1: HMAC-SHA-1(0x0b * 20, "Hi There") = b617318655057264e28bc0b6fb378c8ef146be00; RFC 2404 keeps 96 bits.
        Span<byte> icv = stackalloc byte[12];
        EspCodec.ComputeIcv(Enumerable.Repeat((byte)0x0b, 20).ToArray(), "Hi There"u8, icv);
        Assert.Equal("B617318655057264E28BC0B6", Convert.ToHexString(icv));
    }

    // ---- Drops ----

    [Fact]
    public void Flipping_any_single_byte_is_caught_before_decryption()
    {
        var esp = EspCodec.Encrypt(Seed, 7, EspReference.SeedEchoRequest(), EspReference.FixedIv);
        for (int i = 0; i < esp.Length; i++)
        {
            var bad = (byte[])esp.Clone();
            bad[i] ^= 0xFF;
            Assert.False(EspCodec.TryDecrypt(Seed, bad, out var result, out var reason));
            Assert.Null(result);
            Assert.Equal(i < 4 ? EspDropReason.UnknownSpi : EspDropReason.BadIcv, reason);
        }
    }

    [Fact]
    public void Every_length_below_the_minimum_is_truncated()
    {
        var esp = EspCodec.Encrypt(Seed, 7, [1, 2, 3], EspReference.FixedIv);
        Assert.Equal(EspCodec.MinimumLength, esp.Length);
        for (int n = 0; n < EspCodec.MinimumLength; n++)
        {
            Assert.False(EspCodec.TryDecrypt(Seed, esp.AsSpan(0, n), out _, out var reason));
            Assert.Equal(EspDropReason.Truncated, reason);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(17)]
    public void Ciphertext_that_is_not_whole_blocks_is_malformed(int extra)
    {
        var esp = EspCodec.Encrypt(Seed, 7, EspReference.SeedEchoRequest(), EspReference.FixedIv);
        byte[] odd = [.. esp, .. new byte[extra]];
        Assert.False(EspCodec.TryDecrypt(Seed, odd, out _, out var reason));
        Assert.Equal(EspDropReason.Malformed, reason);
    }

    [Fact]
    public void Another_SA_s_packet_is_unknown_spi_and_other_keys_fail_the_icv()
    {
        var esp = EspCodec.Encrypt(Seed, 7, EspReference.SeedEchoRequest());
        var otherSpi = new EspSaKeys(0x37f426c1, EspReference.SeedEncKey, EspReference.SeedAuthKey);
        var otherAuth = new EspSaKeys(EspReference.SeedSpi, EspReference.SeedEncKey, new byte[20]);

        Assert.False(EspCodec.TryDecrypt(otherSpi, esp, out _, out var r1));
        Assert.Equal(EspDropReason.UnknownSpi, r1);
        Assert.False(EspCodec.TryDecrypt(otherAuth, esp, out _, out var r2));
        Assert.Equal(EspDropReason.BadIcv, r2);
    }

    public static TheoryData<string, byte[]> BadTrailers => new()
    {
        // 14 payload bytes + pad length 0 + nh would be fine; these break it under a valid ICV.
        { "padding not 1,2,3", [.. new byte[12], 1, 3, 2, 4] },
        { "padding of zeros", [.. new byte[10], 0, 0, 0, 0, 4, 4] },
        { "pad length past the start of the plaintext", [.. new byte[14], 15, 4] },
        { "pad length 255 in one block", [.. new byte[14], 255, 4] },
    };

    [Theory]
    [MemberData(nameof(BadTrailers))]
    public void Authentic_packet_with_a_broken_trailer_is_bad_padding(string why, byte[] plaintext)
    {
        Assert.Equal(0, plaintext.Length % 16);
        var esp = EspReference.SealPlaintext(EspReference.SeedSpi, 9, EspReference.SeedEncKey, EspReference.SeedAuthKey, EspReference.FixedIv, plaintext);
        Assert.False(EspCodec.TryDecrypt(Seed, esp, out _, out var reason), why);
        Assert.Equal(EspDropReason.BadPadding, reason);
    }

    [Fact]
    public void Authentic_packets_with_random_trailers_are_delivered_or_bad_padding_never_an_exception()
    {
        // The ICV gate keeps random bytes from reaching the padding check; sealing random plaintexts under a valid
        // ICV is the only way to drive every pad length and next-header value through it.
        var rng = new Random(2404);
        int delivered = 0;
        for (int i = 0; i < 2000; i++)
        {
            var plaintext = new byte[16 * rng.Next(1, 5)];
            rng.NextBytes(plaintext);
            if (rng.Next(4) == 0)
            {
                // Make some of them valid so both outcomes are exercised.
                int pad = rng.Next(0, plaintext.Length - 1);
                for (int k = 0; k < pad; k++)
                    plaintext[plaintext.Length - 2 - pad + k] = (byte)(k + 1);
                plaintext[^2] = (byte)pad;
            }
            var esp = EspReference.SealPlaintext(EspReference.SeedSpi, (uint)i + 1, EspReference.SeedEncKey, EspReference.SeedAuthKey, EspReference.FixedIv, plaintext);

            if (EspCodec.TryDecrypt(Seed, esp, out var result, out var reason))
            {
                delivered++;
                Assert.Equal(plaintext.Length - 2 - plaintext[^2], result.Payload.Length);
                Assert.Equal(plaintext[^1], result.NextHeader);
            }
            else
            {
                Assert.Equal(EspDropReason.BadPadding, reason);
            }
        }
        Assert.InRange(delivered, 400, 600);
    }

    [Fact]
    public void Longer_than_needed_monotonic_padding_is_accepted()
    {
        // RFC 4303 allows up to 255 bytes of padding (e.g. to hide lengths); a peer doing that must still be readable.
        byte[] payload = [0xAA, 0xBB];
        byte[] plaintext = [.. payload, .. Enumerable.Range(1, 28).Select(i => (byte)i), 28, 4];
        var esp = EspReference.SealPlaintext(EspReference.SeedSpi, 9, EspReference.SeedEncKey, EspReference.SeedAuthKey, EspReference.FixedIv, plaintext);

        Assert.True(EspCodec.TryDecrypt(Seed, esp, out var result, out _));
        Assert.Equal(payload, result.Payload);
    }

    [Fact]
    public void Next_header_is_passed_through_for_the_caller_to_judge()
    {
        // 59 = "no next header": an RFC 4303 dummy packet; delivering it with its nh lets the caller discard it.
        var esp = EspCodec.Encrypt(Seed, 3, [], EspReference.FixedIv, nextHeader: 59);
        Assert.True(EspCodec.TryDecrypt(Seed, esp, out var result, out _));
        Assert.Equal(59, result.NextHeader);
        Assert.Empty(result.Payload);
    }

    [Fact]
    public void Header_can_be_read_without_keys_for_SA_lookup()
    {
        var esp = EspCodec.Encrypt(Seed, 0x10000155, [1]);
        Assert.True(EspCodec.TryReadHeader(esp, out var spi, out var seq));
        Assert.Equal(EspReference.SeedSpi, spi);
        Assert.Equal(0x10000155u, seq);
        Assert.False(EspCodec.TryReadHeader(esp.AsSpan(0, 7), out _, out _));
    }

    [Fact]
    public void Wrong_iv_length_is_a_caller_error()
    {
        Assert.Throws<ArgumentException>(() => EspCodec.Encrypt(Seed, 1, [1], new byte[8]));
    }

    // ---- Keys ----

    [Fact]
    public void Keys_parse_from_the_tunnel_list_hex_and_compare_by_content()
    {
        var keys = EspSaKeys.FromHex("37f426a1", "3671c9303b6295fc73b11765811bdf96", "41b98cb541dc9c76311ddec4b23584ee35d31915");
        Assert.Equal(Seed, keys);
        Assert.Equal(Seed.GetHashCode(), keys.GetHashCode());
        Assert.NotEqual(Seed, new EspSaKeys(EspReference.SeedSpi, EspReference.SeedEncKey, new byte[20]));
    }

    [Fact]
    public void Keys_are_copied_and_never_printed()
    {
        var enc = (byte[])EspReference.SeedEncKey.Clone();
        var keys = new EspSaKeys(1, enc, EspReference.SeedAuthKey);
        enc[0] ^= 1;
        Assert.Equal(EspReference.SeedEncKey, keys.EncKey);
        Assert.DoesNotContain("3671", keys.ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("00000001", keys.ToString());
    }

    [Fact]
    public void Keys_of_the_wrong_size_or_spi_zero_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => new EspSaKeys(1, new byte[32], new byte[20]));
        Assert.Throws<ArgumentException>(() => new EspSaKeys(1, new byte[16], new byte[32]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EspSaKeys(0, new byte[16], new byte[20]));
    }
}
