using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;

namespace ClusterActors.Protocol.Ike;

/// <summary>Encryption and integrity keys for one direction of an IKE SA's SK payloads.</summary>
public sealed record SkKeys(IkeSuite Suite, byte[] EncKey, byte[] IntegKey);

/// <summary>
/// RFC 7296 §3 wire format. Decoding is strict: any length that does not add up is an <see cref="IkeFormatException"/>,
/// because these bytes arrive from the network and nothing downstream should see a half-parsed payload.
/// </summary>
public static class IkeCodec
{
    private const int GenericHeader = 4;

    // ---------------- encoding ----------------

    public static byte[] Encode(IkeHeader header, IReadOnlyList<IkePayload> payloads)
    {
        var chain = EncodeChain(payloads, out var first);
        var msg = new byte[IkeHeader.Size + chain.Length];
        WriteHeader(msg, header with { NextPayload = first, Length = (uint)msg.Length });
        chain.CopyTo(msg, IkeHeader.Size);
        return msg;
    }

    /// <summary>
    /// Builds a message whose only payload is SK (§3.14). CBC suites: the inner payloads are encrypted with a random
    /// IV and the ICV covers everything from the IKE header up to the ICV itself. AEAD suites (RFC 5282 §5): an 8-octet
    /// random IV, and the associated data is the IKE header and the SK payload's generic header.
    /// </summary>
    public static byte[] EncodeProtected(IkeHeader header, IReadOnlyList<IkePayload> inner, SkKeys keys, IIkeRandom random)
    {
        var suite = keys.Suite;
        var plain = EncodeChain(inner, out var first);
        // Pad so plaintext | padding | pad-length fills whole cipher blocks (none needed by the AEADs' counter modes);
        // the RFC lets padding be anything.
        var block = suite.CipherBlock;
        var padLen = (block - (plain.Length + 1) % block) % block;
        var padded = new byte[plain.Length + padLen + 1];
        plain.CopyTo(padded, 0);
        padded[^1] = (byte)padLen;
        var ivLen = suite.IvLength;
        var iv = random.Bytes(ivLen);
        var icvLen = suite.IcvLength;
        var skLen = GenericHeader + ivLen + padded.Length + icvLen;
        var msg = new byte[IkeHeader.Size + skLen];
        WriteHeader(msg, header with { NextPayload = PayloadType.SK, Length = (uint)msg.Length });
        var o = IkeHeader.Size;
        msg[o] = (byte)first;
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(o + 2), (ushort)skLen);
        iv.CopyTo(msg, o + 4);
        var cipherAt = o + 4 + ivLen;
        if (suite.IsAead)
        {
            suite.Seal(keys.EncKey, iv, padded, msg.AsSpan(0, cipherAt - ivLen), msg.AsSpan(cipherAt, padded.Length + icvLen));
            return msg;
        }
        using (var aes = Aes.Create())
        {
            aes.Key = keys.EncKey;
            aes.EncryptCbc(padded, iv, msg.AsSpan(cipherAt, padded.Length), PaddingMode.None);
        }
        var icv = suite.Icv(keys.IntegKey, msg.AsSpan(0, msg.Length - icvLen));
        icv.CopyTo(msg, msg.Length - icvLen);
        return msg;
    }

    private static void WriteHeader(byte[] msg, IkeHeader h)
    {
        var s = msg.AsSpan();
        BinaryPrimitives.WriteUInt64BigEndian(s, h.SpiI);
        BinaryPrimitives.WriteUInt64BigEndian(s[8..], h.SpiR);
        s[16] = (byte)h.NextPayload;
        s[17] = h.Version;
        s[18] = (byte)h.Exchange;
        s[19] = (byte)h.Flags;
        BinaryPrimitives.WriteUInt32BigEndian(s[20..], h.MessageId);
        BinaryPrimitives.WriteUInt32BigEndian(s[24..], h.Length);
    }

    /// <summary>Payloads chained by next-payload fields; the last one says None.</summary>
    public static byte[] EncodeChain(IReadOnlyList<IkePayload> payloads, out PayloadType first)
    {
        first = payloads.Count == 0 ? PayloadType.None : payloads[0].Type;
        var w = new List<byte>();
        for (var i = 0; i < payloads.Count; i++)
        {
            var body = EncodeBody(payloads[i]);
            var next = i + 1 < payloads.Count ? payloads[i + 1].Type : PayloadType.None;
            if (payloads[i] is EncryptedPayload sk) next = sk.FirstInner;
            var len = GenericHeader + body.Length;
            if (len > ushort.MaxValue) throw new ArgumentException($"{payloads[i].Type} payload too long ({len} bytes)");
            w.Add((byte)next);
            w.Add(payloads[i].Critical ? (byte)0x80 : (byte)0);
            w.Add((byte)(len >> 8));
            w.Add((byte)len);
            w.AddRange(body);
        }
        return w.ToArray();
    }

    /// <summary>A payload's bytes after its generic header.</summary>
    public static byte[] EncodeBody(IkePayload p)
    {
        var w = new List<byte>();
        switch (p)
        {
            case SaPayload sa:
                for (var i = 0; i < sa.Proposals.Count; i++) EncodeProposal(w, sa.Proposals[i], i == sa.Proposals.Count - 1);
                break;
            case KePayload ke:
                U16(w, ke.DhGroup); U16(w, 0); w.AddRange(ke.Data);
                break;
            case NoncePayload n:
                w.AddRange(n.Data);
                break;
            case IdPayload id:
                w.AddRange(id.Body);
                break;
            case AuthPayload a:
                w.Add((byte)a.Method); w.Add(0); w.Add(0); w.Add(0); w.AddRange(a.Data);
                break;
            case NotifyPayload n:
                w.Add((byte)n.Protocol); w.Add((byte)n.Spi.Length); U16(w, (ushort)n.NotifyType); w.AddRange(n.Spi); w.AddRange(n.Data);
                break;
            case DeletePayload d:
                w.Add((byte)d.Protocol); w.Add(d.SpiSize); U16(w, (ushort)d.Spis.Count);
                foreach (var spi in d.Spis)
                {
                    if (spi.Length != d.SpiSize) throw new ArgumentException("Delete SPI size mismatch");
                    w.AddRange(spi);
                }
                break;
            case VendorIdPayload v:
                w.AddRange(v.Data);
                break;
            case TsPayload ts:
                w.Add((byte)ts.Selectors.Count); w.Add(0); w.Add(0); w.Add(0);
                foreach (var s in ts.Selectors) EncodeSelector(w, s);
                break;
            case EncryptedPayload sk:
                w.AddRange(sk.Body);
                break;
            case UnknownPayload u:
                w.AddRange(u.Body);
                break;
            default:
                throw new ArgumentException($"cannot encode {p.GetType().Name}");
        }
        return w.ToArray();
    }

    private static void EncodeProposal(List<byte> w, Proposal p, bool last)
    {
        var t = new List<byte>();
        for (var i = 0; i < p.Transforms.Count; i++)
        {
            var tr = p.Transforms[i];
            var attrs = new List<byte>();
            foreach (var a in tr.Attributes)
            {
                if (a.Tlv is { } tlv) { U16(attrs, (ushort)(a.AttrType & 0x7FFF)); U16(attrs, (ushort)tlv.Length); attrs.AddRange(tlv); }
                else { U16(attrs, (ushort)(0x8000 | a.AttrType)); U16(attrs, a.Value); }
            }
            t.Add(i == p.Transforms.Count - 1 ? (byte)0 : (byte)3);
            t.Add(0);
            U16(t, (ushort)(8 + attrs.Count));
            t.Add((byte)tr.Type);
            t.Add(0);
            U16(t, tr.Id);
            t.AddRange(attrs);
        }
        w.Add(last ? (byte)0 : (byte)2);
        w.Add(0);
        U16(w, (ushort)(8 + p.Spi.Length + t.Count));
        w.Add(p.Number);
        w.Add((byte)p.Protocol);
        w.Add((byte)p.Spi.Length);
        w.Add((byte)p.Transforms.Count);
        w.AddRange(p.Spi);
        w.AddRange(t);
    }

    private static void EncodeSelector(List<byte> w, TrafficSelector s)
    {
        var start = s.StartAddress.GetAddressBytes();
        var end = s.EndAddress.GetAddressBytes();
        if (start.Length != end.Length) throw new ArgumentException("selector mixes address families");
        w.Add(start.Length == 4 ? (byte)TsType.Ipv4AddrRange : (byte)TsType.Ipv6AddrRange);
        w.Add(s.IpProtocol);
        U16(w, (ushort)(8 + 2 * start.Length));
        U16(w, s.StartPort);
        U16(w, s.EndPort);
        w.AddRange(start);
        w.AddRange(end);
    }

    private static void U16(List<byte> w, ushort v) { w.Add((byte)(v >> 8)); w.Add((byte)v); }

    // ---------------- decoding ----------------

    public static IkeHeader DecodeHeader(ReadOnlySpan<byte> d)
    {
        if (d.Length < IkeHeader.Size) throw new IkeFormatException($"datagram of {d.Length} bytes is shorter than the IKE header");
        var h = new IkeHeader(
            BinaryPrimitives.ReadUInt64BigEndian(d),
            BinaryPrimitives.ReadUInt64BigEndian(d[8..]),
            (PayloadType)d[16],
            d[17],
            (ExchangeType)d[18],
            (IkeFlags)d[19],
            BinaryPrimitives.ReadUInt32BigEndian(d[20..]),
            BinaryPrimitives.ReadUInt32BigEndian(d[24..]));
        if (h.Version >> 4 != 2) throw new IkeFormatException($"major version {h.Version >> 4}, only IKEv2 is spoken");
        if (h.Length != d.Length) throw new IkeFormatException($"header length {h.Length} but datagram is {d.Length} bytes");
        return h;
    }

    /// <summary>Parses the header and the clear payload chain; an SK payload is returned still encrypted.</summary>
    public static IkeMessage Decode(byte[] datagram)
    {
        ArgumentNullException.ThrowIfNull(datagram);
        var h = DecodeHeader(datagram);
        var payloads = DecodeChain(datagram, IkeHeader.Size, datagram.Length, h.NextPayload, allowSk: true);
        return new IkeMessage(h, payloads);
    }

    /// <summary>
    /// Verifies the ICV and decrypts the SK payload of <paramref name="datagram"/> (§3.14, RFC 5282 §5). The ICV is
    /// checked first (for an AEAD, together with decryption) so nothing of a forged message is ever parsed.
    /// </summary>
    public static IReadOnlyList<IkePayload> DecryptPayloads(byte[] datagram, IkeMessage message, SkKeys keys)
    {
        var sk = message.Payloads.Count > 0 ? message.Payloads[^1] as EncryptedPayload : null;
        if (sk is null) throw new IkeFormatException("message has no SK payload");
        var suite = keys.Suite;
        var icvLen = suite.IcvLength;
        var ivLen = suite.IvLength;
        var block = suite.CipherBlock;
        var body = sk.Body;
        var cipherLen = body.Length - ivLen - icvLen;
        // At least the pad length octet, and whole blocks for CBC.
        if (cipherLen < Math.Max(block, 1) || cipherLen % block != 0)
            throw new IkeFormatException($"SK payload of {body.Length} bytes is not IV + whole blocks + ICV");
        byte[] plain;
        if (suite.IsAead)
        {
            // SK is the last payload, so its body ends the datagram: everything before its IV is the associated data.
            var ivAt = datagram.Length - body.Length;
            plain = new byte[cipherLen];
            if (!suite.TryOpen(keys.EncKey, body.AsSpan(0, ivLen), body.AsSpan(ivLen), datagram.AsSpan(0, ivAt), plain))
                throw new IkeIntegrityException("SK payload integrity check failed");
        }
        else
        {
            var expected = suite.Icv(keys.IntegKey, datagram.AsSpan(0, datagram.Length - icvLen));
            if (!CryptographicOperations.FixedTimeEquals(expected, datagram.AsSpan(datagram.Length - icvLen)))
                throw new IkeIntegrityException("SK payload integrity check failed");
            using var aes = Aes.Create();
            aes.Key = keys.EncKey;
            plain = aes.DecryptCbc(body.AsSpan(ivLen, cipherLen), body.AsSpan(0, ivLen), PaddingMode.None);
        }
        var padLen = plain[^1];
        if (padLen + 1 > plain.Length) throw new IkeFormatException($"pad length {padLen} exceeds the decrypted {plain.Length} bytes");
        return DecodeChain(plain, 0, plain.Length - padLen - 1, sk.FirstInner, allowSk: false);
    }

    private static List<IkePayload> DecodeChain(byte[] d, int pos, int end, PayloadType next, bool allowSk)
    {
        var list = new List<IkePayload>();
        while (next != PayloadType.None)
        {
            if (end - pos < GenericHeader) throw new IkeFormatException($"{next} payload header truncated at offset {pos}");
            var following = (PayloadType)d[pos];
            var critical = (d[pos + 1] & 0x80) != 0;
            var len = BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(pos + 2));
            if (len < GenericHeader || len > end - pos)
                throw new IkeFormatException($"{next} payload at offset {pos} claims {len} bytes, {end - pos} remain");
            var body = d.AsSpan(pos + GenericHeader, len - GenericHeader);
            pos += len;
            if (next == PayloadType.SK)
            {
                if (!allowSk) throw new IkeFormatException("SK payload nested inside SK");
                // §3.14: SK is last, and its next-payload field names the first payload inside it.
                if (pos != end) throw new IkeFormatException("SK payload is not the last payload");
                list.Add(new EncryptedPayload(following, body.ToArray()));
                return list;
            }
            list.Add(DecodeBody(next, body) with { Critical = critical });
            next = following;
        }
        if (pos != end) throw new IkeFormatException($"{end - pos} bytes after the last payload");
        return list;
    }

    /// <summary>Decodes one payload body (the bytes after its generic header).</summary>
    public static IkePayload DecodeBody(PayloadType type, ReadOnlySpan<byte> b)
    {
        switch (type)
        {
            case PayloadType.SA:
                return new SaPayload(DecodeProposals(b));
            case PayloadType.KE:
                Need(b, 4, type);
                return new KePayload(BinaryPrimitives.ReadUInt16BigEndian(b), b[4..].ToArray());
            case PayloadType.Nonce:
                return new NoncePayload(b.ToArray());
            case PayloadType.IDi:
            case PayloadType.IDr:
                Need(b, 4, type);
                return new IdPayload(type == PayloadType.IDr, (IdType)b[0], b[4..].ToArray());
            case PayloadType.AUTH:
                Need(b, 4, type);
                return new AuthPayload((AuthMethod)b[0], b[4..].ToArray());
            case PayloadType.Notify:
            {
                Need(b, 4, type);
                var spiSize = b[1];
                Need(b, 4 + spiSize, type);
                return new NotifyPayload((ProtocolId)b[0], b.Slice(4, spiSize).ToArray(), (NotifyType)BinaryPrimitives.ReadUInt16BigEndian(b[2..]), b[(4 + spiSize)..].ToArray());
            }
            case PayloadType.Delete:
            {
                Need(b, 4, type);
                var spiSize = b[1];
                var count = BinaryPrimitives.ReadUInt16BigEndian(b[2..]);
                if (b.Length != 4 + spiSize * count) throw new IkeFormatException($"Delete payload: {count} SPIs of {spiSize} bytes do not fill {b.Length - 4} bytes");
                var spis = new List<byte[]>();
                for (var i = 0; i < count; i++) spis.Add(b.Slice(4 + i * spiSize, spiSize).ToArray());
                return new DeletePayload((ProtocolId)b[0], spiSize, spis);
            }
            case PayloadType.VendorId:
                return new VendorIdPayload(b.ToArray());
            case PayloadType.TSi:
            case PayloadType.TSr:
                return new TsPayload(type == PayloadType.TSr, DecodeSelectors(b, type));
            default:
                return new UnknownPayload(type, b.ToArray());
        }
    }

    private static void Need(ReadOnlySpan<byte> b, int n, PayloadType t)
    {
        if (b.Length < n) throw new IkeFormatException($"{t} payload body of {b.Length} bytes, at least {n} needed");
    }

    private static List<Proposal> DecodeProposals(ReadOnlySpan<byte> b)
    {
        var list = new List<Proposal>();
        var pos = 0;
        var last = false;
        while (!last)
        {
            if (b.Length - pos < 8) throw new IkeFormatException("SA proposal truncated");
            var more = b[pos];
            if (more != 0 && more != 2) throw new IkeFormatException($"proposal last-substruc {more}, expected 0 or 2");
            last = more == 0;
            var len = BinaryPrimitives.ReadUInt16BigEndian(b[(pos + 2)..]);
            if (len < 8 || len > b.Length - pos) throw new IkeFormatException($"proposal length {len} does not fit");
            var p = b.Slice(pos, len);
            var spiSize = p[6];
            var count = p[7];
            if (8 + spiSize > len) throw new IkeFormatException("proposal SPI overruns the proposal");
            var transforms = DecodeTransforms(p[(8 + spiSize)..]);
            if (transforms.Count != count) throw new IkeFormatException($"proposal says {count} transforms, carries {transforms.Count}");
            list.Add(new Proposal(p[4], (ProtocolId)p[5], p.Slice(8, spiSize).ToArray(), transforms));
            pos += len;
        }
        if (pos != b.Length) throw new IkeFormatException("bytes after the last proposal");
        return list;
    }

    private static List<Transform> DecodeTransforms(ReadOnlySpan<byte> b)
    {
        var list = new List<Transform>();
        var pos = 0;
        while (pos < b.Length)
        {
            if (b.Length - pos < 8) throw new IkeFormatException("transform truncated");
            var more = b[pos];
            if (more != 0 && more != 3) throw new IkeFormatException($"transform last-substruc {more}, expected 0 or 3");
            var len = BinaryPrimitives.ReadUInt16BigEndian(b[(pos + 2)..]);
            if (len < 8 || len > b.Length - pos) throw new IkeFormatException($"transform length {len} does not fit");
            var t = b.Slice(pos, len);
            var attrs = new List<TransformAttribute>();
            var a = 8;
            while (a < len)
            {
                if (len - a < 4) throw new IkeFormatException("transform attribute truncated");
                var raw = BinaryPrimitives.ReadUInt16BigEndian(t[a..]);
                var v = BinaryPrimitives.ReadUInt16BigEndian(t[(a + 2)..]);
                if ((raw & 0x8000) != 0) { attrs.Add(new TransformAttribute((ushort)(raw & 0x7FFF), v)); a += 4; }
                else
                {
                    if (v > len - a - 4) throw new IkeFormatException("TLV attribute overruns the transform");
                    attrs.Add(new TransformAttribute(raw, 0, t.Slice(a + 4, v).ToArray()));
                    a += 4 + v;
                }
            }
            list.Add(new Transform((TransformType)t[4], BinaryPrimitives.ReadUInt16BigEndian(t[6..]), attrs));
            pos += len;
            if (more == 0 && pos != b.Length) throw new IkeFormatException("bytes after the last transform");
        }
        return list;
    }

    private static List<TrafficSelector> DecodeSelectors(ReadOnlySpan<byte> b, PayloadType t)
    {
        Need(b, 4, t);
        var count = b[0];
        var list = new List<TrafficSelector>();
        var pos = 4;
        for (var i = 0; i < count; i++)
        {
            if (b.Length - pos < 8) throw new IkeFormatException($"{t} selector {i} truncated");
            var type = (TsType)b[pos];
            var len = BinaryPrimitives.ReadUInt16BigEndian(b[(pos + 2)..]);
            var addrLen = type switch
            {
                TsType.Ipv4AddrRange => 4,
                TsType.Ipv6AddrRange => 16,
                _ => throw new IkeFormatException($"{t} selector type {(byte)type} is not an address range"),
            };
            if (len != 8 + 2 * addrLen || len > b.Length - pos) throw new IkeFormatException($"{t} selector length {len} wrong for {type}");
            var s = b.Slice(pos, len);
            list.Add(new TrafficSelector(s[1], BinaryPrimitives.ReadUInt16BigEndian(s[4..]), BinaryPrimitives.ReadUInt16BigEndian(s[6..]),
                new IPAddress(s.Slice(8, addrLen)), new IPAddress(s.Slice(8 + addrLen, addrLen))));
            pos += len;
        }
        if (pos != b.Length) throw new IkeFormatException($"{t}: bytes after {count} selectors");
        return list;
    }
}
