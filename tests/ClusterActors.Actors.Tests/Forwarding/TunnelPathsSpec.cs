using System.Net;
using Akka.Actor;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Actors.Tests.Forwarding;

/// <summary>
/// The forwarding plane's tunnel lookups (inbound SPI, remote selector) on synthetic paths, no actor system: they
/// follow tunnels added, rekeyed, taken over and deleted, and agree with a scan of every path under the documented
/// rule (narrowest range, then key) on random selectors, overlapping ones included.
/// </summary>
public sealed class TunnelPathsSpec
{
    private static (uint, uint) Cidr(string cidr)
    {
        var parts = cidr.Split('/');
        var length = int.Parse(parts[1]);
        var network = Ipv4Address.Parse(parts[0]) & Ipv4Prefix.MaskOf(length);
        return (network, network | ~Ipv4Prefix.MaskOf(length));
    }

    private static TunnelPathChanged Path(string key, uint spi, string gateway, params (uint, uint)[] remote) =>
        new(key, "vpn1", spi, remote, ActorRefs.Nobody) { RemoteGateway = IPAddress.Parse(gateway) };

    private static uint A(string address) => Ipv4Address.Parse(address);

    [Fact]
    public void A_tunnel_is_found_by_its_SPI_and_its_subnet_until_it_is_deleted()
    {
        var paths = new TunnelPaths();
        paths.Set(Path("vpn1/1", 0x1001, "192.168.7.2", Cidr("10.10.1.0/24")));
        paths.Set(Path("vpn1/2", 0x2002, "192.168.7.3", Cidr("10.10.2.0/24")));

        Assert.Equal("vpn1/1", paths.BySpi(0x1001)?.Key);
        Assert.Equal("vpn1/2", paths.BySpi(0x2002)?.Key);
        Assert.Null(paths.BySpi(0x3003));
        Assert.Equal("vpn1/1", paths.ByDestination(A("10.10.1.2"))?.Key);
        Assert.Equal("vpn1/2", paths.ByDestination(A("10.10.2.255"))?.Key);
        Assert.Null(paths.ByDestination(A("10.10.3.1")));
        Assert.Null(paths.ByDestination(A("10.10.101.2")));

        Assert.True(paths.Remove("vpn1/1"));
        Assert.Null(paths.BySpi(0x1001));
        Assert.Null(paths.ByDestination(A("10.10.1.2")));
        Assert.Equal("vpn1/2", paths.ByDestination(A("10.10.2.1"))?.Key);
        Assert.False(paths.Remove("vpn1/1"));
        Assert.Equal(1, paths.Count);
    }

    [Fact]
    public void A_rekey_moves_the_tunnel_to_its_new_SPI_and_a_takeover_keeps_one_entry()
    {
        var paths = new TunnelPaths();
        paths.Set(Path("vpn1/1", 0x1001, "192.168.7.2", Cidr("10.10.1.0/24")));
        // CHILD SA rekey: the same instance, a new inbound SPI.
        paths.Set(Path("vpn1/1", 0x1b1b, "192.168.7.2", Cidr("10.10.1.0/24")));
        Assert.Null(paths.BySpi(0x1001));
        Assert.Equal("vpn1/1", paths.BySpi(0x1b1b)?.Key);
        Assert.Equal("vpn1/1", paths.ByDestination(A("10.10.1.7"))?.Key);
        // A takeover (another owner, a new generation) announces the same path again: still one tunnel, one SPI.
        paths.Set(Path("vpn1/1", 0x1b1b, "192.168.7.2", Cidr("10.10.1.0/24")));
        Assert.Equal(1, paths.Count);
        Assert.Equal("vpn1/1", paths.BySpi(0x1b1b)?.Key);
        // New selectors replace the old ones.
        paths.Set(Path("vpn1/1", 0x1b1b, "192.168.7.2", Cidr("10.20.0.0/16")));
        Assert.Null(paths.ByDestination(A("10.10.1.7")));
        Assert.Equal("vpn1/1", paths.ByDestination(A("10.20.99.1"))?.Key);
    }

    [Fact]
    public void Two_tunnels_synced_from_two_units_may_share_an_inbound_SPI_and_deleting_one_keeps_the_other()
    {
        var paths = new TunnelPaths();
        paths.Set(Path("vpn1/b", 0xabcd, "192.168.7.3", Cidr("10.10.2.0/24")));
        paths.Set(Path("vpn1/a", 0xabcd, "192.168.7.2", Cidr("10.10.1.0/24")));

        Assert.Equal("vpn1/a", paths.BySpi(0xabcd, IPAddress.Parse("192.168.7.2"))?.Key);
        Assert.Equal("vpn1/b", paths.BySpi(0xabcd, IPAddress.Parse("192.168.7.3"))?.Key);
        // From an address neither has (a NAT rebinding): the first by key, whichever arrived last.
        Assert.Equal("vpn1/a", paths.BySpi(0xabcd, IPAddress.Parse("198.51.100.9"))?.Key);

        paths.Remove("vpn1/a");
        Assert.Equal("vpn1/b", paths.BySpi(0xabcd, IPAddress.Parse("192.168.7.2"))?.Key);
        Assert.Equal("vpn1/b", paths.BySpi(0xabcd)?.Key);
    }

