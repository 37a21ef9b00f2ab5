using System.Net;
using System.Net.Sockets;
using ClusterActors.Actors.DataPlane;

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
    /// Hands every datagram the link hears to FGCP, which opens it with the cluster's keys (the link holds none: keys
    /// change with the configuration, the link does not). Called again each time the FGCP actor starts (after a restart):
    /// the new callback replaces the old one, the socket lives on. The link belongs to whoever created it (the host),
    /// which disposes it; the FGCP actor never does, so a restart cannot leave the unit without heartbeats.
    /// </summary>
    void Start(Action<byte[]> onDatagram);

    /// <summary>Sends one heartbeat datagram (sealed by FGCP) to the members of the heartbeat segment.</summary>
    void Send(byte[] datagram);

    /// <summary>FGCP dropped a datagram this link delivered: counted in the hbdev's `dropped` figure.</summary>
    void CountDropped();

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
    private volatile Action<byte[]>? _onDatagram;
    private long _txPackets, _txBytes, _rxPackets, _rxBytes, _rxDropped;

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

    public void CountDropped() => Interlocked.Increment(ref _rxDropped);

    public void Start(Action<byte[]> onDatagram)
    {
        _onDatagram = onDatagram;
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
            var onDatagram = _onDatagram;
            if (onDatagram is null) continue;
            try
            {
                onDatagram(datagram.Buffer);
            }
            catch (Exception)
            {
                // A listener that fails must not end the socket's receive loop: the next heartbeat is delivered again.
            }
        }
    }

    private volatile ImpairedEgress<(byte[] Datagram, IPEndPoint Peer)>? _egress;
    private readonly object _impairGate = new();
    private ImpairmentCounters? _retired;

    /// <summary>
    /// `impair UNIT port4 …` on this hbdev: netem on its egress (<see cref="NetemModel"/>), each datagram to each peer a
    /// packet of its own, as on the wire. Null or <see cref="ImpairmentSpec.None"/> clears it (what is queued is
    /// purged). The impairment lives with this link, that is with the unit's process: a restarted unit starts clean.
    /// </summary>
    public void Impair(ImpairmentSpec? spec, Random random, TimeProvider? time = null)
    {
        lock (_impairGate)
        {
            if (_egress is { } old)
            {
                old.Dispose();
                _retired = Sum(_retired, old.Counters);
            }
            _egress = spec is null || spec == ImpairmentSpec.None
                ? null
                : new ImpairedEgress<(byte[], IPEndPoint)>(spec, random, time ?? TimeProvider.System, d => SendNow(d.Item1, d.Item2));
        }
    }

    /// <summary>The egress impairment's counters (cleared ones included), or null if the link was never impaired.</summary>
    public ImpairmentCounters? Impairment
    {
        get
        {
            lock (_impairGate)
                return _egress is { } live ? Sum(_retired, live.Counters) : _retired;
        }
    }

    private static ImpairmentCounters Sum(ImpairmentCounters? a, ImpairmentCounters b) => a is null ? b : b with
    {
        Offered = a.Offered + b.Offered, Lost = a.Lost + b.Lost, OverLimit = a.OverLimit + b.OverLimit, Flushed = a.Flushed + b.Flushed,
        Duplicated = a.Duplicated + b.Duplicated,
    };

    public void Send(byte[] datagram)
    {
        if (!_up) return;
        foreach (var peer in Peers)
        {
            if (_egress is { } egress) egress.Send((datagram, peer), datagram.Length);
            else SendNow(datagram, peer);
        }
    }

    private void SendNow(byte[] datagram, IPEndPoint peer)
    {
        if (!_up) return; // the cable was pulled while the datagram waited in the impairment's queue
        try
        {
            _udp.Send(datagram, datagram.Length, peer);
            Interlocked.Increment(ref _txPackets);
            Interlocked.Add(ref _txBytes, datagram.Length);
        }
        catch (SocketException) { } // the peer's host is gone; FGCP notices through missing heartbeats
        catch (ObjectDisposedException) { }
    }

    public void Dispose()
    {
        _egress?.Dispose();
        _stop.Cancel();
        _udp.Dispose();
    }
}
