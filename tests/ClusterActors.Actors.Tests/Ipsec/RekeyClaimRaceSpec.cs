using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Ipsec;
using static ClusterActors.Actors.Tests.Ipsec.TunnelOwnershipSpec;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// The phase1 actor applies <see cref="TunnelOwnership.Merge"/> (src/Actors/Ipsec/README.md, "A rekey and a claim at
/// once"): DC2_VM2 claimed vpn1_1 at generation 6 from the old CHILD SA while DC2_VM1, the owner at 5, rekeyed it (the
/// client now holds the new SA). Whichever of the two records reaches DC2_VM2 first, it ends up owning the tunnel on
/// the new CHILD SA, sending from the rekey's next number + 2^28, and holds the graft (one sync on) it writes for the
/// others. Before, the rekey lost to the claim: DC2_VM2 sent on the old SA, which the client had deleted.
/// </summary>
public sealed class RekeyClaimRaceSpec() : TestKit(ConfigurationFactory.ParseString("""
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp.hostname = 127.0.0.1
    akka.remote.dot-netty.tcp.port = 0
    akka.loglevel = WARNING
    """))
{
    private const string Config = Phase1SpecConfig.Dialup;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_claimer_that_gets_the_crossed_rekey_owns_the_tunnel_on_the_new_CHILD_SA(bool claimFirst)
    {
        var config = FortiConfig.Parse(Config).Value!;
        var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Vm2, config, config.Phase1.Single()));
        // Keys as the SA's own (SyncAuthorization refuses a record whose key is not its IKE SA's).
        static TunnelRecord Keyed(TunnelRecord r) => r with { Key = TunnelRecord.KeyOf(r.Phase1, r.Ike.SpiI, r.Ike.SpiR) };
        var rekey = Keyed(Row(Vm1, 5, 8, 2, 1));
        var claim = Keyed(Row(Vm2, 6, 0, 1, 0x10000400));
        foreach (var r in claimFirst ? new[] { claim, rekey } : [rekey, claim]) phase1.Tell(r);
        // DC2_VM2 made the claim, so it is its FGCP cluster's primary: inside a cluster only the primary owns a tunnel
        // (TunnelOwnership.ShownRole). Told after both records, so it claims nothing itself.
        phase1.Tell(new HaRoleChanged(Vm2, HaRole.Primary, Vm2));

        AwaitAssert(() =>
        {
            var held = Assert.Single(phase1.Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(3)).Result.Records);
            Assert.Equal((Vm2, 6L, 1L, 2, rekey.Child.InboundSpi), (held.OwnerSerial, held.Generation, held.SyncSeq, held.ProxyIdSerial, held.Child.InboundSpi));
            var tunnel = Assert.Single(phase1.Ask<TunnelList>(GetTunnelList.Instance, TimeSpan.FromSeconds(3)).Result.Tunnels);
            Assert.Equal((TunnelRole.SyncPrimary, rekey.Child.InboundSpi, rekey.Child.OutboundSpi, 0x10000001u),
                (tunnel.Role, tunnel.Sa.Dec.Spi, tunnel.Sa.Enc.Spi, tunnel.Sa.NextOutboundSeq));
        }, TimeSpan.FromSeconds(10));
    }
}
