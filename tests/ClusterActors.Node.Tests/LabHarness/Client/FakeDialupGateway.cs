using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Tests.LabHarness.Client;

/// <summary>
/// The dialup gateway side for the client's tests, standing in for the DC router (192.168.7.1) and lb1
/// (192.168.202.35) on one port: the pure <see cref="IkeResponder"/> behind real IPv4/UDP, and an ESP SA pair from
/// the responder's child keys whose only job is the Server's: answer each inner ICMP echo request with its reply.
/// Replies go back the way the client's packets came (ESP or ESP-in-UDP, IKE on 500 or 4500 with the marker), and
/// the responder does NAT detection when its settings ask for it.
/// </summary>
internal sealed class FakeDialupGateway : IDisposable
{
    public const string Psk = "scenario-psk";
    public static readonly IPAddress Lb1 = IPAddress.Parse("192.168.202.35");
    public static readonly IPAddress Router = IPAddress.Parse("192.168.7.1");
    public static readonly IPAddress Client = IPAddress.Parse("192.168.7.2");

    private readonly object _sync = new();
    private readonly IkeResponder _responder;
    private readonly IPacketPort _port;
    private readonly IPAddress _towardsClient;
    private readonly List<IkeEvent> _events = [];
    private EspInboundSa? _in;
    private EspOutboundSa? _out;
    private bool _udp;
    private ushort _espPeerPort = UdpEncap.NatTPort;
    private TaskCompletionSource<bool>? _dpd;

    /// <param name="port">Interface to open; by default "port2" holding 192.168.7.1/24 and lb1, on the client's own link.</param>
    /// <param name="towardsClient">Next hop for everything sent to the client; by default the client itself.</param>
    public FakeDialupGateway(IPacketIo io, IkeGatewaySettings? settings = null, (string Name, InterfaceAddress[] Addresses)? port = null,
        IPAddress? towardsClient = null)
    {
        _responder = new IkeResponder(settings ?? Settings());
        _towardsClient = towardsClient ?? Client;
        var (name, addresses) = port ?? ("port2", [new InterfaceAddress(Router, 24), new InterfaceAddress(Lb1, 32)]);
        _port = io.Open(name, addresses, (_, p) => OnPacket(p));
    }

    /// <summary>vpn1 of the scenario: peer ID Nokia_Peer, aes128-sha1, DH 2, local-gw lb1.</summary>
    public static IkeGatewaySettings Settings() => new(Psk, "Nokia_Peer", ["aes128-sha1"], [2], Lb1, 90000, 10800);

    /// <summary>Do not answer IKE at all (a dead or unreachable gateway).</summary>
    public bool Silent { get; set; }

    /// <summary>Decrypt but do not answer echo requests.</summary>
    public bool Mute { get; set; }

    /// <summary>
    /// Jump the outbound sequence (as a takeover does) right after this many echoes have been answered: mid-run,
    /// whatever the machine's load, since it happens on the packet path.
    /// </summary>
    public int? JumpAfterEchoes { get; set; }

    public IkeSaEstablished? Established { get; private set; }
    public int IkeRequestsSeen { get; private set; }
    public int Echoed { get; private set; }
    public ulong InboundDrops { get { lock (_sync) return _in?.TotalDrops ?? 0; } }
    public ulong OutboundNextSeq { get { lock (_sync) return _out?.NextSeq ?? 0; } }
    public byte[]? LastSentEsp { get; private set; }
    public int NatKeepalivesSeen { get; private set; }
    /// <summary>ESP that arrived bare / in UDP.</summary>
    public int EspBare { get; private set; }
    public int EspInUdp { get; private set; }

    public IReadOnlyList<IkeEvent> Events
    {
        get { lock (_sync) return _events.ToList(); }
    }

    /// <summary>What a standby does to its outbound copy: the new owner's first packet is 2^28 ahead.</summary>
    public void JumpOutbound(uint by = EspOutboundSa.DefaultJump)
    {
        lock (_sync) _out!.JumpAhead(by);
    }

    /// <summary>Seals <paramref name="inner"/> with the next outbound sequence number and sends it; returns the ESP bytes.</summary>
    public byte[] SendToClient(byte[] inner)
    {
        byte[] esp;
        lock (_sync) esp = _out!.Seal(inner).Bytes;
        SendEsp(esp);
        return esp;
    }

