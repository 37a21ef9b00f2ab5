using System.Net;

namespace ClusterActors.Protocol.Ike;

/// <summary>IKE header (§3.1). <see cref="Length"/> is filled in by the encoder; on decode it is the wire value.</summary>
public sealed record IkeHeader(
    ulong SpiI,
    ulong SpiR,
    PayloadType NextPayload,
    byte Version,
    ExchangeType Exchange,
    IkeFlags Flags,
    uint MessageId,
    uint Length = 0)
{
    /// <summary>Major 2, minor 0.</summary>
    public const byte Ikev2 = 0x20;
    public const int Size = 28;

    public bool IsResponse => (Flags & IkeFlags.Response) != 0;
    public bool FromInitiator => (Flags & IkeFlags.Initiator) != 0;
}

/// <summary>A decoded datagram. A protected message carries a single trailing <see cref="EncryptedPayload"/>.</summary>
public sealed record IkeMessage(IkeHeader Header, IReadOnlyList<IkePayload> Payloads)
{
    public T? Find<T>() where T : IkePayload => Payloads.OfType<T>().FirstOrDefault();
    public IEnumerable<NotifyPayload> Notifies => Payloads.OfType<NotifyPayload>();
    public NotifyPayload? Notify(NotifyType t) => Notifies.FirstOrDefault(n => n.NotifyType == t);
}

public abstract record IkePayload
{
    public abstract PayloadType Type { get; }
    /// <summary>Critical bit of the generic payload header (§3.2); only meaningful for payloads we do not know.</summary>
    public bool Critical { get; init; }
}

/// <summary>A transform attribute (§3.3.5). TV form unless <see cref="Tlv"/> is set; IKEv2 defines no TLV attributes, we only keep them so a transform carrying one can be skipped.</summary>
public sealed record TransformAttribute(ushort AttrType, ushort Value, byte[]? Tlv = null);

public sealed record Transform(TransformType Type, ushort Id, IReadOnlyList<TransformAttribute> Attributes)
{
    public Transform(TransformType type, ushort id) : this(type, id, []) { }
    public ushort? KeyLength => Attributes.FirstOrDefault(a => a.AttrType == TransformIds.AttrKeyLength)?.Value;
}

/// <summary>Proposal substructure (§3.3.1). <see cref="Spi"/> is empty for IKE in IKE_SA_INIT, 4 bytes for ESP.</summary>
public sealed record Proposal(byte Number, ProtocolId Protocol, byte[] Spi, IReadOnlyList<Transform> Transforms);

public sealed record SaPayload(IReadOnlyList<Proposal> Proposals) : IkePayload
{
    public override PayloadType Type => PayloadType.SA;
}

public sealed record KePayload(ushort DhGroup, byte[] Data) : IkePayload
{
    public override PayloadType Type => PayloadType.KE;
}

public sealed record NoncePayload(byte[] Data) : IkePayload
{
    public override PayloadType Type => PayloadType.Nonce;
}

/// <summary>IDi or IDr (§3.5), told apart by <see cref="IsResponder"/>.</summary>
public sealed record IdPayload(bool IsResponder, IdType IdType, byte[] Data) : IkePayload
{
    public override PayloadType Type => IsResponder ? PayloadType.IDr : PayloadType.IDi;

    /// <summary>The bytes after the generic header: what AUTH's RestOfIDPayload (§2.15) covers.</summary>
    public byte[] Body => [(byte)IdType, 0, 0, 0, .. Data];

    /// <summary>Readable form for logs and peer-ID comparison results.</summary>
    public string Text => IdType switch
    {
        IdType.Ipv4Addr when Data.Length == 4 => new IPAddress(Data).ToString(),
        IdType.Ipv6Addr when Data.Length == 16 => new IPAddress(Data).ToString(),
        _ => System.Text.Encoding.UTF8.GetString(Data),
    };
}

public sealed record AuthPayload(AuthMethod Method, byte[] Data) : IkePayload
{
    public override PayloadType Type => PayloadType.AUTH;
}

public sealed record NotifyPayload(ProtocolId Protocol, byte[] Spi, NotifyType NotifyType, byte[] Data) : IkePayload
{
    public NotifyPayload(NotifyType type, byte[]? data = null) : this(ProtocolId.None, [], type, data ?? []) { }
    public override PayloadType Type => PayloadType.Notify;
}

public sealed record DeletePayload(ProtocolId Protocol, byte SpiSize, IReadOnlyList<byte[]> Spis) : IkePayload
{
    public override PayloadType Type => PayloadType.Delete;
}

public sealed record VendorIdPayload(byte[] Data) : IkePayload
{
    public override PayloadType Type => PayloadType.VendorId;
}

/// <summary>One TS_IPV4_ADDR_RANGE selector (§3.13.1). Protocol 0 and ports 0-65535 mean "any".</summary>
public sealed record TrafficSelector(byte IpProtocol, ushort StartPort, ushort EndPort, IPAddress StartAddress, IPAddress EndAddress)
{
    public static TrafficSelector Any { get; } = new(0, 0, 65535, IPAddress.Any, IPAddress.Broadcast);

    /// <summary>"10.10.1.0/24" style, the way FortiOS phase2 src-subnet/dst-subnet are written.</summary>
    public static TrafficSelector FromCidr(string cidr)
    {
        var parts = cidr.Split('/');
        var addr = Ipv4.ToUInt(IPAddress.Parse(parts[0]));
        var bits = parts.Length > 1 ? int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) : 32;
        var mask = bits == 0 ? 0u : uint.MaxValue << (32 - bits);
        return new(0, 0, 65535, Ipv4.FromUInt(addr & mask), Ipv4.FromUInt((addr & mask) | ~mask));
    }

    public override string ToString() => $"{IpProtocol}:{StartAddress}-{EndAddress}:{StartPort}-{EndPort}";
}

public sealed record TsPayload(bool IsResponder, IReadOnlyList<TrafficSelector> Selectors) : IkePayload
{
    public override PayloadType Type => IsResponder ? PayloadType.TSr : PayloadType.TSi;
}

/// <summary>
/// SK payload (§3.14) as it sits on the wire: IV | ciphertext | ICV, undecrypted. <see cref="FirstInner"/> is the
/// generic header's next-payload field, which for SK names the first payload inside the ciphertext.
/// </summary>
public sealed record EncryptedPayload(PayloadType FirstInner, byte[] Body) : IkePayload
{
    public override PayloadType Type => PayloadType.SK;
}

/// <summary>Anything we do not interpret (CERTREQ, CP, EAP...). Kept so a critical one can be refused (§2.5).</summary>
public sealed record UnknownPayload(PayloadType RawType, byte[] Body) : IkePayload
{
    public override PayloadType Type => RawType;
}

internal static class Ipv4
{
    public static uint ToUInt(IPAddress a)
    {
        var b = a.GetAddressBytes();
        if (b.Length != 4) throw new ArgumentException($"{a} is not IPv4");
        return (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    }

    public static IPAddress FromUInt(uint v) => new([(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v]);
}
