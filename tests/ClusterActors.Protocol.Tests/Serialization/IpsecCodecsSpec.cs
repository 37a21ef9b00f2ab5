using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Serialization;
using ClusterActors.Protocol.Tests.Ike;
using static ClusterActors.Protocol.Tests.Ike.IkeTestKit;
using IkeSelector = ClusterActors.Protocol.Ike.TrafficSelector;

namespace ClusterActors.Protocol.Tests.Serialization;

public class IpsecCodecsSpec
{
    /// <summary>What every unit writes. v1 (no NAT-T) is still read; see the compatibility section.</summary>
    private const string Manifest = "ipsec.tunnel.v2";
    private const string ManifestV1 = "ipsec.tunnel.v1";

    // ---- fixtures -------------------------------------------------------------------------------------------

    private static readonly IPAddress RemoteV4 = IPAddress.Parse("203.0.113.77");

    /// <summary>A real gateway-side IKE SA after IKE_AUTH and one CHILD rekey, so it carries two children.</summary>
    private static IkeSaState RealSa(string proposal = "aes128-sha1", int group = 2)
    {
        var run = Handshake(
            GatewaySettings(group) with { Proposals = [proposal] },
            ClientSettings(group) with { Proposals = [proposal] });
        var rekey = run.Responder.Handle(Client, run.Initiator.RekeyChild());
        var rekeyed = Assert.IsType<ChildSaRekeyed>(Assert.Single(rekey.Events));
        return rekeyed.Sa;
    }

    /// <summary>A gateway-side SA negotiated with the client behind a NAT (IKE on 4500, mapped peer port), rekeyed once.</summary>
    private static IkeSaState RealNatSa()
    {
        var run = HandshakeBehindNat();
        var rekey = run.Responder.Handle(NatMapped4500, 4500, run.Initiator.RekeyChild());
        var sa = Assert.IsType<ChildSaRekeyed>(Assert.Single(rekey.Events)).Sa;
        Assert.Equal((NatTStatus.PeerBehindNat, 31001, 4500), (sa.NatT, sa.PeerPort, sa.LocalPort));
        return sa;
    }

    private static TunnelRecord Tunnel(IkeSaState sa, IPAddress? gateway = null) => new(
        Key: TunnelRecord.KeyOf("vpn1", sa.SpiI, sa.SpiR),
        Phase1: "vpn1",
        Name: "vpn1_3",
        Index: 3,
        OwnerSerial: "FGVM02TM24000001",
        OwnerFgcpGroup: 17,
        Generation: 4,
        SyncSeq: 12345678901,
        Ike: sa,
        Child: sa.Children[^1],
        ProxyIdSerial: 2,
        NextOutboundSeq: 4242,
        ReplayHighest: 4100,
        EstablishedAt: new DateTimeOffset(2026, 11, 27, 9, 21, 33, 123, TimeSpan.FromMinutes(90)).AddTicks(4567),
        ChildLifetimeSeconds: 10800,
        LocalGateway: IPAddress.Parse("192.168.202.35"),
        RemoteGateway: gateway ?? RemoteV4,
        RemotePort: 4500,
        RemoteSelectors: [IkeSelector.FromCidr("10.10.1.0/24"), new IkeSelector(6, 443, 443, IPAddress.Parse("10.10.2.1"), IPAddress.Parse("10.10.2.9"))],
        LocalSelectors: [IkeSelector.Any],
        Deleted: false);

    /// <summary>Every field set, NAT-T included, so truncation and corruption reach the v2 fields too.</summary>
    private static TunnelRecord FullRecord()
    {
        var sa = RealNatSa();
        return Tunnel(sa).WithNatT(sa, keepaliveSeconds: 10);
    }

    private static byte[] Encode(TunnelRecord r) => WireCodecs.Encode(r);
    private static TunnelRecord Decode(byte[] b) => Assert.IsType<TunnelRecord>(WireCodecs.Decode(Manifest, b));

    // ---- canonical description: records holding byte[] do not compare by value ---------------------------

