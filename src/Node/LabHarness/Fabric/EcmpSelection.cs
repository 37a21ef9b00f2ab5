using System.Net;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.LabHarness.Fabric;

/// <summary>
/// The DC router's ECMP next-hop choice, pure: a flow is (source IP, destination IP) only — layer 3 — and the next hop
/// is chosen by rendezvous (highest-random-weight) hashing over the live next hops.
/// <para>
/// Layer 3 on purpose (open question 8 of the reference): with NAT-T off a client's IKE is UDP/500 and its ESP is IP
/// protocol 50; a 5-tuple hash would put them in different flows and could land them on different FGSP peers, while the
/// scenario has one peer own both. An L3 hash keeps every packet of one client to lb1 on one peer.
/// </para>
/// <para>
/// Rendezvous rather than modulo or hash-threshold: every (flow, next hop) pair gets a weight, the flow goes to the live
/// next hop with the highest weight. Removing a next hop moves exactly its own flows (each to its runner-up), leaves
/// every other flow where it was, and restoring it moves exactly those flows back — the RFC 2992 property that matters
/// for per-tunnel failover, without a table to maintain. Weights depend on the next hop's address, not its position in
/// the route, so the order routes are configured in changes nothing. The hash is fixed (not the runtime's randomised
/// string/HashCode seed): the same flow picks the same peer in every run and every process.
/// </para>
/// </summary>
public static class EcmpSelection
{
    /// <summary>Most next hops one route can hold (the alive set is a 32-bit mask).</summary>
    public const int MaxNextHops = 32;

    /// <summary>
    /// The flow's hash: source and destination address only, perturbed by <paramref name="seed"/> (the ECMP hash seed
    /// routers let one set, so that two routers, or two labs, need not split flows the same way). Seed 0 is the plain hash.
    /// </summary>
    public static ulong FlowHash(uint source, uint destination, ulong seed = 0) => Mix((((ulong)source << 32) | destination) ^ Mix(seed));

    /// <summary>The rendezvous weight of one next hop for one flow.</summary>
    public static ulong Weight(ulong flowHash, uint nextHop) => Mix(flowHash ^ Mix(0x9E3779B97F4A7C15UL * (nextHop + 1UL)));

    /// <summary>
    /// Index into <paramref name="nextHops"/> of the chosen next hop, or -1 when no next hop is alive. Bit i of
    /// <paramref name="aliveMask"/> says whether <c>nextHops[i]</c> may be used. Equal weights (never seen in practice)
    /// go to the lower address.
    /// </summary>
    public static int Choose(uint source, uint destination, ReadOnlySpan<uint> nextHops, uint aliveMask, ulong seed = 0)
    {
        if (nextHops.Length > MaxNextHops)
            throw new ArgumentException($"At most {MaxNextHops} next hops per route.", nameof(nextHops));
        ulong flow = FlowHash(source, destination, seed);
        int best = -1;
        ulong bestWeight = 0;
        for (int i = 0; i < nextHops.Length; i++)
        {
            if ((aliveMask & (1u << i)) == 0)
                continue;
            ulong w = Weight(flow, nextHops[i]);
            if (best < 0 || w > bestWeight || (w == bestWeight && nextHops[i] < nextHops[best]))
            {
                best = i;
                bestWeight = w;
            }
        }
        return best;
    }

    /// <summary><see cref="Choose(uint, uint, ReadOnlySpan{uint}, uint)"/> with addresses, for tests and tools: the chosen next hop or null.</summary>
    public static IPAddress? Choose(IPAddress source, IPAddress destination, IReadOnlyList<IPAddress> aliveNextHops, ulong seed = 0)
    {
        var keys = aliveNextHops.Select(Ipv4Address.ToUInt32).ToArray();
        uint mask = keys.Length == MaxNextHops ? uint.MaxValue : (1u << keys.Length) - 1;
        int i = Choose(Ipv4Address.ToUInt32(source), Ipv4Address.ToUInt32(destination), keys, mask, seed);
        return i < 0 ? null : aliveNextHops[i];
    }

    /// <summary>SplitMix64's finaliser: a fixed, well-spread 64-bit mix.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
