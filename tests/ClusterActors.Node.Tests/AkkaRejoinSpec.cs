using ClusterActors.Node.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Node.Tests;

/// <summary>
/// When a unit restarts its ActorSystem to rejoin the others, as a table of synthetic probe answers and a
/// <see cref="FakeTimeProvider"/>, no actor system: one cluster never restarts anybody; a unit the others removed
/// (downed, or removed during a cut it never learnt of) restarts and joins their members; of two separately founded
/// clusters exactly one side restarts, the one whose lowest member address is the higher; evidence must hold for the
/// confirmation time, and restarts are spaced.
/// </summary>
public sealed class AkkaRejoinSpec
{
    private static readonly TimeSpan Confirm = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(15);
    private readonly FakeTimeProvider _time = new();

    private const string Vm1 = "akka.tcp://fortigate@10.0.0.1:2552";
    private const string Vm2 = "akka.tcp://fortigate@10.0.0.2:2552";
    private const string Vm3 = "akka.tcp://fortigate@10.0.0.3:2552";
    private const string Vm4 = "akka.tcp://fortigate@10.0.0.4:2552";

    private static string U(string address, int uid = 1) => $"{address}#{uid}";

    private AkkaRejoin Rule() => new(Confirm, MinInterval, _time);

    private static ContactView Member(string address, params string[] members) => new(address, true, U(address), members);

    /// <summary>Feeds the same answer once a second for <paramref name="seconds"/>; returns the first verdict and when.</summary>
    private (RejoinVerdict? Verdict, int At) Probe(AkkaRejoin rule, string self, string[] mine, ContactView answer, int seconds)
    {
        for (var s = 0; s <= seconds; s++)
        {
            rule.Heard(self, mine, answer);
            if (rule.Decide() is { } v) return (v, s);
            _time.Advance(TimeSpan.FromSeconds(1));
        }
        return (null, -1);
    }

    [Fact]
    public void One_cluster_never_restarts_anybody_however_long_it_is_watched()
    {
        var rule = Rule();
        string[] all = [U(Vm1), U(Vm2), U(Vm3), U(Vm4)];
        Assert.Null(Probe(rule, U(Vm2), all, Member(Vm1, all), 600).Verdict);
        // A unit that is still looking for a cluster, or a contact that is just joining ours (lists us), is no evidence.
        Assert.Null(Probe(rule, U(Vm2), all, new ContactView(Vm3, false, U(Vm3), []), 60).Verdict);
        Assert.Null(Probe(rule, U(Vm2), [U(Vm2)], Member(Vm1, U(Vm1), U(Vm2)), 60).Verdict);
    }

    [Fact]
    public void A_unit_the_others_removed_during_a_cut_restarts_after_the_confirmation_time_and_joins_their_members()
    {
        var rule = Rule();
        // VM2 still counts VM1 as a member (it was cut off, never learnt); VM1's cluster no longer lists VM2.
        var (verdict, at) = Probe(rule, U(Vm2), [U(Vm1), U(Vm2)], Member(Vm1, U(Vm1), U(Vm3), U(Vm4)), 30);
        Assert.NotNull(verdict);
        Assert.Equal(5, at);
        Assert.Contains("no longer lists this unit", verdict!.Why);
        Assert.Equal([Vm1, Vm3, Vm4], verdict.JoinThrough);
    }

    [Fact]
    public void A_contact_that_lists_this_unit_again_clears_the_evidence()
    {
        var rule = Rule();
        string[] mine = [U(Vm1), U(Vm2)];
        for (var s = 0; s < 4; s++)
        {
            rule.Heard(U(Vm2), mine, Member(Vm1, U(Vm1)));
            _time.Advance(TimeSpan.FromSeconds(1));
        }
        rule.Heard(U(Vm2), mine, Member(Vm1, U(Vm1), U(Vm2))); // gossip caught up: VM2 was only joining
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Null(rule.Decide());
        // Silence is no evidence either: a cut path says nothing.
        rule.Heard(U(Vm2), mine, Member(Vm1, U(Vm1)));
        rule.Silent(Vm1);
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Null(rule.Decide());
    }

