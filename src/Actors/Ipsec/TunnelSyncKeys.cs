using Akka.DistributedData;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Ipsec;

/// <summary>
/// The Distributed Data keys one phase1's signed tunnel entries replicate under, of one payload kind (clear records
/// or sealed ones): <see cref="FgspSync.DataShards"/> shards of one base key, a record always under the shard of its
/// key (<see cref="FgspSync.ShardOf"/>). Knows its own keys by id, so a key another writer chose is never read as ours.
/// </summary>
public sealed class TunnelSyncKeys
{
    private readonly LWWDictionaryKey<string, SignedTunnelRecord>[] _keys;
    private readonly Dictionary<string, int> _shardById;

    public TunnelSyncKeys(string dataKey, string manifest)
    {
        DataKey = dataKey;
        Manifest = manifest;
        _keys = Enumerable.Range(0, FgspSync.DataShards)
            .Select(i => new LWWDictionaryKey<string, SignedTunnelRecord>(FgspSync.ShardKey(dataKey, i))).ToArray();
        _shardById = _keys.Select((k, i) => (k.Id, i)).ToDictionary(x => x.Id, x => x.i, StringComparer.Ordinal);
    }

    /// <summary>The base key (<see cref="FgspSync.DataKey"/> or <see cref="FgspSync.SealedDataKey"/>).</summary>
    public string DataKey { get; }

    /// <summary>The payload the entries under these keys carry (<see cref="SignedReplicas.ClearManifest"/> or sealed).</summary>
    public string Manifest { get; }

    public IReadOnlyList<LWWDictionaryKey<string, SignedTunnelRecord>> All => _keys;

    /// <summary>The key the record of <paramref name="recordKey"/> is written under.</summary>
    public LWWDictionaryKey<string, SignedTunnelRecord> For(string recordKey) => _keys[FgspSync.ShardOf(recordKey)];

    /// <summary>Whether <paramref name="key"/> is one of these keys (by id and type), and which shard.</summary>
    public bool Holds(IKey key, out int shard, out LWWDictionaryKey<string, SignedTunnelRecord> typed)
    {
        shard = -1;
        typed = null!;
        return key is LWWDictionaryKey<string, SignedTunnelRecord> && HoldsId(key.Id, out shard, out typed);
    }

    /// <summary>Whether <paramref name="id"/> is the id of one of these keys, and which shard.</summary>
    public bool HoldsId(string id, out int shard, out LWWDictionaryKey<string, SignedTunnelRecord> typed)
    {
        typed = null!;
        if (!_shardById.TryGetValue(id, out shard)) return false;
        typed = _keys[shard];
        return true;
    }
}
