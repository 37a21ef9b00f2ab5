using ClusterActors.Protocol.Esp;

namespace ClusterActors.Protocol.Tests.Esp;

public class ReplayWindowTests
{
    private static ReplayWindow AcceptAll(IEnumerable<uint> seqs, int size = 2048)
    {
        var w = new ReplayWindow(size);
        foreach (var s in seqs)
            Assert.Equal(ReplayCheck.Ok, w.Accept(s));
        return w;
    }

    private static IEnumerable<uint> Range(uint from, uint count)
    {
        for (uint i = 0; i < count; i++)
            yield return from + i;
    }

    [Fact]
    public void A_fresh_window_is_empty_at_lastseq_zero_and_refuses_seq_zero()
    {
        var w = new ReplayWindow();
        Assert.Equal(2048, w.Size);
        Assert.Equal(0u, w.Highest);
        Assert.Equal(ReplayCheck.Ok, w.Check(1));
        Assert.Equal(ReplayCheck.Zero, w.Check(0));
        Assert.Equal(ReplayCheck.Zero, w.Accept(0));
        Assert.Equal(0u, w.Highest);
    }

    [Fact]
    public void Check_does_not_change_state()
    {
        var w = new ReplayWindow();
        Assert.Equal(ReplayCheck.Ok, w.Check(5));
        Assert.Equal(ReplayCheck.Ok, w.Check(5));
        Assert.Equal(0u, w.Highest);
        Assert.Equal(0, w.CountAccepted());
    }

    [Fact]
    public void In_order_traffic_is_accepted_once_and_replays_are_caught()
    {
        var w = AcceptAll(Range(1, 5000));

        Assert.Equal(5000u, w.Highest);
        Assert.Equal(2048, w.CountAccepted());
        Assert.Equal(ReplayCheck.Replayed, w.Check(5000));
        Assert.Equal(ReplayCheck.Replayed, w.Check(4000));
        Assert.Equal(ReplayCheck.Replayed, w.Accept(2953)); // 5000 - 2953 = 2047: the left edge, still tracked
        Assert.Equal(ReplayCheck.TooOld, w.Check(2952));    // 5000 - 2952 = 2048: just outside
        Assert.Equal(ReplayCheck.TooOld, w.Check(1));
        Assert.Equal(ReplayCheck.Ok, w.Check(5001));
    }

    [Fact]
    public void Out_of_order_within_the_window_is_accepted_once()
    {
        var w = AcceptAll([10, 5, 7, 9, 1, 2047]);

        Assert.Equal(2047u, w.Highest);
        foreach (uint s in new uint[] { 10, 5, 7, 9, 1, 2047 })
            Assert.Equal(ReplayCheck.Replayed, w.Check(s));
        Assert.Equal(ReplayCheck.Ok, w.Accept(6));
        Assert.Equal(ReplayCheck.Replayed, w.Accept(6));
        Assert.Equal(2047u, w.Highest); // late packets never move the top
    }

    [Fact]
    public void Exactly_at_the_left_edge_is_in_and_one_further_is_too_old()
    {
        var w = AcceptAll([3000]);

        Assert.Equal(ReplayCheck.Ok, w.Accept(3000 - 2047));
        Assert.Equal(ReplayCheck.Replayed, w.Check(3000 - 2047));
        Assert.Equal(ReplayCheck.TooOld, w.Accept(3000 - 2048));
        Assert.Equal(3000u, w.Highest);
    }

    [Fact]
    public void Seq_1_stays_in_window_until_the_top_passes_2048()
    {
        var w = AcceptAll([1, 2048]);
        Assert.Equal(ReplayCheck.Replayed, w.Check(1));
        w.Accept(2049);
        Assert.Equal(ReplayCheck.TooOld, w.Check(1));
    }

