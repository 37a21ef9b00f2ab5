using Akka.Cluster;

namespace ClusterActors.Node.Hosting;

/// <summary>One member as this unit's Akka cluster state shows it: its unique address (address + incarnation), status,
/// and whether any member observes it as unreachable.</summary>
public sealed record MemberView(string Node, MemberStatus Status, bool Unreachable);

/// <summary>
/// Which unreachable members this unit downs, as a pure rule with injected time (the shape of Akka's SBR
/// DowningStrategy). A member that is merely unreachable is NEVER downed for that alone: an Akka-only partition heals
/// by reachability (unreachable → reachable) and Distributed Data gossip resumes, with no restart anywhere
/// (src/Node/Hosting/README.md).
///
/// Downing is needed only where an unreachable member blocks Akka's convergence while a membership change waits on it:
/// a restarted unit's old incarnation (Akka marks it Down when the new incarnation tries to join) is removed only on
/// convergence, and until then the new incarnation cannot join at all; a leaving member cannot exit. So when such a
/// change waits (some member Down but not yet removed, or Leaving/Exiting) and a member other than this unit has been
/// unreachable for <see cref="After"/>, it is downed. A unit never downs itself, so a surviving FortiGate keeps
/// running whatever happened to the others.
/// </summary>
public sealed class UnreachableDowning(TimeSpan after, TimeProvider time)
{
    private readonly Dictionary<string, DateTimeOffset> _unreachableSince = new();

    public TimeSpan After { get; } = after;

    /// <summary>Members this unit should down now. <paramref name="self"/> is never among them.</summary>
    public IReadOnlyList<string> Decide(string self, IReadOnlyCollection<MemberView> members)
    {
        var now = time.GetUtcNow();
        foreach (var gone in _unreachableSince.Keys.Where(k => !members.Any(m => m.Node == k && m.Unreachable)).ToList())
            _unreachableSince.Remove(gone);
        foreach (var m in members.Where(m => m.Unreachable && m.Node != self))
            _unreachableSince.TryAdd(m.Node, now);

        var changeWaits = members.Any(m => m.Status is MemberStatus.Down or MemberStatus.Leaving or MemberStatus.Exiting);
        if (!changeWaits) return [];
        return members
            .Where(m => m.Unreachable && m.Node != self && m.Status is not (MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Removed))
            .Where(m => now - _unreachableSince[m.Node] >= After)
            .Select(m => m.Node)
            .ToList();
    }
}
