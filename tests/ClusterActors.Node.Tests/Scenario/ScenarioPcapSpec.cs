using System.Diagnostics;
using ClusterActors.Node.Hosting.Kernel;
using ClusterActors.Node.Scenario;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Scenario;

/// <summary>
/// Packet evidence in a scenario script on the embedded lab: `diagnose sniffer packet … 6` prints the hex dump with the
/// unit's virtual MAC, `--pcap FILE` writes what the sniffer saw, and `pcap start` / `pcap save DIR` write one pcapng per
/// fabric segment whose printed tshark command decrypts the tunnel's ESP with a good ICV.
/// </summary>
[Collection(RealProcessesCollection.Name)]
public sealed class ScenarioPcapSpec(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-scenario-pcap-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public async Task Sniffer_hex_dumps_a_sniffer_pcap_and_per_segment_pcaps_that_tshark_decrypts()
    {
        RequiredTool.Check("tshark");
        var script = Path.Combine(_dir, "pcap.txt");
        var sniffed = Path.Combine(_dir, "vm1-icmp.pcapng");
        var segments = Path.Combine(_dir, "segments");
        await File.WriteAllTextAsync(script, $"""
            pcap start
            dial
            traffic start 200
            wait 1s
            DC2_VM1> diagnose sniffer packet port2 'host 192.168.7.2' 6 2
            DC2_VM1> diagnose sniffer packet any 'icmp and host 10.10.1.2' 5 4 --pcap {sniffed}
            DC2_VM1> diagnose sniffer packet any 'icmp and host 10.10.1.2' 4 1 --pcap
            DC2_VM1> diagnose sniffer packet any 'icmp and host 10.10.1.2' 4 1 --pcap {Path.Combine(_dir, "no-such-folder", "x.pcapng")}
            traffic stop
            pcap save {segments}
            """);
        var (exit, stdout, stderr) = await EmbeddedScript.RunAsync(script, TimeSpan.FromSeconds(60), output);
        ExitAssert.Zero(exit, stdout, stderr);
        var transcript = stdout;

        // Verbosity 6 on port2: an inbound frame to DC2_VM1's virtual MAC (group-id 1, port2 → index 1), the far side unknown.
        Assert.Matches(@"\d+\.\d{6} port2 in 192\.168\.7\.2 -> 192\.168\.202\.35: [^\n]+\n0x0000\t 0009 0f09 0101 0000 0000 0000 0800 4500\t", transcript);
        // Verbosity 5: the IP octets from 4500, and the pcap written. PC1's traffic only: on `any`, 'icmp' alone also
        // catches the DC router's next-hop probes to port2 (an echo each probe interval, stop 20's CI caught two).
        Assert.Matches(@"\d+\.\d{6} (vpn1|port3) (in|out) 10\.10\.1\.2 -> 10\.10\.101\.2: icmp: echo request\n0x0000\t 4500 ", transcript);
        Assert.Contains($"pcapng written to {sniffed}\n", transcript);
        var rows = Tshark(["-r", sniffed, "-T", "fields", "-e", "frame.interface_name", "-e", "icmp.type"]);
        Assert.Equal(4, rows.Count);
        Assert.All(rows, r => Assert.Matches(@"^FGVM\w+ (vpn1\w*|port3)$", r[0]));

        // A bad --pcap is refused with a reason, the capture's text still printed when only the write failed.
        Assert.Contains("--pcap needs a file name\n", transcript);
        Assert.Matches(@"1 packets received by filter\n0 packets dropped by kernel\ncannot write [^\n]*no-such-folder/x\.pcapng: ", transcript);
        Assert.False(File.Exists(Path.Combine(_dir, "no-such-folder", "x.pcapng")));

        // pcap save: one file per segment, and the printed command decrypts CLIENT1's segment.
        Assert.True(File.Exists(Path.Combine(segments, "wan.pcapng")));
        Assert.True(File.Exists(Path.Combine(segments, "c1-port2.pcapng")));
        var decrypt = transcript.Split('\n').Single(l => l.StartsWith("decrypt: tshark -r ", StringComparison.Ordinal))["decrypt: ".Length..];
        Assert.Contains(Path.Combine(segments, "wan.pcapng"), decrypt);
        var run = SystemCommand.Run("sh", ["-c", decrypt + " -T fields -e esp.spi -e esp.icv_good -e icmp.type"]);
        Assert.True(run.Ok, run.Error);
        var esp = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).Where(f => f[0].Length > 0).ToList();
        Assert.True(esp.Count > 100, $"only {esp.Count} ESP packets");
        Assert.All(esp, f => Assert.Equal("1", f[1]));
        Assert.Contains(esp, f => f[2] == "8");
        Assert.Contains(esp, f => f[2] == "0");
    }

    private static List<string[]> Tshark(string[] args)
    {
        var r = SystemCommand.Run("tshark", args);
        Assert.True(r.Ok, r.Error);
        return r.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToList();
    }
}