    [Fact]
    public void Overlapping_selectors_go_to_the_narrowest_range_then_the_first_key_whatever_the_order_they_arrived_in()
    {
        foreach (var order in new[] { new[] { 0, 1, 2, 3 }, [3, 2, 1, 0], [2, 0, 3, 1] })
        {
            TunnelPathChanged[] all =
            [
                Path("vpn1/any", 1, "192.168.7.9", (0u, uint.MaxValue)),
                Path("vpn1/wide", 2, "192.168.7.8", Cidr("10.10.0.0/16")),
                Path("vpn1/z", 3, "192.168.7.3", Cidr("10.10.1.0/24")),
                Path("vpn1/y", 4, "192.168.7.2", Cidr("10.10.1.0/24")),
            ];
            var paths = new TunnelPaths();
            foreach (var i in order) paths.Set(all[i]);
            Assert.Equal("vpn1/y", paths.ByDestination(A("10.10.1.2"))?.Key);
            Assert.Equal("vpn1/wide", paths.ByDestination(A("10.10.9.2"))?.Key);
            Assert.Equal("vpn1/any", paths.ByDestination(A("8.8.8.8"))?.Key);
            paths.Remove("vpn1/y");
            Assert.Equal("vpn1/z", paths.ByDestination(A("10.10.1.2"))?.Key);
        }
    }

    [Theory]
    [InlineData("10.0.0.1", "10.0.0.254")]
    [InlineData("0.0.0.0", "255.255.255.255")]
    [InlineData("10.10.1.7", "10.10.1.7")]
    [InlineData("255.255.255.0", "255.255.255.255")]
    [InlineData("0.0.0.0", "0.0.0.0")]
    [InlineData("1.2.3.5", "9.8.7.3")]
    public void A_range_is_cut_into_CIDR_blocks_that_cover_it_exactly(string from, string to)
    {
        uint start = A(from), end = A(to);
        ulong next = start, covered = 0;
        foreach (var (network, length) in TunnelPaths.Cidr(start, end))
        {
            Assert.Equal(next, network); // contiguous, in order, no overlap
            var size = 1UL << (32 - length);
            Assert.Equal(0UL, network % size); // aligned: a real prefix
            next += size;
            covered += size;
        }
        Assert.Equal((ulong)end - start + 1, covered);
    }

    /// <summary>
    /// Random adds, rekeys, selector changes and deletes of up to 40 tunnels with ranges of every shape (prefixes,
    /// arbitrary ranges, overlaps, shared SPIs), each lookup compared with a scan of every path under the same rule.
    /// </summary>
    [Fact]
    public void Lookups_agree_with_a_scan_of_every_path_through_random_adds_rekeys_and_deletes()
    {
        var random = new Random(13);
        var paths = new TunnelPaths();
        var live = new Dictionary<string, TunnelPathChanged>();
        // A small address space (10.0.0.0/20) so random ranges overlap and lookups hit.
        const uint Base = 0x0A000000;
        (uint, uint) RandomRange()
        {
            if (random.Next(3) == 0)
            {
                var length = random.Next(20, 33);
                var network = (Base + (uint)random.Next(0, 4096)) & Ipv4Prefix.MaskOf(length);
                return (network, network | ~Ipv4Prefix.MaskOf(length));
            }
            var a = Base + (uint)random.Next(0, 4096);
            var b = Base + (uint)random.Next(0, 4096);
            return (Math.Min(a, b), Math.Max(a, b));
        }
        TunnelPathChanged? Scan(uint destination) => live.Values
            .SelectMany(p => p.Remote.Where(r => r.Item1 <= destination && destination <= r.Item2).Select(r => (Path: p, Width: (ulong)r.Item2 - r.Item1 + 1)))
            .OrderBy(c => c.Width).ThenBy(c => c.Path.Key, StringComparer.Ordinal).Select(c => c.Path).FirstOrDefault();

        for (var step = 0; step < 3000; step++)
        {
            var key = $"vpn1/{random.Next(40):d2}";
            if (random.Next(4) == 0)
            {
                paths.Remove(key);
                live.Remove(key);
            }
            else
            {
                var selectors = Enumerable.Range(0, random.Next(0, 3)).Select(_ => RandomRange()).ToArray();
                // SPIs from a small set, so some tunnels share one.
                var path = Path(key, (uint)random.Next(1, 60), $"192.168.7.{random.Next(1, 50)}", selectors);
                paths.Set(path);
                live[key] = path;
            }
            Assert.Equal(live.Count, paths.Count);
            for (var probe = 0; probe < 20; probe++)
            {
                var destination = Base + (uint)random.Next(0, 4096);
                Assert.Equal(Scan(destination)?.Key, paths.ByDestination(destination)?.Key);
                var spi = (uint)random.Next(1, 60);
                var from = IPAddress.Parse($"192.168.7.{random.Next(1, 50)}");
                var sharing = live.Values.Where(p => p.InboundSpi == spi).OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
                var expected = sharing.FirstOrDefault(p => from.Equals(p.RemoteGateway)) ?? sharing.FirstOrDefault();
                Assert.Equal(expected?.Key, paths.BySpi(spi, from)?.Key);
            }
        }
    }
}
