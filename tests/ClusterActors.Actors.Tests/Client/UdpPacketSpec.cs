using System.Net;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Actors.Tests.Client;

/// <summary>The IPv4/UDP helper the client's IKE travels in (src/Protocol/Packets/UdpPacket.cs).</summary>
public sealed class UdpPacketSpec
{
    private static readonly IPAddress A = IPAddress.Parse("192.168.7.2");
    private static readonly IPAddress B = IPAddress.Parse("192.168.202.35");

    [Fact]
    public void Builds_a_datagram_whose_checksum_verifies_over_the_pseudo_header()
    {
        var packet = UdpPacket.InIpv4(A, 500, B, 500, [1, 2, 3, 4, 5], identification: 9);
        var bytes = packet.ToBytes();

        Assert.True(Ipv4Packet.TryParse(bytes, out var parsed, out _));
        Assert.Equal(Ipv4Packet.ProtocolUdp, parsed.Protocol);
        Assert.True(UdpPacket.TryParse(parsed, out var udp));
        Assert.Equal((500, 500), (udp.SourcePort, udp.DestinationPort));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, udp.Payload);

        // Independently: pseudo-header (src, dst, 0, 17, length) + UDP sums to 0xFFFF with the stored checksum.
        var pseudo = new byte[12 + parsed.Payload.Length];
        A.GetAddressBytes().CopyTo(pseudo, 0);
        B.GetAddressBytes().CopyTo(pseudo, 4);
        pseudo[9] = 17;
        pseudo[11] = (byte)parsed.Payload.Length;
        parsed.Payload.CopyTo(pseudo, 12);
        Assert.True(InternetChecksum.Verify(pseudo));
        Assert.NotEqual(0, parsed.Payload[6] | parsed.Payload[7]);
    }

    [Fact]
    public void A_corrupted_datagram_is_refused_and_a_zero_checksum_is_accepted()
    {
        var parsed = UdpPacket.InIpv4(A, 500, B, 500, [1, 2, 3, 4, 5]);
        var corrupted = parsed with { Payload = parsed.Payload.ToArray() };
        corrupted.Payload[^1] ^= 0xFF;
        Assert.False(UdpPacket.TryParse(corrupted, out _));

        // RFC 3948 ESP-in-UDP goes out with checksum 0 ("not computed").
        var encapsulated = new Ipv4Packet(A, B, Ipv4Packet.ProtocolUdp, UdpEncap.Wrap([0, 0, 0, 9, 0, 0, 0, 1]));
        Assert.True(UdpPacket.TryParse(encapsulated, out var udp));
        Assert.Equal(UdpEncapKind.Esp, UdpEncap.Classify(udp.Payload));

        Assert.False(UdpPacket.TryParse(new Ipv4Packet(A, B, Ipv4Packet.ProtocolEsp, new byte[16]), out _));
        Assert.False(UdpPacket.TryParse(new Ipv4Packet(A, B, Ipv4Packet.ProtocolUdp, new byte[5]), out _));
    }
}
