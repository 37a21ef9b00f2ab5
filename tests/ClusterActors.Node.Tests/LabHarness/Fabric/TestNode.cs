using System.Collections.Concurrent;
using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Tests.LabHarness.Fabric;

/// <summary>
/// A scripted host for the data-plane specs: one interface, optional gateway, optional extra local addresses (a unit's
/// lb1). It records everything that arrives, answers echo requests to any of its addresses when asked to (a fake
/// FortiGate answering the DC router's probes and pings to lb1), and sends what the test tells it to.
/// </summary>
internal sealed class TestNode : IDisposable
{
    private readonly ConcurrentQueue<Ipv4Packet> _received = new();
    private readonly ConcurrentQueue<int> _threads = new();
    private readonly Ipv4Prefix _subnet;
    private readonly HashSet<uint> _local;

    public TestNode(IPacketIo io, string iface, string address, string? gateway = null, string[]? extraLocal = null, bool answerEcho = true)
    {
        Address = InterfaceAddress.Parse(address);
        _subnet = Address.Subnet;
        Gateway = gateway is null ? null : IPAddress.Parse(gateway);
        AnswerEcho = answerEcho;
        _local = [Ipv4Address.ToUInt32(Address.Address), .. (extraLocal ?? []).Select(Ipv4Address.Parse)];
        Port = io.Open(iface, [Address], (_, bytes) => Receive(bytes));
    }

    public InterfaceAddress Address { get; }
    public IPAddress? Gateway { get; }
    public IPacketPort Port { get; }
    public bool AnswerEcho { get; set; }

    public IReadOnlyList<Ipv4Packet> Received => _received.ToArray();
    public IReadOnlyList<int> ReceiveThreads => _threads.ToArray();
    public int EchoRequestsAnswered;

    public event Action<Ipv4Packet>? PacketReceived;

    /// <summary>Echo replies received from <paramref name="from"/>.</summary>
    public int RepliesFrom(string from) =>
        Received.Count(p => p.Source.Equals(IPAddress.Parse(from)) && IcmpEcho.TryParse(p.Payload, out var e) && e.Type == IcmpEchoType.Reply);

    /// <summary>Packets that arrived other than echo requests to this node (i.e. what was forwarded to it).</summary>
    public IReadOnlyList<Ipv4Packet> NonEchoRequests =>
        Received.Where(p => !(IcmpEcho.TryParse(p.Payload, out var e) && e.Type == IcmpEchoType.Request)).ToArray();

    public bool Send(Ipv4Packet packet) => Send(packet.ToBytes(), packet.Destination);

    public bool Send(byte[] bytes, IPAddress destination)
    {
        var nextHop = _subnet.Contains(destination) ? destination : Gateway ?? destination;
        return Port.Send(nextHop, bytes);
    }

    public bool Ping(string destination, ushort id = 1, ushort seq = 1, string? source = null, byte ttl = Ipv4Packet.DefaultTtl) =>
        Send(IcmpEcho.Request(id, seq, [1, 2, 3, 4, 5, 6, 7, 8])
            .InIpv4(source is null ? Address.Address : IPAddress.Parse(source), IPAddress.Parse(destination), ttl: ttl));

    private void Receive(byte[] bytes)
    {
        _threads.Enqueue(Environment.CurrentManagedThreadId);
        Assert.True(Ipv4Packet.TryParse(bytes, out var packet, out var error), $"malformed packet delivered: {error}");
        _received.Enqueue(packet);
        PacketReceived?.Invoke(packet);
        if (AnswerEcho && _local.Contains(Ipv4Address.ToUInt32(packet.Destination)) && IcmpEcho.TryReply(packet, out var reply))
        {
            Interlocked.Increment(ref EchoRequestsAnswered);
            Send(reply);
        }
    }

    public void Dispose() => Port.Dispose();
}
