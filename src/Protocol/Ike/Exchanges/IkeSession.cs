using System.Net;

namespace ClusterActors.Protocol.Ike.Exchanges;

/// <summary>
/// One IKE SA once keys exist, for either role: protected message building, the message ID window of §2.3 (window
/// size 1 each way) and the INFORMATIONAL exchanges both roles answer alike. Mutable on purpose; the public face of
/// its state is the immutable <see cref="IkeSaState"/> snapshot.
/// </summary>
/// <summary>Where a datagram came from and which of our ports (500 or 4500) it arrived on.</summary>
internal readonly record struct IkePath(IPEndPoint From, int LocalPort);

internal sealed class IkeSession
{
    public required ulong SpiI { get; init; }
    public required ulong SpiR { get; init; }
    public required bool IsInitiator { get; init; }
    public required IkeSuite Suite { get; init; }
    public required int DhGroup { get; init; }
    public required byte[] Ni { get; init; }
    public required byte[] Nr { get; init; }
    public required IkeSaKeys Keys { get; init; }
    public required IPAddress PeerAddress { get; set; }
    public required IIkeRandom Random { get; init; }
    public required int IkeLifetimeSeconds { get; init; }
    public required int ChildLifetimeSeconds { get; init; }

    public uint NextRequestId { get; set; }
    public uint ExpectedPeerRequestId { get; set; }
    public uint? LastResponseId { get; private set; }
    public byte[]? LastResponse { get; private set; }
    public string PeerId { get; set; } = "";
    public IkeSuite ChildSuite { get; set; } = IkeSuite.Aes128Sha1;
    public List<ChildSaKeys> Children { get; } = [];
    public TrafficSelectors? Ts { get; set; }
    public bool Established { get; set; }
    public NatTStatus NatT { get; set; }
    public int PeerPort { get; set; } = IkeUdp.IkePort;
    public int LocalPort { get; set; } = IkeUdp.IkePort;

    /// <summary>Our one outstanding request (§2.3 window of 1): its ID, bytes for retransmission, and what it was for.</summary>
    public uint? PendingId { get; private set; }
    public byte[]? PendingBytes { get; private set; }
    public object? PendingContext { get; private set; }

    /// <summary>The IKE_SA_INIT pair, kept only until IKE_AUTH because the AUTH payloads sign them (§2.15).</summary>
    public byte[]? InitRequest { get; set; }
    public byte[]? InitResponse { get; set; }

    /// <summary>Responder, half-open: where the IKE_SA_INIT came from and its SPIi (the peer may float before IKE_AUTH).</summary>
    public (IPAddress, int, ulong)? InitKey { get; init; }

    private SkKeys OutKeys => IsInitiator ? new(Suite, Keys.SkEi, Keys.SkAi) : new(Suite, Keys.SkEr, Keys.SkAr);
    private SkKeys InKeys => IsInitiator ? new(Suite, Keys.SkEr, Keys.SkAr) : new(Suite, Keys.SkEi, Keys.SkAi);

    private IkeHeader Header(ExchangeType x, bool response, uint id) => new(SpiI, SpiR, PayloadType.None, IkeHeader.Ikev2, x,
        (IsInitiator ? IkeFlags.Initiator : IkeFlags.None) | (response ? IkeFlags.Response : IkeFlags.None), id);

    public bool HasPendingRequest => PendingId is not null;

    /// <summary>Carries <paramref name="from"/>'s outstanding request over to this session (same IKE SA, resumed from a newer state).</summary>
    public void KeepPending(IkeSession from)
    {
        PendingId = from.PendingId;
        PendingBytes = from.PendingBytes;
        PendingContext = from.PendingContext;
    }

    public byte[] Request(ExchangeType x, IReadOnlyList<IkePayload> payloads, object? context = null)
    {
        if (PendingId is not null) throw new InvalidOperationException($"request {PendingId} still outstanding; IKE allows one at a time");
        var id = NextRequestId++;
        var bytes = IkeCodec.EncodeProtected(Header(x, false, id), payloads, OutKeys, Random);
        PendingId = id;
        PendingBytes = bytes;
        PendingContext = context;
        return bytes;
    }

