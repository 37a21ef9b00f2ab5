using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;

namespace ClusterActors.Protocol.Ike.Exchanges;

public enum IkeInitiatorPhase { Idle, InitSent, AuthSent, Established, Failed, Deleted }

/// <summary>
/// The dialup client ("FortiGate IPsec Client 1"): one IKE SA towards one gateway. Start() gives the IKE_SA_INIT
/// request; every Handle() consumes the gateway's datagram and returns what to send next. Pure like the responder.
/// </summary>
public sealed class IkeInitiator
{
    private readonly IkeInitiatorSettings _settings;
    private readonly IIkeRandom _random;
    private readonly IReadOnlyList<IkeSuite> _suites;
    private readonly IReadOnlyList<IkeSuite> _childSuites;
    private readonly byte[] _psk;
    private readonly IPAddress _gateway;
    private readonly IPAddress _localAddress;

    private ulong _spiI;
    private byte[] _ni = [];
    private DhKeyPair? _dh;
    private byte[]? _initRequest;
    private IkeSession? _session;
    /// <summary>The gateway's N(COOKIE) data (RFC 7296 §2.6), sent first in every IKE_SA_INIT from then on.</summary>
    private byte[]? _cookie;
    private int _cookieRetries;

    /// <summary>How many N(COOKIE) answers one dial follows before it gives up (a gateway that never takes its own cookie).</summary>
    public const int MaxCookieRetries = 3;

    /// <summary>A client on UDP 500 talking to <paramref name="gateway"/> port 500; its own address is unknown, which is
    /// fine without NAT-T but makes NAT detection always find "us behind a NAT".</summary>
    public IkeInitiator(IkeInitiatorSettings settings, IPAddress gateway, IIkeRandom? random = null)
        : this(settings, new IPEndPoint(IPAddress.Any, IkeUdp.IkePort), new IPEndPoint(gateway, IkeUdp.IkePort), random)
    {
    }

    /// <summary>
    /// <paramref name="local"/> is the address and port this client believes it sends from (its interface address:
    /// behind a NAT the gateway sees something else, which is what NAT detection finds out); <paramref name="gateway"/>
    /// is where it sends to. Port 4500 on either means starting on the NAT-T port, with the non-ESP marker (§2.23).
    /// </summary>
    public IkeInitiator(IkeInitiatorSettings settings, IPEndPoint local, IPEndPoint gateway, IIkeRandom? random = null)
    {
        _settings = settings;
        _gateway = gateway.Address;
        _localAddress = local.Address;
        LocalPort = local.Port;
        GatewayPort = gateway.Port;
        _random = random ?? SystemIkeRandom.Instance;
        _suites = settings.Proposals.Select(IkeSuite.Parse).ToList();
        _childSuites = (settings.ChildProposals ?? settings.Proposals).Select(IkeSuite.Parse).ToList();
        _psk = IkeKeyDerivation.PskBytes(settings.Psk);
        if (_suites.FirstOrDefault(s => !s.HasPrf) is { } noPrf)
            throw new ArgumentException($"phase1 proposal '{noPrf.Name}' has no PRF (phase1 AEAD keywords end in -prfsha1|256|384|512)");
        if (settings.DhGroups.Count == 0 || settings.DhGroups.Concat(settings.ChildDhGroups ?? []).Any(g => !DhGroup.IsSupported(g)))
            throw new ArgumentException($"DH groups must be a non-empty list of {string.Join(", ", DhGroup.Supported)}");
    }

    public IkeInitiatorPhase Phase { get; private set; } = IkeInitiatorPhase.Idle;

    /// <summary>Our UDP port: 500 until NAT-T makes IKE float to 4500 after IKE_SA_INIT (§2.23).</summary>
    public int LocalPort { get; private set; }

    /// <summary>The gateway's UDP port we send to: 500, then 4500 with NAT-T.</summary>
    public int GatewayPort { get; private set; }

    public IPEndPoint GatewayEndpoint => new(_gateway, GatewayPort);

    /// <summary>NAT detection's outcome once the IKE_SA_INIT response is in.</summary>
    public NatTStatus NatT { get; private set; }

