using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;

namespace ClusterActors.Protocol.Ike.Exchanges;

/// <summary>
/// The FortiGate dialup gateway for one phase1: answers IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA (CHILD SA rekey
/// without PFS) and INFORMATIONAL for any number of clients, and asks its own CHILD SA rekeys, DPD and deletes. Pure: datagrams in, datagrams and events out; it never
/// sends anything itself. A refused attempt leaves no state behind.
/// </summary>
public sealed class IkeResponder
{
    private readonly IIkeRandom _random;
    private readonly IReadOnlyList<IkeSuite> _suites;
    private readonly IReadOnlyList<IkeSuite> _childSuites;
    private readonly byte[] _psk;
    private readonly Dictionary<ulong, IkeSession> _sas = [];
    /// <summary>Half-open SAs by where their IKE_SA_INIT came from and its SPIi, so a retransmission is found without a scan.</summary>
    private readonly Dictionary<(IPAddress, int, ulong), IkeSession> _halfOpenByInit = [];
    /// <summary>Admitted IKE_SA_INITs whose DH is being computed elsewhere (<see cref="Begin"/>), by SPIr and by where they came from.</summary>
    private readonly Dictionary<ulong, IkeInitWork> _pending = [];
    private readonly Dictionary<(IPAddress, int, ulong), IkeInitWork> _pendingByInit = [];
    private readonly IkeAdmission? _admission;

    /// <param name="admission">Flood protection (COOKIE, half-open limits and expiry, size caps); null keeps none,
    /// as a responder that is only handed already-admitted traffic (README "Admission under flood").</param>
    public IkeResponder(IkeGatewaySettings settings, IIkeRandom? random = null, IkeAdmission? admission = null)
    {
        Settings = settings;
        _admission = admission;
        _random = random ?? SystemIkeRandom.Instance;
        _suites = settings.Proposals.Select(IkeSuite.Parse).ToList();
        _childSuites = (settings.ChildProposals ?? settings.Proposals).Select(IkeSuite.Parse).ToList();
        _psk = IkeKeyDerivation.PskBytes(settings.Psk);
        if (_suites.FirstOrDefault(s => !s.HasPrf) is { } noPrf)
            throw new ArgumentException($"phase1 proposal '{noPrf.Name}' has no PRF (phase1 AEAD keywords end in -prfsha1|256|384|512)");
        foreach (var g in settings.DhGroups.Concat(settings.ChildDhGroups ?? []))
            if (!DhGroup.IsSupported(g)) throw new ArgumentException($"dhgrp {g} is not implemented ({string.Join(", ", DhGroup.Supported)})");
    }

    public IkeGatewaySettings Settings { get; }

    public IkeAdmission? Admission => _admission;

    /// <summary>Established IKE SAs, as they would be synced to the other members.</summary>
    public IReadOnlyList<IkeSaState> Sas => _sas.Values.Where(s => s.Established).Select(s => s.Export()).ToList();

    /// <summary>Half-open SAs (IKE_SA_INIT answered, IKE_AUTH not yet): only their count is interesting.</summary>
    public int HalfOpenCount => _sas.Values.Count(s => !s.Established) + _pending.Count;

    /// <summary>
    /// SPIr of half-open SAs. There is no clock in here, so the owner expires them (e.g. after the IKE_AUTH
    /// retransmission budget) with <see cref="Forget"/>.
    /// </summary>
    public IReadOnlyList<ulong> HalfOpenSpis => _sas.Values.Where(s => !s.Established).Select(s => s.SpiR).Concat(_pending.Keys).ToList();

    /// <summary>Whether <paramref name="spiR"/> is one of our half-open SAs (IKE_SA_INIT answered, IKE_AUTH not yet).</summary>
    public bool IsHalfOpen(ulong spiR) => _sas.TryGetValue(spiR, out var s) && !s.Established || _pending.ContainsKey(spiR);

    /// <summary>IKE_SA_INITs handed out by <see cref="Begin"/> and not yet <see cref="Complete"/>d or abandoned.</summary>
    public int PendingInits => _pending.Count;

