using System.Globalization;
using System.Text;

namespace ClusterActors.Actors.DataPlane;

/// <summary>Why an impaired egress did not send a packet.</summary>
public enum ImpairmentDropCause
{
    /// <summary>netem's random loss (`loss N%`).</summary>
    Loss,

    /// <summary>The queue already held <see cref="ImpairmentSpec.Limit"/> packets (netem's `limit`, 1000 by default).</summary>
    Limit,

    /// <summary>Still queued when the impairment was replaced or cleared (`tc qdisc replace|del` purges the old qdisc).</summary>
    Flushed,
}

/// <summary>
/// The knobs of `impair UNIT PORT [delay 50ms] [jitter 10ms] [loss 5%] [duplicate 1%] [rate 10mbit]`: Linux netem's
/// (tc-netem(8)), on the egress of one port, as `tc qdisc replace dev PORT root netem …` sets them in the container
/// lab. <see cref="RateBitsPerSecond"/> 0 is no rate limit.
/// </summary>
public sealed record ImpairmentSpec(TimeSpan Delay, TimeSpan Jitter, double LossPercent, double DuplicatePercent, long RateBitsPerSecond)
{
    /// <summary>netem's default queue limit, in packets (tc-netem(8): `limit packets`, default 1000).</summary>
    public const int Limit = 1000;

    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(60);

    public static readonly ImpairmentSpec None = new(TimeSpan.Zero, TimeSpan.Zero, 0, 0, 0);

    public static ImpairmentSpec Loss(double percent) => None with { LossPercent = percent };

    /// <summary>The keywords, in the order netem and the script print them.</summary>
    public static readonly IReadOnlyList<string> Keywords = ["delay", "jitter", "loss", "duplicate", "rate"];

    /// <summary>
    /// Parses the knobs of an `impair` step (each keyword at most once, at least one). On an error,
    /// <paramref name="badWord"/> is the index of the offending word in <paramref name="words"/> (words.Count: missing at
    /// the end), with what was wrong and what was expected.
    /// </summary>
    public static bool TryParse(IReadOnlyList<string> words, out ImpairmentSpec spec, out int badWord, out string message, out string expected)
    {
        spec = None;
        (badWord, message, expected) = (0, "", "");
        var seen = new HashSet<string>();
        if (words.Count == 0)
            return Fail(0, "missing impairment", "delay TIME, jitter TIME, loss N%, duplicate N%, rate RATE or clear", out badWord, out message, out expected);
        for (var i = 0; i < words.Count; i += 2)
        {
            var key = words[i];
            if (!Keywords.Contains(key))
                return Fail(i, "unknown impairment", "delay, jitter, loss, duplicate or rate", out badWord, out message, out expected);
            if (!seen.Add(key))
                return Fail(i, $"'{key}' given twice", "each of delay, jitter, loss, duplicate, rate at most once", out badWord, out message, out expected);
            if (i + 1 >= words.Count)
                return Fail(i + 1, $"missing value after '{key}'", ExpectedFor(key), out badWord, out message, out expected);
            var value = words[i + 1];
            switch (key)
            {
                case "delay" or "jitter":
                    if (!TryParseTime(value, out var t) || t > MaxDelay)
                        return Fail(i + 1, $"bad {key}", ExpectedFor(key), out badWord, out message, out expected);
                    spec = key == "delay" ? spec with { Delay = t } : spec with { Jitter = t };
                    break;
                case "loss" or "duplicate":
                    if (!TryParsePercent(value, out var p))
                        return Fail(i + 1, $"bad {key}", ExpectedFor(key), out badWord, out message, out expected);
                    spec = key == "loss" ? spec with { LossPercent = p } : spec with { DuplicatePercent = p };
                    break;
                default:
                    if (!TryParseRate(value, out var r))
                        return Fail(i + 1, "bad rate", ExpectedFor(key), out badWord, out message, out expected);
                    spec = spec with { RateBitsPerSecond = r };
                    break;
            }
        }
        return true;
    }

    private static string ExpectedFor(string key) => key switch
    {
        "delay" or "jitter" => $"a time up to 60s: a number and us, ms or s (e.g. {(key == "delay" ? "50ms" : "10ms")})",
        "loss" or "duplicate" => $"a percentage 0-100 (e.g. {(key == "loss" ? "5%" : "1%")})",
        _ => "a rate above 0: a number and bit, kbit, mbit or gbit (e.g. 10mbit)",
    };

    private static bool Fail(int index, string why, string what, out int badWord, out string message, out string expected)
    {
        (badWord, message, expected) = (index, why, what);
        return false;
    }

