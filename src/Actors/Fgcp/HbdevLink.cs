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

    void Start(Action<FgcpHeartbeat> onHeartbeat, Action<string> onMalformed);
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
    private static readonly byte[] Magic = "FGCP"u8.ToArray();
    private const string Manifest = "fgcp.hb.v1";

    private readonly UdpClient _udp = CreateSocket(bind);
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _up = true;
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

    public void Start(Action<FgcpHeartbeat> onHeartbeat, Action<string> onMalformed)
    {
        _ = Task.Run(async () =>
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
                if (TryDecode(datagram.Buffer, out var hb, out var why)) onHeartbeat(hb!);
                else
                {
                    Interlocked.Increment(ref _rxDropped);
                    onMalformed($"{why} from {datagram.RemoteEndPoint}");
                }
            }
        });
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
        var datagram = new byte[Magic.Length + body.Length];
        Magic.CopyTo(datagram, 0);
        body.CopyTo(datagram, Magic.Length);
        return datagram;
    }

    public static bool TryDecode(byte[] datagram, out FgcpHeartbeat? heartbeat, out string why)
    {
        heartbeat = null;
        if (datagram.Length < Magic.Length || !datagram.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            why = "not an FGCP heartbeat";
            return false;
        }
        try
        {
            heartbeat = (FgcpHeartbeat)WireCodecs.Decode(Manifest, datagram.AsSpan(Magic.Length));
            why = "";
            return true;
        }
        catch (WireFormatException e)
        {
            why = e.Message;
            return false;
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _udp.Dispose();
    }
}
