using Akka.Configuration;
using Akka.Serialization;
using ClusterActors.Actors.Persistence;
using ClusterActors.Protocol.History;
using ClusterActors.Actors.Serialization;
using ClusterActors.Protocol.Serialization;
using Xunit;
using Xunit.Abstractions;

namespace ClusterActors.Actors.Tests.Persistence;

/// <summary>
/// Journaled events and snapshots go through ProtocolSerializer (never JSON), round-trip byte for byte,
/// and corrupt payloads fail loudly with WireFormatException. Uses the real persistence configuration.
/// </summary>
public sealed class HistoryWireSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly string DataDir =
        Path.Combine(Path.GetTempPath(), "clusteractors-wire-" + Guid.NewGuid().ToString("N"));

    public HistoryWireSpecs(ITestOutputHelper output) : base(PersistenceHocon.Sqlite(DataDir), "wire-specs", output)
    {
    }

    private static readonly DateTimeOffset At = new(2026, 11, 27, 6, 5, 4, 321, TimeSpan.FromHours(2));

    public static TheoryData<string> Samples => new() { "entry", "recorded", "ha-snapshot", "change", "config-snapshot", "empty-snapshot" };

    private static object Sample(string name) => name switch
    {
        "entry" => new HaHistoryEntry(At, "FGT-A is selected as the primary"),
        "recorded" => new HaEventRecorded(new HaHistoryEntry(At.AddTicks(1), "heartbeat lost on port4 — ünïcødé")),
        "ha-snapshot" => new HaHistorySnapshot([new(At, "a"), new(At.ToUniversalTime(), ""), new(DateTimeOffset.MaxValue, "z")]),
        "change" => new ConfigChangeJournaled(42, At, "cli", "config system ha\n    set priority 200\nend"),
        "config-snapshot" => new JournaledConfigSnapshot([new(1, At, "cli", "a"), new(2, DateTimeOffset.MinValue, "sync", "b")]),
        "empty-snapshot" => new HaHistorySnapshot([]),
        _ => throw new ArgumentOutOfRangeException(nameof(name))
    };

    [Theory]
    [MemberData(nameof(Samples))]
    public void Akka_picks_the_protocol_serializer_and_it_round_trips_byte_exactly(string name)
    {
        var message = Sample(name);
        var serializer = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<ProtocolSerializer>(serializer);

        var manifest = Assert.IsAssignableFrom<SerializerWithStringManifest>(serializer).Manifest(message);
        var bytes = serializer.ToBinary(message);
        var back = Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);

        Assert.IsType(message.GetType(), back);
        Assert.Equal(bytes, serializer.ToBinary(back));
        Assert.Equal(Describe(message), Describe(back)); // values, including each timestamp's offset
    }

    [Fact]
    public void The_stored_layout_is_frozen()
    {
        // Journals outlive builds: this is what an HaHistoryEntry looks like on disk. Change it only with a new manifest.
        var bytes = WireCodecs.Encode(new HaHistoryEntry(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromMinutes(-90)), "hi"));
        var expectedTicks = BitConverter.GetBytes(new DateTime(2026, 1, 2, 3, 4, 5).Ticks);
        Assert.Equal([.. expectedTicks, 0xA6, 0xFF, 0xFF, 0xFF, 2, 0, 0, 0, (byte)'h', (byte)'i'], bytes);
        Assert.True(WireCodecs.TryGet(typeof(HaEventRecorded), out var codec));
        Assert.Equal("hahist.recorded", codec.Manifest);
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Every_truncation_of_a_payload_throws_WireFormatException(string name)
    {
        var message = Sample(name);
        var serializer = (SerializerWithStringManifest)Sys.Serialization.FindSerializerFor(message);
        var manifest = serializer.Manifest(message);
        var bytes = serializer.ToBinary(message);

        for (var length = 0; length < bytes.Length; length++)
        {
            var cut = bytes[..length];
            Assert.Throws<WireFormatException>(() => serializer.FromBinary(cut, manifest));
        }
        Assert.Throws<WireFormatException>(() => serializer.FromBinary([.. bytes, 0], manifest));
    }

    [Fact]
    public void Corrupt_payloads_and_unknown_manifests_throw_WireFormatException()
    {
        var serializer = (SerializerWithStringManifest)Sys.Serialization.FindSerializerFor(Sample("entry"));
        var good = serializer.ToBinary(Sample("entry"));

        var badOffset = (byte[])good.Clone();
        BitConverter.GetBytes(24 * 60).CopyTo(badOffset, 8); // offsets stop at ±14h
        Assert.Throws<WireFormatException>(() => serializer.FromBinary(badOffset, "hahist.entry"));

        var badTicks = (byte[])good.Clone();
        BitConverter.GetBytes(long.MaxValue).CopyTo(badTicks, 0);
        Assert.Throws<WireFormatException>(() => serializer.FromBinary(badTicks, "hahist.entry"));

        var hugeLength = (byte[])good.Clone();
        BitConverter.GetBytes(int.MaxValue).CopyTo(hugeLength, 12);
        Assert.Throws<WireFormatException>(() => serializer.FromBinary(hugeLength, "hahist.entry"));

        var change = new ConfigChangeJournaled(0, At, "cli", "x");
        Assert.Throws<WireFormatException>(() => serializer.FromBinary(WireCodecs.Encode(change), "cfgjrnl.change"));

        Assert.Throws<WireFormatException>(() => serializer.FromBinary(good, "hahist.no-such-thing"));
    }

    [Fact]
    public void Sqlite_config_points_the_sql_plugins_at_the_data_directory()
    {
        var config = Sys.Settings.Config;
        Assert.True(Directory.Exists(DataDir));
        var expected = $"Data Source={Path.GetFullPath(DataDir)}/{PersistenceHocon.SqliteFile}";
        Assert.Equal("akka.persistence.journal.sql", config.GetString("akka.persistence.journal.plugin"));
        Assert.Equal("akka.persistence.snapshot-store.sql", config.GetString("akka.persistence.snapshot-store.plugin"));
        foreach (var plugin in new[] { "akka.persistence.journal.sql", "akka.persistence.snapshot-store.sql" })
        {
            Assert.Equal(expected, config.GetString($"{plugin}.connection-string"));
            Assert.Equal("SQLite.MS", config.GetString($"{plugin}.provider-name"));
            Assert.True(config.GetBoolean($"{plugin}.auto-initialize"));
            Assert.Equal("default", config.GetString($"{plugin}.table-mapping"));
        }
        Assert.Equal(1, config.GetInt("akka.persistence.journal.sql.parallelism"));
        // The plugin defaults came from SqlPersistence.DefaultConfiguration.
        Assert.Equal("Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql", config.GetString("akka.persistence.journal.sql.class"));
    }

    [Fact]
    public void PostgreSql_config_uses_the_given_connection_string_and_schema()
    {
        var config = PersistenceHocon.PostgreSql("Host=db;Port=1;Username=u;Password=p;Database=d", "lab_schema");
        foreach (var plugin in new[] { "akka.persistence.journal.sql", "akka.persistence.snapshot-store.sql" })
        {
            Assert.Equal("Host=db;Port=1;Username=u;Password=p;Database=d", config.GetString($"{plugin}.connection-string"));
            Assert.Equal("PostgreSQL.15", config.GetString($"{plugin}.provider-name"));
            Assert.True(config.GetBoolean($"{plugin}.auto-initialize"));
            Assert.Equal("lab_schema", config.GetString($"{plugin}.default.schema-name"));
        }
        Assert.StartsWith("ClusterActors.Actors.Serialization.ProtocolSerializer,", config.GetString("akka.actor.serializers.clusteractors"));
    }

    [Fact]
    public void The_postgresql_document_sets_its_connection_string_on_every_plugin_path()
    {
        const string cs = "Host=127.0.0.1;Port=1;Username=u;Password=\"p\";Database=d";
        var config = PersistenceHocon.PostgreSql(cs, "spec_schema");
        foreach (var path in new[] { "akka.persistence.journal.sql", "akka.persistence.snapshot-store.sql", "akka.persistence.query.journal.sql" })
        {
            Assert.Equal(cs, config.GetString(path + ".connection-string"));
            Assert.Equal("PostgreSQL.15", config.GetString(path + ".provider-name"));
            Assert.Equal("spec_schema", config.GetString(path + ".default.schema-name"));
        }
        Assert.Equal("akka.persistence.journal.sql", config.GetString("akka.persistence.journal.plugin"));
        Assert.Equal("akka.persistence.snapshot-store.sql", config.GetString("akka.persistence.snapshot-store.plugin"));
    }

    [Theory]
    [InlineData("persistence-sqlite.conf")]
    [InlineData("persistence-postgresql.conf")]
    public void The_shipped_persistence_files_hold_no_substitution(string file)
    {
        // Akka.NET's HOCON drops or empties values built from substitutions across documents; the host sets them in code.
        Assert.DoesNotContain("${", PersistenceHocon.ReadEmbedded(file).Split('\n').Where(l => !l.TrimStart().StartsWith('#')).Aggregate("", string.Concat));
    }

    private static string Describe(object o) => o switch
    {
        HaHistoryEntry e => $"{e.At:O}|{e.At.Ticks}|{e.Text}",
        HaEventRecorded r => "rec:" + Describe(r.Entry),
        HaHistorySnapshot s => "ha:[" + string.Join(",", s.Entries.Select(Describe)) + "]",
        ConfigChangeJournaled c => $"{c.Sequence}|{c.At:O}|{c.Source}|{c.Script}",
        JournaledConfigSnapshot s => "cfg:[" + string.Join(",", s.Changes.Select(Describe)) + "]",
        _ => o.ToString() ?? ""
    };

    protected override void AfterAll()
    {
        base.AfterAll();
        try { Directory.Delete(DataDir, recursive: true); } catch (IOException) { }
    }
}