    /// <summary>`50ms`, `1.5ms`, `200us`, `1s` (tc's time units; a bare number is refused: tc would read microseconds).</summary>
    public static bool TryParseTime(string text, out TimeSpan time)
    {
        time = default;
        var (number, unit) = Split(text);
        double scale = unit switch { "us" => 0.001, "ms" => 1, "s" => 1000, _ => double.NaN };
        if (double.IsNaN(scale) || !double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n)) return false;
        var ms = n * scale;
        if (ms > MaxDelay.TotalMilliseconds) return false;
        time = TimeSpan.FromTicks((long)Math.Round(ms * TimeSpan.TicksPerMillisecond));
        return true;
    }

    /// <summary>`5%`, `0.5%`, `100%`.</summary>
    public static bool TryParsePercent(string text, out double percent)
    {
        percent = 0;
        if (!text.EndsWith('%')) return false;
        return double.TryParse(text[..^1], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out percent) && percent is >= 0 and <= 100;
    }

    /// <summary>`10mbit`, `512kbit`, `1gbit`, `9600bit` (tc's bit units: k = 1000).</summary>
    public static bool TryParseRate(string text, out long bitsPerSecond)
    {
        bitsPerSecond = 0;
        var (number, unit) = Split(text);
        double scale = unit switch { "bit" => 1, "kbit" => 1e3, "mbit" => 1e6, "gbit" => 1e9, _ => double.NaN };
        if (double.IsNaN(scale) || !double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n)) return false;
        var bits = n * scale;
        if (bits < 1 || bits > 1e12) return false;
        bitsPerSecond = (long)Math.Round(bits);
        return true;
    }

    private static (string Number, string Unit) Split(string text)
    {
        var i = 0;
        while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.')) i++;
        return (text[..i], text[i..]);
    }

    public static string FormatTime(TimeSpan t)
    {
        var us = t.Ticks / 10;
        return us % 1000 == 0 ? $"{us / 1000}ms" : $"{us}us";
    }

    public static string FormatRate(long bits) =>
        bits % 1_000_000_000 == 0 ? $"{bits / 1_000_000_000}gbit"
        : bits % 1_000_000 == 0 ? $"{bits / 1_000_000}mbit"
        : bits % 1000 == 0 ? $"{bits / 1000}kbit"
        : $"{bits}bit";

    private static string Percent(double p) => p.ToString("0.###", CultureInfo.InvariantCulture) + "%";

    /// <summary>netem's own arguments: `delay 50ms 10ms loss 5% duplicate 1% rate 10mbit` (jitter is delay's second value).</summary>
    public string NetemArguments
    {
        get
        {
            var parts = new List<string>();
            if (Delay > TimeSpan.Zero || Jitter > TimeSpan.Zero)
            {
                parts.Add("delay " + FormatTime(Delay));
                if (Jitter > TimeSpan.Zero) parts.Add(FormatTime(Jitter));
            }
            if (LossPercent > 0) parts.Add("loss " + Percent(LossPercent));
            if (DuplicatePercent > 0) parts.Add("duplicate " + Percent(DuplicatePercent));
            if (RateBitsPerSecond > 0) parts.Add("rate " + FormatRate(RateBitsPerSecond));
            return string.Join(" ", parts);
        }
    }

    /// <summary>The container lab's command for this impairment on <paramref name="dev"/> (argv after `tc`).</summary>
    public IReadOnlyList<string> TcArguments(string dev) =>
        ["qdisc", "replace", "dev", dev, "root", "netem", .. NetemArguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)];

    /// <summary>`impair UNIT PORT clear` in the container lab: the root qdisc removed (back to the default).</summary>
    public static IReadOnlyList<string> TcClearArguments(string dev) => ["qdisc", "del", "dev", dev, "root"];

    /// <summary>The knobs in the script's own words (`delay 50ms jitter 10ms loss 5%`).</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        void Add(string k, string v) => sb.Append(sb.Length == 0 ? "" : " ").Append(k).Append(' ').Append(v);
        if (Delay > TimeSpan.Zero) Add("delay", FormatTime(Delay));
        if (Jitter > TimeSpan.Zero) Add("jitter", FormatTime(Jitter));
        if (LossPercent > 0) Add("loss", Percent(LossPercent));
        if (DuplicatePercent > 0) Add("duplicate", Percent(DuplicatePercent));
        if (RateBitsPerSecond > 0) Add("rate", FormatRate(RateBitsPerSecond));
        return sb.Length == 0 ? "none" : sb.ToString();
    }
}

/// <summary>What <see cref="NetemModel.Decide"/> says for one packet: dropped (and why), or sent at each of <see cref="At"/>
/// (two times: duplicated).</summary>
public sealed record ImpairmentVerdict(IReadOnlyList<DateTimeOffset> At, ImpairmentDropCause? Dropped)
{
    public bool IsDropped => Dropped is not null;
}