    [Fact]
    public void A_forward_jump_of_2_pow_28_is_accepted_and_restarts_the_window()
    {
        var w = AcceptAll(Range(1, 100));

        Assert.Equal(ReplayCheck.Ok, w.Accept(100 + (1u << 28)));

        Assert.Equal(0x10000064u, w.Highest);
        Assert.Equal(1, w.CountAccepted()); // nothing from before the jump is remembered…
        Assert.Equal(ReplayCheck.TooOld, w.Check(100)); // …because all of it is left of the window now
        Assert.Equal(ReplayCheck.Ok, w.Check(100 + (1u << 28) - 2047)); // never seen, inside the window
        Assert.Equal(ReplayCheck.Ok, w.Accept(100 + (1u << 28) + 1));
    }

    [Fact]
    public void A_jump_smaller_than_the_window_keeps_the_overlap()
    {
        var w = AcceptAll(Range(1, 10));
        w.Accept(1000);

        Assert.Equal(ReplayCheck.Replayed, w.Check(3));
        Assert.Equal(ReplayCheck.Ok, w.Check(500));
        Assert.Equal(11, w.CountAccepted());
    }

    [Fact]
    public void Seed_new_owner_with_an_empty_window_accepts_the_clients_continuing_0x1b0()
    {
        // VM3 was a standby with replaywin_lastseq=00000000; after the FGSP takeover it printed 000001b0 with no loss.
        var standby = new ReplayWindow();
        Assert.Equal(ReplayCheck.Ok, standby.Accept(0x1b0 - 52));
        for (uint s = 0x1b0 - 51; s <= 0x1b0; s++)
            Assert.Equal(ReplayCheck.Ok, standby.Accept(s));
        Assert.Equal("000001b0", standby.Highest.ToString("x8"));
    }

    [Fact]
    public void Seed_new_owner_with_a_stale_synced_window_also_accepts_the_continuation()
    {
        // If the window had been synced at some earlier point (say lastseq 0x120), the client's numbers are just ahead of it.
        var synced = new ReplayWindow(AcceptAll(Range(1, 0x120)).Snapshot());
        Assert.Equal(ReplayCheck.Ok, synced.Accept(0x1b0));
        Assert.Equal(ReplayCheck.Ok, synced.Accept(0x150)); // late packets the old owner never saw are still new
        Assert.Equal(ReplayCheck.Replayed, synced.Check(0x100));
    }

    [Fact]
    public void Top_of_the_32_bit_space_does_not_wrap_with_ESN_off()
    {
        // ESN off: a sender must rekey before 2^32-1 is used up, so after it nothing can be valid.
        var w = AcceptAll([0xFFFFFFF0, 0xFFFFFFFF]);

        Assert.Equal(uint.MaxValue, w.Highest);
        Assert.Equal(ReplayCheck.Replayed, w.Check(0xFFFFFFFF));
        Assert.Equal(ReplayCheck.Replayed, w.Check(0xFFFFFFF0));
        Assert.Equal(ReplayCheck.Ok, w.Accept(0xFFFFFFFE));
        Assert.Equal(ReplayCheck.Zero, w.Check(0));      // the "next" number after a wrap
        Assert.Equal(ReplayCheck.TooOld, w.Check(1));    // and a wrapped counter looks ancient
        Assert.Equal(ReplayCheck.Ok, w.Check(0xFFFFFFFF - 2047));
        Assert.Equal(ReplayCheck.TooOld, w.Check(0xFFFFFFFF - 2048));
    }

    [Fact]
    public void Jump_straight_from_empty_to_the_top_of_the_space()
    {
        var w = AcceptAll([uint.MaxValue]);
        Assert.Equal(1, w.CountAccepted());
        Assert.Equal(ReplayCheck.Ok, w.Accept(uint.MaxValue - 1));
    }

