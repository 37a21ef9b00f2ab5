using System.Diagnostics;
using System.Net;
using Akka.Actor;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Hosting.Kernel;
using ClusterActors.Protocol.Packets;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Kernel;

/// <summary>
/// The end-to-end path: a real unit (DC2_VM1's config, its ActorSystem and forwarding plane) whose packet I/O is a
/// <see cref="KernelPacketIo"/> in a network namespace, and a router in another, cabled by a veth pair. The unit comes
/// up silent, FGCP makes it primary alone, it puts 192.168.129.254 on port2 and announces it; pings from the router are
/// answered by the unit's forwarding plane, not by the kernel (the namespace is prepared as a unit's container is).
/// </summary>
[Collection("kernel-io")]
public sealed class KernelUnitSpec(ITestOutputHelper output)
{
    private static readonly IPAddress Port2 = IPAddress.Parse("192.168.129.254");
    private static readonly IPAddress Lb1 = IPAddress.Parse("192.168.202.35");

    private void Log(string line)
    {
        try { output.WriteLine(line); } catch (InvalidOperationException) { /* after the test */ }
    }

    [Fact]
    public async Task A_unit_on_kernel_interfaces_answers_pings_to_its_addresses_itself_once_FGCP_makes_it_primary()
    {
        RequiredTool.Check("ip", "nft");
        using var lab = new NetnsLab();
        var (nsUnit, nsRouter) = (lab.Namespace(), lab.Namespace());
        lab.Cable(nsUnit, "port2", nsRouter, "c1");
        using var unitIo = new KernelPacketIo(new KernelPacketIoOptions { Namespace = nsUnit, AnsweringOnOpen = false, Log = Log });
        output.WriteLine(unitIo.PrepareNamespace(["port2", "port3", "port5"]).ToString());
        using var routerIo = new KernelPacketIo(new KernelPacketIoOptions { Namespace = nsRouter, Log = Log });
        var inbox = new Inbox();
        var router = (KernelPacketPort)routerIo.Open("c1", [InterfaceAddress.Parse("192.168.129.1/24")], inbox.Handler);

        var config = LoopbackLab.ScenarioConfig("DC2_VM1", "config system ha\nset hello-holddown 5\nend");
        var dataDir = Path.Combine(Path.GetTempPath(), "clusteractors-kernel-" + Guid.NewGuid().ToString("N")[..8]);
        var akka = new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeTcpPort());
        var options = new UnitOptions("DC2_VM1", config, config.SerialNumber!, dataDir, akka, new IPEndPoint(IPAddress.Loopback, 0),
            [new HbdevWiring("port4", new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeUdpPort()), [])], [UnitHost.AkkaAddress(akka)], [])
            { Tls = LabCertificateAuthority.ForSpecs("DC2_VM1", config.SerialNumber!) };
        var started = Stopwatch.StartNew();
        var host = await UnitHost.StartAsync(options, packets: unitIo);
        try
        {
            // Only port2 is cabled in this lab: port3 and port5 have no interface here and are skipped, as uncabled ports are.
            var port2 = await PortOf(unitIo, "port2");
            Assert.Single(unitIo.Ports);
            Assert.DoesNotContain("192.168.129.254/24", NetnsLab.Addresses(nsUnit, "port2")); // silent until primary

            await Packets.Eventually(() => port2.Mac.Equals(router.NeighbourMac(Port2)), TimeSpan.FromSeconds(20),
                "the unit becomes FGCP primary and announces 192.168.129.254 with a gratuitous ARP");
            output.WriteLine($"primary and announced {started.Elapsed.TotalSeconds:0.0} s after start (hello-holddown 5 s)");
            Assert.Contains("192.168.129.254/24", NetnsLab.Addresses(nsUnit, "port2"));
            Assert.True(router.Counters.GratuitousArpsSeen > 0);

            var rtts = new List<double>();
            var sw = new Stopwatch();
            for (ushort seq = 1; seq <= 100; seq++)
            {
                sw.Restart();
                Assert.True(router.Send(Port2, Packets.EchoRequest("192.168.129.1", "192.168.129.254", seq)));
                Assert.NotNull(inbox.Next(TimeSpan.FromSeconds(2), p => Packets.IsEcho(p, IcmpEchoType.Reply, seq) && p.Source.Equals(Port2)));
                rtts.Add(sw.Elapsed.TotalMilliseconds);
            }
            rtts.Sort();
            output.WriteLine($"100 pings router → unit port2 (AF_PACKET → ForwardingActor → AF_PACKET): rtt min {rtts[0]:0.000} / p50 {rtts[50]:0.000} / p99 {rtts[98]:0.000} / max {rtts[^1]:0.000} ms");

            // lb1 is the unit's own address but on no kernel interface: reached through port2, answered by the unit.
            Assert.True(router.Send(Port2, Packets.EchoRequest("192.168.129.1", "192.168.202.35", 1000)));
            Assert.NotNull(inbox.Next(TimeSpan.FromSeconds(2), p => Packets.IsEcho(p, IcmpEchoType.Reply, 1000) && p.Source.Equals(Lb1)));
            Assert.Null(inbox.Next(TimeSpan.FromMilliseconds(200))); // one reply each: the kernel answered none of them

            var status = await host.Unit.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(5));
            Assert.True(status.Answering);
            Assert.Equal(101, status.Received);
            Assert.True(status.Carrier["port2"]);
            output.WriteLine(unitIo.Describe() + routerIo.Describe());
        }
        finally
        {
            await host.KillAsync();
            try { Directory.Delete(dataDir, true); } catch (IOException) { /* best effort */ }
        }
        // A killed unit's ports are disposed: the cluster address leaves the interface and the kernel stops answering ARP for it.
        await Packets.Eventually(() => !NetnsLab.Addresses(nsUnit, "port2").Contains("192.168.129.254/24"), TimeSpan.FromSeconds(5),
            "the killed unit's address is taken off port2");
    }

    private static async Task<KernelPacketPort> PortOf(KernelPacketIo io, string name)
    {
        await Packets.Eventually(() => io.Ports.Any(p => p.Name == name), TimeSpan.FromSeconds(10), $"the forwarding plane opens {name}");
        return io.Ports.Single(p => p.Name == name);
    }
}
