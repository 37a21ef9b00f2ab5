using ClusterActors.Protocol.Fgcp;

namespace ClusterActors.Actors.Fgcp;

/// <summary>What a negotiation means for the gratuitous ARPs of a primary that stays primary (<see cref="FgcpAnnouncement"/>).</summary>
public enum FgcpReannounceDecision
{
    /// <summary>No gratuitous ARPs again.</summary>
    No,
    /// <summary>At once: the peer that started the negotiation worked but did not claim primary, so it no longer answers.</summary>
    Now,
    /// <summary>
    /// Once the peer that started the negotiation, which claims primary itself, is heard as secondary (or is lost): while
    /// it still answers it still forwards what reached it, and the neighbours must not move to this unit before it stopped.
    /// </summary>
    WhenPeerStepsDown,
}

/// <summary>
/// When a primary that stays primary sends its gratuitous ARPs again (`set arps`, `set arps-interval`). A unit that
/// becomes primary always announces (its ports start answering); this covers the primary whose role did not change
/// while another unit may have announced the cluster's addresses: a member that joins already working (it worked
/// alone as primary: a healed heartbeat cut, a fixed group mismatch, a resumed SIGSTOP) or a peer that claims primary
/// itself (two primaries). The neighbours then hold that unit's MAC, and nothing else would move them back.
/// Not on a member lost, a monitored-interface or priority change, or a member joining from hello (a restarted unit
/// never answered). A peer that still claims primary is still forwarding: this unit announces only once it has stepped
/// down (README.md beside this file, "Gratuitous ARPs after a negotiation").
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
    public static FgcpReannounceDecision Decide(HaState stateBefore, HaRole roleBefore, HaRole roleAfter, (HaState State, HaRole Role)? peer) =>
        stateBefore != HaState.Work || roleBefore != HaRole.Primary || roleAfter != HaRole.Primary || peer is not { State: HaState.Work }
            ? FgcpReannounceDecision.No
            : peer.Value.Role == HaRole.Primary ? FgcpReannounceDecision.WhenPeerStepsDown : FgcpReannounceDecision.Now;

    /// <summary>Whether the primary announces again at all after this negotiation (now or once the peer stepped down).</summary>
    public static bool ShouldReannounce(HaState stateBefore, HaRole roleBefore, HaRole roleAfter, (HaState State, HaRole Role)? peer) =>
        Decide(stateBefore, roleBefore, roleAfter, peer) != FgcpReannounceDecision.No;

    /// <summary>
    /// A deferred announcement (<see cref="FgcpReannounceDecision.WhenPeerStepsDown"/>) is due when this unit is still
    /// the working primary and the peer is heard no longer claiming primary (<paramref name="peer"/>), or is lost (null).
    /// </summary>
    public static bool DeferredDue(HaState state, HaRole role, (HaState State, HaRole Role)? peer) =>
        state == HaState.Work && role == HaRole.Primary && peer is not { State: HaState.Work, Role: HaRole.Primary };
}
