using System.Net;
using System.Net.Sockets;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Ipsec;
using IkeSelector = ClusterActors.Protocol.Ike.TrafficSelector;

namespace ClusterActors.Protocol.Serialization;

/// <summary>
/// Codec for the FGSP-style SA sync record. A standby applies what it decodes as live key material and message IDs,
/// so decoding is strict: anything a real owner cannot have produced (unknown suite, key lengths that do not fit
/// it, reserved SPIs, impossible nonces or addresses) is rejected as <see cref="WireFormatException"/> rather than
/// installed and failing later in <see cref="IkeSession"/>. A shipped layout is frozen; a new one gets a new manifest:
/// <list type="bullet">
/// <item>"ipsec.tunnel.v1": the original layout, no NAT traversal. Still read (a unit of the previous version may
/// send it; NAT-T comes out as off, IKE on port 500); written only for records it can carry exactly.</item>
/// <item>"ipsec.tunnel.v2": v1 plus NAT-T: in the IKE SA, after its lifetimes, NatT (u8 flags), PeerPort, LocalPort
/// (i32 each); in the record, after the local selectors and before Deleted (still last), NatT (u8), NattRemotePort,
/// NattKeepaliveSeconds (i32 each). This is what every unit writes.</item>
/// </list>
/// </summary>
internal static partial class WireCatalog
{
    internal const string TunnelRecordManifestV1 = "ipsec.tunnel.v1";
    internal const string TunnelRecordManifest = "ipsec.tunnel.v2";

    private const byte FamilyV4 = 4;
    private const byte FamilyV6 = 6;

    /// <summary>An IKE message is at least its 28-byte header and fits one UDP datagram.</summary>
    private const int MinIkeMessage = 28, MaxIkeMessage = 65535;

    /// <summary>UTC offsets DateTimeOffset accepts: ±14 h.</summary>
    private const int MaxOffsetMinutes = 14 * 60;

    /// <summary>v1 first, v2 last: a type maps to the manifest registered last, so records are written as v2.</summary>
    static partial void RegisterIpsec()
    {
        WireCodecs.Register<TunnelRecord>(TunnelRecordManifestV1, WriteTunnelV1, r => ReadTunnel(r, 1));
        WireCodecs.Register<TunnelRecord>(TunnelRecordManifest, (w, t) => WriteTunnel(w, t, 2), r => ReadTunnel(r, 2));
        // Records pushed at once (an FGCP takeover's claims, README "Batched sync"): each as v2, each checked as if alone.
        WireCodecs.Register<TunnelRecordBatch>("ipsec.tunnel-records.v1",
            (w, m) => w.List(m.Records as IReadOnlyCollection<TunnelRecord> ?? [.. m.Records], (x, t) => WriteTunnel(x, t, 2)),
            r => new TunnelRecordBatch(r.List(x => ReadTunnel(x, 2))));
        // A Distributed Data entry of SA sync signed by its writer (TunnelRecordSignature); its payload is decoded only
        // once the signature verified.
        WireCodecs.Register<SignedTunnelRecord>("ipsec.signed-tunnel.v1", WriteSigned, ReadSigned);
        // The previous owner's word that it sends no more on a tunnel another unit claimed by traffic.
        WireCodecs.Register<TunnelReleased>("ipsec.tunnel-released.v1", (w, m) =>
        {
            w.Str(m.Key);
            w.I64(m.Generation);
            w.Str(m.FromSerial);
        }, r => new TunnelReleased(r.Str(), r.I64(), r.Str()));
        // A returning primary's question for its previous incarnation's entries, and the answer (README "A returning unit").
        WireCodecs.Register<TunnelEntriesWanted>("ipsec.tunnel-entries-wanted.v1", (w, m) => w.Str(m.Serial), r => new TunnelEntriesWanted(r.Str()));
        WireCodecs.Register<TunnelEntries>("ipsec.tunnel-entries.v1", (w, m) =>
        {
            w.Str(m.FromSerial);
            w.Str(m.Manifest);
            w.List(m.Entries as IReadOnlyCollection<TunnelEntry> ?? [.. m.Entries], (x, e) =>
            {
                x.Str(e.Key);
                WriteSigned(x, e.Entry);
            });
        }, r => new TunnelEntries(r.Str(), r.Str(), r.List(x => new TunnelEntry(x.Str(), ReadSigned(x)))));
    }

