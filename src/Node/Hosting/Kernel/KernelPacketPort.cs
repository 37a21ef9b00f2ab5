using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Hosting.Kernel;

/// <summary>Cumulative counts of one kernel port.</summary>
/// <param name="Received">IPv4 packets handed to the port's callback.</param>
/// <param name="Sent">IPv4 packets the kernel accepted for sending.</param>
/// <param name="NoCarrier">Sends refused because the interface had no carrier (or was down, or the port disposed).</param>
/// <param name="Unresolved">Sends refused because nobody on the link answered ARP for the next hop in time.</param>
/// <param name="SendErrors">Sends the kernel refused (too big for the MTU, interface gone).</param>
/// <param name="SocketErrors">Socket errors the kernel left pending (ENETDOWN when the interface went down), read and cleared.</param>
/// <param name="StaleQueued">Frames dropped because they waited in the socket longer than <see cref="KernelPacketIoOptions.StaleAfter"/> (the process was stopped).</param>
/// <param name="IgnoredSilent">Packets that arrived while the port was not answering (a neighbour with a stale ARP entry).</param>
/// <param name="Malformed">Frames that were not a whole IPv4 packet.</param>
/// <param name="CallbackErrors">Exceptions thrown by the packet callback (the receive thread keeps going).</param>
/// <param name="ChecksumsCompleted">Received TCP/UDP packets whose checksum a sending Linux stack left to offload (veth), filled in here.</param>
/// <param name="LeftToKernel">Packets for an address the kernel holds on the port's interface and the port does not (the unit's per-unit address): the kernel's, not delivered (see <see cref="KernelHeldAddresses"/>).</param>
public sealed record KernelPortCounters(long Received, long Sent, long NoCarrier, long Unresolved, long SendErrors, long IgnoredSilent,
    long Malformed, long CallbackErrors, long ArpRequestsSent, long ArpsSeen, long GratuitousArpsSent, long GratuitousArpsSeen,
    long ChecksumsCompleted, long StaleQueued = 0, long SocketErrors = 0, long LeftToKernel = 0);

/// <summary>
/// One Linux interface as an <see cref="IPacketPort"/>: whole IPv4 packets in and out through AF_PACKET datagram
/// sockets (the kernel adds and strips the Ethernet header), ARP done by the port itself, the port's addresses put on
/// the interface while it answers (so the kernel answers ARP for them, and only then), carrier from the interface
/// flags. See README.md beside this file.
/// </summary>
/// <summary>One role change of a kernel port, measured from the moment Answering was set.</summary>
/// <param name="Answering">true: the port took its addresses over; false: it gave them up.</param>
/// <param name="Changed">Addresses the kernel added (or removed); fewer than <paramref name="Addresses"/> when some were there (or absent) already.</param>
/// <param name="AddressesTook">Until the kernel had acknowledged every address.</param>
/// <param name="FirstGratuitousArpAfter">Until the first gratuitous ARP was sent; null when none went out (silent, or no carrier yet).</param>
public sealed record KernelPortTakeover(bool Answering, int Changed, int Addresses, TimeSpan AddressesTook, TimeSpan? FirstGratuitousArpAfter)
{
    public override string ToString() => FormattableString.Invariant(
        $"{(Answering ? "takeover" : "release")}: {Changed} of {Addresses} address(es) {(Answering ? "added" : "removed")} by netlink in {AddressesTook.TotalMilliseconds:0.000} ms")
        + (FirstGratuitousArpAfter is { } g ? FormattableString.Invariant($", first gratuitous ARP sent {g.TotalMilliseconds:0.000} ms after the role change")
            : Answering ? ", no gratuitous ARP yet (no carrier)" : "");
}

