using System.Net;
using System.Net.Sockets;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Serialization;

namespace ClusterActors.Actors.Fgcp;

/// <summary>
/// The heartbeat device (hbdev) of one unit: the link FGCP heartbeats travel on. It is deliberately NOT the
/// link Akka remoting uses, so cutting it alone gives split brain exactly as pulling a FortiGate's heartbeat
/// cable does, while the units still reach each other for everything else.
/// </summary>
public interface IHbdevLink : IDisposable
{
    string Interface { get; }
    bool IsUp { get; }

    /// <summary>Cable pulled or plugged (or the interface set down/up): a down link neither sends nor hears.</summary>
    void SetUp(bool up);

    /// <summary>
    /// Hands what the link hears to FGCP. Called again each time the FGCP actor starts (after a restart): the new
    /// callbacks replace the old ones, the socket lives on. The link belongs to whoever created it (the host), which
    /// disposes it; the FGCP actor never does, so a restart cannot leave the unit without heartbeats.
    /// </summary>
    void Start(Action<FgcpHeartbeat> onHeartbeat, Action<string> onMalformed);

    /// <summary>As <see cref="Start(Action{FgcpHeartbeat}, Action{string})"/>, with the drop's cause for links that decode datagrams.</summary>
    void Start(Action<FgcpHeartbeat> onHeartbeat, Action<HeartbeatDrop> onDropped) =>
        Start(onHeartbeat, why => onDropped(new HeartbeatDrop(HeartbeatDropCause.Corrupt, why)));

    void Send(FgcpHeartbeat heartbeat);
    HbdevCounters Counters { get; }
}

public sealed record HbdevCounters(long TxPackets, long TxBytes, long RxPackets, long RxBytes, long RxDropped);

/// <summary>
/// Heartbeats as UDP datagrams between the members of one heartbeat segment. On loopback and in the lab the
/// segment is a static list of peer endpoints (FortiOS uses an L2 segment; the lab's wiring lists who is on it).
/// </summary>
public sealed class UdpHbdevLink(string iface, IPEndPoint bind, IReadOnlyList<IPEndPoint> peers) : IHbdevLink
{
    private readonly UdpClient _udp = CreateSocket(bind);
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _up = true;
    private int _receiving;
    private volatile Receivers? _receivers;
    private long _txPackets, _txBytes, _rxPackets, _rxBytes, _rxDropped;

    private sealed record Receivers(Action<FgcpHeartbeat> OnHeartbeat, Action<HeartbeatDrop> OnDropped);

    public string Interface { get; } = iface;
    public bool IsUp => _up;
    public IPEndPoint LocalEndPoint => (IPEndPoint)_udp.Client.LocalEndPoint!;
    public IReadOnlyList<IPEndPoint> Peers { get; set; } = peers;

    public HbdevCounters Counters => new(
        Interlocked.Read(ref _txPackets), Interlocked.Read(ref _txBytes),
        Interlocked.Read(ref _rxPackets), Interlocked.Read(ref _rxBytes), Interlocked.Read(ref _rxDropped));

    private static UdpClient CreateSocket(IPEndPoint bind)
    {
        var udp = new UdpClient(bind.AddressFamily);
        udp.Client.Bind(bind);
        return udp;
    }

    public void SetUp(bool up) => _up = up;

    public void Start(Action<FgcpHeartbeat> onHeartbeat, Action<string> onMalformed) =>
        Start(onHeartbeat, drop => onMalformed(drop.Detail));

    public void Start(Action<FgcpHeartbeat> onHeartbeat, Action<HeartbeatDrop> onDropped)
    {
        _receivers = new Receivers(onHeartbeat, onDropped);
        // One receive loop for the life of the socket, whoever listens now.
        if (Interlocked.Exchange(ref _receiving, 1) == 0) _ = Task.Run(ReceiveLoop);
    }

    private async Task ReceiveLoop()
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
            catch (SocketException) { continue; } // ICMP port unreachable from a dead peer surfaces here on Linux

            if (!_up) continue; // a pulled cable hears nothing
            Interlocked.Increment(ref _rxPackets);
            Interlocked.Add(ref _rxBytes, datagram.Buffer.Length);
            var (hb, drop) = FgcpHeartbeatValidation.Decode(datagram.Buffer);
            if (drop is not null) Interlocked.Increment(ref _rxDropped);
            var receivers = _receivers;
            if (receivers is null) continue;
            try
            {
                if (hb is not null) receivers.OnHeartbeat(hb);
                else receivers.OnDropped(drop!);
            }
            catch (Exception)
            {
                // A listener that fails must not end the socket's receive loop: the next heartbeat is delivered again.
            }
        }
    }

    public void Send(FgcpHeartbeat heartbeat)
    {
        if (!_up) return;
        var datagram = Encode(heartbeat);
        foreach (var peer in Peers)
        {
            try
            {
                _udp.Send(datagram, datagram.Length, peer);
                Interlocked.Increment(ref _txPackets);
                Interlocked.Add(ref _txBytes, datagram.Length);
            }
            catch (SocketException) { } // the peer's host is gone; FGCP notices through missing heartbeats
            catch (ObjectDisposedException) { return; }
        }
    }

    public static byte[] Encode(FgcpHeartbeat hb)
    {
        var body = WireCodecs.Encode(hb);
        var datagram = new byte[FgcpHeartbeatValidation.Magic.Length + body.Length];
        FgcpHeartbeatValidation.Magic.CopyTo(datagram);
        body.CopyTo(datagram, FgcpHeartbeatValidation.Magic.Length);
        return datagram;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _udp.Dispose();
    }
}
