using System.Globalization;
using System.Text.RegularExpressions;
using ClusterActors.Node.LabHarness.Client;

namespace ClusterActors.Node.Drills;

/// <summary>
/// iputils `ping -D -O -i INTERVAL` output read line by line into the drills' terms: progress (sent, answered) while it
/// runs and an <see cref="EchoReport"/> at the end, with the longest gap computed as our own client's
/// (<see cref="EchoStatistics.Compute"/>) from ping's own clock: `-D` stamps each line with the time it was printed
/// (a reply: its arrival; `no answer yet for icmp_seq=N`, which `-O` prints when request N+1 is due: one interval after
/// N was sent), and a reply's send time is its arrival minus its `time=`. Thread-safe: one thread adds lines, others read.
/// </summary>
public sealed partial class PingLog(double intervalMs)
{
    private readonly object _gate = new();
    private readonly Dictionary<long, (double SentAt, double ArrivedAt)> _answered = new();
    private readonly Dictionary<long, double> _noAnswerAt = new();
    private long _duplicates;
    private long _highest = -1; // request number n = icmp_seq − 1, unwrapped
    private (long Transmitted, long Received)? _summary;

    public double IntervalMs { get; } = intervalMs;

    [GeneratedRegex(@"^\[(\d+\.\d+)\] \d+ bytes from [0-9.]+: icmp_seq=(\d+) ttl=\d+ time=([0-9.]+) ms( \(DUP!\))?")]
    private static partial Regex Reply();

    [GeneratedRegex(@"^\[(\d+\.\d+)\] no answer yet for icmp_seq=(\d+)")]
    private static partial Regex NoAnswer();

    [GeneratedRegex(@"^(\d+) packets transmitted, (\d+) received")]
    private static partial Regex Summary();

    /// <summary>One line of ping's output; lines it does not know (the header, errors) are ignored.</summary>
    public void Add(string line)
    {
        var c = CultureInfo.InvariantCulture;
        if (Reply().Match(line) is { Success: true } r)
        {
            var at = double.Parse(r.Groups[1].Value, c) * 1000;
            var rtt = double.Parse(r.Groups[3].Value, c);
            lock (_gate)
            {
                var n = Unwrap(int.Parse(r.Groups[2].Value, c));
                if (r.Groups[4].Success || _answered.ContainsKey(n)) _duplicates++;
                else _answered[n] = (at - rtt, at);
            }
        }
        else if (NoAnswer().Match(line) is { Success: true } m)
        {
            var at = double.Parse(m.Groups[1].Value, c) * 1000;
            lock (_gate) _noAnswerAt.TryAdd(Unwrap(int.Parse(m.Groups[2].Value, c)), at);
        }
        else if (Summary().Match(line) is { Success: true } s)
        {
            lock (_gate) _summary = (long.Parse(s.Groups[1].Value, c), long.Parse(s.Groups[2].Value, c));
        }
    }

    /// <summary>The request number of a 16-bit icmp_seq (ping counts from 1): the one nearest the highest seen so far.</summary>
    private long Unwrap(int seq)
    {
        var n = seq - 1L;
        if (_highest >= 0)
        {
            n += (_highest + 1) & ~0xFFFFL;
            if (n - _highest > 0x8000) n -= 0x10000;
            else if (_highest - n > 0x8000) n += 0x10000;
            if (n < 0) n += 0x10000;
        }
        if (n > _highest) _highest = n;
        return n;
    }

    /// <summary>So far: requests known to have been sent (the highest icmp_seq seen) and requests answered.</summary>
    public TrafficProgress Progress()
    {
        lock (_gate) return new TrafficProgress(_highest + 1, _answered.Count);
    }

    /// <summary>ping's own "N packets transmitted, M received" once it printed it (on SIGINT), else null.</summary>
    public (long Transmitted, long Received)? Totals
    {
        get { lock (_gate) return _summary; }
    }

    /// <summary>
    /// The run's report. Sent is ping's own count when it printed one; requests after the last answered one are
    /// dropped as still in flight when the stop came if there are at most <paramref name="inFlight"/>'s worth of them
    /// (ping stops at once on SIGINT, it has no grace period), and counted as lost otherwise. Returns how many were dropped.
    /// </summary>
    public (EchoReport Report, long InFlight) Report(TimeSpan inFlight)
    {
        lock (_gate)
        {
            var sent = Math.Max(_summary?.Transmitted ?? 0, _highest + 1);
            var lastAnswered = _answered.Count == 0 ? -1 : _answered.Keys.Max();
            var trailing = sent - 1 - lastAnswered;
            long dropped = 0;
            if (_answered.Count > 0 && trailing > 0 && trailing <= Math.Max(1, (long)Math.Ceiling(inFlight.TotalMilliseconds / IntervalMs)))
            {
                dropped = trailing;
                sent -= trailing;
            }
            if (sent <= 0) return (new EchoReport(0, 0, 0, _duplicates, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, null, null, null), dropped);

            // Send times: a reply's own; otherwise the `no answer yet` line's time less one interval; otherwise one
            // interval after the previous request (ping's schedule). Kept non-decreasing.
            var sentAt = new double[sent];
            var known = new double?[sent];
            for (long n = 0; n < sent; n++)
                known[n] = _answered.TryGetValue(n, out var a) ? a.SentAt : _noAnswerAt.TryGetValue(n, out var na) ? na - IntervalMs : null;
            var firstKnown = Array.FindIndex(known, k => k is not null);
            var origin = firstKnown < 0 ? 0 : known[firstKnown]!.Value - firstKnown * IntervalMs;
            var previous = double.NegativeInfinity;
            for (long n = 0; n < sent; n++)
            {
                var t = known[n] ?? (n == 0 ? origin : sentAt[n - 1] + IntervalMs);
                sentAt[n] = previous = Math.Max(previous, t);
            }
            var zero = sentAt[0];
            var sentSpans = sentAt.Select(t => TimeSpan.FromMilliseconds(t - zero)).ToList();
            var replies = new List<TimeSpan?>((int)sent);
            for (long n = 0; n < sent; n++)
                replies.Add(_answered.TryGetValue(n, out var a) ? TimeSpan.FromMilliseconds(a.ArrivedAt - zero) : null);
            return (EchoStatistics.Compute(sentSpans, replies, _duplicates), dropped);
        }
    }
}
