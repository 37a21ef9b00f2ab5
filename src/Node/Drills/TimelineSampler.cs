using System.Diagnostics;

namespace ClusterActors.Node.Drills;

/// <summary>One sample: each running unit's cumulative tunnel packets and PC1's answered requests in the current run.</summary>
public sealed record TimelineSample(double AtMs, IReadOnlyDictionary<string, long> TunnelIn, long Answered);

/// <summary>
/// Samples every unit's ForwardingStatus.TunnelIn (and PC1's answered count) every <see cref="Interval"/> from the
/// moment the tunnel is up until the drill ends, on its own task.
/// </summary>
public sealed class TimelineSampler(IDrillLab lab, Stopwatch clock)
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    private readonly List<TimelineSample> _samples = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public void Start() => _loop = Task.Run(Loop);

    private async Task Loop()
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            try
            {
                var at = clock.Elapsed.TotalMilliseconds;
                var forwarded = await lab.TunnelForwarded();
                var answered = lab.TrafficProgress().Answered;
                lock (_samples) _samples.Add(new TimelineSample(at, forwarded, answered));
            }
            catch (Exception) when (!_stop.IsCancellationRequested)
            {
                // A sample lost to a unit being killed mid-ask: the next one covers the interval.
            }
        } while (await Tick(timer));
    }

    private async Task<bool> Tick(PeriodicTimer timer)
    {
        try
        {
            return await timer.WaitForNextTickAsync(_stop.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async Task<Timeline> StopAsync(IReadOnlyList<string> units)
    {
        await _stop.CancelAsync();
        if (_loop is not null) await _loop;
        List<TimelineSample> samples;
        lock (_samples) samples = _samples.ToList();
        return Build(samples, units, Interval.TotalMilliseconds);
    }

    /// <summary>
    /// Packets per interval from cumulative samples. A counter that went down (the unit restarted, or a new echo run
    /// began) counts from zero; a unit missing from a sample (down, or silent) forwarded nothing in that interval.
    /// The first sample is against zero packets: the tunnel has just come up.
    /// </summary>
    public static Timeline Build(IReadOnlyList<TimelineSample> samples, IReadOnlyList<string> units, double intervalMs)
    {
        var forwarded = units.ToDictionary(u => u, _ => new List<long>(samples.Count));
        var answered = new List<long>(samples.Count);
        var at = new List<double>(samples.Count);
        TimelineSample? previous = null;
        foreach (var s in samples)
        {
            at.Add(Math.Round(s.AtMs, 1));
            foreach (var unit in units)
            {
                long? now = s.TunnelIn.TryGetValue(unit, out var n) ? n : null;
                long? before = previous is not null && previous.TunnelIn.TryGetValue(unit, out var b) ? b : null;
                forwarded[unit].Add(Delta(now, before));
            }
            answered.Add(Delta(s.Answered, previous?.Answered));
            previous = s;
        }
        return new Timeline(intervalMs, units, at, forwarded.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<long>)kv.Value), answered);
    }

    private static long Delta(long? now, long? before) => now switch
    {
        null => 0,
        { } n when before is { } b && n >= b => n - b,
        { } n when before is null => 0, // first sight of a counter: the unit was down or silent until now, or the tunnel just came up
        { } n => n,
    };
}
