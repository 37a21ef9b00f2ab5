using System.Globalization;
using System.Net;
using ClusterActors.Node.Hosting.Kernel;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Tests.Capture;

/// <summary>
/// The pcapng the lab writes, read by tshark (Debian's, Wireshark 4.0): interface names and microsecond timestamps
/// survive, and the command <see cref="WiresharkEspSa"/> prints decrypts ESP (bare and in UDP 4500) with a good ICV.
/// </summary>
public sealed class PcapNgTsharkSpec : IDisposable
{
    private static readonly IPAddress Client = IPAddress.Parse("192.168.7.2");
    private static readonly IPAddress Lb1 = IPAddress.Parse("192.168.202.35");
    private static readonly DateTimeOffset At = new(2026, 12, 6, 11, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("sniffer-pcap-spec-").FullName;

    public PcapNgTsharkSpec() => RequiredTool.Check("tshark");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Tshark_reads_interface_names_and_microsecond_timestamps()
    {
        var echo = IcmpEcho.Request(7, 1, new byte[8]).InIpv4(IPAddress.Parse("10.10.1.2"), IPAddress.Parse("10.10.101.2")).ToBytes();
        Assert.True(PcapNg.TryEncode("spec", [new("DC2_VM1 port3"), new("dc-core c1")],
            [new PcapNgPacket(0, At.AddTicks(1_234_560), echo, Inbound: false), new PcapNgPacket(1, At.AddSeconds(1), echo, Inbound: true)],
            out var file, out var error), error);
        var path = Path.Combine(_dir, "two.pcapng");
        File.WriteAllBytes(path, file);

        var lines = Tshark(path, [], "frame.interface_name", "frame.time_epoch", "ip.src", "icmp.type");
        Assert.Equal(2, lines.Count);
        var epoch = At.ToUnixTimeSeconds();
        Assert.Equal(["DC2_VM1 port3", $"{epoch}.123456000", "10.10.1.2", "8"], lines[0]);
        Assert.Equal(["dc-core c1", $"{epoch + 1}.000000000", "10.10.1.2", "8"], lines[1]);
    }

    [Theory]
    [InlineData("aes128-sha1", false)]
    [InlineData("aes256-sha256", true)]
    [InlineData("aes128gcm", false)]
    [InlineData("aes256gcm", true)]
    public void The_printed_command_decrypts_every_esp_packet_with_a_good_icv(string proposal, bool udpEncap)
    {
        var suite = IkeSuite.Parse(proposal);
        var keys = new EspSaKeys(0x5eed0001, Key(suite.EncrKeyBytes, 0x10), Key(suite.IntegKeyLength, 0x40), suite);
        var sa = new EspOutboundSa(keys);
        var packets = new List<PcapNgPacket>();
        for (ushort seq = 1; seq <= 3; seq++)
        {
            var inner = IcmpEcho.Request(9, seq, new byte[16]).InIpv4(IPAddress.Parse("10.10.1.2"), IPAddress.Parse("10.10.101.2")).ToBytes();
            var esp = sa.Seal(inner).Bytes;
            var outer = udpEncap
                ? new Ipv4Packet(Client, Lb1, Ipv4Packet.ProtocolUdp, UdpEncap.Wrap(esp))
                : new Ipv4Packet(Client, Lb1, Ipv4Packet.ProtocolEsp, esp);
            packets.Add(new PcapNgPacket(0, At.AddMilliseconds(seq), outer.ToBytes()));
        }
        Assert.True(PcapNg.TryEncode("spec", [new("CLIENT1 port1")], packets, out var file, out _));
        var path = Path.Combine(_dir, $"{proposal}.pcapng");
        File.WriteAllBytes(path, file);

        var options = WiresharkEspSa.Options([new EspSaOnWire(Client, Lb1, keys)], out var error);
        Assert.NotNull(options);
        var lines = Tshark(path, options!, "esp.spi", "esp.sequence", "esp.icv_good", "icmp.type", "icmp.seq");
        Assert.Equal(3, lines.Count);
        for (var i = 0; i < 3; i++)
            Assert.Equal(["0x5eed0001", (i + 1).ToString(CultureInfo.InvariantCulture), "1", "8", (i + 1).ToString(CultureInfo.InvariantCulture)], lines[i]);

        // Without the keys tshark sees ESP and nothing inside: the decryption above is the command's doing.
        Assert.All(Tshark(path, [], "esp.spi", "icmp.type"), l => Assert.Equal(["0x5eed0001", ""], l));
        // The printed command is the same options, shell-quoted.
        Assert.StartsWith($"tshark -r '{path}' -o 'esp.enable_encryption_decode:TRUE' -o 'esp.enable_authentication_check:TRUE' -o 'uat:esp_sa:\"IPv4\",\"192.168.7.2\",\"192.168.202.35\",\"0x5eed0001\",",
            WiresharkEspSa.Command(path, [new EspSaOnWire(Client, Lb1, keys)], out _));
    }

    [Fact]
    public void A_suite_wireshark_cannot_decrypt_is_refused_with_a_reason()
    {
        var suite = IkeSuite.Parse("chacha20poly1305");
        var keys = new EspSaKeys(0x77, Key(suite.EncrKeyBytes, 1), Key(suite.IntegKeyLength, 2), suite);
        Assert.Null(WiresharkEspSa.Options([new EspSaOnWire(Client, Lb1, keys)], out var error));
        Assert.Equal("Wireshark 4.0 cannot decrypt ESP under chacha20poly1305", error);
        Assert.Null(WiresharkEspSa.Command("x.pcapng", [new EspSaOnWire(Client, IPAddress.IPv6Loopback, new EspSaKeys(0x78, Key(16, 1), Key(20, 2)))], out error));
        Assert.Equal("source and destination are of different address families", error);
        Assert.Null(WiresharkEspSa.UatRecord(null!, out error));
        Assert.Equal("no SA", error);
    }

    private static byte[] Key(int length, byte first) => Enumerable.Range(first, length).Select(b => (byte)b).ToArray();

    /// <summary>tshark -r FILE OPTIONS -T fields -e …: one row per packet, tab-separated fields.</summary>
    internal static List<string[]> Tshark(string file, IEnumerable<string> options, params string[] fields)
    {
        var result = SystemCommand.Run("tshark", ["-r", file, .. options, "-T", "fields", .. fields.SelectMany(f => new[] { "-e", f })]);
        Assert.True(result.ExitCode == 0, $"{result.Command} failed ({result.ExitCode}): {result.Error}");
        return result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToList();
    }
}