    /// <summary>The UDP payload for an IKE message from this client: with the non-ESP marker once on port 4500.</summary>
    public byte[] Frame(byte[] message) => IkeUdp.Frame(message, LocalPort);

    /// <summary>
    /// A UDP payload our socket on <paramref name="localPort"/> received from the gateway: unframed on 4500 (anything
    /// without the marker is not IKE and is dropped), handled, and the replies framed for the port we now use, so after
    /// the IKE_SA_INIT response with NAT-T they are ready for <see cref="GatewayEndpoint"/> from port 4500.
    /// </summary>
    public IkeOutput HandleUdp(int localPort, byte[] udpPayload)
    {
        if (!IkeUdp.TryUnframe(udpPayload, localPort, out var message, out var why)) return IkeOutput.Of(new IkeDropped(why));
        var output = Handle(message);
        return IkeUdp.IsFramed(LocalPort) ? output with { Replies = output.Replies.Select(Frame).ToList() } : output;
    }

    /// <summary>Group used in the KE payload of the current attempt.</summary>
    public int KeGroup => _dh?.Group.Id ?? _settings.DhGroups[0];

    public IkeSaState? Sa => _session is { Established: true } s ? s.Export() : null;

    /// <summary>The newest CHILD SA, from the client's point of view.</summary>
    public ChildSaKeys? Child => _session?.Children.LastOrDefault();

    /// <summary>IKE_SA_INIT request offering every configured suite with all configured DH groups; KE uses the first.</summary>
    public byte[] Start()
    {
        if (Phase != IkeInitiatorPhase.Idle) throw new InvalidOperationException($"already {Phase}");
        _spiI = Negotiation.NewIkeSpi(_random);
        _ni = _random.Bytes(_settings.NonceLength);
        return SendInit(DhGroup.Find(_settings.DhGroups[0])!);
    }

    private byte[] SendInit(DhGroup group)
    {
        _dh = group.NewKeyPair(_random);
        return BuildInit();
    }

    private byte[] BuildInit()
    {
        var group = _dh!.Group;
        var proposals = _suites.Select((s, i) => new Proposal((byte)(i + 1), ProtocolId.Ike, [], s.IkeTransforms(_settings.DhGroups))).ToList();
        // §2.23: SPIr is zero in this request's header, and so in its NAT detection hashes.
        var natD = NatDetection.Notifies(_settings.NatTraversal, _spiI, 0, new IPEndPoint(_localAddress, LocalPort), GatewayEndpoint);
        _initRequest = IkeCodec.Encode(
            new IkeHeader(_spiI, 0, PayloadType.None, IkeHeader.Ikev2, ExchangeType.IkeSaInit, IkeFlags.Initiator, 0),
            [.. _cookie is null ? (IkePayload[])[] : [new NotifyPayload(NotifyType.Cookie, _cookie)],
             new SaPayload(proposals), new KePayload((ushort)group.Id, _dh.Public), new NoncePayload(_ni), .. natD]);
        Phase = IkeInitiatorPhase.InitSent;
        return _initRequest;
    }

    /// <summary>The unanswered request, for the caller's retransmission timer (§2.1: resend the same bytes).</summary>
    public byte[]? Retransmit() => Phase == IkeInitiatorPhase.InitSent ? _initRequest : _session?.PendingBytes;

    public byte[] Dpd() => EstablishedSession().Dpd();

    public byte[] DeleteIkeSa() => EstablishedSession().DeleteIkeSa();

    public byte[] DeleteChild(uint inboundSpi) =>
        EstablishedSession().DeleteChild(_session!.Children.FirstOrDefault(c => c.InboundSpi == inboundSpi)
            ?? throw new ArgumentException($"no CHILD SA with inbound SPI {inboundSpi:x8}"));

    /// <summary>CREATE_CHILD_SA rekeying the newest CHILD SA (§1.3.3), with PFS when phase2 has it.</summary>
    public byte[] RekeyChild()
    {
        var s = EstablishedSession();
        var old = s.Children.LastOrDefault() ?? throw new InvalidOperationException("no CHILD SA to rekey");
        return s.RekeyChild(old, _childSuites, _settings.NonceLength, _settings.ChildDhGroups);
    }

