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

    public static TheoryData<string, HaState, HaRole, HaRole, (HaState, HaRole)?, bool> Cases => new()
    {
        { "split brain healed: the other primary joins, this unit stays primary", Work, Primary, Primary, (Work, Primary), true },
        { "the other side already stepped down before its first heartbeat was heard", Work, Primary, Primary, (Work, Secondary), true },
        { "two primaries seen without a loss", Work, Primary, Primary, (Work, Primary), true },
        { "a restarted unit joins from hello: it never answered", Work, Primary, Primary, (Hello, Secondary), false },
        { "member lost, monitored interfaces, priority: no peer announced", Work, Primary, Primary, null, false },
        { "this unit loses the heal: it stops answering instead", Work, Primary, Secondary, (Work, Primary), false },
        { "this unit becomes primary: its ports start answering, which announces already", Work, Secondary, Primary, (Work, Primary), false },
        { "first negotiation out of hello: becoming primary announces already", Hello, Secondary, Primary, (Work, Primary), false },
        { "a secondary stays secondary", Work, Secondary, Secondary, (Work, Primary), false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decides_whether_the_primary_announces_again(string name, HaState stateBefore, HaRole roleBefore, HaRole roleAfter,
        (HaState, HaRole)? peer, bool expected)
    {
        Assert.True(expected == FgcpAnnouncement.ShouldReannounce(stateBefore, roleBefore, roleAfter, peer), name);
    }
}