    private static void WriteSigned(WireWriter w, SignedTunnelRecord m)
    {
        w.Str(m.SignerSerial);
        w.Str(m.PayloadManifest);
        w.Bytes(m.Payload);
        w.Bytes(m.SignerCertificate);
        w.Bytes(m.Signature);
    }

    private static SignedTunnelRecord ReadSigned(WireReader r) => new(r.Str(), r.Str(), r.Bytes(), r.Bytes(), r.Bytes());

    /// <summary>v1 has no NAT-T fields: a record that needs them would come back different, so it is refused.</summary>
    private static void WriteTunnelV1(WireWriter w, TunnelRecord t)
    {
        var ike = t.Ike;
        if (ike.NatT != NatTStatus.None || ike.PeerPort != IkeUdp.IkePort || ike.LocalPort != IkeUdp.IkePort
            || t.NatT != NatTStatus.None || t.NattRemotePort != 0 || t.NattKeepaliveSeconds != 0)
            throw new InvalidOperationException($"{TunnelRecordManifestV1} cannot carry NAT-T or IKE ports other than 500; write {TunnelRecordManifest}");
        WriteTunnel(w, t, 1);
    }

    private static void WriteTunnel(WireWriter w, TunnelRecord t, int version)
    {
        w.Str(t.Key);
        w.Str(t.Phase1);
        w.Str(t.Name);
        w.I32(t.Index);
        w.Str(t.OwnerSerial);
        w.I32(t.OwnerFgcpGroup);
        w.I64(t.Generation);
        w.I64(t.SyncSeq);
        WriteIkeSa(w, t.Ike, version);
        WriteChild(w, t.Child);
        w.I32(t.ProxyIdSerial);
        w.U32(t.NextOutboundSeq);
        w.U32(t.ReplayHighest);
        WriteUtcTime(w, t.EstablishedAt);
        w.I32(t.ChildLifetimeSeconds);
        WriteAddress(w, t.LocalGateway);
        WriteAddress(w, t.RemoteGateway);
        w.I32(t.RemotePort);
        w.List(t.RemoteSelectors.ToList(), WriteSelector);
        w.List(t.LocalSelectors.ToList(), WriteSelector);
        if (version >= 2)
        {
            w.U8((byte)t.NatT);
            w.I32(t.NattRemotePort);
            w.I32(t.NattKeepaliveSeconds);
        }
        w.Bool(t.Deleted);
    }

    private static TunnelRecord ReadTunnel(WireReader r, int version)
    {
        var key = NonEmpty(r.Str(), "tunnel key");
        var phase1 = NonEmpty(r.Str(), "phase1 name");
        var name = NonEmpty(r.Str(), "tunnel name");
        var index = NonNegative(r.I32(), "tunnel index");
        var ownerSerial = NonEmpty(r.Str(), "owner serial");
        // A group-id, or NoFgcpCluster (-1) for a standalone owner; anything lower is corrupt.
        var ownerGroup = r.I32();
        if (ownerGroup < TunnelRecord.NoFgcpCluster) throw new WireFormatException($"corrupt owner FGCP group {ownerGroup}");
        var generation = NonNegative(r.I64(), "generation");
        var syncSeq = NonNegative(r.I64(), "sync sequence");
        var ike = ReadIkeSa(r, version);
        var child = ReadChild(r);
        var proxyIdSerial = NonNegative(r.I32(), "proxyid serial");
        var nextSeq = r.U32();
        var replayHighest = r.U32();
        var established = ReadUtcTime(r);
        var childLifetime = NonNegative(r.I32(), "child lifetime");
        var localGateway = ReadAddress(r);
        var gateway = ReadAddress(r);
        var port = r.I32();
        if (port is < 0 or > 65535) throw new WireFormatException($"corrupt remote port {port}");
        var remote = r.List(ReadSelector);
        var local = r.List(ReadSelector);
        var (natT, nattPort, keepalive) = version >= 2 ? ReadTunnelNatT(r) : (NatTStatus.None, 0, 0);
        var deleted = r.Bool();
        return new TunnelRecord(key, phase1, name, index, ownerSerial, ownerGroup, generation, syncSeq, ike, child,
            proxyIdSerial, nextSeq, replayHighest, established, childLifetime, localGateway, gateway, port, remote, local, deleted)
        {
            NatT = natT, NattRemotePort = nattPort, NattKeepaliveSeconds = keepalive,
        };
    }

