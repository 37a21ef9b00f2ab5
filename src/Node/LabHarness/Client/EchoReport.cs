using System.Globalization;

namespace ClusterActors.Node.LabHarness.Client;

/// <summary>
/// What one echo run saw. Times are offsets from the run's first request. <see cref="ToString"/> is
/// <see cref="Format"/>: `sent 5000, answered 4998, lost 2, duplicates 0, longest gap 12 ms at 1.234 s, rtt min/avg/max 0.08/0.15/2.4 ms`.
/// </summary>
/// <param name="Sent">Requests sent (handed to the interface, whether or not the link took them).</param>
/// <param name="Answered">Requests with at least one matching reply before the report was taken.</param>
/// <param name="Lost">Sent − Answered: requests still without a reply at the end of the grace period.</param>
/// <param name="Duplicates">Replies beyond the first for the same request.</param>
/// <param name="LongestGap">Longest interval without a reply while traffic was being sent; see <see cref="EchoStatistics"/>.</param>
/// <param name="LongestGapAt">When that interval began.</param>
/// <param name="SendingTime">From the first request to the last one.</param>
public sealed record EchoReport(
    long Sent,
    long Answered,
    long Lost,
    long Duplicates,
    TimeSpan LongestGap,
    TimeSpan LongestGapAt,
    TimeSpan SendingTime,
    TimeSpan? RttMin,
    TimeSpan? RttAvg,
    TimeSpan? RttMax)
{
    /// <summary>Echo replies with our identifier that match no request we sent (or a sequence not sent yet).</summary>
    public long Unmatched { get; init; }

    /// <summary>How far the sender's schedule moved later because its thread was starved beyond a catch-up
    /// (EchoRun.Pace): the requests of that time were never sent, rather than sent in one burst.</summary>
    public TimeSpan SenderStalled { get; init; }

    /// <summary>Requests the interface refused (no carrier, no neighbour for the gateway); they are in Sent and, unanswered, in Lost.</summary>
    public long SendFailures { get; init; }

    /// <summary>
    /// The part of <see cref="Lost"/> in the loss bursts that overlap the longest gap: a failover's share.
    /// Lost − LostInLongestGap was lost elsewhere in the run; <see cref="LossBursts"/> says when.
    /// </summary>
    public long LostInLongestGap { get; init; }

    /// <summary>
    /// Runs of consecutive lost requests, in time order: the <see cref="EchoStatistics.MaxLossBursts"/> largest when
    /// there are more (<see cref="LossBurstCount"/> says how many there were in all).
    /// </summary>
    public IReadOnlyList<LossBurst> LossBursts { get; init; } = [];

    /// <summary>How many runs of consecutive lost requests there were in all (≥ LossBursts.Count).</summary>
    public long LossBurstCount { get; init; }

    /// <summary>Every run of consecutive lost requests as request numbers (first, last; 0 is the run's first request), in
    /// order: what <see cref="LostBefore"/> counts from.</summary>
    public IReadOnlyList<(long First, long Last)> LostRuns { get; init; } = [];

    /// <summary>
    /// The lost requests of runs that ended, with a request answered after them, before request <paramref name="request"/>
    /// was sent: an outage over and done with by then. A drill counts them apart when <paramref name="request"/> is the
    /// first sent once the traffic was steady, before its fault: they are not the fault's.
    /// </summary>
    public long LostBefore(long request) => LostRuns.Where(r => r.Last + 1 < request).Sum(r => r.Last - r.First + 1);

    public string Format()
    {
        var c = CultureInfo.InvariantCulture;
        var text = string.Create(c,
            $"sent {Sent}, answered {Answered}, lost {Lost}, duplicates {Duplicates}, longest gap {Ms(LongestGap)} ms at {LongestGapAt.TotalSeconds:0.000} s");
        if (RttMin is { } min && RttAvg is { } avg && RttMax is { } max)
            text += string.Create(c, $", rtt min/avg/max {Ms(min)}/{Ms(avg)}/{Ms(max)} ms");
        if (Unmatched > 0)
            text += string.Create(c, $", unmatched {Unmatched}");
        if (SendFailures > 0)
            text += string.Create(c, $", send failures {SendFailures}");
        if (SenderStalled > TimeSpan.Zero)
            text += string.Create(c, $", sender stalled {Ms(SenderStalled)} ms");
        return text;
    }

    public override string ToString() => Format();

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString(t.TotalMilliseconds >= 10 ? "0" : "0.###", CultureInfo.InvariantCulture);
}

/// <summary>
/// A run of consecutive lost requests: <paramref name="Count"/> of them, the first sent <paramref name="At"/> after
/// the run's first request, the last <paramref name="Lasted"/> after that one; <paramref name="InLongestGap"/> when it
/// overlaps the longest gap (some of its requests were sent while the gap lasted).
/// </summary>
public sealed record LossBurst(TimeSpan At, long Count, TimeSpan Lasted, bool InLongestGap);

/// <summary>The pure part of the echo report: loss, duplicates, RTTs and the longest gap from timestamps alone.</summary>
public static class EchoStatistics
{
    /// <summary>The largest loss bursts a report lists (a run with scattered single losses would list thousands).</summary>
    public const int MaxLossBursts = 20;