    private List<Proposal> EspProposals(uint ourSpi) =>
        _childSuites.Select((s, i) => new Proposal((byte)(i + 1), ProtocolId.Esp, Negotiation.SpiBytes(ourSpi), s.EspTransforms)).ToList();

    private IkeSession EstablishedSession() =>
        _session is { Established: true } s ? s : throw new InvalidOperationException($"IKE SA not established ({Phase})");

    public IkeOutput Handle(byte[] datagram)
    {
        try
        {
            var msg = IkeCodec.Decode(datagram);
            if (msg.Header.SpiI != _spiI) return IkeOutput.Of(new IkeDropped($"SPIi {msg.Header.SpiI:x16} is not ours"));
            if (Phase == IkeInitiatorPhase.InitSent) return HandleInitResponse(datagram, msg);
            if (_session is null || msg.Header.SpiR != _session.SpiR || Phase is IkeInitiatorPhase.Failed or IkeInitiatorPhase.Deleted)
                return IkeOutput.Of(new IkeDropped($"{msg.Header.Exchange} in phase {Phase}"));
            var result = _session.Receive(datagram, msg, OnRequest, OnResponse);
            if (result.Events.Any(e => e is IkeSaDeleted)) Phase = IkeInitiatorPhase.Deleted;
            return result;
        }
        catch (IkeFormatException e)
        {
            // Unauthenticated junk must not end the attempt: a real reply may still arrive.
            return IkeOutput.Of(new IkeDropped($"malformed datagram: {e.Message}"));
        }
    }

    private IkeOutput Failed(string reason, RefusalKind kind)
    {
        Phase = IkeInitiatorPhase.Failed;
        return IkeOutput.Of(new IkeRefused(reason, kind));
    }

    private static RefusalKind KindOf(NotifyType t) => t switch
    {
        NotifyType.NoProposalChosen => RefusalKind.NoProposalChosen,
        NotifyType.AuthenticationFailed => RefusalKind.AuthenticationFailed,
        NotifyType.TsUnacceptable => RefusalKind.TsUnacceptable,
        NotifyType.InvalidKePayload => RefusalKind.InvalidKePayload,
        NotifyType.InvalidSyntax => RefusalKind.Malformed,
        _ => RefusalKind.Other,
    };

