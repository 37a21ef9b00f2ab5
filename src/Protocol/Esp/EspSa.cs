using System.Diagnostics.CodeAnalysis;

namespace ClusterActors.Protocol.Esp;

/// <summary>Packet and byte counters of one SA direction, as `dec:pkts/bytes=` / `enc:pkts/bytes=`.</summary>
/// <param name="Bytes">Inner (plaintext) packet bytes: the seed's dec bytes are 84 per 84-byte echo.</param>
/// <param name="WireBytes">ESP bytes on the wire (header, IV, ciphertext, ICV), for whoever wants the outer size.</param>
public sealed record EspCounters(ulong Packets, ulong Bytes, ulong WireBytes)
{
    public static readonly EspCounters Zero = new(0, 0, 0);

}

/// <summary>The running counters behind <see cref="EspCounters"/>: added to per packet without an allocation, read into a
/// record only when someone asks (the tunnel list, the drills).</summary>
internal struct EspCounting
{
    private ulong _packets, _bytes, _wireBytes;

    public void Add(int innerBytes, int wireBytes)
    {
        _packets++;
        _bytes += (ulong)innerBytes;
        _wireBytes += (ulong)wireBytes;
    }

    public readonly EspCounters Read() => _packets == 0 ? EspCounters.Zero : new(_packets, _bytes, _wireBytes);
}

/// <summary>One sealed outbound packet and the sequence number it used.</summary>
public sealed record EspSealed(byte[] Bytes, uint Seq);

/// <summary>
/// The sending half of an SA on one unit: the running sequence number (`seqno=`, the NEXT one to use) and the enc counters.
/// Not thread-safe: one SA belongs to one actor.
/// </summary>
public sealed class EspOutboundSa
{
    /// <summary>First value past the 32-bit space: the SA may not send any more (ESN off) and must be rekeyed.</summary>
    public const ulong Exhausted = 1UL << 32;

    /// <summary>FortiOS standby copies print seqno = synced next + 0x10000000 (seed: owner 0x1, standbys 0x10000001).</summary>
    public const uint DefaultJump = 1u << 28;

    /// <param name="nextSeq">1 … 0xffffffff, or <see cref="Exhausted"/> for an SA that may not send any more (a takeover
    /// whose jump would not fit: the owner waits for the rekey).</param>
    public EspOutboundSa(EspSaKeys keys, ulong nextSeq = 1)
    {
        ArgumentNullException.ThrowIfNull(keys);
        // Seq 0 is never sent with ESN off (RFC 4303 §3.3.3: the first packet carries 1); receivers reject it.
        if (nextSeq == 0 || nextSeq > Exhausted)
            throw new ArgumentOutOfRangeException(nameof(nextSeq), "ESP sequence numbers run from 1 to 2^32 - 1 (2^32: exhausted).");
        Keys = keys;
        NextSeq = nextSeq;
        _cipher = EspCipher.For(keys);
    }

    /// <summary>The SA's keyed cipher and HMAC, made once (not thread-safe: the SA has one owner).</summary>
    private readonly EspCipher _cipher;

    public EspSaKeys Keys { get; }

    /// <summary>Next sequence number to send (`seqno=` in hex); <see cref="Exhausted"/> once 0xffffffff has been used.</summary>
    public ulong NextSeq { get; private set; }

    public bool IsExhausted => NextSeq >= Exhausted;

    private EspCounting _counters;

    public EspCounters Counters => _counters.Read();

    /// <summary>Encrypts with a random IV and consumes one sequence number.</summary>
    /// <exception cref="InvalidOperationException">The sequence space is used up: ESN is off, so the counter must not wrap (RFC 4303 §3.3.3).</exception>
    public EspSealed Seal(ReadOnlySpan<byte> innerPacket, byte nextHeader = EspCodec.NextHeaderIpv4)
    {
        uint seq = Take();
        return Record(EspCodec.Encrypt(Keys, seq, innerPacket, nextHeader, _cipher), seq, innerPacket.Length);
    }

    /// <summary>As <see cref="Seal(ReadOnlySpan{byte}, byte)"/> with a chosen IV: for reproducible tests only.</summary>
    public EspSealed Seal(ReadOnlySpan<byte> innerPacket, ReadOnlySpan<byte> iv, byte nextHeader = EspCodec.NextHeaderIpv4)
    {
        uint seq = Take();
        return Record(EspCodec.Encrypt(Keys, seq, innerPacket, iv, nextHeader, _cipher), seq, innerPacket.Length);
    }

