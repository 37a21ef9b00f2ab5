using System.Net;
using ClusterActors.Protocol.Fgsp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Serialization;
using CsCheck;
using static ClusterActors.Protocol.Tests.Ike.IkeTestKit;
using IkeSelector = ClusterActors.Protocol.Ike.TrafficSelector;

namespace ClusterActors.Protocol.Tests.Fgsp;

/// <summary>
/// Seal and open of a tunnel record crossing FGCP clusters under standalone-cluster `encryption enable` + `psksecret`,
/// as pure functions on synthetic records: the same psksecret opens it, another (or another group) does not, and no
/// label and no byte of a sealed record can change without the record being refused — never an exception.
/// </summary>
public sealed class FgspSyncSealSpec
{
    private const string Sender = "FGVM02TM22000001";
    private static readonly FgspSyncKey Key = FgspSyncKey.Derive("fgsp-lab-secret", 2);
    private static readonly TunnelRecord Record = MakeRecord();

    private static TunnelRecord MakeRecord()
    {
        var established = Handshake().AtGateway;
        var sa = established.Sa;
        return new TunnelRecord(TunnelRecord.KeyOf("vpn1", sa.SpiI, sa.SpiR), "vpn1", "vpn1_1", 1, Sender, 1, 3, 7, sa, established.Child, 1, 42, 0,
            new DateTimeOffset(2026, 12, 6, 5, 0, 0, TimeSpan.Zero), 10800, IPAddress.Parse("192.168.202.35"), IPAddress.Parse("203.0.113.9"), 500,
            [IkeSelector.FromCidr("10.10.1.0/24")], [IkeSelector.Any], false);
    }

    private static byte[] Bytes(TunnelRecord r) => WireCodecs.Encode(r);

    [Fact]
    public void The_same_psksecret_opens_the_record_exactly_as_sealed()
    {
        var sealedRecord = FgspSyncSeal.Seal(Record, Sender, Key);
        var opened = FgspSyncSeal.Open(sealedRecord, FgspSyncKey.Derive("fgsp-lab-secret", 2), out var failure);
        Assert.Equal(FgspOpenFailure.None, failure);
        Assert.Equal(Bytes(Record), Bytes(Assert.IsType<TunnelRecord>(opened)));
        // The keys are not in the clear part: the ESP key bytes do not appear in the sealed record's wire form.
        var wire = WireCodecs.Encode(sealedRecord);
        Assert.False(Contains(wire, Record.Child.InboundEncKey), "the ESP key travels in clear");
        Assert.False(Contains(wire, Record.Ike.Keys.SkEi), "SK_ei travels in clear");
    }

    [Fact]
    public void Another_psksecret_or_group_or_none_cannot_open_it()
    {
        var sealedRecord = FgspSyncSeal.Seal(Record, Sender, Key);
        Assert.Null(FgspSyncSeal.Open(sealedRecord, FgspSyncKey.Derive("another-secret", 2), out var wrongSecret));
        Assert.Equal(FgspOpenFailure.SealMismatch, wrongSecret);
        Assert.Null(FgspSyncSeal.Open(sealedRecord, FgspSyncKey.Derive("fgsp-lab-secret", 3), out var wrongGroup));
        Assert.Equal(FgspOpenFailure.SealMismatch, wrongGroup);
        Assert.Null(FgspSyncSeal.Open(sealedRecord, null!, out var noKey));
        Assert.Equal(FgspOpenFailure.Malformed, noKey);
    }

    /// <summary>The labels a receiver reasons about before opening (whose, which, how new) are bound by the seal.</summary>
    [Fact]
    public void A_relabelled_record_is_refused()
    {
        var s = FgspSyncSeal.Seal(Record, Sender, Key);
        SealedTunnelRecord[] relabelled =
        [
            s with { SenderSerial = "FGVM02TM22000003" },
            s with { Generation = s.Generation + 1 },
            s with { SyncSeq = s.SyncSeq + 1 },
            s with { Key = "vpn1/0000000000000001/0000000000000002" },
            s with { Phase1 = "vpn2" },
        ];
        foreach (var r in relabelled)
        {
            Assert.Null(FgspSyncSeal.Open(r, Key, out var failure));
            Assert.Equal(FgspOpenFailure.SealMismatch, failure);
        }
    }

    [Fact]
    public void Impossible_lengths_are_malformed_not_exceptions()
    {
        var s = FgspSyncSeal.Seal(Record, Sender, Key);
        foreach (var r in new[] { s with { Nonce = new byte[11] }, s with { Tag = new byte[12] }, s with { Tag = null! }, s with { Ciphertext = null! } })
        {
            Assert.Null(FgspSyncSeal.Open(r, Key, out var failure));
            Assert.Equal(FgspOpenFailure.Malformed, failure);
        }
    }

    /// <summary>
    /// Any byte of a sealed record flipped (nonce, ciphertext, tag, or the labels), by any non-zero mask: refused by
    /// the seal, never applied and never thrown. Also on its wire form: either the decoder drops it (the serializer's
    /// one counted refusal) or what it decodes to does not open.
    /// </summary>
    [Fact]
    public void Any_flipped_byte_of_a_sealed_record_is_refused_and_never_throws()
    {
        var s = FgspSyncSeal.Seal(Record, Sender, Key);
        var fields = new[] { s.Nonce, s.Ciphertext, s.Tag };
        Gen.Select(Gen.Int[0, 2], Gen.Int[0, int.MaxValue], Gen.Byte[1, 255]).Sample((field, at, mask) =>
        {
            var parts = fields.Select(f => (byte[])f.Clone()).ToArray();
            parts[field][at % parts[field].Length] ^= mask;
            var flipped = s with { Nonce = parts[0], Ciphertext = parts[1], Tag = parts[2] };
            Assert.Null(FgspSyncSeal.Open(flipped, Key, out var failure));
            Assert.Equal(FgspOpenFailure.SealMismatch, failure);
        }, iter: 5_000);

        var wire = WireCodecs.Encode(s);
        Assert.True(WireCodecs.TryGet(typeof(SealedTunnelRecord), out var codec));
        Gen.Select(Gen.Int[0, int.MaxValue], Gen.Byte[1, 255]).Sample((at, mask) =>
        {
            var bytes = (byte[])wire.Clone();
            bytes[at % bytes.Length] ^= mask;
            SealedTunnelRecord decoded;
            try
            {
                decoded = Assert.IsType<SealedTunnelRecord>(WireCodecs.Decode(codec.Manifest, bytes));
            }
            catch (WireFormatException)
            {
                return; // dropped by the serializer, counted in WireCodecs.Dropped (SyncDecoderFuzzSpec)
            }
            Assert.Null(FgspSyncSeal.Open(decoded, Key, out var failure));
            Assert.NotEqual(FgspOpenFailure.None, failure);
        }, iter: 5_000);
    }

    [Fact]
    public void The_sealed_record_round_trips_on_the_wire()
    {
        var s = FgspSyncSeal.Seal(Record, Sender, Key);
        var back = Assert.IsType<SealedTunnelRecord>(WireCodecs.Decode("fgsp.sealed-tunnel.v1", WireCodecs.Encode(s)));
        Assert.Equal(Bytes(Record), Bytes(Assert.IsType<TunnelRecord>(FgspSyncSeal.Open(back, Key, out _))));
    }

    private static bool Contains(byte[] haystack, byte[] needle) =>
        needle.Length > 0 && haystack.AsSpan().IndexOf(needle) >= 0;
}