    public IkeSaState? Export(ulong spiR) => _sas.TryGetValue(spiR, out var s) && s.Established ? s.Export() : null;

    /// <summary>
    /// Take over an IKE SA negotiated by another member: from here on this responder answers the peer's requests
    /// with the synced keys and message IDs, so no new IKE_SA_INIT is needed.
    /// </summary>
    /// <remarks>
    /// Resuming the state this member itself just wrote after sending a request of its own (a CHILD SA rekey syncs its
    /// advanced message ID at once) keeps that request outstanding, so its answer is still taken.
    /// </remarks>
    public void Resume(IkeSaState state)
    {
        var session = IkeSession.Import(state, _random);
        if (_sas.TryGetValue(state.SpiR, out var current) && current.PendingId is { } id && id < state.NextRequestId)
            session.KeepPending(current);
        _sas[state.SpiR] = session;
    }

    public bool Forget(ulong spiR)
    {
        if (Abandon(spiR)) return true;
        if (!_sas.Remove(spiR, out var s)) return false;
        Unlist(s);
        return true;
    }

    /// <summary>Takes a half-open SA out of the INIT index and the admission's count (any SA: a no-op when established).</summary>
    private void Unlist(IkeSession s)
    {
        if (s.InitKey is { } key && _halfOpenByInit.TryGetValue(key, out var listed) && ReferenceEquals(listed, s))
            _halfOpenByInit.Remove(key);
        if (!s.Established) _admission?.Closed(s.SpiR);
    }

    /// <summary>Drops a pending IKE_SA_INIT: its <see cref="Complete"/> will answer nothing.</summary>
    private bool Abandon(ulong spiR)
    {
        if (!_pending.Remove(spiR, out var work)) return false;
        if (_pendingByInit.TryGetValue(work.InitKey, out var listed) && ReferenceEquals(listed, work)) _pendingByInit.Remove(work.InitKey);
        _admission?.Closed(spiR);
        return true;
    }

    private void RemoveHalfOpen(IkeSession s)
    {
        _sas.Remove(s.SpiR);
        Unlist(s);
    }

    /// <summary>
    /// Forgets half-open SAs older than the admission's timeout (also done on every datagram); their SPIr.
    /// Without an admission nothing expires here and the owner calls <see cref="Forget"/>.
    /// </summary>
    public IReadOnlyList<ulong> ExpireHalfOpen()
    {
        if (_admission is null) return [];
        var expired = _admission.Expire();
        foreach (var spiR in expired)
        {
            if (_pending.ContainsKey(spiR)) Abandon(spiR);
            else if (_sas.TryGetValue(spiR, out var s) && !s.Established) RemoveHalfOpen(s);
        }
        return expired;
    }

    /// <summary>Our own liveness probe (FortiOS dpd on-idle) for an established SA; the answer comes back through Handle.</summary>
    public byte[] CreateDpd(ulong spiR) => Established(spiR).Dpd();

    public byte[] CreateDeleteIkeSa(ulong spiR) => Established(spiR).DeleteIkeSa();

    /// <summary>Our last request on this SA if still unanswered, to resend verbatim (§2.1).</summary>
    public byte[]? PendingRequest(ulong spiR) => _sas.TryGetValue(spiR, out var s) ? s.PendingBytes : null;

    private IkeSession Established(ulong spiR) =>
        _sas.TryGetValue(spiR, out var s) && s.Established ? s : throw new InvalidOperationException($"no established IKE SA with SPIr {spiR:x16}");

    /// <summary>An IKE message from <paramref name="peer"/> port 500 to our port 500 (no NAT-T in play).</summary>
    public IkeOutput Handle(IPAddress peer, byte[] datagram) => Handle(new IPEndPoint(peer, IkeUdp.IkePort), IkeUdp.IkePort, datagram);

