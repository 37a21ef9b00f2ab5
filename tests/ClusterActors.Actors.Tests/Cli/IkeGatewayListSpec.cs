using System.Net;
using ClusterActors.Actors.Cli;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Tests.Cli;

/// <summary>
/// `diagnose vpn ike gateway list` and `get vpn ipsec tunnel summary` from a dialup instance's state, pure: FortiOS's
/// published layouts (README.md beside VpnDiagnostics), the figures from the IKE SA and the tunnel's counters.
/// </summary>
public sealed class IkeGatewayListSpec
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 8, 0, 0, TimeSpan.Zero);
    private static readonly TrafficSelector ClientNet = new(0, IPAddress.Parse("10.10.1.0"), IPAddress.Parse("10.10.1.255"), 0);

    private static DialupTunnelState Vpn1_1(bool natt = false) => new DialupTunnelState(
        "vpn1_1", "vpn1", 1, 4, IPAddress.Parse("192.168.202.35"), natt ? 4500 : 0, IPAddress.Parse("192.168.7.2"), natt ? 61000 : 0, 1500, 6,
        TunnelRole.SyncPrimary, true, false, "vpn1", TrafficSelector.Any, ClientNet,
        new ChildSaState(1, new SaDirection(0x37f426a1, new byte[16], new byte[20], 58, 4872), new SaDirection(0x10aa4d3a, new byte[16], new byte[20], 31, 2604),
            0x20, 0x3b, 2048, Now.AddSeconds(-490), 10800, 1438),
        new DpdState("on-idle", true, 60000, 3, 0, 2),
        natt ? new NattState("keepalive", 0, 10, 61000) : new NattState("none", 0, 0, 0),
        new TunnelCounters(58, 31, 4872, 2604), Now, Now)
    {
        Ike = new IkeGatewaySa(0xc9520b1c2bc0e6c8, 0x6aade7b829009948, false, "aes128-sha256", 2, 14, 86400, Now.AddSeconds(-490),
            natt ? 4500 : 500, natt ? 61000 : 500, "client1"),
        RxErrors = 3,
        TxErrors = 1,
    };

    [Fact]
    public void Gateway_list_prints_FortiOS_block_with_the_IKE_SAs_spis_message_ids_lifetime_and_DPD()
    {
        Assert.Equal("""
            vd: root/0
            name: vpn1_1
            version: 2
            interface: port2 6
            addr: 192.168.202.35:500 -> 192.168.7.2:500
            tun_id: 192.168.7.2/::10.0.0.4
            remote_location: 0.0.0.0
            network-id: 0
            created: 490s ago
            peer-id: client1
            peer-id-auth: no
            PPK: no
            IKE SA: created 1/1  established 1/1  time 0/0/0 ms
            IPsec SA: created 1/1  established 1/1  time 0/0/0 ms

              id/spi: 4 c9520b1c2bc0e6c8/6aade7b829009948
              direction: responder
              status: established 490-490s ago = 0ms
              proposal: aes128-sha256
              child: no
              PPK: no
              message-id sent/recv: 2/14
              lifetime/rekey: 86400/85910
              DPD sent/recv: 00000002/0000000c
              peer-id: client1


            """.ReplaceLineEndings("\n"), VpnDiagnostics.IkeGatewayList([Vpn1_1()], Now, _ => "port2"));
    }

    [Fact]
    public void Gateway_list_follows_NAT_T_ports_and_leaves_out_instances_without_an_IKE_SA()
    {
        var text = VpnDiagnostics.IkeGatewayList([Vpn1_1(natt: true), Vpn1_1() with { Name = "vpn1_2", Ike = null }], Now, _ => "port2");
        Assert.Contains("addr: 192.168.202.35:4500 -> 192.168.7.2:61000\n", text);
        Assert.DoesNotContain("vpn1_2", text);
        Assert.Equal("", VpnDiagnostics.IkeGatewayList([], Now, _ => "port2"));
    }

    [Fact]
    public void Tunnel_summary_prints_one_line_per_instance_with_selectors_and_packet_counters()
    {
        Assert.Equal(
            "'vpn1_1' 192.168.7.2:0  selectors(total,up): 1/1  rx(pkt,err): 58/3  tx(pkt,err): 31/1\n"
            + "'vpn1_2' 192.168.7.2:61000  selectors(total,up): 1/1  rx(pkt,err): 58/3  tx(pkt,err): 31/1\n",
            VpnDiagnostics.TunnelSummary([Vpn1_1(), Vpn1_1(natt: true) with { Name = "vpn1_2" }]));
    }
}
