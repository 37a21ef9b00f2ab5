using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Serialization;

namespace ClusterActors.Protocol.Fgcp;

/// <summary>
/// Why a heartbeat was dropped. Each cause has its own counter (printed by `diagnose sys ha status` as
/// <c>activity.hb_drop.&lt;name&gt;</c>, see <see cref="FgcpHeartbeatValidation.CounterName"/>): the datagram-level causes,
/// one per heartbeat field, and the three cluster mismatches (well-formed heartbeats from a unit of another cluster).
/// </summary>
public enum HeartbeatDropCause
{
    /// <summary>Does not start with the FGCP magic: not a heartbeat at all.</summary>
    NotFgcp,
    /// <summary>Larger than any heartbeat can be (<see cref="FgcpHeartbeatValidation.MaxDatagramBytes"/>).</summary>
    Oversize,
    /// <summary>Ends before the last field.</summary>
    Truncated,
    /// <summary>Every field read, but the bytes are not a heartbeat (a corrupt length or boolean, trailing bytes).</summary>
    Corrupt,
    BadSerial,
    BadHostname,
    BadGroupId,
    BadGroupName,
    BadPasswordProof,
    BadPriority,
    BadMonitorCount,
    BadUptime,
    BadState,
    BadRole,
    BadPrimarySerial,
    BadSequence,
    BadIncarnation,
    BadChecksum,
    GroupIdMismatch,
    GroupNameMismatch,
    PasswordMismatch,
    /// <summary>Starts with the FGCP magic but is not this envelope version.</summary>
    BadVersion,
    /// <summary>The list of peers the sender hears is too long or holds an invalid serial or incarnation.</summary>
    BadPeerList,
    /// <summary>`set authentication enable` here, and the heartbeat carries no HMAC.</summary>
    AuthMissing,
    /// <summary>The heartbeat's HMAC does not match: modified on the way, or keyed by another password or group.</summary>
    AuthFailed,
    /// <summary>`set encryption enable` here, and the heartbeat is in clear.</summary>
    NotEncrypted,
    /// <summary>The AES-GCM tag does not match: modified, or encrypted with another password or group.</summary>
    DecryptFailed,
    /// <summary>An authenticated heartbeat whose sequence is not above the highest heard from that incarnation: replayed or reordered.</summary>
    Replayed,
    /// <summary>An authenticated heartbeat of an incarnation older than the sender's newest one heard: a replay from before it restarted.</summary>
    StaleIncarnation,
    /// <summary>Heard on an interface that is not a `set hbdev` heartbeat interface.</summary>
    NotHbdev,
}

/// <summary>A dropped heartbeat: the cause (counted) and a description that never echoes a string from the wire.</summary>
public sealed record HeartbeatDrop(HeartbeatDropCause Cause, string Detail);

/// <summary>
/// Every heartbeat field checked as it arrives, before FGCP looks at it: a value FortiOS could not send (out of its
/// range) or a malformed one is a drop with a cause, never an exception and never text that reaches the HA history.
/// Ranges are FortiOS's where it has one (the `config system ha` schema, the serial number format); the others are
/// this project's choices, written down in src/Actors/Fgcp/README.md.
/// </summary>
public static class FgcpHeartbeatValidation
{
    /// <summary>The first bytes of every heartbeat datagram.</summary>
    public static ReadOnlySpan<byte> Magic => "FGCP"u8;

    /// <summary>The heartbeat layout written (envelope version 3): v2 and the EXE_FAIL_OVER flag.</summary>
    public const string Manifest = "fgcp.hb.v3";

    /// <summary>The previous layout (envelope version 2), still read: without the flag.</summary>
    public const string ManifestV2 = "fgcp.hb.v2";

    /// <summary>A real heartbeat is well under 1 KB (the longest field is the actor path); anything larger is not one.</summary>
    public const int MaxDatagramBytes = 2048;

    /// <summary>`set group-id` range (FortiOS 7.x: 0-1023).</summary>
    public const int MaxGroupId = 1023;

    /// <summary>`set group-name` is at most 32 characters.</summary>
    public const int MaxGroupNameLength = 32;

    /// <summary>`set hostname` is at most 35 characters.</summary>
    public const int MaxHostnameLength = 35;

    /// <summary>HMAC-SHA256 of the group identity.</summary>
    public const int PasswordProofBytes = 32;

    /// <summary>Project choice: no unit monitors more interfaces than this (FortiOS documents no limit).</summary>
    public const int MaxMonitorCount = 1024;

