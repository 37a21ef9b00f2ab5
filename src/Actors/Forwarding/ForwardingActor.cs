using System.Buffers.Binary;
using System.Net;
using Akka.Actor;
using Akka.Event;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Unit;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Packets;
using ClusterActors.Actors.Telemetry;

namespace ClusterActors.Actors.Forwarding;

/// <summary>
/// One unit's forwarding plane: its interfaces on the packet I/O, its routing table, the local services a FortiGate
/// answers on its own addresses (ping, IKE on UDP 500/4500, ESP), and the path of tunnel traffic: ESP in → the
/// dialup instance decrypts → routed out (port3); traffic for a tunnel's remote subnet → the instance encrypts →
/// routed to the client (port2). Only the FGCP primary answers on the cluster's addresses (virtual MAC): on a
/// secondary every port stays silent, so it neither receives nor forwards.
/// </summary>
public sealed class ForwardingActor : ReceiveActor, IWithTimers
{
    /// <param name="ArrivedAt">Stopwatch timestamp when the port delivered the frame, so a frame that waited through a stall is known.</param>
    private sealed record PacketIn(IPacketPort Port, byte[] Bytes, long ArrivedAt);

    private sealed record CarrierChanged(string Interface, bool Up);

    /// <summary>Where the answer to an IKE datagram told to the unit goes.</summary>
    private readonly record struct IkeWaiting(IPAddress Local, IPAddress Peer, int PeerPort, int LocalPort);

    /// <summary>
    /// IKE datagrams told to the unit and not yet answered, at most; beyond it the kernel path sheds (counted
    /// "ike shed"), as the UDP socket does (IkeUdpListener, the same <see cref="IkeAnswerWindow{TWaiting}"/>): a flood
    /// faster than the gateway answers costs neither memory without bound nor an Ask (a temporary actor and a timer) per
    /// datagram.
    /// </summary>
    public const int MaxIkeInFlight = IkeAnswerWindow<int>.DefaultCapacity;

    /// <summary>An answer that has not come after this long is given up (the peer retransmits) and its slot freed.</summary>
    public static readonly TimeSpan DefaultIkeAnswerTimeout = IkeAnswerWindow<int>.DefaultAnswerTimeout;

    private sealed record SnifferDue(int Id);

    private sealed record RunningSniffer(SnifferCapture Capture, IActorRef ReplyTo);

    public ITimerScheduler Timers { get; set; } = null!;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    /// <summary>The host's counters (ESP and drops, for Prometheus): they outlive this actor, its own figures do not.</summary>
    private readonly UnitCounters _counters = UnitCounters.Of(Context.System);
    private readonly string _serial;
    private readonly IPacketIo _io;
    private readonly IActorRef _unit;
    private readonly Dictionary<string, IPacketPort> _ports = new();
    private ConfigDocument _config;
    private UnitRoutes _routes;
    private bool _answering;
    /// <summary>Within a stall's stale frames: the tunnels have been told once (<see cref="Stalled"/>).</summary>
    private bool _stalled;

    /// <summary>While a frame from the wire is handled: when it arrived (Stopwatch timestamp), for what it hands on.</summary>
    private long _arrivedAt;
    /// <summary>The dialup instances by inbound SPI and by remote selector: per packet a lookup, never a scan.</summary>
    private readonly TunnelPaths _paths = new();
    private readonly Dictionary<int, RunningSniffer> _sniffers = new();
    private int _nextSniffer;
    private long _received, _forwarded, _espIn, _espOut, _tunnelIn, _tunnelOut;
    private readonly Dictionary<string, long> _drops = new();
    private readonly IkeAnswerWindow<IkeWaiting> _ike;

