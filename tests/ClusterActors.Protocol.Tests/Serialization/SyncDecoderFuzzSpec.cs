using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Fgsp;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Serialization;
using CsCheck;

namespace ClusterActors.Protocol.Tests.Serialization;

/// <summary>
/// Property-based fuzzing (CsCheck) of the decoders for what units send each other over Akka: SA sync (tunnel
/// records), FGCP config sync and forwarded changes, FGSP announcements. Property: any bytes either decode to the
/// manifest's type or are refused with the one <see cref="WireFormatException"/> Akka drops a message on, and every
/// refusal is counted in <see cref="WireCodecs.Dropped"/>. Nothing else is ever thrown (no crash of the endpoint).
/// </summary>
public sealed class SyncDecoderFuzzSpec
{
    private static readonly string[] SyncManifests = ["ipsec.tunnel.v2", "ipsec.tunnel.v1", "fgcp.sync.v1", "fgcp.fwd.v1", "fgsp.announce.v1", "fgsp.sealed-tunnel.v1", "ipsec.signed-tunnel.v1",
        "ipsec.tunnel-released.v1", "ipsec.tunnel-entries-wanted.v1", "ipsec.tunnel-entries.v1", "ipsec.tunnel-records.v1", "fgsp.sealed-tunnel-records.v1"];

    private static void DecodesOrIsACountedDrop(string manifest, byte[] bytes)
    {
        Assert.True(WireCodecs.TryGet(manifest, out var codec));
        var before = WireCodecs.Dropped;
        try
        {
            var value = WireCodecs.Decode(manifest, bytes);
            Assert.IsType(codec.Type, value);
        }
        catch (WireFormatException)
        {
            // Other specs decode in parallel: at least this one was counted.
            Assert.True(WireCodecs.Dropped > before, $"{manifest}: a refused input was not counted");
        }
    }

    [Fact]
    public void Random_bytes_never_throw_anything_but_a_counted_drop()
    {
        Gen.Select(Gen.Int[0, SyncManifests.Length - 1], Gen.Byte.Array[0, 600])
            .Sample((m, bytes) => DecodesOrIsACountedDrop(SyncManifests[m], bytes), iter: 20_000);
    }

    private static readonly object[] Valid =
    [
        new FgcpConfigSynced("FGVM02TM22000001", "0123456789abcdef0123456789abcdef", "config system ha\n    set group-id 1\nend\n"),
        new FgcpConfigChangeForwarded("FGVM02TM22000002", "config system global\n    set hostname \"X\"\nend"),
        new FgspAnnouncement("FGVM02TM22000001", "DC2_VM1", 1, 1, 1, "172.31.2.11", true, "akka.tcp://fortigate@127.0.0.1:1/user/x",
            "akka.tcp://fortigate@127.0.0.1:1", 1_764_000_000_000),
        new SealedTunnelRecord("vpn1/1122334455667788/8877665544332211", "vpn1", "FGVM02TM22000001", 3, 7, new byte[12], new byte[300], new byte[16]),
        new SignedTunnelRecord("FGVM02TM22000001", "ipsec.tunnel.v2", new byte[900], new byte[406], new byte[64]),
        new TunnelReleased("vpn1/1122334455667788/8877665544332211", 4, "FGVM02TM22000003"),
        new TunnelEntriesWanted("FGVM02TM22000001"),
        new SealedTunnelRecordBatch([
            new SealedTunnelRecord("vpn1/1122334455667788/8877665544332211", "vpn1", "FGVM02TM22000001", 3, 7, new byte[12], new byte[300], new byte[16]),
            new SealedTunnelRecord("vpn1/1122334455667789/8877665544332211", "vpn1", "FGVM02TM22000001", 3, 8, new byte[12], new byte[310], new byte[16])]),
        new TunnelEntries("FGVM02TM22000002", "ipsec.tunnel.v2",
            [new TunnelEntry("vpn1/1122334455667788/8877665544332211", new SignedTunnelRecord("FGVM02TM22000001", "ipsec.tunnel.v2", new byte[900], new byte[406], new byte[64]))]),
    ];

    /// <summary>Valid messages with bytes flipped, cut short or lengthened: the shapes a damaged or forged sync takes.</summary>
    [Fact]
    public void Mutated_valid_messages_never_throw_anything_but_a_counted_drop()
    {
        var encoded = Valid.Select(v => (Manifest: WireCodecs.TryGet(v.GetType(), out var c) ? c.Manifest : throw new InvalidOperationException(), Bytes: WireCodecs.Encode(v))).ToList();
        Gen.Select(Gen.Int[0, encoded.Count - 1], Gen.Int[0, 3], Gen.Int[0, 10_000], Gen.Byte.Array[1, 8])
            .Sample((which, kind, at, noise) =>
            {
                var (manifest, original) = encoded[which];
                var bytes = (byte[])original.Clone();
                var i = at % bytes.Length;
                bytes = kind switch
                {
                    0 => Flip(bytes, i, noise[0]),
                    1 => bytes[..i],
                    2 => [.. bytes[..i], .. noise, .. bytes[i..]],
                    _ => Flip(Flip(bytes, i, noise[0]), (i * 7 + 3) % bytes.Length, noise[^1]),
                };
                DecodesOrIsACountedDrop(manifest, bytes);
            }, iter: 20_000);
    }

    private static byte[] Flip(byte[] bytes, int at, byte with)
    {
        bytes[at] ^= with == 0 ? (byte)1 : with;
        return bytes;
    }

    [Fact]
    public void A_refused_input_is_counted()
    {
        var before = WireCodecs.Dropped;
        Assert.Throws<WireFormatException>(() => WireCodecs.Decode("fgcp.sync.v1", [1, 2, 3]));
        Assert.True(WireCodecs.Dropped > before);
    }
}