    /// <summary>Project choice: an HA uptime above ten years is not a unit's; it would also overflow the election's arithmetic.</summary>
    public static readonly TimeSpan MaxUptime = TimeSpan.FromDays(3650);

    /// <summary>Project choice: FGCP clusters have at most 4 members (FortiOS); a heartbeat lists at most this many peers it hears.</summary>
    public const int MaxHeardPeers = 16;

    /// <summary>The synced-configuration checksum: 32 lower-case hex digits (FgcpConfigSync).</summary>
    public const int ChecksumLength = 32;

    /// <summary>
    /// Reads one datagram that is neither authenticated nor encrypted (<see cref="FgcpHeartbeatEnvelope.Open"/> reads
    /// all): the heartbeat when every field is valid, else why it was dropped. Never throws.
    /// </summary>
    public static (FgcpHeartbeat? Heartbeat, HeartbeatDrop? Drop) Decode(ReadOnlySpan<byte> datagram)
    {
        var opened = FgcpHeartbeatEnvelope.Open(datagram, FgcpHeartbeatProtection.None);
        return (opened.Heartbeat, opened.Drop);
    }

    /// <summary>The heartbeat body (after the envelope): decoded and validated, or why not. Never throws.</summary>
    public static (FgcpHeartbeat? Heartbeat, HeartbeatDrop? Drop) DecodeBody(ReadOnlySpan<byte> body, int datagramLength, string manifest = Manifest)
    {
        FgcpHeartbeat hb;
        try
        {
            hb = (FgcpHeartbeat)WireCodecs.Decode(manifest, body);
        }
        catch (WireFormatException e)
        {
            var truncated = e.Message.StartsWith("truncated", StringComparison.Ordinal)
                            || e.Message.Contains(": truncated", StringComparison.Ordinal);
            return (null, new HeartbeatDrop(truncated ? HeartbeatDropCause.Truncated : HeartbeatDropCause.Corrupt,
                truncated ? $"truncated datagram of {datagramLength} bytes" : $"corrupt datagram of {datagramLength} bytes"));
        }
        var drop = Validate(hb);
        return drop is null ? (hb, null) : (null, drop);
    }

