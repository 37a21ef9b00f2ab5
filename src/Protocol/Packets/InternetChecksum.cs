namespace ClusterActors.Protocol.Packets;

/// <summary>RFC 1071 Internet checksum: one's-complement of the one's-complement sum of 16-bit big-endian words.</summary>
public static class InternetChecksum
{
    /// <summary>Checksum to store in a header whose checksum field is zero while computing.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data) => (ushort)~Fold(Sum(data));

    /// <summary>True when data, checksum field included, sums to 0xFFFF, i.e. the stored checksum is right.</summary>
    public static bool Verify(ReadOnlySpan<byte> data) => Fold(Sum(data)) == 0xFFFF;

    /// <summary>
    /// The folded one's-complement sum (not yet complemented) of <paramref name="first"/> followed by
    /// <paramref name="second"/>, e.g. a pseudo-header and a UDP datagram; <paramref name="first"/> must be of even length.
    /// </summary>
    public static ushort FoldedSum(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        if (first.Length % 2 != 0) throw new ArgumentException("The first part must be of even length.", nameof(first));
        return Fold(Sum(first) + Sum(second));
    }

    private static ulong Sum(ReadOnlySpan<byte> data)
    {
        ulong sum = 0;
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
            sum += (ulong)((data[i] << 8) | data[i + 1]);
        // An odd trailing byte is padded with a zero byte on the right (RFC 1071 §4.1).
        if (i < data.Length)
            sum += (ulong)(data[i] << 8);
        return sum;
    }

    private static ushort Fold(ulong sum)
    {
        while (sum > 0xFFFF)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }
}
