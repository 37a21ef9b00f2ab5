using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Tests.Forwarding;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// Container drill heartbeat-loss, CI trial 15 (seed 1, fast timers): DC2_VM1 stays FGCP primary through the whole run
/// (priority 200) while DC2_VM2 (priority 100) is made primary twice by lost heartbeats, each time for ~1–200 ms before it
/// hears DC2_VM1 again and steps down. Its first term claims vpn1_1 (g2) and DC2_VM1 claims it back (g3): DC2_VM1's one
/// claim of its term. Its second term claims again (g4); DC2_VM1 may not answer (<c>_claimedThisTerm</c>), DC2_VM2 steps
/// down and hands g4 over, and DC2_VM1, still in the same term, takes nothing: no unit owns the tunnel until traffic
/// claims it (the drill has none: "not healed 7.4 s after the impairment was cleared: 1 primaries, tunnels ").
/// </summary>
public sealed class HandoverToLongPrimarySpec() : TestKit(ConfigurationFactory.ParseString(Phase1SpecConfig.ClusterHocon))
{
    private const string Vm1 = "FGVM02TM22000001", Vm2 = "FGVM02TM22000002";

    [Fact]
    public async Task A_primary_that_used_its_claim_this_term_takes_the_tunnel_a_stepped_down_peer_hands_over()
    {
        var config = FortiConfig.Parse(Phase1SpecConfig.Dialup).Value!;
        var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Vm1, config, config.Phase1.Single()));
        phase1.Tell(new FgcpClusterMembers([Vm2]));
        phase1.Tell(new HaRoleChanged(Vm1, HaRole.Primary, Vm1)); // DC2_VM1 primary since boot, for the whole spec

        // The tunnel as DC2_VM1 established it (g1), claimed by DC2_VM2 in its first, sub-poll term (g2).
        var g1 = DialupTunnelEspSpec.Keyed(TunnelOwnershipSpec.Record(owner: Vm1, group: 1, nextSeq: 0x120));
        g1 = g1 with { Key = TunnelRecord.KeyOf(g1.Phase1, g1.Ike.SpiI, g1.Ike.SpiR) };
        phase1.Tell(TunnelOwnership.Claim(g1, Vm2, 1));
        // DC2_VM1 claims it back at once (g3): its one claim of vpn1_1 this term (14:13:03.145, 1327 bytes to each unit).
        var g3 = await Phase1Records.Held(phase1, r => r.OwnerSerial == Vm1 && r.Generation == 3);

        // DC2_VM2's second term (14:13:12.915): it claims again (g4); DC2_VM1, still primary, may not answer.
        var g4 = TunnelOwnership.Claim(g3, Vm2, 1);
        phase1.Tell(g4);
        await Phase1Records.Held(phase1, r => r.OwnerSerial == Vm2 && r.Generation == 4);

        // DC2_VM2 hears DC2_VM1 again and steps down (14:13:13.114): it shows vpn1_1 as standby and hands the record over
        // (HandOver: the push, and with the fix its release of generation 4).
        phase1.Tell(g4);
        phase1.Tell(new TunnelReleased(g4.Key, g4.Generation, Vm2));

        // Healed: the primary owns the tunnel (g5). Without the fix it stays g4, DC2_VM2's, shown standby on both units.
        var healed = await Phase1Records.Held(phase1, r => r.OwnerSerial == Vm1 && r.Generation == 5);
        Assert.Equal(Vm1, healed.OwnerSerial);
        await AwaitAssertAsync(async () => Assert.Equal(TunnelRole.SyncPrimary, await Phase1Records.Role(phase1)), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Split_brain_primaries_still_claim_at_most_once_per_term_without_a_hand_over()
    {
        var config = FortiConfig.Parse(Phase1SpecConfig.Dialup).Value!;
        var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Vm1, config, config.Phase1.Single()));
        phase1.Tell(new FgcpClusterMembers([Vm2]));
        phase1.Tell(new HaRoleChanged(Vm1, HaRole.Primary, Vm1));
        var g1 = DialupTunnelEspSpec.Keyed(TunnelOwnershipSpec.Record(owner: Vm1, group: 1, nextSeq: 0x120));
        g1 = g1 with { Key = TunnelRecord.KeyOf(g1.Phase1, g1.Ike.SpiI, g1.Ike.SpiR) };
        phase1.Tell(TunnelOwnership.Claim(g1, Vm2, 1));
        var g3 = await Phase1Records.Held(phase1, r => r.OwnerSerial == Vm1 && r.Generation == 3);
        // DC2_VM2, still primary on its side of the split, outbids once (g4): no release, so DC2_VM1 does not answer.
        phase1.Tell(TunnelOwnership.Claim(g3, Vm2, 1));
        ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        var held = await Phase1Records.Held(phase1, _ => true);
        Assert.Equal((Vm2, 4L), (held.OwnerSerial, held.Generation));
        // A release of an older generation (a stale round of an earlier hand-over) changes nothing either.
        phase1.Tell(new TunnelReleased(held.Key, 2, Vm2));
        ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        var after = await Phase1Records.Held(phase1, _ => true);
        Assert.Equal((Vm2, 4L), (after.OwnerSerial, after.Generation));
    }
}