    /// <summary>Off means all zero (FortiOS prints <c>interval=0 remote_port=0</c>); on needs a real port and a phase1 keepalive.</summary>
    private static (NatTStatus, int, int) ReadTunnelNatT(WireReader r)
    {
        var natT = NatT(r.U8());
        var port = r.I32();
        var keepalive = r.I32();
        if (!natT.IsActive())
        {
            if (port != 0 || keepalive != 0)
                throw new WireFormatException($"corrupt tunnel NAT-T: off but remote port {port}, keepalive {keepalive}");
        }
        else
        {
            UdpPort(port, "NAT-T remote port");
            if (keepalive is < TunnelRecord.MinNattKeepaliveSeconds or > TunnelRecord.MaxNattKeepaliveSeconds)
                throw new WireFormatException($"corrupt NAT-T keepalive {keepalive}");
        }
        return (natT, port, keepalive);
    }

    private static NatTStatus NatT(byte b) =>
        (b & ~(byte)NatTStatusExtensions.All) == 0 ? (NatTStatus)b : throw new WireFormatException($"corrupt NAT-T flags 0x{b:x2}");

    /// <summary>A port a UDP socket can send to or from: 1-65535.</summary>
    private static int UdpPort(int port, string what) =>
        port is >= 1 and <= 65535 ? port : throw new WireFormatException($"corrupt {what} {port}");

    private static void WriteIkeSa(WireWriter w, IkeSaState s, int version)
    {
        w.U64(s.SpiI);
        w.U64(s.SpiR);
        w.Bool(s.IsInitiator);
        w.Str(s.Proposal);
        w.I32(s.DhGroup);
        w.Bytes(s.Ni);
        w.Bytes(s.Nr);
        WriteIkeKeys(w, s.Keys);
        w.U32(s.NextRequestId);
        w.U32(s.ExpectedPeerRequestId);
        w.Bool(s.LastResponseId is not null);
        if (s.LastResponseId is { } lastId) w.U32(lastId);
        WriteOptBytes(w, s.LastResponse);
        WriteAddress(w, s.PeerAddress);
        w.Str(s.PeerId);
        w.Str(s.ChildProposal);
        w.List(s.Children.ToList(), WriteChild);
        w.Bool(s.Ts is not null);
        if (s.Ts is not null) WriteSelectors(w, s.Ts);
        w.I32(s.IkeLifetimeSeconds);
        w.I32(s.ChildLifetimeSeconds);
        if (version >= 2)
        {
            w.U8((byte)s.NatT);
            w.I32(s.PeerPort);
            w.I32(s.LocalPort);
        }
    }

    private static IkeSaState ReadIkeSa(WireReader r, int version)
    {
        var spiI = r.U64();
        var spiR = r.U64();
        // §2.6: zero is "not yet known", which an established (and thus synced) SA no longer has on either side.
        if (spiI == 0 || spiR == 0) throw new WireFormatException($"corrupt IKE SPIs {spiI:x16}/{spiR:x16}");
        var isInitiator = r.Bool();
        var proposal = r.Str();
        var suite = Suite(proposal, "IKE");
        // An IKE SA runs on a PRF: a phase2-only AEAD keyword (aes128gcm) cannot name one.
        if (!suite.HasPrf) throw new WireFormatException($"corrupt IKE proposal '{proposal}': no PRF");
        var dhGroup = r.I32();
        if (dhGroup is < 1 or > ushort.MaxValue) throw new WireFormatException($"corrupt DH group {dhGroup}");
        var ni = Nonce(r.Bytes(), "Ni");
        var nr = Nonce(r.Bytes(), "Nr");
        var keys = ReadIkeKeys(r, suite);
        var nextRequestId = r.U32();
        var expectedPeerRequestId = r.U32();
        uint? lastResponseId = r.Bool() ? r.U32() : null;
        var lastResponse = ReadOptBytes(r);
        if ((lastResponseId is null) != (lastResponse is null))
            throw new WireFormatException("corrupt IKE SA: last response ID and last response bytes must come together");
        if (lastResponse is not null && lastResponse.Length is < MinIkeMessage or > MaxIkeMessage)
            throw new WireFormatException($"corrupt IKE SA: last response of {lastResponse.Length} bytes");
        var peer = ReadAddress(r);
        var peerId = r.Str();
        var childProposal = r.Str();
        Suite(childProposal, "ESP");
        var children = r.List(ReadChild);
        var ts = r.Bool() ? ReadSelectors(r) : null;
        var ikeLifetime = NonNegative(r.I32(), "IKE lifetime");
        var childLifetime = NonNegative(r.I32(), "child lifetime");
        var state = new IkeSaState(spiI, spiR, isInitiator, proposal, dhGroup, ni, nr, keys, nextRequestId, expectedPeerRequestId,
            lastResponseId, lastResponse, peer, peerId, childProposal, children, ts, ikeLifetime, childLifetime);
        if (version < 2) return state;
        var natT = NatT(r.U8());
        var peerPort = UdpPort(r.I32(), "IKE peer port");
        var localPort = UdpPort(r.I32(), "IKE local port");
        return state with { NatT = natT, PeerPort = peerPort, LocalPort = localPort };
    }

