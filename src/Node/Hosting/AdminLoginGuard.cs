using System.Net;

namespace ClusterActors.Node.Hosting;

/// <summary>
/// FortiOS's administrator lockout as a pure rule: after `admin-lockout-threshold` failed logins in a row from one
/// source address, that address is refused for `admin-lockout-duration`, whatever the credentials (FortiOS locks the
/// address, not the account: the same user may log in from elsewhere). A success clears the address's count; a count
/// not added to for the lockout duration is forgotten. At most <see cref="Capacity"/> addresses are tracked (the oldest
/// entry is dropped), so a flood from many addresses cannot grow it without bound.
/// </summary>
public sealed class AdminLoginGuard(TimeProvider time, int capacity = 4096)
{
    private sealed record Entry(int Failures, DateTimeOffset LastFailure, DateTimeOffset? LockedUntil);

    private readonly Dictionary<IPAddress, Entry> _entries = new();
    private readonly object _gate = new();

    public int Capacity => capacity;
    public int Tracked { get { lock (_gate) return _entries.Count; } }

    /// <summary>True while <paramref name="source"/> is locked out; <paramref name="remaining"/> says for how long.</summary>
    public bool IsLockedOut(IPAddress source, out TimeSpan remaining)
    {
        lock (_gate)
        {
            remaining = TimeSpan.Zero;
            if (!_entries.TryGetValue(Key(source), out var e) || e.LockedUntil is not { } until) return false;
            var now = time.GetUtcNow();
            if (now >= until)
            {
                _entries.Remove(Key(source));
                return false;
            }
            remaining = until - now;
            return true;
        }
    }

    /// <summary>A failed login: the address's count in a row, and whether this failure locked it out.</summary>
    public (int Failures, bool LockedNow) Failed(IPAddress source, int threshold, TimeSpan duration)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            var key = Key(source);
            var failures = _entries.TryGetValue(key, out var e) && now - e.LastFailure < duration ? e.Failures + 1 : 1;
            var locked = failures >= threshold;
            if (!_entries.ContainsKey(key) && _entries.Count >= capacity)
                _entries.Remove(_entries.MinBy(kv => kv.Value.LastFailure).Key);
            // Locked: the count starts again once the lockout ends.
            _entries[key] = locked ? new Entry(0, now, now + duration) : new Entry(failures, now, null);
            return (failures, locked);
        }
    }

    public void Succeeded(IPAddress source)
    {
        lock (_gate) _entries.Remove(Key(source));
    }

    private static IPAddress Key(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
}