    private IkeOutput HandleInitResponse(byte[] datagram, IkeMessage msg)
    {
        var h = msg.Header;
        if (h.Exchange != ExchangeType.IkeSaInit || !h.IsResponse || h.MessageId != 0 || h.FromInitiator)
            return IkeOutput.Of(new IkeDropped($"{h.Exchange} #{h.MessageId} while waiting for the IKE_SA_INIT response"));
        if (msg.Notify(NotifyType.Cookie) is { } cookie)
        {
            // §2.6: the gateway is under load and keeps no state until we prove our address: the same request again,
            // the cookie first, everything else unchanged (same SPIi, nonce and DH value).
            if (cookie.Data.Length is < 1 or > 64)
                return IkeOutput.Of(new IkeDropped($"COOKIE of {cookie.Data.Length} bytes (1-64 allowed)"));
            if (++_cookieRetries > MaxCookieRetries)
                return Failed($"gateway asked for a COOKIE {_cookieRetries} times and never took it", RefusalKind.Other);
            _cookie = cookie.Data;
            return IkeOutput.Reply(BuildInit(), new IkeRetrying("gateway asked for a COOKIE", KeGroup));
        }
        if (msg.Notify(NotifyType.InvalidKePayload) is { } invalidKe)
        {
            var want = invalidKe.Data.Length == 2 ? BinaryPrimitives.ReadUInt16BigEndian(invalidKe.Data) : -1;
            if (want == KeGroup || !_settings.DhGroups.Contains(want))
                return Failed($"gateway wants DH group {want}, which we did not offer", RefusalKind.InvalidKePayload);
            // §1.2: retry with the group the responder selected; same SPIi and nonce, fresh DH value.
            return IkeOutput.Reply(SendInit(DhGroup.Find(want)!), new IkeRetrying($"INVALID_KE_PAYLOAD: gateway selected group {want}", want));
        }
        if (msg.Notifies.FirstOrDefault(n => n.NotifyType.IsError()) is { } error)
            return Failed($"gateway answered IKE_SA_INIT with {error.NotifyType}", KindOf(error.NotifyType));
        var sa = msg.Find<SaPayload>();
        var ke = msg.Find<KePayload>();
        var nr = msg.Find<NoncePayload>();
        if (sa is null || ke is null || !Negotiation.NonceOk(nr) || h.SpiR == 0)
            return Failed("IKE_SA_INIT response lacks SA, KE, nonce or SPIr", RefusalKind.Malformed);
        var suite = Negotiation.AcceptedSuite(sa, ProtocolId.Ike, _suites);
        var dhIds = sa.Proposals[0].Transforms.Where(t => t.Type == TransformType.DhGroup).Select(t => (int)t.Id).ToList();
        if (suite is null || !dhIds.SequenceEqual([KeGroup]) || ke.DhGroup != KeGroup)
            return Failed($"gateway chose something we did not offer: {string.Join(",", sa.Proposals[0].Transforms.Select(t => $"{t.Type}={t.Id}"))}", RefusalKind.NoProposalChosen);
        if (!_dh!.Group.IsValidPublic(ke.Data))
            return Failed("gateway KE value invalid for the group", RefusalKind.Malformed);

        var keys = IkeKeyDerivation.DeriveIkeKeys(suite, _ni, nr!.Data, _dh.SharedSecret(ke.Data), _spiI, h.SpiR);

        // §2.23: the response's hashes (both SPIs now) against where we sent to and from. A gateway that sent none does
        // not do NAT-T, whatever we are configured for. Any NAT, or forced, and everything from IKE_AUTH on goes to 4500.
        if (_settings.NatTraversal != NatTraversal.Disable
            && NatDetection.Detect(msg, _spiI, h.SpiR, GatewayEndpoint, new IPEndPoint(_localAddress, LocalPort)) is { } detected)
            NatT = detected | (_settings.NatTraversal == NatTraversal.Forced ? NatTStatus.Forced : NatTStatus.None);
        if (NatT.IsActive())
        {
            LocalPort = IkeUdp.NatTPort;
            GatewayPort = IkeUdp.NatTPort;
        }
        _session = new IkeSession
        {
            SpiI = _spiI, SpiR = h.SpiR, IsInitiator = true, Suite = suite, DhGroup = KeGroup, Ni = _ni, Nr = nr.Data, Keys = keys,
            PeerAddress = _gateway, Random = _random, IkeLifetimeSeconds = _settings.IkeLifetimeSeconds, ChildLifetimeSeconds = _settings.ChildLifetimeSeconds,
            NextRequestId = 1, ExpectedPeerRequestId = 0, InitRequest = _initRequest, InitResponse = datagram,
            NatT = NatT, PeerPort = GatewayPort, LocalPort = LocalPort,
        };
        var idi = new IdPayload(false, _settings.LocalIdType, System.Text.Encoding.UTF8.GetBytes(_settings.LocalId));
        var auth = IkeKeyDerivation.PskAuth(suite, _psk, _initRequest!, nr.Data, keys.SkPi, idi);
        var ourSpi = Negotiation.NewEspSpi(_random);
        var request = _session.Request(ExchangeType.IkeAuth,
        [
            idi,
            new NotifyPayload(NotifyType.InitialContact),
            new AuthPayload(AuthMethod.SharedKeyMic, auth),
            new SaPayload(EspProposals(ourSpi)),
            new TsPayload(false, _settings.TsI),
            new TsPayload(true, _settings.TsR),
        ], ourSpi);
        Phase = IkeInitiatorPhase.AuthSent;
        return IkeOutput.Reply(request);
    }

