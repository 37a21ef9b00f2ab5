using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.Hosting.Kernel;

namespace ClusterActors.Node.Tests.Kernel;

/// <summary>
/// The rtnetlink address messages a port sends on a role change, byte for byte (linux/netlink.h, linux/rtnetlink.h,
/// linux/if_addr.h; the same fields `ip addr add 10.1.2.3/24 dev IF` sends), and the reading of the kernel's
/// acknowledgements, which must never throw on what a socket returned. Pure: no socket, no root.
/// </summary>
public sealed class NetlinkAddressMessagesSpec
{
    private static InterfaceAddress A(string cidr) => InterfaceAddress.Parse(cidr);

    [Fact]
    public void Adding_two_addresses_is_one_datagram_of_two_RTM_NEWADDR_requests_each_asking_for_an_ack()
    {
        var bytes = NetlinkAddressMessages.Encode(AddressChange.Add, 7, [A("10.1.2.3/24"), A("192.168.129.254/24")], 41);

        byte[] first =
        [
            40, 0, 0, 0,            // nlmsg_len
            20, 0,                  // RTM_NEWADDR
            0x05, 0x06,             // NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE
            41, 0, 0, 0,            // nlmsg_seq
            0, 0, 0, 0,             // nlmsg_pid: the kernel's
            2, 24, 0, 0,            // ifaddrmsg: AF_INET, /24, no flags, scope universe
            7, 0, 0, 0,             // ifa_index
            8, 0, 2, 0, 10, 1, 2, 3, // IFA_LOCAL 10.1.2.3
            8, 0, 1, 0, 10, 1, 2, 3  // IFA_ADDRESS 10.1.2.3
        ];
        Assert.Equal(80, bytes.Length);
        Assert.Equal(first, bytes[..40]);
        Assert.Equal(42u, BitConverter.ToUInt32(bytes, 48)); // the second request's sequence number
        Assert.Equal([2, 24, 0, 0, 7, 0, 0, 0], bytes[56..64]);
        Assert.Equal([8, 0, 2, 0, 192, 168, 129, 254, 8, 0, 1, 0, 192, 168, 129, 254], bytes[64..80]);
    }

    [Fact]
    public void Removing_is_RTM_DELADDR_without_create_or_excl()
    {
        var bytes = NetlinkAddressMessages.Encode(AddressChange.Remove, 3, [A("172.31.129.254/32")], uint.MaxValue);

        Assert.Equal([40, 0, 0, 0, 21, 0, 0x05, 0x00, 0xff, 0xff, 0xff, 0xff], bytes[..12]);
        Assert.Equal([2, 32, 0, 0, 3, 0, 0, 0], bytes[16..24]);
        Assert.Equal([8, 0, 2, 0, 172, 31, 129, 254], bytes[24..32]);
    }

    [Fact]
    public void Sequence_numbers_wrap_instead_of_overflowing()
    {
        var bytes = NetlinkAddressMessages.Encode(AddressChange.Add, 1, [A("10.0.0.1/8"), A("10.0.0.2/8")], uint.MaxValue);
        Assert.Equal(uint.MaxValue, BitConverter.ToUInt32(bytes, 8));
        Assert.Equal(0u, BitConverter.ToUInt32(bytes, 48));
    }

    [Fact]
    public void What_cannot_be_an_IPv4_address_request_is_refused_before_anything_is_sent()
    {
        Assert.Throws<ArgumentException>(() => NetlinkAddressMessages.Encode(AddressChange.Add, 1, [A("2001:db8::1/64")], 1));
        Assert.Throws<ArgumentException>(() => NetlinkAddressMessages.Encode(AddressChange.Add, 1, [new InterfaceAddress(System.Net.IPAddress.Parse("10.0.0.1"), 33)], 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => NetlinkAddressMessages.Encode(AddressChange.Add, 0, [A("10.0.0.1/8")], 1));
        Assert.Empty(NetlinkAddressMessages.Encode(AddressChange.Add, 1, [], 1));
    }

    /// <summary>An NLMSG_ERROR acknowledging request <paramref name="sequence"/> with <paramref name="error"/> (0 or -errno), with the request's header echoed.</summary>
    private static byte[] Ack(uint sequence, int error)
    {
        var m = new byte[36];
        BitConverter.TryWriteBytes(m.AsSpan(0), 36u);
        BitConverter.TryWriteBytes(m.AsSpan(4), (ushort)2);
        BitConverter.TryWriteBytes(m.AsSpan(8), sequence);
        BitConverter.TryWriteBytes(m.AsSpan(16), error);
        BitConverter.TryWriteBytes(m.AsSpan(20), 40u); // the request's own header
        BitConverter.TryWriteBytes(m.AsSpan(24), (ushort)20);
        BitConverter.TryWriteBytes(m.AsSpan(28), sequence);
        return m;
    }

    [Fact]
    public void Acks_are_read_as_sequence_and_errno_and_other_messages_are_skipped()
    {
        var done = new byte[20]; // NLMSG_DONE with a 4-byte payload
        BitConverter.TryWriteBytes(done.AsSpan(0), 20u);
        BitConverter.TryWriteBytes(done.AsSpan(4), (ushort)3);
        byte[] datagram = [.. Ack(41, 0), .. done, .. Ack(42, -17), .. Ack(43, -99)];

        Assert.Equal([(41u, 0), (42u, 17), (43u, 99)], NetlinkAddressMessages.ReadAcks(datagram));
    }

    [Theory]
    [InlineData(0)]   // empty
    [InlineData(10)]  // shorter than a header
    [InlineData(30)]  // a header whose length runs past the datagram
    public void A_truncated_datagram_yields_the_whole_acks_before_the_cut_and_never_throws(int cut)
    {
        byte[] datagram = [.. Ack(7, 0), .. Ack(8, -17)];
        var acks = NetlinkAddressMessages.ReadAcks(datagram.AsSpan(0, 36 + cut));
        Assert.Equal([(7u, 0)], acks);
    }

    [Fact]
    public void A_length_field_too_small_to_be_a_message_stops_the_reading_instead_of_looping()
    {
        byte[] datagram = [.. Ack(7, 0), .. new byte[20]]; // a zero length: nlmsg_len 0 would never advance
        Assert.Equal([(7u, 0)], NetlinkAddressMessages.ReadAcks(datagram));
        var error = Ack(9, 0);
        BitConverter.TryWriteBytes(error.AsSpan(0), 16u); // an NLMSG_ERROR without room for its error field
        Assert.Empty(NetlinkAddressMessages.ReadAcks(error));
    }

    [Fact]
    public void Results_name_what_the_kernel_said()
    {
        var a = A("10.1.2.3/24");
        Assert.True(new AddressChangeResult(a, 17).AlreadyPresent);
        Assert.True(new AddressChangeResult(a, 99).WasAbsent);
        Assert.False(new AddressChangeResult(a, AddressChangeResult.NoAnswer).Ok);
        Assert.Contains("no answer", new AddressChangeResult(a, AddressChangeResult.NoAnswer).ToString());
    }
}