    public byte[] Respond(IkeHeader request, IReadOnlyList<IkePayload> payloads)
    {
        var bytes = IkeCodec.EncodeProtected(Header(request.Exchange, true, request.MessageId), payloads, OutKeys, Random);
        LastResponseId = request.MessageId;
        LastResponse = bytes;
        ExpectedPeerRequestId = request.MessageId + 1;
        return bytes;
    }

    public delegate IkeOutput Handler(IkeMessage message, IReadOnlyList<IkePayload> inner, object? context);

    /// <summary>
    /// Window and integrity checks for a protected datagram of this SA, then the role-specific handler. A repeat of
    /// the last request gets the cached response byte for byte (§2.1) rather than being processed twice.
    /// </summary>
    /// <param name="path">Where the datagram came from and the local port it arrived on, when the caller knows
    /// (the responder): an authenticated message may move the peer's endpoint, see <see cref="Observe"/>.</param>
    public IkeOutput Receive(byte[] datagram, IkeMessage msg, Handler onRequest, Handler onResponse, IkePath? path = null)
    {
        var h = msg.Header;
        if (h.FromInitiator == IsInitiator)
            return IkeOutput.Of(new IkeDropped($"{h.Exchange} #{h.MessageId}: initiator flag says it came from our own role"));
        if (h.IsResponse)
        {
            if (PendingId != h.MessageId)
                return IkeOutput.Of(new IkeDropped($"{h.Exchange} response #{h.MessageId} matches no outstanding request"));
            if (!TryDecrypt(datagram, msg, out var inner, out var why)) return IkeOutput.Of(new IkeDropped(why));
            var ctx = PendingContext;
            PendingId = null;
            PendingBytes = null;
            PendingContext = null;
            var movedR = Observe(path);
            return WithMove(movedR, onResponse(msg, inner, ctx));
        }
        if (LastResponse is not null && h.MessageId == LastResponseId && h.MessageId + 1 == ExpectedPeerRequestId)
        {
            // Authenticate the repeat before answering so a forged header cannot make us send anything.
            if (!TryDecrypt(datagram, msg, out _, out var why)) return IkeOutput.Of(new IkeDropped(why));
            return WithMove(Observe(path), IkeOutput.Reply(LastResponse, new IkeRetransmitted(SpiI, SpiR, h.MessageId)));
        }
        if (h.MessageId != ExpectedPeerRequestId)
            return IkeOutput.Of(new IkeDropped($"{h.Exchange} request #{h.MessageId} outside the window (expecting #{ExpectedPeerRequestId})"));
        {
            if (!TryDecrypt(datagram, msg, out var inner, out var why))
            {
                // An authentic request whose inside does not parse is answered with INVALID_SYNTAX (§2.21.2).
                if (why.StartsWith("malformed", StringComparison.Ordinal))
                    return IkeOutput.Reply(Respond(h, [new NotifyPayload(NotifyType.InvalidSyntax)]), new IkeRefused(why, RefusalKind.Malformed));
                return IkeOutput.Of(new IkeDropped(why));
            }
            var moved = Observe(path);
            return WithMove(moved, onRequest(msg, inner, null));
        }
    }

    /// <summary>
    /// RFC 7296 §2.23 after an authenticated message. A half-open SA takes the IKE_AUTH's endpoint as it is (that is
    /// where the initiator floated to, port 4500 with NAT-T). An established SA follows the peer only when NAT-T is in
    /// use and we are not behind a NAT ourselves ("dynamic address update"); a host behind a NAT keeps its peer fixed.
    /// </summary>
    private IkePeerMoved? Observe(IkePath? path)
    {
        if (path is not { } p) return null;
        var from = p.From;
        if (PeerAddress.Equals(from.Address) && PeerPort == from.Port && LocalPort == p.LocalPort) return null;
        if (Established && (!NatT.IsActive() || NatT.HasFlag(NatTStatus.LocalBehindNat))) return null;
        var old = new IPEndPoint(PeerAddress, PeerPort);
        PeerAddress = from.Address;
        PeerPort = from.Port;
        LocalPort = p.LocalPort;
        return Established ? new IkePeerMoved(SpiI, SpiR, old, from) : null;
    }

    private static IkeOutput WithMove(IkePeerMoved? moved, IkeOutput output) =>
        moved is null ? output : output with { Events = [moved, .. output.Events] };