    /// <summary>The first invalid field of <paramref name="hb"/>, or null when FGCP may use it. Never throws.</summary>
    public static HeartbeatDrop? Validate(FgcpHeartbeat? hb)
    {
        static HeartbeatDrop Drop(HeartbeatDropCause cause, string detail) => new(cause, detail);
        if (hb is null) return Drop(HeartbeatDropCause.Corrupt, "no heartbeat");
        if (hb.Serial is null || !FortiConfig.IsValidSerial(hb.Serial))
            return Drop(HeartbeatDropCause.BadSerial, "serial is not a FortiGate serial number (16 upper-case letters and digits starting with FG)");
        if (!IsHostname(hb.Hostname))
            return Drop(HeartbeatDropCause.BadHostname, $"hostname is not a FortiOS hostname (letters, digits, '-', '_', '.', at most {MaxHostnameLength})");
        if (hb.GroupId is < 0 or > MaxGroupId)
            return Drop(HeartbeatDropCause.BadGroupId, $"group-id {hb.GroupId} is outside 0-{MaxGroupId}");
        if (hb.GroupName is null || hb.GroupName.Length > MaxGroupNameLength || !IsPrintableAscii(hb.GroupName, allowSpace: true))
            return Drop(HeartbeatDropCause.BadGroupName, $"group-name is not printable ASCII of at most {MaxGroupNameLength} characters");
        if (hb.PasswordProof is null || hb.PasswordProof.Length != PasswordProofBytes)
            return Drop(HeartbeatDropCause.BadPasswordProof, $"password proof of {hb.PasswordProof?.Length ?? 0} bytes, not {PasswordProofBytes}");
        if (hb.Priority is < 0 or > 255)
            return Drop(HeartbeatDropCause.BadPriority, $"priority {hb.Priority} is outside 0-255");
        if (hb.MonitorUp is < 0 or > MaxMonitorCount)
            return Drop(HeartbeatDropCause.BadMonitorCount, $"monitored interfaces up {hb.MonitorUp} is outside 0-{MaxMonitorCount}");
        if (hb.HaUptimeMs < 0 || hb.HaUptimeMs > (long)MaxUptime.TotalMilliseconds)
            return Drop(HeartbeatDropCause.BadUptime, $"HA uptime {hb.HaUptimeMs} ms is outside 0-{(long)MaxUptime.TotalMilliseconds} ms");
        if (!Enum.IsDefined(hb.State))
            return Drop(HeartbeatDropCause.BadState, $"state {(byte)hb.State} is neither hello nor work");
        if (!Enum.IsDefined(hb.Role))
            return Drop(HeartbeatDropCause.BadRole, $"role {(byte)hb.Role} is neither primary nor secondary");
        if (hb.PrimarySerial is not null && !FortiConfig.IsValidSerial(hb.PrimarySerial))
            return Drop(HeartbeatDropCause.BadPrimarySerial, "primary serial is not a FortiGate serial number");
        if (hb.Sequence <= 0)
            return Drop(HeartbeatDropCause.BadSequence, $"sequence {hb.Sequence} is not positive");
        if (hb.Incarnation <= 0)
            return Drop(HeartbeatDropCause.BadIncarnation, $"incarnation {hb.Incarnation} is not positive");
        if (hb.Hears is null || hb.Hears.Count > MaxHeardPeers
            || hb.Hears.Any(p => p is null || p.Serial is null || !FortiConfig.IsValidSerial(p.Serial) || p.Incarnation <= 0))
            return Drop(HeartbeatDropCause.BadPeerList, $"list of peers heard is not at most {MaxHeardPeers} FortiGate serials with positive incarnations");
        if (hb.SyncedConfigChecksum is null || hb.SyncedConfigChecksum.Length != ChecksumLength
            || !hb.SyncedConfigChecksum.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f'))
            return Drop(HeartbeatDropCause.BadChecksum, $"config checksum is not {ChecksumLength} lower-case hex digits");
        if (hb.ConfigChecksums is { } sums && !new[] { sums.Global, sums.Root, sums.All }.All(IsChecksum))
            return Drop(HeartbeatDropCause.BadChecksum, $"section checksums (global, root, all) are not {ChecksumLength} lower-case hex digits each");
        return null;
    }

    private static bool IsChecksum(string? s) =>
        s is not null && s.Length == ChecksumLength && s.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');

    /// <summary>The `set hostname` rule: letters, digits, '-', '_' and '.', at most 35 characters.</summary>
    public static bool IsHostname(string? s) =>
        s is not null && s.Length <= MaxHostnameLength && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static bool IsPrintableAscii(string s, bool allowSpace) => s.All(c => c is > ' ' and < '\x7f' || (allowSpace && c == ' '));

    /// <summary>FortiOS-style counter name of a cause, e.g. <c>bad_priority</c>, <c>password_mismatch</c>.</summary>
    public static string CounterName(HeartbeatDropCause cause) => cause switch
    {
        HeartbeatDropCause.NotFgcp => "not_fgcp",
        HeartbeatDropCause.Oversize => "oversize",
        HeartbeatDropCause.Truncated => "truncated",
        HeartbeatDropCause.Corrupt => "corrupt",
        HeartbeatDropCause.BadSerial => "bad_serial",
        HeartbeatDropCause.BadHostname => "bad_hostname",
        HeartbeatDropCause.BadGroupId => "bad_group_id",
        HeartbeatDropCause.BadGroupName => "bad_group_name",
        HeartbeatDropCause.BadPasswordProof => "bad_password_proof",
        HeartbeatDropCause.BadPriority => "bad_priority",
        HeartbeatDropCause.BadMonitorCount => "bad_monitor_count",
        HeartbeatDropCause.BadUptime => "bad_uptime",
        HeartbeatDropCause.BadState => "bad_state",
        HeartbeatDropCause.BadRole => "bad_role",
        HeartbeatDropCause.BadPrimarySerial => "bad_primary_serial",
        HeartbeatDropCause.BadSequence => "bad_sequence",
        HeartbeatDropCause.BadIncarnation => "bad_incarnation",
        HeartbeatDropCause.BadChecksum => "bad_checksum",
        HeartbeatDropCause.GroupIdMismatch => "group_id_mismatch",
        HeartbeatDropCause.GroupNameMismatch => "group_name_mismatch",
        HeartbeatDropCause.PasswordMismatch => "password_mismatch",
        HeartbeatDropCause.BadVersion => "bad_version",
        HeartbeatDropCause.BadPeerList => "bad_peer_list",
        HeartbeatDropCause.AuthMissing => "auth_missing",
        HeartbeatDropCause.AuthFailed => "auth_failed",
        HeartbeatDropCause.NotEncrypted => "not_encrypted",
        HeartbeatDropCause.DecryptFailed => "decrypt_failed",
        HeartbeatDropCause.Replayed => "replayed",
        HeartbeatDropCause.StaleIncarnation => "stale_incarnation",
        HeartbeatDropCause.NotHbdev => "not_hbdev",
        _ => "unknown",
    };
}
