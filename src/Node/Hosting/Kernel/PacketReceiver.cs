using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Hosting.Kernel;

/// <summary>
/// Receives from an AF_PACKET socket with recvmsg(2) and PACKET_AUXDATA, which managed <see cref="Socket"/> cannot: the
/// auxiliary data says when a packet's TCP/UDP checksum is not filled in yet (TP_STATUS_CSUMNOTREADY). That is every
/// TCP or UDP packet a Linux stack sent through a veth (checksum offload: the "hardware" that would fill it is never
/// reached), so an AF_PACKET reader sees a wrong checksum where the kernel itself would not look. The receiver
/// completes it, so a unit that forwards such a packet sends a correct one, and a checksum-checking parser accepts it.
/// One per receive thread: it owns native buffers and is not thread-safe.
/// </summary>
internal sealed class PacketReceiver : IDisposable
{
    private const int PacketAuxData = 8;
    private const int SolSocket = 1;
    private const int SoTimestampNs = 35; // and SCM_TIMESTAMPNS: struct timespec of the frame's arrival, CLOCK_REALTIME
    private const int MsgDontWait = 0x40;
    private const uint TpStatusCsumNotReady = 1 << 3;
    private const int BufferSize = 65536;
    private const int NameSize = 32;
    private const int ControlSize = 128;

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public IntPtr Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public IntPtr Name;
        public uint NameLength;
        public IntPtr Iov;
        public nuint IovLength;
        public IntPtr Control;
        public nuint ControlLength;
        public int Flags;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern nint recvmsg(int fd, ref MsgHdr msg, int flags);

    private readonly Socket _socket;
    private readonly IntPtr _buffer = Marshal.AllocHGlobal(BufferSize);
    private readonly IntPtr _name = Marshal.AllocHGlobal(NameSize);
    private readonly IntPtr _control = Marshal.AllocHGlobal(ControlSize);
    private readonly IntPtr _iov = Marshal.AllocHGlobal(Marshal.SizeOf<IoVec>());
    private bool _disposed;

    public PacketReceiver(Socket socket)
    {
        _socket = socket;
        socket.SetRawSocketOption(LinuxNet.SolPacket, PacketAuxData, BitConverter.GetBytes(1));
        socket.SetRawSocketOption(SolSocket, SoTimestampNs, BitConverter.GetBytes(1));
        Marshal.StructureToPtr(new IoVec { Base = _buffer, Length = BufferSize }, _iov, false);
    }

    /// <summary>Checksums completed so far.</summary>
    public long ChecksumsCompleted { get; private set; }

    /// <summary>
    /// The next frame waiting on the socket, or null when none is (EAGAIN). <paramref name="packetType"/> is sll_pkttype.
    /// The returned array is the IPv4 packet cut to its total length (Ethernet padding dropped); null packet with
    /// <paramref name="malformed"/> when the frame is not a whole IPv4 packet.
    /// </summary>
    public byte[]? Receive(out byte packetType, out bool malformed) => Receive(out packetType, out malformed, out _);

    /// <summary>As above; <paramref name="arrivedUnixNs"/> is when the kernel received the frame (Unix time in ns,
    /// SO_TIMESTAMPNS), 0 when it did not say.</summary>
    public byte[]? Receive(out byte packetType, out bool malformed, out long arrivedUnixNs)
    {
        packetType = 0;
        malformed = false;
        arrivedUnixNs = 0;
        var msg = new MsgHdr
        {
            Name = _name, NameLength = NameSize, Iov = _iov, IovLength = 1, Control = _control, ControlLength = ControlSize
        };
        // Hold the handle for the call: a socket closed meanwhile must not let the fd number be reused under us.
        var handle = _socket.SafeHandle;
        var added = false;
        nint n;
        try
        {
            handle.DangerousAddRef(ref added);
            n = recvmsg((int)handle.DangerousGetHandle(), ref msg, MsgDontWait);
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
        if (n < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is 11 or 4) return null; // EAGAIN, EINTR
            throw new SocketException(errno);
        }
        packetType = Marshal.ReadByte(_name, 10);
        arrivedUnixNs = ArrivalTimestamp(msg);
        var length = (int)n;
        var total = length >= 20 && (Marshal.ReadByte(_buffer) >> 4) == 4
            ? (Marshal.ReadByte(_buffer, 2) << 8) | Marshal.ReadByte(_buffer, 3)
            : 0;
        if (total < 20 || total > length)
        {
            malformed = true;
            return null;
        }
        var packet = new byte[total];
        Marshal.Copy(_buffer, packet, 0, total);
        if ((AuxStatus(msg) & TpStatusCsumNotReady) != 0 && CompleteChecksum(packet)) ChecksumsCompleted++;
        return packet;
    }

