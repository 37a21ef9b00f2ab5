using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;

namespace ClusterActors.Actors.Fgcp;

/// <summary>One cluster member as this unit sees it, for the HA diagnostics.</summary>
public sealed record HaMember(
    string Serial,
    string Hostname,
    HaRole Role,
    int Priority,
    int SerialIndex,
    int OperatingIndex,
    int PreviousOperatingIndex,
    TimeSpan HaUptime,
    DateTimeOffset LastHeard,
    bool ConfigInSync,
    bool IsSelf);

/// <summary>A point-in-time view of one unit's FGCP state: what `diagnose sys ha status` and `get system ha status` print.</summary>
public sealed record HaStatusSnapshot(
    string Serial,
    string Hostname,
    HaConfig Ha,
    HaState State,
    HaRole Role,
    string PrimarySerial,
    IReadOnlyList<HaMember> Members,
    TimeSpan HaUptime,
    DateTimeOffset? StateChangedAt,
    string? LastElection,
    int HaIdChanges,
    IReadOnlyList<(string Interface, bool Up, HbdevCounters Counters)> Hbdevs)
{
    public HaMember? Primary => Members.FirstOrDefault(m => m.Serial == PrimarySerial);

    /// <summary>Heartbeats dropped since FGCP started, by cause (malformed fields and cluster mismatches); only causes seen.</summary>
    public IReadOnlyDictionary<HeartbeatDropCause, long> HeartbeatDrops { get; init; } = new Dictionary<HeartbeatDropCause, long>();

    /// <summary>`execute ha failover set 1` is in force on this unit (EXE_FAIL_OVER).</summary>
    public bool ExeFailOver { get; init; }

    /// <summary>`diagnose sys ha checksum` figures by serial: this unit's own, and each peer's from its last heartbeat (null: it sends none).</summary>
    public IReadOnlyDictionary<string, HaConfigChecksums?> Checksums { get; init; } = new Dictionary<string, HaConfigChecksums?>();

    /// <summary>How punctually this unit's heartbeat timer ran and how often it judged itself stalled (benchmarks: hb-soak).</summary>
    public HeartbeatTimerStats HeartbeatTimer { get; init; } = HeartbeatTimerStats.None;
}

/// <summary>
/// The heartbeat sender's punctuality since FGCP started: heartbeats sent, the latest one ran after the previous (gap −
/// hb-interval, the most late), and a count per lateness bucket (≤ 5, ≤ 10, ≤ 25, ≤ 50, ≤ 100, > 100 ms), cumulative so
/// that a reader can take differences over a period; <see cref="Stalls"/> as <see cref="FgcpPeerTable.Stalls"/>.
/// </summary>
public sealed record HeartbeatTimerStats(long Beats, TimeSpan MaxLate, IReadOnlyList<long> LateBuckets, long Stalls)
{
    /// <summary>Upper edges of the lateness buckets, in ms; the last bucket holds the rest. Declared before <see cref="None"/>,
    /// which static initialization reads it for.</summary>
    public static readonly IReadOnlyList<int> BucketEdgesMs = [5, 10, 25, 50, 100];

    public static readonly HeartbeatTimerStats None = new(0, TimeSpan.Zero, new long[BucketEdgesMs.Count + 1], 0);

    public static int Bucket(TimeSpan late)
    {
        for (var i = 0; i < BucketEdgesMs.Count; i++)
            if (late.TotalMilliseconds <= BucketEdgesMs[i]) return i;
        return BucketEdgesMs.Count;
    }
}
