using System.Text;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using static ClusterActors.Protocol.Tests.Ike.IkeTestKit;

namespace ClusterActors.Protocol.Tests.Ike;

/// <summary>
/// Issue 12 item 6: every proposal keyword and DH group the config accepts runs. Known answers where RFCs give them
/// (RFC 4231 vectors that RFC 4868 points to, the GCM specification's test case 4 split as RFC 4106 splits the nonce,
/// RFC 7539 §2.8.2 for ChaCha20-Poly1305, RFC 5903 §8.1), then our initiator against our responder for every IKE
/// suite with every group and every ESP suite, packets both ways and a CREATE_CHILD_SA rekey.
/// </summary>
public sealed class ProposalTests
{
    public static readonly string[] IkeKeywords =
    [
        .. new[] { "aes128", "aes192", "aes256" }.SelectMany(c => new[] { "sha1", "sha256", "sha384", "sha512" }.Select(h => $"{c}-{h}")),
        .. new[] { "aes128gcm", "aes256gcm", "chacha20poly1305" }.SelectMany(c => new[] { "prfsha1", "prfsha256", "prfsha384", "prfsha512" }.Select(p => $"{c}-{p}")),
    ];

    public static readonly string[] EspKeywords =
    [
        .. new[] { "aes128", "aes192", "aes256" }.SelectMany(c => new[] { "sha1", "sha256", "sha384", "sha512" }.Select(h => $"{c}-{h}")),
        "aes128gcm", "aes256gcm", "chacha20poly1305",
    ];

    public static readonly int[] Groups = [2, 5, 14, 15, 16, 19, 20, 21];

    public static TheoryData<string, int> IkeSuitesByGroup()
    {
        var d = new TheoryData<string, int>();
        foreach (var k in IkeKeywords) foreach (var g in Groups) d.Add(k, g);
        return d;
    }

    public static TheoryData<string> EspSuites() => new(EspKeywords);

    // ---------------- known answers ----------------