    /// <summary>
    /// An IKE message (non-ESP marker already removed, see <see cref="HandleUdp"/>) that came from
    /// <paramref name="peer"/> (address and port as seen here, i.e. after any NAT) to our <paramref name="localPort"/>
    /// (500 or 4500). Replies go back to <paramref name="peer"/> from <paramref name="localPort"/> (§2.23: answer
    /// where the request came from), framed for that port by the caller.
    /// </summary>
    public IkeOutput Handle(IPEndPoint peer, int localPort, byte[] datagram)
    {
        var output = Begin(peer, localPort, datagram, out var work);
        if (work is null) return output;
        work.Compute();
        return Complete(work);
    }

    /// <summary>
    /// <see cref="Handle(IPEndPoint, int, byte[])"/> without the DH: an admitted IKE_SA_INIT comes back as
    /// <paramref name="work"/> (output empty), already counted as half-open and holding its SPIr. Run
    /// <see cref="IkeInitWork.Compute"/> anywhere (it touches nothing of this responder; several may run at once), then
    /// hand it to <see cref="Complete"/> on the owner's thread. Until then a retransmission of the same request is dropped
    /// (the answer will follow), a different request from the same initiator SPI abandons it, and it expires, is
    /// forgotten and counts like any half-open SA.
    /// </summary>
    public IkeOutput Begin(IPEndPoint peer, int localPort, byte[] datagram, out IkeInitWork? work)
    {
        work = null;
        if (_admission is { } admission)
        {
            ExpireHalfOpen();
            // Before parsing: a 60 KB Vendor ID or a thousand payloads cost nothing but this look at the headers.
            if (admission.Screen(datagram) is { } cause)
                return IkeOutput.Of(new IkeDropped($"{datagram.Length} bytes from {peer}: {cause}") { Cause = cause });
        }
        try
        {
            // The SPIs first: a datagram for no SA of ours costs a header read, not a parse of its payloads.
            var header = IkeCodec.DecodeHeader(datagram);
            if (!(header.Exchange == ExchangeType.IkeSaInit && !header.IsResponse) && !_sas.ContainsKey(header.SpiR))
                return IkeOutput.Of(new IkeDropped($"{header.Exchange} for unknown IKE SA {header.SpiI:x16}/{header.SpiR:x16}"));
            var msg = IkeCodec.Decode(datagram);
            var h = msg.Header;
            if (h.Exchange == ExchangeType.IkeSaInit && !h.IsResponse) return HandleInit(peer, localPort, datagram, msg, out work);
            if (!_sas.TryGetValue(h.SpiR, out var s) || s.SpiI != h.SpiI)
                return IkeOutput.Of(new IkeDropped($"{h.Exchange} for unknown IKE SA {h.SpiI:x16}/{h.SpiR:x16}"));
            var result = s.Receive(datagram, msg, (m, inner, _) => OnRequest(s, m, inner), (m, inner, ctx) => OnResponse(s, m, inner, ctx),
                new IkePath(peer, localPort));
            if (result.Events.Any(e => e is IkeSaDeleted)) RemoveHalfOpen(s);
            return result;
        }
        catch (IkeFormatException e)
        {
            _admission?.Malformed();
            return IkeOutput.Of(new IkeRefused($"malformed datagram from {peer}: {e.Message}", RefusalKind.Malformed));
        }
    }

    /// <summary>
    /// A UDP payload as a socket bound to <paramref name="localPort"/> received it: on 4500 the non-ESP marker is
    /// checked and stripped (ESP and NAT keepalives are not IKE and are dropped with the reason) and every reply comes
    /// back with the marker, ready to send to <paramref name="peer"/>. On 500 this is <see cref="Handle(IPEndPoint, int, byte[])"/>.
    /// </summary>
    public IkeOutput HandleUdp(IPEndPoint peer, int localPort, byte[] udpPayload)
    {
        if (!IkeUdp.TryUnframe(udpPayload, localPort, out var message, out var why))
            return IkeOutput.Of(new IkeDropped($"from {peer}: {why}"));
        var output = Handle(peer, localPort, message);
        return IkeUdp.IsFramed(localPort) ? output with { Replies = output.Replies.Select(r => IkeUdp.Frame(r, localPort)).ToList() } : output;
    }

