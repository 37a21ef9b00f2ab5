using ClusterActors.Protocol.Esp;

namespace ClusterActors.Protocol.Tests.Esp;

public class EspSaTests
{
    // The seed's second CHILD SA after the FGCP failover (VM2/VM3 `dec: spi=37f426c1 …`).
    private static readonly EspSaKeys Keys = EspSaKeys.FromHex("37f426c1", "ef61b49078b6ab3e00a4d3a048d779f5", "ee2e8de9c522d89b6481c37faa73a7bb54163645");
    private static readonly byte[] Echo = EspReference.SeedEchoRequest();

    private static string Seqno(EspOutboundSa sa) => sa.NextSeq.ToString("x");

    // ---- Outbound ----

    [Fact]
    public void Outbound_starts_at_1_and_seqno_is_the_next_number()
    {
        var sa = new EspOutboundSa(Keys);
        Assert.Equal("1", Seqno(sa)); // seed owner before traffic: seqno=1

        var first = sa.Seal(Echo);
        var second = sa.Seal(Echo);

        Assert.Equal(1u, first.Seq);
        Assert.Equal(2u, second.Seq);
        Assert.True(EspCodec.TryReadHeader(second.Bytes, out _, out var onWire));
        Assert.Equal(2u, onWire);
        Assert.Equal(new EspCounters(2, 168, 264), sa.Counters);
    }

    [Fact]
    public void Seed_VM2_sent_31_packets_so_seqno_is_20()
    {
        var sa = new EspOutboundSa(Keys);
        for (int i = 0; i < 31; i++)
            sa.Seal(Echo);
        Assert.Equal("20", Seqno(sa));
        Assert.Equal(31ul, sa.Counters.Packets);
    }

    [Fact]
    public void JumpAhead_from_1_gives_the_seed_standby_seqno_10000001()
    {
        var standbyCopy = new EspOutboundSa(Keys, nextSeq: 1);
        Assert.Equal(0x10000001ul, standbyCopy.JumpAhead());
        Assert.Equal("10000001", Seqno(standbyCopy));
        Assert.Equal(0x10000001u, standbyCopy.Seal(Echo).Seq);
    }

    [Fact]
    public void Seed_VM3_took_over_at_synced_0x120_and_sent_53_so_seqno_is_10000155()
    {
        var standbyCopy = new EspOutboundSa(Keys, nextSeq: 0x120);
        standbyCopy.JumpAhead();
        for (int i = 0; i < 53; i++)
            standbyCopy.Seal(Echo);
        Assert.Equal("10000155", Seqno(standbyCopy));
        Assert.Equal(53ul, standbyCopy.Counters.Packets);
    }

    [Fact]
    public void The_last_number_is_2_pow_32_minus_1_and_then_sending_is_refused()
    {
        var sa = new EspOutboundSa(Keys, nextSeq: uint.MaxValue);
        Assert.Equal(uint.MaxValue, sa.Seal(Echo).Seq);

        Assert.True(sa.IsExhausted);
        Assert.Equal(EspOutboundSa.Exhausted, sa.NextSeq);
        Assert.Throws<InvalidOperationException>(() => sa.Seal(Echo));
        Assert.Equal(1ul, sa.Counters.Packets);
    }

    [Fact]
    public void JumpAhead_saturates_instead_of_wrapping()
    {
        // A wrapped counter would look ancient to the peer's window; an exhausted one forces the rekey instead.
        var sa = new EspOutboundSa(Keys, nextSeq: 0xF0000001);
        Assert.Equal(EspOutboundSa.Exhausted, sa.JumpAhead());
        Assert.True(sa.IsExhausted);
        Assert.Throws<InvalidOperationException>(() => sa.Seal(Echo));

        var nearTop = new EspOutboundSa(Keys, nextSeq: 0xEFFFFFFF);
        Assert.Equal(0xFFFFFFFFul, nearTop.JumpAhead());
        Assert.Equal(0xFFFFFFFFu, nearTop.Seal(Echo).Seq);
    }