    private static string Describe(TunnelRecord t)
    {
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture,
            $"key={t.Key}|p1={t.Phase1}|name={t.Name}|idx={t.Index}|owner={t.OwnerSerial}|grp={t.OwnerFgcpGroup}|gen={t.Generation}|seq={t.SyncSeq}\n");
        s.Append("ike=").Append(Describe(t.Ike)).Append('\n');
        s.Append("child=").Append(Describe(t.Child)).Append('\n');
        s.Append(CultureInfo.InvariantCulture,
            $"proxyid={t.ProxyIdSerial}|next={t.NextOutboundSeq}|replay={t.ReplayHighest}|at={Describe(t.EstablishedAt)}|life={t.ChildLifetimeSeconds}\n");
        s.Append(CultureInfo.InvariantCulture, $"lgw={Describe(t.LocalGateway)}|gw={Describe(t.RemoteGateway)}:{t.RemotePort}|deleted={t.Deleted}\n");
        s.Append("remote=").Append(Describe(t.RemoteSelectors)).Append('\n');
        s.Append("local=").Append(Describe(t.LocalSelectors)).Append('\n');
        s.Append(CultureInfo.InvariantCulture, $"natt={t.NatT}|nattport={t.NattRemotePort}|keepalive={t.NattKeepaliveSeconds}");
        return s.ToString();
    }

    private static string Describe(IkeSaState s) => string.Join("|",
        $"spi={s.SpiI:x16}/{s.SpiR:x16}", $"init={s.IsInitiator}", $"prop={s.Proposal}", $"dh={s.DhGroup}",
        $"ni={Hex(s.Ni)}", $"nr={Hex(s.Nr)}",
        $"keys={Hex(s.Keys.SkD)},{Hex(s.Keys.SkAi)},{Hex(s.Keys.SkAr)},{Hex(s.Keys.SkEi)},{Hex(s.Keys.SkEr)},{Hex(s.Keys.SkPi)},{Hex(s.Keys.SkPr)}",
        $"ids={s.NextRequestId}/{s.ExpectedPeerRequestId}", $"last={s.LastResponseId?.ToString(CultureInfo.InvariantCulture) ?? "null"}:{(s.LastResponse is null ? "null" : Hex(s.LastResponse))}",
        $"peer={Describe(s.PeerAddress)}", $"peerid={s.PeerId}", $"childprop={s.ChildProposal}",
        $"children=[{string.Join(";", s.Children.Select(Describe))}]",
        $"ts={(s.Ts is null ? "null" : $"{Describe(s.Ts.Initiator)}/{Describe(s.Ts.Responder)}")}",
        $"life={s.IkeLifetimeSeconds}/{s.ChildLifetimeSeconds}",
        $"natt={s.NatT}", $"ports={s.LocalPort}->{s.PeerPort}");

    private static string Describe(ChildSaKeys c) =>
        $"{c.Proposal} in={c.InboundSpi:x8}:{Hex(c.InboundEncKey)}:{Hex(c.InboundAuthKey)} out={c.OutboundSpi:x8}:{Hex(c.OutboundEncKey)}:{Hex(c.OutboundAuthKey)}";

    private static string Describe(IReadOnlyList<IkeSelector> list) =>
        "[" + string.Join(",", list.Select(x => $"{x.IpProtocol}:{Describe(x.StartAddress)}-{Describe(x.EndAddress)}:{x.StartPort}-{x.EndPort}")) + "]";

    private static string Describe(IPAddress a) => $"{a.AddressFamily}/{a}";

    private static string Describe(DateTimeOffset t) => $"{t.UtcTicks.ToString(CultureInfo.InvariantCulture)}{t.Offset:c}";

    private static string Hex(byte[] b) => Convert.ToHexString(b);

    private static void AssertRoundTrips(TunnelRecord original)
    {
        var bytes = Encode(original);
        var decoded = Decode(bytes);
        Assert.Equal(Describe(original), Describe(decoded));
        // Canonical: what came off the wire goes back on it unchanged.
        Assert.Equal(bytes, Encode(decoded));
        // Belt and braces on the pieces Describe renders as text.
        Assert.Equal(original.EstablishedAt.Offset, decoded.EstablishedAt.Offset);
        Assert.Equal(original.RemoteGateway, decoded.RemoteGateway);
        Assert.Equal(original.Ike.Keys.SkD, decoded.Ike.Keys.SkD);
        Assert.Equal(original.Child.Proposal, decoded.Child.Proposal);
    }

    // ---- (1) round trips ------------------------------------------------------------------------------------

    [Fact]
    public void Fully_populated_record_from_a_real_handshake_round_trips()
    {
        var record = FullRecord();
        Assert.True(record.NattActive);
        Assert.Equal((31001, 10), (record.NattRemotePort, record.NattKeepaliveSeconds));
        Assert.True(record.Ike.Children.Count >= 2, "the rekeyed SA should hold the old and the new child");
        Assert.NotNull(record.Ike.LastResponse);
        Assert.NotNull(record.Ike.LastResponseId);
        Assert.NotNull(record.Ike.Ts);
        AssertRoundTrips(record);
    }

    /// <summary>An FGCP takeover's claims go as <see cref="TunnelRecordBatch"/> (src/Actors/Ipsec/README.md "Batched sync"):
    /// every record comes back as it went, in order, and what the sender's estimate allows fits one Akka frame.</summary>
    [Fact]
    public void A_batch_of_records_round_trips_in_order_and_the_estimate_bounds_each_record()
    {
        var records = new[] { FullRecord(), Tunnel(RealSa()) with { Deleted = true }, V1Record() with { Name = "vpn1_9", Index = 9 } };
        var bytes = WireCodecs.Encode(new TunnelRecordBatch(records));
        var decoded = Assert.IsType<TunnelRecordBatch>(WireCodecs.Decode("ipsec.tunnel-records.v1", bytes));
        Assert.Equal(records.Select(Describe), decoded.Records.Select(Describe));
        Assert.Equal(bytes, WireCodecs.Encode(decoded));
        foreach (var r in records) Assert.True(Encode(r).Length <= SyncBatches.EstimatedBytes(r), $"{r.Name}: {Encode(r).Length} bytes, estimated {SyncBatches.EstimatedBytes(r)}");
        Assert.IsType<TunnelRecordBatch>(WireCodecs.Decode("ipsec.tunnel-records.v1", WireCodecs.Encode(new TunnelRecordBatch([]))));
    }

    /// <summary>Cut by count and by estimated bytes, in order; a record over the byte budget alone still goes, alone.</summary>
    [Fact]
    public void Batches_are_cut_by_count_and_by_bytes_and_every_one_fits_a_frame()
    {
        var full = FullRecord();
        var many = Enumerable.Range(0, 150).Select(i => full with { Name = $"vpn1_{i}", Index = i }).ToList();
        var chunks = SyncBatches.Chunks(many, SyncBatches.EstimatedBytes).ToList();
        Assert.Equal(many.Select(r => r.Name), chunks.SelectMany(c => c).Select(r => r.Name));
        Assert.All(chunks, c => Assert.True(c.Count <= SyncBatches.MaxRecords));
        // Akka's maximum-frame-size is 128,000 bytes; the message's manifest and envelope take a few dozen more.
        Assert.All(chunks, c => Assert.True(WireCodecs.Encode(new TunnelRecordBatch(c)).Length < 120_000, $"{c.Count} records"));

        var selectors = Enumerable.Range(0, 2_500).Select(i => IkeSelector.FromCidr($"10.{i / 256}.{i % 256}.0/24")).ToList();
        var wide = full with { Name = "vpn1_wide", RemoteSelectors = selectors };
        Assert.True(SyncBatches.EstimatedBytes(wide) > SyncBatches.MaxBytes);
        var cut = SyncBatches.Chunks([full, wide, full, wide, wide], SyncBatches.EstimatedBytes).Select(c => c.Select(r => r.Name == "vpn1_wide" ? 'w' : 'f')).Select(c => new string(c.ToArray())).ToList();
        Assert.Equal(["f", "w", "f", "w", "w"], cut);
        Assert.True(Encode(wide).Length <= SyncBatches.EstimatedBytes(wide));
    }

    /// <summary>A standalone owner's record (Fortinet's four standalone FGSP peers) carries no FGCP cluster, -1: it crosses the
    /// wire; anything below is corrupt.</summary>
    [Fact]
    public void A_standalone_owners_record_round_trips_and_a_group_below_minus_one_is_refused()
    {
        var standalone = FullRecord() with { OwnerFgcpGroup = TunnelRecord.NoFgcpCluster };
        AssertRoundTrips(standalone);
        Assert.Equal(TunnelRecord.NoFgcpCluster, Decode(Encode(standalone)).OwnerFgcpGroup);
        Assert.Throws<WireFormatException>(() => RawDecode(Encode(standalone with { OwnerFgcpGroup = -2 })));
    }

    [Theory]
    [InlineData("aes128-sha1", 2)]
    [InlineData("aes256-sha256", 14)]
    [InlineData("aes192-sha1", 14)]
    public void Every_supported_suite_round_trips(string proposal, int group)
    {
        var record = Tunnel(RealSa(proposal, group));
        Assert.Equal(proposal, record.Child.Proposal);
        AssertRoundTrips(record);
    }

    [Fact]
    public void Nulls_empty_lists_and_deleted_flag_round_trip()
    {
        var full = FullRecord();
        var sa = full.Ike with { LastResponseId = null, LastResponse = null, Ts = null, Children = [] };
        var record = full with { Ike = sa, RemoteSelectors = [], LocalSelectors = [], Deleted = true };
        AssertRoundTrips(record);
        var decoded = Decode(Encode(record));
        Assert.Null(decoded.Ike.LastResponseId);
        Assert.Null(decoded.Ike.LastResponse);
        Assert.Null(decoded.Ike.Ts);
        Assert.Empty(decoded.Ike.Children);
        Assert.Empty(decoded.RemoteSelectors);
        Assert.True(decoded.Deleted);
    }

    [Fact]
    public void Empty_negotiated_selector_lists_round_trip()
    {
        var record = Tunnel(RealSa() with { Ts = new TrafficSelectors([], []) });
        AssertRoundTrips(record);
        var ts = Decode(Encode(record)).Ike.Ts;
        Assert.NotNull(ts);
        Assert.Empty(ts.Initiator);
        Assert.Empty(ts.Responder);
    }

    [Theory]
    [InlineData("2001:db8::1")]
    [InlineData("::ffff:192.0.2.1")]
    [InlineData("fe80::1%7")]
    [InlineData("::")]
    public void Ipv6_gateway_and_peer_round_trip(string address)
    {
        var v6 = IPAddress.Parse(address);
        var sa = RealSa() with
        {
            PeerAddress = v6,
            Ts = new TrafficSelectors(
                [new IkeSelector(0, 0, 65535, IPAddress.Parse("2001:db8:1::"), IPAddress.Parse("2001:db8:1::ffff"))],
                [IkeSelector.Any]),
        };
        var record = Tunnel(sa, v6);
        AssertRoundTrips(record);
        var decoded = Decode(Encode(record));
        Assert.Equal(v6.ScopeId, decoded.RemoteGateway.ScopeId);
        Assert.Equal(v6, decoded.Ike.PeerAddress);
    }

    [Fact]
    public void Several_children_with_their_own_proposals_round_trip()
    {
        var sa = RealSa();
        var sha256 = new ChildSaKeys(0x1000, 0xfffffff0, Fill(16, 1), Fill(32, 2), Fill(16, 3), Fill(32, 4)) { Proposal = "aes128-sha256" };
        var aes256 = new ChildSaKeys(256, uint.MaxValue, Fill(32, 5), Fill(20, 6), Fill(32, 7), Fill(20, 8)) { Proposal = "aes256-sha1" };
        var record = Tunnel(sa with { Children = [.. sa.Children, sha256, aes256] }) with { Child = sha256 };
        Assert.Equal(4, record.Ike.Children.Count);
        AssertRoundTrips(record);
        var decoded = Decode(Encode(record));
        Assert.Equal(new[] { "aes128-sha1", "aes128-sha1", "aes128-sha256", "aes256-sha1" }, decoded.Ike.Children.Select(c => c.Proposal));
        Assert.Equal("aes128-sha256", decoded.Child.Proposal);
    }

    [Fact]
    public void Extreme_but_valid_numbers_and_times_round_trip()
    {
        var record = FullRecord() with
        {
            Generation = long.MaxValue,
            SyncSeq = 0,
            NextOutboundSeq = uint.MaxValue,
            ReplayHighest = 0,
            RemotePort = 65535,
            EstablishedAt = DateTimeOffset.MaxValue,
        };
        AssertRoundTrips(record);
        AssertRoundTrips(record with { EstablishedAt = DateTimeOffset.MinValue, RemotePort = 0 });
        AssertRoundTrips(record with { EstablishedAt = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.FromHours(-14)) });
        AssertRoundTrips(record with { EstablishedAt = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.FromHours(14)) });
    }

    // ---- explicit rejections --------------------------------------------------------------------------------

    public static TheoryData<string> Implausible => new()
    {
        "empty SK_d", "short SK_ei", "long SK_pr", "empty child key", "short child auth key", "unknown IKE proposal", "phase2-only IKE proposal",
        "unknown child proposal", "unknown SA child proposal", "zero SPIi", "zero SPIr", "reserved ESP SPI", "short nonce",
        "long nonce", "last response id without bytes", "last response bytes without id", "tiny last response",
        "negative generation", "negative port", "port too large", "negative lifetime", "empty key", "dh group zero",
        "mixed family selector", "unknown NAT-T flag", "SA peer port zero", "SA local port too large", "NAT-T on without a port",
        "NAT-T port while off", "keepalive while off", "keepalive below 5", "keepalive above 900", "NAT-T port too large",
    };

    [Theory]
    [MemberData(nameof(Implausible))]
    public void Implausible_values_are_rejected(string what)
    {
        var r = FullRecord();
        var sa = r.Ike;
        var k = sa.Keys;
        var c = r.Child;
        var bad = what switch
        {
            "empty SK_d" => r with { Ike = sa with { Keys = k with { SkD = [] } } },
            "short SK_ei" => r with { Ike = sa with { Keys = k with { SkEi = k.SkEi[..^1] } } },
            "long SK_pr" => r with { Ike = sa with { Keys = k with { SkPr = [.. k.SkPr, 0] } } },
            "empty child key" => r with { Child = c with { OutboundEncKey = [] } },
            "short child auth key" => r with { Child = c with { InboundAuthKey = c.InboundAuthKey[..12] } },
            "unknown IKE proposal" => r with { Ike = sa with { Proposal = "3des-md5" } },
            "phase2-only IKE proposal" => r with { Ike = sa with { Proposal = "aes128gcm" } },
            "unknown child proposal" => r with { Child = c with { Proposal = "" } },
            "unknown SA child proposal" => r with { Ike = sa with { ChildProposal = "aria128-sha256" } },
            "zero SPIi" => r with { Ike = sa with { SpiI = 0 } },
            "zero SPIr" => r with { Ike = sa with { SpiR = 0 } },
            "reserved ESP SPI" => r with { Child = c with { InboundSpi = 255 } },
            "short nonce" => r with { Ike = sa with { Ni = new byte[15] } },
            "long nonce" => r with { Ike = sa with { Nr = new byte[257] } },
            "last response id without bytes" => r with { Ike = sa with { LastResponse = null } },
            "last response bytes without id" => r with { Ike = sa with { LastResponseId = null } },
            "tiny last response" => r with { Ike = sa with { LastResponse = new byte[27] } },
            "negative generation" => r with { Generation = -1 },
            "negative port" => r with { RemotePort = -1 },
            "port too large" => r with { RemotePort = 65536 },
            "negative lifetime" => r with { Ike = sa with { IkeLifetimeSeconds = -1 } },
            "empty key" => r with { Key = "" },
            "dh group zero" => r with { Ike = sa with { DhGroup = 0 } },
            "mixed family selector" => r with { LocalSelectors = [new IkeSelector(0, 0, 65535, IPAddress.Any, IPAddress.IPv6Any)] },
            "unknown NAT-T flag" => r with { NatT = (NatTStatus)8 | NatTStatus.PeerBehindNat },
            "SA peer port zero" => r with { Ike = sa with { PeerPort = 0 } },
            "SA local port too large" => r with { Ike = sa with { LocalPort = 65536 } },
            "NAT-T on without a port" => r with { NattRemotePort = 0 },
            "NAT-T port while off" => r with { NatT = NatTStatus.None, NattKeepaliveSeconds = 0 },
            "keepalive while off" => r with { NatT = NatTStatus.None, NattRemotePort = 0 },
            "keepalive below 5" => r with { NattKeepaliveSeconds = 4 },
            "keepalive above 900" => r with { NattKeepaliveSeconds = 901 },
            "NAT-T port too large" => r with { NattRemotePort = 65536 },
            _ => throw new ArgumentOutOfRangeException(nameof(what)),
        };
        var bytes = Encode(bad); // the writer is dumb on purpose: the reader is the gate
        Assert.Throws<WireFormatException>(() => RawDecode(bytes));
    }

    [Theory]
    [InlineData(5, null)]    // unknown family
    [InlineData(0, null)]
    [InlineData(6, null)]    // IPv6 family with 4 address bytes
    [InlineData(4, 16)]      // IPv4 family with 16 address bytes
    [InlineData(4, 0)]
    public void Bad_address_family_or_length_is_rejected(int family, int? length)
    {
        var bytes = Encode(FullRecord());
        var at = GatewayOffset(bytes);
        bytes[at] = (byte)family;
        if (length is { } n) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at + 1), n);
        Assert.Throws<WireFormatException>(() => RawDecode(bytes));
    }

    [Theory]
    [InlineData(long.MaxValue, 0)]
    [InlineData(-1L, 0)]
    [InlineData(0L, 0)]                  // 0001-01-01 UTC is fine at offset 0 ...
    [InlineData(0L, -60)]                // ... but not an hour west of it
    [InlineData(638_000_000_000_000_000L, 14 * 60 + 1)]
    [InlineData(638_000_000_000_000_000L, int.MinValue)]
    public void Out_of_range_timestamps_are_rejected(long utcTicks, int offsetMinutes)
    {
        var record = FullRecord();
        var bytes = Encode(record);
        var at = IndexOf(bytes, LittleEndian(record.EstablishedAt.UtcTicks));
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(at), utcTicks);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(at + 8), offsetMinutes);
        if (utcTicks == 0 && offsetMinutes == 0)
            Assert.Equal(DateTimeOffset.MinValue, Decode(bytes).EstablishedAt);
        else
            Assert.Throws<WireFormatException>(() => RawDecode(bytes));
    }

    [Fact]
    public void Trailing_bytes_and_corrupt_booleans_are_rejected()
    {
        var bytes = Encode(FullRecord());
        Assert.Throws<WireFormatException>(() => RawDecode([.. bytes, 0]));
        var deleted = (byte[])bytes.Clone();
        deleted[^1] = 2; // Deleted is the last field
        Assert.Throws<WireFormatException>(() => RawDecode(deleted));
    }

    // ---- (2) truncation -------------------------------------------------------------------------------------

    [Fact]
    public void Every_truncation_is_rejected()
    {
        foreach (var record in new[] { FullRecord(), Tunnel(RealSa() with { LastResponse = null, LastResponseId = null, Ts = null }, IPAddress.Parse("2001:db8::7")) })
        {
            var bytes = Encode(record);
            for (var n = 0; n < bytes.Length; n++)
            {
                var cut = bytes[..n];
                var e = Record.Exception(() => RawDecode(cut));
                Assert.True(e is WireFormatException, $"prefix of {n}/{bytes.Length} bytes: {e?.GetType().Name ?? "decoded"}");
            }
        }
    }

    // ---- (3) corruption -------------------------------------------------------------------------------------

    [Fact]
    public void Random_corruption_throws_only_WireFormatException()
    {
        var valid = Encode(FullRecord());
        var rng = new Random(20261127);
        var decodedCount = 0;
        for (var i = 0; i < 4000; i++)
        {
            var bytes = (byte[])valid.Clone();
            switch (i % 4)
            {
                case 0: // one bit
                    bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1: // a few random bytes
                    for (var j = rng.Next(1, 6); j > 0; j--) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
                    break;
                case 2: // a plausible-looking length or count
                    BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(rng.Next(bytes.Length - 4)),
                        rng.Next(4) switch { 0 => -1, 1 => int.MaxValue, 2 => rng.Next(300), _ => rng.Next() });
                    break;
                default: // pure garbage
                    bytes = new byte[rng.Next(0, 2 * valid.Length)];
                    rng.NextBytes(bytes);
                    break;
            }
            if (TryDecodeOrWireFormat(bytes, $"case {i}") is { } ok)
            {
                decodedCount++;
                // Anything accepted is a record the codec can write back and read again.
                Assert.Equal(Describe(ok), Describe(Decode(Encode(ok))));
            }
        }
        // Most single flips hit key bytes or counters that are still valid: the test must exercise both outcomes.
        Assert.InRange(decodedCount, 1, 3999);
    }

    /// <summary>A batch damaged anywhere (a record's bytes, the count, cut short) is refused whole, never half applied,
    /// and only as the WireFormatException Akka drops a message on.</summary>
    [Fact]
    public void A_damaged_batch_throws_only_WireFormatException()
    {
        const string batchManifest = "ipsec.tunnel-records.v1";
        var valid = WireCodecs.Encode(new TunnelRecordBatch([FullRecord(), V1Record()]));
        Assert.True(WireCodecs.TryGet(batchManifest, out var codec));
        var rng = new Random(20261207);
        var refused = 0;
        for (var i = 0; i < valid.Length + 2000; i++)
        {
            var bytes = i < valid.Length ? valid[..i] : (byte[])valid.Clone();
            if (i >= valid.Length) bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8));
            var e = Record.Exception(() =>
            {
                var reader = new WireReader(bytes);
                var batch = Assert.IsType<TunnelRecordBatch>(codec.Read(reader));
                reader.EnsureConsumed(batchManifest);
                Assert.Equal(2, batch.Records.Count);
            });
            if (e is null) continue;
            Assert.True(e is WireFormatException, $"case {i}: {e.GetType().Name}: {e.Message}");
            refused++;
        }
        Assert.True(refused > valid.Length, $"{refused} refused");
    }

    [Fact]
    public void Every_single_byte_set_to_extremes_throws_only_WireFormatException()
    {
        var valid = Encode(FullRecord());
        foreach (var value in new byte[] { 0x00, 0xff, 0x80, 0x07 })
        {
            for (var i = 0; i < valid.Length; i++)
            {
                var bytes = (byte[])valid.Clone();
                bytes[i] = value;
                TryDecodeOrWireFormat(bytes, $"byte {i} = {value:x2}");
            }
        }
    }

    /// <summary>
    /// The codec without <see cref="WireCodecs.Decode"/>'s safety net (which turns any exception into a
    /// WireFormatException): expected corruption must be caught by the codec's own checks.
    /// </summary>
    private static TunnelRecord RawDecode(byte[] bytes)
    {
        Assert.True(WireCodecs.TryGet(Manifest, out var codec));
        var reader = new WireReader(bytes);
        var value = Assert.IsType<TunnelRecord>(codec.Read(reader));
        reader.EnsureConsumed(Manifest);
        return value;
    }

    private static TunnelRecord? TryDecodeOrWireFormat(byte[] bytes, string what)
    {
        try
        {
            return RawDecode(bytes);
        }
        catch (WireFormatException)
        {
            return null;
        }
        catch (Exception e)
        {
            Assert.Fail($"{what}: {e.GetType().Name}: {e.Message}");
            return null;
        }
    }

    // ---- (4) registration -----------------------------------------------------------------------------------

    [Fact]
    public void Tunnel_record_is_registered_under_its_frozen_manifest()
    {
        Assert.True(WireCodecs.TryGet(typeof(TunnelRecord), out var codec));
        Assert.Equal(Manifest, codec.Manifest);
        Assert.True(WireCodecs.TryGet(Manifest, out var byName));
        Assert.Equal(typeof(TunnelRecord), byName.Type);
        // The shipped v1 layout stays readable for units of the previous version.
        Assert.True(WireCodecs.TryGet(ManifestV1, out var v1));
        Assert.Equal(typeof(TunnelRecord), v1.Type);
        Assert.IsAssignableFrom<IWireMessage>(FullRecord());
    }

    // ---- (5) v1 compatibility -------------------------------------------------------------------------------

    /// <summary>A record without NAT-T, IKE on port 500 both ways: exactly what v1 could carry.</summary>
    private static TunnelRecord V1Record() => Tunnel(RealSa());

    private static byte[] EncodeV1(TunnelRecord r)
    {
        Assert.True(WireCodecs.TryGet(ManifestV1, out var codec));
        var w = new WireWriter();
        codec.Write(w, r);
        return w.ToArray();
    }

    private static TunnelRecord RawDecodeV1(byte[] bytes)
    {
        Assert.True(WireCodecs.TryGet(ManifestV1, out var codec));
        var reader = new WireReader(bytes);
        var value = Assert.IsType<TunnelRecord>(codec.Read(reader));
        reader.EnsureConsumed(ManifestV1);
        return value;
    }

    [Fact]
    public void V1_bytes_decode_with_nat_t_off_and_ike_on_500()
    {
        var record = V1Record();
        var v1 = EncodeV1(record);
        var decoded = Assert.IsType<TunnelRecord>(WireCodecs.Decode(ManifestV1, v1));
        Assert.Equal(Describe(record), Describe(decoded));
        Assert.Equal(NatTStatus.None, decoded.NatT);
        Assert.Equal((NatTStatus.None, 500, 500), (decoded.Ike.NatT, decoded.Ike.PeerPort, decoded.Ike.LocalPort));
        Assert.Equal(EspEncapsulation.None, decoded.EspEncapsulation);
        // Written again, it is v2: the same fields plus three bytes-and-two-ints groups (SA and record).
        var v2 = Encode(decoded);
        Assert.Equal(v1.Length + 2 * (1 + 4 + 4), v2.Length);
        Assert.Equal(Describe(record), Describe(Decode(v2)));
    }

    [Fact]
    public void V1_writer_refuses_what_v1_cannot_carry()
    {
        var nat = FullRecord();
        Assert.Throws<InvalidOperationException>(() => EncodeV1(nat));
        var plain = V1Record();
        Assert.Throws<InvalidOperationException>(() => EncodeV1(plain with { Ike = plain.Ike with { PeerPort = 4500 } }));
        Assert.Throws<InvalidOperationException>(() => EncodeV1(plain with { NattKeepaliveSeconds = 10 }));
    }

    [Fact]
    public void Every_v1_truncation_is_rejected()
    {
        var bytes = EncodeV1(V1Record());
        for (var n = 0; n < bytes.Length; n++)
        {
            var cut = bytes[..n];
            var e = Record.Exception(() => RawDecodeV1(cut));
            Assert.True(e is WireFormatException, $"v1 prefix of {n}/{bytes.Length} bytes: {e?.GetType().Name ?? "decoded"}");
        }
    }

    [Fact]
    public void V1_corruption_throws_only_WireFormatException()
    {
        var valid = EncodeV1(V1Record());
        foreach (var value in new byte[] { 0x00, 0xff, 0x80, 0x07 })
        {
            for (var i = 0; i < valid.Length; i++)
            {
                var bytes = (byte[])valid.Clone();
                bytes[i] = value;
                try { RawDecodeV1(bytes); }
                catch (WireFormatException) { }
            }
        }
    }

    // ---- (6) what the NAT-T fields mean -------------------------------------------------------------------

    [Fact]
    public void Nat_t_fields_give_the_natt_line_and_the_esp_encapsulation()
    {
        var nat = FullRecord();
        Assert.Equal(EspEncapsulation.Udp, nat.EspEncapsulation);
        Assert.Equal(new NattState("keepalive", 0, 10, 31001), nat.NattLine);
        Assert.Equal(4500, nat.NattLocalPort);

        // The scenario's line: natt: mode=none draft=0 interval=0 remote_port=0, ESP as IP protocol 50.
        var plain = Tunnel(RealSa()).WithNatT(RealSa(), keepaliveSeconds: 10);
        Assert.Equal(EspEncapsulation.None, plain.EspEncapsulation);
        Assert.Equal(new NattState("none", 0, 0, 0), plain.NattLine);
        Assert.Equal((0, 0, 0), (plain.NattRemotePort, plain.NattKeepaliveSeconds, plain.NattLocalPort));
    }

    // ---- helpers --------------------------------------------------------------------------------------------

    private static byte[] Fill(int n, byte v) => Enumerable.Repeat(v, n).ToArray();

    private static byte[] LittleEndian(long v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, v);
        return b;
    }

    /// <summary>Offset of RemoteGateway's family byte: 4, length 4, then 203.0.113.77.</summary>
    private static int GatewayOffset(byte[] bytes) => IndexOf(bytes, [4, 4, 0, 0, 0, .. RemoteV4.GetAddressBytes()]);

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        var at = haystack.AsSpan().IndexOf(needle);
        Assert.True(at >= 0, "pattern not found in the encoding");
        Assert.Equal(-1, haystack.AsSpan(at + 1).IndexOf(needle)); // unique, so the test edits the field it means to
        return at;
    }
}
