using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ClusterActors.Actors.Persistence;

/// <summary>What went wrong with the unit's database, in the operator's terms.</summary>
public enum StorageFaultKind
{
    /// <summary>The SQLite file is not a database, or its pages are damaged: retrying cannot help.</summary>
    Corrupt,
    /// <summary>Another process holds the SQLite file's write lock: it may let go.</summary>
    Locked,
    /// <summary>No space left for the journal: the operator may free some.</summary>
    DiskFull,
    /// <summary>The PostgreSQL server does not answer (down, restarting, network): it may come back.</summary>
    Unreachable,
    /// <summary>The server answers but refuses us (password, database or schema missing, read-only file): a configuration error.</summary>
    Refused,
    /// <summary>Anything else: not retried, so an unknown failure is shown to the operator instead of looping.</summary>
    Unknown
}

/// <summary>A classified storage failure: whether waiting can cure it, and one line saying why.</summary>
public sealed record StorageFault(StorageFaultKind Kind, string Why)
{
    /// <summary>Faults that may go away by themselves (or by the operator's hand on another system): start-up waits for them.</summary>
    public bool Retry => Kind is StorageFaultKind.Locked or StorageFaultKind.DiskFull or StorageFaultKind.Unreachable;

    /// <summary>
    /// Pure: names the fault behind an exception from Microsoft.Data.Sqlite, Npgsql or the Akka.Persistence.Sql
    /// plugin (which wraps them), by the innermost provider error found.
    /// </summary>
    public static StorageFault Classify(Exception error)
    {
        for (var e = error; e is not null; e = e.InnerException ?? (e as AggregateException)?.InnerExceptions.FirstOrDefault())
        {
            switch (e)
            {
                case SqliteException s:
                    return s.SqliteErrorCode switch
                    {
                        11 or 26 => new StorageFault(StorageFaultKind.Corrupt, $"SQLite error {s.SqliteErrorCode}: {Short(s.Message)}"),
                        5 or 6 => new StorageFault(StorageFaultKind.Locked, "locked by another process"),
                        13 => new StorageFault(StorageFaultKind.DiskFull, "disk full"),
                        8 or 14 or 23 => new StorageFault(StorageFaultKind.Refused, $"SQLite error {s.SqliteErrorCode}: {Short(s.Message)}"),
                        _ => new StorageFault(StorageFaultKind.Unknown, $"SQLite error {s.SqliteErrorCode}: {Short(s.Message)}")
                    };
                case PostgresException p:
                    return p.SqlState switch
                    {
                        // cannot_connect_now (starting up / shutting down), admin_shutdown, crash_shutdown, too_many_connections
                        "57P03" or "57P01" or "57P02" or "53300" => new StorageFault(StorageFaultKind.Unreachable, $"{p.SqlState}: {Short(p.MessageText)}"),
                        "53100" => new StorageFault(StorageFaultKind.DiskFull, $"{p.SqlState}: {Short(p.MessageText)}"),
                        _ => new StorageFault(StorageFaultKind.Refused, $"{p.SqlState}: {Short(p.MessageText)}")
                    };
                case NpgsqlException n when n.InnerException is null or SocketException or IOException or TimeoutException:
                    return new StorageFault(StorageFaultKind.Unreachable, Short(n.InnerException?.Message ?? n.Message));
                case SocketException so:
                    return new StorageFault(StorageFaultKind.Unreachable, Short(so.Message));
                case TimeoutException t:
                    return new StorageFault(StorageFaultKind.Unreachable, Short(t.Message));
                case IOException io when (io.HResult & 0xFFFF) == 28: // ENOSPC
                    return new StorageFault(StorageFaultKind.DiskFull, "disk full");
            }
        }
        return new StorageFault(StorageFaultKind.Unknown, $"{error.GetType().Name}: {Short(error.Message)}");
    }

    private static string Short(string message)
    {
        var line = message.ReplaceLineEndings(" ").Trim();
        return line.Length <= 200 ? line : line[..200] + "…";
    }
}

/// <summary>
/// Pure: how long to wait before attempt <c>n + 1</c> after <c>n</c> failures: <see cref="Min"/> doubled each time up to
/// <see cref="Max"/>. Used by the start-up wait for the database and by the journals' supervisor.
/// </summary>
public sealed record StorageBackoff(TimeSpan Min, TimeSpan Max)
{
    public static readonly StorageBackoff Default = new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));

    public TimeSpan Delay(int failures)
    {
        if (failures <= 0) return Min;
        var ticks = Min.Ticks * Math.Pow(2, Math.Min(failures, 30));
        return ticks >= Max.Ticks ? Max : TimeSpan.FromTicks((long)ticks);
    }
}

/// <summary>
/// Pure, with injected time: lets a repeated failure be logged once, then at most once per <see cref="Interval"/>,
/// saying how many were held back meanwhile. What a storage outage would otherwise log once per attempt or per write.
/// </summary>
public sealed class RateLimitedLog(TimeSpan interval, TimeProvider clock)
{
    private DateTimeOffset? _last;
    private long _suppressed;

    public TimeSpan Interval { get; } = interval;

    /// <summary>True when this occurrence should be logged; <paramref name="suppressed"/> is how many were held back since the last one logged.</summary>
    public bool Allow(out long suppressed)
    {
        var now = clock.GetUtcNow();
        if (_last is { } last && now - last < Interval)
        {
            _suppressed++;
            suppressed = 0;
            return false;
        }
        _last = now;
        suppressed = _suppressed;
        _suppressed = 0;
        return true;
    }

    /// <summary>After a recovery the next failure is news again: log it at once.</summary>
    public void Reset()
    {
        _last = null;
        _suppressed = 0;
    }
}

/// <summary>The unit's journal cannot take or give this now (database down, disk full, restarting): refused, not lost silently.</summary>
public sealed class JournalUnavailableException(string message, Exception? cause = null) : Exception(message, cause);