    private IkeOutput OnRequest(IkeSession s, IkeMessage msg, IReadOnlyList<IkePayload> inner)
    {
        if (inner.FirstOrDefault(p => p is UnknownPayload { Critical: true }) is { } critical)
            return Fail(s, msg, NotifyType.UnsupportedCriticalPayload, [(byte)critical.Type], $"unsupported critical payload {(byte)critical.Type}", RefusalKind.Malformed, killIfHalfOpen: true);
        return (msg.Header.Exchange, s.Established) switch
        {
            (ExchangeType.IkeAuth, false) => HandleAuth(s, msg, inner),
            (ExchangeType.Informational, true) => s.HandleInformationalRequest(msg, inner),
            (ExchangeType.CreateChildSa, true) => HandleCreateChild(s, msg, inner),
            _ => IkeOutput.Of(new IkeDropped($"{msg.Header.Exchange} not expected {(s.Established ? "on an established" : "on a half-open")} IKE SA")),
        };
    }

    // ---------------- IKE_SA_INIT ----------------

    private IkeOutput HandleInit(IPEndPoint peer, int localPort, byte[] datagram, IkeMessage msg, out IkeInitWork? work)
    {
        work = null;
        var h = msg.Header;
        if (h.SpiR != 0 || h.MessageId != 0 || !h.FromInitiator)
            return IkeOutput.Of(new IkeDropped("IKE_SA_INIT request with SPIr, message ID or initiator flag wrong"));
        if (_halfOpenByInit.TryGetValue((peer.Address, peer.Port, h.SpiI), out var earlier))
        {
            if (earlier.InitRequest is { } req && req.AsSpan().SequenceEqual(datagram))
                return IkeOutput.Reply(earlier.InitResponse!, new IkeRetransmitted(h.SpiI, earlier.SpiR, 0));
            RemoveHalfOpen(earlier); // the client started over; the old half-open SA can never complete
        }
        if (_pendingByInit.TryGetValue((peer.Address, peer.Port, h.SpiI), out var computing))
        {
            if (computing.InitRequest.AsSpan().SequenceEqual(datagram))
                return IkeOutput.Of(new IkeDropped($"IKE_SA_INIT from {peer} retransmitted while its DH is computed; answered once"));
            Abandon(computing.SpiR);
        }
        if (msg.Payloads.FirstOrDefault(p => p is UnknownPayload { Critical: true }) is { } critical)
            return InitError(h, NotifyType.UnsupportedCriticalPayload, [(byte)critical.Type], $"unsupported critical payload {(byte)critical.Type}", RefusalKind.Malformed);
        var sa = msg.Find<SaPayload>();
        var ke = msg.Find<KePayload>();
        var ni = msg.Find<NoncePayload>();
        if (sa is null || ke is null || !Negotiation.NonceOk(ni))
            return InitError(h, NotifyType.InvalidSyntax, [], "IKE_SA_INIT lacks SA, KE or a 16-256 byte nonce", RefusalKind.Malformed);
        // §2.6: before any DH or state. Above the threshold an INIT without a cookie gets one and nothing is kept.
        if (_admission is { } admission)
        {
            switch (admission.AdmitInit(peer.Address, h.SpiI, ni!.Data, msg.Notify(NotifyType.Cookie)?.Data))
            {
                case IkeAdmit.SendCookie c:
                    return new IkeOutput([CookieReply(h, c.Cookie)], [new IkeDropped($"IKE_SA_INIT from {peer} without a COOKIE: answered with one") { Cause = IkeDropCause.CookieRequired }]);
                case IkeAdmit.Drop d:
                    return IkeOutput.Of(new IkeDropped($"IKE_SA_INIT from {peer}: {d.Cause}") { Cause = d.Cause });
            }
        }
        var choice = Negotiation.ChooseIke(sa, _suites, Settings.DhGroups);
        if (choice is null)
            return InitError(h, NotifyType.NoProposalChosen, [], $"no IKE proposal matches '{string.Join(" ", Settings.Proposals)}' dhgrp {string.Join(" ", Settings.DhGroups)}; offered {Describe(sa)}", RefusalKind.NoProposalChosen);
        var (offered, suite, groups) = choice.Value;
        if (!groups.Contains(ke.DhGroup))
        {
            var want = new byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(want, (ushort)groups[0]);
            return InitError(h, NotifyType.InvalidKePayload, want, $"KE is group {ke.DhGroup}, selected group {groups[0]}", RefusalKind.InvalidKePayload);
        }
        var group = DhGroup.Find(ke.DhGroup)!;
        if (!group.IsValidPublic(ke.Data))
            return InitError(h, NotifyType.InvalidSyntax, [], $"KE data of {ke.Data.Length} bytes is not a valid group {group.Id} value", RefusalKind.Malformed);

        ulong spiR;
        do spiR = Negotiation.NewIkeSpi(_random); while (_sas.ContainsKey(spiR) || _pending.ContainsKey(spiR));
        var nr = _random.Bytes(Settings.NonceLength);
        var x = group.NewPrivate(_random);

        // §2.23: NAT detection only when we do NAT-T and the initiator does too (it sent both notifies); then our
        // answer carries ours, computed with both SPIs. The request's hashes have SPIr zero, as its header.
        var local = new IPEndPoint(Settings.LocalGateway, localPort);
        var natT = NatTStatus.None;
        IReadOnlyList<IkePayload> natD = [];
        if (Settings.NatTraversal != NatTraversal.Disable && NatDetection.Detect(msg, h.SpiI, 0, peer, local) is { } detected)
        {
            natT = detected | (Settings.NatTraversal == NatTraversal.Forced ? NatTStatus.Forced : NatTStatus.None);
            natD = NatDetection.Notifies(Settings.NatTraversal, h.SpiI, spiR, local, peer);
        }
        work = new IkeInitWork
        {
            Peer = peer, LocalPort = localPort, InitRequest = datagram, SpiI = h.SpiI, SpiR = spiR, Offered = offered, Suite = suite,
            Group = group, PeerPublic = ke.Data, Private = x, Ni = ni!.Data, Nr = nr, NatT = natT, NatD = natD,
        };
        _pending[spiR] = work;
        _pendingByInit[work.InitKey] = work;
        _admission?.Opened(spiR, peer.Address);
        return IkeOutput.Nothing;
    }

