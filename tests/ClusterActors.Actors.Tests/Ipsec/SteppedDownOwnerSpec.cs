using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Telemetry;
using ClusterActors.Actors.Tests.Forwarding;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// A unit FGCP makes secondary holds its own tunnels as standby at once, without waiting for the new primary's claim
/// over Akka (src/Actors/Ipsec/README.md, "A primary that steps down"). Chaos seed 6 run 14: DC2_VM1 was killed and
/// started again, FGCP re-elected it primary by priority and DC2_VM2 logged itself Secondary, but DC2_VM1 joined Akka
/// 2.3 s later; until its claim arrived DC2_VM2 still listed vpn1_1 as sync-primary, and the run's window ended with two
/// owners. A unit made primary again before any newer claim reached it owns the tunnel again, sending two jumps on.
/// </summary>
public sealed class SteppedDownOwnerSpec() : TestKit(ConfigurationFactory.ParseString("""
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp.hostname = 127.0.0.1
    akka.remote.dot-netty.tcp.port = 0
    akka.loglevel = WARNING
    """))
{
    private const string Vm1 = "FGVM02TM22000001", Vm2 = "FGVM02TM22000002";

    [Theory]
    // (unit in an FGCP cluster, FGCP primary) → the role it shows for a tunnel its record names it owner of
    [InlineData(true, true, TunnelRole.SyncPrimary)]
    [InlineData(true, false, TunnelRole.Standby)]    // stepped down, or not elected yet: only the primary owns
    [InlineData(false, true, TunnelRole.SyncPrimary)]
    [InlineData(false, false, TunnelRole.SyncPrimary)] // a standalone FGSP member owns what its records say
    public void Only_an_FGCP_clusters_primary_owns_the_tunnels_its_records_name_it_owner_of(bool inCluster, bool primary, TunnelRole shown)
    {
        var own = TunnelOwnershipSpec.Record(owner: Vm2);
        Assert.Equal(shown, TunnelOwnership.ShownRole(own, Vm2, inCluster, primary));
        // Another unit's tunnel is standby here whatever this unit's FGCP role.
        Assert.Equal(TunnelRole.Standby, TunnelOwnership.ShownRole(TunnelOwnershipSpec.Record(owner: Vm1), Vm2, inCluster, primary));
    }

    [Fact]
    public async Task A_primary_made_secondary_lists_its_tunnel_as_standby_and_sends_nothing_before_the_new_primarys_claim_arrives()
    {
        var (phase1, tunnel, taken) = await TakenByVm2();
        var observed = CreateTestProbe();
        Sys.EventStream.Subscribe(observed, typeof(TunnelRoleObserved));

        // DC2_VM1 is back and wins on priority: DC2_VM2 hears it on the heartbeat; the claim is still on its way over Akka.
        phase1.Tell(new HaRoleChanged(Vm2, HaRole.Secondary, Vm1));
        Assert.Equal(TunnelRole.Standby, observed.ExpectMsg<TunnelRoleObserved>(TimeSpan.FromSeconds(3)).Role);
        Assert.Equal(TunnelRole.Standby, (await List(phase1)).Role);
        tunnel.Tell(new EncryptForTunnel(DialupTunnelEspSpec.Echo(IPAddress.Parse("10.10.101.2"), IPAddress.Parse("10.10.1.2"), 9)));
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Assert.Equal(1, (await tunnel.Ask<TunnelDrops>(GetTunnelDrops.Instance)).NotOwner);

        // The claim arrives: the tunnel is DC2_VM1's, and DC2_VM2 goes on holding it as standby.
        phase1.Tell(TunnelOwnership.Claim(taken, Vm1, 1));
        var records = await phase1.Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(3));
        Assert.Equal((Vm1, 3L), (records.Records.Single().OwnerSerial, records.Records.Single().Generation));
        Assert.Equal(TunnelRole.Standby, (await List(phase1)).Role);
    }

    [Fact]
    public async Task A_unit_made_primary_again_before_any_newer_claim_owns_its_tunnel_again_two_jumps_past_what_it_sent()
    {
        var (phase1, tunnel, taken) = await TakenByVm2();
        var sent = new List<uint>();
        for (ushort i = 1; i <= 3; i++)
        {
            tunnel.Tell(new EncryptForTunnel(DialupTunnelEspSpec.Echo(IPAddress.Parse("10.10.101.2"), IPAddress.Parse("10.10.1.2"), i)));
            sent.Add(DialupTunnelEspSpec.SeqOf(ExpectMsg<TunnelEncrypted>()));
        }

        phase1.Tell(new HaRoleChanged(Vm2, HaRole.Secondary, Vm1));
        Assert.Equal(TunnelRole.Standby, (await List(phase1)).Role);
        // DC2_VM1 dies again before its claim ever reached DC2_VM2: DC2_VM2 is primary again.
        phase1.Tell(new HaRoleChanged(Vm2, HaRole.Primary, Vm2));
        Assert.Equal(TunnelRole.SyncPrimary, (await List(phase1)).Role);
        tunnel.Tell(new EncryptForTunnel(DialupTunnelEspSpec.Echo(IPAddress.Parse("10.10.101.2"), IPAddress.Parse("10.10.1.2"), 4)));
        var resumed = DialupTunnelEspSpec.SeqOf(ExpectMsg<TunnelEncrypted>());
        // A claim DC2_VM1 may have made meanwhile sent from the synced number + 2^28: two jumps past DC2_VM2's own are above it.
        Assert.Equal((ulong)sent[^1] + 1 + 2UL * TunnelOwnership.SequenceJump, resumed);
        var records = await phase1.Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(3));
        Assert.Equal((Vm2, taken.Generation), (records.Records.Single().OwnerSerial, records.Records.Single().Generation));
    }

    /// <summary>DC2_VM1 gone: DC2_VM2, primary, has claimed its cluster's tunnel (generation 2).</summary>
    private async Task<(IActorRef Phase1, IActorRef Tunnel, TunnelRecord Taken)> TakenByVm2()
    {
        var config = FortiConfig.Parse(Phase1SpecConfig.Dialup).Value!;
        var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Vm2, config, config.Phase1.Single()));
        var record = DialupTunnelEspSpec.Keyed(TunnelOwnershipSpec.Record(owner: Vm1, group: 1, nextSeq: 0x120));
        var first = record with { Key = TunnelRecord.KeyOf(record.Phase1, record.Ike.SpiI, record.Ike.SpiR) };
        phase1.Tell(first);
        phase1.Tell(new HaRoleChanged(Vm2, HaRole.Primary, Vm2));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        TunnelRecord? taken = null;
        while (taken is null)
        {
            var records = await phase1.Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(3));
            taken = records.Records.SingleOrDefault(r => r.OwnerSerial == Vm2);
            if (taken is null && DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException("DC2_VM2 never claimed the tunnel");
            if (taken is null) await Task.Delay(50);
        }
        Assert.Equal(2, taken.Generation);
        var tunnel = await Sys.ActorSelection(phase1.Path / Uri.EscapeDataString(first.Key)).ResolveOne(TimeSpan.FromSeconds(3));
        Assert.Equal(TunnelRole.SyncPrimary, (await List(phase1)).Role);
        return (phase1, tunnel, taken);
    }

    private static async Task<DialupTunnelState> List(IActorRef phase1) =>
        (await phase1.Ask<TunnelList>(GetTunnelList.Instance, TimeSpan.FromSeconds(3))).Tunnels.Single();
}