    /// <param name="time">The clock of the IKE answer timeout (a spec passes a fake one).</param>
    public ForwardingActor(string serial, ConfigDocument config, IPacketIo io, IActorRef unit, TimeSpan? ikeAnswerTimeout = null, TimeProvider? time = null)
    {
        _ike = new IkeAnswerWindow<IkeWaiting>(time ?? TimeProvider.System, MaxIkeInFlight, ikeAnswerTimeout ?? DefaultIkeAnswerTimeout);
        _serial = serial;
        _config = config;
        _io = io;
        _unit = unit;
        _routes = BuildRoutes(config);

        Receive<PacketIn>(p =>
        {
            var waited = System.Diagnostics.Stopwatch.GetElapsedTime(p.ArrivedAt);
            if (StalledInput.IsStale(waited, _config.Ha))
            {
                _received++;
                Drop("stale after stall");
                Stalled(waited);
                return;
            }
            _stalled = false;
            _arrivedAt = p.ArrivedAt;
            OnPacket(p.Port, p.Bytes);
            _arrivedAt = 0;
        });
        Receive<CarrierChanged>(c =>
        {
            _log.Info("{0} link status changed: {1}", c.Interface, c.Up ? "up" : "down");
            // A pulled cable is what FGCP's port monitor reacts to, as on a real unit.
            _unit.Tell(new SetLinkState(c.Interface, c.Up));
        });
        Receive<Akka.Done>(_ => { }); // FGCP acknowledging a link state
        Receive<HaRoleChanged>(r =>
        {
            if (r.Serial != _serial) return;
            var answering = r.Role == HaRole.Primary;
            if (answering == _answering) return;
            _answering = answering;
            // Measured because it is on the failover path: the DC router's probes go unanswered until the new
            // primary's ports hold the cluster's addresses and have announced them (gratuitous ARP).
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            foreach (var p in _ports.Values) p.Answering = answering;
            _log.Info("{0} on {1}: ports {2} in {3:0.000} ms", answering ? "answering for the cluster's addresses" : "silent",
                string.Join(", ", _ports.Keys), answering ? "took over (addresses, first gratuitous ARP)" : "released",
                System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        });
        Receive<SendGratuitousArps>(g =>
        {
            if (g.Serial != _serial || !_answering) return;
            _log.Info("gratuitous ARPs again on {0} ({1})", string.Join(", ", _ports.Keys), g.Why);
            foreach (var p in _ports.Values) p.Reannounce();
        });
        Receive<UnitConfigChanged>(c =>
        {
            _config = c.Config;
            _routes = BuildRoutes(c.Config);
            foreach (var i in c.Config.Interfaces)
                if (_ports.TryGetValue(i.Name, out var port) && port.AdminUp != i.StatusUp) port.AdminUp = i.StatusUp;
        });
        Receive<TunnelPathChanged>(t => _paths.Set(t));
        Receive<TunnelPathRemoved>(t => _paths.Remove(t.Key));
        Receive<TunnelDecrypted>(d => FromTunnel(d.Interface, d.InnerPacket));
        Receive<TunnelEncrypted>(e =>
        {
            if (!_answering)
            {
                // An FGCP secondary forwards nothing (README, "A unit that steps down sends no ESP"): ESP its instance
                // encrypted for a frame that reached it while it was primary would reach the client after the new
                // primary's first, higher-numbered frame, which already moved the client's window past it.
                Drop("esp while not primary");
                return;
            }
            _espOut++;
            _counters.EspSent(e.OuterPacket.Length);
            RouteOut(e.OuterPacket, null);
        });
        Receive<IkeReplies>(OnIkeAnswered);
        Receive<SendIke>(OnSendIke);
        Receive<StartSniffer>(OnStartSniffer);
        Receive<SnifferDue>(d =>
        {
            if (_sniffers.Remove(d.Id, out var s)) s.ReplyTo.Tell(SnifferDone(s.Capture, interrupted: true));
        });
        Receive<GetForwardingStatus>(_ =>
        {
            var drops = new Dictionary<string, long>(_drops);
            foreach (var (why, n) in new[] { ("ike oversized", _ike.Oversized), ("ike shed", _ike.Shed), ("ike not answered", _ike.NotAnswered) })
                if (n > 0) drops[why] = n;
            Sender.Tell(new ForwardingStatus(_serial, _answering, _ports.ToDictionary(p => p.Key, p => p.Value.IsUp), _received, _forwarded,
                _espIn, _espOut, _tunnelIn, _tunnelOut, drops.Values.Sum(), drops) { IkeInFlight = _ike.InFlight });
        });
    }

    public static Props Props(string serial, ConfigDocument config, IPacketIo io, IActorRef unit, TimeSpan? ikeAnswerTimeout = null,
        TimeProvider? time = null) =>
        Akka.Actor.Props.Create(() => new ForwardingActor(serial, config, io, unit, ikeAnswerTimeout, time));

    protected override void PreStart()
    {
        var self = Self;
        foreach (var i in _config.Interfaces)
        {
            var addresses = UnitRoutes.AddressesOf(i);
            // Loopbacks (lb1) are local addresses, reached through the physical ports; port4 is the heartbeat link.
            if (addresses.Count == 0 || i.Type == "loopback") continue;
            IPacketPort port;
            try
            {
                port = _io.Open(i.Name, addresses, (p, bytes) => self.Tell(new PacketIn(p, bytes, System.Diagnostics.Stopwatch.GetTimestamp())));
            }
            catch (InvalidOperationException e)
            {
                _log.Warning("{0} is not cabled in this lab: {1}", i.Name, e.Message);
                continue;
            }
            port.AdminUp = i.StatusUp;
            port.Answering = _answering;
            port.CarrierChanged += (p, up) => self.Tell(new CarrierChanged(p.Name, up));
            _ports[i.Name] = port;
        }
    }

    protected override void PostStop()
    {
        foreach (var p in _ports.Values) p.Dispose();
        foreach (var s in _sniffers.Values) s.ReplyTo.Tell(SnifferDone(s.Capture, interrupted: true));
    }

    private UnitRoutes BuildRoutes(ConfigDocument config) => UnitRoutes.From(config, StaticRoutes.Of(config));

    private bool IsUp(string iface) => _ports.TryGetValue(iface, out var p) && p.IsUp;

    /// <summary>
    /// The first stale frame of a stall: every dialup instance hears of it before anything forwarded after it, so an
    /// owner moves its outbound numbers past a takeover made while this unit did not run (README, "A stalled owner").
    /// </summary>
    private void Stalled(TimeSpan waited)
    {
        if (_stalled) return;
        _stalled = true;
        _log.Warning("frames waited {0:0} ms in this unit's input: it stalled; they are dropped and its tunnels told", waited.TotalMilliseconds);
        foreach (var t in _paths.All) t.Tunnel.Tell(new UnitStalled(waited));
    }

    private void Drop(string why)
    {
        _drops[why] = _drops.GetValueOrDefault(why) + 1;
        _counters.ForwardingDropped(why);
        if (why.Contains("esp", StringComparison.Ordinal)) _counters.EspDropped(why);
    }

    private void OnPacket(IPacketPort port, byte[] bytes)
    {
        _received++;
        if (!Ipv4Packet.TryParse(bytes, out var packet, out _))
        {
            Drop("malformed");
            return;
        }
        if (_routes.IsLocal(packet.Destination))
        {
            ToSelf(port, packet);
            return;
        }
        Sniff(port.Name, SnifferDirection.In, packet);
        if (_paths.ByDestination(Ipv4Address.ToUInt32(packet.Destination)) is { } t)
        {
            // Traffic for a dialup client's subnet goes into its tunnel; the instance decides whether it may send.
            // Routing into the tunnel interface is a hop like any other: TTL checked and decremented (a strongSwan
            // client saw the Server's replies with TTL 64, i.e. the unit had not counted itself).
            if (packet.Ttl <= 1)
            {
                Drop("ttl exceeded");
                return;
            }
            var routed = packet with { Ttl = (byte)(packet.Ttl - 1) };
            Sniff(t.Phase1, SnifferDirection.Out, routed);
            _tunnelOut++;
            t.Tunnel.Tell(new EncryptForTunnel(routed.ToBytes(), _arrivedAt, StalledInput.StaleAfter(_config.Ha)));
            return;
        }
        Forward(packet, port.Name);
    }

    private void FromTunnel(string iface, byte[] inner)
    {
        if (!Ipv4Packet.TryParse(inner, out var packet, out _))
        {
            Drop("malformed inner packet");
            return;
        }
        _tunnelIn++;
        Sniff(iface, SnifferDirection.In, packet);
        if (_routes.IsLocal(packet.Destination))
        {
            ToSelf(null, packet);
            return;
        }
        Forward(packet, iface);
    }

    private void Forward(Ipv4Packet packet, string arrivedOn)
    {
        if (packet.Ttl <= 1)
        {
            Drop("ttl exceeded");
            return;
        }
        var hop = _routes.Lookup(packet.Destination, IsUp);
        if (hop is null)
        {
            Drop("no route");
            return;
        }
        var forwarded = packet with { Ttl = (byte)(packet.Ttl - 1) };
        Sniff(hop.Value.Interface, SnifferDirection.Out, forwarded);
        if (_ports[hop.Value.Interface].Send(hop.Value.Address, forwarded.ToBytes())) _forwarded++;
        else Drop("next hop unreachable");
    }

    /// <summary>A packet this unit itself sends (ping replies, IKE, ESP): routed from its own address.</summary>
    private void RouteOut(byte[] bytes, Ipv4Packet? parsed)
    {
        if (parsed is null && !Ipv4Packet.TryParse(bytes, out parsed, out _))
        {
            Drop("malformed own packet");
            return;
        }
        var hop = _routes.Lookup(parsed.Destination, IsUp);
        if (hop is null)
        {
            Drop("no route");
            return;
        }
        Sniff(hop.Value.Interface, SnifferDirection.Out, parsed);
        if (!_ports[hop.Value.Interface].Send(hop.Value.Address, bytes)) Drop("next hop unreachable");
    }

    private void ToSelf(IPacketPort? port, Ipv4Packet packet)
    {
        if (port is not null) Sniff(port.Name, SnifferDirection.In, packet);
        switch (packet.Protocol)
        {
            case Ipv4Packet.ProtocolIcmp:
                if (IcmpEcho.TryReply(packet, out var reply)) RouteOut(reply.ToBytes(), reply);
                else Drop("icmp to self");
                break;
            case Ipv4Packet.ProtocolEsp:
                Esp(packet.Payload, packet.Source, 0, false);
                break;
            case Ipv4Packet.ProtocolUdp:
                Udp(packet);
                break;
            default:
                Drop("protocol to self");
                break;
        }
    }

    private void Udp(Ipv4Packet packet)
    {
        if (!UdpEncap.TryParse(packet.Payload, out var udp))
        {
            Drop("malformed udp");
            return;
        }
        if (udp.DestinationPort == 500)
        {
            Ike(packet.Destination, packet.Source, udp.SourcePort, 500, udp.Payload);
            return;
        }
        if (udp.DestinationPort != UdpEncap.NatTPort)
        {
            Drop("udp port closed");
            return;
        }
        var kind = UdpEncap.Classify(udp.Payload);
        switch (kind)
        {
            case UdpEncapKind.Ike:
                Ike(packet.Destination, packet.Source, udp.SourcePort, UdpEncap.NatTPort, UdpEncap.Inner(udp.Payload, kind).ToArray());
                break;
            case UdpEncapKind.Esp:
                Esp(udp.Payload, packet.Source, udp.SourcePort, true);
                break;
            case UdpEncapKind.NatKeepalive:
                break;
            default:
                Drop("malformed udp-encapsulated");
                break;
        }
    }

    private void Esp(byte[] esp, IPAddress from, int fromPort, bool encapsulated)
    {
        _espIn++;
        _counters.EspReceived(esp.Length);
        if (esp.Length < 8)
        {
            Drop("malformed esp");
            return;
        }
        var spi = BinaryPrimitives.ReadUInt32BigEndian(esp);
        if (_paths.BySpi(spi, from) is not { } tunnel)
        {
            Drop("esp unknown spi");
            return;
        }
        tunnel.Tunnel.Tell(new EspArrived(esp, from, fromPort, encapsulated));
    }

    private void Ike(IPAddress local, IPAddress peer, int peerPort, int localPort, byte[] message)
    {
        // As at the UDP socket: a 60 KB Vendor ID or a thousand payloads are dropped on a header look, before the unit;
        // beyond the window a flood is shed; slots the gateway never answered are freed after the answer timeout.
        if (_ike.Offer(message, new IkeWaiting(local, peer, peerPort, localPort), out var tag) != IkeWindowVerdict.Admitted) return;
        // Told, not asked: the IKE front answers with IkeReplies carrying the tag (README, "IKE on the kernel path").
        _unit.Tell(new DeliverIke(local, new IkeDatagram(peer, peerPort, message, localPort) { Tag = tag }), Self);
    }

    private void OnIkeAnswered(IkeReplies replies)
    {
        // An answer after its slot was given up has nowhere to go: the peer has retransmitted by then.
        if (!_ike.TryAnswer(replies.Tag, out var a)) return;
        if (replies.Refused is not null && replies.Datagrams.Count == 0)
            _log.Info("IKE from {0}:{1} not answered: {2}", a.Peer, a.PeerPort, replies.Refused);
        foreach (var d in replies.Datagrams) SendUdp(a.Local, a.Peer, a.LocalPort, a.PeerPort, d);
    }

    /// <summary>An IKE request the unit starts itself (DPD): from the dialup phase1's local gateway.</summary>
    private void OnSendIke(SendIke send)
    {
        var phase1 = _config.Phase1.FirstOrDefault(p => p.Type == Phase1Type.Dynamic);
        if (phase1 is null || !IPAddress.TryParse(phase1.LocalGw, out var local)) return;
        SendUdp(local, send.To.Address, send.NatT ? UdpEncap.NatTPort : 500, send.To.Port, send.Datagram);
    }

    private void SendUdp(IPAddress local, IPAddress peer, int localPort, int peerPort, byte[] ike)
    {
        var packet = localPort == UdpEncap.NatTPort
            ? new Ipv4Packet(local, peer, Ipv4Packet.ProtocolUdp, UdpEncap.WrapIke(ike, (ushort)localPort, (ushort)peerPort))
            : UdpPacket.InIpv4(local, (ushort)localPort, peer, (ushort)peerPort, ike);
        RouteOut(packet.ToBytes(), packet);
    }

    private void Sniff(string iface, SnifferDirection direction, Ipv4Packet packet)
    {
        if (_sniffers.Count == 0) return;
        foreach (var (id, s) in _sniffers.ToList())
        {
            if (!s.Capture.Offer(iface, direction, packet) || !s.Capture.Done) continue;
            _sniffers.Remove(id);
            Timers.Cancel(id);
            s.ReplyTo.Tell(SnifferDone(s.Capture, interrupted: false));
        }
    }

    private SnifferResult SnifferDone(SnifferCapture capture, bool interrupted) =>
        new(capture.Render(interrupted), true, capture.Pcap(_serial));

    /// <summary>
    /// The unit's MAC on <paramref name="iface"/> for a verbosity 3/6 dump: the FGCP virtual MAC 00:09:0f:09:&lt;group-id&gt;:&lt;index&gt;
    /// of portN (index N-1); null for a tunnel or any other interface, and for a group id past the documented 0-255.
    /// </summary>
    private byte[]? OwnMac(string iface)
    {
        if (!iface.StartsWith("port", StringComparison.Ordinal) || !int.TryParse(iface.AsSpan(4), out var n) || n is < 1 or > 256) return null;
        var group = _config.Ha.GroupId;
        return group is < 0 or > 255 ? null : [0x00, 0x09, 0x0f, 0x09, (byte)group, (byte)(n - 1)];
    }

    private void OnStartSniffer(StartSniffer start)
    {
        var capture = SnifferCapture.Create(start.Interface, start.Filter, start.Verbosity, start.Count, out var error, start.Pcap, OwnMac);
        if (capture is null)
        {
            Sender.Tell(new SnifferResult(error!, false));
            return;
        }
        if (start.Interface != "any" && !_ports.ContainsKey(start.Interface)
                                     && !_config.Phase1.Any(p => p.Name == start.Interface) && _config.Interfaces.All(i => i.Name != start.Interface))
        {
            Sender.Tell(new SnifferResult($"interface {start.Interface} is not found", false));
            return;
        }
        var id = ++_nextSniffer;
        _sniffers[id] = new RunningSniffer(capture, Sender);
        Timers.StartSingleTimer(id, new SnifferDue(id), start.Duration);
    }
}