public sealed class KernelPacketPort : IPacketPort
{
    private readonly KernelPacketIo _io;
    private readonly KernelPacketIoOptions _options;
    private readonly PacketArrived _onPacket;
    private readonly Socket _ipSocket;
    private readonly Socket _arpSocket;
    private readonly NetlinkRouteSocket _netlink;
    private readonly SocketAddress _broadcast;
    private readonly NeighbourTable _neighbours;
    private readonly InterfaceAddress[] _addresses;
    private readonly uint[] _keys;
    private readonly uint[] _masks;
    private readonly HashSet<InterfaceAddress> _added = new();
    private readonly object _stateGate = new();
    private readonly object _pollGate = new();
    private readonly long _lifetime;
    private readonly long _holdDown;
    private Thread? _ipReceiver;
    private Thread? _arpReceiver;
    private volatile bool _answering;
    private volatile bool _isUp;
    private volatile bool _adminUp;
    private volatile bool _disposed;
    private int _garpsDue;
    private long _nextGarpAt;
    private long _received, _sent, _noCarrier, _unresolved, _sendErrors, _ignoredSilent, _malformed, _callbackErrors;
    private long _arpRequestsSent, _arpsSeen, _garpsSent, _garpsSeen, _checksumsCompleted, _staleQueued, _socketErrors;
    private KernelPortTakeover? _lastTakeover;
    private volatile KernelHeldAddresses _kernelHeld = KernelHeldAddresses.None;
    private long _leftToKernel, _nextKernelHeldRefresh;