    /// <summary>
    /// The answer to an IKE_SA_INIT from <see cref="Begin"/> once its <see cref="IkeInitWork.Compute"/> ran: the half-open
    /// SA is created and the response returned. Nothing when it was abandoned meanwhile (expired, forgotten, superseded).
    /// </summary>
    public IkeOutput Complete(IkeInitWork work)
    {
        if (!_pending.TryGetValue(work.SpiR, out var listed) || !ReferenceEquals(listed, work))
            return IkeOutput.Of(new IkeDropped($"IKE_SA_INIT from {work.Peer} abandoned while its DH was computed"));
        if (work.Response is null || work.Keys is null)
            throw new InvalidOperationException("IkeInitWork.Compute has not run");
        _pending.Remove(work.SpiR);
        _pendingByInit.Remove(work.InitKey);
        var session = _sas[work.SpiR] = new IkeSession
        {
            SpiI = work.SpiI, SpiR = work.SpiR, IsInitiator = false, Suite = work.Suite, DhGroup = work.Group.Id, Ni = work.Ni, Nr = work.Nr,
            Keys = work.Keys, PeerAddress = work.Peer.Address, Random = _random, IkeLifetimeSeconds = Settings.IkeLifetimeSeconds,
            ChildLifetimeSeconds = Settings.ChildLifetimeSeconds, NextRequestId = 0, ExpectedPeerRequestId = 1, InitRequest = work.InitRequest,
            InitResponse = work.Response, NatT = work.NatT, PeerPort = work.Peer.Port, LocalPort = work.LocalPort, InitKey = work.InitKey,
        };
        _halfOpenByInit[work.InitKey] = session;
        return IkeOutput.Reply(work.Response);
    }

