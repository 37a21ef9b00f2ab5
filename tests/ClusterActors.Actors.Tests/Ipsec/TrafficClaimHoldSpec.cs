using ClusterActors.Actors.Ipsec;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// The hold of a traffic claim's replies on synthetic input, no actor system (src/Actors/Ipsec/README.md, "The hand-off
/// of a traffic claim"): what ends it, what it gives back and in which order, what it drops.
/// </summary>
public sealed class TrafficClaimHoldSpec
{
    private const string Vm1 = "FGVM02TM22000001", Vm3 = "FGVM02TM22000003";

    [Fact]
    public void Nothing_is_held_before_a_claim()
    {
        var hold = new TrafficClaimHold<int>();
        Assert.False(hold.TryHold(1, out var dropped));
        Assert.False(dropped);
        Assert.Empty(hold.Released(Vm1, 5));
    }

    [Fact]
    public void Only_the_previous_owners_release_at_a_newer_generation_ends_the_hold_and_gives_the_frames_back_in_order()
    {
        var hold = new TrafficClaimHold<int>();
        hold.Start(Vm1, generation: 4);
        foreach (var i in new[] { 1, 2, 3 }) Assert.True(hold.TryHold(i, out _));

        Assert.Empty(hold.Released(Vm3, 5)); // another unit's word
        Assert.Empty(hold.Released(Vm1, 4)); // the generation the claim was made from: not about this claim
        Assert.True(hold.IsHolding);

        Assert.Equal([1, 2, 3], hold.Released(Vm1, 5));
        Assert.False(hold.IsHolding);
        Assert.False(hold.TryHold(4, out _)); // sent at once from now on
        Assert.Equal(0, hold.Dropped);
    }

    [Fact]
    public void The_wait_ending_gives_the_frames_back_in_order()
    {
        var hold = new TrafficClaimHold<int>();
        hold.Start(Vm1, 1);
        hold.TryHold(7, out _);
        hold.TryHold(8, out _);
        Assert.Equal([7, 8], hold.Expired());
        Assert.False(hold.IsHolding);
    }

    [Fact]
    public void A_full_hold_drops_and_counts_what_comes_after_and_a_void_claim_drops_what_it_held()
    {
        var hold = new TrafficClaimHold<int>();
        hold.Start(Vm1, 1);
        for (var i = 0; i < TrafficClaimHold<int>.MaxHeld; i++) Assert.True(hold.TryHold(i, out var d) && !d);
        Assert.True(hold.TryHold(-1, out var dropped));
        Assert.True(dropped);
        Assert.Equal(1, hold.Dropped);

        hold.Cancel();
        Assert.False(hold.IsHolding);
        Assert.Equal(1 + TrafficClaimHold<int>.MaxHeld, hold.Dropped);
        Assert.Empty(hold.Released(Vm1, 2));
    }
}
