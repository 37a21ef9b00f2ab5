using System.Net;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Actors.Tests.Forwarding;

/// <summary>`diagnose sniffer packet` levels 5/6 and `--pcap` on a unit's capture (the pure formatter has its table spec in Protocol.Tests).</summary>
public sealed class SnifferCaptureSpec
{
    private static readonly byte[] Vmac = [0x00, 0x09, 0x0f, 0x09, 0x01, 0x01];

    private static Ipv4Packet Echo() => IcmpEcho.Request(1, 1, new byte[8]).InIpv4(IPAddress.Parse("10.10.1.2"), IPAddress.Parse("10.10.101.2"));

    [Fact]
    public void Verbosity_6_dumps_the_frame_with_the_units_virtual_mac_and_5_the_ip_octets()
    {
        var six = SnifferCapture.Create("port2", "icmp", 6, 1, out _, ownMac: i => i == "port2" ? Vmac : null)!;
        six.Offer("port2", SnifferDirection.In, Echo());
        var text = six.Render(interrupted: false);
        Assert.Contains(" port2 in 10.10.1.2 -> 10.10.101.2: icmp: echo request\n0x0000\t 0009 0f09 0101 0000 0000 0000 0800 4500\t", text);

        var five = SnifferCapture.Create("any", "icmp", 5, 1, out _, ownMac: _ => Vmac)!;
        five.Offer("port3", SnifferDirection.Out, Echo());
        Assert.Contains(" port3 out 10.10.1.2 -> 10.10.101.2: icmp: echo request\n0x0000\t 4500 0024 ", five.Render(interrupted: false));
    }

    [Fact]
    public void On_any_an_inbound_frame_shows_the_destination_FortiOS_prints_and_a_tunnel_has_no_link_layer()
    {
        var any = SnifferCapture.Create("any", "none", 6, null, out _, ownMac: i => i.StartsWith("port") ? Vmac : null)!;
        any.Offer("port2", SnifferDirection.In, Echo());
        any.Offer("vpn1", SnifferDirection.In, Echo());
        var text = any.Render(interrupted: true);
        Assert.Contains("port2 in 10.10.1.2 -> 10.10.101.2: icmp: echo request\n0x0000\t 0000 0000 0001 0000 0000 0000 0800 4500\t", text);
        Assert.Contains("vpn1 in 10.10.1.2 -> 10.10.101.2: icmp: echo request\n0x0000\t 4500 0024 ", text);
        Assert.Null(SnifferCapture.LinkLayer(any: false, SnifferDirection.In, [1, 2, 3])); // a malformed MAC: no header, not a throw
    }

    [Fact]
    public void Pcap_keeps_the_matched_packets_up_to_its_bound_and_counts_the_rest()
    {
        var capture = SnifferCapture.Create("any", "icmp", 4, null, out _, pcap: true)!;
        Assert.True(capture.WantsPcap);
        for (var i = 0; i < SnifferCapture.MaxPcapPackets + 3; i++) capture.Offer(i % 2 == 0 ? "port2" : "vpn1", SnifferDirection.In, Echo());
        Assert.Equal(3, capture.NotKept);
        var file = capture.Pcap("FGVM01")!;
        // SHB + two IDBs (port2, vpn1) + one EPB per kept packet: count the EPBs (type 6).
        var blocks = 0;
        for (var at = 0; at < file.Length; at += BitConverter.ToInt32(file, at + 4))
            if (BitConverter.ToUInt32(file, at) == PcapNg.EnhancedPacketType) blocks++;
        Assert.Equal(SnifferCapture.MaxPcapPackets, blocks);
        Assert.Null(SnifferCapture.Create("any", "icmp", 4, null, out _)!.Pcap("FGVM01")); // not asked: nothing kept
    }
}
