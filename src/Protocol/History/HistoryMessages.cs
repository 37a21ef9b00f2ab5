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

/// <summary>Fire-and-forget: record an HA history line. Journaled before any later <see cref="ReadHaHistory"/> is answered.</summary>
public sealed record RecordHaEvent(string Text);

public sealed record ReadHaHistory
{
    public static readonly ReadHaHistory Instance = new();
}

/// <summary>Reply to <see cref="ReadHaHistory"/>: oldest first, newest last.</summary>
public sealed record HaHistory(IReadOnlyList<HaHistoryEntry> Entries);

/// <summary>Journal a runtime config change; answered with <see cref="ConfigChangeAccepted"/> once it is durable.</summary>
public sealed record JournalConfigChange(string Source, string Script);

public sealed record ConfigChangeAccepted(long Sequence);

public sealed record ReadJournaledConfig
{
    public static readonly ReadJournaledConfig Instance = new();
}

/// <summary>Reply to <see cref="ReadJournaledConfig"/>: every change in the order it was accepted.</summary>
public sealed record JournaledConfig(IReadOnlyList<ConfigChangeJournaled> Changes);
