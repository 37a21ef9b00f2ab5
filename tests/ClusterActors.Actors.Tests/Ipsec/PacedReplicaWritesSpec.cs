using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.Event;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Unit;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// An FGCP takeover's claims reach the other units' Distributed Data replicas without a frame dropped
/// (src/Actors/Ipsec/README.md, "Distributed Data at scale"). Before the unit's write budget, the new primary wrote all
/// its claims at once and Akka's replicator sent them to each member as one delta message over the 128,000-byte frame:
/// remoting dropped it ("Discarding oversized payload", 6.6 MB for 5,199 claims in `sa-sync --processes --failover`),
/// and the later deltas of those shards were skipped until full-state gossip, itself over the frame, repaired them.
/// </summary>
public sealed class PacedReplicaWritesSpec : TestKit
{
    private const string Vm2 = "FGVM02TM22000002";
    private const int Tunnels = 400;
    private static readonly UnitIdentities Identities = new(enforcing: false);
    private static readonly string Config = Phase1SpecConfig.Dialup.Replace("set type dynamic", "set type dynamic\n        set fgsp-sync enable");

    public PacedReplicaWritesSpec() : base(BootstrapSetup.Create().WithConfig(Phase1SpecConfig.WireConfig()).And(new UnitIdentitiesSetup(Identities)))
    {
    }

    [Fact]
    public async Task A_takeover_of_400_tunnels_reaches_another_replica_whole_with_no_frame_dropped()
    {
        var errors = CreateTestProbe();
        Sys.EventStream.Subscribe(errors.Ref, typeof(Error));
        var config = FortiConfig.Parse(Config).Value!;
        var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Vm2, config, config.Phase1.Single()), "phase1-vpn1");
        var records = Enumerable.Range(0, Tunnels).Select(BatchedClaimsSpec.Dc2Vm1s).ToList();
        foreach (var r in records) phase1.Tell(r);
        await AwaitAssertAsync(async () => Assert.Equal(Tunnels,
            (await phase1.Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(3))).Records.Count), TimeSpan.FromSeconds(10));

        // DC2_VM3: another ActorSystem in the same Akka cluster, only its replicator.
        using var vm3 = ActorSystem.Create(Sys.Name, Phase1SpecConfig.WireConfig());
        var replica = DistributedData.Get(vm3).Replicator;
        var first = Cluster.Get(Sys).SelfAddress;
        Cluster.Get(Sys).Join(first);
        Cluster.Get(vm3).Join(first);
        await AwaitConditionAsync(() => Task.FromResult(Cluster.Get(Sys).State.Members.Count(m => m.Status == MemberStatus.Up) == 2), TimeSpan.FromSeconds(20));

        phase1.Tell(new HaRoleChanged(Vm2, HaRole.Primary, Vm2));
        await AwaitAssertAsync(async () =>
        {
            var held = await Entries(replica);
            Assert.Equal(Tunnels, held.Count);
            Assert.All(held, e => Assert.Equal(Vm2, e.SignerSerial));
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(500));
        var logged = errors.ReceiveWhile(TimeSpan.FromMilliseconds(200), m => m as Error).Select(e => e.ToString()).ToList();
        Assert.DoesNotContain(logged, e => e.Contains("oversized", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Every tunnel entry DC2_VM3's replica holds, whatever the shard, newest per tunnel (a claim replaces the
    /// owner's entry only where DC2_VM2 wrote it; this replica got nothing from DC2_VM1, so every entry is a claim).</summary>
    private static async Task<IReadOnlyList<SignedTunnelRecord>> Entries(IActorRef replicator)
    {
        var ids = (GetKeysIdsResult)await replicator.Ask(Dsl.GetKeyIds, TimeSpan.FromSeconds(3));
        var all = new List<SignedTunnelRecord>();
        foreach (var id in ids.Keys.Where(k => k.StartsWith("ipsec-", StringComparison.Ordinal)))
        {
            var key = new LWWDictionaryKey<string, SignedTunnelRecord>(id);
            if (await replicator.Ask(Dsl.Get(key, ReadLocal.Instance), TimeSpan.FromSeconds(3)) is GetSuccess success)
                all.AddRange(success.Get(key).Entries.Values);
        }
        return all;
    }
}