    [Theory]
    [InlineData(64)]
    [InlineData(128)]
    [InlineData(2048)]
    [InlineData(4096)]
    public void Agrees_with_a_naive_model_on_random_traffic(int size)
    {
        // Model: a set of every accepted number; the window must give the same verdicts without remembering everything.
        var rng = new Random(size);
        var w = new ReplayWindow(size);
        var seen = new HashSet<uint>();
        uint top = 0;
        for (int i = 0; i < 20_000; i++)
        {
            uint seq = rng.Next(10) switch
            {
                0 => (uint)rng.NextInt64(0, 1L << 32),                    // anywhere
                1 => top + (uint)rng.Next(size, 4 * size),                // jump past the window
                2 or 3 => top >= (uint)size ? top - (uint)size + (uint)rng.Next(-3, 3) : (uint)rng.Next(0, size), // near the edge
                _ => top + (uint)rng.Next(-size, 8),                      // ordinary reordering
            };
            ReplayCheck model =
                seq == 0 ? ReplayCheck.Zero
                : seq > top ? ReplayCheck.Ok
                : top - seq >= (uint)size ? ReplayCheck.TooOld
                : seen.Contains(seq) ? ReplayCheck.Replayed
                : ReplayCheck.Ok;

            Assert.Equal(model, w.Check(seq));
            bool accept = rng.Next(4) != 0; // some Ok packets fail their ICV and are never accepted
            if (accept)
            {
                Assert.Equal(model, w.Accept(seq));
                if (model == ReplayCheck.Ok)
                {
                    seen.Add(seq);
                    top = Math.Max(top, seq);
                }
            }
            Assert.Equal(top, w.Highest);
        }
    }

    // ---- Snapshot / restore ----

    [Fact]
    public void Snapshot_bit_i_is_highest_minus_i()
    {
        var w = AcceptAll([100, 99, 92]);
        var state = w.Snapshot();

        Assert.Equal(100u, state.Highest);
        Assert.Equal(256, state.Bitmap.Length);
        Assert.Equal(0b0000_0011, state.Bitmap[0]); // 100, 99
        Assert.Equal(0b0000_0001, state.Bitmap[1]); // 92 = 100 - 8
        Assert.All(state.Bitmap[2..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void Restored_window_gives_the_same_verdicts_and_snapshot()
    {
        var rng = new Random(7);
        var original = new ReplayWindow();
        for (int i = 0; i < 3000; i++)
            original.Accept((uint)rng.Next(1, 6000));

        var state = original.Snapshot();
        var copy = new ReplayWindow(state);

        Assert.Equal(state, copy.Snapshot());
        Assert.Equal(original.Highest, copy.Highest);
        for (uint s = 0; s < 7000; s++)
            Assert.Equal(original.Check(s), copy.Check(s));
        // And the copy is independent of the original afterwards.
        copy.Accept(original.Highest + 1);
        Assert.Equal(ReplayCheck.Ok, original.Check(original.Highest + 1));
    }

    [Fact]
    public void Restore_ignores_bits_that_would_mean_seq_zero_or_below()
    {
        var bitmap = Enumerable.Repeat((byte)0xFF, 8).ToArray(); // a 64-bit window claiming 64 numbers at Highest 3
        var w = new ReplayWindow(new ReplayWindowState(3, bitmap));

        Assert.Equal(64, w.Size);
        Assert.Equal(3, w.CountAccepted());
        Assert.Equal(ReplayCheck.Zero, w.Check(0));
        Assert.Equal(ReplayCheck.Replayed, w.Check(1));
    }

    [Fact]
    public void Empty_window_snapshot_round_trips()
    {
        var state = new ReplayWindow().Snapshot();
        Assert.Equal(new ReplayWindowState(0, new byte[256]), state);
        Assert.Equal(0u, new ReplayWindow(state).Highest);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(32)]
    [InlineData(100)]
    [InlineData(1 << 17)]
    public void Sizes_that_are_not_whole_64_bit_words_are_rejected(int size)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReplayWindow(size));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReplayWindow(new ReplayWindowState(1, new byte[Math.Max(0, size / 8)])));
    }
}
