using System.Globalization;
using System.Text;

namespace ClusterActors.Protocol.Packets;

/// <summary>
/// The hex dump FortiOS prints under a packet's header line at `diagnose sniffer packet … 2|3|5|6`: 16 octets a line,
/// `0x0000` offset, a tab, eight ` xxxx` groups, a tab, the 16 octets as ASCII (printable 0x20–0x7e, else '.').
/// A short last line is padded so its ASCII column stays where the others' is (column 56 with 8-wide tabs), as in the
/// captures that fgsniffer and similar converters parse. An odd last octet prints as ` xx` (our choice: the sources
/// show only even lengths). See src/Protocol/Packets/README.md for what was sourced and what was chosen.
/// </summary>
public static class SnifferHexDump
{
    public const int OctetsPerLine = 16;

    /// <summary>The dump of <paramref name="bytes"/>, one line per 16 octets, each ending in '\n'; empty for no bytes.</summary>
    public static string Format(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length / OctetsPerLine * 74 + 74);
        for (var offset = 0; offset < bytes.Length; offset += OctetsPerLine)
        {
            var line = bytes.Slice(offset, Math.Min(OctetsPerLine, bytes.Length - offset));
            sb.Append("0x").Append(offset.ToString("x4", CultureInfo.InvariantCulture)).Append('\t');
            for (var i = 0; i < OctetsPerLine; i += 2)
            {
                if (i + 1 < line.Length) sb.Append(' ').Append(line[i].ToString("x2", CultureInfo.InvariantCulture)).Append(line[i + 1].ToString("x2", CultureInfo.InvariantCulture));
                else if (i < line.Length) sb.Append(' ').Append(line[i].ToString("x2", CultureInfo.InvariantCulture)).Append("  ");
                else sb.Append("     ");
            }
            sb.Append('\t');
            foreach (var b in line) sb.Append(b is >= 0x20 and <= 0x7e ? (char)b : '.');
            sb.Append('\n');
        }
        return sb.ToString();
    }
}
