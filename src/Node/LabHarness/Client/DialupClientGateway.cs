using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.LabHarness.Client;

/// <summary>
/// The forwarding plane of "FortiGate IPsec Client 1": dials the gateway with IKEv2 over real IPv4/UDP packets on
/// port1, then carries its LAN's traffic (PC1) through one ESP tunnel-mode SA pair. Thread-safe: packets arrive on
/// the I/O's threads (the sender's own thread in the in-memory fabric), the retransmission timer on the pool.
/// </summary>
/// <remarks>
/// Locks: <c>_ike</c> guards the initiator, the dial and the retransmission state; <c>_out</c> the outbound SA
/// (one sequence number per packet); <c>_in</c> the inbound SA and its replay window. <c>_ike</c> may take the other
/// two (install, teardown), never the reverse. Nothing is sent while a lock is held: with in-memory links a send runs
/// the far end's handler on this thread, and its answer may come straight back into this object.
/// A packet that fails any check is dropped and counted; nothing on the packet path throws.
/// </remarks>
public sealed class DialupClientGateway : IDisposable
{
    private readonly DialupClientSettings _settings;
    private readonly IPacketPort _wan;
    private readonly IPacketPort _lan;
    private readonly ITimer _retransmitTimer;
    private readonly ITimer _keepaliveTimer;
    private readonly Tally _tally = new();
    private readonly Queue<AntiReplayDropTrace> _antiReplayTrace = new();

    private readonly object _ike = new();
    private IkeInitiator? _initiator;
    private TaskCompletionSource<IkeSaEstablished>? _dial;
    private TaskCompletionSource<bool>? _dpd;
    private byte[]? _pending;
    private string _pendingName = "";
    /// <summary>Negotiations started for the dial under way (1 + those restarted after an unanswered IKE_AUTH).</summary>
    private int _negotiations;
    private int _pendingSends;
    private TimeSpan _pendingDelay;
    private TimeSpan _pendingWaited;
    private volatile ClientTunnelState _state = ClientTunnelState.Idle;
    private IkeSaEstablished? _established;
    private string? _lastError;
    private bool _disposed;

    private readonly object _out = new();
    private EspOutboundSa? _outSa;
    // After a gateway rekey: the next outbound SA, used from the first packet the gateway sends on the new CHILD SA
    // (then the gateway surely holds it) or from the gateway's Delete of the old one, whichever comes first.
    private EspOutboundSa? _outNext;
    private readonly object _in = new();
    private EspInboundSa? _inSa;
    // The inbound SA of the CHILD SA being replaced: the gateway sends on it until it has the rekey's answer.
    private EspInboundSa? _inOld;
    private volatile TrafficSelectors? _ts;
    // How ESP travels for the current SA: bare (protocol 50) or in UDP between these ports (RFC 3948).
    private volatile EspPath _espPath = EspPath.Bare;
    private int _ipId;
    // Packets can arrive while the constructor is still opening ports: until both exist they are ignored.
    private volatile bool _ready;

