using System.ComponentModel;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Text;

namespace ClusterActors.Node.Hosting.Kernel;

/// <summary>
/// The few Linux calls .NET has no managed form for: interface ioctls (index, MAC, flags) and setns(2). Everything
/// else (AF_PACKET sockets, send, receive) is <see cref="Socket"/> with <see cref="AddressFamily.Packet"/>, which .NET
/// supports on Linux; only the link-layer address (sockaddr_ll) is built by hand (<see cref="LinkLayerAddress"/>).
/// </summary>
internal static class LinuxNet
{
    public const ushort EthPIp = 0x0800;
    public const ushort EthPArp = 0x0806;
    public const int SolPacket = 263;
    public const int PacketIgnoreOutgoing = 23;

    // sll_pkttype values (linux/if_packet.h)
    public const byte PacketHost = 0;
    public const byte PacketBroadcast = 1;
    public const byte PacketOutgoing = 4;

    private const uint SiocGifFlags = 0x8913;
    private const uint SiocSifFlags = 0x8914;
    private const uint SiocGifHwAddr = 0x8927;
    private const uint SiocGifIndex = 0x8933;
    private const uint SiocEthtool = 0x8946;
    private const uint EthtoolGLink = 0xa;
    public const short IffUp = 0x1;
    public const short IffRunning = 0x40;
    private const ushort ArphrdEther = 1;
    private const int CloneNewNet = 0x40000000;
    private const int IfNameSize = 16;
    private const int IfReqSize = 40;

    [DllImport("libc", SetLastError = true)]
    private static extern int ioctl(int fd, nuint request, byte[] ifreq);

    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);

    /// <summary>An AF_PACKET datagram socket that receives nothing until <see cref="Bind"/> (protocol 0).</summary>
    public static Socket PacketSocket()
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("KernelPacketIo needs Linux (AF_PACKET sockets).");
        try
        {
            return new Socket(AddressFamily.Packet, SocketType.Dgram, ProtocolType.IP);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AccessDenied)
        {
            throw new InvalidOperationException(
                "an AF_PACKET socket needs CAP_NET_RAW (run as root, or give the container NET_RAW): " + e.Message, e);
        }
    }

    /// <summary>Binds <paramref name="socket"/> to one interface and one EtherType; drops what the host itself sends.</summary>
    public static void Bind(Socket socket, int ifindex, ushort etherType)
    {
        socket.Bind(new LinkLayerEndPoint(LinkLayerAddress.Create(ifindex, etherType, null)));
        try
        {
            socket.SetRawSocketOption(SolPacket, PacketIgnoreOutgoing, BitConverter.GetBytes(1));
        }
        catch (SocketException)
        {
            // Kernels before 4.20: outgoing copies are still recognised by their packet type and skipped.
        }
    }

    public static int IfIndex(Socket socket, string ifname)
    {
        var req = IfReq(ifname);
        Ioctl(socket, SiocGifIndex, req, ifname);
        return BitConverter.ToInt32(req, IfNameSize);
    }

    public static PhysicalAddress HardwareAddress(Socket socket, string ifname)
    {
        var req = IfReq(ifname);
        Ioctl(socket, SiocGifHwAddr, req, ifname);
        var family = BitConverter.ToUInt16(req, IfNameSize);
        if (family != ArphrdEther)
            throw new InvalidOperationException(
                $"interface {ifname} is not Ethernet (link type {family}): KernelPacketIo carries IPv4 over Ethernet only (veth, bridge ports, NICs).");
        return new PhysicalAddress(req.AsSpan(IfNameSize + 2, 6).ToArray());
    }

    /// <summary>The interface's flags (IFF_UP, IFF_RUNNING...), or null when it is gone.</summary>
    public static short? Flags(Socket socket, string ifname)
    {
        var req = IfReq(ifname);
        if (ioctl((int)socket.SafeHandle.DangerousGetHandle(), SiocGifFlags, req) != 0) return null;
        return BitConverter.ToInt16(req, IfNameSize);
    }

    /// <summary>
    /// The driver's link state (ETHTOOL_GLINK: netif_carrier_ok on a running interface), or null when the driver does not
    /// say. Read directly because IFF_RUNNING follows the operstate, which the kernel's linkwatch updates up to a second
    /// late on carrier loss; /sys/class/net would show the process's namespace, not the port's.
    /// </summary>
    public static bool? Carrier(Socket socket, string ifname)
    {
        var value = new byte[8];
        BitConverter.TryWriteBytes(value, EthtoolGLink);
        var pinned = GCHandle.Alloc(value, GCHandleType.Pinned);
        try
        {
            var req = IfReq(ifname);
            BitConverter.TryWriteBytes(req.AsSpan(IfNameSize), (long)pinned.AddrOfPinnedObject());
            if (ioctl((int)socket.SafeHandle.DangerousGetHandle(), SiocEthtool, req) != 0) return null;
            return BitConverter.ToUInt32(value, 4) != 0;
        }
        finally
        {
            pinned.Free();
        }
    }

    /// <summary>Sets or clears IFF_UP on <paramref name="ifname"/> (what `ip link set IF up|down` does), in the namespace
    /// <paramref name="socket"/> was created in.</summary>
    public static void SetUp(Socket socket, string ifname, bool up)
    {
        var req = IfReq(ifname);
        Ioctl(socket, SiocGifFlags, req, ifname);
        var flags = BitConverter.ToInt16(req, IfNameSize);
        flags = up ? (short)(flags | IffUp) : (short)(flags & ~IffUp);
        BitConverter.TryWriteBytes(req.AsSpan(IfNameSize), flags);
        Ioctl(socket, SiocSifFlags, req, ifname);
    }

    private static void Ioctl(Socket socket, uint request, byte[] req, string ifname)
    {
        if (ioctl((int)socket.SafeHandle.DangerousGetHandle(), request, req) == 0) return;
        var errno = Marshal.GetLastPInvokeError();
        if (errno == 19) // ENODEV
            throw new InvalidOperationException($"no network interface '{ifname}' here");
        throw new InvalidOperationException($"ioctl 0x{request:x} on {ifname}: {new Win32Exception(errno).Message}");
    }

    private static byte[] IfReq(string ifname)
    {
        var bytes = Encoding.ASCII.GetBytes(ifname);
        if (bytes.Length >= IfNameSize) throw new ArgumentException($"'{ifname}' is longer than a Linux interface name (15)");
        var req = new byte[IfReqSize];
        bytes.CopyTo(req, 0);
        return req;
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a thread of its own that first enters network namespace <paramref name="ns"/>
    /// (a name under /run/netns, as `ip netns add` makes): sockets created there belong to that namespace for good,
    /// whatever thread uses them later. The thread ends with the work, so no pooled thread ever changes namespace.
    /// Null <paramref name="ns"/> runs it here, in the process's own namespace. An absolute path names the namespace file
    /// itself (`/proc/PID/ns/net`: the namespace a container's process runs in).
    /// </summary>
    public static T InNamespace<T>(string? ns, Func<T> work)
    {
        if (ns is null) return work();
        T result = default!;
        ExceptionDispatchInfo? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                EnterNamespace(ns);
                result = work();
            }
            catch (Exception e)
            {
                error = ExceptionDispatchInfo.Capture(e);
            }
        }) { IsBackground = true, Name = "netns " + ns };
        thread.Start();
        thread.Join();
        error?.Throw();
        return result;
    }

    private static void EnterNamespace(string ns)
    {
        var path = ns.StartsWith('/') ? ns : "/run/netns/" + ns;
        var fd = open(path, 0x80000 /* O_RDONLY | O_CLOEXEC */);
        if (fd < 0)
            throw new InvalidOperationException($"cannot open {path} ({new Win32Exception(Marshal.GetLastPInvokeError()).Message}): no such network namespace?");
        try
        {
            if (setns(fd, CloneNewNet) != 0)
                throw new InvalidOperationException(
                    $"setns({path}): {new Win32Exception(Marshal.GetLastPInvokeError()).Message} (entering a network namespace needs CAP_SYS_ADMIN)");
        }
        finally
        {
            close(fd);
        }
    }
}

