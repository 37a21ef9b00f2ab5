using System.Text;
using System.Text.RegularExpressions;
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

    /// <summary>
    /// hocon/persistence-postgresql.conf as shipped: the connection string comes from CLUSTERACTORS_PG.
    /// Fails loudly when it is unset rather than starting with an empty connection string.
    /// </summary>
    public static Config PostgreSqlFromEnvironment()
    {
        var config = Parse(ReadEmbedded("persistence-postgresql.conf"));
        if (string.IsNullOrWhiteSpace(config.GetString("clusteractors.persistence.connection-string")))
            throw new InvalidOperationException("CLUSTERACTORS_PG is not set: PostgreSQL persistence needs its Npgsql connection string there");
        return config
            .WithFallback(ConfigurationFactory.ParseString(ReadEmbedded("serialization.conf")))
            .WithFallback(SqlPersistence.DefaultConfiguration);
    }

    /// <summary>Parses a HOCON file after expanding its <c>key = ${?VAR}</c> lines from the environment (see <see cref="Parse"/>).</summary>
    public static Config ParseFile(string path) => Parse(File.ReadAllText(path));

    /// <summary>
    /// Akka.NET's HOCON (1.5.73) does not read the environment: a top-level <c>${?VAR}</c>, set or not, silently
    /// drops that key and every definition after it in the document (the journal plugin setting vanishes and
    /// persistence falls back to the in-memory journal without a word). So lines of the form <c>key = ${?VAR}</c>
    /// are expanded here: replaced by the quoted value when VAR is set, dropped when it is not (the earlier value
    /// of key stays). Any other
    /// <c>${?...}</c> is rejected instead of truncating the configuration.
    /// </summary>
    public static Config Parse(string hocon)
    {
        var expanded = EnvLine.Replace(hocon, m =>
        {
            var value = Environment.GetEnvironmentVariable(m.Groups["var"].Value);
            return value is null ? "" : $"{m.Groups["key"].Value} = {Quote(value)}";
        });
        if (expanded.Split('\n').Any(line => line.Contains("${?", StringComparison.Ordinal) && !IsComment(line)))
            throw new FormatException("only whole-line `key = ${?VAR}` optional substitutions are supported in ClusterActors HOCON files");
        return ConfigurationFactory.ParseString(expanded);
    }

    private static bool IsComment(string line)
    {
        var t = line.TrimStart();
        return t.StartsWith('#') || t.StartsWith("//", StringComparison.Ordinal);
    }

    private static readonly Regex EnvLine = new(
        @"^(?<indent>[ \t]*)(?<key>[A-Za-z0-9_.""-]+)[ \t]*[=:][ \t]*\$\{\?(?<var>[A-Za-z_][A-Za-z0-9_]*)\}[ \t\r]*$",
        RegexOptions.Multiline | RegexOptions.CultureInvariant);

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
        Parse(ReadEmbedded(file) + "\n" + overrides + "\n")
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
