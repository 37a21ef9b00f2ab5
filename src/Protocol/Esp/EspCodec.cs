using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace ClusterActors.Protocol.Esp;

/// <summary>Why an inbound ESP packet was not delivered. <see cref="None"/> only accompanies a delivered packet.</summary>
public enum EspDropReason
{
    None = 0,
    /// <summary>Shorter than SPI|Seq|IV|one cipher block|ICV: nothing to authenticate.</summary>
    Truncated,
    /// <summary>Long enough, but the ciphertext is not whole AES blocks, so it cannot be ESP from a correct peer.</summary>
    Malformed,
    /// <summary>The SPI names no SA here (the caller's lookup failed, or the packet was handed to the wrong SA).</summary>
    UnknownSpi,
    /// <summary>HMAC-SHA1-96 did not match: forged, corrupted or keyed with another SA's keys.</summary>
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
/// RFC 4303 ESP for AES-128-CBC (RFC 3602) with HMAC-SHA1-96 (RFC 2404): the only suite the seed negotiates
/// (`proposal aes128-sha1`). Stateless: replay protection and counters live in <see cref="EspInboundSa"/>.
/// </summary>
/// <remarks>
/// Wire layout: SPI(4) | Seq(4) | IV(16) | AES-CBC(payload | pad 1..n | pad length | next header) | ICV(12),
/// with ICV = HMAC-SHA1(authKey, SPI|Seq|IV|ciphertext)[0..12].
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

    /// <summary>Seals with a fresh random IV, which CBC needs to be unpredictable (RFC 3602 §2.4).</summary>
    public static byte[] Encrypt(EspSaKeys sa, uint seq, ReadOnlySpan<byte> innerIpPacket, byte nextHeader = NextHeaderIpv4)
    {
        Span<byte> iv = stackalloc byte[IvLength];
        RandomNumberGenerator.Fill(iv);
        return Encrypt(sa, seq, innerIpPacket, iv, nextHeader);
    }

    /// <summary>Seals with the given IV; only tests and known-answer vectors should choose it.</summary>
    public static byte[] Encrypt(EspSaKeys sa, uint seq, ReadOnlySpan<byte> innerIpPacket, ReadOnlySpan<byte> iv, byte nextHeader = NextHeaderIpv4)
    {
        ArgumentNullException.ThrowIfNull(sa);
        if (iv.Length != IvLength)
            throw new ArgumentException($"AES-CBC needs a {IvLength}-byte IV, got {iv.Length}.", nameof(iv));

        int padLength = PadLengthFor(innerIpPacket.Length);
        int plainLength = innerIpPacket.Length + padLength + 2;
        var packet = new byte[HeaderLength + IvLength + plainLength + IcvLength];

        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(0, 4), sa.Spi);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4, 4), seq);
        iv.CopyTo(packet.AsSpan(HeaderLength, IvLength));

        var plain = new byte[plainLength];
        innerIpPacket.CopyTo(plain);
        // RFC 4303 §2.4: the default padding is the monotonic series 1, 2, 3, … so the receiver can check it.
        for (int i = 0; i < padLength; i++)
            plain[innerIpPacket.Length + i] = (byte)(i + 1);
        plain[plainLength - 2] = (byte)padLength;
        plain[plainLength - 1] = nextHeader;

        using (var aes = Aes.Create())
        {
            aes.Key = sa.EncKey;
            aes.EncryptCbc(plain, iv, packet.AsSpan(HeaderLength + IvLength, plainLength), PaddingMode.None);
        }
        CryptographicOperations.ZeroMemory(plain);

        int authenticated = packet.Length - IcvLength;
        ComputeIcv(sa.AuthKey, packet.AsSpan(0, authenticated), packet.AsSpan(authenticated, IcvLength));
        return packet;
    }

    /// <summary>
    /// Authenticates then decrypts. Never throws on packet content: every malformed input is a drop with a reason.
    /// Does no replay check (that needs per-SA state): see <see cref="EspInboundSa"/>.
    /// </summary>
    public static bool TryDecrypt(EspSaKeys sa, ReadOnlySpan<byte> esp, [NotNullWhen(true)] out EspDecrypted? result, out EspDropReason reason)
    {
        ArgumentNullException.ThrowIfNull(sa);
        result = null;
        if (!TryReadHeader(esp, out uint spi, out uint seq))
        {
            reason = EspDropReason.Truncated;
            return false;
        }
        if (esp.Length < MinimumLength)
        {
            reason = EspDropReason.Truncated;
            return false;
        }
        int cipherLength = esp.Length - HeaderLength - IvLength - IcvLength;
        if (cipherLength % BlockSize != 0)
        {
            reason = EspDropReason.Malformed;
            return false;
        }
        if (spi != sa.Spi)
        {
            reason = EspDropReason.UnknownSpi;
            return false;
        }

        // Integrity first (RFC 4303 §3.4.4): never feed unauthenticated bytes to the CBC decryptor,
        // which would make padding checks a decryption oracle.
        int authenticated = esp.Length - IcvLength;
        Span<byte> expected = stackalloc byte[IcvLength];
        ComputeIcv(sa.AuthKey, esp[..authenticated], expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, esp[authenticated..]))
        {
            reason = EspDropReason.BadIcv;
            return false;
        }

        var plain = new byte[cipherLength];
        using (var aes = Aes.Create())
        {
            aes.Key = sa.EncKey;
            aes.DecryptCbc(esp.Slice(HeaderLength + IvLength, cipherLength), esp.Slice(HeaderLength, IvLength), plain, PaddingMode.None);
        }

        int padLength = plain[cipherLength - 2];
        byte nextHeader = plain[cipherLength - 1];
        int payloadLength = cipherLength - 2 - padLength;
        if (payloadLength < 0 || !PaddingIsMonotonic(plain.AsSpan(payloadLength, padLength)))
        {
            CryptographicOperations.ZeroMemory(plain);
            reason = EspDropReason.BadPadding;
            return false;
        }

        result = new EspDecrypted(spi, seq, nextHeader, plain.AsSpan(0, payloadLength).ToArray());
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

    /// <summary>Length on the wire of the ESP packet that carries an inner packet of this length.</summary>
    public static int SealedLength(int innerLength) =>
        HeaderLength + IvLength + innerLength + PadLengthFor(innerLength) + 2 + IcvLength;

    /// <summary>Smallest RFC 4303 padding that makes payload|pad|padlen|nh whole cipher blocks.</summary>
    internal static int PadLengthFor(int payloadLength) => (BlockSize - (payloadLength + 2) % BlockSize) % BlockSize;

    /// <summary>HMAC-SHA1-96 (RFC 2404): the first 12 bytes of HMAC-SHA1.</summary>
    internal static void ComputeIcv(ReadOnlySpan<byte> authKey, ReadOnlySpan<byte> data, Span<byte> icv)
    {
        Span<byte> full = stackalloc byte[HMACSHA1.HashSizeInBytes];
        HMACSHA1.HashData(authKey, data, full);
        full[..IcvLength].CopyTo(icv);
    }

    private static bool PaddingIsMonotonic(ReadOnlySpan<byte> padding)
    {
        for (int i = 0; i < padding.Length; i++)
            if (padding[i] != (byte)(i + 1))
                return false;
        return true;
    }
}
