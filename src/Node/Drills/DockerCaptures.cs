using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using ClusterActors.Node.DockerLab;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Ike;

namespace ClusterActors.Node.Drills;

/// <summary>
/// The container lab's packet evidence (issue 14 item 3, "each drill run saves one pcap per segment next to its
/// report"): one `dumpcap` per lab bridge on this host, from the lab's start to the run's end, each bounded by
/// <see cref="MaxPacketsPerSegment"/> (dumpcap keeps the first ones; the embedded capture keeps a head and the most
/// recent). The management network is never captured: it carries the admin logins. The SAs that decrypt the client's
/// ESP come from the units' own `diagnose vpn tunnel list` (its keys, as FortiOS prints them), not from the client.
/// Without dumpcap (Debian's wireshark-common, with tshark) the run says so and saves nothing; the drill still runs.
/// </summary>
public sealed class DockerCaptures : IDisposable
{
    public const int MaxPacketsPerSegment = 200_000;

    private readonly List<(LabNetwork Network, Process Dumpcap, string File)> _running = new();
    private readonly string _folder;

    private DockerCaptures(string folder) => _folder = folder;

    /// <summary>Starts one dumpcap per captured bridge of <paramref name="plan"/> into <paramref name="folder"/>; null (and
    /// why, in <paramref name="why"/>) when dumpcap is not installed.</summary>
    public static DockerCaptures? Start(DockerLabPlan plan, string folder, out string? why)
    {
        why = null;
        var dumpcap = new[] { "/usr/bin/dumpcap", "/usr/sbin/dumpcap" }.FirstOrDefault(File.Exists);
        if (dumpcap is null)
        {
            why = "dumpcap is not installed (Debian: apt install tshark): no pcaps";
            return null;
        }
        Directory.CreateDirectory(folder);
        var captures = new DockerCaptures(folder);
        foreach (var network in Captured(plan))
        {
            var file = Path.Combine(folder, network.Name + ".pcapng");
            var start = new ProcessStartInfo(dumpcap) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in Arguments(network.Bridge, file)) start.ArgumentList.Add(a);
            try
            {
                var process = Process.Start(start)!;
                // Drained so a chatty dumpcap never blocks on a full pipe.
                process.ErrorDataReceived += (_, _) => { };
                process.OutputDataReceived += (_, _) => { };
                process.BeginErrorReadLine();
                process.BeginOutputReadLine();
                captures._running.Add((network, process, file));
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                why = $"dumpcap did not start on {network.Bridge}: {e.Message}";
            }
        }
        return captures;
    }

    /// <summary>Every network but the management one, whose admin logins a capture must not keep.</summary>
    public static IReadOnlyList<LabNetwork> Captured(DockerLabPlan plan) => plan.Networks.Where(n => n.Kind != LabNetworkKind.Management).ToList();

    /// <summary>dumpcap's arguments: quiet, pcapng, bounded in packets and in time (a forgotten capture ends by itself).</summary>
    public static IReadOnlyList<string> Arguments(string bridge, string file) =>
        ["-q", "-i", bridge, "-w", file, "-c", MaxPacketsPerSegment.ToString(CultureInfo.InvariantCulture), "-a", "duration:3600"];

    /// <summary>Stops every capture (SIGINT, so dumpcap writes its last blocks) and copies each file as
    /// `STEM-SEGMENT.pcapng` into <paramref name="directory"/>.</summary>
    public IReadOnlyList<SegmentPcap> Save(string directory, string stem)
    {
        Stop();
        var saved = new List<SegmentPcap>();
        foreach (var (network, _, file) in _running)
        {
            if (!File.Exists(file)) continue;
            var to = Path.Combine(directory, $"{stem}-{network.Name}.pcapng");
            File.Copy(file, to, overwrite: true);
            saved.Add(new SegmentPcap(network.Name, to, CountPackets(File.ReadAllBytes(to)), 0));
        }
        return saved;
    }

    private bool _stopped;

    private void Stop()
    {
        if (_stopped) return;
        _stopped = true;
        foreach (var (_, process, _) in _running)
        {
            if (process.HasExited) continue;
            try
            {
                Process.Start(new ProcessStartInfo("kill", ["-INT", process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })?.WaitForExit(5000);
            }
            catch (System.ComponentModel.Win32Exception) { }
        }
        foreach (var (_, process, _) in _running)
        {
            if (!process.WaitForExit(5000))
                try { process.Kill(); } catch (InvalidOperationException) { }
        }
    }

    public void Dispose()
    {
        Stop();
        foreach (var (_, process, _) in _running) process.Dispose();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// The packets of a pcapng file: its Enhanced (type 6) and Simple (type 3) Packet Blocks, read block by block
    /// (little-endian, as dumpcap writes on this host). Stops at the first block that does not fit: a capture cut off.
    /// </summary>
    public static long CountPackets(ReadOnlySpan<byte> pcapng)
    {
        long packets = 0;
        var at = 0;
        while (at + 12 <= pcapng.Length)
        {
            var type = BitConverter.ToUInt32(pcapng[at..]);
            var length = BitConverter.ToUInt32(pcapng[(at + 4)..]);
            if (length < 12 || length % 4 != 0 || at + length > pcapng.Length) break;
            if (type is 6 or 3) packets++;
            at += (int)length;
        }
        return packets;
    }

    /// <summary>
    /// The ESP SAs of every tunnel in <paramref name="tunnelList"/> (`diagnose vpn tunnel list` of one unit), as they
    /// cross the wire: `dec` from the client to the unit's local gateway, `enc` the other way, each with its keys and the
    /// suite of the unit's phase2 whose key lengths they have (<paramref name="proposals"/>, in the config's order).
    /// A block whose keys match no proposal is left out.
    /// </summary>
    public static IReadOnlyList<EspSaOnWire> SasOf(string tunnelList, IReadOnlyList<string> proposals)
    {
        var sas = new List<EspSaOnWire>();
        var suites = proposals.Select(p => { try { return IkeSuite.Parse(p); } catch (ArgumentException) { return null; } }).OfType<IkeSuite>().ToList();
        foreach (var block in Regex.Split(tunnelList, @"(?m)^(?=name=)").Where(b => b.StartsWith("name=", StringComparison.Ordinal)))
        {
            var ends = Regex.Match(block, @"^name=\S+ .*? (\d+\.\d+\.\d+\.\d+):\d+->(\d+\.\d+\.\d+\.\d+):\d+");
            if (!ends.Success) continue;
            var (local, remote) = (IPAddress.Parse(ends.Groups[1].Value), IPAddress.Parse(ends.Groups[2].Value));
            foreach (var (dir, from, to) in new[] { ("dec", remote, local), ("enc", local, remote) })
            {
                var m = Regex.Match(block, $@"{dir}: spi=([0-9a-f]{{8}}) esp=\S+ key=(\d+) ([0-9a-f]*)\s*\n\s*ah=\S+ key=(\d+) ([0-9a-f]*)");
                if (!m.Success) continue;
                var spi = uint.Parse(m.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                var enc = Convert.FromHexString(m.Groups[3].Value);
                var auth = Convert.FromHexString(m.Groups[5].Value);
                if (spi == 0 || suites.FirstOrDefault(s => s.EncrKeyBytes == enc.Length && s.IntegKeyLength == auth.Length) is not { } suite) continue;
                sas.Add(new EspSaOnWire(from, to, new EspSaKeys(spi, enc, auth, suite)));
            }
        }
        return sas;
    }

    /// <summary>The phase2 proposals of a unit's config, in order (`set proposal aes128-sha1 aes256-sha256` …).</summary>
    public static IReadOnlyList<string> Proposals(ConfigDocument config) =>
        config.Phase2.SelectMany(p => p.Proposal).Distinct().ToList();
}