    /// <summary>Opens <see cref="DialupClientSettings.WanInterface"/> and <see cref="DialupClientSettings.LanInterface"/> on <paramref name="io"/>.</summary>
    public DialupClientGateway(IPacketIo io, DialupClientSettings settings)
    {
        ArgumentNullException.ThrowIfNull(io);
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.IkeMaxTransmissions < 1)
            throw new ArgumentOutOfRangeException(nameof(settings), "IkeMaxTransmissions must be at least 1.");
        if (settings.IkeNegotiations < 1)
            throw new ArgumentOutOfRangeException(nameof(settings), "IkeNegotiations must be at least 1.");
        if (settings.IkeRetransmitInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(settings), "IkeRetransmitInterval must be positive.");
        _ = new ReplayWindow(settings.ReplayWindowSize); // validates the size now rather than at the first SA
        _settings = settings;
        _retransmitTimer = settings.Time.CreateTimer(_ => OnRetransmitTimer(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _keepaliveTimer = settings.Time.CreateTimer(_ => OnKeepaliveTimer(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _wan = io.Open(settings.WanInterface, [settings.WanAddress], (_, p) => OnWanPacket(p));
        try
        {
            _lan = io.Open(settings.LanInterface, [settings.LanAddress], (_, p) => OnLanPacket(p));
        }
        catch
        {
            _wan.Dispose();
            throw;
        }
        _ready = true;
    }

    public DialupClientSettings Settings => _settings;
    public IPacketPort Wan => _wan;
    public IPacketPort Lan => _lan;
    public ClientTunnelState State => _state;

    /// <summary>The IKE SA and CHILD SA of the current tunnel; null unless <see cref="State"/> is Up.</summary>
    public IkeSaEstablished? Established
    {
        get { lock (_ike) return _state == ClientTunnelState.Up ? _established : null; }
    }

    /// <summary>
    /// The last <see cref="AntiReplayTraceSize"/> anti-replay drops, oldest first: which SA and sequence number, why
    /// (in the window and seen, or left of it) and the window's highest number then, so a drill that counts one can say
    /// which frame it was (and, where the lab sees who sent it, which unit).
    /// </summary>
    public IReadOnlyList<AntiReplayDropTrace> RecentAntiReplayDrops
    {
        get { lock (_antiReplayTrace) return _antiReplayTrace.ToArray(); }
    }

    public const int AntiReplayTraceSize = 32;

    private void TraceAntiReplayDrop(byte[] esp, EspDropReason reason)
    {
        if (!EspCodec.TryReadHeader(esp, out var spi, out var seq)) return;
        uint highest;
        lock (_in) highest = (_inOld is { } old && old.Keys.Spi == spi ? old : _inSa)?.Window.Highest ?? 0;
        lock (_antiReplayTrace)
        {
            if (_antiReplayTrace.Count == AntiReplayTraceSize) _antiReplayTrace.Dequeue();
            _antiReplayTrace.Enqueue(new AntiReplayDropTrace(DateTimeOffset.UtcNow, spi, seq, reason, highest));
        }
    }

    /// <summary>Why the last dial failed or the tunnel went down, in plain words.</summary>
    public string? LastError
    {
        get { lock (_ike) return _lastError; }
    }

    public ClientDataPlaneCounters Counters
    {
        get
        {
            uint lastSeq;
            ulong nextSeq;
            lock (_in) lastSeq = _inSa?.Window.Highest ?? 0;
            lock (_out) nextSeq = _outSa?.NextSeq ?? 0;
            return _tally.Snapshot(lastSeq, nextSeq);
        }
    }

    // ------------------------------------------------------------------ IKE

    /// <summary>
    /// Dials: IKE_SA_INIT then IKE_AUTH, each request retransmitted unchanged (RFC 7296 §2.1) after
    /// <see cref="DialupClientSettings.IkeRetransmitInterval"/>, doubling, up to <see cref="DialupClientSettings.IkeMaxTransmissions"/>
    /// sends. Completes with the SAs once the tunnel is up; fails with <see cref="ClientDialFailedException"/> when the
    /// gateway never answers or refuses. Returns the running dial if one is under way, the tunnel if it is up.
    /// <paramref name="cancel"/> abandons the dial.
    /// </summary>
    public Task<IkeSaEstablished> DialAsync(CancellationToken cancel = default)
    {
        IkeDatagram first;
        TaskCompletionSource<IkeSaEstablished> dial;
        lock (_ike)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_state == ClientTunnelState.Up && _established is not null)
                return Task.FromResult(_established);
            if (_state == ClientTunnelState.Dialing && _dial is not null)
                return _dial.Task;
            dial = _dial = new TaskCompletionSource<IkeSaEstablished>(TaskCreationOptions.RunContinuationsAsynchronously);
            _state = ClientTunnelState.Dialing;
            _lastError = null;
            _negotiations = 0;
            first = StartNegotiationLocked();
        }
        SendIke(first);
        if (cancel.CanBeCanceled)
        {
            var registration = cancel.Register(() => FailDial(dial, null, cancel));
            dial.Task.ContinueWith(_ => registration.Dispose(), TaskScheduler.Default);
        }
        return dial.Task;
    }

    // Called with _ike held: a new IKE SA from IKE_SA_INIT (new SPI, nonce and DH), for the dial under way.
    private IkeDatagram StartNegotiationLocked()
    {
        TearDown();
        _negotiations++;
        // RFC 7296 §2.23: an initiator may start on 4500 (the UdpEncapsulation switch); otherwise it starts on 500
        // and the initiator itself floats to 4500 after IKE_SA_INIT if NAT detection (Ike.NatTraversal) says so.
        int port = _settings.UdpEncapsulation ? IkeUdp.NatTPort : IkeUdp.IkePort;
        _initiator = new IkeInitiator(_settings.Ike, new IPEndPoint(_settings.WanAddress.Address, port),
            new IPEndPoint(_settings.RemoteGateway, port), _settings.Random);
        var request = _initiator.Start();
        Arm(request);
        return Outgoing(request);
    }

    /// <summary>
    /// Our own liveness check (an empty INFORMATIONAL), retransmitted like any request: true when the gateway
    /// answers, false when it never does, in which case the tunnel is taken down as FortiOS does after dpd-retrycount.
    /// </summary>
    public Task<bool> DpdAsync()
    {
        IkeDatagram request;
        TaskCompletionSource<bool> dpd;
        lock (_ike)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_state != ClientTunnelState.Up || _initiator is null)
                throw new InvalidOperationException($"no tunnel to probe ({_state})");
            if (_dpd is { Task.IsCompleted: false } running)
                return running.Task;
            if (_pending is not null)
                throw new InvalidOperationException("another IKE request is outstanding");
            var probe = _initiator.Dpd();
            dpd = _dpd = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            Arm(probe);
            request = Outgoing(probe);
        }
        SendIke(request);
        return dpd.Task;
    }

    /// <summary>A UDP payload that arrived on our IKE port <paramref name="localPort"/> (500, or 4500 with the marker).</summary>
    private void HandleIke(int localPort, byte[] udpPayload)
    {
        _tally.Add(ref _tally.IkeReceived);
        List<IkeDatagram> replies;
        lock (_ike)
        {
            if (_initiator is null || _disposed)
            {
                _tally.Add(ref _tally.IkeDropped);
                return;
            }
            var output = _initiator.HandleUdp(localPort, udpPayload);
            // Already framed for the port the initiator uses now (after a float, 4500 with the marker).
            replies = output.Replies.Select(r => new IkeDatagram(r, _initiator.LocalPort, _initiator.GatewayPort)).ToList();
            foreach (var e in output.Events)
                Apply(e);
            // The initiator knows its one outstanding request; whatever it says now is what the timer guards.
            var pending = _initiator.Retransmit();
            if (pending is null)
                Disarm();
            else if (!ReferenceEquals(pending, _pending))
                Arm(pending);
        }
        foreach (var r in replies)
            SendIke(r);
    }

    // Called with _ike held.
    private void Apply(IkeEvent e)
    {
        switch (e)
        {
            case IkeSaEstablished est:
                Install(est);
                break;
            case IkeRefused refused when _state == ClientTunnelState.Dialing:
                FailDialLocked($"the gateway refused the tunnel: {refused.Reason} ({refused.Kind})");
                break;
            case IkeDpdConfirmed:
                _dpd?.TrySetResult(true);
                break;
            case IkeSaDeleted:
                GoDown("the gateway deleted the IKE SA");
                break;
            case ChildSaRekeyed rekeyed when _state == ClientTunnelState.Up && _established is { } est && !rekeyed.RekeyedHere:
                InstallRekeyed(est, rekeyed);
                break;
            case ChildSaDeleted deleted when _established is { } est && deleted.Child.InboundSpi == est.Child.InboundSpi:
                GoDown($"the gateway deleted the CHILD SA {est.Child.InboundSpi:x8}");
                break;
            case ChildSaDeleted deleted:
                // The gateway deleted the CHILD SA it rekeyed (RFC 7296 §2.8): from now on only the new one carries traffic.
                lock (_in)
                    if (_inOld?.Keys.Spi == deleted.Child.InboundSpi) _inOld = null;
                UseNextOutbound();
                break;
            case IkeDropped:
                _tally.Add(ref _tally.IkeDropped);
                break;
        }
    }

    // Called with _ike held.
    private void Install(IkeSaEstablished est)
    {
        var c = est.Child;
        var outbound = new EspOutboundSa(c.OutboundEsp());
        var inbound = new EspInboundSa(c.InboundEsp(), new ReplayWindow(_settings.ReplayWindowSize));
        lock (_out) _outSa = outbound;
        lock (_in) _inSa = inbound;
        _espPath = _settings.UdpEncapsulation || est.Sa.UdpEncapsulatedEsp
            ? new EspPath(true, (ushort)est.Sa.LocalPort, (ushort)est.Sa.PeerPort)
            : EspPath.Bare;
        if (_espPath.Udp && _settings.NatKeepaliveInterval > TimeSpan.Zero)
            _keepaliveTimer.Change(_settings.NatKeepaliveInterval, _settings.NatKeepaliveInterval);
        _ts = est.Ts;
        _established = est;
        _state = ClientTunnelState.Up;
        _dial?.TrySetResult(est);
    }

    /// <summary>
    /// The gateway rekeyed the CHILD SA (FortiOS does before its sequence space runs out): the new inbound SA takes
    /// over at once, the one being replaced stays for what the gateway still sends on it, and our own traffic moves to
    /// the new SA once the gateway shows it holds it (its first packet on it, or its Delete of the old one). A rekey
    /// the gateway asks again for the same old SA (its first answer was lost) replaces the earlier new one.
    /// Called with _ike held.
    /// </summary>
    private void InstallRekeyed(IkeSaEstablished est, ChildSaRekeyed rekeyed)
    {
        var c = rekeyed.New;
        var inbound = new EspInboundSa(c.InboundEsp(), new ReplayWindow(_settings.ReplayWindowSize));
        var outbound = new EspOutboundSa(c.OutboundEsp());
        lock (_in)
        {
            var replaced = rekeyed.Old is { } old ? new[] { _inSa, _inOld }.FirstOrDefault(sa => sa?.Keys.Spi == old.InboundSpi) : _inSa;
            _inOld = replaced;
            _inSa = inbound;
        }
        lock (_out) _outNext = outbound;
        _established = est with { Sa = rekeyed.Sa, Child = c, Ts = rekeyed.Ts };
        _tally.Add(ref _tally.ChildSaRekeys);
    }

    private void UseNextOutbound()
    {
        lock (_out)
        {
            if (_outNext is null) return;
            _outSa = _outNext;
            _outNext = null;
        }
    }

    // Called with _ike held.
    private void TearDown()
    {
        lock (_out)
        {
            _outSa = null;
            _outNext = null;
        }
        lock (_in)
        {
            _inSa = null;
            _inOld = null;
        }
        _ts = null;
        _espPath = EspPath.Bare;
        _keepaliveTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _established = null;
        Disarm();
    }

    // Called with _ike held.
    private void GoDown(string why)
    {
        TearDown();
        _state = ClientTunnelState.Down;
        _lastError = why;
        _dpd?.TrySetResult(false);
    }

    // Called with _ike held.
    private void FailDialLocked(string why)
    {
        TearDown();
        _state = ClientTunnelState.Failed;
        _lastError = why;
        _dial?.TrySetException(new ClientDialFailedException(why));
    }

    private void FailDial(TaskCompletionSource<IkeSaEstablished> dial, string? why, CancellationToken cancel)
    {
        lock (_ike)
        {
            if (!ReferenceEquals(dial, _dial) || _state != ClientTunnelState.Dialing)
                return;
            TearDown();
            _state = ClientTunnelState.Failed;
            _lastError = why ?? "dial cancelled";
            dial.TrySetCanceled(cancel);
        }
    }

    // Called with _ike held: `request` was just sent (or is about to be) for the first time.
    private void Arm(byte[] request)
    {
        _pending = request;
        _pendingName = PendingName();
        _pendingSends = 1;
        _pendingDelay = _settings.IkeRetransmitInterval;
        _pendingWaited = TimeSpan.Zero;
        _retransmitTimer.Change(_pendingDelay, Timeout.InfiniteTimeSpan);
    }

    // Called with _ike held.
    private void Disarm()
    {
        _pending = null;
        _retransmitTimer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    private string PendingName() => _initiator?.Phase switch
    {
        IkeInitiatorPhase.InitSent => "IKE_SA_INIT",
        IkeInitiatorPhase.AuthSent => "IKE_AUTH",
        _ => "INFORMATIONAL (DPD)",
    };

    private void OnRetransmitTimer()
    {
        IkeDatagram send;
        lock (_ike)
        {
            if (_pending is null || _disposed)
                return;
            _pendingWaited += _pendingDelay;
            if (_pendingSends < _settings.IkeMaxTransmissions)
            {
                send = Outgoing(_pending);
                _pendingSends++;
                _pendingDelay += _pendingDelay;
                _retransmitTimer.Change(_pendingDelay, Timeout.InfiniteTimeSpan);
                _tally.Add(ref _tally.IkeRetransmits);
            }
            else
            {
                var why = $"no answer from {_settings.RemoteGateway}:{_initiator!.GatewayPort} to {_pendingName} after {_pendingSends} transmission(s) over {_pendingWaited.TotalSeconds:0.###} s";
                Disarm();
                // IKE_SA_INIT was answered, so a gateway is there; an IKE_AUTH nobody answers means the half-open SA is
                // gone where it now lands (the DC router moved the flow to another FGSP member, which never saw that
                // IKE_SA_INIT, or the responder restarted). An initiator then negotiates again from IKE_SA_INIT, as
                // strongSwan does for keyingtries and a FortiOS client with auto-negotiate: bounded by IkeNegotiations.
                if (_state != ClientTunnelState.Dialing || _initiator.Phase != IkeInitiatorPhase.AuthSent || _negotiations >= _settings.IkeNegotiations)
                {
                    if (_state == ClientTunnelState.Dialing)
                        FailDialLocked(_negotiations > 1 ? $"{why} (negotiation {_negotiations} of {_settings.IkeNegotiations})" : why);
                    else if (_state == ClientTunnelState.Up)
                        GoDown(why);
                    return;
                }
                _tally.Add(ref _tally.IkeRenegotiations);
                _lastError = why + "; negotiating again";
                send = StartNegotiationLocked();
            }
        }
        SendIke(send);
    }

    /// <summary>An IKE UDP payload (framed) and the ports it goes between.</summary>
    private readonly record struct IkeDatagram(byte[] Payload, int LocalPort, int GatewayPort);

    /// <summary>How ESP leaves for the current SA.</summary>
    private sealed record EspPath(bool Udp, ushort LocalPort, ushort PeerPort)
    {
        public static readonly EspPath Bare = new(false, 0, 0);
    }

    // Called with _ike held: our own request (first send or resend), framed for the port IKE uses now.
    private IkeDatagram Outgoing(byte[] request) =>
        new(_initiator!.Frame(request), _initiator.LocalPort, _initiator.GatewayPort);

    private void SendIke(IkeDatagram d)
    {
        var packet = UdpPacket.InIpv4(_settings.WanAddress.Address, (ushort)d.LocalPort, _settings.RemoteGateway, (ushort)d.GatewayPort, d.Payload, NextIpId());
        _tally.Add(ref _tally.IkeSent);
        if (!_wan.Send(WanNextHop(_settings.RemoteGateway), packet.ToBytes()))
            _tally.Add(ref _tally.SendFailures);
    }

    /// <summary>RFC 3948 §2.3 keepalive (one 0xFF byte on the ESP-in-UDP ports) so a NAT in the path keeps its mapping.</summary>
    private void OnKeepaliveTimer()
    {
        var path = _espPath;
        if (!path.Udp || _state != ClientTunnelState.Up || _disposed)
            return;
        var packet = new Ipv4Packet(_settings.WanAddress.Address, _settings.RemoteGateway, Ipv4Packet.ProtocolUdp,
            UdpEncap.NatKeepalive(path.LocalPort, path.PeerPort), identification: NextIpId());
        _tally.Add(ref _tally.NatKeepalivesSent);
        if (!_wan.Send(WanNextHop(_settings.RemoteGateway), packet.ToBytes()))
            _tally.Add(ref _tally.SendFailures);
    }

    // ------------------------------------------------------------------ WAN (port1)

    private void OnWanPacket(byte[] bytes)
    {
        if (!_ready || !Ipv4Packet.TryParse(bytes, out var packet, out _) || packet.IsFragment)
        {
            _tally.Add(ref _tally.Ignored);
            return;
        }
        if (!packet.Destination.Equals(_settings.WanAddress.Address))
        {
            _tally.Add(ref _tally.Ignored);
            return;
        }
        switch (packet.Protocol)
        {
            case Ipv4Packet.ProtocolEsp:
                HandleEsp(packet.Payload);
                return;
            case Ipv4Packet.ProtocolUdp when UdpPacket.TryParse(packet, out var udp):
                if (udp.DestinationPort == IkeUdp.IkePort)
                {
                    HandleIke(IkeUdp.IkePort, udp.Payload);
                    return;
                }
                if (udp.DestinationPort == IkeUdp.NatTPort)
                {
                    // RFC 3948 §2.2 demultiplexing: ESP by its non-zero SPI; IKE (marker) and runts go to IKE, which
                    // unframes or drops them; NAT keepalives only keep a mapping alive.
                    var kind = UdpEncap.Classify(udp.Payload);
                    if (kind == UdpEncapKind.Esp)
                        HandleEsp(udp.Payload);
                    else if (kind != UdpEncapKind.NatKeepalive)
                        HandleIke(IkeUdp.NatTPort, udp.Payload);
                    return;
                }
                break;
            case Ipv4Packet.ProtocolIcmp:
                AnswerEcho(packet, _wan, WanNextHop(packet.Source));
                return;
        }
        _tally.Add(ref _tally.Ignored);
    }

    private void HandleEsp(byte[] esp)
    {
        _tally.Add(ref _tally.EspReceivedPackets);
        _tally.Add(ref _tally.EspReceivedBytes, esp.Length);
        bool ok;
        var onNewSa = false;
        EspDecrypted? decrypted;
        EspDropReason reason;
        lock (_in)
        {
            if (_inSa is null)
            {
                ok = false;
                decrypted = null;
                reason = EspDropReason.UnknownSpi;
            }
            else
            {
                // The SA by SPI: the current one, or the one a gateway rekey is replacing (still in use by the gateway).
                var sa = _inOld is { } old && EspCodec.TryReadHeader(esp, out var spi, out _) && spi == old.Keys.Spi ? old : _inSa;
                ok = sa.TryOpen(esp, out decrypted, out reason);
                onNewSa = ok && ReferenceEquals(sa, _inSa) && _inOld is not null;
            }
        }
        if (!ok)
        {
            _tally.CountDrop(reason);
            if (reason is EspDropReason.Replayed or EspDropReason.TooOld) TraceAntiReplayDrop(esp, reason);
            return;
        }
        if (onNewSa) UseNextOutbound(); // the gateway sends on the new CHILD SA: it holds it, so we send on it too
        _tally.Add(ref _tally.Decrypted);
        _tally.Add(ref _tally.DecryptedBytes, decrypted!.Payload.Length);

        var ts = _ts;
        if (decrypted.NextHeader != EspCodec.NextHeaderIpv4
            || !Ipv4Packet.TryParse(decrypted.Payload, out var inner, out _)
            || !AddressMath.OnSubnet(inner.Destination, _settings.LanAddress)
            || (ts is not null && !AddressMath.InSelectors(inner.Destination, inner.Protocol, ts.Initiator)))
        {
            _tally.Add(ref _tally.InnerDropped);
            return;
        }
        if (inner.Destination.Equals(_settings.LanAddress.Address))
        {
            // For this gateway itself (ping 10.10.1.1 across the tunnel): answer back through the tunnel.
            if (inner.Protocol == Ipv4Packet.ProtocolIcmp && IcmpEcho.TryReply(inner, out var reply))
                Encrypt(reply.ToBytes(), reply);
            return;
        }
        var forwarded = AddressMath.Forwarded(decrypted.Payload);
        if (forwarded is null)
        {
            _tally.Add(ref _tally.TtlExceeded);
            return;
        }
        _tally.Add(ref _tally.ForwardedToLan);
        if (!_lan.Send(inner.Destination, forwarded))
            _tally.Add(ref _tally.SendFailures);
    }

    // ------------------------------------------------------------------ LAN (port2)

    private void OnLanPacket(byte[] bytes)
    {
        if (!_ready || !Ipv4Packet.TryParse(bytes, out var packet, out _))
        {
            _tally.Add(ref _tally.Ignored);
            return;
        }
        var dst = packet.Destination;
        if (dst.Equals(_settings.LanAddress.Address) || dst.Equals(_settings.WanAddress.Address))
        {
            if (packet.Protocol == Ipv4Packet.ProtocolIcmp)
                AnswerEcho(packet, _lan, packet.Source);
            else
                _tally.Add(ref _tally.Ignored);
            return;
        }
        if (AddressMath.OnSubnet(dst, _settings.LanAddress))
        {
            // LAN to LAN: not routed through us.
            _tally.Add(ref _tally.Ignored);
            return;
        }
        var forwarded = AddressMath.Forwarded(bytes);
        if (forwarded is null)
        {
            _tally.Add(ref _tally.TtlExceeded);
            return;
        }
        Encrypt(forwarded, packet);
    }

    /// <summary>Seals a packet from the LAN (already TTL-decremented) into the tunnel, or drops it with a count.</summary>
    private void Encrypt(byte[] inner, Ipv4Packet parsed)
    {
        var ts = _ts;
        if (_state != ClientTunnelState.Up || ts is null)
        {
            _tally.Add(ref _tally.LanNoTunnel);
            if (_settings.DialOnTraffic && _state != ClientTunnelState.Dialing)
                DialInBackground();
            return;
        }
        if (!AddressMath.InSelectors(parsed.Source, parsed.Protocol, ts.Initiator)
            || !AddressMath.InSelectors(parsed.Destination, parsed.Protocol, ts.Responder))
        {
            _tally.Add(ref _tally.LanOutsideSelector);
            return;
        }
        EspSealed? sealedPacket = null;
        lock (_out)
        {
            if (_outSa is { IsExhausted: false } sa)
                sealedPacket = sa.Seal(inner);
        }
        if (sealedPacket is null)
        {
            _tally.Add(ref _tally.LanNoTunnel);
            return;
        }
        var esp = sealedPacket.Bytes;
        var path = _espPath;
        var outer = path.Udp
            ? new Ipv4Packet(_settings.WanAddress.Address, _settings.RemoteGateway, Ipv4Packet.ProtocolUdp, UdpEncap.Wrap(esp, path.LocalPort, path.PeerPort), identification: NextIpId())
            : new Ipv4Packet(_settings.WanAddress.Address, _settings.RemoteGateway, Ipv4Packet.ProtocolEsp, esp, identification: NextIpId());
        _tally.Add(ref _tally.EspSentPackets);
        _tally.Add(ref _tally.EspSentBytes, esp.Length);
        if (!_wan.Send(WanNextHop(_settings.RemoteGateway), outer.ToBytes()))
            _tally.Add(ref _tally.SendFailures);
    }

    private void DialInBackground() =>
        // Observe the outcome so a failed automatic dial is not an unobserved task exception; LastError keeps the reason.
        _ = DialAsyncSafe();

    private async Task DialAsyncSafe()
    {
        try
        {
            await DialAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Recorded in LastError / State by the dial itself.
        }
    }

    private void AnswerEcho(Ipv4Packet request, IPacketPort port, IPAddress nextHop)
    {
        if (IcmpEcho.TryReply(request, out var reply))
        {
            if (!port.Send(nextHop, reply.ToBytes()))
                _tally.Add(ref _tally.SendFailures);
        }
        else
        {
            _tally.Add(ref _tally.Ignored);
        }
    }

    private IPAddress WanNextHop(IPAddress destination) =>
        AddressMath.OnSubnet(destination, _settings.WanAddress) ? destination : _settings.WanNextHop;

    private ushort NextIpId() => (ushort)Interlocked.Increment(ref _ipId);

    public void Dispose()
    {
        lock (_ike)
        {
            if (_disposed)
                return;
            _disposed = true;
            TearDown();
            if (_state == ClientTunnelState.Dialing)
            {
                _state = ClientTunnelState.Failed;
                _lastError = "client disposed";
                _dial?.TrySetException(new ObjectDisposedException(nameof(DialupClientGateway)));
            }
            _dpd?.TrySetResult(false);
        }
        _retransmitTimer.Dispose();
        _keepaliveTimer.Dispose();
        _wan.Dispose();
        _lan.Dispose();
    }

    /// <summary>Interlocked counters behind <see cref="Counters"/>.</summary>
    private sealed class Tally
    {
        public long EspSentPackets, EspSentBytes, EspReceivedPackets, EspReceivedBytes, Decrypted, DecryptedBytes, ForwardedToLan;
        public long ReplayDrops, TooOldDrops, IcvFailures, UnknownSpi, MalformedEsp;
        public long LanNoTunnel, LanOutsideSelector, InnerDropped, TtlExceeded, SendFailures, Ignored;
        public long IkeSent, IkeReceived, IkeRetransmits, IkeDropped, NatKeepalivesSent, ChildSaRekeys, IkeRenegotiations;

        public void Add(ref long field, long by = 1) => Interlocked.Add(ref field, by);

        public void CountDrop(EspDropReason reason)
        {
            switch (reason)
            {
                case EspDropReason.Replayed: Add(ref ReplayDrops); break;
                case EspDropReason.TooOld: Add(ref TooOldDrops); break;
                case EspDropReason.BadIcv: Add(ref IcvFailures); break;
                case EspDropReason.UnknownSpi: Add(ref UnknownSpi); break;
                default: Add(ref MalformedEsp); break;
            }
        }

        public ClientDataPlaneCounters Snapshot(uint inboundLastSeq, ulong outboundNextSeq) => new()
        {
            EspSentPackets = Volatile.Read(ref EspSentPackets),
            EspSentBytes = Volatile.Read(ref EspSentBytes),
            EspReceivedPackets = Volatile.Read(ref EspReceivedPackets),
            EspReceivedBytes = Volatile.Read(ref EspReceivedBytes),
            Decrypted = Volatile.Read(ref Decrypted),
            DecryptedBytes = Volatile.Read(ref DecryptedBytes),
            ForwardedToLan = Volatile.Read(ref ForwardedToLan),
            ReplayDrops = Volatile.Read(ref ReplayDrops),
            TooOldDrops = Volatile.Read(ref TooOldDrops),
            IcvFailures = Volatile.Read(ref IcvFailures),
            UnknownSpi = Volatile.Read(ref UnknownSpi),
            MalformedEsp = Volatile.Read(ref MalformedEsp),
            LanNoTunnel = Volatile.Read(ref LanNoTunnel),
            LanOutsideSelector = Volatile.Read(ref LanOutsideSelector),
            InnerDropped = Volatile.Read(ref InnerDropped),
            TtlExceeded = Volatile.Read(ref TtlExceeded),
            SendFailures = Volatile.Read(ref SendFailures),
            Ignored = Volatile.Read(ref Ignored),
            IkeSent = Volatile.Read(ref IkeSent),
            IkeReceived = Volatile.Read(ref IkeReceived),
            IkeRetransmits = Volatile.Read(ref IkeRetransmits),
            IkeDropped = Volatile.Read(ref IkeDropped),
            NatKeepalivesSent = Volatile.Read(ref NatKeepalivesSent),
            ChildSaRekeys = Volatile.Read(ref ChildSaRekeys),
            IkeRenegotiations = Volatile.Read(ref IkeRenegotiations),
            InboundLastSeq = inboundLastSeq,
            OutboundNextSeq = outboundNextSeq,
        };
    }
}
