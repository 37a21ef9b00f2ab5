using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.Hosting.Kernel;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Tests.Kernel;

/// <summary>Kernel packet I/O specs build network namespaces and run one at a time: carrier and ARP timing are measured.</summary>
[CollectionDefinition("kernel-io", DisableParallelization = true)]
public sealed class KernelIoCollection;

/// <summary>
/// Network namespaces with veth pairs for one spec, all removed on <see cref="Dispose"/> (a failed spec too). Names are
/// ca-test-kio-PID-N: namespaces a killed test run left behind (its PID gone) are removed when the next run starts.
/// Creating a namespace needs root and iproute2; without them the spec fails at once and says so.
/// </summary>
public sealed class NetnsLab : IDisposable
{
    private const string Prefix = "ca-test-kio-";
    private static int _counter;
    private static int _swept;
    private readonly List<string> _namespaces = new();

    public NetnsLab()
    {
        RequiredTool.Check("ip");
        if (Interlocked.Exchange(ref _swept, 1) == 0) SweepStale();
    }

    /// <summary>A new, empty network namespace (only lo, down).</summary>
    public string Namespace()
    {
        var name = $"{Prefix}{Environment.ProcessId}-{Interlocked.Increment(ref _counter)}";
        CommandResult r;
        try
        {
            r = SystemCommand.Run("ip", ["netns", "add", name]);
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"The kernel packet I/O specs need root and iproute2 to build network namespaces: {e.Message}", e);
        }
        if (!r.Ok)
            throw new InvalidOperationException(
                $"The kernel packet I/O specs need root and iproute2 to build network namespaces (CI runs them as root): {r}");
        _namespaces.Add(name);
        return name;
    }

    /// <summary>A veth pair: <paramref name="ifA"/> in <paramref name="nsA"/>, <paramref name="ifB"/> in <paramref name="nsB"/>, both up.</summary>
    public void Cable(string nsA, string ifA, string nsB, string ifB)
    {
        Ip(nsA, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", nsB);
        Ip(nsA, "link", "set", ifA, "up");
        Ip(nsB, "link", "set", ifB, "up");
    }

    public static string Ip(string ns, params string[] args) => SystemCommand.IpOrThrow(ns, args);

    /// <summary>The IPv4 addresses on <paramref name="iface"/> in <paramref name="ns"/> as CIDR strings.</summary>
    public static IReadOnlyList<string> Addresses(string ns, string iface) =>
        Ip(ns, "-o", "-4", "addr", "show", "dev", iface).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(f => f.Length > 3 && f[2] == "inet").Select(f => f[3]).ToList();

    public static string Read(string ns, string path)
    {
        var r = SystemCommand.Run("ip", ["netns", "exec", ns, "cat", path]);
        if (!r.Ok) throw new InvalidOperationException(r.ToString());
        return r.Output.Trim();
    }

    public void Dispose()
    {
        var failures = new List<string>();
        foreach (var ns in _namespaces)
        {
            var r = SystemCommand.Run("ip", ["netns", "del", ns]);
            if (!r.Ok) failures.Add(r.ToString());
        }
        _namespaces.Clear();
        if (failures.Count > 0) throw new InvalidOperationException("could not remove test namespaces: " + string.Join("; ", failures));
    }

    private static void SweepStale()
    {
        CommandResult list;
        try
        {
            list = SystemCommand.Run("ip", ["netns", "list"]);
        }
        catch (InvalidOperationException)
        {
            return; // no iproute2: Namespace() says so
        }
        foreach (var line in list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(' ')[0];
            if (!name.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            var pid = name[Prefix.Length..].Split('-')[0];
            if (int.TryParse(pid, out var p) && p != Environment.ProcessId && !Directory.Exists($"/proc/{p}"))
                SystemCommand.Run("ip", ["netns", "del", name]);
        }
    }
}

/// <summary>One host's port in a spec: every IPv4 packet it receives, queued for the spec to wait on.</summary>
public sealed class Inbox
{
    private readonly BlockingCollection<byte[]> _packets = new();

    public PacketArrived Handler => (_, bytes) => _packets.Add(bytes);

    public int Count => _packets.Count;

    /// <summary>The next packet that satisfies <paramref name="match"/> (others are dropped), or null after <paramref name="within"/>.</summary>
    public byte[]? Next(TimeSpan within, Func<Ipv4Packet, bool>? match = null)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var left = within - sw.Elapsed;
            if (left <= TimeSpan.Zero || !_packets.TryTake(out var bytes, left)) return null;
            if (match is null || Ipv4Packet.TryParse(bytes, out var p, out _) && match(p)) return bytes;
        }
    }

    public void Clear()
    {
        while (_packets.TryTake(out _)) { }
    }
}

public static class Packets
{
    public static byte[] EchoRequest(string from, string to, ushort sequence, ushort identifier = 0x4b10) =>
        IcmpEcho.Request(identifier, sequence, "kernel-io spec 0123456789abcdef"u8.ToArray())
            .InIpv4(IPAddress.Parse(from), IPAddress.Parse(to), sequence).ToBytes();

    public static bool IsEcho(Ipv4Packet p, IcmpEchoType type, ushort? sequence = null) =>
        p.Protocol == Ipv4Packet.ProtocolIcmp && IcmpEcho.TryParse(p.Payload, out var e) && e.Type == type && (sequence is null || e.Sequence == sequence);

    public static byte[] Udp(string from, string to, ushort port) =>
        UdpPacket.InIpv4(IPAddress.Parse(from), 40000, IPAddress.Parse(to), port, "kernel-io"u8).ToBytes();

    public static byte[] Esp(string from, string to) =>
        new Ipv4Packet(IPAddress.Parse(from), IPAddress.Parse(to), Ipv4Packet.ProtocolEsp, [0, 0, 0x10, 0x01, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8]).ToBytes();

    public static async Task<TimeSpan> Eventually(Func<bool> condition, TimeSpan within, string what)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < within)
        {
            if (condition()) return sw.Elapsed;
            await Task.Delay(10);
        }
        throw new TimeoutException($"not within {within.TotalMilliseconds:0} ms: {what}");
    }
}
