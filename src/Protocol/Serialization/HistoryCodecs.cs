using ClusterActors.Protocol.History;

namespace ClusterActors.Protocol.Serialization;

/// <summary>
/// Codecs for the HA history and the runtime-config journal. These bytes sit in SQLite/PostgreSQL for the
/// life of a lab, so the manifests and layouts below are frozen: add a new manifest rather than change one.
/// </summary>
internal static partial class WireCatalog
{
    internal const string HaHistoryEntryManifest = "hahist.entry";
    internal const string HaEventRecordedManifest = "hahist.recorded";
    internal const string HaHistorySnapshotManifest = "hahist.snap";
    internal const string ConfigChangeJournaledManifest = "cfgjrnl.change";
    internal const string JournaledConfigSnapshotManifest = "cfgjrnl.snap";

    static partial void RegisterHistory()
    {
        WireCodecs.Register<HaHistoryEntry>(HaHistoryEntryManifest, WriteEntry, ReadEntry);
        WireCodecs.Register<HaEventRecorded>(HaEventRecordedManifest,
            (w, e) => WriteEntry(w, e.Entry),
            r => new HaEventRecorded(ReadEntry(r)));
        WireCodecs.Register<HaHistorySnapshot>(HaHistorySnapshotManifest,
            (w, s) => w.List(s.Entries.ToList(), WriteEntry),
            r => new HaHistorySnapshot(r.List(ReadEntry)));
        WireCodecs.Register<ConfigChangeJournaled>(ConfigChangeJournaledManifest, WriteChange, ReadChange);
        WireCodecs.Register<JournaledConfigSnapshot>(JournaledConfigSnapshotManifest,
            (w, s) => w.List(s.Changes.ToList(), WriteChange),
            r => new JournaledConfigSnapshot(r.List(ReadChange)));
    }

    private static void WriteEntry(WireWriter w, HaHistoryEntry e)
    {
        WriteTime(w, e.At);
        w.Str(e.Text);
    }

    private static HaHistoryEntry ReadEntry(WireReader r) => new(ReadTime(r), r.Str());

    private static void WriteChange(WireWriter w, ConfigChangeJournaled c)
    {
        w.I64(c.Sequence);
        WriteTime(w, c.At);
        w.Str(c.Source);
        w.Str(c.Script);
    }

    private static ConfigChangeJournaled ReadChange(WireReader r)
    {
        var seq = r.I64();
        if (seq < 1) throw new WireFormatException($"corrupt config change sequence {seq}");
        return new ConfigChangeJournaled(seq, ReadTime(r), r.Str(), r.Str());
    }

    /// <summary>Clock ticks plus the offset in minutes, so the value (not only the instant) round-trips.</summary>
    private static void WriteTime(WireWriter w, DateTimeOffset t)
    {
        w.I64(t.Ticks);
        w.I32((int)t.Offset.TotalMinutes);
    }

    private static DateTimeOffset ReadTime(WireReader r)
    {
        var ticks = r.I64();
        var offsetMinutes = r.I32();
        try
        {
            return new DateTimeOffset(ticks, TimeSpan.FromMinutes(offsetMinutes));
        }
        catch (ArgumentException e)
        {
            throw new WireFormatException($"corrupt timestamp ({ticks} ticks, offset {offsetMinutes} min): {e.Message}");
        }
    }
}