    /// <summary>tp_status of the PACKET_AUXDATA control message, 0 when there is none.</summary>
    private uint AuxStatus(MsgHdr msg) =>
        ControlData(msg, LinuxNet.SolPacket, PacketAuxData, 4) is var at and >= 0 ? (uint)Marshal.ReadInt32(_control, at) : 0;

    /// <summary>The SCM_TIMESTAMPNS control message's time in Unix nanoseconds, 0 when there is none.</summary>
    private long ArrivalTimestamp(MsgHdr msg) =>
        ControlData(msg, SolSocket, SoTimestampNs, 16) is var at and >= 0
            ? Marshal.ReadInt64(_control, at) * 1_000_000_000L + Marshal.ReadInt64(_control, at + 8)
            : 0;

    /// <summary>
    /// Where the data of the control message (<paramref name="level"/>, <paramref name="type"/>) with at least
    /// <paramref name="minData"/> bytes starts in the control buffer (cmsghdr: 8-byte length, level, type), or -1.
    /// </summary>
    private int ControlData(MsgHdr msg, int level, int type, int minData)
    {
        var offset = 0;
        var controlLength = (int)msg.ControlLength;
        while (offset + 16 <= controlLength)
        {
            var cmsgLength = (int)Marshal.ReadInt64(_control, offset);
            if (cmsgLength < 16) break;
            if (Marshal.ReadInt32(_control, offset + 8) == level && Marshal.ReadInt32(_control, offset + 12) == type && cmsgLength >= 16 + minData)
                return offset + 16;
            offset += (cmsgLength + 7) & ~7;
        }
        return -1;
    }

    /// <summary>Now in Unix nanoseconds, the clock of <see cref="Receive(out byte, out bool, out long)"/>'s timestamp.</summary>
    public static long NowUnixNs() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;

    /// <summary>Fills in the TCP or UDP checksum of an unfragmented IPv4 packet (RFC 793 / RFC 768, with the pseudo-header).</summary>
    internal static bool CompleteChecksum(byte[] packet)
    {
        var headerLength = (packet[0] & 0x0f) * 4;
        var protocol = packet[9];
        var fragment = BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(6)) & 0x3fff; // MF or an offset
        int field = protocol switch { 6 => 16, 17 => 6, _ => -1 };
        var l4Length = packet.Length - headerLength;
        if (field < 0 || fragment != 0 || headerLength < 20 || l4Length < field + 2) return false;
        var pseudo = new byte[12 + l4Length];
        packet.AsSpan(12, 8).CopyTo(pseudo); // source and destination
        pseudo[9] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(pseudo.AsSpan(10), (ushort)l4Length);
        packet.AsSpan(headerLength).CopyTo(pseudo.AsSpan(12));
        pseudo[12 + field] = 0;
        pseudo[12 + field + 1] = 0;
        var checksum = InternetChecksum.Compute(pseudo);
        if (protocol == 17 && checksum == 0) checksum = 0xffff; // 0 means "no checksum" in UDP
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(headerLength + field), checksum);
        return true;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Marshal.FreeHGlobal(_buffer);
        Marshal.FreeHGlobal(_name);
        Marshal.FreeHGlobal(_control);
        Marshal.FreeHGlobal(_iov);
    }
}
