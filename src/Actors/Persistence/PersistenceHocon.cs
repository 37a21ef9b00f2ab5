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
    public static Config Sqlite(string dataDir) => ConfigurationFactory.ParseString(SqliteText(dataDir));

    /// <summary>PostgreSQL (provider PostgreSQL.15) with an Npgsql connection string; tables in <paramref name="schema"/>, which must exist.</summary>
    public static Config PostgreSql(string connectionString, string schema = "public") =>
        ConfigurationFactory.ParseString(PostgreSqlText(connectionString, schema));

    /// <summary>The SQLite persistence configuration as one HOCON document (see <see cref="Document"/>).</summary>
    public static string SqliteText(string dataDir)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDir);
        var full = Path.GetFullPath(dataDir);
        Directory.CreateDirectory(full);
        return Document("persistence-sqlite.conf", $"Data Source={Path.Combine(full, SqliteFile)}");
    }

    public static string PostgreSqlText(string connectionString, string schema = "public")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentException.ThrowIfNullOrWhiteSpace(schema);
        return Document("persistence-postgresql.conf", connectionString,
            $"akka.persistence.journal.sql.default.schema-name = {Quote(schema)}\n" +
            $"akka.persistence.snapshot-store.sql.default.schema-name = {Quote(schema)}\n" +
            $"akka.persistence.query.journal.sql.default.schema-name = {Quote(schema)}\n");
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

    /// <summary>
    /// Everything persistence needs as ONE HOCON document, lowest precedence first: the Akka.Persistence.Sql
    /// defaults, our serializer bindings, our plugin file, then the connection string (later definitions win).
    /// Hosts append their own HOCON text after it and parse once. Two Akka HOCON defects make this the safe shape:
    /// a string concatenated with a substitution ("Data Source="${…}) comes out empty, and chaining configs
    /// with WithFallback above the plugin defaults makes the merge recurse until the stack overflows as soon as an
    /// actor with a stash starts.
    /// </summary>
    public static string Document(string file, string connectionString, string extra = "")
    {
        var cs = Quote(connectionString);
        return string.Join("\n",
            SqlPluginDefault("Akka.Persistence.Sql.snapshot.conf"),
            SqlPluginDefault("Akka.Persistence.Sql.persistence.conf"),
            ReadEmbedded("serialization.conf"),
            ReadEmbedded(file),
            $"akka.persistence.journal.sql.connection-string = {cs}",
            $"akka.persistence.snapshot-store.sql.connection-string = {cs}",
            $"akka.persistence.query.journal.sql.connection-string = {cs}",
            extra,
            "");
    }

    /// <summary>The text behind <c>SqlPersistence.DefaultConfiguration</c>, read from the plugin's own resources.</summary>
    private static string SqlPluginDefault(string name)
    {
        var asm = typeof(SqlPersistence).Assembly;
        using var stream = asm.GetManifestResourceStream(name) ?? throw new FileNotFoundException($"{name} is missing from {asm.GetName().Name}");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

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
