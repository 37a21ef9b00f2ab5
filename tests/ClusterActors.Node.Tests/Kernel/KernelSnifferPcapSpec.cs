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
/// `diagnose sniffer packet port2 icmp 6 4 --pcap FILE` on a unit whose ports are kernel interfaces (AF_PACKET in a
/// network namespace, as in the container lab): the sniffer sits on the unit's packet I/O, so it prints and keeps the
/// kernel port's packets exactly as the fabric's, and tshark reads the pcapng it returns.
/// </summary>
[Collection("kernel-io")]
public sealed class KernelSnifferPcapSpec(ITestOutputHelper output) : IDisposable
{
    private static readonly IPAddress Port2 = IPAddress.Parse("192.168.129.254");
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-kernel-pcap-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public async Task The_sniffer_on_a_kernel_port_prints_the_hex_dump_and_returns_a_pcap_tshark_reads()
    {
        RequiredTool.Check("ip", "nft", "tshark");
        using var lab = new NetnsLab();
        var (nsUnit, nsRouter) = (lab.Namespace(), lab.Namespace());
        lab.Cable(nsUnit, "port2", nsRouter, "c1");
        using var unitIo = new KernelPacketIo(new KernelPacketIoOptions { Namespace = nsUnit, AnsweringOnOpen = false });
        unitIo.PrepareNamespace(["port2", "port3", "port5"]);
        using var routerIo = new KernelPacketIo(new KernelPacketIoOptions { Namespace = nsRouter });
        var inbox = new Inbox();
        var router = (KernelPacketPort)routerIo.Open("c1", [InterfaceAddress.Parse("192.168.129.1/24")], inbox.Handler);

        var config = LoopbackLab.ScenarioConfig("DC2_VM1", "config system ha\nset hello-holddown 5\nend");
        var dataDir = Path.Combine(_dir, "data");
        var akka = new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeTcpPort());
        var options = new UnitOptions("DC2_VM1", config, config.SerialNumber!, dataDir, akka, new IPEndPoint(IPAddress.Loopback, 0),
            [new HbdevWiring("port4", new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeUdpPort()), [])], [UnitHost.AkkaAddress(akka)], [])
            { Tls = LabCertificateAuthority.ForSpecs("DC2_VM1", config.SerialNumber!) };
        var host = await UnitHost.StartAsync(options, packets: unitIo);
        try
        {
            await Packets.Eventually(() => unitIo.Ports.Any(p => p.Name == "port2"), TimeSpan.FromSeconds(10), "the forwarding plane opens port2");
            var port2 = (KernelPacketPort)unitIo.Ports.Single(p => p.Name == "port2");
            await Packets.Eventually(() => port2.Mac.Equals(router.NeighbourMac(Port2)), TimeSpan.FromSeconds(20), "the unit becomes primary and announces port2");

            var sniffing = host.Unit.Ask<SnifferResult>(new StartSniffer("port2", "icmp", 6, 4, TimeSpan.FromSeconds(5), Pcap: true), TimeSpan.FromSeconds(10));
            for (ushort seq = 1; seq <= 2; seq++)
            {
                await Task.Delay(100);
                Assert.True(router.Send(Port2, Packets.EchoRequest("192.168.129.1", "192.168.129.254", seq)));
                Assert.NotNull(inbox.Next(TimeSpan.FromSeconds(2), p => Packets.IsEcho(p, IcmpEchoType.Reply, seq)));
            }
            var result = await sniffing;
            output.WriteLine(result.Output);
            Assert.True(result.Ok, result.Output);
            Assert.Matches(@"\d+\.\d{6} port2 in 192\.168\.129\.1 -> 192\.168\.129\.254: icmp: echo request\n0x0000\t 0009 0f09 0101 0000 0000 0000 0800 4500\t", result.Output);
            Assert.Matches(@"\d+\.\d{6} port2 out 192\.168\.129\.254 -> 192\.168\.129\.1: icmp: echo reply\n0x0000\t 0000 0000 0000 0009 0f09 0101 0800 4500\t", result.Output);
            Assert.EndsWith("4 packets received by filter\n0 packets dropped by kernel\n", result.Output);

            var file = Path.Combine(_dir, "port2.pcapng");
            await File.WriteAllBytesAsync(file, result.Pcap!);
            var rows = SystemCommand.Run("tshark", ["-r", file, "-T", "fields", "-e", "frame.interface_name", "-e", "ip.src", "-e", "icmp.type", "-e", "icmp.seq"]);
            Assert.True(rows.Ok, rows.Error);
            Assert.Equal(
                $"{config.SerialNumber} port2\t192.168.129.1\t8\t1\n{config.SerialNumber} port2\t192.168.129.254\t0\t1\n" +
                $"{config.SerialNumber} port2\t192.168.129.1\t8\t2\n{config.SerialNumber} port2\t192.168.129.254\t0\t2\n", rows.Output);
        }
        finally
        {
            await host.KillAsync();
        }
    }
}