    private static void WriteIkeKeys(WireWriter w, IkeSaKeys k)
    {
        w.Bytes(k.SkD);
        w.Bytes(k.SkAi);
        w.Bytes(k.SkAr);
        w.Bytes(k.SkEi);
        w.Bytes(k.SkEr);
        w.Bytes(k.SkPi);
        w.Bytes(k.SkPr);
    }

    /// <summary>The seven secrets have exactly the lengths prf+ cut them to for the SA's suite (§2.14).</summary>
    private static IkeSaKeys ReadIkeKeys(WireReader r, IkeSuite suite)
    {
        int p = suite.PrfLength, a = suite.IntegKeyLength, e = suite.EncrKeyBytes;
        return new IkeSaKeys(
            Key(r, p, "SK_d"), Key(r, a, "SK_ai"), Key(r, a, "SK_ar"), Key(r, e, "SK_ei"), Key(r, e, "SK_er"),
            Key(r, p, "SK_pi"), Key(r, p, "SK_pr"));
    }

    private static void WriteChild(WireWriter w, ChildSaKeys c)
    {
        w.Str(c.Proposal);
        w.U32(c.InboundSpi);
        w.U32(c.OutboundSpi);
        w.Bytes(c.InboundEncKey);
        w.Bytes(c.InboundAuthKey);
        w.Bytes(c.OutboundEncKey);
        w.Bytes(c.OutboundAuthKey);
    }

    /// <summary>Proposal first: it fixes the key lengths the rest must have.</summary>
    private static ChildSaKeys ReadChild(WireReader r)
    {
        var proposal = r.Str();
        var suite = Suite(proposal, "ESP");
        var inSpi = EspSpi(r.U32(), "inbound");
        var outSpi = EspSpi(r.U32(), "outbound");
        int e = suite.EncrKeyBytes, a = suite.IntegKeyLength;
        return new ChildSaKeys(inSpi, outSpi,
            Key(r, e, "inbound encryption key"), Key(r, a, "inbound authentication key"),
            Key(r, e, "outbound encryption key"), Key(r, a, "outbound authentication key")) { Proposal = proposal };
    }

    private static void WriteSelectors(WireWriter w, TrafficSelectors ts)
    {
        w.List(ts.Initiator.ToList(), WriteSelector);
        w.List(ts.Responder.ToList(), WriteSelector);
    }

    private static TrafficSelectors ReadSelectors(WireReader r) => new(r.List(ReadSelector), r.List(ReadSelector));

    private static void WriteSelector(WireWriter w, IkeSelector s)
    {
        w.U8(s.IpProtocol);
        w.U32(s.StartPort);
        w.U32(s.EndPort);
        WriteAddress(w, s.StartAddress);
        WriteAddress(w, s.EndAddress);
    }

    /// <summary>
    /// Port order is not checked: RFC 4301 encodes OPAQUE as 65535-0 and ICMP type/code in the ports. The range's
    /// two ends must be of one address family, though.
    /// </summary>
    private static IkeSelector ReadSelector(WireReader r)
    {
        var protocol = r.U8();
        var startPort = Port(r.U32());
        var endPort = Port(r.U32());
        var start = ReadAddress(r);
        var end = ReadAddress(r);
        if (start.AddressFamily != end.AddressFamily)
            throw new WireFormatException($"corrupt traffic selector {start}-{end}: mixed address families");
        return new IkeSelector(protocol, startPort, endPort, start, end);
    }

