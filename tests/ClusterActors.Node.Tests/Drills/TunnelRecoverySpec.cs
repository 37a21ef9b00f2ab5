using ClusterActors.Node.Drills;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// <see cref="TunnelRecovery"/> on synthetic probes (issue 13 goal 5): per moved tunnel, the reply to the first request
/// sent after the fault that was answered; first / median / last over the moved tunnels; the stayed ones apart.
/// </summary>
public sealed class TunnelRecoverySpec
{
    private const double Interval = 100, Bound = 4_400;

    /// <summary>A client probing every 100 ms from 1 s before the fault to <paramref name="untilMs"/>; the requests sent in
    /// [<paramref name="downFrom"/>, <paramref name="downTo"/>) go unanswered, the others are answered 2 ms later.</summary>
    private static ClientProbes Probe(string name, double downFrom, double downTo, double untilMs = 6_000)
    {
        var sent = new List<double>();
        var reply = new List<double?>();
        for (var t = -1_000.0; t < untilMs; t += Interval)
        {
            sent.Add(t);
            reply.Add(t >= downFrom && t < downTo ? null : t + 2);
        }
        return new ClientProbes(name, "192.168.7." + name.Length, sent, reply);
    }

    private static readonly Dictionary<string, string?> Before = new()
    {
        ["A"] = "DC2_VM1", ["BB"] = "DC2_VM1", ["CCC"] = "DC2_VM1", ["DDDD"] = "DC2_VM3",
    };

    private static readonly Dictionary<string, string?> After = new()
    {
        ["A"] = "DC2_VM2", ["BB"] = "DC2_VM2", ["CCC"] = "DC2_VM2", ["DDDD"] = "DC2_VM3",
    };

    private static TunnelRecovery Of(params ClientProbes[] probes) =>
        TunnelRecovery.Of("after phase 1", probes, Before, After, Bound, Interval, readAtMs: 6_000);

    [Fact]
    public void The_moved_tunnels_give_first_median_and_last_back_and_the_stayed_one_is_counted_apart()
    {
        var r = Of(Probe("A", 0, 4_200), Probe("BB", 0, 4_300), Probe("CCC", 0, 4_400), Probe("DDDD", 0, 0));
        Assert.Equal(3, r.Moved);
        Assert.Equal(3, r.Back);
        Assert.Equal(4_202, r.FirstMs);
        Assert.Equal(4_302, r.MedianMs);
        Assert.Equal(4_402, r.LastMs);
        Assert.Equal(1, r.Stayed);
        Assert.Equal(0, r.StayedLosing);
        Assert.True(r.Holds);
    }

    [Fact]
    public void Back_counts_from_the_first_request_after_the_fault_not_a_late_reply_to_one_sent_before_it()
    {
        // A request sent 50 ms before the fault and answered only at 4,500 ms says nothing of when the tunnel came back.
        var a = Probe("A", 0, 4_200);
        var sent = a.SentMs.ToList();
        var reply = a.ReplyMs.ToList();
        var i = sent.IndexOf(-100);
        reply[i] = 4_500;
        var r = Of(a with { ReplyMs = reply }, Probe("BB", 0, 4_200), Probe("CCC", 0, 4_200), Probe("DDDD", 0, 0));
        Assert.Equal(4_202, r.LastMs);
    }

    [Fact]
    public void A_request_answered_before_the_fault_took_effect_is_not_the_tunnels_return()
    {
        // The kill is stamped, then takes ~100 ms: the request sent at 0 ms is still answered by the old owner.
        var r = Of(Probe("A", 50, 4_200), Probe("BB", 50, 4_300), Probe("CCC", 50, 4_400), Probe("DDDD", 0, 0));
        Assert.Equal(4_202, r.FirstMs);
        Assert.Equal(4_402, r.LastMs);
    }

    [Fact]
    public void A_moved_tunnel_never_answered_again_is_named_and_there_is_no_last()
    {
        var r = Of(Probe("A", 0, 4_200), Probe("BB", 0, 99_999), Probe("CCC", 0, 4_200), Probe("DDDD", 0, 0));
        Assert.Equal(2, r.Back);
        Assert.Null(r.LastMs);
        Assert.Equal("BB (192.168.7.2)", Assert.Single(r.NotBack));
        Assert.False(r.Holds);
    }

    [Fact]
    public void A_tunnel_back_later_than_the_bound_and_one_probe_interval_is_late_within_it_is_not()
    {
        // Back 2 ms past the bound: within the probe's own granularity (the tunnel may have been back up to 100 ms earlier).
        var ok = Of(Probe("A", 0, 4_200), Probe("BB", 0, Bound), Probe("CCC", 0, 4_200), Probe("DDDD", 0, 0));
        Assert.Equal(Bound + 2, ok.LastMs);
        Assert.True(ok.Holds);
        var late = Of(Probe("A", 0, 4_200), Probe("BB", 0, Bound + 2 * Interval), Probe("CCC", 0, 4_200), Probe("DDDD", 0, 0));
        Assert.Equal("BB (192.168.7.2) 4602 ms", Assert.Single(late.Late));
        Assert.False(late.Holds);
    }

    [Fact]
    public void A_stayed_tunnel_that_lost_requests_after_the_fault_is_counted_but_one_still_in_flight_is_not_lost()
    {
        var r = Of(Probe("A", 0, 4_200), Probe("BB", 0, 4_200), Probe("CCC", 0, 4_200), Probe("DDDD", 1_000, 1_200));
        Assert.Equal(1, r.StayedLosing);
        // Unanswered, but sent within the last second before the read: in flight, not lost.
        var inFlight = Of(Probe("A", 0, 4_200), Probe("BB", 0, 4_200), Probe("CCC", 0, 4_200), Probe("DDDD", 5_500, 99_999));
        Assert.Equal(0, inFlight.StayedLosing);
    }
}
