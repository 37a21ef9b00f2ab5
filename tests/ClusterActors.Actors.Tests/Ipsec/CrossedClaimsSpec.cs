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
/// An FGSP failover right after an FGCP one, with many clients (issue 12's census, fgsp-failover with six clients):
/// DC2_VM1 is killed and DC2_VM2, its cluster's new primary, claims its tunnels (generation 2); its uplink is shut and
/// the router sends the clients to DC2_VM3, which claims a tunnel by traffic from DC2_VM1's record (generation 2 too)
/// when DC2_VM2's claim has not reached it yet. DC2_VM2's phase1 must settle on one of the two claims, the one
/// <see cref="TunnelOwnership.Compare"/> keeps on every unit. Before, it refused DC2_VM3's ("without a higher
/// generation") and listed the tunnel as sync-primary for good while DC2_VM3 did too.
/// </summary>
public sealed class CrossedClaimsSpec() : TestKit(ConfigurationFactory.ParseString("""
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp.hostname = 127.0.0.1
    akka.remote.dot-netty.tcp.port = 0
    akka.loglevel = WARNING
    """))
{
    private const string Vm1 = "FGVM02TM22000001", Vm2 = "FGVM02TM22000002", Vm3 = "FGVM02TM22000003";

    /// <summary>The scenario's vpn1 syncs across FGSP members (`set fgsp-sync enable`), so DC2_VM3's records count here.</summary>
    private static readonly string Config = Phase1SpecConfig.Dialup.Replace("set type dynamic", "set type dynamic\n        set fgsp-sync enable");

    /// <summary>DC2_VM2's phase1 holding DC2_VM1's record; DC2_VM1 killed, DC2_VM2 becomes primary and claims the tunnel
    /// from it (generation 2).</summary>
    private async Task<(IActorRef Phase1, TunnelRecord Dc2Vm1s, TunnelRecord Ours)> NewPrimaryClaimed()
    {
        var config = FortiConfig.Parse(Config).Value!;
        var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Vm2, config, config.Phase1.Single()));
        var record = DialupTunnelEspSpec.Keyed(TunnelOwnershipSpec.Record(owner: Vm1, group: 1, nextSeq: 0x120));
        var dc2Vm1s = record with { Key = TunnelRecord.KeyOf(record.Phase1, record.Ike.SpiI, record.Ike.SpiR) };
        phase1.Tell(dc2Vm1s);
        phase1.Tell(new HaRoleChanged(Vm2, HaRole.Primary, Vm2));
        var ours = await Phase1Records.Held(phase1, r => r.OwnerSerial == Vm2);
        Assert.Equal(2, ours.Generation);
        Assert.Equal(TunnelRole.SyncPrimary, await Phase1Records.Role(phase1));
        return (phase1, dc2Vm1s, ours);
    }

    [Fact]
    public async Task A_claim_of_the_same_generation_from_another_cluster_that_synced_more_takes_the_tunnel_from_the_new_primary()
    {
        var (phase1, dc2Vm1s, ours) = await NewPrimaryClaimed();

        // DC2_VM3's claim by traffic, from DC2_VM1's record too, has synced its sequence a few times when it arrives.
        var theirs = TunnelOwnership.Claim(dc2Vm1s, Vm3, 2) with { SyncSeq = ours.SyncSeq + 3 };
        Assert.Equal(ours.Generation, theirs.Generation);
        phase1.Tell(theirs);
        var held = await Phase1Records.Held(phase1, r => r.OwnerSerial == Vm3);
        Assert.Equal(theirs, held);
        await AwaitAssertAsync(async () => Assert.Equal(TunnelRole.Standby, await Phase1Records.Role(phase1)), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_claim_of_the_same_generation_that_synced_less_leaves_the_new_primary_owner()
    {
        var (phase1, dc2Vm1s, ours) = await NewPrimaryClaimed();
        // DC2_VM2's own claim has synced once more than DC2_VM3's (none yet): it stays, and DC2_VM3 (which holds both) steps down there.
        phase1.Tell(new SyncTunnelSequence(ours.Key, ours.NextOutboundSeq + 1, 0, 0));
        await Phase1Records.Held(phase1, r => r.OwnerSerial == Vm2 && r.SyncSeq > ours.SyncSeq);
        var theirs = TunnelOwnership.Claim(dc2Vm1s, Vm3, 2);
        phase1.Tell(theirs);
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Assert.Equal(Vm2, (await Phase1Records.Held(phase1, _ => true)).OwnerSerial);
        Assert.Equal(TunnelRole.SyncPrimary, await Phase1Records.Role(phase1));
    }
}
