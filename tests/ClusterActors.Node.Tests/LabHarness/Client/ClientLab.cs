using System.Net;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Actors.Tests.Client;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Tests.LabHarness.Client;

/// <summary>
/// The client's corner of the scenario on two test links: WAN (client port1 ↔ fake gateway as 192.168.7.1 and lb1)
/// and LAN (client port2 ↔ PC1 eth0).
/// </summary>
internal sealed class ClientLab : IDisposable
{
    public static readonly IPAddress Pc1Address = IPAddress.Parse("10.10.1.2");
    public static readonly IPAddress Server = IPAddress.Parse("10.10.101.2");

    public ClientLab(Func<DialupClientSettings, DialupClientSettings>? configure = null,
        Func<IkeGatewaySettings, IkeGatewaySettings>? gateway = null)
    {
        var gatewaySettings = FakeDialupGateway.Settings();
        Gateway = new FakeDialupGateway(new TestHostIo("dc", new Dictionary<string, TestLink> { ["port2"] = Wan }),
            gateway?.Invoke(gatewaySettings) ?? gatewaySettings);
        var settings = DialupClientSettings.Scenario(FakeDialupGateway.Psk);
        Client = new DialupClientGateway(
            new TestHostIo("client1", new Dictionary<string, TestLink> { ["port1"] = Wan, ["port2"] = Lan }),
            configure?.Invoke(settings) ?? settings);
        Pc1 = new Pc1TrafficGenerator(new TestHostIo("pc1", new Dictionary<string, TestLink> { ["eth0"] = Lan }));
    }

    public TestLink Wan { get; } = new("wan");
    public TestLink Lan { get; } = new("lan");
    public FakeDialupGateway Gateway { get; }
    public DialupClientGateway Client { get; }
    public Pc1TrafficGenerator Pc1 { get; }

    public async Task DialAsync() => await Client.DialAsync().WaitAsync(TimeSpan.FromSeconds(3));

    /// <summary>An echo reply from the Server to PC1, as the gateway would tunnel it.</summary>
    public static byte[] ServerReply(ushort sequence) =>
        new IcmpEcho(IcmpEchoType.Reply, 0x4242, sequence, new byte[56]).InIpv4(Server, Pc1Address).ToBytes();

    /// <summary>Packets the client delivered to PC1 on the LAN.</summary>
    public IReadOnlyList<WirePacket> DeliveredToPc1 =>
        Lan.Captured.Where(p => p.From == "client1/port2" && p.NextHop.Equals(Pc1Address)).ToList();

    public IReadOnlyList<Ipv4Packet> FromClientOnWan =>
        Wan.Captured.Where(p => p.From == "client1/port1").Select(p => Parse(p.Bytes)).ToList();

    public static Ipv4Packet Parse(byte[] bytes)
    {
        Assert.True(Ipv4Packet.TryParse(bytes, out var packet, out var error), $"not IPv4: {error}");
        return packet;
    }

    /// <summary>Polls until <paramref name="condition"/> holds, failing after <paramref name="timeout"/>.</summary>
    public static async Task Eventually(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(10);
        }
    }

    public void Dispose()
    {
        Pc1.Dispose();
        Client.Dispose();
        Gateway.Dispose();
    }
}