    /// <summary>
    /// Skips the sequence forward, as a standby copy does so that after a takeover the peer's window only ever sees
    /// higher numbers than the old owner sent since the last sync. Saturates at <see cref="Exhausted"/> rather than
    /// wrapping: a wrapped counter would be dropped as too old by the peer, an exhausted one forces a rekey.
    /// </summary>
    /// <returns>The new <see cref="NextSeq"/>.</returns>
    public ulong JumpAhead(uint by = DefaultJump)
    {
        NextSeq = Math.Min(NextSeq + by, Exhausted);
        return NextSeq;
    }

    private uint Take()
    {
        if (IsExhausted)
            throw new InvalidOperationException("ESP sequence number space exhausted (ESN off): the SA must be rekeyed.");
        uint seq = (uint)NextSeq;
        NextSeq++;
        return seq;
    }

    private EspSealed Record(byte[] bytes, uint seq, int innerLength)
    {
        _counters.Add(innerLength, bytes.Length);
        return new EspSealed(bytes, seq);
    }
}

/// <summary>
/// The receiving half of an SA on one unit: keys, replay window (`replaywin=`, `replaywin_lastseq=`), dec counters and
/// per-reason drop counters. <see cref="TryOpen"/> never throws on packet content.
/// Not thread-safe: one SA belongs to one actor.
/// </summary>
public sealed class EspInboundSa
{
    private readonly ulong[] _drops = new ulong[Enum.GetValues<EspDropReason>().Length];

    public EspInboundSa(EspSaKeys keys, ReplayWindow? window = null)
    {
        ArgumentNullException.ThrowIfNull(keys);
        Keys = keys;
        Window = window ?? new ReplayWindow();
        _cipher = EspCipher.For(keys);
    }

    /// <summary>The SA's keyed cipher and HMAC, made once (not thread-safe: the SA has one owner).</summary>
    private readonly EspCipher _cipher;

    public EspSaKeys Keys { get; }

    public ReplayWindow Window { get; }

    private EspCounting _counters;

    /// <summary>Delivered packets only, as FortiOS counts `dec:pkts/bytes`.</summary>
    public EspCounters Counters => _counters.Read();

    public ulong DropCount(EspDropReason reason) =>
        reason == EspDropReason.None || (int)reason < 0 || (int)reason >= _drops.Length ? 0 : _drops[(int)reason];

    public ulong TotalDrops
    {
        get
        {
            ulong sum = 0;
            foreach (var d in _drops)
                sum += d;
            return sum;
        }
    }

    /// <summary>
    /// RFC 4303 §3.4 inbound processing: framing and SPI, then the replay pre-check (cheap, so floods of duplicates
    /// cost no HMAC), then ICV, decryption and padding, and only for a packet that passes everything the window update.
    /// </summary>
    /// <remarks>
    /// An authentic packet with bad padding does not move the window: the window records delivered packets only,
    /// so a retransmission from a fixed peer is not dropped as a replay.
    /// </remarks>
    public bool TryOpen(ReadOnlySpan<byte> esp, [NotNullWhen(true)] out EspDecrypted? result, out EspDropReason reason)
    {
        result = null;
        if (!EspCodec.TryReadHeader(esp, out uint spi, out uint seq) || esp.Length < EspCodec.MinimumLengthFor(Keys.Suite))
            return Drop(EspDropReason.Truncated, out reason);
        if (spi != Keys.Spi)
            return Drop(EspDropReason.UnknownSpi, out reason);

        var early = Window.Check(seq);
        if (early != ReplayCheck.Ok)
            return Drop(ToDropReason(early), out reason);

        if (!EspCodec.TryDecrypt(Keys, esp, out result, out var why, _cipher))
            return Drop(why, out reason);

        Window.Accept(seq);
        reason = EspDropReason.None;
        _counters.Add(result.Payload.Length, esp.Length);
        return true;
    }

    private bool Drop(EspDropReason why, out EspDropReason reason)
    {
        _drops[(int)why]++;
        reason = why;
        return false;
    }

    private static EspDropReason ToDropReason(ReplayCheck check) => check switch
    {
        ReplayCheck.Replayed => EspDropReason.Replayed,
        ReplayCheck.TooOld => EspDropReason.TooOld,
        ReplayCheck.Zero => EspDropReason.ZeroSequence,
        _ => throw new ArgumentOutOfRangeException(nameof(check), check, null),
    };
}
