using ClusterActors.Actors.Persistence;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace ClusterActors.Actors.Tests.Persistence;

/// <summary>The survival specs on the default store: a SQLite file in a fresh data directory per test.</summary>
public sealed class SqlitePersistenceSpecs : PersistenceSurvivalSpecs
{
    private readonly string _dataDir;

    public SqlitePersistenceSpecs(ITestOutputHelper output) : this(NewDataDir(), output)
    {
    }

    private SqlitePersistenceSpecs(string dataDir, ITestOutputHelper output) : base(PersistenceHocon.Sqlite(dataDir), output)
    {
        _dataDir = dataDir;
    }

    // Nested one level below a directory that does not exist yet: PersistenceHocon must create it.
    private static string NewDataDir() =>
        Path.Combine(Path.GetTempPath(), "clusteractors-persist-" + Guid.NewGuid().ToString("N"), "data");

    protected override long CountRows(string table, string persistenceId)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(_dataDir, PersistenceHocon.SqliteFile)}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM \"{table}\" WHERE persistence_id = $pid";
        command.Parameters.AddWithValue("$pid", persistenceId);
        return (long)command.ExecuteScalar()!;
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Path.GetDirectoryName(_dataDir)!, recursive: true);
        }
        catch (IOException)
        {
            // a straggling handle; the temp dir is harmless
        }
    }
}
