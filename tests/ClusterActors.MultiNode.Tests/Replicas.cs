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
    public static readonly LWWDictionaryKey<string, SignedTunnelRecord> ClearKey = new("ipsec-vpn1");
    public static readonly LWWDictionaryKey<string, SignedTunnelRecord> SealedKey = new("ipsec-sealed-vpn1");

    public static async Task<IReadOnlyDictionary<string, SignedTunnelRecord>> Entries(UnitHost host, LWWDictionaryKey<string, SignedTunnelRecord> key)
    {
        var response = await DistributedData.Get(host.System).Replicator.Ask(Dsl.Get(key, ReadLocal.Instance), TimeSpan.FromSeconds(5));
        return response is GetSuccess success ? success.Get(key).Entries : new Dictionary<string, SignedTunnelRecord>();
    }

    public static async Task<IReadOnlyCollection<TunnelRecord>> Clear(UnitHost host) =>
        (await Entries(host, ClearKey)).Values.Select(e => (TunnelRecord)WireCodecs.Decode(e.PayloadManifest, e.Payload)).ToList();

    public static async Task<IReadOnlyCollection<SealedTunnelRecord>> Sealed(UnitHost host) =>
        (await Entries(host, SealedKey)).Values.Select(e => (SealedTunnelRecord)WireCodecs.Decode(e.PayloadManifest, e.Payload)).ToList();

    /// <summary>The one tunnel record in the unit's clear replica.</summary>
    public static TunnelRecord Single(UnitHost host) => Clear(host).GetAwaiter().GetResult().Single();
}