    private bool TryDecrypt(byte[] datagram, IkeMessage msg, out IReadOnlyList<IkePayload> inner, out string why)
    {
        try
        {
            inner = IkeCodec.DecryptPayloads(datagram, msg, InKeys);
            why = "";
            return true;
        }
        catch (IkeIntegrityException e)
        {
            inner = [];
            why = $"{msg.Header.Exchange} #{msg.Header.MessageId}: {e.Message}";
            return false;
        }
        catch (IkeFormatException e)
        {
            inner = [];
            why = $"malformed {msg.Header.Exchange} #{msg.Header.MessageId}: {e.Message}";
            return false;
        }
    }

    /// <summary>Our CREATE_CHILD_SA rekey in flight: the SPI and nonce we chose, our DH half with PFS, and the CHILD SA it replaces.</summary>
    public sealed record PendingChildRekey(uint OurSpi, byte[] Ni, ChildSaKeys Old)
    {
        public DhKeyPair? Dh { get; init; }
    }

    /// <summary>
    /// CREATE_CHILD_SA rekeying <paramref name="old"/> (§1.3.3), whichever side of the IKE SA we are: REKEY_SA names it
    /// by the SPI we receive on; same selectors (§2.8: a rekey SHOULD NOT change them). With <paramref name="pfsGroups"/>
    /// (phase2 pfs enable) every proposal offers those groups and KE carries a new DH value of the first (§1.3.1).
    /// </summary>
    public byte[] RekeyChild(ChildSaKeys old, IReadOnlyList<IkeSuite> suites, int nonceLength, IReadOnlyList<int>? pfsGroups = null)
    {
        var ts = Ts ?? throw new InvalidOperationException("no traffic selectors: no CHILD SA was negotiated");
        var ourSpi = Negotiation.NewEspSpi(Random);
        var ni = Random.Bytes(nonceLength);
        var dh = pfsGroups is [var first, ..] ? (ClusterActors.Protocol.Ike.DhGroup.Find(first) ?? throw new ArgumentException($"PFS group {first} is not implemented")).NewKeyPair(Random) : null;
        return Request(ExchangeType.CreateChildSa,
        [
            new NotifyPayload(ProtocolId.Esp, Negotiation.SpiBytes(old.InboundSpi), NotifyType.RekeySa, []),
            new SaPayload(suites.Select((s, i) => new Proposal((byte)(i + 1), ProtocolId.Esp, Negotiation.SpiBytes(ourSpi),
                dh is null ? s.EspTransforms : s.EspTransformsWith(pfsGroups!))).ToList()),
            new NoncePayload(ni),
            .. dh is null ? (IkePayload[])[] : [new KePayload((ushort)dh.Group.Id, dh.Public)],
            new TsPayload(false, InExchange(ts, peerAsks: false).Initiator),
            new TsPayload(true, InExchange(ts, peerAsks: false).Responder),
        ], new PendingChildRekey(ourSpi, ni, old) { Dh = dh });
    }

    /// <summary>
    /// <see cref="Ts"/> holds the selectors in the IKE SA's terms (Initiator = the IKE initiator's side); in a
    /// CREATE_CHILD_SA, TSi is the side of whoever asks (RFC 7296 §2.9), so when the IKE responder asks they swap.
    /// The same mapping turns an exchange's selectors back into the IKE SA's terms.
    /// </summary>
    private TrafficSelectors InExchange(TrafficSelectors ts, bool peerAsks) =>
        (peerAsks ? !IsInitiator : IsInitiator) ? ts : new TrafficSelectors(ts.Responder, ts.Initiator);

