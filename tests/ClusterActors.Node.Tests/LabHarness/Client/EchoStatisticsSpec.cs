using ClusterActors.Node.LabHarness.Client;

namespace ClusterActors.Node.Tests.LabHarness.Client;

/// <summary>The pure report: loss, duplicates, RTTs and the longest gap from synthetic timestamps.</summary>
public sealed class EchoStatisticsSpec
{
    private static TimeSpan Ms(double ms) => TimeSpan.FromTicks((long)Math.Round(ms * TimeSpan.TicksPerMillisecond));

    /// <summary>Requests every 1 ms from 0; reply i arrives at i + rtt ms unless <paramref name="lost"/> says otherwise.</summary>
    private static (TimeSpan[] Sent, TimeSpan?[] Replies) Steady(int count, double rtt, Func<int, bool>? lost = null)
    {
        var sent = Enumerable.Range(0, count).Select(i => Ms(i)).ToArray();
        var replies = Enumerable.Range(0, count).Select(i => lost?.Invoke(i) == true ? (TimeSpan?)null : Ms(i + rtt)).ToArray();
        return (sent, replies);
    }

    [Fact]
    public void Lost_before_a_request_counts_only_outages_over_before_it_was_sent()
    {
        // Lost: 3..5 (answered 6 after), 10..11 (answered 12), 20..24 (the last request still lost: no end).
        var (sent, replies) = Steady(25, rtt: 0.5, lost: i => i is >= 3 and <= 5 or 10 or 11 or >= 20);

        var r = EchoStatistics.Compute(sent, replies, 0);

        Assert.Equal([(3L, 5L), (10L, 11L), (20L, 24L)], r.LostRuns);
        Assert.Equal(0, r.LostBefore(6)); // 6 answered the first outage, but was not yet sent before request 6
        Assert.Equal(3, r.LostBefore(7));
        Assert.Equal(3, r.LostBefore(12));
        Assert.Equal(5, r.LostBefore(13));
        Assert.Equal(5, r.LostBefore(25)); // an outage not over by the end is never "before"
    }

    [Fact]
    public void No_requests_give_an_empty_report()
    {
        var r = EchoStatistics.Compute([], [], 0);
        Assert.Equal((0, 0, 0), (r.Sent, r.Answered, r.Lost));
        Assert.Equal(TimeSpan.Zero, r.LongestGap);
        Assert.Null(r.RttAvg);
    }

    [Fact]
    public void Steady_answers_give_the_request_interval_as_longest_gap_and_the_earliest_of_equal_gaps()
    {
        var (sent, replies) = Steady(10, rtt: 0.5);

        var r = EchoStatistics.Compute(sent, replies, 0);

        // Points 0 | 0.5 1.5 … 8.5 | 9 (the reply at 9.5 is after the last request): gaps 0.5, 1 × 8, 0.5.
        Assert.Equal((10, 10, 0), (r.Sent, r.Answered, r.Lost));
        Assert.Equal(Ms(1), r.LongestGap);
        Assert.Equal(Ms(0.5), r.LongestGapAt);
        Assert.Equal(Ms(9), r.SendingTime);
        Assert.Equal((Ms(0.5), Ms(0.5), Ms(0.5)), (r.RttMin!.Value, r.RttAvg!.Value, r.RttMax!.Value));
    }

    [Fact]
    public void An_outage_mid_run_is_the_gap_between_the_replies_around_it()
    {
        var (sent, replies) = Steady(100, rtt: 0.2, lost: i => i is >= 40 and < 60);

        var r = EchoStatistics.Compute(sent, replies, 0);

        Assert.Equal((100, 80, 20), (r.Sent, r.Answered, r.Lost));
        Assert.Equal(Ms(21), r.LongestGap); // 39.2 → 60.2
        Assert.Equal(Ms(39.2), r.LongestGapAt);
    }

    [Fact]
    public void A_slow_first_reply_makes_the_gap_from_the_first_request()
    {
        var (sent, replies) = Steady(10, rtt: 0.3);
        replies[0] = Ms(5);
        for (int i = 1; i < 5; i++)
            replies[i] = null;

        var r = EchoStatistics.Compute(sent, replies, 0);

        Assert.Equal(Ms(5), r.LongestGap);
        Assert.Equal(TimeSpan.Zero, r.LongestGapAt);
        Assert.Equal(Ms(5), r.RttMax);
    }

