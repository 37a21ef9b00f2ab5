using System.Net;
using System.Numerics;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Actors.Forwarding;

/// <summary>
/// Where the forwarding plane finds a dialup instance, per packet and without a scan (issue 13, goal 3): ESP by its
/// inbound SPI, and traffic routed into a tunnel by the remote selector that holds its destination. Kept in step with
/// <see cref="TunnelPathChanged"/> (new tunnel, rekey: new SPI, role change) and <see cref="TunnelPathRemoved"/>.
/// Pure and single-threaded: the forwarding actor owns one.
/// </summary>
/// <remarks>
/// <para>Selectors. Every remote selector range is cut into CIDR blocks (a /24 is one block; an arbitrary range at most
/// 62) and each block is a key of the dictionary of its prefix length. A lookup masks the destination once per prefix
/// length in use (the dialup clients of one hub use one or two: /24, /32) and takes a dictionary hit: the cost grows with
/// the number of distinct prefix lengths (at most 33), never with the number of tunnels.</para>
/// <para>Overlapping selectors (two clients claiming one subnet, a 0.0.0.0/0 client). FortiOS installs a route per
/// dialup client's subnet (add-route) and the routing table picks the longest prefix; how it breaks a tie between two
/// equal routes of two instances is not documented. Our choice: the narrowest range holding the destination wins, and
/// between equally narrow ranges the instance whose key sorts first (ordinal). That is independent of the order in
/// which the records reached the unit, so every unit sends a given destination into the same instance. The scan it
/// replaced took whichever tunnel the dictionary enumerated first, which depended on the order of additions and
/// removals. Without overlap (the scenario, a hub of distinct clients) both give the same answer.</para>
/// <para>SPIs. Each unit picks the inbound SPIs of the tunnels it negotiates, so two tunnels synced from two units can
/// carry one inbound SPI (32 bits: at 100,000 tunnels a collision is likely). Both stay indexed; ESP to a shared SPI
/// goes to the instance whose remote gateway sent it, else to the one whose key sorts first. The dictionary this
/// replaced kept only the last one and, when either was removed, forgot the SPI for both.</para>
/// </remarks>
public sealed class TunnelPaths
{
    /// <summary>A CIDR block of one selector of one path; the range it came from decides between overlapping blocks.</summary>
    private readonly record struct Block(TunnelPathChanged Path, ulong RangeWidth);

    private readonly Dictionary<string, TunnelPathChanged> _byKey = new(StringComparer.Ordinal);
    /// <summary>One path per SPI almost always: an array of one, more only on a collision (sorted by key).</summary>
    private readonly Dictionary<uint, TunnelPathChanged[]> _bySpi = new();
    /// <summary>Index = prefix length; value: block network address → the blocks there, best first.</summary>
    private readonly Dictionary<uint, Block[]>?[] _byPrefix = new Dictionary<uint, Block[]>?[33];
    /// <summary>Blocks per prefix length, to know which lengths a lookup must try.</summary>
    private readonly int[] _blocksAt = new int[33];
    /// <summary>The prefix lengths in use, longest first (rebuilt when a length comes into or goes out of use).</summary>
    private int[] _lengths = [];

    public int Count => _byKey.Count;

    public IEnumerable<TunnelPathChanged> All => _byKey.Values;

    /// <summary>Adds the instance's path, or replaces it (a rekey changes its SPI, a new record may change its selectors).</summary>
    public void Set(TunnelPathChanged path)
    {
        Remove(path.Key);
        _byKey[path.Key] = path;
        _bySpi[path.InboundSpi] = _bySpi.TryGetValue(path.InboundSpi, out var shared) ? Sorted([.. shared, path]) : [path];
        foreach (var (start, end) in path.Remote)
        {
            if (start > end) continue; // an empty selector holds no address
            var width = (ulong)end - start + 1;
            foreach (var (network, length) in Cidr(start, end)) AddBlock(network, length, new Block(path, width));
        }
    }

    public bool Remove(string key)
    {
        if (!_byKey.Remove(key, out var old)) return false;
        if (_bySpi.TryGetValue(old.InboundSpi, out var shared))
        {
            var left = Array.FindAll(shared, p => p.Key != key);
            if (left.Length == 0) _bySpi.Remove(old.InboundSpi);
            else _bySpi[old.InboundSpi] = left;
        }
        foreach (var (start, end) in old.Remote)
        {
            if (start > end) continue;
            foreach (var (network, length) in Cidr(start, end)) RemoveBlock(network, length, key);
        }
        return true;
    }

