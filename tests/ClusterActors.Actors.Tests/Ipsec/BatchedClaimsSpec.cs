using TrafficSelector = ClusterActors.Protocol.Ike.TrafficSelector;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Unit;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// An FGCP takeover claims its whole cluster's tunnels at once (issue 13, goal 5; src/Actors/Ipsec/README.md "Batched
/// sync"): DC2_VM1 killed, DC2_VM2 becomes primary holding 150 of its tunnels, and each other unit receives the claims in
/// batches of at most <see cref="SyncBatches.MaxRecords"/>, not 150 messages. Before, one push per tunnel per unit (and
/// one Distributed Data update per tunnel): 10,000 tunnels meant 10,000 messages to each of three units at the moment of
/// the failover.
/// </summary>
public sealed class BatchedClaimsSpec : TestKit
{
    private const string Vm1 = "FGVM02TM22000001", Vm2 = "FGVM02TM22000002";
    private const int Tunnels = 150;
    private static readonly UnitIdentities Identities = new(enforcing: false);

    /// <summary>`set fgsp-sync enable`: every member of the Akka cluster is a push target, DC2_VM3 here.</summary>
    private static readonly string Config = Phase1SpecConfig.Dialup.Replace("set type dynamic", "set type dynamic\n        set fgsp-sync enable");

    public BatchedClaimsSpec() : base(BootstrapSetup.Create().WithConfig(Phase1SpecConfig.WireConfig()).And(new UnitIdentitiesSetup(Identities)))
    {
    }

    /// <summary>DC2_VM1's tunnel number <paramref name="i"/>: its own SPIs, name and key, a record the strict codec accepts.</summary>
    internal static TunnelRecord Dc2Vm1s(int i)
    {
        var r = TunnelOwnershipSpec.Record(owner: Vm1, group: 1);
        r = r with
        {
            Name = $"vpn1_{i + 1}", Index = i + 1,
            Ike = r.Ike with { SpiI = 0x1122334455660000UL + (ulong)i, SpiR = 0x8877665544330000UL + (ulong)i, LastResponseId = null },
            Child = r.Child with { InboundSpi = 0x37f40000u + (uint)i, OutboundSpi = 0x10aa0000u + (uint)i },
            RemoteSelectors = [TrafficSelector.FromCidr($"10.{10 + i / 256}.{i % 256}.0/24")],
        };
        return r with { Key = TunnelRecord.KeyOf(r.Phase1, r.Ike.SpiI, r.Ike.SpiR) };
    }

    [Fact]
    public async Task A_new_primary_sends_its_claims_of_the_clusters_tunnels_in_batches_not_one_message_per_tunnel()
    {
        var config = FortiConfig.Parse(Config).Value!;
        var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Vm2, config, config.Phase1.Single()), "phase1-vpn1");
        var records = Enumerable.Range(0, Tunnels).Select(Dc2Vm1s).ToList();
        foreach (var r in records) phase1.Tell(r);
        await AwaitAssertAsync(async () => Assert.Equal(Tunnels,
            (await phase1.Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(3))).Records.Count(r => r.OwnerSerial == Vm1)), TimeSpan.FromSeconds(10));

        // DC2_VM3: another ActorSystem in the same Akka cluster, its phase1 at the same path, a probe behind it.
        using var vm3 = ActorSystem.Create(Sys.Name, Phase1SpecConfig.WireConfig());
        var received = new Akka.TestKit.TestProbe(vm3, new XunitAssertions());
        vm3.ActorOf(Props.Create(() => new Forward(received.Ref)), "phase1-vpn1");
        Identities.Bind(((ExtendedActorSystem)vm3).Provider.DefaultAddress, new UnitIdentity("DC2_VM3", "FGVM02TM22000003"));
        var first = Cluster.Get(Sys).SelfAddress;
        Cluster.Get(Sys).Join(first);
        Cluster.Get(vm3).Join(first);
        await AwaitConditionAsync(() => Task.FromResult(Cluster.Get(Sys).State.Members.Count(m => m.Status == MemberStatus.Up) == 2), TimeSpan.FromSeconds(20));
        received.ExpectNoMsg(TimeSpan.FromMilliseconds(500)); // DC2_VM2 owns nothing yet: nothing to push on the arrival

        var owners = CreateTestProbe();
        Sys.EventStream.Subscribe(owners.Ref, typeof(TunnelOwnerChanged));
        phase1.Tell(new HaRoleChanged(Vm2, HaRole.Primary, Vm2));

        var messages = new List<object>();
        var claimed = 0;
        while (claimed < Tunnels)
        {
            var m = received.ReceiveOne(TimeSpan.FromSeconds(5)) ?? throw new Xunit.Sdk.XunitException($"{claimed} of {Tunnels} claims arrived, in {messages.Count} messages");
            messages.Add(m);
            claimed += m switch { TunnelRecordBatch b => b.Records.Count, TunnelRecord => 1, _ => 0 };
        }
        Assert.True(messages.All(m => m is TunnelRecordBatch), $"{messages.Count(m => m is TunnelRecord)} single pushes among {messages.Count} messages");
        var batches = messages.OfType<TunnelRecordBatch>().ToList();
        Assert.Equal((Tunnels + SyncBatches.MaxRecords - 1) / SyncBatches.MaxRecords, batches.Count);
        var claims = batches.SelectMany(b => b.Records).ToList();
        Assert.Equal(records.Select(r => r.Key).Order(), claims.Select(c => c.Key).Order());
        Assert.All(claims, c => Assert.Equal((Vm2, 2L), (c.OwnerSerial, c.Generation)));
        // Each claim once, and nothing more: no per-tunnel push follows the batches.
        received.ExpectNoMsg(TimeSpan.FromSeconds(1));
        // Each change of owner is also told to the unit's trace (sa-sync --failover's figures), once per tunnel.
        var changed = owners.ReceiveN(Tunnels, TimeSpan.FromSeconds(3)).Cast<TunnelOwnerChanged>().ToList();
        Assert.Equal(records.Select(r => r.Key).Order(), changed.Select(c => c.Key).Order());
        Assert.All(changed, c => Assert.Equal((Vm2, Vm2, 2L), (c.Serial, c.Owner, c.Generation)));
    }

    private sealed class Forward : ReceiveActor
    {
        public Forward(IActorRef to) => ReceiveAny(m => to.Forward(m));
    }
}

