using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Cli;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using TunnelList = ClusterActors.Actors.Ipsec.TunnelList;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// `diagnose vpn tunnel list`'s `dpd:` line follows the phase1's `set dpd`, `dpd-retryinterval` and `dpd-retrycount`
/// (it printed the seed's `mode=on-idle … idle=60000ms` whatever the config said). Disabled, it is Fortinet's KB 267783
/// line word for word: `dpd: mode=off on=0 idle=20000ms retry=3 count=0 seqno=0`.
/// </summary>
public sealed class TunnelListDpdSpec() : TestKit(ConfigurationFactory.ParseString("""
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp.hostname = 127.0.0.1
    akka.remote.dot-netty.tcp.port = 0
    akka.loglevel = WARNING
    """))
{
    private const string Serial = "FGVM02TM22000001";

    [Theory]
    [InlineData("set dpd disable", "dpd: mode=off on=0 idle=20000ms retry=3 count=0 seqno=0")]
    [InlineData("set dpd on-idle\n                set dpd-retryinterval 60", "dpd: mode=on-idle on=1 idle=60000ms retry=3 count=0 seqno=")]
    [InlineData("set dpd on-demand\n                set dpd-retryinterval 5\n                set dpd-retrycount 2", "dpd: mode=on-demand on=1 idle=5000ms retry=2 count=0 seqno=")]
    public async Task The_dpd_line_is_the_phase1s(string dpd, string expected)
    {
        var config = FortiConfig.Parse(Phase1SpecConfig.Dialup.Replace("set psksecret \"scenario-psk\"", "set psksecret \"scenario-psk\"\n                " + dpd)).Value!;
        var phase1 = ChildActorOf(IpsecPhase1Actor.Props(Serial, config, config.Phase1.Single()));
        phase1.Tell(new HaRoleChanged(Serial, HaRole.Primary, Serial));
        var client = new IkeInitiator(new IkeInitiatorSettings("scenario-psk", "Nokia_Peer", ["aes128-sha1"], [2],
            [TrafficSelector.FromCidr("10.10.1.0/24")], [TrafficSelector.FromCidr("10.10.101.0/24")]), IPAddress.Parse("192.168.202.35"));
        await AwaitAssertAsync(async () =>
        {
            var init = await phase1.Ask<IkeReplies>(new IkeDatagram(IPAddress.Parse("192.168.7.2"), 500, client.Start()), TimeSpan.FromSeconds(3));
            Assert.Single(init.Datagrams);
            var auth = Assert.Single(client.Handle(init.Datagrams[0]).Replies);
            var done = await phase1.Ask<IkeReplies>(new IkeDatagram(IPAddress.Parse("192.168.7.2"), 500, auth), TimeSpan.FromSeconds(3));
            Assert.Contains(client.Handle(Assert.Single(done.Datagrams)).Events, e => e is IkeSaEstablished);
        }, TimeSpan.FromSeconds(10));

        var list = await phase1.Ask<TunnelList>(GetTunnelList.Instance, TimeSpan.FromSeconds(3));
        var text = VpnDiagnostics.TunnelList(list.Tunnels, DateTimeOffset.UtcNow);
        var line = text.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("dpd:", StringComparison.Ordinal));
        Assert.StartsWith(expected, line);
    }
}
