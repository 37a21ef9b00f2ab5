namespace ClusterActors.Protocol.Ike;

// Numbers are the IANA "IKEv2 Parameters" registry values used by RFC 7296; names follow the RFC so a packet
// capture and the code read the same.

public enum ExchangeType : byte
{
    IkeSaInit = 34,
    IkeAuth = 35,
    CreateChildSa = 36,
    Informational = 37,
}

public enum PayloadType : byte
{
    None = 0,
    SA = 33,
    KE = 34,
    IDi = 35,
    IDr = 36,
    CERT = 37,
    CERTREQ = 38,
    AUTH = 39,
    Nonce = 40,
    Notify = 41,
    Delete = 42,
    VendorId = 43,
    TSi = 44,
    TSr = 45,
    SK = 46,
    CP = 47,
    EAP = 48,
}

/// <summary>Header flags (§3.1). Bits 0-2 are reserved and ignored on receipt.</summary>
[Flags]
public enum IkeFlags : byte
{
    None = 0,
    /// <summary>Set by the original initiator of the IKE SA on every message it sends.</summary>
    Initiator = 0x08,
    /// <summary>"V": higher major version supported; we never set it.</summary>
    Version = 0x10,
    Response = 0x20,
}

public enum ProtocolId : byte
{
    None = 0,
    Ike = 1,
    Ah = 2,
    Esp = 3,
}

public enum TransformType : byte
{
    Encr = 1,
    Prf = 2,
    Integ = 3,
    DhGroup = 4,
    Esn = 5,
}

public static class TransformIds
{
    public const ushort EncrAesCbc = 12;
    /// <summary>AES-GCM with a 16-octet ICV (RFC 4106 for ESP, RFC 5282 for IKE): FortiOS aes128gcm/aes256gcm, strongSwan aes128gcm16.</summary>
    public const ushort EncrAesGcm16 = 20;
    /// <summary>ChaCha20-Poly1305 (RFC 7634): no key length attribute, 256-bit key.</summary>
    public const ushort EncrChaCha20Poly1305 = 28;
    public const ushort PrfHmacSha1 = 2;
    public const ushort PrfHmacSha2_256 = 5;
    public const ushort PrfHmacSha2_384 = 6;
    public const ushort PrfHmacSha2_512 = 7;
    /// <summary>INTEG NONE: what an AEAD proposal may carry instead of omitting the integrity transform (RFC 5282 §8).</summary>
    public const ushort AuthNone = 0;
    public const ushort AuthHmacSha1_96 = 2;
    public const ushort AuthHmacSha2_256_128 = 12;
    public const ushort AuthHmacSha2_384_192 = 13;
    public const ushort AuthHmacSha2_512_256 = 14;
    public const ushort EsnNone = 0;
    public const ushort EsnEnabled = 1;
    /// <summary>Transform attribute type 14 (Key Length, TV format), mandatory for AES.</summary>
    public const ushort AttrKeyLength = 14;
}

public enum IdType : byte
{
    Ipv4Addr = 1,
    Fqdn = 2,
    Rfc822Addr = 3,
    Ipv6Addr = 5,
    DerAsn1Dn = 9,
    DerAsn1Gn = 10,
    KeyId = 11,
}

public enum AuthMethod : byte
{
    RsaSignature = 1,
    SharedKeyMic = 2,
    DssSignature = 3,
}

public enum NotifyType : ushort
{
    UnsupportedCriticalPayload = 1,
    InvalidIkeSpi = 4,
    InvalidMajorVersion = 5,
    InvalidSyntax = 7,
    InvalidMessageId = 9,
    InvalidSpi = 11,
    NoProposalChosen = 14,
    InvalidKePayload = 17,
    AuthenticationFailed = 24,
    SinglePairRequired = 34,
    NoAdditionalSas = 35,
    InternalAddressFailure = 36,
    FailedCpRequired = 37,
    TsUnacceptable = 38,
    InvalidSelectors = 39,
    TemporaryFailure = 43,
    ChildSaNotFound = 44,
    InitialContact = 16384,
    SetWindowSize = 16385,
    AdditionalTsPossible = 16386,
    IpcompSupported = 16387,
    NatDetectionSourceIp = 16388,
    NatDetectionDestinationIp = 16389,
    Cookie = 16390,
    UseTransportMode = 16391,
    RekeySa = 16393,
    EspTfcPaddingNotSupported = 16394,
    NonFirstFragmentsAlso = 16395,
}

public static class NotifyTypeExtensions
{
    /// <summary>§3.10.1: types below 16384 report errors; the rest are status.</summary>
    public static bool IsError(this NotifyType t) => (ushort)t < 16384;
}

public enum TsType : byte
{
    Ipv4AddrRange = 7,
    Ipv6AddrRange = 8,
}
