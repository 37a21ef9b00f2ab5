using ClusterActors.Actors.Ipsec;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// The index a unit shows a dialup instance under (src/Actors/Ipsec/README.md, "Instance names"), no actor system.
/// The multi-node case (an Akka cut, two clients dialed on each side, the heal) is
/// AkkaPartitionHealSpec.Tunnels_dialed_on_both_sides_of_a_cut_keep_distinct_names_and_one_owner_on_every_unit_after_the_heal.
/// </summary>
public sealed class DialupInstanceNamesSpec
{
    /// <summary>Indexes this unit already shows, the index a record carries → the index this unit shows it under.</summary>
    public static TheoryData<int[], int, int> Synced => new()
    {
        { [], 1, 1 },            // the first tunnel: vpn1_1, as the scenario shows
        { [1], 2, 2 },           // a standby learns vpn1_2 from its owner
        { [1, 3], 2, 2 },        // a free index below the highest is kept too: the record's own name wherever it is free
        { [1, 2, 3], 2, 4 },     // healed cut: the other side's vpn1_2 while this unit shows its own vpn1_2 and vpn1_3
        { [1, 2, 3, 4], 3, 5 },  // ... and the other side's vpn1_3 next
        { [2], 0, 3 },           // a record without a usable index gets a new one
    };

    [Theory]
    [MemberData(nameof(Synced))]
    public void A_synced_tunnel_keeps_its_index_where_it_is_free_and_otherwise_gets_the_next_after_the_highest(int[] inUse, int recordIndex, int shown)
    {
        var index = DialupInstanceNames.ForSynced(recordIndex, inUse);
        Assert.Equal(shown, index);
        Assert.DoesNotContain(index, inUse); // never a name twice on one unit
    }

    [Theory]
    [InlineData(new int[0], 1)]
    [InlineData(new[] { 1 }, 2)]
    [InlineData(new[] { 1, 2, 5 }, 6)] // after the highest, as before: a deleted vpn1_3 is not reused while vpn1_5 lives
    public void A_tunnel_dialed_here_is_named_after_the_highest_index_this_unit_shows(int[] inUse, int index)
    {
        Assert.Equal(index, DialupInstanceNames.ForNewTunnel(inUse));
        Assert.Equal($"vpn1_{index}", DialupInstanceNames.Name("vpn1", index));
    }

    [Fact]
    public void Both_sides_of_a_cut_keep_their_names_and_each_shows_the_others_tunnels_under_new_ones()
    {
        // Each side named its two tunnels vpn1_2 and vpn1_3 during the cut; vpn1_1 was there before it.
        var side1 = new List<int> { 1, 2, 3 };
        var side2 = new List<int> { 1, 2, 3 };
        foreach (var recordIndex in new[] { 2, 3 }) side1.Add(DialupInstanceNames.ForSynced(recordIndex, side1));
        foreach (var recordIndex in new[] { 3, 2 }) side2.Add(DialupInstanceNames.ForSynced(recordIndex, side2)); // any order
        Assert.Equal([1, 2, 3, 4, 5], side1);
        Assert.Equal([1, 2, 3, 4, 5], side2);
    }
}
