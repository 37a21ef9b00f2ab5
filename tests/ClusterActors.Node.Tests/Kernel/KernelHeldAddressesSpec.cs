using System.Buffers.Binary;
using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.Hosting.Kernel;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Tests.Kernel;

/// <summary>
/// Which packets an answering port leaves to the kernel (<see cref="KernelHeldAddresses"/>), and the reading of the
/// netlink address dump it is built from. Pure: no socket, no root. The docker lab's case: DC2_VM2's port5 (ifindex 5)
/// holds the cluster's 172.31.2.254 while primary; the kernel holds the unit's own 172.31.2.12 (Akka/FGSP) on port5,
/// a management address on mgmt and lb1's 192.168.202.35 on a dummy interface. Only packets for the per-unit address
/// on the port's own interface are the kernel's; lb1's are the unit's (its forwarding plane answers IKE and ping there).
/// </summary>
public sealed class KernelHeldAddressesSpec
{
    private static byte[] To(string destination) =>
        IcmpEcho.Request(1, 1, [1, 2, 3]).InIpv4(IPAddress.Parse("172.31.2.1"), IPAddress.Parse(destination), 1).ToBytes();

    private const int Port5 = 5;

    private static readonly KernelHeldAddresses Dc2Vm2Port5 = new(
        [
            (1, Ipv4Address.Parse("127.0.0.1")), (Port5, Ipv4Address.Parse("172.31.2.12")), (Port5, Ipv4Address.Parse("172.31.2.254")),
            (6, Ipv4Address.Parse("172.31.99.12")), (7, Ipv4Address.Parse("192.168.202.35")),
        ],
        Port5, [Ipv4Address.Parse("172.31.2.254")]);

    [Theory]
    [InlineData("172.31.2.12", true)]     // the unit's per-unit address on the port's segment: the kernel's
    [InlineData("172.31.2.254", false)]   // the cluster's address: the port's, even though the kernel holds it too while primary
    [InlineData("192.168.202.35", false)] // lb1 on a dummy interface: the unit answers it (IKE), the kernel does not
    [InlineData("172.31.99.12", false)]   // held on another interface: not this port's to decide
    [InlineData("127.0.0.1", false)]
    [InlineData("10.10.1.10", false)]     // transit (behind the unit, or through a tunnel): the unit forwards it
    [InlineData("172.31.2.13", false)]    // the peer unit's per-unit address: not this kernel's
    public void A_packet_is_left_to_the_kernel_only_for_an_address_the_kernel_holds_on_the_ports_interface_and_the_port_does_not(string destination, bool leftToKernel) =>
        Assert.Equal(leftToKernel, Dc2Vm2Port5.IsLeftToKernel(To(destination)));

    [Fact]
    public void Before_the_first_snapshot_and_for_a_truncated_packet_nothing_is_decided_here()
    {
        Assert.False(KernelHeldAddresses.None.IsLeftToKernel(To("172.31.2.12")));
        Assert.False(Dc2Vm2Port5.IsLeftToKernel(To("172.31.2.12").AsSpan(0, 19)));
        Assert.Equal("172.31.2.12", Dc2Vm2Port5.ToString());
    }

    private static byte[] NewAddr(uint sequence, int ifindex, string? local, string? address, byte family = 2)
    {
        var attrs = (local is null ? 0 : 8) + (address is null ? 0 : 8) + 12; // + IFA_LABEL "port5\0" padded to 8, +4 header
        var m = new byte[16 + 8 + attrs];
        BinaryPrimitives.WriteUInt32LittleEndian(m, (uint)m.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(4), NetlinkAddressMessages.RtmNewAddr);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(8), sequence);
        m[16] = family;
        m[17] = 24;
        BinaryPrimitives.WriteInt32LittleEndian(m.AsSpan(20), ifindex);
        var at = 24;
        // IFA_LABEL first (a string attribute of another size: skipped, and its padding honoured)
        BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(at), 10);
        BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(at + 2), 3);
        "port5\0"u8.CopyTo(m.AsSpan(at + 4));
        at += 12;
        foreach (var (type, value) in new[] { (NetlinkAddressMessages.IfaAddress, address), (NetlinkAddressMessages.IfaLocal, local) })
        {
            if (value is null) continue;
            BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(at), 8);
            BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(at + 2), type);
            IPAddress.Parse(value).TryWriteBytes(m.AsSpan(at + 4), out _);
            at += 8;
        }
        return m;
    }

    private static byte[] Done(uint sequence)
    {
        var m = new byte[20];
        BinaryPrimitives.WriteUInt32LittleEndian(m, 20);
        BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(4), NetlinkAddressMessages.NlmsgDone);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(8), sequence);
        return m;
    }

    [Fact]
    public void The_dump_request_is_RTM_GETADDR_with_NLM_F_DUMP_for_AF_INET()
    {
        Assert.Equal([24, 0, 0, 0, 22, 0, 0x01, 0x03, 9, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0], NetlinkAddressMessages.EncodeDump(9));
    }

    [Fact]
    public void A_dump_answer_gives_each_address_IFA_LOCAL_first_and_ends_at_NLMSG_DONE_of_its_own_sequence()
    {
        var datagram = NewAddr(9, 1, "127.0.0.1", "127.0.0.1").Concat(NewAddr(9, 4, "172.31.2.12", "172.31.2.99")) // point-to-point: IFA_LOCAL is ours
            .Concat(NewAddr(9, 5, null, "10.88.0.12")).Concat(NewAddr(9, 6, "10.1.1.1", null, family: 10)) // an IPv6 record: skipped
            .Concat(NewAddr(8, 7, "10.2.2.2", null)) // an older request's answer: skipped
            .ToArray();
        var first = NetlinkAddressMessages.ReadDump(datagram, 9, out var done);
        Assert.False(done);
        Assert.Equal([(1, Ipv4Address.Parse("127.0.0.1")), (4, Ipv4Address.Parse("172.31.2.12")), (5, Ipv4Address.Parse("10.88.0.12"))], first);
        Assert.Empty(NetlinkAddressMessages.ReadDump(Done(8), 9, out done));
        Assert.False(done);
        Assert.Empty(NetlinkAddressMessages.ReadDump(Done(9), 9, out done));
        Assert.True(done);
    }

    [Fact]
    public void A_truncated_or_nonsense_dump_answer_is_read_as_far_as_it_goes_and_never_throws()
    {
        var whole = NewAddr(9, 4, "172.31.2.12", null);
        for (var cut = 0; cut < whole.Length; cut++)
            Assert.Empty(NetlinkAddressMessages.ReadDump(whole.AsSpan(0, cut), 9, out _));
        var badAttribute = (byte[])whole.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(badAttribute.AsSpan(24), 0xFFFF); // an attribute longer than its message
        Assert.Empty(NetlinkAddressMessages.ReadDump(badAttribute, 9, out _));
        var zeroAttribute = (byte[])whole.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(zeroAttribute.AsSpan(24), 0); // would loop forever if read as a length
        Assert.Empty(NetlinkAddressMessages.ReadDump(zeroAttribute, 9, out _));
        var zeroMessage = new byte[32]; // nlmsg_len 0
        Assert.Empty(NetlinkAddressMessages.ReadDump(zeroMessage, 0, out var done));
        Assert.False(done);
    }
}
