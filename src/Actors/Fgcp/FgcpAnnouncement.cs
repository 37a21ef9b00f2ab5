using ClusterActors.Protocol.Fgcp;

namespace ClusterActors.Actors.Fgcp;

/// <summary>
/// When a primary that stays primary sends its gratuitous ARPs again (`set arps`, `set arps-interval`). A unit that
/// becomes primary always announces (its ports start answering); this covers the primary whose role did not change
/// while another unit may have announced the cluster's addresses: a member that joins already working (it worked
/// alone as primary: a healed heartbeat cut, a fixed group mismatch) or a peer that claims primary itself (two
/// primaries). The neighbours then hold that unit's MAC, and nothing else would move them back.
/// Not on a member lost, a monitored-interface or priority change, or a member joining from hello (a restarted unit
/// never answered). See README.md beside this file.
/// </summary>
public static class FgcpAnnouncement
{
    /// <param name="stateBefore">This unit's FGCP state before the negotiation.</param>
    /// <param name="roleBefore">This unit's role before the negotiation.</param>
    /// <param name="roleAfter">The role the negotiation gave it.</param>
    /// <param name="peer">
    /// The state and role in the last heartbeat of the peer whose arrival started the negotiation (a member joined, or
    /// two primaries), or null when something else did (member lost, interfaces, priority, hello-holddown).
    /// </param>
    public static bool ShouldReannounce(HaState stateBefore, HaRole roleBefore, HaRole roleAfter, (HaState State, HaRole Role)? peer) =>
        stateBefore == HaState.Work && roleBefore == HaRole.Primary && roleAfter == HaRole.Primary
        && peer is { State: HaState.Work };
}
