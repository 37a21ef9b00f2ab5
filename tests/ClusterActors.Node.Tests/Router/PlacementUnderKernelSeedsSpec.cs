using System.Net;
using System.Text.RegularExpressions;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Node.Hosting.Kernel;
using ClusterActors.Node.Router;
using ClusterActors.Node.Tests.Kernel;

namespace ClusterActors.Node.Tests.Router;

/// <summary>
/// The docker lab's DC router (the real <see cref="KernelPlacementRouter"/>, its `ip` batches run in a network
/// namespace built here) against the embedded lab's (<see cref="ScenarioFabric"/>'s <see cref="LabRouter"/>) for the
/// same client addresses, under several kernel multipath hash seeds (net.ipv4.fib_multipath_hash_seed, per network
/// namespace since Linux 6.11; 0 = boot-random). The kernel's own choice for each flow is read with
/// `ip route get 192.168.202.35 from CLIENT iif wan`, the lookup a packet from that client makes. A control route with
/// a kernel multipath next hop in the same namespace shows the seeds do change the kernel's hash: were the router to go
/// back to kernel ECMP, its choices would follow the seed and this spec would fail.
/// </summary>
[Collection("kernel-io")]
public sealed class PlacementUnderKernelSeedsSpec : IDisposable
{
    private const string Lb1 = "192.168.202.35";
    private const string Control = "192.168.203.35";
    private const string SeedSysctl = "/proc/sys/net/ipv4/fib_multipath_hash_seed";
    private static readonly IPAddress C1 = IPAddress.Parse("192.168.129.254");
    private static readonly IPAddress C2 = IPAddress.Parse("192.168.130.254");
    /// <summary>0 first: a fresh namespace's own boot-random seed.</summary>
    private static readonly uint[] KernelSeeds = [0, 1, 2, 0xC0FFEE, 0xFFFFFFFF];
    private static readonly string[] Clients = Enumerable.Range(2, 24).Select(i => $"192.168.7.{i}").ToArray();

    private readonly NetnsLab _lab = new();
    private readonly string _router;

    public PlacementUnderKernelSeedsSpec()
    {
        _router = _lab.Namespace();
        var peers = _lab.Namespace();
        _lab.Cable(_router, "wan", peers, "w0");
        _lab.Cable(_router, "c1", peers, "p1");
        _lab.Cable(_router, "c2", peers, "p2");
        NetnsLab.Ip(_router, "addr", "add", "192.168.7.1/24", "dev", "wan");
        NetnsLab.Ip(_router, "addr", "add", "192.168.129.1/24", "dev", "c1");
        NetnsLab.Ip(_router, "addr", "add", "192.168.130.1/24", "dev", "c2");
        NetnsLab.Ip(peers, "addr", "add", "192.168.129.254/24", "dev", "p1");
        NetnsLab.Ip(peers, "addr", "add", "192.168.130.254/24", "dev", "p2");
        Sysctl("net/ipv4/ip_forward", "1");
        Sysctl("net/ipv4/conf/all/rp_filter", "0");
        Sysctl("net/ipv4/conf/wan/rp_filter", "0");
        Sysctl("net/ipv4/fib_multipath_hash_policy", "0"); // L3, as the compose file had it for kernel ECMP
        NetnsLab.Ip(_router, "route", "add", Control + "/32", "nexthop", "via", C1.ToString(), "nexthop", "via", C2.ToString());
    }

