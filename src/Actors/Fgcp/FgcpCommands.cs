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

/// <summary>`execute ha failover set 1` (<paramref name="Set"/> true) / `execute ha failover unset 1`; answered with <see cref="ExeFailOverStatus"/>.</summary>
public sealed record SetExeFailOver(bool Set);

/// <summary>`execute ha failover status`; answered with <see cref="ExeFailOverStatus"/>.</summary>
public sealed record GetExeFailOver
{
    public static readonly GetExeFailOver Instance = new();
}

/// <summary>Whether the EXE_FAIL_OVER flag is set on this unit.</summary>
public sealed record ExeFailOverStatus(bool Set);