    /// <summary>The answer to our <see cref="RekeyChild"/>: the new CHILD SA next to the old one, or why there is none.</summary>
    public IkeOutput HandleChildRekeyResponse(IReadOnlyList<IkePayload> inner, PendingChildRekey rekey, IReadOnlyList<IkeSuite> offered)
    {
        if (inner.OfType<NotifyPayload>().FirstOrDefault(n => n.NotifyType.IsError()) is { } error)
            return IkeOutput.Of(new IkeRefused($"the peer refused the CHILD SA rekey with {error.NotifyType}",
                error.NotifyType == NotifyType.NoProposalChosen ? RefusalKind.NoProposalChosen : RefusalKind.Other));
        var sa = inner.OfType<SaPayload>().FirstOrDefault();
        var nr = inner.OfType<NoncePayload>().FirstOrDefault();
        var tsi = inner.OfType<TsPayload>().FirstOrDefault(t => !t.IsResponder);
        var tsr = inner.OfType<TsPayload>().FirstOrDefault(t => t.IsResponder);
        var espSuite = sa is null ? null : Negotiation.AcceptedSuite(sa, ProtocolId.Esp, offered);
        if (espSuite is null || sa!.Proposals[0].Spi.Length != 4 || !Negotiation.NonceOk(nr) || tsi is null || tsr is null)
            return IkeOutput.Of(new IkeRefused("CREATE_CHILD_SA response incomplete", RefusalKind.Malformed));
        // With PFS the answer must carry our group in its proposal and a valid KE of it; without, neither.
        var chosenGroups = sa.Proposals[0].Transforms.Where(t => t.Type == TransformType.DhGroup && t.Id != 0).Select(t => (int)t.Id).ToList();
        var ke = inner.OfType<KePayload>().FirstOrDefault();
        byte[]? pfs = null;
        if (rekey.Dh is { } dh)
        {
            if (!chosenGroups.SequenceEqual([dh.Group.Id]) || ke is null || ke.DhGroup != dh.Group.Id || !dh.Group.IsValidPublic(ke.Data))
                return IkeOutput.Of(new IkeRefused($"CREATE_CHILD_SA response without a valid PFS KE of group {dh.Group.Id}", RefusalKind.Malformed));
            pfs = dh.SharedSecret(ke.Data);
        }
        else if (chosenGroups.Count > 0 || ke is not null)
            return IkeOutput.Of(new IkeRefused("CREATE_CHILD_SA response has a DH group we did not offer", RefusalKind.NoProposalChosen));
        var km = IkeKeyDerivation.DeriveChildKeys(Suite, espSuite, Keys.SkD, rekey.Ni, nr!.Data, pfs);
        var child = Negotiation.ChildFor(isExchangeInitiator: true, km, rekey.OurSpi, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(sa.Proposals[0].Spi), espSuite);
        var ts = InExchange(new TrafficSelectors(tsi.Selectors, tsr.Selectors), peerAsks: false);
        Children.Add(child);
        Ts = ts;
        return IkeOutput.Of(new ChildSaRekeyed(Export(), rekey.Old, child, ts) { RekeyedHere = true, PfsGroup = rekey.Dh?.Group.Id });
    }

