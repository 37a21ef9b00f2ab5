using ClusterActors.Protocol.Serialization;

namespace ClusterActors.Protocol.Fgcp;

/// <summary>FortiOS prints these words in `diagnose sys ha status`.</summary>
public enum HaRole : byte { Primary = 0, Secondary = 1 }

/// <summary>
/// FGCP's own states: a unit spends hello-holddown in Hello looking for peers before it will work alone,
/// then Work. FortiOS prints the vcluster state as "work"/"hello".
/// </summary>
public enum HaState : byte { Hello = 0, Work = 1 }

/// <summary>A peer the sender of a heartbeat hears, as it last heard it: its serial and its incarnation (boot nonce).</summary>
public sealed record HeardPeer(string Serial, long Incarnation);

/// <summary>
/// One FGCP heartbeat, sent every hb-interval on each hbdev. It carries what the peer needs to run the same
/// election (priority, override, monitored interfaces, HA uptime), what identifies the cluster (group id and name
/// in clear, the password only as an HMAC so a mismatch is detectable without revealing it), a sequence number and
/// the sender's incarnation (so an authenticated heartbeat cannot be replayed) and the peers the sender hears with
/// their incarnations (<see cref="Hears"/>: a peer joins only once it echoes the receiver's current incarnation, which
/// no heartbeat captured before the receiver started can). It names no address: config sync finds the peer in
/// Akka cluster membership (src/Actors/Fgcp/README.md, "Heartbeat security").
/// </summary>
public sealed record FgcpHeartbeat(
    string Serial,
    string Hostname,
    int GroupId,
    string GroupName,
    byte[] PasswordProof,
    int Priority,
    bool Override,
    long HaUptimeMs,
    int MonitorUp,
    HaState State,
    HaRole Role,
    string? PrimarySerial,
    long Sequence,
    long Incarnation,
    IReadOnlyList<HeardPeer> Hears,
    string SyncedConfigChecksum) : IWireMessage
{
    /// <summary>
    /// FortiOS's EXE_FAIL_OVER flag: <c>execute ha failover set 1</c> is in force on the sender, so every member ranks it
    /// below the members without it (src/Actors/Fgcp/README.md, "Forced failover"). Carried from layout v3 on; a v2
    /// heartbeat (an older unit) reads as not set.
    /// </summary>
    public bool ExeFailOver { get; init; }

    /// <summary>
    /// The sender's <c>diagnose sys ha checksum</c> figures (global, root, all) of the configuration it holds, so any member
    /// prints the whole cluster's (<c>checksum cluster</c>). From layout v3 on; null from a v2 sender.
    /// </summary>
    public HaConfigChecksums? ConfigChecksums { get; init; }
}

/// <summary>The primary's synced configuration, sent to a secondary whose checksum differs (FGCP config sync).</summary>
public sealed record FgcpConfigSynced(string FromSerial, string Checksum, string SyncedConfig) : IWireMessage;

/// <summary>A change typed on a secondary to a synced part: it is forwarded so the primary applies and syncs it, nothing is lost.</summary>
public sealed record FgcpConfigChangeForwarded(string FromSerial, string Script) : IWireMessage;

/// <summary>Answered by every unit so a starting unit can find the Akka cluster, or found it when nobody has.</summary>
public sealed record ClusterBootstrapProbe(string FromAddress) : IWireMessage;

/// <summary>
/// The answer: <paramref name="IsMember"/>, and (a member's) own unique address (address#uid) and the live members it
/// sees, so that a unit that is itself a member can tell two clusters apart (src/Node/Hosting/README.md, "Safety net").
/// </summary>
public sealed record ClusterBootstrapStatus(string Address, bool IsMember, string UniqueAddress = "", IReadOnlyList<string>? Members = null) : IWireMessage
{
    public IReadOnlyList<string> LiveMembers => Members ?? [];
}

/// <summary>
/// <c>diagnose sys ha checksum</c>'s figures of one unit: global part, the root VDOM, all; 32 lower-case hex digits each
/// (16 bytes). Carried in heartbeats (layout v3) so each member can print the cluster's (<c>checksum cluster</c>).
/// </summary>
public sealed record HaConfigChecksums(string Global, string Root, string All);