    [Theory]
    [InlineData(Vm1, Vm3, false)] // VM1's cluster has the lowest address: it stays
    [InlineData(Vm3, Vm1, true)]  // VM3's cluster {VM3, VM4} rejoins {VM1, VM2}
    [InlineData(Vm4, Vm2, true)]
    [InlineData(Vm2, Vm4, false)]
    public void Of_two_separately_founded_clusters_only_the_one_with_the_higher_lowest_address_restarts(string self, string contact, bool restarts)
    {
        var rule = Rule();
        string[] low = [U(Vm1), U(Vm2)], high = [U(Vm3), U(Vm4)];
        var mine = low.Contains(U(self)) ? low : high;
        var theirs = low.Contains(U(contact)) ? low : high;
        var (verdict, _) = Probe(rule, U(self), mine, Member(contact, theirs), 30);
        Assert.Equal(restarts, verdict is not null);
        if (verdict is not null)
        {
            Assert.Contains("two Akka clusters", verdict.Why);
            Assert.Equal(theirs.Select(m => m[..m.IndexOf('#')]).ToList(), verdict.JoinThrough);
        }
    }

    [Fact]
    public void A_cluster_that_holds_an_older_incarnation_of_this_unit_is_joined_whatever_the_addresses()
    {
        var rule = Rule();
        // VM1 was restarted (uid 2) and founded alone; VM2's cluster still lists VM1's old incarnation (uid 1).
        var (verdict, _) = Probe(rule, U(Vm1, 2), [U(Vm1, 2)], Member(Vm2, U(Vm1, 1), U(Vm2)), 30);
        Assert.NotNull(verdict);
        Assert.Contains("older incarnation", verdict!.Why);
    }

    [Fact]
    public void Removed_downed_or_quarantined_restarts_at_once_and_restarts_are_spaced()
    {
        var rule = Rule();
        rule.SelfRemoved("Down");
        Assert.Contains("removed", rule.Decide()!.Why);
        rule.Restarted();
        rule.Quarantined(Vm1, U(Vm2), [U(Vm1), U(Vm2)]);
        Assert.Null(rule.Decide()); // the last restart is less than MinInterval ago
        _time.Advance(MinInterval);
        Assert.Contains("the others removed this unit", rule.Decide()!.Why);
        Assert.Equal([Vm1], rule.Decide()!.JoinThrough);
        rule.Restarted();
        _time.Advance(TimeSpan.FromMinutes(10));
        Assert.Null(rule.Decide()); // what the old incarnation saw is forgotten
        Assert.Equal(2, rule.Restarts);
    }

    [Theory]
    [InlineData(Vm3, Vm1, true)]  // {VM3, VM4} quarantined by VM1 of {VM1, VM2}: VM3's side rejoins
    [InlineData(Vm4, Vm2, true)]
    [InlineData(Vm1, Vm3, false)] // {VM1, VM2} quarantined by VM3: the lower side stays
    [InlineData(Vm2, Vm4, false)]
    public void Quarantined_by_a_unit_of_another_cluster_only_the_side_with_the_higher_lowest_address_restarts(string self, string by, bool restarts)
    {
        var rule = Rule();
        string[] low = [U(Vm1), U(Vm2)], high = [U(Vm3), U(Vm4)];
        rule.Quarantined(by, U(self), low.Contains(U(self)) ? low : high);
        Assert.Equal(restarts, rule.Decide() is not null);
    }

    // ── Two clusters that downed each other (src/Node/Hosting/README.md): the answers come by signed datagram ──

    private (RejoinVerdict? Verdict, int At) ProbeByDatagram(AkkaRejoin rule, string self, string[] mine, ContactView answer, int seconds)
    {
        for (var s = 0; s <= seconds; s++)
        {
            rule.Heard(self, mine, answer, ProbeChannel.Datagram);
            if (rule.Decide() is { } v) return (v, s);
            _time.Advance(TimeSpan.FromSeconds(1));
        }
        return (null, -1);
    }

    [Theory]
    [InlineData(Vm3, Vm1, true)]  // {VM3, VM4} hears VM1 of {VM1, VM2}: VM3's side rejoins
    [InlineData(Vm4, Vm2, true)]
    [InlineData(Vm3, Vm2, true)]
    [InlineData(Vm1, Vm3, false)] // {VM1, VM2} hears VM3: the lower side stays, however long
    [InlineData(Vm2, Vm4, false)]
    [InlineData(Vm1, Vm4, false)]
    public void Two_clusters_that_downed_each_other_heard_by_datagram_only_the_higher_side_restarts_after_the_confirmation_time(string self, string contact, bool restarts)
    {
        var rule = new AkkaRejoin(Confirm, MinInterval, _time) { Contacts = [Vm1, Vm2, Vm3, Vm4] };
        string[] low = [U(Vm1), U(Vm2)], high = [U(Vm3), U(Vm4)];
        var mine = low.Contains(U(self)) ? low : high;
        var theirs = low.Contains(U(contact)) ? low : high;
        var (verdict, at) = ProbeByDatagram(rule, U(self), mine, Member(contact, theirs), 120);
        Assert.Equal(restarts, verdict is not null);
        if (verdict is null) return;
        Assert.Equal(5, at);
        Assert.Contains("two Akka clusters", verdict.Why);
        Assert.Equal([Vm1, Vm2], verdict.JoinThrough);
    }