    private KernelPacketPort(KernelPacketIo io, string name, string linuxName, int ifindex, PhysicalAddress mac,
        IReadOnlyList<InterfaceAddress> addresses, PacketArrived onPacket, Socket ipSocket, Socket arpSocket, NetlinkRouteSocket netlink)
    {
        _io = io;
        _options = io.Options;
        Name = name;
        LinuxName = linuxName;
        IfIndex = ifindex;
        Mac = mac;
        _addresses = addresses.ToArray();
        _keys = _addresses.Select(a => Ipv4Address.ToUInt32(a.Address)).ToArray();
        _masks = _addresses.Select(a => a.PrefixLength == 0 ? 0u : uint.MaxValue << (32 - a.PrefixLength)).ToArray();
        _onPacket = onPacket;
        _ipSocket = ipSocket;
        _arpSocket = arpSocket;
        _netlink = netlink;
        _broadcast = LinkLayerAddress.Create(ifindex, LinuxNet.EthPArp, new PhysicalAddress([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
        _neighbours = new NeighbourTable(ifindex);
        _lifetime = NeighbourTable.Ticks(_options.NeighbourLifetime);
        _holdDown = NeighbourTable.Ticks(_options.UnresolvedHoldDown);
    }

    /// <summary>
    /// Creates the port's sockets; must run in the port's network namespace (<see cref="LinuxNet.InNamespace{T}"/>).
    /// <paramref name="linuxName"/> null: the interface called <paramref name="name"/>, else the one holding the first address.
    /// </summary>
    internal static KernelPacketPort Create(KernelPacketIo io, string name, string? linuxName, IReadOnlyList<InterfaceAddress> addresses,
        PacketArrived onPacket)
    {
        var arp = LinuxNet.PacketSocket();
        Socket? ip = null;
        NetlinkRouteSocket? netlink = null;
        try
        {
            var ifname = linuxName ?? FindInterface(io, arp, name, addresses);
            var ifindex = LinuxNet.IfIndex(arp, ifname);
            var mac = LinuxNet.HardwareAddress(arp, ifname);
            ip = LinuxNet.PacketSocket();
            LinuxNet.Bind(ip, ifindex, LinuxNet.EthPIp);
            LinuxNet.Bind(arp, ifindex, LinuxNet.EthPArp);
            SetReceiveBuffer(ip, io.Options.ReceiveBuffer);
            netlink = NetlinkRouteSocket.Open(); // here, in the port's namespace: the addresses go on this namespace's interface
            return new KernelPacketPort(io, name, ifname, ifindex, mac, addresses, onPacket, ip, arp, netlink);
        }
        catch
        {
            netlink?.Dispose();
            ip?.Dispose();
            arp.Dispose();
            throw;
        }
    }

    private const int SolSocket = 1, SoRcvBufForce = 33;

    /// <summary>
    /// Asks for <paramref name="bytes"/> of receive buffer whatever <c>net.core.rmem_max</c> says (SO_RCVBUFFORCE,
    /// CAP_NET_ADMIN); without the capability, SO_RCVBUF, which the kernel caps at rmem_max. A burst of ESP, or a short
    /// stall of the unit, must not overflow the default.
    /// </summary>
    internal static void SetReceiveBuffer(Socket socket, int bytes)
    {
        try
        {
            socket.SetRawSocketOption(SolSocket, SoRcvBufForce, BitConverter.GetBytes(bytes));
            return;
        }
        catch (SocketException)
        {
            // no CAP_NET_ADMIN: the capped option below
        }
        try
        {
            socket.ReceiveBufferSize = bytes;
        }
        catch (SocketException)
        {
            // keep the default
        }
    }

    /// <summary>The receive buffer the kernel gave the port's IP socket (SO_RCVBUF as read back: twice what was asked).</summary>
    public int ReceiveBufferBytes => _ipSocket.ReceiveBufferSize;

    private static string FindInterface(KernelPacketIo io, Socket probe, string name, IReadOnlyList<InterfaceAddress> addresses)
    {
        if (LinuxNet.Flags(probe, name) is not null) return name;
        var where = io.Options.Namespace is { } ns ? $"network namespace {ns}" : "this network namespace";
        if (addresses.Count > 0)
        {
            // `ip -o -4 addr show`: "2: eth0    inet 10.1.2.3/24 brd ... scope global eth0\ ..."
            var wanted = addresses[0].Address.ToString();
            foreach (var line in SystemCommand.IpOrThrow(io.Options.Namespace, "-o", "-4", "addr", "show").Split('\n'))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length >= 4 && f[2] == "inet" && f[3].Split('/')[0] == wanted) return f[1].Split('@')[0];
            }
        }
        throw new InvalidOperationException(
            $"no Linux interface '{name}' in {where}" + (addresses.Count > 0 ? $", and none holds {addresses[0].Address}" : "") +
            $": rename the lab's interface to {name} (ip link set DEV name {name}) or map it with KernelPacketIoOptions.InterfaceNames.");
    }

    /// <summary>Puts the port in its first state (answering or silent) and starts receiving.</summary>
    internal void Start(bool answering)
    {
        var receiver = new PacketReceiver(_ipSocket);
        try
        {
            Poll();
            lock (_stateGate)
            {
                _answering = answering;
                ApplyAddresses(answering, cleanStale: !answering);
                if (answering) ScheduleGratuitousArps();
                RefreshKernelHeld();
            }
        }
        catch
        {
            receiver.Dispose();
            throw;
        }
        _ipReceiver = new Thread(() => ReceiveIp(receiver)) { IsBackground = true, Name = $"kernel-io {Name} ip" };
        _arpReceiver = new Thread(ReceiveArp) { IsBackground = true, Name = $"kernel-io {Name} arp" };
        _ipReceiver.Start();
        _arpReceiver.Start();
    }

    public string Name { get; }

    /// <summary>The Linux interface this port is bound to (the same as <see cref="Name"/> unless mapped or found by address).</summary>
    public string LinuxName { get; }

    public int IfIndex { get; }

    public PhysicalAddress Mac { get; }

    public IReadOnlyList<InterfaceAddress> Addresses => _addresses;

    public bool IsUp => _isUp && !_disposed;

    public bool AdminUp
    {
        get => _adminUp;
        set
        {
            if (_disposed) return;
            // SIOCSIFFLAGS on the port's own socket (its namespace's interface): what `ip link set dev IF up|down`
            // does, without a child process on a unit's start or a `set status` change.
            try
            {
                LinuxNet.SetUp(_arpSocket, LinuxName, value);
            }
            catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
            {
                _io.Report($"{Name}: setting {LinuxName} {(value ? "up" : "down")}: {e.Message}");
            }
            Poll();
        }
    }

    public bool Answering
    {
        get => _answering;
        set
        {
            KernelPortTakeover takeover;
            lock (_stateGate)
            {
                if (_disposed || value == _answering) return;
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                _answering = value;
                var changed = ApplyAddresses(value, cleanStale: false);
                var addressed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
                var garpsBefore = Interlocked.Read(ref _garpsSent);
                if (value) ScheduleGratuitousArps();
                else _garpsDue = 0;
                TimeSpan? announced = Interlocked.Read(ref _garpsSent) > garpsBefore ? System.Diagnostics.Stopwatch.GetElapsedTime(started) : null;
                RefreshKernelHeld(); // after the announcement: the kernel's own addresses did not change, only ours
                takeover = new KernelPortTakeover(value, changed, _addresses.Length, addressed, announced);
                _lastTakeover = takeover;
            }
            _io.Note($"{Name}: {takeover}");
        }
    }

    /// <summary>The last role change of this port (Answering set): how long its addresses and first gratuitous ARP took.</summary>
    public KernelPortTakeover? LastTakeover
    {
        get
        {
            lock (_stateGate) return _lastTakeover;
        }
    }

    /// <summary>
    /// Sends the port's gratuitous ARPs again (<see cref="KernelPacketIoOptions.GratuitousArps"/> per address, the
    /// first at once) if it answers; a schedule still running starts over. Without carrier the first one goes out
    /// when carrier returns, as after Answering = true.
    /// </summary>
    public void Reannounce()
    {
        lock (_stateGate)
        {
            if (_disposed || !_answering) return;
            ScheduleGratuitousArps();
        }
    }

    public event Action<IPacketPort, bool>? CarrierChanged;

    public KernelPortCounters Counters => new(Interlocked.Read(ref _received), Interlocked.Read(ref _sent), Interlocked.Read(ref _noCarrier),
        Interlocked.Read(ref _unresolved), Interlocked.Read(ref _sendErrors), Interlocked.Read(ref _ignoredSilent), Interlocked.Read(ref _malformed),
        Interlocked.Read(ref _callbackErrors), Interlocked.Read(ref _arpRequestsSent), Interlocked.Read(ref _arpsSeen), Interlocked.Read(ref _garpsSent),
        Interlocked.Read(ref _garpsSeen), Volatile.Read(ref _checksumsCompleted), Interlocked.Read(ref _staleQueued),
        Interlocked.Read(ref _socketErrors), Interlocked.Read(ref _leftToKernel));

    /// <summary>The addresses whose packets this port leaves to the kernel (last snapshot of the namespace's addresses).</summary>
    public KernelHeldAddresses KernelHeld => _kernelHeld;

    /// <summary>How often the port re-reads the namespace's addresses (an operator or Docker may add one at run time).</summary>
    private static readonly TimeSpan KernelHeldRefresh = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Re-reads every IPv4 address of the namespace (one netlink dump, in-process) and keeps those on the port's
    /// interface that are not the port's: their packets are the kernel's. A dump that fails keeps the last snapshot and is reported.
    /// </summary>
    private void RefreshKernelHeld()
    {
        _nextKernelHeldRefresh = NeighbourTable.Now + NeighbourTable.Ticks(KernelHeldRefresh);
        var dump = _netlink.Addresses(NetlinkTimeout);
        if (dump is null)
        {
            _io.Report($"{Name}: reading the namespace's addresses by netlink failed; packets for {_kernelHeld} stay with the kernel");
            return;
        }
        var next = new KernelHeldAddresses(dump, IfIndex, _keys);
        var before = _kernelHeld;
        _kernelHeld = next;
        if (before.ToString() != next.ToString())
            _io.Note($"{Name}: packets for {next} are left to the kernel (its own addresses, not the port's)");
    }

    /// <summary>The MAC this port last learned for <paramref name="address"/> (from any ARP packet on the link), or null.</summary>
    public PhysicalAddress? NeighbourMac(IPAddress address) => _neighbours.MacOf(Ipv4Address.ToUInt32(address));

    public bool Send(IPAddress nextHop, byte[] ipv4Packet)
    {
        ArgumentNullException.ThrowIfNull(nextHop);
        ArgumentNullException.ThrowIfNull(ipv4Packet);
        if (!IsUp)
        {
            Interlocked.Increment(ref _noCarrier);
            return false;
        }
        var target = Ipv4Address.ToUInt32(nextHop);
        var destination = _neighbours.Lookup(target, _lifetime, out var age);
        if (destination is null)
        {
            if (_neighbours.RecentlyFailed(target, _holdDown))
            {
                Interlocked.Increment(ref _unresolved);
                return false;
            }
            var asked = _neighbours.MayRequest(target, NeighbourTable.Ticks(_options.ResolveTimeout));
            if (asked) SendArpRequest(target);
            var waitStarted = System.Diagnostics.Stopwatch.GetTimestamp();
            destination = _neighbours.WaitFor(target, _lifetime, _options.ResolveTimeout);
            var waited = System.Diagnostics.Stopwatch.GetElapsedTime(waitStarted);
            if (destination is null)
            {
                Interlocked.Increment(ref _unresolved);
                // Once per hold-down (the next sends fail at once): the caller (a unit's forwarding actor) was blocked this long.
                _io.Note(FormattableString.Invariant($"{Name}: {nextHop} did not answer ARP ({(asked ? "asked" : "already being asked")}): the sender waited {waited.TotalMilliseconds:0} ms; sends to it fail for {_options.UnresolvedHoldDown.TotalMilliseconds:0} ms"));
                return false;
            }
            if (waited >= SlowResolution)
                _io.Note(FormattableString.Invariant($"{Name}: resolving {nextHop} kept the sender waiting {waited.TotalMilliseconds:0.0} ms"));
        }
        else if (age > _lifetime / 2 && _neighbours.MayRequest(target, NeighbourTable.Ticks(TimeSpan.FromSeconds(1))))
        {
            SendArpRequest(target); // refresh while still using the entry
        }
        try
        {
            _ipSocket.SendTo(ipv4Packet, SocketFlags.None, destination);
            Interlocked.Increment(ref _sent);
            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            Interlocked.Increment(ref _sendErrors);
            return false;
        }
    }

    /// <summary>Reads the interface flags, raises <see cref="CarrierChanged"/> on a change, sends due gratuitous ARPs.</summary>
    internal void Poll()
    {
        lock (_pollGate)
        {
            if (_disposed) return;
            var flags = LinuxNet.Flags(_arpSocket, LinuxName);
            _adminUp = flags is { } a && (a & LinuxNet.IffUp) != 0;
            var up = _adminUp && (LinuxNet.Carrier(_arpSocket, LinuxName) ?? (flags!.Value & LinuxNet.IffRunning) != 0);
            if (up != _isUp)
            {
                _isUp = up;
                // Regaining carrier while answering announces the address again, as the fabric's link-up GARP does.
                if (up && _answering)
                    lock (_stateGate) ScheduleGratuitousArps();
                if (_ipReceiver is not null) // not during Start: the first state is no change
                    CarrierChanged?.Invoke(this, up);
            }
            SendDueGratuitousArps();
            if (NeighbourTable.Now >= _nextKernelHeldRefresh)
                lock (_stateGate)
                    if (!_disposed) RefreshKernelHeld();
        }
    }

    private void ScheduleGratuitousArps()
    {
        _garpsDue = Math.Max(0, _options.GratuitousArps);
        _nextGarpAt = 0;
        SendDueGratuitousArps();
    }

    private void SendDueGratuitousArps()
    {
        lock (_stateGate)
        {
            if (_garpsDue <= 0 || !_answering || !_isUp || NeighbourTable.Now < _nextGarpAt) return;
            _garpsDue--;
            _nextGarpAt = NeighbourTable.Now + NeighbourTable.Ticks(_options.GratuitousArpInterval);
        }
        foreach (var key in _keys)
            if (SendArp(ArpPacket.Gratuitous(Mac, key)))
                Interlocked.Increment(ref _garpsSent);
    }

    private void SendArpRequest(uint target)
    {
        // A silent port must not claim the cluster's address in its request (neighbours would learn it here): it asks
        // as an ARP probe (sender 0.0.0.0, RFC 5227), which Linux answers all the same.
        uint sender = 0;
        if (_answering)
            for (var i = 0; i < _keys.Length; i++)
                if ((_keys[i] & _masks[i]) == (target & _masks[i])) { sender = _keys[i]; break; }
        if (SendArp(ArpPacket.RequestFor(Mac, sender, target)))
            Interlocked.Increment(ref _arpRequestsSent);
    }

    private bool SendArp(ArpPacket arp)
    {
        try
        {
            _arpSocket.SendTo(arp.ToBytes(), SocketFlags.None, _broadcast);
            return true;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>
    /// Adds (answering) or removes (silent) the port's addresses on the interface: one rtnetlink datagram for all of
    /// them, in this process (no `ip` child on the failover path). Returns how many the kernel changed.
    /// </summary>
    private int ApplyAddresses(bool present, bool cleanStale)
    {
        var changed = 0;
        foreach (var r in _netlink.Change(present ? AddressChange.Add : AddressChange.Remove, IfIndex, _addresses, NetlinkTimeout))
        {
            if (r.Ok)
            {
                changed++;
                if (present) _added.Add(r.Address);
                else _added.Remove(r.Address);
            }
            else if (present && r.AlreadyPresent)
            {
                // already there: configured by the lab itself, so it stays when the port is disposed
            }
            else if (!present && r.WasAbsent)
            {
                _added.Remove(r.Address); // not there
            }
            else
            {
                _io.Report($"{Name}: {(present ? "adding" : "removing")} {r} on {LinuxName}");
            }
        }
        if (cleanStale) _added.Clear();
        return changed;
    }

    /// <summary>A resolution that kept its sender waiting this long is logged (the forwarding actor waits with it).</summary>
    private static readonly TimeSpan SlowResolution = TimeSpan.FromMilliseconds(20);

    /// <summary>How long the kernel has to acknowledge an address change (it answers in microseconds; this only bounds a wedged socket).</summary>
    private static readonly TimeSpan NetlinkTimeout = TimeSpan.FromSeconds(2);

    private void ReceiveIp(PacketReceiver receiver)
    {
        using var _ = receiver;
        var idle = true; // wait for the socket only once it is drained: one syscall per packet under load, not two
        while (!_disposed)
        {
            byte[]? packet;
            byte type;
            bool malformed;
            long arrivedNs;
            try
            {
                if (idle && !_ipSocket.Poll(100_000, SelectMode.SelectRead))
                {
                    ClearPendingError(_ipSocket);
                    continue;
                }
                packet = receiver.Receive(out type, out malformed, out arrivedNs);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                if (_disposed) return;
                Thread.Sleep(10);
                continue;
            }
            idle = packet is null && !malformed;
            if (idle) continue; // drained
            if (type != LinuxNet.PacketHost) continue; // broadcast, multicast, another host's, our own
            if (!_answering)
            {
                Interlocked.Increment(ref _ignoredSilent);
                continue;
            }
            if (packet is null)
            {
                Interlocked.Increment(ref _malformed);
                continue;
            }
            if (_kernelHeld.IsLeftToKernel(packet))
            {
                // The kernel got its copy of this frame (AF_PACKET only taps): it is for the unit's own per-unit
                // address, not the cluster's; forwarded, it went back out of this port with an ARP for ourselves.
                Interlocked.Increment(ref _leftToKernel);
                continue;
            }
            if (_options.StaleAfter is { } staleAfter && arrivedNs != 0
                && PacketReceiver.NowUnixNs() - arrivedNs > staleAfter.Ticks * 100)
            {
                Interlocked.Increment(ref _staleQueued); // queued while this process did not run: see StaleAfter
                continue;
            }
            Volatile.Write(ref _checksumsCompleted, receiver.ChecksumsCompleted);
            Interlocked.Increment(ref _received);
            try
            {
                _onPacket(this, packet);
            }
            catch (Exception e)
            {
                Interlocked.Increment(ref _callbackErrors);
                _io.Report($"{Name}: packet callback threw {e.GetType().Name}: {e.Message}");
            }
        }
    }

    /// <summary>
    /// Reads and so clears a socket error the kernel left pending: an interface set down (`set status down`, a pulled
    /// cable in the lab) leaves ENETDOWN on every AF_PACKET socket bound to it, poll(2) then returns POLLERR at once,
    /// which `Socket.Poll(SelectRead)` reports as "nothing to read" — and a receive loop that only polls spun on two
    /// cores for as long as the unit lived (measured: 170 % CPU on DC2_VM2 after fgsp-failover's port2 down, the machine's
    /// load 120). Reading SO_ERROR clears it (sock_error), so the next poll waits again; the port comes back by itself
    /// when the interface does (the kernel re-hooks a bound packet socket on NETDEV_UP).
    /// </summary>
    private void ClearPendingError(Socket socket)
    {
        if (!socket.Poll(0, SelectMode.SelectError)) return;
        socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error);
        Interlocked.Increment(ref _socketErrors);
    }

    private void ReceiveArp()
    {
        var buffer = new byte[1600];
        var from = LinkLayerAddress.ForReceive();
        while (!_disposed)
        {
            int n;
            try
            {
                if (!_arpSocket.Poll(100_000, SelectMode.SelectRead))
                {
                    ClearPendingError(_arpSocket);
                    continue;
                }
                from.Size = from.Buffer.Length;
                n = _arpSocket.ReceiveFrom(buffer, SocketFlags.None, from);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                if (_disposed) return;
                Thread.Sleep(10);
                continue;
            }
            var type = LinkLayerAddress.PacketType(from);
            if (type is not (LinuxNet.PacketHost or LinuxNet.PacketBroadcast)) continue;
            if (!ArpPacket.TryParse(buffer.AsSpan(0, n), out var arp) || arp.SenderMac.Equals(Mac)) continue;
            Interlocked.Increment(ref _arpsSeen);
            if (arp.IsGratuitous) Interlocked.Increment(ref _garpsSeen);
            _neighbours.Learn(arp.SenderIp, arp.SenderMac);
        }
    }

    public string Describe()
    {
        var c = Counters;
        var sb = new StringBuilder();
        sb.Append($"{Name} ({LinuxName} ifindex {IfIndex} {FormatMac(Mac)}) {string.Join(",", _addresses.Select(a => a.ToString()))} ")
          .Append(!IsUp ? AdminUp ? "down (no carrier)" : "down (admin)" : Answering ? "up answering" : "up silent").Append('\n')
          .Append($"    rx {c.Received} tx {c.Sent}, dropped: no carrier {c.NoCarrier}, unresolved {c.Unresolved}, send errors {c.SendErrors}, ")
          .Append($"silent {c.IgnoredSilent}, left to kernel {c.LeftToKernel}, stale {c.StaleQueued}, malformed {c.Malformed}; arp: requests {c.ArpRequestsSent}, seen {c.ArpsSeen}, ")
          .Append($"garp sent {c.GratuitousArpsSent}, garp seen {c.GratuitousArpsSeen}; checksums completed {c.ChecksumsCompleted}\n");
        foreach (var (ip, mac, age) in _neighbours.Snapshot())
            sb.Append($"    neighbour {Ipv4Address.ToIPAddress(ip)} at {FormatMac(mac)} ({age.TotalSeconds:0.0} s)\n");
        return sb.ToString();
    }

    public static string FormatMac(PhysicalAddress mac) => string.Join(":", mac.GetAddressBytes().Select(b => b.ToString("x2")));

    /// <summary>Detaches the port as a killed unit's would: stops receiving and takes back the addresses it put on the interface.</summary>
    public void Dispose()
    {
        lock (_pollGate)
        lock (_stateGate)
        {
            if (_disposed) return;
            _disposed = true;
            _isUp = false;
            _garpsDue = 0;
            if (_added.Count > 0) _netlink.Change(AddressChange.Remove, IfIndex, _added.ToArray(), NetlinkTimeout);
            _added.Clear();
        }
        _netlink.Dispose();
        _ipSocket.Dispose();
        _arpSocket.Dispose();
        foreach (var t in new[] { _ipReceiver, _arpReceiver })
            if (t is not null && t != Thread.CurrentThread) t.Join(TimeSpan.FromSeconds(1));
        _io.Detach(this);
    }

    public override string ToString() => $"kernel port {Name} ({LinuxName})";
}
