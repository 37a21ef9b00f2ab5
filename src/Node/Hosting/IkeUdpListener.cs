using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Unit;
using ClusterActors.Protocol.Ike;

namespace ClusterActors.Node.Hosting;

/// <summary>
/// The unit's IKE socket: UDP datagrams to its local gateway, handed to the phase1 that listens there and answered
/// from the same socket. On loopback the lab wires lb1 (192.168.202.35:500) to a 127.0.0.1 port of each unit.
/// </summary>
public sealed class IkeUdpListener : IDisposable
{
    /// <summary>Datagrams handed to the unit and not yet answered, at most: beyond it a flood is shed here, not queued.</summary>
    public const int MaxInFlight = 1024;

    private readonly UdpClient _udp;
    private readonly CancellationTokenSource _stop = new();
    private readonly IkeAdmissionSettings _limits;
    private int _inFlight;
    private long _oversized;
    private long _shed;

    private IkeUdpListener(UdpClient udp, IkeAdmissionSettings limits)
    {
        _udp = udp;
        _limits = limits;
    }

    /// <summary>Datagrams dropped at the socket for their size or shape (IkeAdmission.ScreenOnly), never handed to the unit.</summary>
    public long DroppedOversized => Interlocked.Read(ref _oversized);

    /// <summary>Datagrams dropped because <see cref="MaxInFlight"/> were already waiting for the unit.</summary>
    public long DroppedInFlight => Interlocked.Read(ref _shed);

    public IPEndPoint EndPoint => (IPEndPoint)_udp.Client.LocalEndPoint!;

    /// <param name="localGateway">The address this socket stands for (the phase1's local-gw), whatever it is bound to.</param>
    /// <param name="unit">The unit's current actor (a new one after the host restarts the ActorSystem).</param>
    public static IkeUdpListener Start(IPEndPoint bind, IPAddress localGateway, Func<IActorRef> unit, IkeAdmissionSettings? limits = null)
    {
        UdpClient udp;
        try
        {
            udp = new UdpClient(bind);
        }
        catch (SocketException e)
        {
            throw new UsageException($"IKE endpoint {bind}: {e.Message}");
        }
        var listener = new IkeUdpListener(udp, limits ?? new IkeAdmissionSettings());
        _ = listener.Loop(localGateway, unit);
        return listener;
    }

    private async Task Loop(IPAddress localGateway, Func<IActorRef> unit)
    {
        while (!_stop.IsCancellationRequested)
        {
            UdpReceiveResult datagram;
            try
            {
                datagram = await _udp.ReceiveAsync(_stop.Token);
            }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException) { continue; }
            // Before the unit sees it: a 60 KB Vendor ID costs a header look here, and a flood faster than the unit
            // answers is shed at the socket (UDP may lose it; an honest peer retransmits) instead of queuing without bound.
            if (IkeAdmission.ScreenOnly(datagram.Buffer, _limits) is IkeDropCause.Oversized or IkeDropCause.OversizedInit or IkeDropCause.TooManyPayloads)
            {
                Interlocked.Increment(ref _oversized);
                continue;
            }
            if (Interlocked.Increment(ref _inFlight) > MaxInFlight)
            {
                Interlocked.Decrement(ref _inFlight);
                Interlocked.Increment(ref _shed);
                continue;
            }
            _ = Answer(datagram, localGateway, unit);
        }
    }

    private async Task Answer(UdpReceiveResult datagram, IPAddress localGateway, Func<IActorRef> unit)
    {
        try
        {
            var from = datagram.RemoteEndPoint;
            var replies = await unit().Ask<IkeReplies>(new DeliverIke(localGateway, new IkeDatagram(from.Address, from.Port, datagram.Buffer)),
                TimeSpan.FromSeconds(10));
            foreach (var reply in replies.Datagrams) await _udp.SendAsync(reply, from, _stop.Token);
        }
        catch (Exception) { /* the peer retransmits; a lost answer is what UDP is */ }
        finally { Interlocked.Decrement(ref _inFlight); }
    }

    /// <summary>A request the unit starts itself (DPD), from the same socket the peer talks to.</summary>
    public void Send(IPEndPoint to, byte[] datagram)
    {
        try
        {
            _udp.Send(datagram, datagram.Length, to);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { /* unanswered DPD is what tells */ }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _udp.Dispose();
    }
}
