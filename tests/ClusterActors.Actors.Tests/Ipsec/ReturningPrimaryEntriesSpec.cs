using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.DistributedData;
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
/// A returning primary gets its previous incarnation's entries from its FGCP peer before its Akka rejoin
/// (src/Actors/Ipsec/README.md, "A returning unit"). Chaos seed 1 run 44: DC2_VM1, killed and started again within
/// 0.3 s (quicker than FGCP's detection), was primary again at once, but learnt of vpn1_1 only from Distributed Data
/// after its rejoin: no owner and PC1's echoes lost for 4.5–8.5 s.
/// </summary>
public sealed class ReturningPrimaryEntriesSpec : TestKit
{
    private const string Vm1 = "FGVM02TM22000001", Vm2 = "FGVM02TM22000002", Vm3 = "FGVM02TM22000003";
    private static readonly UnitIdentities Identities = new(enforcing: false);

    private static Akka.Configuration.Config Config() => Phase1SpecConfig.WireConfig();

    public ReturningPrimaryEntriesSpec() : base(BootstrapSetup.Create().WithConfig(Config()).And(new UnitIdentitiesSetup(Identities)))
    {
    }

    private static readonly ConfigDocument Dialup = FortiConfig.Parse(Phase1SpecConfig.Dialup).Value!;

    /// <summary>vpn1_1 as DC2_VM1's previous incarnation last wrote it: owner, generation 1. Wire-valid.</summary>
    private static TunnelRecord Vm1sRecord()
    {
        var r = DialupTunnelEspSpec.Keyed(TunnelOwnershipSpec.Record(owner: Vm1, group: 1, nextSeq: 0x120));
        return r with { Key = TunnelRecord.KeyOf(r.Phase1, r.Ike.SpiI, r.Ike.SpiR), Ike = r.Ike with { LastResponseId = null } };
    }

    /// <summary>Another ActorSystem standing for a unit at the address its certificate was proved on, with a probe
    /// where its phase1 would be.</summary>
    private (ActorSystem System, Akka.TestKit.TestProbe Phase1) Unit(string name, string serial, string phase1Path)
    {
        var system = ActorSystem.Create(Sys.Name, Config());
        var probe = new Akka.TestKit.TestProbe(system, new XunitAssertions());
        system.ActorOf(Props.Create(() => new Forward(probe.Ref)), phase1Path);
        Identities.Bind(((ExtendedActorSystem)system).Provider.DefaultAddress, new UnitIdentity(name, serial));
        return (system, probe);
    }

    [Fact]
    public async Task A_returning_primary_that_is_no_Akka_member_asks_its_FGCP_peer_claims_what_it_gets_and_tells_the_peer()
    {
        var (vm2, vm2Phase1) = Unit("DC2_VM2", Vm2, "phase1-ask");
        try
        {
            // DC2_VM1's new incarnation: no record, not an Akka member (this system never joined), made primary.
            var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Vm1, Dialup, Dialup.Phase1.Single()), "phase1-ask");
            phase1.Tell(new FgcpClusterMembers([Vm1, Vm2]));
            phase1.Tell(new HaRoleChanged(Vm1, HaRole.Primary, Vm1));

            var asked = vm2Phase1.ExpectMsg<TunnelEntriesWanted>(TimeSpan.FromSeconds(3));
            Assert.Equal(Vm1, asked.Serial);

            // DC2_VM2 answers with the entry DC2_VM1's previous incarnation signed (here unsigned: identities not enforcing).
            var old = Vm1sRecord();
            vm2Phase1.Reply(new TunnelEntries(Vm2, SignedReplicas.ClearManifest, [new TunnelEntry(old.Key, TunnelRecordSignature.Wrap(old, null, Vm1))]));

