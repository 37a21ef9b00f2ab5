using ClusterActors.Protocol.Ipsec;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Tests.Forwarding;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using System.Net;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// The phase1 tells its instances whether its unit may claim by traffic (only its FGCP cluster's primary may). Docker
/// chaos seed 1 run 9 (SIGSTOP of the owner DC2_VM1, 4.2 s): DC2_VM2 took vpn1_1 over (generation 2), DC2_VM1 resumed,
/// won the election on priority and re-claimed it (generation 3), DC2_VM2 stepped down; ESP still reached DC2_VM2 for a
/// moment, its instance claimed by traffic and encrypted the replies from generation 3's next + 2^28 while the phase1
/// refused the claim, and CLIENT1 then dropped every packet of the real owner as a replay (10,826, PC1 never answered).
/// </summary>
public sealed class SecondaryTrafficClaimSpec() : TestKit(ConfigurationFactory.ParseString("""
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp.hostname = 127.0.0.1
    akka.remote.dot-netty.tcp.port = 0
    akka.loglevel = WARNING
    """))
{
    private const string Vm1 = "FGVM02TM22000001", Vm2 = "FGVM02TM22000002";

    private const string Config = Phase1SpecConfig.Dialup;

    [Fact]
    public async Task A_unit_that_stepped_down_to_secondary_neither_claims_nor_encrypts_for_the_ESP_that_still_reaches_it()
    {
        var config = FortiConfig.Parse(Config).Value!;
        var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Vm2, config, config.Phase1.Single()));
        var record = DialupTunnelEspSpec.Keyed(TunnelOwnershipSpec.Record(owner: Vm1, group: 1, nextSeq: 0x120));
        // Under its IKE SA's own key: SyncAuthorization refuses a record whose key is not its SA's.
        var first = record with { Key = TunnelRecord.KeyOf(record.Phase1, record.Ike.SpiI, record.Ike.SpiR) };
        var (toGateway, _) = DialupTunnelEspSpec.Client(first);

        // DC2_VM1 frozen: DC2_VM2 primary claims its cluster's tunnel (generation 2).
        phase1.Tell(first);
        phase1.Tell(new HaRoleChanged(Vm2, HaRole.Primary, Vm2));
        var taken = await Records(phase1, r => r.OwnerSerial == Vm2);
        Assert.Equal(2, taken.Generation);

        // SIGCONT: DC2_VM1 wins on priority, DC2_VM2 steps down, DC2_VM1's re-claim (generation 3) arrives.
        phase1.Tell(new HaRoleChanged(Vm2, HaRole.Secondary, Vm1));
        var reclaimed = TunnelOwnership.Claim(taken, Vm1, 1);
        phase1.Tell(reclaimed);
        await Records(phase1, r => r.OwnerSerial == Vm1 && r.Generation == 3);

        // ESP that the switch still delivers to DC2_VM2: forwarded inward, but no reply leaves it.
        var tunnel = await Sys.ActorSelection(phase1.Path / Uri.EscapeDataString(first.Key)).ResolveOne(TimeSpan.FromSeconds(3));
        tunnel.Tell(DialupTunnelEspSpec.Arrived(toGateway.Seal(DialupTunnelEspSpec.Echo(IPAddress.Parse("10.10.1.2"), IPAddress.Parse("10.10.101.2"), 1))));
        ExpectMsg<TunnelDecrypted>();
        for (ushort i = 1; i <= 5; i++)
            tunnel.Tell(new EncryptForTunnel(DialupTunnelEspSpec.Echo(IPAddress.Parse("10.10.101.2"), IPAddress.Parse("10.10.1.2"), i)));
        ExpectNoMsg(TimeSpan.FromMilliseconds(500));
        var after = await Records(phase1, _ => true);
        Assert.Equal((Vm1, 3L), (after.OwnerSerial, after.Generation));
        Assert.Equal(5, (await tunnel.Ask<TunnelDrops>(GetTunnelDrops.Instance)).NotOwner);
    }

    private static async Task<Protocol.Ipsec.TunnelRecord> Records(IActorRef phase1, Func<Protocol.Ipsec.TunnelRecord, bool> until)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            var records = await phase1.Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(3));
            if (records.Records.SingleOrDefault() is { } r && until(r)) return r;
            if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException($"no such record: {string.Join(", ", records.Records.Select(x => $"{x.OwnerSerial} g{x.Generation}"))}");
            await Task.Delay(50);
        }
    }
}
