using Akka.Configuration;
using ClusterActors.Actors.Persistence;
using Npgsql;
using Xunit;
using Xunit.Abstractions;

namespace ClusterActors.Actors.Tests.Persistence;

/// <summary>
/// One fresh schema per test run on the PostgreSQL named by CLUSTERACTORS_PG (default: what .ci/postgres-start prints).
/// A missing server is a failure with instructions, never a skip.
/// </summary>
public sealed class PostgreSqlFixture : IDisposable
{
    public const string DefaultConnectionString = "Host=127.0.0.1;Port=55432;Username=postgres;Password=postgres;Database=clusteractors";

    private readonly Exception? _unavailable;

    public PostgreSqlFixture()
    {
        var fromEnv = Environment.GetEnvironmentVariable("CLUSTERACTORS_PG");
        ConnectionString = string.IsNullOrWhiteSpace(fromEnv) ? DefaultConnectionString : fromEnv;
        Schema = $"ca_test_{DateTime.UtcNow:yyyyMMddHHmmss}_{Guid.NewGuid():N}"[..40];
        try
        {
            Execute($"CREATE SCHEMA \"{Schema}\"");
        }
        catch (Exception e)
        {
            _unavailable = e;
        }
    }

    public string ConnectionString { get; }
    public string Schema { get; }

    public Config Config => _unavailable is null
        ? PersistenceHocon.PostgreSql(ConnectionString, Schema)
        : throw new InvalidOperationException(
            $"PostgreSQL is required for these specs but is not usable at '{Redacted}' ({_unavailable.GetType().Name}: {_unavailable.Message}). " +
            "Start it with `.ci/postgres-start` (as root) and export CLUSTERACTORS_PG=\"$(.ci/postgres-start)\".", _unavailable);

    private string Redacted => new NpgsqlConnectionStringBuilder(ConnectionString) { Password = "***" }.ConnectionString;

    public long Scalar(string sql, string persistenceId)
    {
        using var connection = Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("pid", persistenceId);
        return Convert.ToInt64(command.ExecuteScalar());
    }

    private void Execute(string sql)
    {
        using var connection = Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }

    private NpgsqlConnection Open()
    {
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString) { Timeout = 5 };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        connection.Open();
        return connection;
    }

    public void Dispose()
    {
        if (_unavailable is not null) return;
        NpgsqlConnection.ClearAllPools();
        try
        {
            Execute($"DROP SCHEMA IF EXISTS \"{Schema}\" CASCADE");
        }
        catch (NpgsqlException)
        {
            // server went away mid-run; the schema name is unique, a leftover harms no later run
        }
    }
}

public sealed class PostgreSqlPersistenceSpecs(PostgreSqlFixture db, ITestOutputHelper output)
    : PersistenceSurvivalSpecs(db.Config, output), IClassFixture<PostgreSqlFixture>
{
    protected override long CountRows(string table, string persistenceId) =>
        db.Scalar($"SELECT COUNT(*) FROM \"{db.Schema}\".\"{table}\" WHERE persistence_id = @pid", persistenceId);
}