    /// <summary>Family byte (4 or 6), the address bytes (length-prefixed, checked against the family), then for IPv6 the scope ID.</summary>
    private static void WriteAddress(WireWriter w, IPAddress a)
    {
        switch (a.AddressFamily)
        {
            case AddressFamily.InterNetwork:
                w.U8(FamilyV4);
                w.Bytes(a.GetAddressBytes());
                break;
            case AddressFamily.InterNetworkV6:
                w.U8(FamilyV6);
                w.Bytes(a.GetAddressBytes());
                w.U32((uint)a.ScopeId);
                break;
            default:
                throw new ArgumentException($"address family {a.AddressFamily} has no wire form");
        }
    }

    private static IPAddress ReadAddress(WireReader r)
    {
        var family = r.U8();
        var bytes = r.Bytes();
        return family switch
        {
            FamilyV4 when bytes.Length == 4 => new IPAddress(bytes),
            FamilyV6 when bytes.Length == 16 => new IPAddress(bytes, r.U32()),
            FamilyV4 or FamilyV6 => throw new WireFormatException($"corrupt IPv{family} address of {bytes.Length} bytes"),
            _ => throw new WireFormatException($"corrupt address family {family}"),
        };
    }

    private static void WriteOptBytes(WireWriter w, byte[]? v)
    {
        w.Bool(v is not null);
        if (v is not null) w.Bytes(v);
    }

    private static byte[]? ReadOptBytes(WireReader r) => r.Bool() ? r.Bytes() : null;

    /// <summary>
    /// The instant as UTC ticks plus the offset in minutes, so both the instant and the offset it was taken in
    /// round-trip. (HA history writes local ticks; this record is new, so it uses the unambiguous form.)
    /// </summary>
    private static void WriteUtcTime(WireWriter w, DateTimeOffset t)
    {
        w.I64(t.UtcTicks);
        w.I32((int)t.Offset.TotalMinutes);
    }

    private static DateTimeOffset ReadUtcTime(WireReader r)
    {
        var utcTicks = r.I64();
        var offsetMinutes = r.I32();
        if (utcTicks < DateTimeOffset.MinValue.UtcTicks || utcTicks > DateTimeOffset.MaxValue.UtcTicks)
            throw new WireFormatException($"corrupt timestamp: {utcTicks} UTC ticks out of range");
        if (offsetMinutes is < -MaxOffsetMinutes or > MaxOffsetMinutes)
            throw new WireFormatException($"corrupt timestamp: offset {offsetMinutes} min out of range");
        var utc = new DateTimeOffset(utcTicks, TimeSpan.Zero);
        var offset = TimeSpan.FromMinutes(offsetMinutes);
        // Near MinValue/MaxValue the local clock time can fall outside the representable range.
        var local = utcTicks + offset.Ticks;
        if (local < DateTime.MinValue.Ticks || local > DateTime.MaxValue.Ticks)
            throw new WireFormatException($"corrupt timestamp: {utcTicks} UTC ticks at offset {offsetMinutes} min is out of range");
        return utc.ToOffset(offset);
    }

    private static IkeSuite Suite(string proposal, string what) =>
        IkeSuite.TryParse(proposal) ?? throw new WireFormatException($"corrupt {what} proposal '{proposal}': not a supported suite");

    private static byte[] Key(WireReader r, int expected, string what)
    {
        var key = r.Bytes();
        if (key.Length != expected)
            throw new WireFormatException($"corrupt {what}: {key.Length} bytes where the suite makes {expected}");
        return key;
    }

    /// <summary>§2.10: nonces are 16 to 256 bytes.</summary>
    private static byte[] Nonce(byte[] n, string what) =>
        n.Length is >= 16 and <= 256 ? n : throw new WireFormatException($"corrupt {what}: {n.Length} bytes");

    /// <summary>RFC 4303 §2.1: 0 means "none" and 1-255 are reserved, so no negotiated SA has them.</summary>
    private static uint EspSpi(uint spi, string what) =>
        spi >= 256 ? spi : throw new WireFormatException($"corrupt {what} ESP SPI {spi}");

    private static ushort Port(uint p) =>
        p <= ushort.MaxValue ? (ushort)p : throw new WireFormatException($"corrupt port {p}");

    private static string NonEmpty(string s, string what) =>
        s.Length > 0 ? s : throw new WireFormatException($"corrupt {what}: empty");

    private static int NonNegative(int v, string what) =>
        v >= 0 ? v : throw new WireFormatException($"corrupt {what} {v}");

    private static long NonNegative(long v, string what) =>
        v >= 0 ? v : throw new WireFormatException($"corrupt {what} {v}");
}