    /// <summary>N(COOKIE) as the only payload, SPIr zero: the answer that keeps no state (§2.6).</summary>
    private static byte[] CookieReply(IkeHeader req, byte[] cookie) =>
        IkeCodec.Encode(new IkeHeader(req.SpiI, 0, PayloadType.None, IkeHeader.Ikev2, ExchangeType.IkeSaInit, IkeFlags.Response, 0),
            [new NotifyPayload(NotifyType.Cookie, cookie)]);

    /// <summary>Error answers to IKE_SA_INIT are clear text and keep no state, so the responder SPI stays zero.</summary>
    private static IkeOutput InitError(IkeHeader req, NotifyType type, byte[] data, string reason, RefusalKind kind)
    {
        var reply = IkeCodec.Encode(new IkeHeader(req.SpiI, 0, PayloadType.None, IkeHeader.Ikev2, ExchangeType.IkeSaInit, IkeFlags.Response, 0),
            [new NotifyPayload(type, data)]);
        return IkeOutput.Reply(reply, new IkeRefused(reason, kind));
    }

    private static string Describe(SaPayload sa) => string.Join(" | ", sa.Proposals.Select(p =>
        $"#{p.Number} {p.Protocol}: " + string.Join(",", p.Transforms.Select(t => $"{t.Type}={t.Id}{(t.KeyLength is { } k ? "/" + k : "")}"))));

    // ---------------- IKE_AUTH ----------------

    private IkeOutput Fail(IkeSession s, IkeMessage msg, NotifyType type, byte[] data, string reason, RefusalKind kind, bool killIfHalfOpen)
    {
        var reply = s.Respond(msg.Header, [new NotifyPayload(type, data)]);
        if (killIfHalfOpen && !s.Established) RemoveHalfOpen(s);
        return IkeOutput.Reply(reply, new IkeRefused(reason, kind));
    }