    [Fact]
    public void Outbound_refuses_to_start_at_zero()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new EspOutboundSa(Keys, nextSeq: 0));
    }

    [Fact]
    public void Chosen_iv_seal_matches_the_reference()
    {
        var sa = new EspOutboundSa(Keys, nextSeq: 0x20);
        var sealedPacket = sa.Seal(Echo, EspReference.FixedIv);
        Assert.Equal(EspReference.Seal(0x37f426c1, 0x20, Keys.EncKey, Keys.AuthKey, EspReference.FixedIv, Echo), sealedPacket.Bytes);
    }

    // ---- Inbound ----

    [Fact]
    public void Inbound_delivers_counts_and_tracks_lastseq()
    {
        var tx = new EspOutboundSa(Keys);
        var rx = new EspInboundSa(Keys);

        for (int i = 0; i < 0x3b; i++)
        {
            Assert.True(rx.TryOpen(tx.Seal(Echo).Bytes, out var result, out var reason));
            Assert.Equal(EspDropReason.None, reason);
            Assert.Equal(Echo, result.Payload);
        }

        Assert.Equal("0000003b", rx.Window.Highest.ToString("x8"));
        Assert.Equal(new EspCounters(0x3b, 0x3bUL * 84, 0x3bUL * 132), rx.Counters);
        Assert.Equal(0ul, rx.TotalDrops);
    }

    [Fact]
    public void Duplicate_is_dropped_as_replayed_and_not_counted_as_decrypted()
    {
        var rx = new EspInboundSa(Keys);
        var packet = new EspOutboundSa(Keys).Seal(Echo).Bytes;

        Assert.True(rx.TryOpen(packet, out _, out _));
        Assert.False(rx.TryOpen(packet, out var result, out var reason));

        Assert.Null(result);
        Assert.Equal(EspDropReason.Replayed, reason);
        Assert.Equal(1ul, rx.DropCount(EspDropReason.Replayed));
        Assert.Equal(1ul, rx.Counters.Packets);
    }

    [Fact]
    public void Left_of_the_window_is_too_old()
    {
        var rx = new EspInboundSa(Keys);
        var old = new EspOutboundSa(Keys, nextSeq: 952).Seal(Echo).Bytes;
        var edge = new EspOutboundSa(Keys, nextSeq: 953).Seal(Echo).Bytes;
        Assert.True(rx.TryOpen(new EspOutboundSa(Keys, nextSeq: 3000).Seal(Echo).Bytes, out _, out _));

        Assert.False(rx.TryOpen(old, out _, out var reason));
        Assert.Equal(EspDropReason.TooOld, reason);
        Assert.True(rx.TryOpen(edge, out _, out _));
        Assert.Equal(1ul, rx.DropCount(EspDropReason.TooOld));
    }

    [Fact]
    public void Seq_zero_is_refused_even_with_a_valid_icv()
    {
        var rx = new EspInboundSa(Keys);
        var zero = EspCodec.Encrypt(Keys, 0, Echo);

        Assert.False(rx.TryOpen(zero, out _, out var reason));
        Assert.Equal(EspDropReason.ZeroSequence, reason);
        Assert.Equal(0u, rx.Window.Highest);
    }

    [Fact]
    public void Packet_for_another_SPI_is_unknown_spi()
    {
        var rx = new EspInboundSa(Keys);
        var other = EspSaKeys.FromHex("37f426a1", "3671c9303b6295fc73b11765811bdf96", "41b98cb541dc9c76311ddec4b23584ee35d31915");
        Assert.False(rx.TryOpen(new EspOutboundSa(other).Seal(Echo).Bytes, out _, out var reason));
        Assert.Equal(EspDropReason.UnknownSpi, reason);
        Assert.Equal(1ul, rx.DropCount(EspDropReason.UnknownSpi));
    }

    [Fact]
    public void Every_single_byte_flip_is_dropped_and_leaves_the_window_alone()
    {
        var rx = new EspInboundSa(Keys);
        var packet = new EspOutboundSa(Keys, nextSeq: 5).Seal(Echo).Bytes;

        for (int i = 0; i < packet.Length; i++)
        {
            var bad = (byte[])packet.Clone();
            bad[i] ^= 0xFF;
            Assert.False(rx.TryOpen(bad, out _, out var reason));
            Assert.Equal(i < 4 ? EspDropReason.UnknownSpi : EspDropReason.BadIcv, reason);
        }

        Assert.Equal(4ul, rx.DropCount(EspDropReason.UnknownSpi));
        Assert.Equal((ulong)packet.Length - 4, rx.DropCount(EspDropReason.BadIcv));
        Assert.Equal(0u, rx.Window.Highest); // forged sequence numbers never move the window
        Assert.Equal(EspCounters.Zero, rx.Counters);
        Assert.True(rx.TryOpen(packet, out _, out _)); // and the genuine packet still gets through
    }

    [Fact]
    public void Short_packets_are_truncated()
    {
        var rx = new EspInboundSa(Keys);
        var packet = new EspOutboundSa(Keys).Seal([]).Bytes;
        for (int n = 0; n < EspCodec.MinimumLength; n++)
        {
            Assert.False(rx.TryOpen(packet.AsSpan(0, n), out _, out var reason));
            Assert.Equal(EspDropReason.Truncated, reason);
        }
        Assert.Equal((ulong)EspCodec.MinimumLength, rx.DropCount(EspDropReason.Truncated));
    }

    [Fact]
    public void Bad_padding_under_a_valid_icv_is_dropped_without_consuming_the_sequence_number()
    {
        var rx = new EspInboundSa(Keys);
        byte[] brokenTrailer = [.. new byte[12], 9, 9, 2, 4];
        var bad = EspReference.SealPlaintext(0x37f426c1, 7, Keys.EncKey, Keys.AuthKey, EspReference.FixedIv, brokenTrailer);

        Assert.False(rx.TryOpen(bad, out _, out var reason));
        Assert.Equal(EspDropReason.BadPadding, reason);
        Assert.Equal(0u, rx.Window.Highest);
        Assert.True(rx.TryOpen(new EspOutboundSa(Keys, nextSeq: 7).Seal(Echo).Bytes, out _, out _));
    }

    [Fact]
    public void Fuzzed_input_never_throws_and_is_always_counted_as_a_drop()
    {
        var rng = new Random(4303);
        var rx = new EspInboundSa(Keys);
        var tx = new EspOutboundSa(Keys);
        int tries = 0;

        for (int i = 0; i < 3000; i++, tries++)
        {
            var junk = new byte[rng.Next(0, 200)];
            rng.NextBytes(junk);
            if (junk.Length >= 4 && rng.Next(2) == 0)
            {
                // Half carry the right SPI so they get past the lookup into the replay and ICV checks.
                junk[0] = 0x37; junk[1] = 0xf4; junk[2] = 0x26; junk[3] = 0xc1;
            }
            Assert.False(rx.TryOpen(junk, out var result, out var reason));
            Assert.Null(result);
            Assert.NotEqual(EspDropReason.None, reason);
        }

        for (int i = 0; i < 2000; i++, tries++)
        {
            var genuine = tx.Seal(Echo).Bytes;
            var mutated = Mutate(genuine, rng);
            Assert.False(rx.TryOpen(mutated, out _, out var reason));
            Assert.NotEqual(EspDropReason.None, reason);
        }

        Assert.Equal((ulong)tries, rx.TotalDrops);
        Assert.Equal(EspCounters.Zero, rx.Counters);
    }

    private static byte[] Mutate(byte[] packet, Random rng)
    {
        switch (rng.Next(3))
        {
            case 0: // a few random bit flips
                var flipped = (byte[])packet.Clone();
                for (int k = rng.Next(1, 4); k > 0; k--)
                    flipped[rng.Next(flipped.Length)] ^= (byte)(1 << rng.Next(8));
                return flipped;
            case 1: // cut short
                return packet[..rng.Next(0, packet.Length)];
            default: // extended with junk
                var extra = new byte[rng.Next(1, 40)];
                rng.NextBytes(extra);
                return [.. packet, .. extra];
        }
    }

    // ---- Failover, end to end ----

    [Fact]
    public void Client_keeps_sending_and_the_new_owner_with_a_fresh_standby_window_accepts()
    {
        // Client -> owner: 0x1af packets, then the owner dies; VM3's standby copy of the inbound SA never saw any.
        var client = new EspOutboundSa(Keys);
        var owner = new EspInboundSa(Keys);
        for (int i = 0; i < 0x1af; i++)
            Assert.True(owner.TryOpen(client.Seal(Echo).Bytes, out _, out _));

        var newOwner = new EspInboundSa(Keys, new ReplayWindow());
        var next = client.Seal(Echo);

        Assert.Equal(0x1b0u, next.Seq);
        Assert.True(newOwner.TryOpen(next.Bytes, out _, out _));
        Assert.Equal("000001b0", newOwner.Window.Highest.ToString("x8"));
    }

    [Fact]
    public void Jumped_standby_outbound_is_accepted_by_the_clients_window_even_after_the_old_owner_ran_ahead_of_sync()
    {
        // Owner synced seqno 0x120 to its standbys, then sent 0x35 more before dying: the client's window is at 0x154.
        var owner = new EspOutboundSa(Keys, nextSeq: 0x120);
        var client = new EspInboundSa(Keys);
        var standby = new EspOutboundSa(Keys, nextSeq: 0x120);
        standby.JumpAhead();
        for (int i = 0; i < 0x35; i++)
            Assert.True(client.TryOpen(owner.Seal(Echo).Bytes, out _, out _));

        // Without the jump the standby would reuse 0x120.. and the client would drop it all as replayed.
        var unjumped = new EspOutboundSa(Keys, nextSeq: 0x120);
        Assert.False(client.TryOpen(unjumped.Seal(Echo).Bytes, out _, out var replay));
        Assert.Equal(EspDropReason.Replayed, replay);

        var first = standby.Seal(Echo);
        Assert.True(client.TryOpen(first.Bytes, out _, out _));
        Assert.Equal(0x10000120u, client.Window.Highest);
    }
}
