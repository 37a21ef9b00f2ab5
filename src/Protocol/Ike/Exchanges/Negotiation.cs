using System.Buffers.Binary;

namespace ClusterActors.Protocol.Ike.Exchanges;

/// <summary>Proposal selection (§2.7, §3.3.6) and traffic selector narrowing (§2.9), shared by both roles.</summary>
internal static class Negotiation
{
    private static readonly TransformType[] IkeTypes = [TransformType.Encr, TransformType.Prf, TransformType.Integ, TransformType.DhGroup];
    private static readonly TransformType[] EspTypes = [TransformType.Encr, TransformType.Integ, TransformType.DhGroup, TransformType.Esn];

    /// <summary>
    /// First offered IKE proposal (the initiator's preference order) that one of our suites accepts, with the DH groups
    /// both sides allow, in the initiator's order.
    /// </summary>
    public static (Proposal Offered, IkeSuite Suite, List<int> Groups)? ChooseIke(SaPayload sa, IReadOnlyList<IkeSuite> local, IReadOnlyList<int> allowedGroups)
    {
        foreach (var p in sa.Proposals)
        {
            if (p.Protocol != ProtocolId.Ike || p.Spi.Length != 0) continue;
            // A transform type we do not know makes the whole proposal unusable (§3.3.6).
            if (p.Transforms.Any(t => !IkeTypes.Contains(t.Type))) continue;
            var groups = p.Transforms.Where(t => t.Type == TransformType.DhGroup).Select(t => (int)t.Id)
                .Where(g => allowedGroups.Contains(g) && DhGroup.IsSupported(g)).Distinct().ToList();
            if (groups.Count == 0) continue;
            foreach (var s in local)
            {
                if (s.HasPrf && p.Transforms.Any(s.MatchesEncr)
                    && p.Transforms.Any(t => t.Type == TransformType.Prf && t.Id == s.PrfId)
                    && s.MatchesInteg(p.Transforms))
                    return (p, s, groups);
            }
        }
        return null;
    }

    /// <summary>
    /// First offered ESP proposal we accept. Without <paramref name="pfsGroups"/> (IKE_AUTH, or no KE, or pfs disable)
    /// a proposal insisting on a DH group is skipped; with them (a CREATE_CHILD_SA with KE) a proposal must offer one of
    /// them, and <c>Groups</c> are the common ones in the proposal's order.
    /// </summary>
    public static (Proposal Offered, IkeSuite Suite, List<int>? Groups)? ChooseEsp(SaPayload sa, IReadOnlyList<IkeSuite> local, IReadOnlyList<int>? pfsGroups = null)
    {
        foreach (var p in sa.Proposals)
        {
            if (p.Protocol != ProtocolId.Esp || p.Spi.Length != 4) continue;
            if (p.Transforms.Any(t => !EspTypes.Contains(t.Type))) continue;
            var dh = p.Transforms.Where(t => t.Type == TransformType.DhGroup).ToList();
            List<int>? groups = null;
            if (pfsGroups is null)
            {
                if (dh.Count > 0 && dh.All(t => t.Id != 0)) continue;
            }
            else
            {
                groups = dh.Select(t => (int)t.Id).Where(g => g != 0 && pfsGroups.Contains(g) && DhGroup.IsSupported(g)).Distinct().ToList();
                if (groups.Count == 0) continue;
            }
            var esn = p.Transforms.Where(t => t.Type == TransformType.Esn).ToList();
            if (esn.Count > 0 && esn.All(t => t.Id != TransformIds.EsnNone)) continue;
            foreach (var s in local)
            {
                if (p.Transforms.Any(s.MatchesEncr) && s.MatchesInteg(p.Transforms))
                    return (p, s, groups);
            }
        }
        return null;
    }

    public static Proposal IkeReply(Proposal offered, IkeSuite s, int group) =>
        new(offered.Number, ProtocolId.Ike, [], [.. s.IkeTransforms([group])]);

    public static Proposal EspReply(Proposal offered, IkeSuite s, uint ourSpi, int? pfsGroup = null) =>
        new(offered.Number, ProtocolId.Esp, SpiBytes(ourSpi), pfsGroup is { } g ? s.EspTransformsWith([g]) : s.EspTransforms);