    [Fact]
    public void Replies_stopping_early_give_the_gap_from_the_last_reply_to_the_end_of_sending()
    {
        var (sent, replies) = Steady(100, rtt: 0.2, lost: i => i >= 50);

        var r = EchoStatistics.Compute(sent, replies, 0);

        Assert.Equal(50, r.Lost);
        Assert.Equal(Ms(99 - 49.2), r.LongestGap);
        Assert.Equal(Ms(49.2), r.LongestGapAt);
    }

    [Fact]
    public void No_reply_at_all_makes_the_whole_sending_window_the_gap()
    {
        var (sent, replies) = Steady(20, rtt: 0, lost: _ => true);

        var r = EchoStatistics.Compute(sent, replies, 0);

        Assert.Equal((20, 0, 20), (r.Sent, r.Answered, r.Lost));
        Assert.Equal(Ms(19), r.LongestGap);
        Assert.Equal(TimeSpan.Zero, r.LongestGapAt);
        Assert.Null(r.RttMin);
    }

    [Fact]
    public void Replies_arriving_after_sending_ended_count_as_answered_but_do_not_close_the_gap()
    {
        var (sent, _) = Steady(10, rtt: 0);
        var replies = sent.Select(_ => (TimeSpan?)Ms(20)).ToArray();

        var r = EchoStatistics.Compute(sent, replies, 0);

        Assert.Equal((10, 0), (r.Answered, r.Lost));
        Assert.Equal(Ms(9), r.LongestGap);
        Assert.Equal((Ms(11), Ms(20)), (r.RttMin!.Value, r.RttMax!.Value));
        Assert.Equal(Ms(15.5), r.RttAvg);
    }

    [Fact]
    public void Times_are_reported_from_the_first_request_and_reply_order_does_not_matter()
    {
        var sent = new[] { Ms(100), Ms(101), Ms(102), Ms(103), Ms(110) };
        // Out of order: 103's reply arrives before 102's.
        var replies = new TimeSpan?[] { Ms(100.5), Ms(101.5), Ms(104.5), Ms(103.2), null };

        var r = EchoStatistics.Compute(sent, replies, duplicates: 3);

        Assert.Equal(Ms(10), r.SendingTime);
        Assert.Equal(Ms(110 - 104.5), r.LongestGap);
        Assert.Equal(Ms(4.5), r.LongestGapAt);
        Assert.Equal((1, 3), (r.Lost, r.Duplicates));
    }

    [Fact]
    public void Losses_are_split_between_the_longest_gap_and_the_bursts_elsewhere()
    {
        // The docker lab's fgcp-failover: one long outage (the failover) and short stalls elsewhere in the run.
        var (sent, replies) = Steady(1000, rtt: 0.2, lost: i => i is >= 400 and < 600 or >= 100 and < 105 or 800);

        var r = EchoStatistics.Compute(sent, replies, 0);

        Assert.Equal(206, r.Lost);
        Assert.Equal(Ms(399.2), r.LongestGapAt);
        Assert.Equal(200, r.LostInLongestGap);
        Assert.Equal(3, r.LossBurstCount);
        Assert.Equal(
            [new LossBurst(Ms(100), 5, Ms(4), false), new LossBurst(Ms(400), 200, Ms(199), true), new LossBurst(Ms(800), 1, TimeSpan.Zero, false)],
            r.LossBursts);
    }

    [Fact]
    public void A_burst_that_began_before_the_gap_because_the_last_reply_was_slow_belongs_to_the_gap_whole()
    {
        // The owner dies: request 399's reply still comes, 50 ms late; requests 400.. were lost from their start.
        var (sent, replies) = Steady(1000, rtt: 0.2, lost: i => i is >= 400 and < 600);
        replies[399] = Ms(450);

        var r = EchoStatistics.Compute(sent, replies, 0);

        Assert.Equal(Ms(450), r.LongestGapAt);
        Assert.Equal((200L, 200L), (r.Lost, r.LostInLongestGap));
        Assert.True(r.LossBursts.Single().InLongestGap);
    }