    /// <summary>
    /// The peer's CREATE_CHILD_SA (§1.3.2 new CHILD SA, §1.3.3 rekey with REKEY_SA): KEYMAT = prf+(SK_d, Ni | Nr) with
    /// the new nonces, or with a KE and <paramref name="pfsGroups"/> allowing its group prf+(SK_d, g^ir | Ni | Nr).
    /// A KE with PFS off is refused; a request without KE is answered without PFS even when it is on (README
    /// "PFS"). The old CHILD SA stays until one side deletes it.
    /// <paramref name="selectors"/> narrows the asked selectors (given and returned in the IKE SA's terms: TSi the IKE
    /// initiator's side), null when they are unacceptable.
    /// </summary>
    public IkeOutput AnswerCreateChild(IkeMessage msg, IReadOnlyList<IkePayload> inner, IReadOnlyList<IkeSuite> childSuites,
        Func<TsPayload, TsPayload, TrafficSelectors?> selectors, int nonceLength, bool rekeyOnly, IReadOnlyList<int>? pfsGroups = null)
    {
        IkeOutput Refuse(NotifyType t, string reason, RefusalKind kind) =>
            IkeOutput.Reply(Respond(msg.Header, [new NotifyPayload(t, [])]), new IkeRefused(reason, kind));

        var sa = inner.OfType<SaPayload>().FirstOrDefault();
        var ni = inner.OfType<NoncePayload>().FirstOrDefault();
        var tsi = inner.OfType<TsPayload>().FirstOrDefault(t => !t.IsResponder);
        var tsr = inner.OfType<TsPayload>().FirstOrDefault(t => t.IsResponder);
        if (sa is not null && sa.Proposals.Any(p => p.Protocol == ProtocolId.Ike))
            return Refuse(NotifyType.NoProposalChosen, "IKE SA rekey is not implemented", RefusalKind.NoProposalChosen);
        if (sa is null || tsi is null || tsr is null || !Negotiation.NonceOk(ni))
            return Refuse(NotifyType.InvalidSyntax, "CREATE_CHILD_SA without SA, Ni, TSi and TSr", RefusalKind.Malformed);
        var ke = inner.OfType<KePayload>().FirstOrDefault();
        if (ke is not null && pfsGroups is null)
            return Refuse(NotifyType.NoProposalChosen, "KE in CREATE_CHILD_SA but phase2 pfs is disabled", RefusalKind.NoProposalChosen);
        ChildSaKeys? old = null;
        if (inner.OfType<NotifyPayload>().FirstOrDefault(n => n.NotifyType == NotifyType.RekeySa) is { } rekey)
        {
            // REKEY_SA carries the SPI the exchange initiator receives on, i.e. our outbound SPI.
            if (rekey.Protocol != ProtocolId.Esp || rekey.Spi.Length != 4
                || (old = Children.FirstOrDefault(c => c.OutboundSpi == System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(rekey.Spi))) is null)
                return Refuse(NotifyType.ChildSaNotFound, "REKEY_SA names no CHILD SA of this IKE SA", RefusalKind.Other);
        }
        else if (rekeyOnly)
            return Refuse(NotifyType.NoAdditionalSas, "CREATE_CHILD_SA for an additional CHILD SA declined", RefusalKind.Other);
        var esp = Negotiation.ChooseEsp(sa, childSuites, ke is null ? null : pfsGroups);
        if (esp is null) return Refuse(NotifyType.NoProposalChosen, "no ESP proposal matches", RefusalKind.NoProposalChosen);
        DhKeyPair? dh = null;
        byte[]? pfs = null;
        if (esp.Value.Groups is { } groups)
        {
            if (!groups.Contains(ke!.DhGroup))
            {
                // §1.3.1: the initiator guessed a group we do not take; tell it which one (and keep no state).
                var want = new byte[2];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(want, (ushort)groups[0]);
                return IkeOutput.Reply(Respond(msg.Header, [new NotifyPayload(NotifyType.InvalidKePayload, want)]),
                    new IkeRefused($"PFS KE is group {ke.DhGroup}, selected group {groups[0]}", RefusalKind.InvalidKePayload));
            }
            var group = ClusterActors.Protocol.Ike.DhGroup.Find(ke.DhGroup)!;
            if (!group.IsValidPublic(ke.Data))
                return Refuse(NotifyType.InvalidSyntax, $"PFS KE data of {ke.Data.Length} bytes is not a valid group {group.Id} value", RefusalKind.Malformed);
            dh = group.NewKeyPair(Random);
            pfs = dh.SharedSecret(ke.Data);
        }
        var asked = InExchange(new TrafficSelectors(tsi.Selectors, tsr.Selectors), peerAsks: true);
        var ts = selectors(new TsPayload(false, asked.Initiator), new TsPayload(true, asked.Responder));
        if (ts is null) return Refuse(NotifyType.TsUnacceptable, "traffic selectors outside phase2 selectors", RefusalKind.TsUnacceptable);
        var answered = InExchange(ts, peerAsks: true);

        var (offered, espSuite, _) = esp.Value;
        var nr = Random.Bytes(nonceLength);
        var ourSpi = Negotiation.NewEspSpi(Random);
        var km = IkeKeyDerivation.DeriveChildKeys(Suite, espSuite, Keys.SkD, ni!.Data, nr, pfs);
        var child = Negotiation.ChildFor(isExchangeInitiator: false, km, ourSpi, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(offered.Spi), espSuite);
        var reply = Respond(msg.Header,
        [
            new SaPayload([Negotiation.EspReply(offered, espSuite, ourSpi, dh?.Group.Id)]),
            new NoncePayload(nr),
            .. dh is null ? (IkePayload[])[] : [new KePayload((ushort)dh.Group.Id, dh.Public)],
            new TsPayload(false, answered.Initiator),
            new TsPayload(true, answered.Responder),
        ]);
        Children.Add(child);
        Ts = ts;
        return IkeOutput.Reply(reply, new ChildSaRekeyed(Export(), old, child, ts) { PfsGroup = dh?.Group.Id });
    }

    private sealed record PendingDelete(ChildSaKeys? Child);
    private sealed record PendingDpd;

    public byte[] Dpd() => Request(ExchangeType.Informational, [], new PendingDpd());

    public byte[] DeleteIkeSa() => Request(ExchangeType.Informational, [new DeletePayload(ProtocolId.Ike, 0, [])], new PendingDelete(null));

