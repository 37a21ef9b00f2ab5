using Akka.Cluster;
using ClusterActors.Node.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Node.Tests;

/// <summary>
/// The downing rule as a table of synthetic cluster views, no actor system (like Akka's SplitBrainResolverSpec):
/// a merely unreachable member is never downed however long it stays so; one that blocks a waiting membership change
/// (a restarted unit's old incarnation Down, a member leaving) is downed after the configured time; never self.
/// </summary>
public sealed class UnreachableDowningSpec
{
    private static readonly TimeSpan After = TimeSpan.FromSeconds(8);
    private readonly FakeTimeProvider _time = new();

    private static MemberView Up(string node, bool unreachable = false) => new(node, MemberStatus.Up, unreachable);

    [Fact]
    public void A_partition_alone_never_downs_anybody_however_long_it_lasts()
    {
        var rule = new UnreachableDowning(After, _time);
        MemberView[] view = [Up("vm1"), Up("vm2", unreachable: true), Up("vm3", unreachable: true), new("vm4", MemberStatus.WeaklyUp, false)];
        for (var i = 0; i < 600; i++)
        {
            Assert.Empty(rule.Decide("vm1", view));
            _time.Advance(TimeSpan.FromSeconds(1));
        }
    }

    [Fact]
    public void A_member_that_stays_unreachable_while_a_restarted_units_old_incarnation_waits_is_downed_after_the_time()
    {
        var rule = new UnreachableDowning(After, _time);
        MemberView[] dead = [Up("vm1"), Up("vm2"), Up("vm3", unreachable: true)];
        Assert.Empty(rule.Decide("vm1", dead));
        _time.Advance(TimeSpan.FromSeconds(5));
        // vm2 restarted: Akka marked its old incarnation Down; it is removed only on convergence, which vm3 blocks.
        MemberView[] waiting = [Up("vm1"), new("vm2#old", MemberStatus.Down, true), Up("vm3", unreachable: true)];
        Assert.Empty(rule.Decide("vm1", waiting));
        _time.Advance(TimeSpan.FromSeconds(3) - TimeSpan.FromMilliseconds(1));
        Assert.Empty(rule.Decide("vm1", waiting));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(["vm3"], rule.Decide("vm1", waiting)); // counted from when vm3 became unreachable, not from the restart
    }

    [Fact]
    public void A_member_that_became_reachable_again_starts_its_count_afresh()
    {
        var rule = new UnreachableDowning(After, _time);
        MemberView[] waiting = [Up("vm1"), new("vm2#old", MemberStatus.Down, true), Up("vm3", unreachable: true)];
        rule.Decide("vm1", waiting);
        _time.Advance(TimeSpan.FromSeconds(7));
        rule.Decide("vm1", [Up("vm1"), new("vm2#old", MemberStatus.Down, true), Up("vm3")]);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Empty(rule.Decide("vm1", waiting));
        _time.Advance(After);
        Assert.Equal(["vm3"], rule.Decide("vm1", waiting));
    }

    [Fact]
    public void A_leaving_member_waits_too_and_an_unreachable_leaver_is_downed()
    {
        var rule = new UnreachableDowning(After, _time);
        MemberView[] view = [Up("vm1"), new("vm2", MemberStatus.Leaving, true), Up("vm3")];
        rule.Decide("vm1", view);
        _time.Advance(After);
        Assert.Equal(["vm2"], rule.Decide("vm1", view));
    }

    [Fact]
    public void A_unit_never_downs_itself_nor_a_member_already_down_or_exiting()
    {
        var rule = new UnreachableDowning(After, _time);
        MemberView[] view = [Up("vm1", unreachable: true), new("vm2", MemberStatus.Down, true), new("vm3", MemberStatus.Exiting, true)];
        rule.Decide("vm1", view);
        _time.Advance(TimeSpan.FromMinutes(10));
        Assert.Empty(rule.Decide("vm1", view));
    }
}
