using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using TunnelRecord = ClusterActors.Protocol.Ipsec.TunnelRecord;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// A tunnel's IKE SA that DPD flushed is gone from the phase1 (issue 13: the phase1's IKE SPI index and its gateway only
/// ever grew): the client's next request on it is not answered, and the unit's forwarding plane is told to forget its
/// path. While it lived, its path carried the client's address, which picks between two tunnels that share an inbound
/// SPI (TunnelPaths).
/// </summary>
public sealed class DeletedIkeSaSpec() : TestKit(ConfigurationFactory.ParseString("""
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp.hostname = 127.0.0.1
    akka.remote.dot-netty.tcp.port = 0
    akka.loglevel = WARNING
    """))
{
    private const string Serial = "FGVM02TM22000001";
    private static readonly IPAddress Client = IPAddress.Parse("192.168.7.2");

    /// <summary>DPD on-idle with the shortest FortiOS allows: one probe after 1 s of silence, flushed 1 s later.</summary>
    private static readonly string Config = Phase1SpecConfig.Dialup.Replace("set psksecret \"scenario-psk\"",
        "set psksecret \"scenario-psk\"\n                set dpd on-idle\n                set dpd-retryinterval 1\n                set dpd-retrycount 1");

    [Fact]
    public async Task A_DPD_flushed_IKE_SA_answers_no_more_and_its_path_is_removed()
    {
        var config = FortiConfig.Parse(Config).Value!;
        Assert.Equal(DpdMode.OnIdle, config.Phase1.Single().Dpd);
        // The test actor is the phase1's parent (the unit): it hears the paths the forwarding plane would.
        var phase1 = ChildActorOf(IpsecPhase1Actor.Props(Serial, config, config.Phase1.Single()));
        phase1.Tell(new HaRoleChanged(Serial, HaRole.Primary, Serial));
        AwaitAssert(() => Assert.NotEmpty(phase1.Ask<IkeReplies>(new IkeDatagram(IPAddress.Parse("192.168.7.3"), 500,
            NewClient().Start()), TimeSpan.FromSeconds(3)).Result.Datagrams), TimeSpan.FromSeconds(10));

        var client = NewClient();
        var auth = Assert.Single(client.Handle(Ask(phase1, client.Start())).Replies);
        Assert.Contains(client.Handle(Ask(phase1, auth)).Events, e => e is IkeSaEstablished);
        var key = TunnelRecord.KeyOf("vpn1", client.Sa!.SpiI, client.Sa.SpiR);

        var path = (TunnelPathChanged)FishForMessage(m => m is TunnelPathChanged p && p.Key == key, TimeSpan.FromSeconds(5));
        Assert.Equal(client.Child!.OutboundSpi, path.InboundSpi);
        Assert.Equal(Client, path.RemoteGateway);

        // The client falls silent: one probe, then the flush.
        FishForMessage(m => m is TunnelPathRemoved r && r.Key == key, TimeSpan.FromSeconds(10));
        var record = (await phase1.Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(3))).Records.Single();
        Assert.True(record.Deleted);

        // The client comes back with a DPD of its own on the flushed SA: the gateway no longer holds it.
        var replies = await phase1.Ask<IkeReplies>(new IkeDatagram(Client, 500, client.Dpd()), TimeSpan.FromSeconds(5));
        Assert.True(replies.Datagrams.Count == 0, "a DPD on the flushed IKE SA was answered: the gateway still held it");
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
