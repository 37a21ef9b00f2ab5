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
/// The front is the kernel-packet path's (<see cref="IkeAnswerWindow{TWaiting}"/>): a datagram is screened for size,
/// then told to the unit with a tag, answered to one long-lived actor (<see cref="Answers"/>), never asked (an Ask is a
/// temporary actor and a timer per datagram); at most <see cref="MaxInFlight"/> wait, beyond that a flood is shed here.
/// The socket is the host's: it outlives the unit's ActorSystem (a restart to rejoin Akka makes a new one, and a new
/// answers actor in it).
/// </summary>
public sealed class IkeUdpListener : IDisposable
{
    /// <summary>Datagrams handed to the unit and not yet answered, at most: beyond it a flood is shed here, not queued.</summary>
    public const int MaxInFlight = IkeAnswerWindow<IPEndPoint>.DefaultCapacity;

    /// <summary>Receives the unit's <see cref="IkeReplies"/> for the listener; it holds nothing the socket needs.</summary>
    private sealed class Answers : ReceiveActor
    {
        public Answers(IkeUdpListener listener) => Receive<IkeReplies>(listener.Answered);
    }

    private readonly UdpClient _udp;
    private readonly CancellationTokenSource _stop = new();
    // Shared by the receive loop and the answers actor; the window itself is single-threaded.
    private readonly object _gate = new();
    private readonly IkeAnswerWindow<IPEndPoint> _window;
    private long _received;
    private ActorSystem? _answersSystem;
    private IActorRef _answers = ActorRefs.Nobody;

    private IkeUdpListener(UdpClient udp, IkeAdmissionSettings limits, TimeProvider time, TimeSpan? answerTimeout)
    {
        _udp = udp;
        _window = new IkeAnswerWindow<IPEndPoint>(time, MaxInFlight, answerTimeout, limits);
    }

    /// <summary>Datagrams read from the socket and decided (dropped, or told to the unit).</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Datagrams dropped at the socket for their size or shape (IkeAdmission.ScreenOnly), never handed to the unit.</summary>
    public long DroppedOversized => Counter(w => w.Oversized);

    /// <summary>Datagrams dropped because <see cref="MaxInFlight"/> were already waiting for the unit.</summary>
    public long DroppedInFlight => Counter(w => w.Shed);

    /// <summary>Datagrams the unit did not answer within the answer timeout (their slots freed).</summary>
    public long NotAnswered => Counter(w => w.NotAnswered);

    /// <summary>Datagrams told to the unit whose answer has not come yet.</summary>
    public int InFlight => (int)Counter(w => w.InFlight);

    private long Counter(Func<IkeAnswerWindow<IPEndPoint>, long> read)
    {
        lock (_gate) return read(_window);
    }

    public IPEndPoint EndPoint => (IPEndPoint)_udp.Client.LocalEndPoint!;

    /// <param name="localGateway">The address this socket stands for (the phase1's local-gw), whatever it is bound to.</param>
    /// <param name="unit">The unit's current ActorSystem and actor (new ones after the host restarts the ActorSystem).</param>
    /// <param name="time">The clock of the answer timeout (a spec passes a fake one).</param>
    public static IkeUdpListener Start(IPEndPoint bind, IPAddress localGateway, Func<(ActorSystem System, IActorRef Unit)> unit,
        IkeAdmissionSettings? limits = null, TimeProvider? time = null, TimeSpan? answerTimeout = null)
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
        var listener = new IkeUdpListener(udp, limits ?? new IkeAdmissionSettings(), time ?? TimeProvider.System, answerTimeout);
        _ = listener.Loop(localGateway, unit);
        return listener;
    }

    private async Task Loop(IPAddress localGateway, Func<(ActorSystem System, IActorRef Unit)> current)
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
            Take(datagram, localGateway, current);
            // Counted once decided, so whoever reads the counters after Received sees this datagram's verdict.
            Interlocked.Increment(ref _received);
        }
    }

    private void Take(UdpReceiveResult datagram, IPAddress localGateway, Func<(ActorSystem System, IActorRef Unit)> current)
    {
        // Before the unit sees it: a 60 KB Vendor ID costs a header look here, and a flood faster than the unit
        // answers is shed at the socket (UDP may lose it; an honest peer retransmits) instead of queuing without bound.
        IkeWindowVerdict verdict;
        long tag;
        lock (_gate) verdict = _window.Offer(datagram.Buffer, datagram.RemoteEndPoint, out tag);
        if (verdict != IkeWindowVerdict.Admitted) return;
        var (system, unit) = current();
        var answers = AnswersIn(system);
        if (answers.IsNobody())
        {
            // Between two ActorSystems of a restart: nobody to answer; the slot is not left to wait.
            lock (_gate) _window.TryAnswer(tag, out _);
            return;
        }
        unit.Tell(new DeliverIke(localGateway, new IkeDatagram(datagram.RemoteEndPoint.Address, datagram.RemoteEndPoint.Port, datagram.Buffer) { Tag = tag }),
            answers);
    }

    /// <summary>The answers actor of the unit's current ActorSystem, made on its first datagram.</summary>
    private IActorRef AnswersIn(ActorSystem system)
    {
        if (ReferenceEquals(system, _answersSystem)) return _answers;
        try
        {
            _answers = system.ActorOf(Props.Create(() => new Answers(this)));
            _answersSystem = system;
        }
        catch (Exception)
        {
            return ActorRefs.Nobody; // the system is terminating: no actor can be made in it
        }
        return _answers;
    }

    /// <summary>The unit's answer: sent from this socket to the peer that asked, if its slot still waits.</summary>
    private void Answered(IkeReplies replies)
    {
        IPEndPoint? peer;
        lock (_gate)
        {
            // An answer after its slot was given up has nowhere to go: the peer has retransmitted by then.
            if (!_window.TryAnswer(replies.Tag, out peer)) return;
        }
        foreach (var reply in replies.Datagrams) Send(peer, reply);
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
        if (_answersSystem is { WhenTerminated.IsCompleted: false } system) system.Stop(_answers);
    }
}