/// <summary>A struct sockaddr_ll (linux/if_packet.h): family, EtherType, ifindex, hatype, pkttype, halen, address.</summary>
internal static class LinkLayerAddress
{
    public const int Size = 20;

    public static SocketAddress Create(int ifindex, ushort etherType, PhysicalAddress? destination)
    {
        var sa = new SocketAddress(AddressFamily.Packet, Size);
        var b = sa.Buffer.Span;
        b[2] = (byte)(etherType >> 8);
        b[3] = (byte)etherType;
        BitConverter.TryWriteBytes(b[4..8], ifindex);
        if (destination is not null)
        {
            var mac = destination.GetAddressBytes();
            b[11] = (byte)mac.Length;
            mac.CopyTo(b[12..]);
        }
        return sa;
    }

    public static SocketAddress ForReceive() =>
        new(AddressFamily.Packet, SocketAddress.GetMaximumAddressSize(AddressFamily.Packet));

    public static byte PacketType(SocketAddress sa) => sa.Buffer.Span[10];
}

/// <summary>What <see cref="Socket.Bind"/> needs: an <see cref="EndPoint"/> that serialises to a sockaddr_ll.</summary>
internal sealed class LinkLayerEndPoint(SocketAddress address) : EndPoint
{
    public override AddressFamily AddressFamily => AddressFamily.Packet;

    public override SocketAddress Serialize() => address;

    public override EndPoint Create(SocketAddress socketAddress) => new LinkLayerEndPoint(socketAddress);
}
