using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using TunnelRecord = ClusterActors.Protocol.Ipsec.TunnelRecord;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// The phase1 actor keeps the synced record's IKE message IDs in step with its gateway. Found with strongSwan
/// (src/Node/lab/strongswan): after a CHILD SA rekey the client deletes the old CHILD SA (INFORMATIONAL, message 3); the
/// record still said "expect 3", the tunnel's next sequence sync rewrote the record and resumed the gateway from it,
/// and the client's IKE SA Delete (message 4) was dropped as outside the window — never answered.
/// </summary>
public sealed class Phase1MessageIdSyncSpec() : TestKit(ConfigurationFactory.ParseString("""
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp.hostname = 127.0.0.1
    akka.remote.dot-netty.tcp.port = 0
    akka.loglevel = WARNING
    """))
{
    private const string Serial = "FGVM02TM22000001";
    private static readonly IPAddress Client = IPAddress.Parse("192.168.7.2");

    private const string Config = Phase1SpecConfig.Dialup;

    [Fact]
    public async Task After_a_rekey_and_the_old_CHILD_SA_Delete_a_sequence_sync_does_not_set_the_gateway_back_and_the_IKE_SA_Delete_is_answered()
    {
        var config = FortiConfig.Parse(Config).Value!;
        var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Serial, config, config.Phase1.Single()));
        phase1.Tell(new HaRoleChanged(Serial, HaRole.Primary, Serial));
        var client = NewClient();

        // The role arrives asynchronously: a probe IKE_SA_INIT (another client's) is answered once this unit is primary.
        AwaitAssert(() => Assert.NotEmpty(phase1.Ask<IkeReplies>(new IkeDatagram(IPAddress.Parse("192.168.7.3"), 500,
            NewClient().Start()), TimeSpan.FromSeconds(3)).Result.Datagrams), TimeSpan.FromSeconds(10));
        var auth = Assert.Single(client.Handle(Ask(phase1, client.Start())).Replies);
        Assert.Contains(client.Handle(Ask(phase1, auth)).Events, e => e is IkeSaEstablished);
        var sa = client.Sa!;
        var key = TunnelRecord.KeyOf("vpn1", sa.SpiI, sa.SpiR);
        var old = client.Child!;

        Assert.Contains(client.Handle(Ask(phase1, client.RekeyChild())).Events, e => e is ChildSaRekeyed);       // message 2
        Assert.Contains(client.Handle(Ask(phase1, client.DeleteChild(old.InboundSpi))).Events, e => e is ChildSaDeleted); // message 3
        phase1.Tell(new SyncTunnelSequence(key, 10, 5));           // the tunnel's sequence sync rewrites the record

        var replies = await phase1.Ask<IkeReplies>(new IkeDatagram(Client, 500, client.DeleteIkeSa()), TimeSpan.FromSeconds(5));
        Assert.True(replies.Datagrams.Count == 1, $"the IKE SA Delete was not answered ({replies.Refused})");
        Assert.Contains(client.Handle(replies.Datagrams[0]).Events, e => e is IkeSaDeleted);
    }

    private static IkeInitiator NewClient() => new(new IkeInitiatorSettings("scenario-psk", "Nokia_Peer", ["aes128-sha1"], [2],
        [TrafficSelector.FromCidr("10.10.1.0/24")], [TrafficSelector.FromCidr("10.10.101.0/24")]), IPAddress.Parse("192.168.202.35"));

    private static byte[] Ask(IActorRef phase1, byte[] request)
    {
        var replies = phase1.Ask<IkeReplies>(new IkeDatagram(Client, 500, request), TimeSpan.FromSeconds(5)).Result;
        Assert.True(replies.Datagrams.Count == 1, $"expected one reply ({replies.Refused})");
        return replies.Datagrams[0];
    }
}
