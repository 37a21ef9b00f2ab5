namespace ClusterActors.Actors.Unit;

/// <summary>
/// Whether a refusal is worth a log line: the first one per key (a sender), then at most one per
/// <see cref="Interval"/>, saying how many were not logged in between. Refusals are still counted by their callers;
/// this keeps a flood of them from flooding the log. Keys are bounded: past <see cref="MaxKeys"/> the oldest go.
/// </summary>
public sealed class PerSenderLog(TimeSpan interval, TimeProvider time)
{
    public const int MaxKeys = 1024;
    public TimeSpan Interval { get; } = interval;
    private readonly Dictionary<string, (long LoggedAt, long Suppressed)> _keys = new();
    private readonly Queue<string> _order = new();
    private readonly Lock _lock = new();

    public bool ShouldLog(string key, out long suppressed)
    {
        lock (_lock)
        {
            var now = time.GetTimestamp();
            if (_keys.TryGetValue(key, out var k))
            {
                if (time.GetElapsedTime(k.LoggedAt, now) < Interval)
                {
                    _keys[key] = (k.LoggedAt, k.Suppressed + 1);
                    suppressed = 0;
                    return false;
                }
                suppressed = k.Suppressed;
                _keys[key] = (now, 0);
                return true;
            }
            while (_keys.Count >= MaxKeys && _order.TryDequeue(out var oldest)) _keys.Remove(oldest);
            _keys[key] = (now, 0);
            _order.Enqueue(key);
            suppressed = 0;
            return true;
        }
    }
}
