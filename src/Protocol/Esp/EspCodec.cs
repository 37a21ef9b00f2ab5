using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using ClusterActors.Protocol.Ike;

namespace ClusterActors.Protocol.Esp;

/// <summary>Why an inbound ESP packet was not delivered. <see cref="None"/> only accompanies a delivered packet.</summary>
public enum EspDropReason
{
    None = 0,
    /// <summary>Shorter than SPI|Seq|IV|one cipher block|ICV: nothing to authenticate.</summary>
    Truncated,
    /// <summary>Long enough, but the ciphertext is not whole AES blocks (4-octet words for an AEAD), so it cannot be ESP from a correct peer.</summary>
    Malformed,
    /// <summary>The SPI names no SA here (the caller's lookup failed, or the packet was handed to the wrong SA).</summary>
    UnknownSpi,
    /// <summary>The ICV (truncated HMAC, or the AEAD tag) did not match: forged, corrupted or keyed with another SA's keys.</summary>
    BadIcv,
    /// <summary>Authentic, but the decrypted trailer is not RFC 4303 §2.4 padding (1, 2, 3, …) with a sane length.</summary>
    BadPadding,
    /// <summary>The sequence number is inside the replay window and was already delivered.</summary>
    Replayed,
    /// <summary>The sequence number is left of the replay window.</summary>
    TooOld,
    /// <summary>Sequence number 0, which no sender may use with ESN off (the counter starts at 1 and never wraps).</summary>
    ZeroSequence,
}

/// <summary>A decrypted, authenticated ESP payload: the inner packet, its protocol and the ESP sequence number it came with.</summary>
public sealed record EspDecrypted(uint Spi, uint Seq, byte NextHeader, byte[] Payload);

/// <summary>
/// RFC 4303 ESP (tunnel mode, ESN off) for every phase2 suite the emulator runs. Stateless: replay protection and
/// counters live in <see cref="EspInboundSa"/>.
/// </summary>
/// <remarks>
/// AES-CBC (RFC 3602) with HMAC (RFC 2404, RFC 4868): SPI(4) | Seq(4) | IV(16) | CBC(payload | pad 1..n | pad length |
/// next header) | ICV, ICV = HMAC(authKey, SPI|Seq|IV|ciphertext) truncated to 12 (SHA-1), 16, 24 or 32 octets.
/// AES-GCM-16 (RFC 4106) and ChaCha20-Poly1305 (RFC 7634): SPI | Seq | IV(8) | ciphertext | ICV(16), nonce = salt | IV,
/// associated data SPI | Seq, padding to a 4-octet boundary (RFC 4303 §2.4).
/// The constants describe the seed's aes128-sha1.
/// </remarks>
public static class EspCodec
{
    public const int HeaderLength = 8;
    public const int IvLength = 16;
    public const int BlockSize = 16;
    public const int IcvLength = 12;
    /// <summary>Header, IV, one cipher block (the trailer alone needs 2 bytes, so at least one block) and the ICV.</summary>
    public const int MinimumLength = HeaderLength + IvLength + BlockSize + IcvLength;

    /// <summary>IP protocol number 4: the next header of an inner IPv4 packet in tunnel mode (the seed's interface-mode tunnels).</summary>
    public const byte NextHeaderIpv4 = 4;

    /// <summary>The plaintext alignment: the cipher block for CBC, RFC 4303's 4 octets for the AEADs.</summary>
    public static int AlignmentOf(IkeSuite suite) => suite.IsAead ? 4 : suite.CipherBlock;

    /// <summary>Header, IV, the smallest aligned trailer and the ICV: nothing shorter can be authentic.</summary>
    public static int MinimumLengthFor(IkeSuite suite) => HeaderLength + suite.IvLength + AlignmentOf(suite) + suite.IcvLength;

    /// <summary>
    /// Seals with a fresh random IV. CBC needs it unpredictable (RFC 3602 §2.4); GCM and ChaCha20 need it never
    /// repeated under one key, and a random 8-octet IV keeps that even when two cluster members hold the same SA and
    /// (in a split brain) send the same sequence numbers, which a sequence-number IV would not (README).
    /// </summary>
    public static byte[] Encrypt(EspSaKeys sa, uint seq, ReadOnlySpan<byte> innerIpPacket, byte nextHeader = NextHeaderIpv4, EspCipher? cipher = null)
    {
        ArgumentNullException.ThrowIfNull(sa);
        Span<byte> iv = stackalloc byte[sa.Suite.IvLength];
        RandomNumberGenerator.Fill(iv);
        return Encrypt(sa, seq, innerIpPacket, iv, nextHeader, cipher);
    }

