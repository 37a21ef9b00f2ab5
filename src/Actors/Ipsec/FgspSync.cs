using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Ipsec;

/// <summary>
/// `set fgsp-sync {enable | disable}` of a dialup phase1 and the FGCP cluster a unit answers for, as pure rules
/// (README, "fgsp-sync and standalone units"). FortiOS syncs a phase1's IPsec SAs to the other FGSP members only when
/// fgsp-sync is enabled on it ("synchronized to all other FGSP peers that have FGSP synchronization for IPsec
/// enabled", the 7.4 guide); inside an FGCP cluster the SAs are FGCP's to sync whatever fgsp-sync says. Here a phase1
/// with fgsp-sync disabled neither sends its tunnels' records to another FGSP member nor accepts theirs.
/// </summary>
public static class FgspSync
{
    /// <summary>
    /// The FGCP cluster a unit's tunnels belong to: its `config system ha` group-id, or
    /// <see cref="TunnelOwnership.NoFgcpCluster"/> for a standalone unit (mode standalone, FortiOS's default), which is
    /// nobody's FGCP peer. Standalone units all carry group-id 0 by default: read as a cluster, every standalone FGSP
    /// member that is its own primary would take every other member's tunnels as its cluster's.
    /// </summary>
    public static int ClusterOf(HaConfig ha) => ha.Mode == HaMode.Standalone ? TunnelOwnership.NoFgcpCluster : ha.GroupId;

    /// <summary>
    /// How many Distributed Data keys one phase1's records are spread over (per <see cref="DataKey"/> and for the sealed
    /// records). Akka's Replicator merges an update into the whole value under its key and serializes that value to
    /// digest it for subscribers: with every tunnel under one key, each new tunnel cost work in proportion to the
    /// tunnels already held (perf of ike-vs-strongswan at 2,400 tunnels, 2026-12-07: 42 % of the responder's CPU in
    /// the Replicator's update). A key exists only once a record was written under it, so a lab with a few tunnels
    /// gossips a few keys.
    /// <para>
    /// 4,096 and not fewer because a key is also what Akka's full-state gossip carries whole: a gossip holds the values of
    /// up to `max-delta-elements` keys (hocon/cluster.conf) and must fit one 128,000-byte remote frame, or remoting drops
    /// it and the next round builds it again. At 100,000 tunnels a key holds ~24 entries, ~17 KB compressed (README
    /// "Distributed Data at scale", DistributedDataSizingSpec); with 256 keys it was ~270 KB, over the frame alone.
    /// </para>
    /// </summary>
    public const int DataShards = 4096;

    /// <summary>
    /// The shard of a tunnel record's key: FNV-1a over its characters, the same on every unit and every run (never
    /// <see cref="string.GetHashCode()"/>, which .NET seeds at random per process).
    /// </summary>
    public static int ShardOf(string recordKey)
    {
        var h = 2166136261u;
        foreach (var c in recordKey)
        {
            h = (h ^ (byte)c) * 16777619u;
            h = (h ^ (byte)(c >> 8)) * 16777619u;
        }
        return (int)(h % DataShards);
    }

    /// <summary>The Distributed Data key of one shard of a phase1's records: <c>{dataKey}/{shard}</c>, shard in three hex
    /// digits (two while there were 256 shards: a unit of that version reads none of these keys, nor they its own).</summary>
    public static string ShardKey(string dataKey, int shard) => $"{dataKey}/{shard:x3}";

    /// <summary>The key the sealed records of a phase1 replicate under (every FGSP member reads them; only the psksecret opens them).</summary>
    public static string SealedDataKey(string phase1) => "ipsec-sealed-" + phase1;

    /// <summary>
    /// The Distributed Data key a phase1's records replicate under. With fgsp-sync enabled every FGSP member's phase1
    /// of that name shares one key; disabled, the key is the FGCP cluster's own (its members share their config through
    /// FGCP, so they agree on it), or the unit's own for a standalone unit, so no other member ever reads it.
    /// </summary>
    public static string DataKey(string phase1, bool fgspSync, int fgcpCluster, string serial) =>
        fgspSync ? "ipsec-" + phase1
        : fgcpCluster == TunnelOwnership.NoFgcpCluster ? $"ipsec-{phase1}@unit-{serial}"
        : $"ipsec-{phase1}@fgcp-{fgcpCluster}";

    /// <summary>
    /// Whether the owner pushes a record straight to every other member (the fast path beside Distributed Data), and
    /// seals it for another FGCP cluster's units when FGSP encryption says so (<see cref="FgspSyncPolicy.SendForm"/>).
    /// </summary>
    public static bool Pushes(bool fgspSync) => fgspSync;

    /// <summary>
    /// Whether the owner pushes a record straight to one member. With fgsp-sync enabled, to every member. Disabled, only
    /// to the members of its own FGCP cluster (FGCP syncs its cluster's SAs whatever fgsp-sync says), known by the lab
    /// certificate they proved on the Akka link, never by anything they said: so the peer gets a record at once, not at
    /// gossip pace, and does not depend on Distributed Data alone, whose entry for a tunnel another lab unit can mask
    /// with a refused one of a higher clock (src/Actors/Ipsec/README.md, "Signed Distributed Data entries").
    /// </summary>
    public static bool PushesTo(bool fgspSync, bool targetInOwnFgcpCluster) => fgspSync || targetInOwnFgcpCluster;

    /// <summary>
    /// Why a phase1 refuses a record another unit synced to it, or null when it takes it: with fgsp-sync disabled only
    /// its own records and those of its own FGCP cluster are taken; another FGSP member's are dropped (and counted).
    /// </summary>
    public static string? Refuses(TunnelRecord incoming, bool fgspSync, int fgcpCluster, string serial)
    {
        if (fgspSync || incoming.OwnerSerial == serial) return null;
        if (fgcpCluster != TunnelOwnership.NoFgcpCluster && incoming.OwnerFgcpGroup == fgcpCluster) return null;
        return $"fgsp-sync is disabled on phase1 {incoming.Phase1}: {incoming.OwnerSerial} is another FGSP member, not this unit's FGCP cluster";
    }
}