    /// <summary>
    /// Computes the report.
    /// <para>
    /// Longest gap, precisely: let t_first and t_last be the send times of the first and the last request (the
    /// sending window), and R the arrival times of the first reply of each answered request that fall inside
    /// [t_first, t_last], in time order (duplicates do not count: they are not progress). With the points
    /// t_first, R…, t_last, the longest gap is the largest difference between consecutive points, and it is "at" the
    /// earlier point of that pair. So it covers: the first request to the first reply, reply to reply, and the last
    /// reply to the end of sending; replies arriving after the last request (the ordinary tail, the grace period) do
    /// not shorten it. No reply at all gives the whole sending window at t_first; one request gives 0. On a tie the
    /// earliest gap wins.
    /// </para>
    /// <para>
    /// Loss breakdown: loss bursts are runs of consecutive unanswered requests (by order sent); a burst belongs to the
    /// longest gap when some of its requests were sent while the gap lasted, all of it: the gap starts at the last
    /// reply, and requests sent before that reply came back (a slow one as the owner died: 70 of them in a docker run)
    /// and never answered are the same outage.
    /// </para>
    /// </summary>
    /// <param name="sentAt">Send time of each request, in the order sent (non-decreasing).</param>
    /// <param name="firstReplyAt">Arrival of the first reply per request (same index), null when unanswered.</param>
    /// <param name="duplicates">Replies beyond the first, counted by the caller.</param>
    public static EchoReport Compute(IReadOnlyList<TimeSpan> sentAt, IReadOnlyList<TimeSpan?> firstReplyAt, long duplicates)
    {
        ArgumentNullException.ThrowIfNull(sentAt);
        ArgumentNullException.ThrowIfNull(firstReplyAt);
        if (firstReplyAt.Count != sentAt.Count)
            throw new ArgumentException("One reply slot per request.", nameof(firstReplyAt));
        long sent = sentAt.Count;
        if (sent == 0)
            return new EchoReport(0, 0, 0, duplicates, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, null, null, null);

        var first = sentAt[0];
        var last = sentAt[^1];
        long answered = 0;
        TimeSpan rttMin = TimeSpan.MaxValue, rttMax = TimeSpan.MinValue;
        long rttSumTicks = 0;
        var arrivals = new List<TimeSpan>();
        for (int i = 0; i < firstReplyAt.Count; i++)
        {
            if (firstReplyAt[i] is not { } at)
                continue;
            answered++;
            var rtt = at - sentAt[i];
            if (rtt < rttMin) rttMin = rtt;
            if (rtt > rttMax) rttMax = rtt;
            rttSumTicks += rtt.Ticks;
            if (at >= first && at <= last)
                arrivals.Add(at);
        }
        arrivals.Sort();

        var gap = TimeSpan.Zero;
        var gapAt = first;
        var previous = first;
        foreach (var at in arrivals.Append(last))
        {
            if (at - previous > gap)
            {
                gap = at - previous;
                gapAt = previous;
            }
            previous = at;
        }

        var gapEnd = gapAt + gap;
        var bursts = new List<LossBurst>();
        var runs = new List<(long, long)>();
        for (int i = 0; i < firstReplyAt.Count; i++)
        {
            if (firstReplyAt[i] is not null)
                continue;
            int j = i; // the burst is i..j
            while (j + 1 < firstReplyAt.Count && firstReplyAt[j + 1] is null)
                j++;
            bursts.Add(new LossBurst(sentAt[i] - first, j - i + 1, sentAt[j] - sentAt[i], InLongestGap: sentAt[i] <= gapEnd && sentAt[j] >= gapAt));
            runs.Add((i, j));
            i = j;
        }
        var lostInGap = bursts.Where(b => b.InLongestGap).Sum(b => b.Count);
        var listed = bursts.Count <= MaxLossBursts
            ? bursts
            : bursts.OrderByDescending(b => b.Count).ThenBy(b => b.At).Take(MaxLossBursts).OrderBy(b => b.At).ToList();

        return new EchoReport(sent, answered, sent - answered, duplicates, gap, gapAt - first, last - first,
            answered == 0 ? null : rttMin,
            answered == 0 ? null : TimeSpan.FromTicks(rttSumTicks / answered),
            answered == 0 ? null : rttMax)
        {
            LostInLongestGap = lostInGap,
            LossBursts = listed,
            LossBurstCount = bursts.Count,
            LostRuns = runs,
        };
    }

    /// <summary>
    /// The run-wide request number (0, 1, 2, … never wrapping) an echo sequence number belongs to, given that
    /// request n carries the 16-bit sequence (firstSequence + n) mod 2^16 and requests 0..lastSent have been sent:
    /// the latest request with that sequence. −1 when none has been sent. Ambiguous only for a reply more than
    /// 65,536 requests late (65 s at 1,000 pps), which this reads as the newer request.
    /// </summary>
    public static long RequestNumber(long lastSent, ushort firstSequence, ushort sequence)
    {
        if (lastSent < 0)
            return -1;
        ushort lastSequence = (ushort)(firstSequence + lastSent);
        long n = lastSent - (ushort)(lastSequence - sequence);
        return n < 0 ? -1 : n;
    }
}
