using System.Net;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.Commands;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Config;

namespace ClusterActors.Node.Tests.Lab;

/// <summary>
/// The container client (`clusteractors client --kernel`) dials what its FortiOS config says: fgsp-standalone's CLIENT1
/// dials lb1 192.168.202.31, not the seed's 192.168.202.35 (its first docker drill got no answer to IKE_SA_INIT).
/// </summary>
public sealed class LabClientSettingsSpec
{
    private static ConfigDocument Client(string scenario) =>
        FortiConfig.ParseFile(Path.Combine(Scenarios.Directory(scenario), "CLIENT1.conf")).Value!;

    [Fact]
    public void The_seed_client_keeps_every_default()
    {
        var settings = LabClientCommand.SettingsFrom(Client("seed"));
        var defaults = new DialupClientSettings(settings.Ike);

        Assert.Equal((defaults.RemoteGateway, defaults.WanInterface, defaults.WanAddress, defaults.WanNextHop, defaults.LanInterface, defaults.LanAddress),
            (settings.RemoteGateway, settings.WanInterface, settings.WanAddress, settings.WanNextHop, settings.LanInterface, settings.LanAddress));
        Assert.Equal(IPAddress.Parse("192.168.202.35"), settings.RemoteGateway);
    }

    /// <summary>The topology's PC1 (LAB_PC1 → --pc1-address) is the one PC1 uses; before, it stayed the seed's 10.10.1.2.</summary>
    [Fact]
    public void Pc1_takes_the_address_it_is_given_with_port2_as_its_gateway()
    {
        var settings = LabClientCommand.SettingsFrom(Client("seed"));
        var r = new LabClientCommand.Request("CLIENT1.conf", new IPEndPoint(IPAddress.Loopback, 8023), "pc1", "10.10.1.77/24");

        var pc1 = LabClientCommand.Pc1From(r, settings);

        Assert.Equal(InterfaceAddress.Parse("10.10.1.77/24"), pc1.Address);
        Assert.Equal(IPAddress.Parse("10.10.1.1"), pc1.Gateway);
        Assert.Equal("pc1", pc1.Interface);
        Assert.Equal(InterfaceAddress.Parse("10.10.1.2/24"), LabClientCommand.Pc1From(r with { Pc1Address = null }, settings).Address);
    }

    [Theory]
    [InlineData("10.10.2.5/24", "not a host of port2's subnet 10.10.1.0/24")]
    [InlineData("10.10.1.1/24", "not a host of port2's subnet")]
    [InlineData("10.10.1.300/24", "is not an address/prefix")]
    [InlineData("pc-one", "is not an address/prefix")]
    [InlineData("fe80::1/64", "is not an IPv4 address/prefix")]
    public void A_pc1_address_port2_could_not_reach_is_refused_by_name(string given, string why)
    {
        var r = new LabClientCommand.Request("CLIENT1.conf", new IPEndPoint(IPAddress.Loopback, 8023), "pc1", given);
        var e = Assert.Throws<UsageException>(() => LabClientCommand.Pc1From(r, LabClientCommand.SettingsFrom(Client("seed"))));
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void The_fgsp_standalone_client_dials_its_own_lb1()
    {
        var settings = LabClientCommand.SettingsFrom(Client("fgsp-standalone"));

        Assert.Equal(IPAddress.Parse("192.168.202.31"), settings.RemoteGateway);
        Assert.Equal(InterfaceAddress.Parse("192.168.7.2/24"), settings.WanAddress);
    }

    [Fact]
    public void Addresses_and_the_next_hop_come_from_the_config()
    {
        var config = Client("seed").Apply(
            "config system interface\nedit \"port1\"\nset ip 198.51.100.9 255.255.255.0\nnext\nedit \"port2\"\nset ip 10.20.0.1 255.255.0.0\nnext\nend\n"
            + "config router static\nedit 1\nset gateway 198.51.100.1\nnext\nend\n"
            + "config vpn ipsec phase1-interface\nedit \"to_dc2\"\nset remote-gw 203.0.113.7\nnext\nend\n", "spec").Value!;

        var settings = LabClientCommand.SettingsFrom(config);

        Assert.Equal(IPAddress.Parse("203.0.113.7"), settings.RemoteGateway);
        Assert.Equal(InterfaceAddress.Parse("198.51.100.9/24"), settings.WanAddress);
        Assert.Equal(IPAddress.Parse("198.51.100.1"), settings.WanNextHop);
        Assert.Equal(InterfaceAddress.Parse("10.20.0.1/16"), settings.LanAddress);
    }
}
