using ClusterActors.Protocol.Config;

namespace ClusterActors.Actors.Fgcp;

/// <summary>The unit's configuration changed (file, CLI or FGCP sync); FGCP re-reads its settings from it.</summary>
public sealed record UnitConfigChanged(ConfigDocument Config, string? Script, bool SyncedPartChanged, string Source);

/// <summary>A link went down or came up: pulled cable, `set status down`, or a drill.</summary>
public sealed record SetLinkState(string Interface, bool Up);

public sealed record GetHaStatus
{
    public static readonly GetHaStatus Instance = new();
}

/// <summary>`diagnose sys ha reset-uptime`: the documented way to hand the primary role back with override disabled.</summary>
public sealed record ResetHaUptime
{
    public static readonly ResetHaUptime Instance = new();
}
