using Akka.Actor;
using Akka.DistributedData;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Fgsp;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Serialization;

namespace ClusterActors.MultiNode.Tests;

/// <summary>
/// What a unit's Distributed Data replica holds for the phase1 vpn1: signed entries (<see cref="SignedTunnelRecord"/>,
/// src/Actors/Ipsec/README.md "Signed Distributed Data entries"), read here with their payloads decoded, whoever signed them.
/// </summary>
internal static class Replicas
{
    /// <summary>The base keys of vpn1's clear and sealed entries; each is spread over <see cref="FgspSync.DataShards"/> keys.</summary>
    public const string ClearDataKey = "ipsec-vpn1";
    public static readonly string SealedDataKey = FgspSync.SealedDataKey("vpn1");

    /// <summary>The Distributed Data key a record of <paramref name="recordKey"/> is written under (its shard of <paramref name="dataKey"/>).</summary>
    public static LWWDictionaryKey<string, SignedTunnelRecord> KeyOf(string dataKey, string recordKey) =>
        new(FgspSync.ShardKey(dataKey, FgspSync.ShardOf(recordKey)));

    /// <summary>Every entry under every shard of <paramref name="dataKey"/> the unit's replica holds.</summary>
    public static async Task<IReadOnlyDictionary<string, SignedTunnelRecord>> Entries(UnitHost host, string dataKey)
    {
        var replicator = DistributedData.Get(host.System).Replicator;
        var ids = (GetKeysIdsResult)await replicator.Ask(Dsl.GetKeyIds, TimeSpan.FromSeconds(5));
        var all = new Dictionary<string, SignedTunnelRecord>();
        foreach (var id in ids.Keys.Where(k => k.StartsWith(dataKey + "/", StringComparison.Ordinal)))
        {
            var key = new LWWDictionaryKey<string, SignedTunnelRecord>(id);
            var response = await replicator.Ask(Dsl.Get(key, ReadLocal.Instance), TimeSpan.FromSeconds(5));
            if (response is GetSuccess success)
                foreach (var (k, v) in success.Get(key).Entries) all[k] = v;
        }
        return all;
    }

    public static async Task<IReadOnlyCollection<TunnelRecord>> Clear(UnitHost host) =>
        (await Entries(host, ClearDataKey)).Values.Select(e => (TunnelRecord)WireCodecs.Decode(e.PayloadManifest, e.Payload)).ToList();

    public static async Task<IReadOnlyCollection<SealedTunnelRecord>> Sealed(UnitHost host) =>
        (await Entries(host, SealedDataKey)).Values.Select(e => (SealedTunnelRecord)WireCodecs.Decode(e.PayloadManifest, e.Payload)).ToList();

    /// <summary>
    /// The one tunnel record in the unit's clear replica, once it holds one: an owner pushes a record before it hands it
    /// to its replicator, so another unit may list the tunnel a moment before the owner's replica holds it (CI trial 22:
    /// read at once after DC2_VM2 listed the tunnel, DC2_VM1's replica was still empty on a loaded machine).
    /// </summary>
    public static TunnelRecord Single(UnitHost host)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            var records = Clear(host).GetAwaiter().GetResult();
            if (records.Count > 0 || DateTime.UtcNow > until) return records.Single();
            Thread.Sleep(50);
        }
    }
}