/// <summary>What an impaired egress did so far.</summary>
public sealed record ImpairmentCounters(ImpairmentSpec Spec, long Offered, long Lost, long OverLimit, long Flushed, long Duplicated)
{
    public long Dropped => Lost + OverLimit + Flushed;

    public override string ToString() =>
        $"netem {Spec.NetemArguments}: offered {Offered}, dropped loss {Lost}, limit {OverLimit}, flushed {Flushed}; duplicated {Duplicated}";
}

/// <summary>
/// The decision of netem's enqueue for one packet (Linux sch_netem.c, netem_enqueue), pure: randomness from a seeded
/// <see cref="Random"/> the caller gives, time from a <see cref="TimeProvider"/>. In netem's order: a duplicate is
/// decided first (count 2), then loss takes one away (a duplicated packet that is "lost" still leaves once, as in
/// netem); the copy goes through the rest on its own (its own loss draw, its own delay), as netem re-enqueues it at the
/// root qdisc. A packet is refused when <see cref="ImpairmentSpec.Limit"/> are already queued. Delay: `delay` plus a
/// uniform draw in [-jitter, +jitter) (netem's default distribution with no table), never below zero.
/// <para>Reordering: without a rate each packet's send time is its own (now + delay ± jitter), so jitter larger than the
/// gap between two packets reorders them, as netem does (tc-netem(8)); with a rate, netem computes the send time from
/// the last queued packet's (max(now + delay, last) + length × 8 / rate), so packets leave in order. Both kept.</para>
/// Not thread-safe: its owner (<see cref="ImpairedEgress{T}"/>) calls it under its lock.
/// </summary>
public sealed class NetemModel(ImpairmentSpec spec, Random random, TimeProvider time)
{
    private DateTimeOffset _lastSend = DateTimeOffset.MinValue;

    public ImpairmentSpec Spec { get; } = spec;
    public int Queued { get; private set; }
    public long Offered { get; private set; }
    public long Lost { get; private set; }
    public long OverLimit { get; private set; }
    public long Flushed { get; private set; }
    public long Duplicated { get; private set; }

    public ImpairmentCounters Counters => new(Spec, Offered, Lost, OverLimit, Flushed, Duplicated);

    /// <summary>One packet of <paramref name="length"/> bytes offered now: when it (and a duplicate) leave, or why not.
    /// Each time returned counts as queued until <see cref="Released"/>.</summary>
    public ImpairmentVerdict Decide(int length)
    {
        Offered++;
        var at = new List<DateTimeOffset>(2);
        ImpairmentDropCause? dropped = Enqueue(length, at, mayDuplicate: true);
        return new ImpairmentVerdict(at, at.Count == 0 ? dropped : null);
    }

    private ImpairmentDropCause? Enqueue(int length, List<DateTimeOffset> at, bool mayDuplicate)
    {
        var count = 1;
        if (mayDuplicate && Spec.DuplicatePercent > 0 && random.NextDouble() * 100 < Spec.DuplicatePercent) count++;
        if (Spec.LossPercent > 0 && random.NextDouble() * 100 < Spec.LossPercent) count--;
        if (count == 0)
        {
            Lost++;
            return ImpairmentDropCause.Loss;
        }
        ImpairmentDropCause? dropped = null;
        if (count > 1)
        {
            Duplicated++;
            dropped = Enqueue(length, at, mayDuplicate: false); // the copy first, as netem enqueues skb2 before the original
        }
        if (Queued >= ImpairmentSpec.Limit)
        {
            OverLimit++;
            return dropped ?? ImpairmentDropCause.Limit;
        }
        at.Add(SendTime(length));
        Queued++;
        return dropped;
    }

    private DateTimeOffset SendTime(int length)
    {
        var now = time.GetUtcNow();
        var delay = Spec.Delay;
        if (Spec.Jitter > TimeSpan.Zero)
            delay += TimeSpan.FromTicks((long)((random.NextDouble() * 2 - 1) * Spec.Jitter.Ticks));
        if (delay < TimeSpan.Zero) delay = TimeSpan.Zero;
        if (Spec.RateBitsPerSecond <= 0) return now + delay;
        var start = now + delay > _lastSend ? now + delay : _lastSend;
        var transmit = TimeSpan.FromTicks((long)Math.Ceiling(length * 8.0 * TimeSpan.TicksPerSecond / Spec.RateBitsPerSecond));
        _lastSend = start + transmit;
        return _lastSend;
    }

    /// <summary>A queued packet left (or was given up because its link went down).</summary>
    public void Released(int count = 1) => Queued = Math.Max(0, Queued - count);

    /// <summary>Queued packets purged (the impairment replaced or cleared).</summary>
    public void Flush(int count)
    {
        Flushed += count;
        Released(count);
    }

