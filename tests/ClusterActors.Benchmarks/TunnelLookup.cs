using System.Diagnostics;
using System.Net;
using Akka.Actor;
using ClusterActors.Actors.Forwarding;
using System.Security.Cryptography;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Ike;

/// <summary>
/// Per-packet tunnel lookup of a hub's forwarding plane (issue 13, goal 3) at 10, 1,000 and 10,000 dialup tunnels:
/// inbound ESP by SPI and traffic routed into a tunnel by destination, the code ForwardingActor ran before
/// <see cref="TunnelPaths"/> (a Dictionary by SPI; a scan of every tunnel's remote selectors with LINQ Any, copied as
/// it was) against <see cref="TunnelPaths.BySpi"/> and <see cref="TunnelPaths.ByDestination"/>. Each tunnel has one /24
/// remote selector (10.x.y.0/24, a dialup client's LAN) and a random inbound SPI; lookups go to random tunnels. Both
/// sides must return the same tunnel for every probe, or the run fails. Also ESP bytes allocated per packet for each
/// phase2 suite (GC.GetAllocatedBytesForCurrentThread around Seal and TryOpen; src/Protocol/Esp/README.md).
/// </summary>
internal static class TunnelLookup
{
    private static readonly int[] Counts = [10, 1_000, 10_000];
    private const int Probes = 4096;

    public static int Run(double secondsPerFigure, bool espOnly = false)
    {
        if (espOnly)
        {
            EspAllocations();
            return 0;
        }
        Console.WriteLine($"Tunnel lookup per packet, old (ForwardingActor before TunnelPaths) vs TunnelPaths; {secondsPerFigure:0.##} s per figure");
        Console.WriteLine($"machine: {Machine.Line()}, {Environment.OSVersion}, .NET {Environment.Version}");
        Console.WriteLine($"{"tunnels",8} | {"SPI old ns",10} {"SPI new ns",10} {"old/new",7} | {"dst old ns",12} {"dst new ns",10} {"old/new",9}");
        foreach (var n in Counts) Lookups(n, secondsPerFigure);
        EspAllocations();
        return 0;
    }

    private static void Lookups(int n, double seconds)
    {
        var random = new Random(13);
        var spis = new HashSet<uint>();
        while (spis.Count < n) spis.Add((uint)random.Next(256, int.MaxValue));
        var paths = spis.Select((spi, i) =>
        {
            var net = 0x0A000000u + ((uint)i << 8);
            return new TunnelPathChanged($"dialup_{i}", "dialup", spi, [(net, net + 255)], ActorRefs.Nobody)
            {
                RemoteGateway = IPAddress.Parse($"198.18.{i >> 8}.{i & 255}")
            };
        }).ToArray();

        // As ForwardingActor held them before TunnelPaths (commit 6bc17d3's parent).
        var oldBySpi = new Dictionary<uint, TunnelPathChanged>();
        var oldByKey = new Dictionary<string, TunnelPathChanged>();
        var table = new TunnelPaths();
        foreach (var p in paths)
        {
            oldByKey[p.Key] = p;
            oldBySpi[p.InboundSpi] = p;
            table.Set(p);
        }

        var probeSpi = new uint[Probes];
        var probeFrom = new IPAddress[Probes];
        var probeDst = new uint[Probes];
        for (var i = 0; i < Probes; i++)
        {
            var p = paths[random.Next(n)];
            probeSpi[i] = p.InboundSpi;
            probeFrom[i] = p.RemoteGateway!;
            probeDst[i] = p.Remote[0].Start + (uint)random.Next(1, 255);
        }
        for (var i = 0; i < Probes; i++)
        {
            oldBySpi.TryGetValue(probeSpi[i], out var a);
            if (!ReferenceEquals(a, table.BySpi(probeSpi[i], probeFrom[i])) || !ReferenceEquals(OldByDestination(oldByKey, probeDst[i]), table.ByDestination(probeDst[i])))
                throw new InvalidOperationException($"old and new lookups disagree at probe {i} ({n} tunnels)");
        }

        var spiOld = Time(seconds, i => oldBySpi.TryGetValue(probeSpi[i], out var t) ? t : null);
        var spiNew = Time(seconds, i => table.BySpi(probeSpi[i], probeFrom[i]));
        var dstOld = Time(seconds, i => OldByDestination(oldByKey, probeDst[i]));
        var dstNew = Time(seconds, i => table.ByDestination(probeDst[i]));
        Console.WriteLine($"{n,8:#,0} | {spiOld,10:0.0} {spiNew,10:0.0} {spiOld / spiNew,7:0.00} | {dstOld,12:#,0.0} {dstNew,10:0.0} {dstOld / dstNew,9:#,0.0}  [{Machine.Line()}]");
    }