    [Fact]
    public async Task Every_client_goes_where_the_embedded_router_sends_it_whatever_the_kernel_seed_and_after_a_withdrawal()
    {
        Assert.True(File.Exists(SeedSysctl),
            $"{SeedSysctl} is missing: this kernel ({Environment.OSVersion.Version}) is older than 6.11 and cannot set a multipath hash seed per namespace");
        using var embedded = ScenarioFabric.Build(new ScenarioFabricOptions { Router = new LabRouterOptions { ProbeTimers = false } });
        var c1Answers = true;
        var route = new PlacementRoute(Lb1 + "/32", [C1, C2], new ProbeOptions(TimeSpan.FromMilliseconds(20), 3), ["192.168.7.0/24"],
            PlacementRoute.DefaultHashSeed);
        using var router = new KernelPlacementRouter(route, _ => { },
            ip: lines => KernelPlacementRouter.RunIpBatch(lines, _router),
            ping: (hop, _) => Task.FromResult(!hop.Equals(C1) || Volatile.Read(ref c1Answers)));
        await router.StartAsync();
        Assert.Equal(1, router.Rewrites);

        var kernelEcmp = new List<string>();
        foreach (var seed in KernelSeeds)
        {
            if (seed != 0) Sysctl("net/ipv4/fib_multipath_hash_seed", seed.ToString());
            Assert.Equal(seed == 0 ? "0" : seed.ToString(), NetnsLab.Read(_router, SeedSysctl).Split('\t', ' ')[0]);
            foreach (var client in Clients)
            {
                var rule = EcmpSelection.Choose(IPAddress.Parse(client), IPAddress.Parse(Lb1), [C1, C2], PlacementRoute.DefaultHashSeed);
                var inProcess = embedded.DcRouter.Resolve(IPAddress.Parse(client), IPAddress.Parse(Lb1))!.NextHop;
                Assert.Equal(rule, inProcess);
                Assert.True(rule!.Equals(KernelVia(Lb1, client)), $"kernel seed {seed}: {client} goes via {KernelVia(Lb1, client)}, the embedded router sends it via {rule}");
            }
            kernelEcmp.Add(string.Join(',', Clients.Select(c => KernelVia(Control, c))));
        }
        Assert.True(kernelEcmp.Skip(1).Distinct().Count() > 1,
            "the kernel's own multipath choice did not change with the seed: the spec would not notice a router back on kernel ECMP");
        Assert.Equal(C1, KernelVia(Lb1, "192.168.7.2")); // CLIENT1 on cluster 1, as in the embedded lab and the document

        // Cluster 1 withdrawn: every client on cluster 2; back: every client where it was.
        var before = Clients.Select(c => KernelVia(Lb1, c)).ToList();
        Volatile.Write(ref c1Answers, false);
        await Packets.Eventually(() => router.Rewrites == 2, TimeSpan.FromSeconds(5), "the router rewrote the flows of the dead next hop");
        Assert.All(Clients, c => Assert.Equal(C2, KernelVia(Lb1, c)));
        Volatile.Write(ref c1Answers, true);
        await Packets.Eventually(() => router.Rewrites == 3, TimeSpan.FromSeconds(5), "the router put the flows back");
        Assert.Equal(before, Clients.Select(c => KernelVia(Lb1, c)).ToList());

        // A source outside the client prefix is not placed by the kernel's hash either: it has no route.
        var outsider = SystemCommand.Ip(_router, "route", "get", Lb1, "from", "10.20.30.40", "iif", "wan");
        Assert.False(outsider.Ok && outsider.Output.Contains(" via ", StringComparison.Ordinal), $"an unplaced source was routed: {outsider.Output}");
    }

    /// <summary>The next hop the kernel picks for a packet from <paramref name="client"/> to <paramref name="destination"/> arriving on wan.</summary>
    private IPAddress KernelVia(string destination, string client)
    {
        var text = NetnsLab.Ip(_router, "route", "get", destination, "from", client, "iif", "wan");
        var m = Regex.Match(text, @" via (\d+\.\d+\.\d+\.\d+) ");
        Assert.True(m.Success, $"ip route get {destination} from {client} iif wan: {text}");
        return IPAddress.Parse(m.Groups[1].Value);
    }

    private void Sysctl(string key, string value)
    {
        var r = SystemCommand.InNamespace(_router, "sh", ["-c", $"echo {value} > /proc/sys/{key}"]);
        if (!r.Ok) throw new InvalidOperationException($"setting {key} = {value} in {_router}: {r}");
    }

    public void Dispose() => _lab.Dispose();
}