    /// <summary>
    /// A <see cref="Random"/> for one port of one lab, from the lab's (or drill's) seed: the same seed gives every port
    /// the same draws in every run and process (FNV-1a of the names, not the runtime's randomised string hash).
    /// </summary>
    public static Random RandomFor(long seed, string host, string iface)
    {
        ulong h = 14695981039346656037UL ^ (ulong)seed;
        foreach (var ch in host + "\0" + iface)
        {
            h ^= ch;
            h *= 1099511628211UL;
        }
        return new Random((int)(h ^ (h >> 32)) & int.MaxValue);
    }
}

/// <summary>
/// One impaired egress: <see cref="NetemModel"/>'s decisions carried out. A packet due now is released on the caller's
/// thread; later ones wait in a queue ordered by send time (netem's tfifo) and one timer of the
/// <see cref="TimeProvider"/> releases them when due, in send-time order, outside the lock, one releaser at a time (so
/// two timer callbacks cannot reorder a batch). Drops are counted by cause in the model (<see cref="Counters"/>).
/// </summary>
public sealed class ImpairedEgress<T> : IDisposable
{
    private readonly object _gate = new();
    private readonly NetemModel _model;
    private readonly TimeProvider _time;
    private readonly Action<T> _release;
    private readonly PriorityQueue<T, (DateTimeOffset At, long Seq)> _queue = new();
    private readonly ITimer _timer;
    private readonly Queue<T> _due = new();
    private long _seq;
    private bool _releasing, _disposed;
    private DateTimeOffset _armedFor = DateTimeOffset.MaxValue;

    public ImpairedEgress(ImpairmentSpec spec, Random random, TimeProvider time, Action<T> release)
    {
        _model = new NetemModel(spec, random, time);
        _time = time;
        _release = release;
        _timer = time.CreateTimer(_ => OnTimer(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public ImpairmentSpec Spec => _model.Spec;

    public ImpairmentCounters Counters
    {
        get { lock (_gate) return _model.Counters; }
    }

    /// <summary>Packets waiting for their send time.</summary>
    public int Queued
    {
        get { lock (_gate) return _queue.Count; }
    }

    /// <summary>Offers one packet; false when it was dropped (the cause is counted).</summary>
    public bool Send(T item, int length)
    {
        lock (_gate)
        {
            if (_disposed) return false;
            var verdict = _model.Decide(length);
            if (verdict.IsDropped) return false;
            var now = _time.GetUtcNow();
            foreach (var at in verdict.At)
            {
                if (at <= now && _queue.Count == 0) _due.Enqueue(item); // nothing ahead of it: leaves now
                else _queue.Enqueue(item, (at, _seq++));
            }
        }
        Drain();
        return true;
    }

    private void OnTimer()
    {
        // The timer has fired (possibly early, at the clock's resolution): whatever is not due yet is armed for again.
        lock (_gate) _armedFor = DateTimeOffset.MaxValue;
        Drain(onTimer: true);
    }

    /// <summary>Releases that threw on the timer's thread (a receiver's fault; on a sender's thread it surfaces there).</summary>
    public long ReleaseFaults => Interlocked.Read(ref _releaseFaults);

    private long _releaseFaults;

    private void Drain(bool onTimer = false)
    {
        while (true)
        {
            T item;
            lock (_gate)
            {
                if (_releasing) return; // the thread releasing now takes what became due too
                var now = _time.GetUtcNow();
                while (_queue.TryPeek(out var head, out var key) && key.At <= now)
                {
                    _queue.Dequeue();
                    _due.Enqueue(head);
                }
                if (!_due.TryDequeue(out item!))
                {
                    Arm(now);
                    return;
                }
                _model.Released();
                _releasing = true;
            }
            try
            {
                _release(item);
            }
            catch (Exception) when (onTimer)
            {
                // A timer thread has nobody to surface it to, and an exception there would end the process.
                Interlocked.Increment(ref _releaseFaults);
            }
            finally
            {
                lock (_gate) _releasing = false;
            }
        }
    }

    /// <summary>The timer set for the head of the queue (under the lock).</summary>
    private void Arm(DateTimeOffset now)
    {
        if (_disposed) return;
        if (!_queue.TryPeek(out _, out var key))
        {
            _armedFor = DateTimeOffset.MaxValue;
            return;
        }
        if (key.At == _armedFor) return;
        _armedFor = key.At;
        var due = key.At - now;
        _timer.Change(due < TimeSpan.Zero ? TimeSpan.Zero : due, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Stops the egress: what is still queued is purged and counted as flushed.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _model.Flush(_queue.Count + _due.Count);
            _queue.Clear();
            _due.Clear();
        }
        _timer.Dispose();
    }
}
