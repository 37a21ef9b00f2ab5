using ClusterActors.Node.Drills;
using Microsoft.Data.Sqlite;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>The chaos drill's "database stopped" on SQLite: while the lock is held another connection (the unit's) can
/// neither read nor write — it waits its busy timeout and fails with SQLITE_BUSY — and once released both work again.</summary>
public sealed class SqliteDatabaseLockSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-dblock-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, true);
    }

    private SqliteConnection Unit(string file)
    {
        var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Pooling = false, DefaultTimeout = 1 }.ToString());
        c.Open();
        return c;
    }

    private static int Exec(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteNonQuery();
    }

    [Fact]
    public void While_locked_the_units_reads_and_writes_fail_busy_and_after_the_release_they_work()
    {
        var file = Path.Combine(_dir, "clusteractors.db");
        using (var setup = Unit(file)) Exec(setup, "CREATE TABLE journal(x); INSERT INTO journal VALUES (1);");
        using var unit = Unit(file);

        var held = SqliteDatabaseLock.Take(file, TimeSpan.FromSeconds(2));
        var write = Assert.Throws<SqliteException>(() => Exec(unit, "INSERT INTO journal VALUES (2)"));
        Assert.Equal(5, write.SqliteErrorCode); // SQLITE_BUSY
        var read = Assert.Throws<SqliteException>(() => Exec(unit, "SELECT count(*) FROM journal"));
        Assert.Equal(5, read.SqliteErrorCode);

        held.Dispose();
        Assert.Equal(1, Exec(unit, "INSERT INTO journal VALUES (3)"));
    }

    [Fact]
    public void A_missing_file_is_refused_not_created()
    {
        var file = Path.Combine(_dir, "none.db");
        Assert.Throws<InvalidOperationException>(() => SqliteDatabaseLock.Take(file, TimeSpan.FromSeconds(1)));
        Assert.False(File.Exists(file));
    }
}