    private IkeOutput HandleAuth(IkeSession s, IkeMessage msg, IReadOnlyList<IkePayload> inner)
    {
        IkeOutput Refuse(NotifyType t, string reason, RefusalKind kind) => Fail(s, msg, t, [], reason, kind, killIfHalfOpen: true);

        var idi = inner.OfType<IdPayload>().FirstOrDefault(i => !i.IsResponder);
        var auth = inner.OfType<AuthPayload>().FirstOrDefault();
        var sa = inner.OfType<SaPayload>().FirstOrDefault();
        var tsi = inner.OfType<TsPayload>().FirstOrDefault(t => !t.IsResponder);
        var tsr = inner.OfType<TsPayload>().FirstOrDefault(t => t.IsResponder);
        if (idi is null || auth is null)
            return Refuse(NotifyType.InvalidSyntax, "IKE_AUTH without IDi or AUTH (EAP is not supported)", RefusalKind.Malformed);
        if (sa is null || tsi is null || tsr is null)
            return Refuse(NotifyType.InvalidSyntax, "IKE_AUTH without SA, TSi and TSr", RefusalKind.Malformed);

        // peertype one: FortiOS picks the dialup gateway by peer ID first, so a wrong ID fails before the PSK is tried.
        if (Settings.PeerId is { } want
            && !(idi.IdType is IdType.Fqdn or IdType.KeyId && idi.Data.AsSpan().SequenceEqual(System.Text.Encoding.UTF8.GetBytes(want))))
            return Refuse(NotifyType.AuthenticationFailed, $"peer ID {idi.IdType} '{idi.Text}' does not match peerid '{want}'", RefusalKind.PeerIdMismatch);
        if (auth.Method != AuthMethod.SharedKeyMic)
            return Refuse(NotifyType.AuthenticationFailed, $"auth method {auth.Method} but this gateway uses a pre-shared key", RefusalKind.UnsupportedAuthMethod);
        var expected = IkeKeyDerivation.PskAuth(s.Suite, _psk, s.InitRequest!, s.Nr, s.Keys.SkPi, idi);
        if (!CryptographicOperations.FixedTimeEquals(expected, auth.Data))
            return Refuse(NotifyType.AuthenticationFailed, $"AUTH from '{idi.Text}' does not verify: pre-shared key mismatch", RefusalKind.WrongPsk);

        // Deviation (README): RFC 7296 would keep the IKE SA when only the CHILD SA fails; a dialup tunnel without a
        // phase2 is useless here, so the whole attempt is refused.
        var esp = Negotiation.ChooseEsp(sa, _childSuites);
        if (esp is null)
            return Refuse(NotifyType.NoProposalChosen, $"no ESP proposal matches phase2 '{string.Join(" ", Settings.ChildProposals ?? Settings.Proposals)}'; offered {Describe(sa)}", RefusalKind.NoProposalChosen);
        var ts = NarrowOrNull(tsi, tsr);
        if (ts is null)
            return Refuse(NotifyType.TsUnacceptable, $"traffic selectors {string.Join(",", tsi.Selectors)} -> {string.Join(",", tsr.Selectors)} outside phase2 selectors", RefusalKind.TsUnacceptable);

        var (offered, espSuite, _) = esp.Value;
        var ourSpi = Negotiation.NewEspSpi(_random);
        var km = IkeKeyDerivation.DeriveChildKeys(s.Suite, espSuite, s.Keys.SkD, s.Ni, s.Nr);
        var child = Negotiation.ChildFor(isExchangeInitiator: false, km, ourSpi, BinaryPrimitives.ReadUInt32BigEndian(offered.Spi), espSuite);
        // FortiOS identifies itself by its local gateway address unless localid is set.
        var gw = Settings.LocalGateway.GetAddressBytes();
        var idr = new IdPayload(true, gw.Length == 4 ? IdType.Ipv4Addr : IdType.Ipv6Addr, gw);
        var authR = IkeKeyDerivation.PskAuth(s.Suite, _psk, s.InitResponse!, s.Ni, s.Keys.SkPr, idr);
        Unlist(s); // still half-open here: leaves the admission's count before it becomes established
        var reply = s.Respond(msg.Header,
        [
            idr,
            new AuthPayload(AuthMethod.SharedKeyMic, authR),
            new SaPayload([Negotiation.EspReply(offered, espSuite, ourSpi)]),
            new TsPayload(false, ts.Initiator),
            new TsPayload(true, ts.Responder),
        ]);
        s.Established = true;
        s.PeerId = idi.Text;
        s.ChildSuite = espSuite;
        s.Children.Add(child);
        s.Ts = ts;
        s.InitRequest = null;
        s.InitResponse = null;
        return IkeOutput.Reply(reply, new IkeSaEstablished(s.Export(), child, ts, idi.Text));
    }

    /// <summary>TSi narrowed to phase2 dst-subnet (the client side), TSr to src-subnet (ours); null if either is empty.</summary>
    private TrafficSelectors? NarrowOrNull(TsPayload tsi, TsPayload tsr)
    {
        var i = Negotiation.Narrow(tsi.Selectors, Settings.RemoteSelector);
        var r = Negotiation.Narrow(tsr.Selectors, Settings.LocalSelector);
        return i.Count == 0 || r.Count == 0 ? null : new TrafficSelectors(i, r);
    }

    // ---------------- CREATE_CHILD_SA ----------------

    /// <summary>
    /// CHILD SA rekey (§1.3.3) or an additional CHILD SA asked by the client, without PFS. The old CHILD SA stays until
    /// the peer deletes it. Rekeying the IKE SA itself is not supported.
    /// </summary>
    private IkeOutput HandleCreateChild(IkeSession s, IkeMessage msg, IReadOnlyList<IkePayload> inner) =>
        s.AnswerCreateChild(msg, inner, _childSuites, NarrowOrNull, Settings.NonceLength, rekeyOnly: false, Settings.ChildDhGroups);

