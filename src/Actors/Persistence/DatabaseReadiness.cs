using Microsoft.Data.Sqlite;
using Npgsql;

namespace ClusterActors.Actors.Persistence;

/// <summary>The unit's database cannot be used and waiting will not help; the message names the database and why.</summary>
public sealed class StorageUnusableException(string message, StorageFault fault, Exception? cause = null) : Exception(message, cause)
{
    public StorageFault Fault { get; } = fault;
}

/// <summary>
/// Checked before the unit's actor system starts, so that a unit never says "up" on a database it cannot read:
/// a fault that waiting may cure (SQLite locked, disk full, PostgreSQL unreachable) is retried with
/// <see cref="StorageBackoff"/>, one line per attempt (so at most one per <see cref="StorageBackoff.Max"/> once it
/// has backed off); any other fault (corrupt file, wrong password, missing database) ends the wait with
/// <see cref="StorageUnusableException"/> naming the database.
/// </summary>
public sealed class DatabaseReadiness(string name, Func<CancellationToken, Task> probe)
{
    /// <summary>How the database is named in messages: the SQLite file path, or PostgreSQL's host:port/database.</summary>
    public string Name { get; } = name;

    /// <summary>Reads the SQLite file as the journal will: opens it, checks its pages (quick_check) and takes the write lock for an instant.</summary>
    public static DatabaseReadiness Sqlite(string file) => new($"SQLite database {file}", async cancel =>
    {
        var cs = new SqliteConnectionStringBuilder { DataSource = file, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false, DefaultTimeout = 2 };
        await using var connection = new SqliteConnection(cs.ConnectionString);
        await connection.OpenAsync(cancel);
        await using (var check = connection.CreateCommand())
        {
            check.CommandText = "PRAGMA quick_check";
            var verdict = (await check.ExecuteScalarAsync(cancel))?.ToString();
            if (verdict != "ok")
                throw new SqliteException($"quick_check: {verdict}", 11);
        }
        await using var write = connection.CreateCommand();
        write.CommandText = "BEGIN IMMEDIATE; ROLLBACK;";
        await write.ExecuteNonQueryAsync(cancel);
    });

    /// <summary>Connects to PostgreSQL with the journal's connection string and checks that the schema exists.</summary>
    public static DatabaseReadiness PostgreSql(string connectionString, string schema = "public")
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        return new DatabaseReadiness($"PostgreSQL {b.Host}:{b.Port}/{b.Database}", async cancel =>
        {
            var probe = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, Timeout = 5 };
            await using var connection = new NpgsqlConnection(probe.ConnectionString);
            await connection.OpenAsync(cancel);
            await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_namespace WHERE nspname = @schema", connection);
            command.Parameters.AddWithValue("schema", schema);
            if (Convert.ToInt64(await command.ExecuteScalarAsync(cancel)) == 0)
                throw new PostgresException($"schema \"{schema}\" does not exist", "ERROR", "ERROR", "3F000");
        });
    }

    /// <summary>
    /// Returns once the database answers; says each retry through <paramref name="say"/>; throws
    /// <see cref="StorageUnusableException"/> on a fault waiting cannot cure.
    /// </summary>
    public async Task WaitAsync(Action<string> say, TimeProvider? clock = null, StorageBackoff? backoff = null, CancellationToken cancel = default)
    {
        clock ??= TimeProvider.System;
        backoff ??= StorageBackoff.Default;
        for (var failures = 0; ; failures++)
        {
            StorageFault fault;
            Exception error;
            try
            {
                await probe(cancel);
                if (failures > 0) say($"{Name} answers again after {failures} failed attempt(s); starting");
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancel.IsCancellationRequested)
            {
                error = e;
                fault = StorageFault.Classify(e);
            }
            if (!fault.Retry)
                throw new StorageUnusableException($"{Name} is unusable ({fault.Kind}: {fault.Why}); the unit was not started", fault, error);
            var delay = backoff.Delay(failures);
            say($"waiting for {Name} ({fault.Kind}: {fault.Why}); attempt {failures + 1} failed, next in {delay.TotalSeconds:0.#} s");
            await Task.Delay(delay, clock, cancel);
        }
    }
}
