using System.Net;
using ClusterActors.Protocol.Packets;
using ClusterActors.Actors.DataPlane;

namespace ClusterActors.Node.LabHarness.Fabric;

/// <summary>
/// A plain host with one interface and a default gateway that answers ICMP echo (the scenario's Server 10.10.101.2):
/// an echo request to its address gets the reply (same identifier, sequence and data, addresses swapped, fresh TTL)
/// sent straight to an on-link requester or else to the gateway. Everything else is counted and dropped.
/// Thread-safe; the replies go out on the thread that delivered the request.
/// </summary>
public sealed class EchoHost : IDisposable
{
    private readonly uint _address;
    private readonly Ipv4Prefix _subnet;
    private long _answered, _dropped, _replyFailed;

    public EchoHost(IPacketIo io, string interfaceName, InterfaceAddress address, IPAddress gateway)
    {
        ArgumentNullException.ThrowIfNull(io);
        ArgumentNullException.ThrowIfNull(address);
        Address = address;
        Gateway = gateway ?? throw new ArgumentNullException(nameof(gateway));
        _address = Ipv4Address.ToUInt32(address.Address);
        _subnet = address.Subnet;
        if (!_subnet.Contains(gateway))
            throw new ArgumentException($"Gateway {gateway} is not on {interfaceName}'s subnet {_subnet}.", nameof(gateway));
        Port = io.Open(interfaceName, [address], (_, bytes) => Receive(bytes));
    }

    public EchoHost(IPacketIo io, string interfaceName, string address, string gateway)
        : this(io, interfaceName, InterfaceAddress.Parse(address), IPAddress.Parse(gateway))
    {
    }

    public InterfaceAddress Address { get; }
    public IPAddress Gateway { get; }
    public IPacketPort Port { get; }

    /// <summary>Echo requests to this host that were answered (the reply handed to the link).</summary>
    public long EchoRequestsAnswered => Interlocked.Read(ref _answered);

    /// <summary>Everything else that arrived: not for this host, not an echo request, malformed.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Replies the link refused (no carrier, gateway not answering).</summary>
    public long RepliesFailed => Interlocked.Read(ref _replyFailed);

    /// <summary>Raised for every echo request answered, with the request (after the reply was sent).</summary>
    public event Action<Ipv4Packet>? EchoRequestReceived;

    private void Receive(byte[] bytes)
    {
        if (!Ipv4Header.TryRead(bytes, out var h) || h.Destination != _address
            || !Ipv4Packet.TryParse(bytes, out var request, out _) || !IcmpEcho.TryReply(request, out var reply))
        {
            Interlocked.Increment(ref _dropped);
            return;
        }
        var nextHop = _subnet.Contains(h.Source) ? request.Source : Gateway;
        if (Port.Send(nextHop, reply.ToBytes()))
            Interlocked.Increment(ref _answered);
        else
            Interlocked.Increment(ref _replyFailed);
        EchoRequestReceived?.Invoke(request);
    }

    public override string ToString() => $"EchoHost {Address} via {Gateway}";

    public void Dispose() => Port.Dispose();
}
