using System.Net;
using System.Text.Json;
using ClusterActors.Node.Drills;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Ike;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>A run's pcaps and the tshark command in its report (the command itself is run by DrillEndToEndSpec).</summary>
public sealed class DrillPacketsReportSpec
{
    private static readonly IPAddress Client = IPAddress.Parse("192.168.7.2");
    private static readonly IPAddress Lb1 = IPAddress.Parse("192.168.202.35");

    private static EspSaOnWire Sa(uint spi, string proposal = "aes128-sha1")
    {
        var suite = IkeSuite.Parse(proposal);
        return new EspSaOnWire(Client, Lb1, new EspSaKeys(spi, new byte[suite.EncrKeyBytes], new byte[suite.IntegKeyLength], suite));
    }

    private static readonly SegmentPcap[] Files =
    [
        new("c1-port2", "/r/fgcp-failover-1-c1-port2.pcapng", 5318, 0),
        new("wan", "/r/fgcp-failover-1-wan.pcapng", 20000, 1234),
    ];

    [Fact]
    public void The_report_lists_each_segments_file_and_the_command_for_the_clients_segment()
    {
        var result = DrillCommand.WithPackets(DrillSamples.Passing(), new DrillPackets(Files, "wan", [Sa(0xc2b717a6)]));
        Assert.StartsWith("tshark -r '/r/fgcp-failover-1-wan.pcapng' -o 'esp.enable_encryption_decode:TRUE' -o 'esp.enable_authentication_check:TRUE' " +
                          "-o 'uat:esp_sa:\"IPv4\",\"192.168.7.2\",\"192.168.202.35\",\"0xc2b717a6\",\"AES-CBC [RFC3602]\",", result.TsharkCommand);

        var md = MarkdownReport.Render(result);
        Assert.Contains("## Packets\n", md);
        Assert.Contains("- `fgcp-failover-1-c1-port2.pcapng`: c1-port2, 5318 packets\n", md);
        Assert.Contains("- `fgcp-failover-1-wan.pcapng`: wan, 20000 packets (1234 more between the first and the most recent, past the capture's bound, not saved)\n", md);
        Assert.Contains("```\n" + result.TsharkCommand + "\n```\n", md);

        using var json = JsonDocument.Parse(JsonReport.Render(result));
        Assert.Equal(result.TsharkCommand, json.RootElement.GetProperty("tshark_command").GetString());
        var wan = json.RootElement.GetProperty("pcaps")[1];
        Assert.Equal(("wan", 20000, 1234), (wan.GetProperty("segment").GetString(), wan.GetProperty("packets").GetInt64(), wan.GetProperty("not_kept").GetInt64()));
    }

    [Fact]
    public void A_lab_without_captures_leaves_the_report_as_it_was()
    {
        var plain = DrillSamples.Passing();
        Assert.Same(plain, DrillCommand.WithPackets(plain, null)); // the container lab
        Assert.Same(plain, DrillCommand.WithPackets(plain, new DrillPackets([], "wan", [Sa(1)])));
        Assert.DoesNotContain("## Packets", MarkdownReport.Render(plain));
        using var json = JsonDocument.Parse(JsonReport.Render(plain));
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("tshark_command").ValueKind);
    }

    [Fact]
    public void A_suite_wireshark_cannot_decrypt_says_so_instead_of_a_command()
    {
        var result = DrillCommand.WithPackets(DrillSamples.Passing(), new DrillPackets(Files, "wan", [Sa(7, "chacha20poly1305")]));
        Assert.Equal("(no tshark command: Wireshark 4.0 cannot decrypt ESP under chacha20poly1305)", result.TsharkCommand);
    }
}