    /// <summary>Puts ESP bytes on the wire as they are (a replay, a forgery).</summary>
    public void SendEsp(byte[] esp)
    {
        var packet = _udp
            ? new Ipv4Packet(Lb1, Client, Ipv4Packet.ProtocolUdp, UdpEncap.Wrap(esp, UdpEncap.NatTPort, _espPeerPort))
            : new Ipv4Packet(Lb1, Client, Ipv4Packet.ProtocolEsp, esp);
        LastSentEsp = esp;
        _port.Send(_towardsClient, packet.ToBytes());
    }

    /// <summary>The gateway's own DPD probe; true once the client's answer has been accepted.</summary>
    public Task<bool> DpdAsync()
    {
        byte[] request;
        IkeSaState sa;
        TaskCompletionSource<bool> dpd;
        lock (_sync)
        {
            sa = _responder.Export(Established!.Sa.SpiR)!;
            request = _responder.CreateDpd(sa.SpiR);
            dpd = _dpd = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        SendOwnRequest(sa, request);
        return dpd.Task;
    }

    public void DeleteIkeSa()
    {
        byte[] request;
        IkeSaState sa;
        lock (_sync)
        {
            sa = _responder.Export(Established!.Sa.SpiR)!;
            request = _responder.CreateDeleteIkeSa(sa.SpiR);
        }
        SendOwnRequest(sa, request);
    }

    private void OnPacket(byte[] bytes)
    {
        if (!Ipv4Packet.TryParse(bytes, out var packet, out _) || !packet.Destination.Equals(Lb1))
            return;
        if (packet.Protocol == Ipv4Packet.ProtocolEsp)
        {
            OnEsp(packet.Payload, udp: false);
            return;
        }
        if (!UdpPacket.TryParse(packet, out var udp))
            return;
        var from = new IPEndPoint(packet.Source, udp.SourcePort);
        if (udp.DestinationPort == IkeUdp.IkePort)
        {
            OnIke(from, IkeUdp.IkePort, udp.Payload);
        }
        else if (udp.DestinationPort == IkeUdp.NatTPort)
        {
            var kind = UdpEncap.Classify(udp.Payload);
            if (kind == UdpEncapKind.Esp)
            {
                lock (_sync) _espPeerPort = udp.SourcePort;
                OnEsp(udp.Payload, udp: true);
            }
            else if (kind == UdpEncapKind.NatKeepalive)
            {
                lock (_sync) NatKeepalivesSeen++;
            }
            else
            {
                OnIke(from, IkeUdp.NatTPort, udp.Payload);
            }
        }
    }

    private void OnIke(IPEndPoint from, int localPort, byte[] udpPayload)
    {
        IkeOutput output;
        lock (_sync)
        {
            IkeRequestsSeen++;
            if (Silent)
                return;
            output = _responder.HandleUdp(from, localPort, udpPayload);
            _events.AddRange(output.Events);
            foreach (var e in output.Events)
            {
                if (e is IkeSaEstablished est)
                {
                    Established = est;
                    var c = est.Child;
                    _in = new EspInboundSa(new EspSaKeys(c.InboundSpi, c.InboundEncKey, c.InboundAuthKey));
                    _out = new EspOutboundSa(new EspSaKeys(c.OutboundSpi, c.OutboundEncKey, c.OutboundAuthKey));
                }
                if (e is IkeDpdConfirmed)
                    _dpd?.TrySetResult(true);
            }
        }
        // Replies go back where the request came from, already framed for our port.
        foreach (var reply in output.Replies)
            _port.Send(_towardsClient, UdpPacket.InIpv4(Lb1, (ushort)localPort, from.Address, (ushort)from.Port, reply).ToBytes());
    }

    private void SendOwnRequest(IkeSaState sa, byte[] request) =>
        _port.Send(_towardsClient, UdpPacket.InIpv4(Lb1, (ushort)sa.LocalPort, sa.PeerAddress, (ushort)sa.PeerPort, IkeUdp.Frame(request, sa.LocalPort)).ToBytes());

    private void OnEsp(byte[] esp, bool udp)
    {
        byte[]? reply = null;
        lock (_sync)
        {
            _udp = udp;
            if (udp) EspInUdp++; else EspBare++;
            if (_in is null || !_in.TryOpen(esp, out var inner, out _))
                return;
            if (Mute || !IcmpEcho.TryReply(inner.Payload, out var answer))
                return;
            if (Echoed++ == JumpAfterEchoes)
                _out!.JumpAhead();
            reply = _out!.Seal(answer).Bytes;
        }
        SendEsp(reply);
    }

    public void Dispose() => _port.Dispose();
}
