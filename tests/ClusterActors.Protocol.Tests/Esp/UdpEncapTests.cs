using ClusterActors.Protocol.Esp;

namespace ClusterActors.Protocol.Tests.Esp;

public class UdpEncapTests
{
    private static readonly EspSaKeys Keys = new(EspReference.SeedSpi, EspReference.SeedEncKey, EspReference.SeedAuthKey);

    [Fact]
    public void Wrapped_esp_has_a_4500_to_4500_header_zero_checksum_and_the_esp_unchanged()
    {
        var esp = EspCodec.Encrypt(Keys, 1, EspReference.SeedEchoRequest());
        var datagram = UdpEncap.Wrap(esp);

        Assert.Equal(Convert.FromHexString("11941194"), datagram[..4]);
        Assert.Equal(8 + esp.Length, (datagram[4] << 8) | datagram[5]);
        Assert.Equal(new byte[] { 0, 0 }, datagram[6..8]);
        Assert.Equal(esp, datagram[8..]);
    }

    [Fact]
    public void Wrapped_esp_round_trips_through_parse_and_classify_and_still_decrypts()
    {
        var esp = EspCodec.Encrypt(Keys, 9, [1, 2, 3]);
        Assert.True(UdpEncap.TryParse(UdpEncap.Wrap(esp, sourcePort: 61000), out var udp));

        Assert.Equal((ushort)61000, udp.SourcePort);
        Assert.Equal(UdpEncap.NatTPort, udp.DestinationPort);
        var kind = UdpEncap.Classify(udp.Payload);
        Assert.Equal(UdpEncapKind.Esp, kind);
        Assert.True(EspCodec.TryDecrypt(Keys, UdpEncap.Inner(udp.Payload, kind), out var result, out _));
        Assert.Equal(new byte[] { 1, 2, 3 }, result.Payload);
    }

    [Fact]
    public void Ike_gets_the_non_esp_marker_and_loses_it_on_the_way_in()
    {
        byte[] ike = [0xAA, 0xBB, 0xCC, 0xDD, 0xEE];
        Assert.True(UdpEncap.TryParse(UdpEncap.WrapIke(ike), out var udp));

        Assert.Equal(new byte[] { 0, 0, 0, 0, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE }, udp.Payload);
        Assert.Equal(UdpEncapKind.Ike, UdpEncap.Classify(udp.Payload));
        Assert.Equal(ike, UdpEncap.Inner(udp.Payload, UdpEncapKind.Ike).ToArray());
    }

    [Fact]
    public void Nat_keepalive_is_the_single_byte_ff()
    {
        var datagram = UdpEncap.NatKeepalive();
        Assert.Equal(Convert.FromHexString("11941194000900" + "00" + "FF"), datagram);
        Assert.Equal(UdpEncapKind.NatKeepalive, UdpEncap.Classify(datagram[8..]));
        Assert.True(UdpEncap.Inner(datagram[8..], UdpEncapKind.NatKeepalive).IsEmpty);
    }

    [Theory]
    [InlineData("", UdpEncapKind.Invalid)]
    [InlineData("00", UdpEncapKind.Invalid)]
    [InlineData("FFFF", UdpEncapKind.Invalid)]
    [InlineData("FE", UdpEncapKind.Invalid)]
    [InlineData("000000", UdpEncapKind.Invalid)]
    [InlineData("00000000", UdpEncapKind.Ike)]
    [InlineData("0000000001", UdpEncapKind.Ike)]
    [InlineData("37f426a1", UdpEncapKind.Invalid)]       // an SPI with no sequence number
    [InlineData("37f426a100000001", UdpEncapKind.Esp)]
    [InlineData("00000001000000010203", UdpEncapKind.Esp)] // SPI 1: non-zero is ESP, however small
    [InlineData("FF00000000000000", UdpEncapKind.Esp)]     // 0xFF followed by more is not a keepalive
    public void Classify_follows_RFC_3948(string hex, UdpEncapKind expected)
    {
        Assert.Equal(expected, UdpEncap.Classify(Convert.FromHexString(hex)));
    }

    [Fact]
    public void Wrapping_something_that_would_read_back_as_ike_is_refused()
    {
        Assert.Throws<ArgumentException>(() => UdpEncap.Wrap(new byte[16]));
        Assert.Throws<ArgumentException>(() => UdpEncap.Wrap([1, 2, 3]));
    }

    [Theory]
    [InlineData("")]
    [InlineData("11941194000700")]     // shorter than a header
    [InlineData("1194119400070000")]   // length field below 8
    [InlineData("119411940010000001")] // length field past the end
    public void Malformed_udp_is_refused(string hex)
    {
        Assert.False(UdpEncap.TryParse(Convert.FromHexString(hex), out _));
    }

    [Fact]
    public void Udp_length_field_cuts_off_link_padding()
    {
        Assert.True(UdpEncap.TryParse(Convert.FromHexString("119411940009" + "0000" + "FF" + "000000"), out var udp));
        Assert.Equal(new byte[] { 0xFF }, udp.Payload);
    }
}