    private IkeOutput OnRequest(IkeMessage msg, IReadOnlyList<IkePayload> inner, object? _)
    {
        var s = _session!;
        return msg.Header.Exchange switch
        {
            ExchangeType.Informational when s.Established => s.HandleInformationalRequest(msg, inner),
            // The gateway rekeys a CHILD SA (FortiOS does before the sequence space runs out): same selectors as the SA has.
            // An additional CHILD SA it might ask for is declined with NO_ADDITIONAL_SAS.
            ExchangeType.CreateChildSa when s.Established => s.AnswerCreateChild(msg, inner, _childSuites, (_, _) => s.Ts, _settings.NonceLength, rekeyOnly: true, _settings.ChildDhGroups),
            _ => IkeOutput.Of(new IkeDropped($"{msg.Header.Exchange} request not expected in phase {Phase}")),
        };
    }

    private IkeOutput OnResponse(IkeMessage msg, IReadOnlyList<IkePayload> inner, object? context)
    {
        var s = _session!;
        switch (msg.Header.Exchange)
        {
            case ExchangeType.IkeAuth when Phase == IkeInitiatorPhase.AuthSent && context is uint ourSpi:
                return HandleAuthResponse(s, inner, ourSpi);
            case ExchangeType.CreateChildSa when context is IkeSession.PendingChildRekey rekey:
                return s.HandleChildRekeyResponse(inner, rekey, _childSuites);
            case ExchangeType.Informational:
                return s.HandleInformationalResponse(inner, context) ?? IkeOutput.Of(new IkeDropped("unexpected INFORMATIONAL response"));
            default:
                return IkeOutput.Of(new IkeDropped($"unexpected {msg.Header.Exchange} response"));
        }
    }

    private IkeOutput HandleAuthResponse(IkeSession s, IReadOnlyList<IkePayload> inner, uint ourSpi)
    {
        if (inner.OfType<NotifyPayload>().FirstOrDefault(n => n.NotifyType.IsError()) is { } error)
            return Failed($"gateway answered IKE_AUTH with {error.NotifyType}", KindOf(error.NotifyType));
        var idr = inner.OfType<IdPayload>().FirstOrDefault(i => i.IsResponder);
        var auth = inner.OfType<AuthPayload>().FirstOrDefault();
        var sa = inner.OfType<SaPayload>().FirstOrDefault();
        var tsi = inner.OfType<TsPayload>().FirstOrDefault(t => !t.IsResponder);
        var tsr = inner.OfType<TsPayload>().FirstOrDefault(t => t.IsResponder);
        if (idr is null || auth is null || sa is null || tsi is null || tsr is null)
            return Failed("IKE_AUTH response lacks IDr, AUTH, SA, TSi or TSr", RefusalKind.Malformed);
        var expected = IkeKeyDerivation.PskAuth(s.Suite, _psk, s.InitResponse!, s.Ni, s.Keys.SkPr, idr);
        if (auth.Method != AuthMethod.SharedKeyMic || !CryptographicOperations.FixedTimeEquals(expected, auth.Data))
            return Failed($"gateway AUTH ({idr.Text}) does not verify: pre-shared key mismatch", RefusalKind.WrongPsk);
        var espSuite = Negotiation.AcceptedSuite(sa, ProtocolId.Esp, _childSuites);
        if (espSuite is null || sa.Proposals[0].Spi.Length != 4)
            return Failed("gateway chose an ESP proposal we did not offer", RefusalKind.NoProposalChosen);
        var km = IkeKeyDerivation.DeriveChildKeys(s.Suite, espSuite, s.Keys.SkD, s.Ni, s.Nr);
        var child = Negotiation.ChildFor(isExchangeInitiator: true, km, ourSpi, BinaryPrimitives.ReadUInt32BigEndian(sa.Proposals[0].Spi), espSuite);
        var ts = new TrafficSelectors(tsi.Selectors, tsr.Selectors);
        s.Established = true;
        s.PeerId = idr.Text;
        s.ChildSuite = espSuite;
        s.Children.Add(child);
        s.Ts = ts;
        s.InitRequest = null;
        s.InitResponse = null;
        Phase = IkeInitiatorPhase.Established;
        return IkeOutput.Of(new IkeSaEstablished(s.Export(), child, ts, idr.Text));
    }
}