    /// <summary>ForwardingActor's routing into a tunnel before TunnelPaths, as it was: the first tunnel whose selectors hold dst.</summary>
    private static TunnelPathChanged? OldByDestination(Dictionary<string, TunnelPathChanged> byKey, uint dst)
    {
        foreach (var t in byKey.Values)
        {
            if (!t.Remote.Any(r => dst >= r.Start && dst <= r.End)) continue;
            return t;
        }
        return null;
    }

    /// <summary>ns per lookup: warm up, then batches of every probe until the time is used.</summary>
    private static double Time(double seconds, Func<int, TunnelPathChanged?> lookup)
    {
        var found = 0L;
        for (var i = 0; i < Probes; i++) if (lookup(i) is not null) found++;
        long lookups = 0;
        var start = Stopwatch.GetTimestamp();
        var until = start + (long)(seconds * Stopwatch.Frequency);
        long now;
        do
        {
            for (var i = 0; i < Probes; i++) if (lookup(i) is not null) found++;
            lookups += Probes;
            now = Stopwatch.GetTimestamp();
        } while (now < until);
        if (found != lookups + Probes) throw new InvalidOperationException("a lookup missed a tunnel that exists");
        return (now - start) * 1e9 / Stopwatch.Frequency / lookups;
    }

    /// <summary>Managed bytes allocated per packet by EspOutboundSa.Seal and EspInboundSa.TryOpen, per phase2 suite.</summary>
    private static void EspAllocations()
    {
        const int packets = 20_000;
        Console.WriteLine($"ESP bytes allocated per packet, mean over {packets:#,0} packets after warm-up (GC.GetAllocatedBytesForCurrentThread)");
        foreach (var proposal in new[] { "aes128-sha1", "aes256-sha256", "aes128gcm", "aes256gcm", "chacha20poly1305" })
        {
            var suite = IkeSuite.Parse(proposal);
            var keys = new EspSaKeys((uint)Random.Shared.Next(0x100, int.MaxValue), RandomNumberGenerator.GetBytes(suite.EncrKeyBytes),
                RandomNumberGenerator.GetBytes(suite.IntegKeyLength), suite);
            var sender = new EspOutboundSa(keys);
            var receiver = new EspInboundSa(keys);
            foreach (var size in new[] { 100, 1400 })
            {
                var packet = EspThroughput.Echo(IPAddress.Parse("10.10.1.2"), IPAddress.Parse("10.10.101.2"), size);
                var sealedPackets = new byte[packets][];
                for (var i = 0; i < 1000; i++)
                    if (!receiver.TryOpen(sender.Seal(packet).Bytes, out _, out var why)) throw new InvalidOperationException($"round trip failed: {why}");
                var a0 = GC.GetAllocatedBytesForCurrentThread();
                var t0 = Stopwatch.GetTimestamp();
                for (var i = 0; i < packets; i++) sealedPackets[i] = sender.Seal(packet).Bytes;
                var t1 = Stopwatch.GetTimestamp();
                var a1 = GC.GetAllocatedBytesForCurrentThread();
                for (var i = 0; i < packets; i++)
                    if (!receiver.TryOpen(sealedPackets[i], out var opened, out var why) || opened.Payload.Length != size)
                        throw new InvalidOperationException($"round trip failed: {why}");
                var t2 = Stopwatch.GetTimestamp();
                var a2 = GC.GetAllocatedBytesForCurrentThread();
                // Wall time on shared cores: indicative only (the allocation figures are exact).
                Console.WriteLine($"  {proposal,-16} {size,5} B inner: encrypt {(a1 - a0) / (double)packets,5:#,0} B/packet (ESP packet itself {sealedPackets[0].Length,4} B) " +
                                  $"{Stopwatch.GetElapsedTime(t0, t1).TotalNanoseconds / packets,6:#,0} ns; " +
                                  $"decrypt {(a2 - a1) / (double)packets,5:#,0} B/packet (inner packet itself {size,4} B) {Stopwatch.GetElapsedTime(t1, t2).TotalNanoseconds / packets,6:#,0} ns");
            }
        }
    }
}