    [Fact]
    public void A_loss_at_the_end_of_sending_is_in_the_gap_that_runs_to_the_end_and_no_loss_gives_no_burst()
    {
        var (sent, replies) = Steady(100, rtt: 0.2, lost: i => i >= 90);
        var r = EchoStatistics.Compute(sent, replies, 0);
        Assert.Equal((10, 10L, 1L), (r.Lost, r.LostInLongestGap, r.LossBurstCount));
        Assert.True(r.LossBursts.Single().InLongestGap);

        var (sent2, replies2) = Steady(100, rtt: 0.2);
        var clean = EchoStatistics.Compute(sent2, replies2, 0);
        Assert.Equal((0L, 0L), (clean.LostInLongestGap, clean.LossBurstCount));
        Assert.Empty(clean.LossBursts);
    }

    [Fact]
    public void Scattered_losses_list_only_the_largest_bursts_in_time_order_and_count_them_all()
    {
        // 50 single losses (every 10th request up to 500), then bursts of 2..6 at 600, 700, … 1000.
        var big = new[] { (600, 2), (700, 3), (800, 4), (900, 5), (1000, 6) };
        var (sent, replies) = Steady(1200, rtt: 0.2, lost: i => i < 500 && i % 10 == 5 || big.Any(b => i >= b.Item1 && i < b.Item1 + b.Item2));

        var r = EchoStatistics.Compute(sent, replies, 0);

        Assert.Equal(55, r.LossBurstCount);
        Assert.Equal(EchoStatistics.MaxLossBursts, r.LossBursts.Count);
        Assert.Equal(r.LossBursts.OrderBy(b => b.At), r.LossBursts);
        Assert.Equal(big.Select(b => (long)b.Item2), r.LossBursts.Where(b => b.Count > 1).Select(b => b.Count));
        Assert.Equal(Ms(5), r.LossBursts[0].At); // the earliest singles fill the rest
    }

    [Fact]
    public void One_request_has_no_gap()
    {
        var r = EchoStatistics.Compute([Ms(3)], [null], 0);
        Assert.Equal((1, 1), (r.Sent, r.Lost));
        Assert.Equal(TimeSpan.Zero, r.LongestGap);
    }

    [Fact]
    public void Mismatched_lengths_are_a_caller_bug()
    {
        Assert.Throws<ArgumentException>(() => EchoStatistics.Compute([Ms(1)], [], 0));
    }

    [Fact]
    public void Format_reads_plainly()
    {
        var r = new EchoReport(5000, 4998, 2, 0, Ms(12), TimeSpan.FromSeconds(1.234), TimeSpan.FromSeconds(5), Ms(0.08), Ms(0.15), Ms(2.4));

        Assert.Equal("sent 5000, answered 4998, lost 2, duplicates 0, longest gap 12 ms at 1.234 s, rtt min/avg/max 0.08/0.15/2.4 ms", r.Format());
        Assert.Equal(r.Format(), r.ToString());
        var bare = new EchoReport(3, 0, 3, 0, Ms(2.5), TimeSpan.Zero, Ms(2), null, null, null) { Unmatched = 1, SendFailures = 3 };
        Assert.Equal("sent 3, answered 0, lost 3, duplicates 0, longest gap 2.5 ms at 0.000 s, unmatched 1, send failures 3", bare.Format());
    }

    [Theory]
    [InlineData(10, 1, 11, 10)]
    [InlineData(10, 1, 1, 0)]
    [InlineData(10, 1, 12, -1)]          // not sent yet: would be request 11
    [InlineData(10, 1, 0, -1)]           // before request 0
    [InlineData(10, 65530, 65535, 5)]    // the wrap: 65530 + 5
    [InlineData(10, 65530, 4, 10)]       // 65530 + 10 = 65540 → 4
    [InlineData(70000, 1, 4465, 70000)]  // (1 + 70000) mod 65536
    [InlineData(70000, 1, 4464, 69999)]
    [InlineData(70000, 1, 1, 65536)]     // the latest request with sequence 1, not request 0
    [InlineData(-1, 1, 1, -1)]           // nothing sent
    public void Request_numbers_survive_the_16_bit_wrap(long lastSent, int first, int sequence, long expected)
    {
        Assert.Equal(expected, EchoStatistics.RequestNumber(lastSent, (ushort)first, (ushort)sequence));
    }
}
