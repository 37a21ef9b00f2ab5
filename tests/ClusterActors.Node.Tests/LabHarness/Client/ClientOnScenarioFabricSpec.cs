using System.Net;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Node.LabHarness.Client;

namespace ClusterActors.Node.Tests.LabHarness.Client;

/// <summary>
/// The client and PC1 on the real in-memory fabric of the scenario (DataPlane's ScenarioFabric): the DC router's ECMP
/// route to lb1 carries IKE and ESP, and a stand-in gateway on DC2_VM1's port2 answers for the cluster.
/// </summary>
public sealed class ClientOnScenarioFabricSpec
{
    [Fact]
    public async Task The_client_dials_lb1_through_the_DC_router_and_PC1s_echoes_come_back_through_the_tunnel()
    {
        using var net = ScenarioFabric.Build(new ScenarioFabricOptions { Probe = ProbeOptions.Disabled });
        var port2 = ScenarioFabric.AddressOf("DC2_VM1", "port2");
        using var gateway = new FakeDialupGateway(net.Fabric.Host("DC2_VM1"), port: ("port2", [port2]),
            towardsClient: ScenarioFabric.AddressOf(ScenarioFabric.DcRouterHost, "c1").Address);
        using var client = new DialupClientGateway(net.Fabric.Host(ScenarioFabric.Client1Host), DialupClientSettings.Scenario(FakeDialupGateway.Psk));
        using var pc1 = new Pc1TrafficGenerator(net.Fabric.Host(ScenarioFabric.Pc1Host));

        await client.DialAsync().WaitAsync(TimeSpan.FromSeconds(3));
        var report = await pc1.RunAsync(new EchoRunOptions { RatePps = 500, Count = 200, Grace = TimeSpan.FromMilliseconds(100) });

        Assert.Equal((200, 200, 0), (report.Sent, report.Answered, report.Lost));
        var c = client.Counters;
        Assert.Equal((200, 200, 0), (c.EspSentPackets, c.Decrypted, c.EspDrops));
        Assert.Equal(200, gateway.Echoed);
        // Every IKE and ESP packet crossed the router both ways, on the ECMP route's cluster-1 next hop.
        Assert.Equal(port2.Address, net.DcRouter.Resolve(IPAddress.Parse("192.168.7.2"), FakeDialupGateway.Lb1)!.NextHop);
        Assert.True(net.DcRouter.Counters.Forwarded >= 2 * (200 + 2), net.DcRouter.Describe());
    }
}
