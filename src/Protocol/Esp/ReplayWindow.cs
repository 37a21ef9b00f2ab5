using System.Numerics;

namespace ClusterActors.Protocol.Esp;

/// <summary>Verdict of <see cref="ReplayWindow.Check"/>.</summary>
public enum ReplayCheck
{
    /// <summary>New: ahead of the window (any distance) or inside it and not yet seen.</summary>
    Ok,
    /// <summary>Inside the window and already accepted.</summary>
    Replayed,
    /// <summary>Left of the window: Highest - seq &gt;= Size.</summary>
    TooOld,
    /// <summary>Sequence number 0, never valid with ESN off.</summary>
    Zero,
}

/// <summary>
/// Serializable state of a <see cref="ReplayWindow"/>, for syncing it to another unit.
/// Bitmap bit i (byte i / 8, bit i % 8, least significant first) set = seq <c>Highest - i</c> was accepted,
/// so the format does not depend on how the window stores bits internally; its length is Size / 8.
/// </summary>
public sealed record ReplayWindowState(uint Highest, byte[] Bitmap)
{
    public bool Equals(ReplayWindowState? other) =>
        other is not null && Highest == other.Highest && Bitmap.AsSpan().SequenceEqual(other.Bitmap);

    public override int GetHashCode() => HashCode.Combine(Highest, Bitmap.Length);
}

/// <summary>
/// RFC 4303 §3.4.3 / Appendix A2 anti-replay window over 32-bit sequence numbers (ESN off, as the seed's `esn=0`).
/// Size defaults to the seed's `replaywin=2048`.
/// </summary>
/// <remarks>
/// Bits live in a ring indexed by seq mod Size (RFC 6479 style), so sliding forward clears words instead of
/// shifting 2048 bits per packet. Forward jumps of any size are accepted: a unit taking over a tunnel sees the
/// client's sequence continue from wherever it is (0x1b0 in the seed) with an empty window, and a synced
/// standby copy may lag far behind. Not thread-safe: one SA belongs to one actor.
/// </remarks>
public sealed class ReplayWindow
{
    public const int DefaultSize = 2048;
    public const int MaxSize = 1 << 16;

    private readonly ulong[] _ring;

    public ReplayWindow(int size = DefaultSize)
    {
        // Multiples of 64 so the ring is whole words; RFC 4303 asks for at least 32, recommends 64.
        if (size < 64 || size > MaxSize || size % 64 != 0)
            throw new ArgumentOutOfRangeException(nameof(size), size, $"Window size must be a multiple of 64 in [64, {MaxSize}].");
        Size = size;
        _ring = new ulong[size / 64];
    }

    /// <summary>Restores a window from <see cref="Snapshot"/>; its size is Bitmap.Length * 8.</summary>
    public ReplayWindow(ReplayWindowState state)
        : this(SizeOf(state))
    {
        Highest = state.Highest;
        // Bits for seq <= 0 cannot be real (seq 0 is never accepted): ignore them instead of trusting the sender.
        long usable = Math.Min(Size, (long)Highest);
        for (int i = 0; i < usable; i++)
            if ((state.Bitmap[i >> 3] & (1 << (i & 7))) != 0)
                SetBit(Highest - (uint)i);
    }

    public int Size { get; }

    /// <summary>Highest accepted sequence number; 0 before the first one. This is `replaywin_lastseq`.</summary>
    public uint Highest { get; private set; }

    /// <summary>Verdict for seq without changing anything: call before the ICV check, <see cref="Accept"/> after it.</summary>
    public ReplayCheck Check(uint seq)
    {
        if (seq == 0)
            return ReplayCheck.Zero;
        if (seq > Highest)
            return ReplayCheck.Ok;
        if (Highest - seq >= (uint)Size)
            return ReplayCheck.TooOld;
        return GetBit(seq) ? ReplayCheck.Replayed : ReplayCheck.Ok;
    }

    /// <summary>
    /// Marks seq as seen, sliding the window when seq is ahead. Call only once the packet is authenticated
    /// (RFC 4303 §3.4.3), otherwise a forged high seq would move the window and drop genuine traffic.
    /// Returns the <see cref="Check"/> verdict; state changes only on <see cref="ReplayCheck.Ok"/>.
    /// </summary>
    public ReplayCheck Accept(uint seq)
    {
        var verdict = Check(seq);
        if (verdict != ReplayCheck.Ok)
            return verdict;
        if (seq > Highest)
        {
            ClearRange(Highest, seq);
            Highest = seq;
        }
        SetBit(seq);
        return ReplayCheck.Ok;
    }

    public ReplayWindowState Snapshot()
    {
        var bitmap = new byte[Size / 8];
        long usable = Math.Min(Size, (long)Highest);
        for (int i = 0; i < usable; i++)
            if (GetBit(Highest - (uint)i))
                bitmap[i >> 3] |= (byte)(1 << (i & 7));
        return new ReplayWindowState(Highest, bitmap);
    }

    /// <summary>Number of accepted sequence numbers still inside the window (diagnostics and tests).</summary>
    public int CountAccepted()
    {
        int n = 0;
        foreach (var word in _ring)
            n += BitOperations.PopCount(word);
        return n;
    }

    private static int SizeOf(ReplayWindowState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(state.Bitmap);
        return state.Bitmap.Length * 8;
    }

    // Clears the bits of (from, to]: slots the window is about to reuse for new sequence numbers.
    private void ClearRange(uint from, uint to)
    {
        if ((ulong)to - from >= (ulong)Size)
        {
            Array.Clear(_ring);
            return;
        }
        for (uint s = from + 1; s != to + 1; s++)
        {
            int slot = (int)(s % (uint)Size);
            // Whole-word fast path once aligned: in-order traffic crosses a word boundary every 64 packets.
            if ((slot & 63) == 0 && to - s >= 63)
            {
                _ring[slot >> 6] = 0;
                s += 63;
                continue;
            }
            _ring[slot >> 6] &= ~(1UL << (slot & 63));
        }
    }

    private bool GetBit(uint seq)
    {
        int slot = (int)(seq % (uint)Size);
        return (_ring[slot >> 6] & (1UL << (slot & 63))) != 0;
    }

    private void SetBit(uint seq)
    {
        int slot = (int)(seq % (uint)Size);
        _ring[slot >> 6] |= 1UL << (slot & 63);
    }
}