    [Theory]
    // RFC 4231 test case 1 (key 0x0b x 20, "Hi There") and 2 ("Jefe"), the PRF vectors RFC 4868 §2.7.1 refers to.
    [InlineData("aes128-sha256", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")]
    [InlineData("aes128-sha384", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
        "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6")]
    [InlineData("aes128-sha512", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854")]
    [InlineData("aes256gcm-prfsha384", "4a656665", "what do ya want for nothing?",
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649")]
    [InlineData("chacha20poly1305-prfsha512", "4a656665", "what do ya want for nothing?",
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737")]
    public void Prf_is_the_RFC_4231_HMAC_and_the_ICV_its_RFC_4868_truncation(string keyword, string keyHex, string data, string macHex)
    {
        var suite = IkeSuite.Parse(keyword);
        var mac = Convert.FromHexString(macHex);
        Assert.Equal(mac, suite.Prf(Convert.FromHexString(keyHex), Encoding.ASCII.GetBytes(data)));
        Assert.Equal(mac.Length, suite.PrfLength);
        if (!suite.IsAead)
        {
            // RFC 4868 §2.3: the ICV is the leftmost half of the HMAC; the integrity key is as long as the output.
            Assert.Equal(mac[..(mac.Length / 2)], suite.Icv(Convert.FromHexString(keyHex), Encoding.ASCII.GetBytes(data)));
            Assert.Equal(mac.Length, suite.IntegKeyLength);
        }
    }

    [Fact]
    public void Aes_gcm_seal_splits_the_nonce_into_salt_and_IV_as_RFC_4106_does()
    {
        // GCM specification test case 4: K, IV cafebabefacedbaddecaf888 = salt cafebabe | explicit IV facedbaddecaf888.
        var suite = IkeSuite.Parse("aes128gcm");
        var keyAndSalt = Convert.FromHexString("feffe9928665731c6d6a8f9467308308" + "cafebabe");
        var iv = Convert.FromHexString("facedbaddecaf888");
        var plain = Convert.FromHexString("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
        var aad = Convert.FromHexString("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        var sealedBytes = new byte[plain.Length + 16];
        suite.Seal(keyAndSalt, iv, plain, aad, sealedBytes);
        Assert.Equal("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091"
            + "5bc94fbc3221a5db94fae95ae7121a47", Convert.ToHexString(sealedBytes).ToLowerInvariant());
        var opened = new byte[plain.Length];
        Assert.True(suite.TryOpen(keyAndSalt, iv, sealedBytes, aad, opened));
        Assert.Equal(plain, opened);
        sealedBytes[^1] ^= 1;
        Assert.False(suite.TryOpen(keyAndSalt, iv, sealedBytes, aad, opened));
    }

    [Fact]
    public void ChaCha20_Poly1305_seal_matches_RFC_7539_section_2_8_2()
    {
        // RFC 7634 §2: nonce = 4-octet salt (the key's last 4 octets) | 8-octet IV; RFC 7539's nonce 07000000 | 4041424344454647.
        var suite = IkeSuite.Parse("chacha20poly1305");
        var keyAndSalt = Convert.FromHexString(string.Concat(Enumerable.Range(0x80, 32).Select(b => b.ToString("x2"))) + "07000000");
        var plain = Encoding.ASCII.GetBytes("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
        var sealedBytes = new byte[plain.Length + 16];
        suite.Seal(keyAndSalt, Convert.FromHexString("4041424344454647"), plain, Convert.FromHexString("50515253c0c1c2c3c4c5c6c7"), sealedBytes);
        Assert.StartsWith("d31a8d34648e60db7b86afbc53ef7ec2", Convert.ToHexString(sealedBytes).ToLowerInvariant());
        Assert.EndsWith("1ae10b594f09e26a7e902ecbd0600691", Convert.ToHexString(sealedBytes).ToLowerInvariant());
    }

    [Fact]
    public void Ecp256_matches_RFC_5903_section_8_1_with_x_and_y_as_KE_data_and_x_as_the_secret()
    {
        var g = EcpGroup.Group19;
        var i = g.FromPrivate(Convert.FromHexString("C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433"));
        var r = g.FromPrivate(Convert.FromHexString("C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53"));
        Assert.Equal("DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
            + "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3", Convert.ToHexString(i.Public));
        Assert.Equal("D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"
            + "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB", Convert.ToHexString(r.Public));
        const string girx = "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE";
        Assert.Equal(girx, Convert.ToHexString(i.SharedSecret(r.Public)));
        Assert.Equal(girx, Convert.ToHexString(r.SharedSecret(i.Public)));
    }

    [Theory]
    [InlineData(19)]
    [InlineData(20)]
    [InlineData(21)]
    public void Ecp_public_values_off_the_curve_or_of_the_wrong_length_are_refused_without_throwing(int id)
    {
        var g = EcpGroup.Find(id)!;
        var good = g.NewKeyPair(new SeededRandom(id)).Public;
        Assert.Equal(2 * g.FieldLength, good.Length);
        Assert.True(g.IsValidPublic(good));
        var offCurve = (byte[])good.Clone();
        offCurve[^1] ^= 1;
        Assert.False(g.IsValidPublic(offCurve));
        Assert.False(g.IsValidPublic(new byte[good.Length]));
        Assert.False(g.IsValidPublic([0x04, .. good])); // SEC1 uncompressed form is not RFC 5903's encoding
        Assert.False(g.IsValidPublic(good[..^1]));
        Assert.False(g.IsValidPublic(Enumerable.Repeat((byte)0xFF, good.Length).ToArray())); // coordinates >= p
        Assert.Throws<IkeFormatException>(() => g.NewKeyPair(new SeededRandom(1)).SharedSecret(offCurve));
    }

    [Fact]
    public void Modp_groups_5_15_16_are_RFC_3526_safe_primes_of_their_sizes()
    {
        foreach (var (id, bits) in new[] { (5, 1536), (15, 3072), (16, 4096) })
        {
            var g = ModpGroup.Find(id)!;
            Assert.Equal(bits, (int)g.Prime.GetBitLength());
            Assert.Equal(bits / 8, g.ByteLength);
            // RFC 3526: p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) pi) + k): the top and bottom 64 bits are ones.
            Assert.Equal(ulong.MaxValue, (ulong)(g.Prime & ulong.MaxValue));
            Assert.Equal(ulong.MaxValue, (ulong)(g.Prime >> (bits - 64)));
        }
        Assert.EndsWith("CA237327FFFFFFFFFFFFFFFF", Convert.ToHexString(ModpGroup.Group5.ToBytes(ModpGroup.Group5.Prime)));
        Assert.EndsWith("A93AD2CAFFFFFFFFFFFFFFFF", Convert.ToHexString(ModpGroup.Group15.ToBytes(ModpGroup.Group15.Prime)));
        Assert.EndsWith("34063199FFFFFFFFFFFFFFFF", Convert.ToHexString(ModpGroup.Group16.ToBytes(ModpGroup.Group16.Prime)));
    }

    // ---------------- keywords ----------------

    [Theory]
    [InlineData("aes128-md5", "integrity 'md5' is not implemented")]
    [InlineData("3des-sha256", "cipher '3des' is not implemented")]
    [InlineData("aria128-sha256", "cipher 'aria128' is not implemented")]
    [InlineData("null-sha1", "cipher 'null' is not implemented")]
    [InlineData("aes128-null", "integrity 'null' is not implemented")]
    [InlineData("aes192gcm", "'aes192gcm' is not a cipher")]
    public void Keywords_the_emulator_does_not_run_are_refused_by_name(string keyword, string why)
    {
        Assert.Null(IkeSuite.TryParse(keyword));
        Assert.Contains(why, IkeSuite.Unsupported(keyword));
        Assert.Contains(keyword, Assert.Throws<ArgumentException>(() => IkeSuite.Parse(keyword)).Message);
    }

    [Theory]
    [InlineData("aes128-sha256", TransformIds.EncrAesCbc, 16, TransformIds.PrfHmacSha2_256, TransformIds.AuthHmacSha2_256_128, 16, 32)]
    [InlineData("aes256-sha384", TransformIds.EncrAesCbc, 32, TransformIds.PrfHmacSha2_384, TransformIds.AuthHmacSha2_384_192, 24, 48)]
    [InlineData("aes192-sha512", TransformIds.EncrAesCbc, 24, TransformIds.PrfHmacSha2_512, TransformIds.AuthHmacSha2_512_256, 32, 64)]
    [InlineData("aes256gcm-prfsha384", TransformIds.EncrAesGcm16, 36, TransformIds.PrfHmacSha2_384, TransformIds.AuthNone, 16, 0)]
    [InlineData("aes128gcm", TransformIds.EncrAesGcm16, 20, 0, TransformIds.AuthNone, 16, 0)]
    [InlineData("chacha20poly1305", TransformIds.EncrChaCha20Poly1305, 36, 0, TransformIds.AuthNone, 16, 0)]
    public void Keywords_name_their_transforms_and_key_lengths(string keyword, ushort encr, int encrKeyBytes, ushort prf, ushort integ, int icv, int integKey)
    {
        var s = IkeSuite.Parse(keyword);
        Assert.Equal((encr, encrKeyBytes, prf, integ, icv, integKey), (s.EncrId, s.EncrKeyBytes, s.PrfId, s.IntegId, s.IcvLength, s.IntegKeyLength));
        // AEAD proposals carry no INTEG transform (RFC 5282 §8); ChaCha20 no key length attribute (RFC 7634 §3).
        Assert.Equal(!s.IsAead, s.EspTransforms.Any(t => t.Type == TransformType.Integ));
        Assert.Equal(encr != TransformIds.EncrChaCha20Poly1305, s.EncrTransform.Attributes.Count == 1);
    }

    [Fact]
    public void A_phase2_only_AEAD_keyword_cannot_be_an_IKE_proposal()
    {
        var e = Assert.Throws<ArgumentException>(() => new IkeResponder(GatewaySettings() with { Proposals = ["aes128gcm"] }));
        Assert.Contains("no PRF", e.Message);
        Assert.Throws<ArgumentException>(() => new IkeInitiator(ClientSettings() with { Proposals = ["chacha20poly1305"] }, Gateway));
        Assert.Throws<ArgumentException>(() => new IkeResponder(GatewaySettings(31)));
    }

    // ---------------- our initiator against our responder ----------------

    [Theory]
    [MemberData(nameof(IkeSuitesByGroup))]
    public void Every_IKE_suite_with_every_DH_group_establishes_and_answers_DPD(string ike, int group)
    {
        var run = Handshake(
            GatewaySettings(group) with { Proposals = [ike], ChildProposals = ["aes128-sha1"] },
            ClientSettings(group) with { Proposals = [ike], ChildProposals = ["aes128-sha1"] },
            seed: group);
        Assert.Equal(ike, run.AtGateway.Sa.Proposal);
        Assert.Equal(group, run.AtGateway.Sa.DhGroup);
        var suite = IkeSuite.Parse(ike);
        Assert.Equal(suite.EncrKeyBytes, run.AtGateway.Sa.Keys.SkEi.Length);
        Assert.Equal(suite.IntegKeyLength, run.AtGateway.Sa.Keys.SkAi.Length);
        Assert.Equal(suite.PrfLength, run.AtGateway.Sa.Keys.SkD.Length);
        Assert.Equal(run.AtGateway.Sa.Keys, run.AtClient.Sa.Keys, new KeysComparer());

        // A protected exchange after IKE_AUTH: the gateway's DPD, answered by the client.
        var dpd = run.Responder.CreateDpd(run.AtGateway.Sa.SpiR);
        var answer = Single(run.Initiator.Handle(dpd));
        Assert.Contains(run.Responder.Handle(Client, answer).Events, e => e is IkeDpdConfirmed);
    }

    [Theory]
    [MemberData(nameof(EspSuites))]
    public void Every_ESP_suite_carries_packets_both_ways_and_survives_a_rekey(string esp)
    {
        var run = Handshake(
            GatewaySettings(14) with { Proposals = ["aes128-sha256"], ChildProposals = [esp] },
            ClientSettings(14) with { Proposals = ["aes128-sha256"], ChildProposals = [esp] });
        var suite = IkeSuite.Parse(esp);
        var gw = run.AtGateway.Child;
        var cl = run.AtClient.Child;
        Assert.Equal(esp, gw.Proposal);
        Assert.Equal(suite.EncrKeyBytes, gw.InboundEncKey.Length);
        Assert.Equal(suite.IntegKeyLength, gw.InboundAuthKey.Length);
        AssertEspBothWays(gw, cl, suite);

        var rekey = run.Initiator.RekeyChild();
        var r = run.Responder.Handle(Client, rekey);
        var atGateway = Assert.IsType<ChildSaRekeyed>(Assert.Single(r.Events));
        var atClient = Assert.IsType<ChildSaRekeyed>(Assert.Single(run.Initiator.Handle(Single(r)).Events));
        Assert.Equal(esp, atGateway.New.Proposal);
        AssertEspBothWays(atGateway.New, atClient.New, suite);
    }

    private static void AssertEspBothWays(ChildSaKeys gateway, ChildSaKeys client, IkeSuite suite)
    {
        var packet = Enumerable.Range(0, 84).Select(i => (byte)i).ToArray();
        foreach (var (from, to) in new[] { (client, gateway), (gateway, client) })
        {
            var tx = new EspOutboundSa(from.OutboundEsp());
            var rx = new EspInboundSa(to.InboundEsp());
            var sealedPacket = tx.Seal(packet);
            Assert.Equal(EspCodec.SealedLength(suite, packet.Length), sealedPacket.Bytes.Length);
            Assert.True(rx.TryOpen(sealedPacket.Bytes, out var opened, out var why), why.ToString());
            Assert.Equal(packet, opened.Payload);
            var forged = tx.Seal(packet).Bytes;
            forged[EspCodec.HeaderLength + suite.IvLength] ^= 0x80; // one ciphertext bit
            Assert.False(rx.TryOpen(forged, out _, out var bad));
            Assert.Equal(EspDropReason.BadIcv, bad);
        }
    }

    private sealed class KeysComparer : IEqualityComparer<IkeSaKeys>
    {
        public bool Equals(IkeSaKeys? a, IkeSaKeys? b) => a is not null && b is not null
            && new[] { a.SkD, a.SkAi, a.SkAr, a.SkEi, a.SkEr, a.SkPi, a.SkPr }.Zip(new[] { b.SkD, b.SkAi, b.SkAr, b.SkEi, b.SkEr, b.SkPi, b.SkPr }).All(p => p.First.SequenceEqual(p.Second));
        public int GetHashCode(IkeSaKeys k) => 0;
    }

    // ---------------- several proposals ----------------

    [Fact]
    public void The_gateway_takes_the_first_of_the_clients_proposals_it_accepts_not_its_own_first()
    {
        var run = Handshake(
            GatewaySettings(14) with { Proposals = ["aes128-sha1", "aes256-sha256", "aes256gcm-prfsha384"], ChildProposals = ["aes128-sha1", "aes256gcm"] },
            ClientSettings(14) with { Proposals = ["aes256gcm-prfsha384", "aes256-sha256"], ChildProposals = ["chacha20poly1305", "aes256gcm", "aes128-sha1"] });
        Assert.Equal("aes256gcm-prfsha384", run.AtGateway.Sa.Proposal);
        Assert.Equal("aes256gcm", run.AtGateway.Child.Proposal);
        Assert.Equal("aes256gcm", run.AtClient.Child.Proposal);
        // The client offered one proposal per keyword, in its configured order.
        var offered = IkeCodec.Decode(run.InitRequest).Find<SaPayload>()!;
        Assert.Equal([1, 2], offered.Proposals.Select(p => (int)p.Number));
        Assert.Equal(TransformIds.EncrAesGcm16, offered.Proposals[0].Transforms[0].Id);
    }

    [Fact]
    public void A_client_whose_first_group_the_gateway_does_not_allow_retries_with_the_one_it_selects()
    {
        var responder = new IkeResponder(GatewaySettings(20, 14) with { Proposals = ["aes256-sha384"] }, new SeededRandom(1));
        var initiator = new IkeInitiator(ClientSettings(19, 14) with { Proposals = ["aes256-sha384"] }, Gateway, new SeededRandom(2));
        var first = responder.Handle(Client, initiator.Start());
        Assert.Equal(RefusalKind.InvalidKePayload, Assert.IsType<IkeRefused>(Assert.Single(first.Events)).Kind);
        var retry = initiator.Handle(Single(first));
        Assert.Equal(14, Assert.IsType<IkeRetrying>(Assert.Single(retry.Events)).DhGroup);
        var auth = Single(initiator.Handle(Single(responder.Handle(Client, Single(retry)))));
        var done = responder.Handle(Client, auth);
        Assert.Equal(14, Assert.IsType<IkeSaEstablished>(Assert.Single(done.Events)).Sa.DhGroup);
    }

    [Fact]
    public void No_common_proposal_is_refused_with_NO_PROPOSAL_CHOSEN_naming_both_sides()
    {
        var responder = new IkeResponder(GatewaySettings(14) with { Proposals = ["aes128gcm-prfsha256"] }, new SeededRandom(1));
        var initiator = new IkeInitiator(ClientSettings(14) with { Proposals = ["aes128-sha256"] }, Gateway, new SeededRandom(2));
        var refused = Assert.IsType<IkeRefused>(Assert.Single(responder.Handle(Client, initiator.Start()).Events));
        Assert.Equal(RefusalKind.NoProposalChosen, refused.Kind);
        Assert.Contains("aes128gcm-prfsha256", refused.Reason);
    }

    // ---------------- the wire ----------------

    [Theory]
    [InlineData("aes128gcm-prfsha256")]
    [InlineData("chacha20poly1305-prfsha256")]
    [InlineData("aes256-sha512")]
    public void A_forged_or_truncated_SK_payload_is_dropped_not_thrown(string ike)
    {
        var run = Handshake(GatewaySettings(19) with { Proposals = [ike] }, ClientSettings(19) with { Proposals = [ike] });
        var dpd = run.Responder.CreateDpd(run.AtGateway.Sa.SpiR);
        var forged = (byte[])dpd.Clone();
        forged[^1] ^= 1;
        Assert.IsType<IkeDropped>(Assert.Single(run.Initiator.Handle(forged).Events));
        var aadTouched = (byte[])dpd.Clone();
        aadTouched[IkeHeader.Size + 1] ^= 1; // the SK generic header's reserved octet: associated data (RFC 5282 §5.1)
        Assert.IsType<IkeDropped>(Assert.Single(run.Initiator.Handle(aadTouched).Events));
        Assert.Contains(run.Initiator.Handle(dpd).Events, e => e is IkeDpdAnswered);
        // Cut inside the ciphertext, lengths fixed up: too short for IV + ICV, or (CBC) not whole blocks. Never
        // delivered, never an exception.
        for (var cut = 1; cut < dpd.Length - IkeHeader.Size - 4; cut += 3)
        {
            var shorter = dpd[..^cut];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(shorter.AsSpan(24), (uint)shorter.Length);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(shorter.AsSpan(IkeHeader.Size + 2), (ushort)(shorter.Length - IkeHeader.Size));
            Assert.DoesNotContain(run.Initiator.Handle(shorter).Events, e => e is IkeDpdAnswered);
        }
    }

    [Theory]
    [InlineData(19)]
    [InlineData(21)]
    public void A_KE_payload_off_the_curve_gets_INVALID_SYNTAX_and_leaves_no_state(int group)
    {
        var responder = new IkeResponder(GatewaySettings(group), new SeededRandom(1));
        var initiator = new IkeInitiator(ClientSettings(group), Gateway, new SeededRandom(2));
        var init = IkeCodec.Decode(initiator.Start());
        var ke = init.Find<KePayload>()!;
        var bad = ke with { Data = [.. ke.Data[..^1], (byte)(ke.Data[^1] ^ 1)] };
        var forged = IkeCodec.Encode(init.Header, init.Payloads.Select(p => p is KePayload ? bad : p).ToList());
        var o = responder.Handle(Client, forged);
        Assert.Equal(RefusalKind.Malformed, Assert.IsType<IkeRefused>(Assert.Single(o.Events)).Kind);
        Assert.Contains(IkeCodec.Decode(Single(o)).Notifies, n => n.NotifyType == NotifyType.InvalidSyntax);
        Assert.Equal(0, responder.HalfOpenCount);
    }

    [Theory]
    [InlineData("aes128gcm")]
    [InlineData("chacha20poly1305")]
    [InlineData("aes256-sha384")]
    public void ESP_of_every_length_below_the_minimum_or_misaligned_is_a_drop(string esp)
    {
        var suite = IkeSuite.Parse(esp);
        var keys = new EspSaKeys(0x1234, new byte[suite.EncrKeyBytes], new byte[suite.IntegKeyLength], suite);
        var packet = EspCodec.Encrypt(keys, 1, new byte[40]);
        var rx = new EspInboundSa(keys);
        for (var n = 0; n < EspCodec.MinimumLengthFor(suite); n++)
        {
            Assert.False(rx.TryOpen(packet.AsSpan(0, n), out _, out var why));
            Assert.Equal(EspDropReason.Truncated, why);
        }
        Assert.False(EspCodec.TryDecrypt(keys, packet.AsSpan(0, packet.Length - 1), out _, out var cut));
        Assert.Equal(EspDropReason.Malformed, cut);
        Assert.True(rx.TryOpen(packet, out var ok, out _));
        Assert.Equal(new byte[40], ok.Payload);
    }
}

/// <summary>
/// phase2 <c>pfs enable</c> (FortiOS's default, with phase2 <c>dhgrp</c>): a CREATE_CHILD_SA rekey runs a new DH and
/// KEYMAT = prf+(SK_d, g^ir | Ni | Nr) (RFC 7296 §1.3.1, §2.17), asked by either side.
/// </summary>
public sealed class PfsTests
{
    private static Run PfsHandshake(int[]? gatewayPfs, int[]? clientPfs, string esp = "aes256gcm") => Handshake(
        GatewaySettings(14) with { Proposals = ["aes128-sha256"], ChildProposals = [esp], ChildDhGroups = gatewayPfs },
        ClientSettings(14) with { Proposals = ["aes128-sha256"], ChildProposals = [esp], ChildDhGroups = clientPfs });

    [Theory]
    [InlineData(19, "aes256gcm")]
    [InlineData(14, "aes128-sha1")]
    [InlineData(21, "chacha20poly1305")]
    public void A_client_rekey_with_PFS_runs_a_new_DH_and_the_keys_come_from_it(int group, string esp)
    {
        var run = PfsHandshake([group], [group], esp);
        var request = run.Initiator.RekeyChild();
        var sa = run.AtGateway.Sa;
        var inner = IkeCodec.DecryptPayloads(request, IkeCodec.Decode(request), new SkKeys(IkeSuite.Parse("aes128-sha256"), sa.Keys.SkEi, sa.Keys.SkAi));
        Assert.Equal(group, inner.OfType<KePayload>().Single().DhGroup);
        Assert.Contains(inner.OfType<SaPayload>().Single().Proposals[0].Transforms, t => t.Type == TransformType.DhGroup && t.Id == group);

        var r = run.Responder.Handle(Client, request);
        var atGateway = Assert.IsType<ChildSaRekeyed>(Assert.Single(r.Events));
        var atClient = Assert.IsType<ChildSaRekeyed>(Assert.Single(run.Initiator.Handle(Single(r)).Events));
        Assert.Equal(group, atGateway.PfsGroup);
        Assert.Equal(group, atClient.PfsGroup);
        Assert.Equal(atGateway.New.InboundEncKey, atClient.New.OutboundEncKey);
        Assert.Equal(atGateway.New.OutboundEncKey, atClient.New.InboundEncKey);

        // Not the no-PFS KEYMAT of the same nonces: the new DH went in.
        var answer = IkeCodec.DecryptPayloads(Single(r), IkeCodec.Decode(Single(r)), new SkKeys(IkeSuite.Parse("aes128-sha256"), sa.Keys.SkEr, sa.Keys.SkAr));
        var noPfs = IkeKeyDerivation.DeriveChildKeys(IkeSuite.Parse("aes128-sha256"), IkeSuite.Parse(esp), sa.Keys.SkD,
            inner.OfType<NoncePayload>().Single().Data, answer.OfType<NoncePayload>().Single().Data);
        Assert.NotEqual(noPfs.EncrIToR, atGateway.New.InboundEncKey);

        var packet = new byte[60];
        var sealedPacket = new EspOutboundSa(atClient.New.OutboundEsp()).Seal(packet);
        Assert.True(new EspInboundSa(atGateway.New.InboundEsp()).TryOpen(sealedPacket.Bytes, out _, out _));
    }

    [Fact]
    public void The_gateways_own_rekey_offers_PFS_and_the_client_answers_it()
    {
        var run = PfsHandshake([20, 14], [20]);
        var spiR = run.AtGateway.Sa.SpiR;
        var answer = run.Initiator.Handle(run.Responder.RekeyChild(spiR));
        var atClient = Assert.IsType<ChildSaRekeyed>(Assert.Single(answer.Events));
        var atGateway = Assert.IsType<ChildSaRekeyed>(Assert.Single(run.Responder.Handle(Client, Single(answer)).Events));
        Assert.True(atGateway.RekeyedHere);
        Assert.Equal(20, atGateway.PfsGroup);
        Assert.Equal(20, atClient.PfsGroup);
        Assert.Equal(atGateway.New.OutboundEncKey, atClient.New.InboundEncKey);
    }

    [Fact]
    public void A_KE_when_the_gateways_phase2_has_pfs_disabled_is_NO_PROPOSAL_CHOSEN()
    {
        var run = PfsHandshake(null, [14]);
        var r = run.Responder.Handle(Client, run.Initiator.RekeyChild());
        Assert.Equal(RefusalKind.NoProposalChosen, Assert.IsType<IkeRefused>(Assert.Single(r.Events)).Kind);
        var refused = Assert.IsType<IkeRefused>(Assert.Single(run.Initiator.Handle(Single(r)).Events));
        Assert.Equal(RefusalKind.NoProposalChosen, refused.Kind);
        Assert.Single(run.Responder.Sas); // the IKE SA stays
    }

    [Fact]
    public void A_KE_of_a_group_the_gateway_does_not_take_gets_INVALID_KE_PAYLOAD_with_its_group()
    {
        var run = PfsHandshake([14], [19, 14]);
        var r = run.Responder.Handle(Client, run.Initiator.RekeyChild());
        Assert.Equal(RefusalKind.InvalidKePayload, Assert.IsType<IkeRefused>(Assert.Single(r.Events)).Kind);
        var sa = run.AtGateway.Sa;
        var inner = IkeCodec.DecryptPayloads(Single(r), IkeCodec.Decode(Single(r)), new SkKeys(IkeSuite.Parse("aes128-sha256"), sa.Keys.SkEr, sa.Keys.SkAr));
        var notify = Assert.Single(inner.OfType<NotifyPayload>());
        Assert.Equal(NotifyType.InvalidKePayload, notify.NotifyType);
        Assert.Equal(new byte[] { 0, 14 }, notify.Data);
    }

    [Fact]
    public void A_rekey_without_KE_is_answered_without_PFS_even_when_the_gateway_has_it()
    {
        // Decision (README "PFS"): strongSwan's default esp_proposals carry no DH group; refusing its rekeys would
        // drop every such tunnel at its first CHILD SA lifetime.
        var run = PfsHandshake([14], null);
        var r = run.Responder.Handle(Client, run.Initiator.RekeyChild());
        Assert.Null(Assert.IsType<ChildSaRekeyed>(Assert.Single(r.Events)).PfsGroup);
        Assert.Null(Assert.IsType<ChildSaRekeyed>(Assert.Single(run.Initiator.Handle(Single(r)).Events)).PfsGroup);
    }

    [Theory]
    [InlineData(19)]
    [InlineData(14)]
    public void A_PFS_KE_that_is_no_group_value_is_INVALID_SYNTAX_and_the_IKE_SA_stays(int group)
    {
        var run = PfsHandshake([group], [group]);
        var sa = run.AtGateway.Sa;
        var suite = IkeSuite.Parse("aes256gcm");
        byte[] bad = DhGroup.Find(group) is EcpGroup ? new byte[DhGroup.Find(group)!.PublicLength] : [.. new byte[255], 1];
        var request = IkeCodec.EncodeProtected(
            new IkeHeader(sa.SpiI, sa.SpiR, PayloadType.None, IkeHeader.Ikev2, ExchangeType.CreateChildSa, IkeFlags.Initiator, 2),
            [
                new SaPayload([new Proposal(1, ProtocolId.Esp, [1, 2, 3, 4], suite.EspTransformsWith([group]))]),
                new NoncePayload(new byte[32]),
                new KePayload((ushort)group, bad),
                new TsPayload(false, [TrafficSelector.FromCidr("10.10.1.0/24")]),
                new TsPayload(true, [TrafficSelector.Any]),
            ],
            new SkKeys(IkeSuite.Parse("aes128-sha256"), sa.Keys.SkEi, sa.Keys.SkAi), new SeededRandom(4));
        var o = run.Responder.Handle(Client, request);
        Assert.Equal(RefusalKind.Malformed, Assert.IsType<IkeRefused>(Assert.Single(o.Events)).Kind);
        Assert.Single(run.Responder.Sas);
    }
}