    /// <summary>
    /// Our own CREATE_CHILD_SA rekeying the newest CHILD SA of an established IKE SA (FortiOS rekeys before the
    /// sequence space runs out): same ESP suite and selectors, new SPIs and keys. The answer comes back through
    /// Handle as <see cref="ChildSaRekeyed"/> with <see cref="ChildSaRekeyed.RekeyedHere"/>; then delete the old one
    /// with <see cref="CreateDeleteChild"/>.
    /// </summary>
    public byte[] RekeyChild(ulong spiR)
    {
        var s = Established(spiR);
        var old = s.Children.LastOrDefault() ?? throw new InvalidOperationException($"IKE SA {spiR:x16} has no CHILD SA to rekey");
        return s.RekeyChild(old, [s.ChildSuite], Settings.NonceLength, Settings.ChildDhGroups);
    }

    /// <summary>INFORMATIONAL deleting one of our CHILD SAs (after our rekey, the old one).</summary>
    public byte[] CreateDeleteChild(ulong spiR, ChildSaKeys child) => Established(spiR).DeleteChild(child);

    private IkeOutput OnResponse(IkeSession s, IkeMessage m, IReadOnlyList<IkePayload> inner, object? ctx) => ctx switch
    {
        IkeSession.PendingChildRekey rekey when m.Header.Exchange == ExchangeType.CreateChildSa => s.HandleChildRekeyResponse(inner, rekey, [s.ChildSuite]),
        _ => s.HandleInformationalResponse(inner, ctx) ?? IkeOutput.Of(new IkeDropped($"unexpected {m.Header.Exchange} response")),
    };
}

/// <summary>
/// The costly part of answering one admitted IKE_SA_INIT (both modular exponentiations, SKEYSEED and the SK_* keys,
/// the encoded response), cut out of <see cref="IkeResponder"/> so it can run on any thread: everything it reads was
/// fixed by <see cref="IkeResponder.Begin"/> (SPIr, Nr and the private value drawn in the responder's order) and it writes
/// only its own results. <see cref="IkeResponder.Complete"/> takes it back.
/// </summary>
public sealed class IkeInitWork
{
    internal IPEndPoint Peer { get; init; } = default!;
    internal int LocalPort { get; init; } = default!;
    internal byte[] InitRequest { get; init; } = default!;
    internal ulong SpiI { get; init; } = default!;
    public ulong SpiR { get; init; }
    internal Proposal Offered { get; init; } = default!;
    internal IkeSuite Suite { get; init; } = default!;
    internal DhGroup Group { get; init; } = default!;
    internal byte[] PeerPublic { get; init; } = default!;
    internal byte[] Private { get; init; } = default!;
    internal byte[] Ni { get; init; } = default!;
    internal byte[] Nr { get; init; } = default!;
    internal NatTStatus NatT { get; init; } = default!;
    internal IReadOnlyList<IkePayload> NatD { get; init; } = default!;
    internal (IPAddress, int, ulong) InitKey => (Peer.Address, Peer.Port, SpiI);

    internal IkeSaKeys? Keys { get; private set; }
    internal byte[]? Response { get; private set; }

    /// <summary>Whether <see cref="Compute"/> has run.</summary>
    public bool Computed => Response is not null;

    /// <summary>The DH, the key derivation and the response. Idempotent; safe on any thread, one call at a time per work.</summary>
    public void Compute()
    {
        if (Response is not null) return;
        var dh = Group.KeyPairFrom(Private);
        Keys = IkeKeyDerivation.DeriveIkeKeys(Suite, Ni, Nr, dh.SharedSecret(PeerPublic), SpiI, SpiR);
        Response = IkeCodec.Encode(
            new IkeHeader(SpiI, SpiR, PayloadType.None, IkeHeader.Ikev2, ExchangeType.IkeSaInit, IkeFlags.Response, 0),
            [new SaPayload([Negotiation.IkeReply(Offered, Suite, Group.Id)]), new KePayload((ushort)Group.Id, dh.Public), new NoncePayload(Nr), .. NatD]);
    }
}
