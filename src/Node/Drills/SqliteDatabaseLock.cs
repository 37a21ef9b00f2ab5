using Microsoft.Data.Sqlite;

namespace ClusterActors.Node.Drills;

/// <summary>
/// A unit's SQLite database held by another process: an open `BEGIN EXCLUSIVE` transaction on its file. In SQLite's
/// rollback-journal mode (the units' journals use it) that takes the EXCLUSIVE lock on the file at once, so every read
/// and every write of the unit waits on its busy timeout and then fails with SQLITE_BUSY: the database is unavailable to
/// the unit, as a stopped server is, while the unit runs on. Disposing rolls the (empty) transaction back and closes
/// the connection: the lock is gone and the unit's next try succeeds. The lock is the kernel's (POSIX record locks on
/// the file's inode), so it holds against a unit in a container too, reached through /proc/PID/root.
/// </summary>
public sealed class SqliteDatabaseLock : IDisposable
{
    private readonly SqliteConnection _connection;

    private SqliteDatabaseLock(SqliteConnection connection, string file)
    {
        _connection = connection;
        File = file;
    }

    public string File { get; }

    /// <summary>Takes the lock; waits up to <paramref name="wait"/> for the unit to finish a read or write in progress.</summary>
    public static SqliteDatabaseLock Take(string file, TimeSpan wait)
    {
        if (!System.IO.File.Exists(file)) throw new InvalidOperationException($"no SQLite database at {file}");
        // Mode=ReadWrite: never create a file; Pooling=False: the lock goes with this connection, not a pooled one.
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = file, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = (int)Math.Ceiling(wait.TotalSeconds),
        }.ToString());
        try
        {
            connection.Open();
            using var begin = connection.CreateCommand();
            // EXCLUSIVE, not IMMEDIATE: with IMMEDIATE (RESERVED) the unit could still read; a stopped database answers nothing.
            begin.CommandText = "BEGIN EXCLUSIVE";
            begin.ExecuteNonQuery();
            return new SqliteDatabaseLock(connection, file);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        try
        {
            using var rollback = _connection.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }
        catch (SqliteException) { /* closing the connection ends the transaction too */ }
        _connection.Dispose();
    }
}
