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

    public static byte[] Single(IkeOutput o)
    {
        Assert.True(o.Replies.Count == 1, $"expected one reply, got {o.Replies.Count}; events: {string.Join("; ", o.Events)}");
        return o.Replies[0];
    }
}
