using System.Buffers.Binary;
using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Protocol.Packets;
using ClusterActors.Protocol.Topology;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Node.Tests.LabHarness.Fabric;

/// <summary>The fabric's packet capture: per segment, bounded in packets and octets, encoded as pcapng with the sender's name.</summary>
public sealed class FabricCaptureSpec
{
    private static readonly IPAddress B = IPAddress.Parse("10.0.0.2");

    private static (InMemoryFabric Fabric, IPacketPort A) Lan()
    {
        var f = new InMemoryFabric();
        f.Cable("hostA", "eth0", "lan");
        f.Cable("hostB", "eth0", "lan");
        var a = f.Host("hostA").Open("eth0", [InterfaceAddress.Parse("10.0.0.1/24")], (_, _) => { });
        f.Host("hostB").Open("eth0", [InterfaceAddress.Parse("10.0.0.2/24")], (_, _) => { });
        return (f, a);
    }

    private static byte[] Echo(ushort seq) => IcmpEcho.Request(1, seq, new byte[8]).InIpv4(IPAddress.Parse("10.0.0.1"), B).ToBytes();

    [Fact]
    public void Each_delivery_is_kept_with_its_time_and_ports_the_first_ones_and_the_most_recent_within_the_segments_bound()
    {
        // Bound 3: the head keeps the first (a quarter, at least one), the ring the two most recent; 2 and 3 fall out
        // between them and are counted. A run's failover comes last: the ring keeps it however long the run was.
        var (fabric, a) = Lan();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 11, 0, 0, TimeSpan.Zero));
        using var capture = new FabricCapture(fabric, time, maxPacketsPerSegment: 3);
        for (ushort seq = 1; seq <= 5; seq++)
        {
            Assert.True(a.Send(B, Echo(seq)));
            time.Advance(TimeSpan.FromMilliseconds(1));
        }
        Assert.Equal([new SegmentCaptureCounts("lan", 3, 2, 3 * Echo(1).Length)], capture.Counts());

        var file = capture.Encode("lan")!;
        var epbs = Blocks(file).Where(b => b.Type == PcapNg.EnhancedPacketType).ToList();
        Assert.Equal(3, epbs.Count);
        long Micros(int i) => ((long)BinaryPrimitives.ReadUInt32LittleEndian(epbs[i].Body.AsSpan(4)) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(epbs[i].Body.AsSpan(8));
        var start = new DateTimeOffset(2026, 12, 6, 11, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1000;
        Assert.Equal([start, start + 3_000, start + 4_000], [Micros(0), Micros(1), Micros(2)]); // packets 1, 4 and 5
        Assert.True(epbs[1].Body.AsSpan().IndexOf("2 packets before this one not kept"u8) >= 0, "the first packet after the gap says so");
        Assert.True(epbs[2].Body.AsSpan().IndexOf("not kept"u8) < 0);
        Assert.True(Blocks(file).Single(b => b.Type == PcapNg.InterfaceDescriptionType).Body.AsSpan().IndexOf("hostA eth0"u8) >= 0);
        Assert.Null(capture.Encode("nowhere"));
    }

    [Fact]
    public void The_octet_bound_holds_too_and_a_disposed_capture_stops_listening()
    {
        var (fabric, a) = Lan();
        var capture = new FabricCapture(fabric, maxBytesPerSegment: Echo(1).Length * 2);
        for (ushort seq = 1; seq <= 4; seq++) a.Send(B, Echo(seq));
        Assert.Equal([new SegmentCaptureCounts("lan", 2, 2, 2 * Echo(1).Length)], capture.Counts());
        capture.Dispose();
        a.Send(B, Echo(5));
        Assert.Equal(2, capture.Counts()[0].NotKept);
    }

    [Fact]
    public void A_bad_tap_call_is_dropped_not_thrown()
    {
        var (fabric, _) = Lan();
        using var capture = new FabricCapture(fabric);
        capture.Observe(null!, null!, null!, [0x45]);
        capture.Observe("lan", null!, null!, null!);
        Assert.Empty(capture.Counts());
    }

    private static List<(uint Type, byte[] Body)> Blocks(byte[] file)
    {
        var blocks = new List<(uint, byte[])>();
        for (var at = 0; at < file.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at + 4));
            blocks.Add((BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at)), file.AsSpan(at + 8, length - 12).ToArray()));
            at += length;
        }
        return blocks;
    }
}
