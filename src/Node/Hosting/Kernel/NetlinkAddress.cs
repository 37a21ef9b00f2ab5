using System.Buffers.Binary;
using System.ComponentModel;
using System.Net;
using System.Runtime.InteropServices;
using ClusterActors.Actors.DataPlane;

namespace ClusterActors.Node.Hosting.Kernel;

/// <summary>Add or remove, as `ip addr add` / `ip addr del` do.</summary>
public enum AddressChange
{
    Add,
    Remove
}

/// <summary>What the kernel answered to one address of a batch: 0 done, else the errno (EEXIST, EADDRNOTAVAIL...).</summary>
/// <param name="Address">The address the request was for.</param>
/// <param name="Errno">0 when the kernel did it; a positive errno otherwise; -1 when no answer came (timeout, socket error).</param>
public readonly record struct AddressChangeResult(InterfaceAddress Address, int Errno)
{
    public const int EExist = 17;
    public const int EAddrNotAvail = 99;
    public const int NoAnswer = -1;

    public bool Ok => Errno == 0;

    /// <summary>Add: the address was on the interface already (configured by someone else).</summary>
    public bool AlreadyPresent => Errno == EExist;

    /// <summary>Remove: the address was not on the interface.</summary>
    public bool WasAbsent => Errno == EAddrNotAvail;

    public override string ToString() => Errno switch
    {
        0 => $"{Address} ok",
        NoAnswer => $"{Address}: no answer from the kernel",
        _ => $"{Address}: {new Win32Exception(Errno).Message} (errno {Errno})"
    };
}

/// <summary>
/// The rtnetlink messages that add and remove IPv4 addresses (RTM_NEWADDR, RTM_DELADDR: linux/rtnetlink.h,
/// linux/if_addr.h), built and read as pure functions: what `ip addr add A/P dev IF` sends, one message per address,
/// several messages in one datagram (the kernel runs them in order and acknowledges each), and the acknowledgements.
/// Byte order is the host's (netlink is host-endian; the lab runs on little-endian x64/arm64), addresses in network order.
/// </summary>
public static class NetlinkAddressMessages
{
    public const ushort RtmNewAddr = 20;
    public const ushort RtmDelAddr = 21;
    public const ushort NlmsgError = 2;
    public const ushort NlmsgDone = 3;
    public const ushort NlmFRequest = 0x1;
    public const ushort NlmFAck = 0x4;
    public const ushort NlmFExcl = 0x200;
    public const ushort NlmFCreate = 0x400;
    public const ushort IfaAddress = 1;
    public const ushort IfaLocal = 2;
    public const byte AfInet = 2;
    public const int HeaderSize = 16;   // struct nlmsghdr
    public const int IfAddrMsgSize = 8; // struct ifaddrmsg
    public const int AttributeSize = 8; // struct rtattr (4) + an IPv4 address (4)

    /// <summary>One message's size: header, ifaddrmsg, IFA_LOCAL and IFA_ADDRESS (each already 4-aligned).</summary>
    public const int MessageSize = HeaderSize + IfAddrMsgSize + 2 * AttributeSize;

