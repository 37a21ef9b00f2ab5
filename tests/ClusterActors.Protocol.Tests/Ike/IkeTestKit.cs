using System.Net;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;

namespace ClusterActors.Protocol.Tests.Ike;

/// <summary>Seeded randomness so every handshake in a test is reproducible byte for byte.</summary>
internal sealed class SeededRandom(int seed) : IIkeRandom
{
    private readonly Random _r = new(seed);
    public byte[] Bytes(int n) { var b = new byte[n]; _r.NextBytes(b); return b; }
}

/// <summary>The scenario of fgcp-over-fgsp-per-tunnel-failover.txt: vpn1 on 192.168.202.35, client "Nokia_Peer".</summary>
internal static class IkeTestKit
{
    public const string Psk = "ftnt-lab-psk";
    public static readonly IPAddress Gateway = IPAddress.Parse("192.168.202.35");
    public static readonly IPAddress Client = IPAddress.Parse("192.168.201.10");

    public static IkeGatewaySettings GatewaySettings(params int[] groups) =>
        new(Psk, "Nokia_Peer", ["aes128-sha1"], groups.Length == 0 ? [2] : groups, Gateway, 90000, 10800);

    public static IkeInitiatorSettings ClientSettings(params int[] groups) =>
        new(Psk, "Nokia_Peer", ["aes128-sha1"], groups.Length == 0 ? [2] : groups,
            [TrafficSelector.FromCidr("10.10.1.0/24")], [TrafficSelector.FromCidr("0.0.0.0/0")]);

    public sealed record Run(
        IkeInitiator Initiator, IkeResponder Responder,
        byte[] InitRequest, byte[] InitResponse, byte[] AuthRequest, byte[] AuthResponse,
        IkeSaEstablished AtGateway, IkeSaEstablished AtClient);

    public static Run Handshake(IkeGatewaySettings? gw = null, IkeInitiatorSettings? client = null, int seed = 1)
    {
        var responder = new IkeResponder(gw ?? GatewaySettings(), new SeededRandom(seed));
        var initiator = new IkeInitiator(client ?? ClientSettings(), Gateway, new SeededRandom(seed + 1000));
        var init = initiator.Start();
        var initReply = Single(responder.Handle(Client, init));
        var auth = Single(initiator.Handle(initReply));
        var r = responder.Handle(Client, auth);
        var authReply = Single(r);
        var atGateway = Assert.IsType<IkeSaEstablished>(Assert.Single(r.Events));
        var c = initiator.Handle(authReply);
        Assert.Empty(c.Replies);
        var atClient = Assert.IsType<IkeSaEstablished>(Assert.Single(c.Events));
        return new Run(initiator, responder, init, initReply, auth, authReply, atGateway, atClient);
    }

    /// <summary>The client's NAT: it sends from 10.10.7.2, the gateway sees 203.0.113.9 with these mapped ports.</summary>
    public static readonly IPEndPoint ClientBehindNat = new(IPAddress.Parse("10.10.7.2"), 500);
    public static readonly IPEndPoint NatMapped500 = new(IPAddress.Parse("203.0.113.9"), 31000);
    public static readonly IPEndPoint NatMapped4500 = new(IPAddress.Parse("203.0.113.9"), 31001);

    /// <summary>
    /// The same handshake with nattraversal enable on both ends and the client behind a NAT: IKE_AUTH floats to 4500
    /// (messages here are unframed; the marker is the sockets' business).
    /// </summary>
    public static Run HandshakeBehindNat(int seed = 1)
    {
        var responder = new IkeResponder(GatewaySettings() with { NatTraversal = NatTraversal.Enable }, new SeededRandom(seed));
        var initiator = new IkeInitiator(ClientSettings() with { NatTraversal = NatTraversal.Enable }, ClientBehindNat,
            new IPEndPoint(Gateway, IkeUdp.IkePort), new SeededRandom(seed + 1000));
        var init = initiator.Start();
        var initReply = Single(responder.Handle(NatMapped500, IkeUdp.IkePort, init));
        var auth = Single(initiator.Handle(initReply));
        Assert.Equal(IkeUdp.NatTPort, initiator.LocalPort);
        var r = responder.Handle(NatMapped4500, IkeUdp.NatTPort, auth);
        var authReply = Single(r);
        var atGateway = Assert.IsType<IkeSaEstablished>(Assert.Single(r.Events));
        var atClient = Assert.IsType<IkeSaEstablished>(Assert.Single(initiator.Handle(authReply).Events));
        return new Run(initiator, responder, init, initReply, auth, authReply, atGateway, atClient);
    }

    public static byte[] Single(IkeOutput o)
    {
        Assert.True(o.Replies.Count == 1, $"expected one reply, got {o.Replies.Count}; events: {string.Join("; ", o.Events)}");
        return o.Replies[0];
    }
}