            // Inherited, so re-claimed at once: generation 2, from the synced next number plus the jump.
            var claimed = await Phase1Records.Held(phase1, r => r.OwnerSerial == Vm1 && r.Generation == 2);
            Assert.Equal(0x120u + TunnelOwnership.SequenceJump, claimed.NextOutboundSeq);
            // … and the claim goes back to the answerer at once (no push reached it: this unit is no member yet).
            var pushed = vm2Phase1.FishForMessage<TunnelRecord>(_ => true, TimeSpan.FromSeconds(3));
            Assert.Equal((Vm1, 2L), (pushed.OwnerSerial, pushed.Generation));
            // Answered: no more questions (one may have crossed the answer).
            await Task.Delay(300);
            vm2Phase1.ReceiveWhile<object>(TimeSpan.FromMilliseconds(100), m => m);
            var after = vm2Phase1.ReceiveWhile<object>(TimeSpan.FromSeconds(1.2), m => m);
            Assert.DoesNotContain(after, m => m is TunnelEntriesWanted);
        }
        finally
        {
            await vm2.Terminate();
        }
    }

    [Fact]
    public async Task An_answer_from_a_unit_outside_the_FGCP_cluster_is_dropped()
    {
        var (vm3, vm3Phase1) = Unit("DC2_VM3", Vm3, "phase1-stranger");
        try
        {
            var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Vm1, Dialup, Dialup.Phase1.Single()), "phase1-stranger");
            phase1.Tell(new FgcpClusterMembers([Vm1, Vm2]));
            phase1.Tell(new HaRoleChanged(Vm1, HaRole.Primary, Vm1));
            var old = Vm1sRecord();
            var refusedBefore = Identities.Refusals.Count("tunnel-entries");
            // DC2_VM3 (cluster 2) was never asked; it answers anyway, with a genuine entry.
            phase1.Tell(new TunnelEntries(Vm3, SignedReplicas.ClearManifest, [new TunnelEntry(old.Key, TunnelRecordSignature.Wrap(old, null, Vm1))]), vm3Phase1.Ref);
            await AwaitConditionAsync(() => Task.FromResult(Identities.Refusals.Count("tunnel-entries") == refusedBefore + 1), TimeSpan.FromSeconds(3));
            Assert.Empty((await phase1.Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(3))).Records);
        }
        finally
        {
            await vm3.Terminate();
        }
    }

    [Fact]
    public async Task A_peer_sends_a_returning_unit_only_the_entries_it_signed_and_only_where_its_certificate_was_proved()
    {
        var (vm1, vm1Phase1) = Unit("DC2_VM1", Vm1, "phase1-serve");
        try
        {
            // DC2_VM2, secondary, holds in its replica vpn1_1 as DC2_VM1 signed it and another tunnel DC2_VM2 signed.
            var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Vm2, Dialup, Dialup.Phase1.Single()), "phase1-serve");
            phase1.Tell(new FgcpClusterMembers([Vm1, Vm2]));
            phase1.Tell(new HaRoleChanged(Vm2, HaRole.Secondary, Vm1));
            var vm1s = Vm1sRecord();
            var other = DialupTunnelEspSpec.Keyed(TunnelOwnershipSpec.Record(owner: Vm2, group: 1) with { Ike = vm1s.Ike with { SpiI = 0x77, SpiR = 0x88 } });
            other = other with { Key = TunnelRecord.KeyOf(other.Phase1, other.Ike.SpiI, other.Ike.SpiR) };
            var dataKey = FgspSync.DataKey("vpn1", Dialup.Phase1.Single().FgspSync, 1, Vm2);
            var cluster = Cluster.Get(Sys);
            var replicator = DistributedData.Get(Sys).Replicator;
            foreach (var (r, signer) in new[] { (vm1s, Vm1), (other, Vm2) })
            {
                var shardKey = new LWWDictionaryKey<string, SignedTunnelRecord>(FgspSync.ShardKey(dataKey, FgspSync.ShardOf(r.Key)));
                replicator.Tell(Dsl.Update(shardKey, LWWDictionary<string, SignedTunnelRecord>.Empty, WriteLocal.Instance,
                    d => d.SetItem(cluster, r.Key, TunnelRecordSignature.Wrap(r, null, signer))));
                ExpectMsg<UpdateSuccess>();
            }

            // The question comes from somewhere else (a local probe): the answer still goes only to the address DC2_VM1's
            // certificate was proved on.
            var elsewhere = CreateTestProbe();
            phase1.Tell(new TunnelEntriesWanted(Vm1), elsewhere.Ref);
            // The first answer with entries (a cold association may take a while), then whatever else comes.
            var answers = new List<TunnelEntries> { vm1Phase1.FishForMessage<TunnelEntries>(e => e.Entries.Count > 0, TimeSpan.FromSeconds(10)) };
            answers.AddRange(vm1Phase1.ReceiveWhile<object>(TimeSpan.FromSeconds(1), m => m).OfType<TunnelEntries>());
            var entries = answers.SelectMany(a => a.Entries).ToList();
            Assert.Equal([vm1s.Key], entries.Select(e => e.Key));
            Assert.All(entries, e => Assert.Equal(Vm1, e.Entry.SignerSerial));
            Assert.All(answers, a => Assert.Equal(Vm2, a.FromSerial));
            elsewhere.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

            // A unit of another FGCP cluster asking for DC2_VM1's entries (or its own) gets nothing.
            var (vm3, vm3Phase1) = Unit("DC2_VM3", Vm3, "phase1-serve");
            try
            {
                var refusedBefore = Identities.Refusals.Count("tunnel-entries-wanted");
                phase1.Tell(new TunnelEntriesWanted(Vm3), vm3Phase1.Ref);
                await AwaitConditionAsync(() => Task.FromResult(Identities.Refusals.Count("tunnel-entries-wanted") == refusedBefore + 1), TimeSpan.FromSeconds(3));
                vm3Phase1.ExpectNoMsg(TimeSpan.FromSeconds(1));
            }
            finally
            {
                await vm3.Terminate();
            }
        }
        finally
        {
            await vm1.Terminate();
        }
    }

    private sealed class Forward : ReceiveActor
    {
        public Forward(IActorRef to) => ReceiveAny(m => to.Forward(m));
    }
}
