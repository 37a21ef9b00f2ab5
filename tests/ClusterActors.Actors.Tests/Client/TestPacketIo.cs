using System.Net;
using ClusterActors.Actors.DataPlane;

namespace ClusterActors.Actors.Tests.Client;

/// <summary>A packet as it crossed a <see cref="TestLink"/>: which port sent it and to which next hop.</summary>
internal sealed record WirePacket(string From, IPAddress NextHop, byte[] Bytes);

/// <summary>
/// One layer-3 segment for tests: a send is delivered synchronously, on the sender's thread (as the in-memory fabric
/// does), to the other attached port that answers for the next hop. Can lose packets (<see cref="Drop"/>) and keeps
/// a capture of what was delivered or dropped.
/// </summary>
internal sealed class TestLink(string name)
{
    private const int CaptureLimit = 20_000;
    private readonly object _sync = new();
    private readonly List<TestPort> _ports = [];
    private readonly List<WirePacket> _captured = [];

    public string Name { get; } = name;

    /// <summary>Return true to lose the packet on the wire (Send still reports success, as a real link would).</summary>
    public Func<WirePacket, bool>? Drop { get; set; }

    public IReadOnlyList<WirePacket> Captured
    {
        get { lock (_sync) return _captured.ToList(); }
    }

    internal void Attach(TestPort port)
    {
        lock (_sync) _ports.Add(port);
    }

    internal void Detach(TestPort port)
    {
        lock (_sync) _ports.Remove(port);
    }

    internal bool Deliver(TestPort from, IPAddress nextHop, byte[] bytes)
    {
        TestPort? to;
        var wire = new WirePacket(from.FullName, nextHop, bytes.ToArray());
        lock (_sync)
        {
            to = _ports.FirstOrDefault(p => p != from && p.IsUp && p.Answering && p.Addresses.Any(a => a.Address.Equals(nextHop)));
            if (to is null)
                return false;
            if (_captured.Count < CaptureLimit)
                _captured.Add(wire);
        }
        if (Drop?.Invoke(wire) == true)
            return true;
        to.Receive(wire.Bytes);
        return true;
    }
}

/// <summary>The packet I/O of one test host: each interface name is cabled to a <see cref="TestLink"/>.</summary>
internal sealed class TestHostIo(string host, IReadOnlyDictionary<string, TestLink> cabling) : IPacketIo
{
    public IPacketPort Open(string name, IReadOnlyList<InterfaceAddress> addresses, PacketArrived onPacket)
    {
        if (!cabling.TryGetValue(name, out var link))
            throw new ArgumentException($"{host} has no cable on {name}");
        var port = new TestPort($"{host}/{name}", name, addresses, link, onPacket);
        link.Attach(port);
        return port;
    }
}

internal sealed class TestPort(string fullName, string name, IReadOnlyList<InterfaceAddress> addresses, TestLink link, PacketArrived onPacket) : IPacketPort
{
    private volatile bool _disposed;
    private volatile bool _adminUp = true;

    public string FullName { get; } = fullName;
    public string Name { get; } = name;
    public IReadOnlyList<InterfaceAddress> Addresses { get; } = addresses;
    public bool IsUp => _adminUp && !_disposed;

    public bool AdminUp
    {
        get => _adminUp;
        set
        {
            _adminUp = value;
            CarrierChanged?.Invoke(this, IsUp);
        }
    }

    public bool Answering { get; set; } = true;

    public void Reannounce()
    {
        // every answering port is found by address here: there is no announcement to renew
    }

    public bool Send(IPAddress nextHop, byte[] ipv4Packet) => IsUp && link.Deliver(this, nextHop, ipv4Packet);

    public event Action<IPacketPort, bool>? CarrierChanged;

    internal void Receive(byte[] bytes)
    {
        if (IsUp)
            onPacket(this, bytes);
    }

    public void Dispose()
    {
        _disposed = true;
        link.Detach(this);
    }
}