    public byte[] DeleteChild(ChildSaKeys child) => Request(ExchangeType.Informational,
        [new DeletePayload(ProtocolId.Esp, 4, [Negotiation.SpiBytes(child.InboundSpi)])], new PendingDelete(child));

    /// <summary>
    /// The peer's INFORMATIONAL request: empty is a liveness check (DPD) answered empty; Delete of the IKE SA ends it;
    /// Delete of ESP SPIs (the peer's inbound = our outbound) is answered with our inbound SPIs of the same pairs (§1.4.1).
    /// </summary>
    public IkeOutput HandleInformationalRequest(IkeMessage msg, IReadOnlyList<IkePayload> inner)
    {
        var deletes = inner.OfType<DeletePayload>().ToList();
        if (deletes.Any(d => d.Protocol == ProtocolId.Ike))
        {
            var bye = Respond(msg.Header, []);
            Established = false;
            return IkeOutput.Reply(bye, new IkeSaDeleted(Export()));
        }
        var gone = new List<ChildSaKeys>();
        foreach (var d in deletes.Where(d => d.Protocol == ProtocolId.Esp && d.SpiSize == 4))
        {
            foreach (var spi in d.Spis)
            {
                var outbound = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(spi);
                var c = Children.FirstOrDefault(c => c.OutboundSpi == outbound);
                if (c is null) continue;
                Children.Remove(c);
                gone.Add(c);
            }
        }
        IReadOnlyList<IkePayload> reply = gone.Count == 0 ? [] : [new DeletePayload(ProtocolId.Esp, 4, gone.Select(c => Negotiation.SpiBytes(c.InboundSpi)).ToList())];
        var bytes = Respond(msg.Header, reply);
        var state = Export();
        var events = new List<IkeEvent>();
        events.AddRange(gone.Select(c => new ChildSaDeleted(state, c)));
        if (inner.Count == 0) events.Add(new IkeDpdAnswered(state));
        return new IkeOutput([bytes], events);
    }

    /// <summary>The answer to our own INFORMATIONAL request; null if the pending context was not ours to interpret.</summary>
    public IkeOutput? HandleInformationalResponse(IReadOnlyList<IkePayload> inner, object? context)
    {
        switch (context)
        {
            case PendingDpd:
                return IkeOutput.Of(new IkeDpdConfirmed(Export()));
            case PendingDelete { Child: null }:
                Established = false;
                return IkeOutput.Of(new IkeSaDeleted(Export()));
            case PendingDelete { Child: { } child }:
                Children.RemoveAll(c => c.InboundSpi == child.InboundSpi);
                return IkeOutput.Of(new ChildSaDeleted(Export(), child));
            default:
                return null;
        }
    }

    public IkeSaState Export() => new(SpiI, SpiR, IsInitiator, Suite.Name, DhGroup, Ni, Nr, Keys,
        NextRequestId, ExpectedPeerRequestId, LastResponseId, LastResponse, PeerAddress, PeerId, ChildSuite.Name,
        Children.ToList(), Ts, IkeLifetimeSeconds, ChildLifetimeSeconds)
    {
        NatT = NatT, PeerPort = PeerPort, LocalPort = LocalPort,
    };

    public static IkeSession Import(IkeSaState s, IIkeRandom random)
    {
        var session = new IkeSession
        {
            SpiI = s.SpiI, SpiR = s.SpiR, IsInitiator = s.IsInitiator, Suite = IkeSuite.Parse(s.Proposal), DhGroup = s.DhGroup,
            Ni = s.Ni, Nr = s.Nr, Keys = s.Keys, PeerAddress = s.PeerAddress, Random = random,
            IkeLifetimeSeconds = s.IkeLifetimeSeconds, ChildLifetimeSeconds = s.ChildLifetimeSeconds,
            NextRequestId = s.NextRequestId, ExpectedPeerRequestId = s.ExpectedPeerRequestId,
            PeerId = s.PeerId, ChildSuite = IkeSuite.Parse(s.ChildProposal), Ts = s.Ts, Established = true,
            NatT = s.NatT, PeerPort = s.PeerPort, LocalPort = s.LocalPort,
        };
        session.LastResponseId = s.LastResponseId;
        session.LastResponse = s.LastResponse;
        session.Children.AddRange(s.Children);
        return session;
    }
}