    /// <summary>Which of our suites the peer's single-proposal reply names, or null if it is not something we offered.</summary>
    public static IkeSuite? AcceptedSuite(SaPayload reply, ProtocolId protocol, IReadOnlyList<IkeSuite> offered)
    {
        if (reply.Proposals.Count != 1 || reply.Proposals[0].Protocol != protocol) return null;
        var p = reply.Proposals[0];
        var integ = p.Transforms.Where(t => t.Type == TransformType.Integ).Select(t => t.Id).ToList();
        return offered.FirstOrDefault(s => p.Transforms.Count(t => t.Type == TransformType.Encr) == 1 && p.Transforms.Any(s.MatchesEncr)
            && (s.IsAead ? integ.Count == 0 || integ.SequenceEqual([TransformIds.AuthNone]) : integ.SequenceEqual([s.IntegId]))
            && (protocol != ProtocolId.Ike || p.Transforms.Where(t => t.Type == TransformType.Prf).Select(t => t.Id).SequenceEqual([s.PrfId])));
    }

    /// <summary>
    /// §2.9 narrowing: each selector the peer asked for, cut down to what policy allows; selectors with nothing left
    /// are dropped. An empty result means TS_UNACCEPTABLE.
    /// </summary>
    public static List<TrafficSelector> Narrow(IReadOnlyList<TrafficSelector> asked, TrafficSelector allowed) =>
        asked.Select(a => Intersect(a, allowed)).OfType<TrafficSelector>().Distinct().ToList();

    public static TrafficSelector? Intersect(TrafficSelector a, TrafficSelector b)
    {
        if (a.StartAddress.GetAddressBytes().Length != 4 || b.StartAddress.GetAddressBytes().Length != 4) return null;
        byte proto;
        if (a.IpProtocol == 0) proto = b.IpProtocol;
        else if (b.IpProtocol == 0 || b.IpProtocol == a.IpProtocol) proto = a.IpProtocol;
        else return null;
        var sp = Math.Max(a.StartPort, b.StartPort);
        var ep = Math.Min(a.EndPort, b.EndPort);
        var sa = Math.Max(Ipv4.ToUInt(a.StartAddress), Ipv4.ToUInt(b.StartAddress));
        var ea = Math.Min(Ipv4.ToUInt(a.EndAddress), Ipv4.ToUInt(b.EndAddress));
        if (sp > ep || sa > ea) return null;
        return new TrafficSelector(proto, sp, ep, Ipv4.FromUInt(sa), Ipv4.FromUInt(ea));
    }

    public static byte[] SpiBytes(uint spi)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, spi);
        return b;
    }

    /// <summary>ESP SPIs 1-255 are reserved by IANA and 0 means "none" (RFC 4303 §2.1).</summary>
    public static uint NewEspSpi(IIkeRandom random)
    {
        var spi = BinaryPrimitives.ReadUInt32BigEndian(random.Bytes(4));
        return spi < 256 ? spi + 256 : spi;
    }

    public static ulong NewIkeSpi(IIkeRandom random)
    {
        var spi = BinaryPrimitives.ReadUInt64BigEndian(random.Bytes(8));
        return spi == 0 ? 1 : spi;
    }

    /// <summary>§2.10: nonces are 16 to 256 bytes.</summary>
    public static bool NonceOk(NoncePayload? n) => n is not null && n.Data.Length is >= 16 and <= 256;

    public static ChildSaKeys ChildFor(bool isExchangeInitiator, ChildKeyMaterial km, uint ourSpi, uint peerSpi, IkeSuite esp) =>
        isExchangeInitiator
            ? new ChildSaKeys(ourSpi, peerSpi, km.EncrRToI, km.IntegRToI, km.EncrIToR, km.IntegIToR) { Proposal = esp.Name }
            : new ChildSaKeys(ourSpi, peerSpi, km.EncrIToR, km.IntegIToR, km.EncrRToI, km.IntegRToI) { Proposal = esp.Name };
}