    /// <summary>
    /// One datagram holding one request per address, sequence numbers <paramref name="firstSequence"/>, +1, ...; each
    /// asks for an acknowledgement. Add is NLM_F_CREATE|NLM_F_EXCL (as `ip addr add`: an address already there answers
    /// EEXIST, and is left alone); scope universe, no broadcast (as `ip addr add` without `brd`).
    /// </summary>
    public static byte[] Encode(AddressChange change, int ifindex, IReadOnlyList<InterfaceAddress> addresses, uint firstSequence)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        if (ifindex <= 0) throw new ArgumentOutOfRangeException(nameof(ifindex), ifindex, "an interface index is positive");
        var buffer = new byte[addresses.Count * MessageSize];
        for (var i = 0; i < addresses.Count; i++)
        {
            var a = addresses[i];
            if (a.Address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                throw new ArgumentException($"{a.Address} is not IPv4");
            if (a.PrefixLength is < 0 or > 32) throw new ArgumentException($"{a}: prefix length {a.PrefixLength} is not 0..32");
            var m = buffer.AsSpan(i * MessageSize, MessageSize);
            BinaryPrimitives.WriteUInt32LittleEndian(m, MessageSize);
            BinaryPrimitives.WriteUInt16LittleEndian(m[4..], change == AddressChange.Add ? RtmNewAddr : RtmDelAddr);
            var flags = (ushort)(NlmFRequest | NlmFAck | (change == AddressChange.Add ? NlmFCreate | NlmFExcl : 0));
            BinaryPrimitives.WriteUInt16LittleEndian(m[6..], flags);
            BinaryPrimitives.WriteUInt32LittleEndian(m[8..], unchecked(firstSequence + (uint)i));
            // nlmsg_pid 0: the kernel fills in the sender's port id
            m[16] = AfInet;
            m[17] = (byte)a.PrefixLength;
            m[18] = 0; // ifa_flags
            m[19] = 0; // RT_SCOPE_UNIVERSE
            BinaryPrimitives.WriteInt32LittleEndian(m[20..], ifindex);
            WriteAddressAttribute(m[24..], IfaLocal, a.Address);
            WriteAddressAttribute(m[32..], IfaAddress, a.Address);
        }
        return buffer;
    }

    public const ushort RtmGetAddr = 22;
    public const ushort NlmFDump = 0x300; // NLM_F_ROOT | NLM_F_MATCH

    /// <summary>
    /// The request `ip -4 addr show` sends: RTM_GETADDR with NLM_F_DUMP for AF_INET, every interface of the namespace.
    /// The kernel answers with RTM_NEWADDR messages over one or more datagrams, then NLMSG_DONE.
    /// </summary>
    public static byte[] EncodeDump(uint sequence)
    {
        var m = new byte[HeaderSize + IfAddrMsgSize];
        BinaryPrimitives.WriteUInt32LittleEndian(m, (uint)m.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(4), RtmGetAddr);
        BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(6), NlmFRequest | NlmFDump);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(8), sequence);
        m[16] = AfInet;
        return m;
    }

    /// <summary>
    /// Reads one datagram of a dump's answer: the IPv4 address (IFA_LOCAL, else IFA_ADDRESS; network order as a
    /// host uint via <see cref="Ipv4Address"/>) and interface index of each RTM_NEWADDR with sequence
    /// <paramref name="sequence"/>; <paramref name="done"/> once NLMSG_DONE (or an NLMSG_ERROR) for it is read.
    /// Other messages, other families, and anything truncated are skipped, never thrown on.
    /// </summary>
    public static IReadOnlyList<(int IfIndex, uint Address)> ReadDump(ReadOnlySpan<byte> datagram, uint sequence, out bool done)
    {
        done = false;
        var found = new List<(int, uint)>();
        var offset = 0;
        while (datagram.Length - offset >= HeaderSize)
        {
            var m = datagram[offset..];
            var length = BinaryPrimitives.ReadUInt32LittleEndian(m);
            if (length < HeaderSize || length > m.Length) break;
            var type = BinaryPrimitives.ReadUInt16LittleEndian(m[4..]);
            var seq = BinaryPrimitives.ReadUInt32LittleEndian(m[8..]);
            if (seq == sequence)
            {
                if (type is NlmsgDone or NlmsgError) done = true;
                else if (type == RtmNewAddr && length >= HeaderSize + IfAddrMsgSize && m[HeaderSize] == AfInet)
                {
                    var ifindex = BinaryPrimitives.ReadInt32LittleEndian(m[(HeaderSize + 4)..]);
                    uint? local = null, address = null;
                    var a = HeaderSize + IfAddrMsgSize;
                    while ((int)length - a >= 4)
                    {
                        var alen = BinaryPrimitives.ReadUInt16LittleEndian(m[a..]);
                        var atype = BinaryPrimitives.ReadUInt16LittleEndian(m[(a + 2)..]);
                        if (alen < 4 || alen > (int)length - a) break;
                        if (alen == AttributeSize)
                        {
                            var value = BinaryPrimitives.ReadUInt32BigEndian(m.Slice(a + 4, 4));
                            if (atype == IfaLocal) local = value;
                            else if (atype == IfaAddress) address = value;
                        }
                        a += (alen + 3) & ~3;
                    }
                    if ((local ?? address) is { } held) found.Add((ifindex, held));
                }
            }
            offset += (int)((length + 3) & ~3u); // NLMSG_ALIGN
        }
        return found;
    }

    private static void WriteAddressAttribute(Span<byte> at, ushort type, IPAddress address)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(at, AttributeSize);
        BinaryPrimitives.WriteUInt16LittleEndian(at[2..], type);
        address.TryWriteBytes(at[4..8], out _);
    }

    /// <summary>
    /// Reads the acknowledgements in one datagram from the kernel: (sequence, errno) for each NLMSG_ERROR message
    /// (errno 0 is the acknowledgement of a success). Anything else, or a truncated message, is skipped: the reader
    /// waits for the sequence numbers it needs and gives up after its time, never throws on what the socket returned.
    /// </summary>
    public static IReadOnlyList<(uint Sequence, int Errno)> ReadAcks(ReadOnlySpan<byte> datagram)
    {
        var acks = new List<(uint, int)>();
        var offset = 0;
        while (datagram.Length - offset >= HeaderSize)
        {
            var m = datagram[offset..];
            var length = BinaryPrimitives.ReadUInt32LittleEndian(m);
            if (length < HeaderSize || length > m.Length) break;
            var type = BinaryPrimitives.ReadUInt16LittleEndian(m[4..]);
            var sequence = BinaryPrimitives.ReadUInt32LittleEndian(m[8..]);
            if (type == NlmsgError && length >= HeaderSize + 4)
            {
                var error = BinaryPrimitives.ReadInt32LittleEndian(m[HeaderSize..]);
                acks.Add((sequence, error == int.MinValue ? int.MaxValue : -error));
            }
            offset += (int)((length + 3) & ~3u); // NLMSG_ALIGN
        }
        return acks;
    }
}

