using System.Reflection;
using System.Text;
using Akka.Configuration;
using Akka.Persistence.Sql;

namespace ClusterActors.Actors.Persistence;

/// <summary>
/// Complete persistence configuration (journal + snapshot store on Akka.Persistence.Sql, plus the
/// serializer bindings of hocon/serialization.conf so events never reach the JSON serializer).
/// The .conf files are embedded in this assembly; a host may still layer its own --hocon files on top.
/// </summary>
public static class PersistenceHocon
{
    public const string SqliteFile = "clusteractors.db";

    /// <summary>SQLite at <c>{dataDir}/clusteractors.db</c>; creates <paramref name="dataDir"/> if needed.</summary>
    public static Config Sqlite(string dataDir)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDir);
        var full = Path.GetFullPath(dataDir);
        Directory.CreateDirectory(full);
        return Build("persistence-sqlite.conf", $"clusteractors.persistence.data-dir = {Quote(full)}");
    }

    /// <summary>PostgreSQL (provider PostgreSQL.15) with an Npgsql connection string; tables in <paramref name="schema"/>, which must exist.</summary>
    public static Config PostgreSql(string connectionString, string schema = "public")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentException.ThrowIfNullOrWhiteSpace(schema);
        return Build("persistence-postgresql.conf",
            $"clusteractors.persistence.connection-string = {Quote(connectionString)}\n" +
            $"clusteractors.persistence.schema-name = {Quote(schema)}");
    }

    /// <summary>The text of an embedded hocon/*.conf file.</summary>
    public static string ReadEmbedded(string fileName)
    {
        var name = $"ClusterActors.hocon.{fileName}";
        using var stream = typeof(PersistenceHocon).Assembly.GetManifestResourceStream(name)
                           ?? throw new FileNotFoundException($"embedded HOCON '{name}' is missing from {typeof(PersistenceHocon).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    // The overrides are appended to the same document (not layered with WithFallback) so that the
    // file's ${...} substitutions resolve to the host's values: later definitions win in HOCON.
    private static Config Build(string file, string overrides) =>
        ConfigurationFactory.ParseString(ReadEmbedded(file) + "\n" + overrides + "\n")
            .WithFallback(ConfigurationFactory.ParseString(ReadEmbedded("serialization.conf")))
            .WithFallback(SqlPersistence.DefaultConfiguration);

    private static string Quote(string s)
    {
        var b = new StringBuilder("\"");
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': b.Append("\\\""); break;
                case '\\': b.Append("\\\\"); break;
                case '\n': b.Append("\\n"); break;
                case '\r': b.Append("\\r"); break;
                case '\t': b.Append("\\t"); break;
                default: b.Append(c); break;
            }
        }
        return b.Append('"').ToString();
    }
}