    [Fact]
    public void Both_sides_fed_each_others_answers_never_restart_at_once()
    {
        // Each unit of each side hears every unit of the other side once a second for two minutes.
        string[] low = [U(Vm1), U(Vm2)], high = [U(Vm3), U(Vm4)];
        var rules = new[] { Vm1, Vm2, Vm3, Vm4 }.ToDictionary(u => u, _ => new AkkaRejoin(Confirm, MinInterval, _time) { Contacts = [Vm1, Vm2, Vm3, Vm4] });
        var restartedAt = new Dictionary<string, int>();
        for (var s = 0; s < 120; s++)
        {
            foreach (var (unit, rule) in rules.Where(r => !restartedAt.ContainsKey(r.Key)))
            {
                var mine = low.Contains(U(unit)) ? low : high;
                var theirs = mine == low ? high : low;
                foreach (var other in theirs) rule.Heard(U(unit), mine, Member(other[..other.IndexOf('#')], theirs), ProbeChannel.Datagram);
                if (rule.Decide() is not null) restartedAt[unit] = s;
            }
            _time.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.Equal([Vm3, Vm4], restartedAt.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_datagram_answer_from_a_member_of_this_units_cluster_is_no_evidence_either_way()
    {
        // Over Akka the same answer removes VM2 (A_unit_the_others_removed…); by datagram a member's answer is ignored:
        // a plain cut must never restart anybody, and members are asked over Akka.
        var rule = Rule();
        Assert.Null(ProbeByDatagram(rule, U(Vm2), [U(Vm1), U(Vm2)], Member(Vm1, U(Vm1), U(Vm3), U(Vm4)), 60).Verdict);
        // Nor does it clear what Akka's answers built up.
        for (var s = 0; s < 3; s++)
        {
            rule.Heard(U(Vm2), [U(Vm1), U(Vm2)], Member(Vm1, U(Vm1), U(Vm3)));
            _time.Advance(TimeSpan.FromSeconds(1));
        }
        rule.Heard(U(Vm2), [U(Vm1), U(Vm2)], Member(Vm1, U(Vm1), U(Vm2)), ProbeChannel.Datagram);
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.NotNull(rule.Decide());
    }

    [Fact]
    public void Whom_to_join_is_narrowed_to_the_configured_contacts_never_an_address_only_an_answer_named()
    {
        const string stranger = "akka.tcp://fortigate@10.9.9.9:2552";
        var rule = new AkkaRejoin(Confirm, MinInterval, _time) { Contacts = ["akka.tcp://fortigate@10.0.0.1:2552", "akka.tcp://fortigate@10.0.0.3:2552"] };
        var (verdict, _) = ProbeByDatagram(rule, U(Vm3), [U(Vm3)], Member(Vm1, U(Vm1), U(stranger)), 30);
        Assert.NotNull(verdict);
        Assert.Equal([Vm1], verdict!.JoinThrough);
    }

    [Fact]
    public void Restarts_that_lead_into_no_cluster_are_spaced_further_apart_until_a_contact_lists_this_unit()
    {
        var rule = new AkkaRejoin(Confirm, MinInterval, _time) { Contacts = [Vm1, Vm2, Vm3, Vm4] };
        string[] high = [U(Vm3)];
        var answer = Member(Vm1, U(Vm1), U(Vm2));
        var gaps = new List<int>();
        var last = 0;
        var t = 0;
        for (; t < 400 && gaps.Count < 5; t++)
        {
            rule.Heard(U(Vm3, rule.Restarts + 1), high.Select(_ => U(Vm3, rule.Restarts + 1)).ToArray(), answer, ProbeChannel.Datagram);
            if (rule.Decide() is not null)
            {
                if (rule.Restarts > 0) gaps.Add(t - last);
                last = t;
                rule.Restarted();
            }
            _time.Advance(TimeSpan.FromSeconds(1));
        }
        // 15 s, then 30 s, then 60 s (the cap: MinInterval × MaxBackoff), never less.
        Assert.Equal([15, 30, 60, 60, 60], gaps);
        // The next incarnation gets in: a contact lists it, and the spacing is back to MinInterval.
        rule.Heard(U(Vm3, 99), [U(Vm3, 99), U(Vm1)], Member(Vm1, U(Vm1), U(Vm3, 99)));
        Assert.Equal(MinInterval, rule.Spacing);
    }
}
