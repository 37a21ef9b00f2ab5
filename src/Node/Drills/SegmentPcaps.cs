using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Protocol.Esp;

namespace ClusterActors.Node.Drills;

/// <summary>
/// Writes a <see cref="FabricCapture"/> as files — one pcapng per segment, `PREFIX-SEGMENT.pcapng` (or `SEGMENT.pcapng`
/// without a prefix) — and names what decrypts them: CLIENT1's CHILD SAs and the segment its ESP crosses. Shared by the
/// drills (next to each run's report) and the scenario scripts' `pcap save DIR`.
/// </summary>
public static class SegmentPcaps
{
    public static IReadOnlyList<SegmentPcap> Write(FabricCapture capture, string directory, string? prefix)
    {
        Directory.CreateDirectory(directory);
        var files = new List<SegmentPcap>();
        foreach (var counts in capture.Counts())
        {
            if (capture.Encode(counts.Segment) is not { } pcap) continue;
            var file = Path.Combine(directory, prefix is null ? $"{counts.Segment}.pcapng" : $"{prefix}-{counts.Segment}.pcapng");
            File.WriteAllBytes(file, pcap);
            files.Add(new SegmentPcap(counts.Segment, file, counts.Kept, counts.NotKept));
        }
        return files;
    }

    /// <summary>The client's current CHILD SA both ways (client → gateway and back); empty when it has no tunnel.</summary>
    public static IReadOnlyList<EspSaOnWire> ClientSas(DialupClientGateway? client)
    {
        if (client?.Established is not { } est) return [];
        var wan = client.Settings.WanAddress.Address;
        var gateway = client.Settings.RemoteGateway;
        return [new EspSaOnWire(wan, gateway, est.Child.OutboundEsp()), new EspSaOnWire(gateway, wan, est.Child.InboundEsp())];
    }

    /// <summary>The segment the client's WAN port is cabled to (where its ESP travels); null without a client.</summary>
    public static string? ClientSegment(InMemoryFabric fabric, DialupClientGateway? client) =>
        client is null ? null : fabric.Wiring.FirstOrDefault(w => $"{w.Host} {w.Interface}" == client.Wan.ToString())?.Segment;

    /// <summary>What `pcap save` and a drill print: each file with its count, then the tshark command (or why there is none).</summary>
    public static string Describe(IReadOnlyList<SegmentPcap> files, string? espSegment, IReadOnlyList<EspSaOnWire> sas)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var f in files)
            sb.Append($"wrote {f.File} ({f.Packets} packets{(f.NotKept > 0 ? $", {f.NotKept} more between the first and the most recent not saved: the capture's bound" : "")})\n");
        if (files.Count == 0) sb.Append("no packets captured\n");
        else if (sas.Count == 0) sb.Append("no tunnel: no ESP keys to print\n");
        else
        {
            var esp = files.FirstOrDefault(f => f.Segment == espSegment) ?? files[0];
            sb.Append(WiresharkEspSa.Command(esp.File, sas, out var why) is { } command ? $"decrypt: {command}\n" : $"no tshark command: {why}\n");
        }
        return sb.ToString();
    }
}
