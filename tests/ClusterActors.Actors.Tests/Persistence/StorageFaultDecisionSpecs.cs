using System.Net.Sockets;
using ClusterActors.Actors.Persistence;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Xunit;

namespace ClusterActors.Actors.Tests.Persistence;

/// <summary>The pure decisions behind the storage-fault handling (README "Storage faults"), with synthetic inputs and no actor system.</summary>
public sealed class StorageFaultDecisionSpecs
{
    public static TheoryData<Exception, StorageFaultKind, bool> Faults => new()
    {
        { new SqliteException("SQLite Error 26: 'file is not a database'.", 26), StorageFaultKind.Corrupt, false },
        { new SqliteException("SQLite Error 11: 'database disk image is malformed'.", 11), StorageFaultKind.Corrupt, false },
        { new SqliteException("SQLite Error 5: 'database is locked'.", 5), StorageFaultKind.Locked, true },
        { new SqliteException("SQLite Error 13: 'database or disk is full'.", 13), StorageFaultKind.DiskFull, true },
        { new SqliteException("SQLite Error 14: 'unable to open database file'.", 14), StorageFaultKind.Refused, false },
        // the plugin wraps the provider's error: the innermost one decides
        { new InvalidOperationException("journal write failed", new SqliteException("full", 13)), StorageFaultKind.DiskFull, true },
        { new AggregateException(new SqliteException("locked", 5)), StorageFaultKind.Locked, true },
        { new NpgsqlException("Failed to connect to 127.0.0.1:1", new SocketException((int)SocketError.ConnectionRefused)), StorageFaultKind.Unreachable, true },
        { new NpgsqlException("Exception while reading from stream", new IOException("reset")), StorageFaultKind.Unreachable, true },
        { new PostgresException("the database system is starting up", "FATAL", "FATAL", "57P03"), StorageFaultKind.Unreachable, true },
        { new PostgresException("password authentication failed", "FATAL", "FATAL", "28P01"), StorageFaultKind.Refused, false },
        { new PostgresException("database \"x\" does not exist", "FATAL", "FATAL", "3D000"), StorageFaultKind.Refused, false },
        { new InvalidOperationException("something else"), StorageFaultKind.Unknown, false },
    };

    [Theory]
    [MemberData(nameof(Faults))]
    public void Each_provider_error_is_named_and_only_the_curable_ones_are_retried(Exception error, StorageFaultKind kind, bool retry)
    {
        var fault = StorageFault.Classify(error);
        Assert.Equal(kind, fault.Kind);
        Assert.Equal(retry, fault.Retry);
        Assert.DoesNotContain('\n', fault.Why);
    }

    [Fact]
    public void The_backoff_doubles_from_its_minimum_and_stays_at_its_maximum()
    {
        var b = new StorageBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
        Assert.Equal([1, 2, 4, 8, 10, 10], Enumerable.Range(0, 6).Select(n => b.Delay(n).TotalSeconds).ToArray());
        Assert.Equal(TimeSpan.FromSeconds(10), b.Delay(int.MaxValue));
    }

    [Fact]
    public void A_repeated_failure_is_logged_once_per_interval_with_the_count_held_back()
    {
        var clock = new FakeTimeProvider();
        var log = new RateLimitedLog(TimeSpan.FromSeconds(30), clock);
        var logged = new List<long>();
        // one failure every 100 ms for 95 s: what a storage outage produces without the limit
        for (var i = 0; i < 950; i++)
        {
            if (log.Allow(out var suppressed)) logged.Add(suppressed);
            clock.Advance(TimeSpan.FromMilliseconds(100));
        }
        Assert.Equal([0, 299, 299, 299], logged);

        log.Reset();
        Assert.True(log.Allow(out var afterReset));
        Assert.Equal(0, afterReset);
    }

    [Fact]
    public async Task The_start_waits_through_curable_faults_saying_each_attempt_and_gives_up_at_once_on_the_others()
    {
        var clock = new FakeTimeProvider();
        var attempts = 0;
        var said = new List<string>();
        var readiness = new DatabaseReadiness("SQLite database /data/clusteractors.db", _ =>
            ++attempts <= 3 ? throw new SqliteException("locked", 5) : Task.CompletedTask);
        var wait = readiness.WaitAsync(said.Add, clock);
        for (var i = 0; i < 20 && !wait.IsCompleted; i++)
        {
            await Task.Delay(10);
            clock.Advance(TimeSpan.FromSeconds(1));
        }
        await wait.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(4, attempts);
        Assert.Equal(4, said.Count); // three waits and the "answers again" line
        Assert.All(said.Take(3), l => Assert.Contains("Locked", l));
        Assert.Contains("next in 1 s", said[0]);
        Assert.Contains("next in 4 s", said[2]);

        var corrupt = new DatabaseReadiness("SQLite database /data/clusteractors.db", _ => throw new SqliteException("not a database", 26));
        var e = await Assert.ThrowsAsync<StorageUnusableException>(() => corrupt.WaitAsync(said.Add, clock));
        Assert.Contains("/data/clusteractors.db", e.Message);
        Assert.Equal(StorageFaultKind.Corrupt, e.Fault.Kind);
    }
}