/// <summary>
/// A batch is no way around the sync rules: each record in it is checked as if it came alone, against the unit that the
/// sender's certificate proves (enforcing identities). DC2_VM3 sends a batch with its own tunnel and one that names
/// DC2_VM1 as owner: the first is held, the second dropped and counted as a single forged push is.
/// </summary>
public sealed class BatchedPushAuthorizationSpec : TestKit
{
    private const string Vm2 = "FGVM02TM22000002", Vm3 = "FGVM02TM22000003";
    private static readonly UnitIdentities Identities = new(enforcing: true);
    private static readonly string Config = Phase1SpecConfig.Dialup.Replace("set type dynamic", "set type dynamic\n        set fgsp-sync enable");

    public BatchedPushAuthorizationSpec() : base(BootstrapSetup.Create().WithConfig(Phase1SpecConfig.WireConfig()).And(new UnitIdentitiesSetup(Identities)))
    {
    }

    [Fact]
    public async Task Each_record_of_a_batch_is_checked_against_the_sender_its_certificate_proves()
    {
        var config = FortiConfig.Parse(Config).Value!;
        var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Vm2, config, config.Phase1.Single()), "phase1-vpn1");
        using var vm3 = ActorSystem.Create(Sys.Name, Phase1SpecConfig.WireConfig());
        Identities.Bind(((ExtendedActorSystem)vm3).Provider.DefaultAddress, new UnitIdentity("DC2_VM3", Vm3));
        var sender = vm3.ActorOf(Props.Create(() => new Relay()), "sender");

        var own = BatchedClaimsSpec.Dc2Vm1s(0) with { OwnerSerial = Vm3, OwnerFgcpGroup = 2 };
        var forged = BatchedClaimsSpec.Dc2Vm1s(1); // names DC2_VM1, sent by DC2_VM3
        var before = Identities.Refusals.Counts.GetValueOrDefault("tunnel-record");
        var to = vm3.ActorSelection(phase1.Path.ToStringWithAddress(((ExtendedActorSystem)Sys).Provider.DefaultAddress));
        sender.Tell((to, (object)new TunnelRecordBatch([own, forged])));

        await AwaitAssertAsync(async () =>
        {
            var held = (await phase1.Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(3))).Records;
            Assert.Equal([own.Key], held.Select(r => r.Key));
            Assert.Equal(Vm3, held.Single().OwnerSerial);
        }, TimeSpan.FromSeconds(10));
        await AwaitAssertAsync(() => Assert.Equal(before + 1, Identities.Refusals.Counts.GetValueOrDefault("tunnel-record")), TimeSpan.FromSeconds(5));
    }

    /// <summary>Sends what it is told to send, from its own ActorSystem (so the sender's address is DC2_VM3's).</summary>
    private sealed class Relay : ReceiveActor
    {
        public Relay() => Receive<(ActorSelection To, object Message)>(m => m.To.Tell(m.Message, Self));
    }
}
