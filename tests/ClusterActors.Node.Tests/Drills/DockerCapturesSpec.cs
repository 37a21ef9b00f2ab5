using ClusterActors.Node.DockerLab;
using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Esp;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>The container lab's captures as pure rules: what is captured, how packets are counted, and the SAs read back
/// from a unit's tunnel list (DockerFgspStandaloneDrillSpec runs them for real and decrypts with tshark).</summary>
public sealed class DockerCapturesSpec
{
    [Fact]
    public void Every_lab_bridge_is_captured_but_the_management_network_and_each_capture_is_bounded()
    {
        var plan = DockerLabPlan.From(Scenarios.Topology("seed"));
        var captured = DockerCaptures.Captured(plan);
        Assert.Contains(captured, n => n.Name == "wan" && n.Bridge == "ca-wan");
        Assert.DoesNotContain(captured, n => n.Kind == LabNetworkKind.Management);
        Assert.Equal(plan.Networks.Count - 1, captured.Count);
        Assert.Equal(["-q", "-i", "ca-wan", "-w", "/x/wan.pcapng", "-c", "200000", "-a", "duration:3600"], DockerCaptures.Arguments("ca-wan", "/x/wan.pcapng"));
    }

    [Fact]
    public void Packets_are_the_enhanced_and_simple_packet_blocks_and_a_cut_off_block_ends_the_count()
    {
        static byte[] Block(uint type, int body)
        {
            var length = 12 + body;
            var b = new byte[length];
            BitConverter.GetBytes(type).CopyTo(b, 0);
            BitConverter.GetBytes((uint)length).CopyTo(b, 4);
            BitConverter.GetBytes((uint)length).CopyTo(b, length - 4);
            return b;
        }
        byte[] file = [.. Block(0x0a0d0d0a, 16), .. Block(1, 8), .. Block(6, 40), .. Block(6, 24), .. Block(3, 8), .. Block(5, 4)];
        Assert.Equal(3, DockerCaptures.CountPackets(file));
        Assert.Equal(2, DockerCaptures.CountPackets(file.AsSpan(0, file.Length - 20 - 16))); // the last packet block cut off
        Assert.Equal(0, DockerCaptures.CountPackets([]));
    }

    private const string List = """
        list all ipsec tunnel in vd 0
        ------------------------------------------------------
        name=vpn1_1 ver=2 serial=1 192.168.202.35:0->192.168.7.2:0 tun_id=192.168.7.2 tun_id6=::10.0.0.1 dst_mtu=1500 dpd-link=on weight=1
        bound_if=6 lgwy=static/1 tun=intf mode=dial_inst/3 encap=none/74408 options[122a8]=npu rgwy-chg frag-rfc  run_state=0 role=sync-primary accept_traffic=1 overlay_id=0
          dec: spi=c2b717a6 esp=aes key=16 00112233445566778899aabbccddeeff
               ah=sha1 key=20 0102030405060708090a0b0c0d0e0f1011121314
          enc: spi=5c4ccc6e esp=aes key=16 ffeeddccbbaa99887766554433221100
               ah=sha1 key=20 1413121110090807060504030201000f0e0d0c0b
          dec:pkts/bytes=10/840, enc:pkts/bytes=10/1360
        ------------------------------------------------------
        name=vpn1_2 ver=2 serial=2 192.168.202.35:0->192.168.7.3:0 tun_id=192.168.7.3 tun_id6=::10.0.0.2 dst_mtu=0 dpd-link=on weight=1
          dec: spi=0a0b0c0d esp=aes key=32 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
               ah=sha256 key=32 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
        """;

    [Fact]
    public void The_SAs_come_from_the_tunnel_list_with_their_direction_and_the_phase2_suite_their_keys_fit()
    {
        var sas = DockerCaptures.SasOf(List, ["aes128-sha1"]);
        Assert.Equal(2, sas.Count); // vpn1_2's keys fit no proposal of this unit: left out
        var dec = sas.Single(s => s.Keys.Spi == 0xc2b717a6);
        Assert.Equal(("192.168.7.2", "192.168.202.35"), (dec.Source.ToString(), dec.Destination.ToString()));
        Assert.Equal(Convert.FromHexString("00112233445566778899aabbccddeeff"), dec.Keys.EncKey);
        var enc = sas.Single(s => s.Keys.Spi == 0x5c4ccc6e);
        Assert.Equal(("192.168.202.35", "192.168.7.2"), (enc.Source.ToString(), enc.Destination.ToString()));
        Assert.Equal("aes128-sha1", enc.Keys.Suite.Name);

        var both = DockerCaptures.SasOf(List, ["aes128-sha1", "aes256-sha256"]);
        Assert.Equal(3, both.Count);
        Assert.Equal("aes256-sha256", both.Single(s => s.Keys.Spi == 0x0a0b0c0d).Keys.Suite.Name);
        Assert.Equal("192.168.7.3", both.Single(s => s.Keys.Spi == 0x0a0b0c0d).Source.ToString());
        Assert.Empty(DockerCaptures.SasOf("no tunnels", ["aes128-sha1"]));
        Assert.NotNull(WiresharkEspSa.Command("/x/wan.pcapng", sas, out _));
    }
}
