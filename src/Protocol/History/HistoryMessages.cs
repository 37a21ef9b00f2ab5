using ClusterActors.Protocol.Serialization;

namespace ClusterActors.Protocol.History;

// ---- Journaled (go through ProtocolSerializer; their manifests live in HistoryCodecs.cs and must never change) ----

/// <summary>One line of `diagnose sys ha history read`: when it happened and what FGCP said.</summary>
public sealed record HaHistoryEntry(DateTimeOffset At, string Text) : IWireMessage;

/// <summary>Event: an HA history line was recorded for this unit.</summary>
public sealed record HaEventRecorded(HaHistoryEntry Entry) : IWireMessage;

/// <summary>Snapshot: the retained history window (at most 512 lines, oldest first).</summary>
public sealed record HaHistorySnapshot(IReadOnlyList<HaHistoryEntry> Entries) : IWireMessage;

/// <summary>Event: a runtime configuration change (CLI script) accepted by this unit, replayed on top of its config file at start.</summary>
public sealed record ConfigChangeJournaled(long Sequence, DateTimeOffset At, string Source, string Script) : IWireMessage;

/// <summary>Snapshot: every journaled change so far, in order.</summary>
public sealed record JournaledConfigSnapshot(IReadOnlyList<ConfigChangeJournaled> Changes) : IWireMessage;

// ---- Local commands and replies (never leave the process, never journaled) ----

/// <summary>
/// Fire-and-forget: record an HA history line. Journaled before any later <see cref="ReadHaHistory"/> is answered.
/// The text is escaped here (<see cref="HaHistoryText.Escape"/>), so whoever records a line, nothing it carries can
/// start another line of `diagnose sys ha history read`.
/// </summary>
public sealed record RecordHaEvent
{
    public RecordHaEvent(string text) => Text = HaHistoryText.Escape(text);

    private RecordHaEvent(HaHistoryEntry entry)
    {
        Text = entry.Text;
        At = entry.At;
    }

    public string Text { get; }

    /// <summary>
    /// When it happened, if already known: a line kept while the journal was down is written with the time it was
    /// recorded, not the time the database came back. Null: the journal stamps it as it writes it.
    /// </summary>
    public DateTimeOffset? At { get; init; }

    /// <summary>A line the journal could not write, to be written again as it was (its text is already escaped).</summary>
    public static RecordHaEvent Unwritten(HaHistoryEntry entry) => new(entry);
}

/// <summary>What an HA history line may hold: one line of printable text of bounded length.</summary>
public static class HaHistoryText
{
    /// <summary>Longer lines are cut (with "..."): the longest FortiOS line, an election, is under 150 characters.</summary>
    public const int MaxLength = 400;

    /// <summary>
    /// One printable line: a backslash becomes <c>\\</c>, and every control or separator character (C0, DEL, C1,
    /// U+2028/U+2029, bidirectional overrides) becomes <c>\xNN</c> or <c>\uNNNN</c>, so a newline or carriage return
    /// in a value from the wire cannot forge a line. Cut to <see cref="MaxLength"/>.
    /// </summary>
    public static string Escape(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        var sb = new System.Text.StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (sb.Length >= MaxLength) return sb.Append("...").ToString();
            if (c == '\\') sb.Append(@"\\");
            else if (c < ' ' || c is >= '\x7f' and <= '\x9f') sb.Append($"\\x{(int)c:x2}");
            else if (IsLineOrDirectionControl(c)) sb.Append($"\\u{(int)c:x4}");
            else sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>Line and paragraph separators, and the bidirectional overrides that can make a line read as another.</summary>
    private static bool IsLineOrDirectionControl(char c) =>
        c is '\u2028' or '\u2029' || c is >= '\u202a' and <= '\u202e' || c is >= '\u2066' and <= '\u2069';
}

/// <summary>
/// A request to a unit's journal that is answered once: if it cannot be, the caller is refused
/// (a journal that stops with it unanswered must not leave its caller waiting for a timeout).
/// </summary>
public interface IJournalRequest;

public sealed record ReadHaHistory : IJournalRequest
{
    public static readonly ReadHaHistory Instance = new();
}

/// <summary>Reply to <see cref="ReadHaHistory"/>: oldest first, newest last.</summary>
public sealed record HaHistory(IReadOnlyList<HaHistoryEntry> Entries);

/// <summary>Journal a runtime config change; answered with <see cref="ConfigChangeAccepted"/> once it is durable.</summary>
public sealed record JournalConfigChange(string Source, string Script) : IJournalRequest;

public sealed record ConfigChangeAccepted(long Sequence);

public sealed record ReadJournaledConfig : IJournalRequest
{
    public static readonly ReadJournaledConfig Instance = new();
}

/// <summary>Reply to <see cref="ReadJournaledConfig"/>: every change in the order it was accepted.</summary>
public sealed record JournaledConfig(IReadOnlyList<ConfigChangeJournaled> Changes);
