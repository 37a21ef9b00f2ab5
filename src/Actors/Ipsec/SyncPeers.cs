using Akka.Actor;
using Akka.Cluster;

namespace ClusterActors.Actors.Ipsec;

/// <summary>
/// The units a phase1 pushes its SA sync to, as a pure rule: one entry per Akka member *incarnation*
/// (<see cref="UniqueAddress"/>), not per address. A unit killed and started again comes back on the same address with a
/// new uid while its old incarnation is still a member (Down, not yet removed): keyed by address, the owner saw "already
/// known" and pushed nothing to the new incarnation, and the old one's removal then dropped the address altogether, so
/// the restarted unit got its SAs only from Distributed Data gossip ~10 s later (chaos runs 13, 20, 21, 39, 71, 85).
/// </summary>
public sealed class SyncPeers
{
    private readonly HashSet<UniqueAddress> _members = new();

    /// <summary>A member is up (or weakly up): true when this incarnation is new, i.e. every owned tunnel must be pushed to it.</summary>
    public bool Arrived(UniqueAddress member) => _members.Add(member);

    /// <summary>That incarnation left the cluster; a newer one on the same address stays.</summary>
    public void Removed(UniqueAddress member) => _members.Remove(member);

    public bool Knows(UniqueAddress member) => _members.Contains(member);

    /// <summary>Where a push goes: each address once, however many of its incarnations are still members.</summary>
    public IReadOnlyList<Address> Targets => _members.Select(m => m.Address).Distinct().ToList();
}
