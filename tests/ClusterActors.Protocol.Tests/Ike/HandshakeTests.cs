using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using static ClusterActors.Protocol.Tests.Ike.IkeTestKit;

namespace ClusterActors.Protocol.Tests.Ike;

public class HandshakeTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(14)]
    public void Client_and_gateway_agree_on_every_key(int group)
    {
        var run = Handshake(GatewaySettings(group), ClientSettings(group));
        var gw = run.AtGateway;
        var cl = run.AtClient;

        Assert.Equal(IkeInitiatorPhase.Established, run.Initiator.Phase);
        Assert.Equal("Nokia_Peer", gw.PeerId);
        Assert.Equal("192.168.202.35", cl.PeerId);
        Assert.Equal(group, gw.Sa.DhGroup);
        Assert.Equal(gw.Sa.SpiI, cl.Sa.SpiI);
        Assert.Equal(gw.Sa.SpiR, cl.Sa.SpiR);
        Assert.Equal(gw.Sa.Keys.SkD, cl.Sa.Keys.SkD);
        Assert.Equal(gw.Sa.Keys.SkEi, cl.Sa.Keys.SkEi);
        Assert.Equal(gw.Sa.Keys.SkPr, cl.Sa.Keys.SkPr);

        // What one side encrypts with, the other decrypts with; SPIs cross over the same way.
        Assert.Equal(cl.Child.OutboundSpi, gw.Child.InboundSpi);
        Assert.Equal(cl.Child.InboundSpi, gw.Child.OutboundSpi);
        Assert.Equal(cl.Child.OutboundEncKey, gw.Child.InboundEncKey);
        Assert.Equal(cl.Child.OutboundAuthKey, gw.Child.InboundAuthKey);
        Assert.Equal(cl.Child.InboundEncKey, gw.Child.OutboundEncKey);
        Assert.Equal(cl.Child.InboundAuthKey, gw.Child.OutboundAuthKey);
        Assert.Equal(16, gw.Child.InboundEncKey.Length);
        Assert.Equal(20, gw.Child.InboundAuthKey.Length);
        Assert.NotEqual(gw.Child.InboundEncKey, gw.Child.OutboundEncKey);

        // Narrowing: TSi is the client's subnet, TSr what it asked within 0.0.0.0/0.
        Assert.Equal([TrafficSelector.FromCidr("10.10.1.0/24")], gw.Ts.Initiator);
        Assert.Equal([TrafficSelector.Any], gw.Ts.Responder);
        Assert.Equal(gw.Ts.Initiator, cl.Ts.Initiator);

        // Message IDs after IKE_AUTH: the client's next request is #2, which the gateway expects.
        Assert.Equal(2u, cl.Sa.NextRequestId);
        Assert.Equal(2u, gw.Sa.ExpectedPeerRequestId);
        Assert.Equal(1u, gw.Sa.LastResponseId);
        Assert.Equal(run.AuthResponse, gw.Sa.LastResponse);
        Assert.Equal(90000, gw.Sa.IkeLifetimeSeconds);
        Assert.Equal(10800, gw.Sa.ChildLifetimeSeconds);
        Assert.Single(run.Responder.Sas);
        Assert.Equal(0, run.Responder.HalfOpenCount);
    }

    [Fact]
    public void Same_seeds_give_the_same_bytes()
    {
        var a = Handshake(seed: 7);
        var b = Handshake(seed: 7);
        Assert.Equal(a.InitRequest, b.InitRequest);
        Assert.Equal(a.AuthResponse, b.AuthResponse);
        Assert.NotEqual(a.InitRequest, Handshake(seed: 8).InitRequest);
    }

    [Fact]
    public void Key_id_peer_identity_is_accepted_like_fqdn()
    {
        var run = Handshake(client: ClientSettings() with { LocalIdType = IdType.KeyId });
        Assert.Equal("Nokia_Peer", run.AtGateway.PeerId);
    }

    [Fact]
    public void Gateway_without_peerid_accepts_any_identity()
    {
        var run = Handshake(GatewaySettings() with { PeerId = null }, ClientSettings() with { LocalId = "someone-else" });
        Assert.Equal("someone-else", run.AtGateway.PeerId);
    }

    [Fact]
    public void Several_clients_get_separate_sas_on_one_gateway()
    {
        var responder = new IkeResponder(GatewaySettings(), new SeededRandom(3));
        var spis = new HashSet<ulong>();
        for (var i = 0; i < 3; i++)
        {
            var client = new IkeInitiator(ClientSettings(), Gateway, new SeededRandom(100 + i));
            var auth = Single(client.Handle(Single(responder.Handle(Client, client.Start()))));
            var done = client.Handle(Single(responder.Handle(Client, auth)));
            spis.Add(Assert.IsType<IkeSaEstablished>(Assert.Single(done.Events)).Sa.SpiR);
        }
        Assert.Equal(3, spis.Count);
        Assert.Equal(3, responder.Sas.Count);
    }
}