/// <summary>
/// A NETLINK_ROUTE socket of one network namespace (the one it was created in, like the port's AF_PACKET sockets),
/// used to put the port's addresses on its interface and take them off in-process: one datagram per role change, no
/// child process. A forked `ip` per address took tens to hundreds of milliseconds on the lab's loaded cores, during
/// which the new primary neither held its address nor had announced it (README, "Answering").
/// </summary>
internal sealed class NetlinkRouteSocket : IDisposable
{
    private const int AfNetlink = 16;
    private const int SockRaw = 3;
    private const int SockCloexec = 0x80000;
    private const int NetlinkRoute = 0;
    private const short PollIn = 0x1;
    private readonly object _gate = new();
    private int _fd;
    private uint _sequence = (uint)Environment.TickCount;

    [DllImport("libc", SetLastError = true)]
    private static extern int socket(int domain, int type, int protocol);

    [DllImport("libc", SetLastError = true)]
    private static extern nint send(int fd, byte[] buffer, nuint length, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern nint recv(int fd, byte[] buffer, nuint length, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int connect(int fd, byte[] address, int length);

    [DllImport("libc", SetLastError = true)]
    private static extern int poll(ref PollFd fds, nuint count, int timeoutMs);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    private NetlinkRouteSocket(int fd) => _fd = fd;

    /// <summary>Opens one in the current thread's network namespace (call it inside <see cref="LinuxNet.InNamespace{T}"/>).</summary>
    public static NetlinkRouteSocket Open()
    {
        var fd = socket(AfNetlink, SockRaw | SockCloexec, NetlinkRoute);
        if (fd < 0) throw new InvalidOperationException($"socket(AF_NETLINK, NETLINK_ROUTE): {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
        // Connected to the kernel (sockaddr_nl, pid 0): send() needs no address, recv() hears only the kernel.
        var kernel = new byte[12];
        BinaryPrimitives.WriteUInt16LittleEndian(kernel, AfNetlink);
        if (connect(fd, kernel, kernel.Length) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            close(fd);
            throw new InvalidOperationException($"connect(AF_NETLINK): {new Win32Exception(errno).Message}");
        }
        return new NetlinkRouteSocket(fd);
    }

    /// <summary>
    /// Sends one datagram changing every address of <paramref name="addresses"/> on <paramref name="ifindex"/>, and
    /// waits up to <paramref name="timeout"/> for the kernel's answer to each. Never throws on what the kernel answers.
    /// </summary>
    public AddressChangeResult[] Change(AddressChange change, int ifindex, IReadOnlyList<InterfaceAddress> addresses, TimeSpan timeout)
    {
        var results = addresses.Select(a => new AddressChangeResult(a, AddressChangeResult.NoAnswer)).ToArray();
        if (addresses.Count == 0) return results;
        lock (_gate)
        {
            if (_fd < 0) return results;
            var first = _sequence;
            _sequence += (uint)addresses.Count;
            var request = NetlinkAddressMessages.Encode(change, ifindex, addresses, first);
            if (send(_fd, request, (nuint)request.Length, 0) != request.Length) return results;
            var pending = addresses.Count;
            var buffer = new byte[8192];
            var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            while (pending > 0)
            {
                var left = deadline - Environment.TickCount64;
                if (left <= 0) break;
                var p = new PollFd { Fd = _fd, Events = PollIn };
                var ready = poll(ref p, 1, (int)left);
                if (ready < 0 && Marshal.GetLastPInvokeError() == 4) continue; // EINTR
                if (ready <= 0) break;
                var n = recv(_fd, buffer, (nuint)buffer.Length, 0);
                if (n <= 0) break;
                foreach (var (sequence, errno) in NetlinkAddressMessages.ReadAcks(buffer.AsSpan(0, (int)n)))
                {
                    var i = unchecked(sequence - first);
                    if (i >= (uint)results.Length || results[i].Errno != AddressChangeResult.NoAnswer) continue; // an older batch's late answer
                    results[i] = results[i] with { Errno = errno };
                    pending--;
                }
            }
        }
        return results;
    }

    /// <summary>
    /// Every IPv4 address the kernel holds in this socket's namespace (all interfaces, as `ip -4 addr show`), or null
    /// when the dump did not complete within <paramref name="timeout"/>. Never throws on what the kernel answers.
    /// </summary>
    public IReadOnlyList<(int IfIndex, uint Address)>? Addresses(TimeSpan timeout)
    {
        lock (_gate)
        {
            if (_fd < 0) return null;
            var sequence = _sequence++;
            var request = NetlinkAddressMessages.EncodeDump(sequence);
            if (send(_fd, request, (nuint)request.Length, 0) != request.Length) return null;
            var all = new List<(int, uint)>();
            var buffer = new byte[32768];
            var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            while (true)
            {
                var left = deadline - Environment.TickCount64;
                if (left <= 0) return null;
                var p = new PollFd { Fd = _fd, Events = PollIn };
                var ready = poll(ref p, 1, (int)left);
                if (ready < 0 && Marshal.GetLastPInvokeError() == 4) continue; // EINTR
                if (ready <= 0) return null;
                var n = recv(_fd, buffer, (nuint)buffer.Length, 0);
                if (n <= 0) return null;
                all.AddRange(NetlinkAddressMessages.ReadDump(buffer.AsSpan(0, (int)n), sequence, out var done));
                if (done) return all;
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_fd < 0) return;
            close(_fd);
            _fd = -1;
        }
    }
}
