using ClusterActors.Node.Drills;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// <see cref="TunnelCensus"/> on synthetic tunnel lists: the rules a many-clients drill holds every tunnel to (one
/// owner, the router's, listed on every holder with the owner's SPIs), each broken alone.
/// </summary>
public sealed class TunnelCensusSpec
{
    private static readonly string[] Units = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];
    private static readonly CensusClient A = new("CLIENT1", "192.168.7.2"), B = new("CLIENT1-2", "192.168.7.3"), C = new("CLIENT1-3", "192.168.7.4");

    private static TunnelView Owned(CensusClient c, uint spi) => new("vpn1_" + spi, TunnelRole.SyncPrimary, spi, spi + 100, c.Address);
    private static TunnelView Standby(CensusClient c, uint spi) => new("vpn1_" + spi, TunnelRole.Standby, spi, spi + 100, c.Address);

    /// <summary>A on cluster 1 (DC2_VM1), B and C on cluster 2 (DC2_VM3); every unit holds all three.</summary>
    private static Dictionary<string, IReadOnlyList<TunnelView>> Healthy() => new()
    {
        ["DC2_VM1"] = [Owned(A, 1), Standby(B, 2), Standby(C, 3)],
        ["DC2_VM2"] = [Standby(A, 1), Standby(B, 2), Standby(C, 3)],
        ["DC2_VM3"] = [Standby(A, 1), Owned(B, 2), Owned(C, 3)],
        ["DC2_VM4"] = [Standby(A, 1), Standby(B, 2), Standby(C, 3)],
    };

    private static CensusExpectation Rule(CensusClient c) => new(c == A ? "DC2_VM1" : "DC2_VM3", Units);

    private static TunnelCensus Take(IReadOnlyDictionary<string, IReadOnlyList<TunnelView>> lists, Func<CensusClient, CensusExpectation>? rule = null) =>
        TunnelCensus.Take("after phase 1", [A, B, C], Units, lists, rule ?? Rule);

    [Fact]
    public void Every_tunnel_owned_once_by_the_routers_choice_on_every_holder_holds_and_is_counted_per_owner()
    {
        var census = Take(Healthy());
        Assert.True(census.Holds, string.Join("; ", census.Violations));
        Assert.Equal([new("DC2_VM1", 1), new("DC2_VM2", 0), new("DC2_VM3", 2), new("DC2_VM4", 0)], census.PerOwner);
        Assert.Equal("DC2_VM1 1, DC2_VM3 2", census.Counts);
        Assert.Equal(3, census.Clients);
    }

    [Fact]
    public void Each_clients_owner_is_kept_by_name_for_the_recovery_and_none_where_two_or_none_own_it()
    {
        var lists = Healthy();
        lists["DC2_VM1"] = [Owned(A, 1), Owned(B, 2), Standby(C, 3)];
        lists["DC2_VM3"] = [Standby(A, 1), Owned(B, 2), Standby(C, 3)];
        var census = Take(lists);
        Assert.Equal("DC2_VM1", census.OwnerOf["CLIENT1"]);
        Assert.Null(census.OwnerOf["CLIENT1-2"]);
        Assert.Null(census.OwnerOf["CLIENT1-3"]);
    }

    [Fact]
    public void A_tunnel_nobody_owns_is_named()
    {
        var lists = Healthy();
        lists["DC2_VM3"] = [Standby(A, 1), Standby(B, 2), Owned(C, 3)];
        var v = Assert.Single(Take(lists).Violations);
        Assert.Equal("CLIENT1-2 (192.168.7.3): no unit lists its tunnel as sync-primary (the router's rule gives DC2_VM3)", v);
    }

    [Fact]
    public void Two_owners_of_one_tunnel_are_named_and_both_counted()
    {
        var lists = Healthy();
        lists["DC2_VM1"] = [Owned(A, 1), Owned(B, 2), Standby(C, 3)];
        var census = Take(lists);
        Assert.Equal("CLIENT1-2 (192.168.7.3): 2 owners at once: DC2_VM1, DC2_VM3", Assert.Single(census.Violations));
        Assert.Equal(2, census.PerOwner.Single(p => p.Unit == "DC2_VM1").Tunnels);
    }

    [Fact]
    public void An_owner_the_router_does_not_send_the_client_to_is_wrong()
    {
        var census = Take(Healthy(), c => new(c == C ? "DC2_VM1" : Rule(c).Owner, Units));
        Assert.Equal("CLIENT1-3 (192.168.7.4): owned by DC2_VM3, but the router's rule gives DC2_VM1", Assert.Single(census.Violations));
        // The router sending the client nowhere (every next hop withdrawn) while a unit still owns it is wrong too.
        Assert.Contains("CLIENT1-3 (192.168.7.4): owned by DC2_VM3, but the router's rule sends it to no running unit",
            Take(Healthy(), c => c == C ? new(null, []) : Rule(c)).Violations);
    }

    [Fact]
    public void A_holder_without_the_tunnel_is_named_and_a_unit_that_is_down_is_not()
    {
        var lists = Healthy();
        lists["DC2_VM4"] = [Standby(A, 1), Standby(C, 3)];
        Assert.Equal("CLIENT1-2 (192.168.7.3): not listed on DC2_VM4", Assert.Single(Take(lists).Violations));

        lists.Remove("DC2_VM4"); // down: it answers nothing, so it is neither a missing holder nor counted
        var census = Take(lists);
        Assert.True(census.Holds);
        Assert.DoesNotContain(census.PerOwner, p => p.Unit == "DC2_VM4");
    }

    [Fact]
    public void A_copy_with_other_SPIs_than_the_owners_is_named()
    {
        var lists = Healthy();
        lists["DC2_VM2"] = [Standby(A, 1), Standby(B, 2), Standby(C, 9)];
        Assert.Equal("CLIENT1-3 (192.168.7.4): DC2_VM2 show other SPIs than its owner's (dec 00000003, enc 00000067)", Assert.Single(Take(lists).Violations));
    }

    [Fact]
    public void Tunnels_are_told_apart_by_the_clients_address_not_by_their_per_unit_names()
    {
        // Instance names are per unit: DC2_VM3 calls CLIENT1-2's tunnel vpn1_1, the name DC2_VM1 gives CLIENT1's.
        var lists = Healthy();
        lists["DC2_VM3"] = [Standby(A, 1) with { Name = "vpn1_7" }, Owned(B, 2) with { Name = "vpn1_1" }, Owned(C, 3)];
        Assert.True(Take(lists).Holds);
    }
}