    public bool TryGetByKey(string key, out TunnelPathChanged path) => _byKey.TryGetValue(key, out path!);

    /// <summary>The instance ESP to <paramref name="spi"/> from <paramref name="from"/> goes to (remarks: a shared SPI).</summary>
    public TunnelPathChanged? BySpi(uint spi, IPAddress? from = null)
    {
        if (!_bySpi.TryGetValue(spi, out var paths)) return null;
        if (paths.Length == 1 || from is null) return paths[0];
        foreach (var p in paths)
            if (from.Equals(p.RemoteGateway)) return p;
        return paths[0];
    }

    /// <summary>The instance whose remote selectors hold <paramref name="destination"/> (remarks: overlaps), or null.</summary>
    public TunnelPathChanged? ByDestination(uint destination)
    {
        Block best = default;
        foreach (var length in _lengths)
        {
            if (!_byPrefix[length]!.TryGetValue(destination & Mask(length), out var blocks)) continue;
            var b = blocks[0];
            if (best.Path is null || Better(b, best)) best = b;
            // Longer prefixes come first: a block of this length is narrower than any range that only a shorter block
            // covers, except when a range was cut into blocks; so look on only while a wider range could still lose.
            if (best.RangeWidth <= 1UL << (32 - length)) break;
        }
        return best.Path;
    }

    private void AddBlock(uint network, int length, Block block)
    {
        var table = _byPrefix[length] ??= new Dictionary<uint, Block[]>();
        table[network] = table.TryGetValue(network, out var there) ? Inserted(there, block) : [block];
        if (_blocksAt[length]++ == 0) RebuildLengths();
    }

    private void RemoveBlock(uint network, int length, string key)
    {
        var table = _byPrefix[length];
        if (table is null || !table.TryGetValue(network, out var there)) return;
        var left = Array.FindAll(there, b => b.Path.Key != key);
        var removed = there.Length - left.Length;
        if (removed == 0) return;
        if (left.Length == 0) table.Remove(network);
        else table[network] = left;
        _blocksAt[length] -= removed;
        if (_blocksAt[length] == 0) RebuildLengths();
    }

    private void RebuildLengths()
    {
        var lengths = new List<int>();
        for (var l = 32; l >= 0; l--)
            if (_blocksAt[l] > 0) lengths.Add(l);
        _lengths = lengths.ToArray();
    }

    private static bool Better(Block a, Block b) =>
        a.RangeWidth != b.RangeWidth ? a.RangeWidth < b.RangeWidth : string.CompareOrdinal(a.Path.Key, b.Path.Key) < 0;

    /// <summary>
    /// The blocks with one more, in its place (binary search, one copy): every dialup client of a hub may hold the same
    /// selector (the benchmarks' clients all offer 10.10.1.0/24), and re-sorting the whole list at each new tunnel cost
    /// 7 % of the responder's CPU at 2,400 tunnels in ike-vs-strongswan (perf, 2026-12-07).
    /// </summary>
    private static Block[] Inserted(Block[] blocks, Block block)
    {
        int lo = 0, hi = blocks.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (Better(blocks[mid], block)) lo = mid + 1;
            else hi = mid;
        }
        var result = new Block[blocks.Length + 1];
        Array.Copy(blocks, 0, result, 0, lo);
        result[lo] = block;
        Array.Copy(blocks, lo, result, lo + 1, blocks.Length - lo);
        return result;
    }

    private static TunnelPathChanged[] Sorted(TunnelPathChanged[] paths)
    {
        Array.Sort(paths, (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return paths;
    }

    private static uint Mask(int length) => length == 0 ? 0 : uint.MaxValue << (32 - length);

    /// <summary>The CIDR blocks that exactly cover start..end (inclusive), largest aligned first.</summary>
    public static IEnumerable<(uint Network, int Length)> Cidr(uint start, uint end)
    {
        ulong at = start;
        while (at <= end)
        {
            // The largest block aligned at `at` that does not run past `end`.
            var alignment = at == 0 ? 32 : BitOperations.TrailingZeroCount((uint)at);
            var size = 1UL << alignment;
            while (at + size - 1 > end) size >>= 1;
            yield return ((uint)at, 32 - BitOperations.Log2(size));
            at += size;
        }
    }
}