    /// <summary>Seals with the given IV; only tests and known-answer vectors should choose it.</summary>
    /// <remarks><paramref name="cipher"/>: the SA's keyed cipher (<see cref="EspCipher.For"/>), made for <paramref name="sa"/>'s
    /// keys; null keys a cipher for this packet alone.</remarks>
    public static byte[] Encrypt(EspSaKeys sa, uint seq, ReadOnlySpan<byte> innerIpPacket, ReadOnlySpan<byte> iv, byte nextHeader = NextHeaderIpv4,
        EspCipher? cipher = null)
    {
        ArgumentNullException.ThrowIfNull(sa);
        var suite = sa.Suite;
        int ivLength = suite.IvLength, icvLength = suite.IcvLength;
        if (iv.Length != ivLength)
            throw new ArgumentException($"{suite.Name} needs a {ivLength}-byte IV, got {iv.Length}.", nameof(iv));

        int padLength = PadLengthFor(innerIpPacket.Length, AlignmentOf(suite));
        int plainLength = innerIpPacket.Length + padLength + 2;
        var packet = new byte[HeaderLength + ivLength + plainLength + icvLength];

        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(0, 4), sa.Spi);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4, 4), seq);
        iv.CopyTo(packet.AsSpan(HeaderLength, ivLength));
        int authenticated = packet.Length - icvLength;

        if (cipher is not null)
        {
            // The SA's cipher encrypts in place: the plaintext is laid out where its ciphertext goes, so the packet is the
            // only allocation (the plaintext never sits in a buffer of its own that would need zeroing).
            var body = packet.AsSpan(HeaderLength + ivLength, plainLength);
            Plaintext(innerIpPacket, padLength, nextHeader, body);
            if (suite.IsAead)
            {
                cipher.Seal(iv, body, packet.AsSpan(0, HeaderLength), packet.AsSpan(HeaderLength + ivLength, plainLength + icvLength));
                return packet;
            }
            cipher.EncryptCbc(body, iv, body);
            Span<byte> mac = stackalloc byte[64];
            cipher.Mac(packet.AsSpan(0, authenticated), mac);
            mac[..icvLength].CopyTo(packet.AsSpan(authenticated, icvLength));
            return packet;
        }

        var plain = new byte[plainLength];
        Plaintext(innerIpPacket, padLength, nextHeader, plain);
        if (suite.IsAead)
        {
            // RFC 4106 §5: the associated data is SPI | Seq (32-bit sequence numbers).
            suite.Seal(sa.EncKey, iv, plain, packet.AsSpan(0, HeaderLength), packet.AsSpan(HeaderLength + ivLength, plainLength + icvLength));
            CryptographicOperations.ZeroMemory(plain);
            return packet;
        }
        using (var aes = Aes.Create())
        {
            aes.Key = sa.EncKey;
            aes.EncryptCbc(plain, iv, packet.AsSpan(HeaderLength + ivLength, plainLength), PaddingMode.None);
        }
        CryptographicOperations.ZeroMemory(plain);

        suite.Icv(sa.AuthKey, packet.AsSpan(0, authenticated)).CopyTo(packet.AsSpan(authenticated, icvLength));
        return packet;
    }

    /// <summary>The inner packet, then RFC 4303 §2.4's default padding (the monotonic series 1, 2, 3, …, so the receiver
    /// can check it), the pad length and the next header.</summary>
    private static void Plaintext(ReadOnlySpan<byte> inner, int padLength, byte nextHeader, Span<byte> plain)
    {
        inner.CopyTo(plain);
        for (int i = 0; i < padLength; i++)
            plain[inner.Length + i] = (byte)(i + 1);
        plain[^2] = (byte)padLength;
        plain[^1] = nextHeader;
    }

    /// <summary>
    /// Authenticates then decrypts. Never throws on packet content: every malformed input is a drop with a reason.
    /// Does no replay check (that needs per-SA state): see <see cref="EspInboundSa"/>.
    /// </summary>
    /// <remarks><paramref name="cipher"/>: as for <see cref="Encrypt(EspSaKeys, uint, ReadOnlySpan{byte}, ReadOnlySpan{byte}, byte, EspCipher?)"/>.</remarks>
    public static bool TryDecrypt(EspSaKeys sa, ReadOnlySpan<byte> esp, [NotNullWhen(true)] out EspDecrypted? result, out EspDropReason reason,
        EspCipher? cipher = null)
    {
        ArgumentNullException.ThrowIfNull(sa);
        result = null;
        var suite = sa.Suite;
        int ivLength = suite.IvLength, icvLength = suite.IcvLength;
        if (!TryReadHeader(esp, out uint spi, out uint seq) || esp.Length < MinimumLengthFor(suite))
        {
            reason = EspDropReason.Truncated;
            return false;
        }
        int cipherLength = esp.Length - HeaderLength - ivLength - icvLength;
        if (cipherLength % AlignmentOf(suite) != 0)
        {
            reason = EspDropReason.Malformed;
            return false;
        }
        if (spi != sa.Spi)
        {
            reason = EspDropReason.UnknownSpi;
            return false;
        }

        // With the SA's cipher, its scratch buffer: the payload copied out of it is the packet's only allocation.
        Span<byte> plain = cipher is not null ? cipher.Scratch(cipherLength) : new byte[cipherLength];
        if (suite.IsAead)
        {
            // The AEAD checks the tag before it releases any plaintext.
            var iv = esp.Slice(HeaderLength, ivLength);
            var sealedPart = esp[(HeaderLength + ivLength)..];
            if (cipher is not null ? !cipher.TryOpen(iv, sealedPart, esp[..HeaderLength], plain)
                : !suite.TryOpen(sa.EncKey, iv, sealedPart, esp[..HeaderLength], plain))
            {
                reason = EspDropReason.BadIcv;
                return false;
            }
        }
        else
        {
            // Integrity first (RFC 4303 §3.4.4): never feed unauthenticated bytes to the CBC decryptor,
            // which would make padding checks a decryption oracle.
            int authenticated = esp.Length - icvLength;
            Span<byte> mac = stackalloc byte[64];
            ReadOnlySpan<byte> expected = cipher is not null ? mac[..cipher.Mac(esp[..authenticated], mac)][..icvLength] : suite.Icv(sa.AuthKey, esp[..authenticated]);
            if (!CryptographicOperations.FixedTimeEquals(expected, esp[authenticated..]))
            {
                reason = EspDropReason.BadIcv;
                return false;
            }
            if (cipher is not null)
                cipher.DecryptCbc(esp.Slice(HeaderLength + ivLength, cipherLength), esp.Slice(HeaderLength, ivLength), plain);
            else
            {
                using var aes = Aes.Create();
                aes.Key = sa.EncKey;
                aes.DecryptCbc(esp.Slice(HeaderLength + ivLength, cipherLength), esp.Slice(HeaderLength, ivLength), plain, PaddingMode.None);
            }
        }

        int padLength = plain[cipherLength - 2];
        byte nextHeader = plain[cipherLength - 1];
        int payloadLength = cipherLength - 2 - padLength;
        if (payloadLength < 0 || !PaddingIsMonotonic(plain.Slice(payloadLength, padLength)))
        {
            CryptographicOperations.ZeroMemory(plain);
            reason = EspDropReason.BadPadding;
            return false;
        }

        result = new EspDecrypted(spi, seq, nextHeader, plain[..payloadLength].ToArray());
        CryptographicOperations.ZeroMemory(plain);
        reason = EspDropReason.None;
        return true;
    }

    /// <summary>Reads SPI and sequence number without authenticating anything: for SA lookup and the early replay check.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> esp, out uint spi, out uint seq)
    {
        if (esp.Length < HeaderLength)
        {
            spi = 0;
            seq = 0;
            return false;
        }
        spi = BinaryPrimitives.ReadUInt32BigEndian(esp);
        seq = BinaryPrimitives.ReadUInt32BigEndian(esp[4..]);
        return true;
    }

    /// <summary>Length on the wire of the aes128-sha1 ESP packet that carries an inner packet of this length.</summary>
    public static int SealedLength(int innerLength) => SealedLength(IkeSuite.Aes128Sha1, innerLength);

    /// <summary>Length on the wire of the ESP packet of <paramref name="suite"/> that carries an inner packet of this length.</summary>
    public static int SealedLength(IkeSuite suite, int innerLength) =>
        HeaderLength + suite.IvLength + innerLength + PadLengthFor(innerLength, AlignmentOf(suite)) + 2 + suite.IcvLength;

    /// <summary>Smallest RFC 4303 padding that makes payload|pad|padlen|nh whole cipher blocks.</summary>
    internal static int PadLengthFor(int payloadLength, int block = BlockSize) => (block - (payloadLength + 2) % block) % block;

    /// <summary>HMAC-SHA1-96 (RFC 2404): the first 12 bytes of HMAC-SHA1, the seed suite's ICV.</summary>
    internal static void ComputeIcv(ReadOnlySpan<byte> authKey, ReadOnlySpan<byte> data, Span<byte> icv) =>
        IkeSuite.Aes128Sha1.Icv(authKey, data).CopyTo(icv);

    private static bool PaddingIsMonotonic(ReadOnlySpan<byte> padding)
    {
        for (int i = 0; i < padding.Length; i++)
            if (padding[i] != (byte)(i + 1))
                return false;
        return true;
    }
}
