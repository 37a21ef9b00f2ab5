using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Tests.Forwarding;
using ClusterActors.Actors.Unit;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// A unit FGCP makes secondary hands the tunnels it still owns to the new primary, straight to the address the primary's
/// lab certificate was proved on (src/Actors/Ipsec/README.md, "A primary that steps down"). Chaos seed 1 run 46: DC2_VM1,
/// killed and started again on its data, was re-elected primary on the heartbeat 3 s before it rejoined Akka; DC2_VM2
/// held vpn1_1 as standby at once, and DC2_VM1 learnt of the tunnel only from Distributed Data after the join: no owner,
/// and PC1's echoes lost, for 4–6 s.
/// </summary>
public sealed class SteppedDownHandoverSpec : TestKit
{
    private const string Vm1 = "FGVM02TM22000001", Vm2 = "FGVM02TM22000002";
    private static readonly UnitIdentities Identities = new(enforcing: false);

    private static Akka.Configuration.Config Config() => Phase1SpecConfig.WireConfig();

    public SteppedDownHandoverSpec() : base(BootstrapSetup.Create().WithConfig(Config()).And(new UnitIdentitiesSetup(Identities)))
    {
    }

    [Theory]
    // was primary, is primary, in an FGCP cluster, the primary now → hands over to
    [InlineData(true, false, true, Vm1, Vm1)]     // stepped down: to the new primary
    [InlineData(false, false, true, Vm1, null)]   // never owned anything as primary this term
    [InlineData(true, true, true, Vm2, null)]     // still primary
    [InlineData(true, false, false, Vm1, null)]   // a standalone FGSP member has no FGCP primary to hand to
    [InlineData(true, false, true, Vm2, null)]    // "secondary" of itself: no other primary known
    [InlineData(true, false, true, "", null)]     // no primary elected (the cluster is negotiating)
    public void A_unit_hands_its_tunnels_over_only_when_it_stepped_down_to_another_primary(bool was, bool now, bool inCluster, string primary, string? to) =>
        Assert.Equal(to, TunnelOwnership.HandOverTo(was, now, inCluster ? 1 : TunnelOwnership.NoFgcpCluster, primary, Vm2));

    [Fact]
    public async Task A_unit_that_steps_down_sends_the_new_primary_the_tunnel_it_still_owns_until_the_claim_arrives()
    {
        // DC2_VM1's new incarnation: an ActorSystem at the address its certificate was proved on, not yet an Akka member.
        using var vm1 = ActorSystem.Create(Sys.Name, Config());
        var received = new Akka.TestKit.TestProbe(vm1, new XunitAssertions());
        vm1.ActorOf(Props.Create(() => new Forward(received.Ref)), "phase1-vpn1");
        var vm1Address = ((ExtendedActorSystem)vm1).Provider.DefaultAddress;
        Identities.Bind(vm1Address, new UnitIdentity("DC2_VM1", Vm1));

        var phase1 = await TakenByVm2("phase1-vpn1");
        phase1.Tell(new HaRoleChanged(Vm2, HaRole.Secondary, Vm1));

        // At once, and again a round later while the record still names DC2_VM2: a push may be lost while the new
        // incarnation's association is set up.
        var first = received.ExpectMsg<TunnelRecord>(TimeSpan.FromSeconds(3));
        Assert.Equal((Vm2, 2L), (first.OwnerSerial, first.Generation));
        // Each record is followed by DC2_VM2's release of it: the primary takes it even if it claimed it this term.
        var release = received.ExpectMsg<TunnelReleased>(TimeSpan.FromSeconds(3));
        Assert.Equal((first.Key, 2L, Vm2), (release.Key, release.Generation, release.FromSerial));
        received.ExpectMsg<TunnelRecord>(TimeSpan.FromSeconds(3));
        received.ExpectMsg<TunnelReleased>(TimeSpan.FromSeconds(3));

        // DC2_VM1's claim arrives: nothing names DC2_VM2 any more, the hand-over ends. DC2_VM2's instance says it sends
        // no more (the release at the claim's generation, which ends a claim's hold), and nothing else follows.
        var claim = TunnelOwnership.Claim(first, Vm1, 1);
        phase1.Tell(claim);
        await Until(phase1, r => r.OwnerSerial == Vm1);
        var handedOff = received.FishForMessage<TunnelReleased>(m => m.Generation == claim.Generation, TimeSpan.FromSeconds(3));
        Assert.Equal((claim.Key, Vm2), (handedOff.Key, handedOff.FromSerial));
        received.ExpectNoMsg(TimeSpan.FromSeconds(2.5));
    }

    [Fact]
    public async Task A_unit_that_stays_primary_or_becomes_primary_hands_nothing_over()
    {
        using var vm1 = ActorSystem.Create(Sys.Name, Config());
        var received = new Akka.TestKit.TestProbe(vm1, new XunitAssertions());
        vm1.ActorOf(Props.Create(() => new Forward(received.Ref)), "phase1-vpn1b");
        Identities.Bind(((ExtendedActorSystem)vm1).Provider.DefaultAddress, new UnitIdentity("DC2_VM1", Vm1));

        var phase1 = await TakenByVm2("phase1-vpn1b");
        phase1.Tell(new HaRoleChanged(Vm2, HaRole.Primary, Vm2)); // re-elected: no change
        received.ExpectNoMsg(TimeSpan.FromSeconds(1.5));
    }

    private sealed class Forward : ReceiveActor
    {
        public Forward(IActorRef to) => ReceiveAny(m => to.Forward(m));
    }

    /// <summary>DC2_VM1 gone: DC2_VM2, primary, has claimed its cluster's tunnel (generation 2).</summary>
    private async Task<IActorRef> TakenByVm2(string name)
    {
        var config = FortiConfig.Parse(Phase1SpecConfig.Dialup).Value!;
        var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Vm2, config, config.Phase1.Single()), name);
        var record = DialupTunnelEspSpec.Keyed(TunnelOwnershipSpec.Record(owner: Vm1, group: 1, nextSeq: 0x120));
        // Wire-valid (the push crosses remoting): no last response kept.
        phase1.Tell(record with { Key = TunnelRecord.KeyOf(record.Phase1, record.Ike.SpiI, record.Ike.SpiR), Ike = record.Ike with { LastResponseId = null } });
        phase1.Tell(new HaRoleChanged(Vm2, HaRole.Primary, Vm2));
        await Until(phase1, r => r.OwnerSerial == Vm2 && r.Generation == 2);
        return phase1;
    }

    private static async Task Until(IActorRef phase1, Func<TunnelRecord, bool> holds)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            var r = (await phase1.Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(3))).Records.Single();
            if (holds(r)) return;
            if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException($"not reached: {r.OwnerSerial} generation {r.Generation}");
            await Task.Delay(50);
        }
    }
}
