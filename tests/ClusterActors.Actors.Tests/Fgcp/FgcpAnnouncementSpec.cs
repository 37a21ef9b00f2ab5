using ClusterActors.Actors.Fgcp;
using ClusterActors.Protocol.Fgcp;
using Xunit;

namespace ClusterActors.Actors.Tests.Fgcp;

/// <summary>
/// When a primary that stays primary sends its gratuitous ARPs again: only after a negotiation started by a peer
/// that may itself have announced the cluster's addresses (it was working: a healed split brain, two primaries).
/// </summary>
public class FgcpAnnouncementSpec
{
    private const HaState Hello = HaState.Hello;
    private const HaState Work = HaState.Work;
    private const HaRole Primary = HaRole.Primary;
    private const HaRole Secondary = HaRole.Secondary;

    private const FgcpReannounceDecision No = FgcpReannounceDecision.No;
    private const FgcpReannounceDecision Now = FgcpReannounceDecision.Now;
    private const FgcpReannounceDecision WhenPeerStepsDown = FgcpReannounceDecision.WhenPeerStepsDown;

    public static TheoryData<string, HaState, HaRole, HaRole, (HaState, HaRole)?, FgcpReannounceDecision> Cases => new()
    {
        // The peer still claims primary, so it still answers and forwards what reached it: were the neighbours moved to
        // this unit now, the peer's ESP (numbered below this unit's) would reach the client after this unit's first
        // (chaos seed 1 run 39: one anti-replay drop at CLIENT1 when a SIGSTOPped owner resumed).
        { "split brain healed: the other primary joins, this unit stays primary", Work, Primary, Primary, (Work, Primary), WhenPeerStepsDown },
        { "the other side already stepped down before its first heartbeat was heard", Work, Primary, Primary, (Work, Secondary), Now },
        { "two primaries seen without a loss (a resumed SIGSTOP)", Work, Primary, Primary, (Work, Primary), WhenPeerStepsDown },
        { "a restarted unit joins from hello: it never answered", Work, Primary, Primary, (Hello, Secondary), No },
        { "member lost, monitored interfaces, priority: no peer announced", Work, Primary, Primary, null, No },
        { "this unit loses the heal: it stops answering instead", Work, Primary, Secondary, (Work, Primary), No },
        { "this unit becomes primary: its ports start answering, which announces already", Work, Secondary, Primary, (Work, Primary), No },
        { "first negotiation out of hello: becoming primary announces already", Hello, Secondary, Primary, (Work, Primary), No },
        { "a secondary stays secondary", Work, Secondary, Secondary, (Work, Primary), No },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decides_whether_the_primary_announces_again(string name, HaState stateBefore, HaRole roleBefore, HaRole roleAfter,
        (HaState, HaRole)? peer, FgcpReannounceDecision expected)
    {
        Assert.True(expected == FgcpAnnouncement.Decide(stateBefore, roleBefore, roleAfter, peer), name);
        Assert.Equal(expected != No, FgcpAnnouncement.ShouldReannounce(stateBefore, roleBefore, roleAfter, peer));
    }

    public static TheoryData<string, HaState, HaRole, (HaState, HaRole)?, bool> DeferredCases => new()
    {
        { "the peer is heard as secondary: it stopped answering", Work, Primary, (Work, Secondary), true },
        { "the peer still claims primary", Work, Primary, (Work, Primary), false },
        { "the peer went back to hello (restarted)", Work, Primary, (Hello, Secondary), true },
        { "the peer is lost before it was heard stepping down", Work, Primary, null, true },
        { "this unit is no longer primary: it answers nothing", Work, Secondary, (Work, Secondary), false },
    };

    [Theory]
    [MemberData(nameof(DeferredCases))]
    public void A_deferred_announcement_is_due_once_the_peer_no_longer_claims_primary(string name, HaState state, HaRole role,
        (HaState, HaRole)? peer, bool expected)
    {
        Assert.True(expected == FgcpAnnouncement.DeferredDue(state, role, peer), name);
    }
}
