using System.Security.Cryptography;
using System.Text;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;

namespace ClusterActors.Actors.Fgcp;

/// <summary>
/// The configuration checksums FortiOS prints with <c>diagnose sys ha checksum show|cluster</c>: one for the global part,
/// one per VDOM (this lab has only <c>root</c>) and one for all of it, 16 bytes each. Computed from the synced part of the
/// configuration the unit holds (what FGCP copies; per-unit keys such as hostname and priority left out, as in
/// <see cref="FgcpConfigSync.Checksum"/>), so two members of a synced cluster print the same figures and a member that
/// missed a change does not. Pure. Choices (README "Config checksums"): MD5 over the rendered text of each part; the
/// global part is every top-level <c>config system …</c> block, <c>root</c> every other block (vpn, router, firewall).
/// </summary>
public static class HaChecksums
{
    public static HaConfigChecksums Of(ConfigDocument config)
    {
        var synced = ConfigDocument.Empty.WithSyncedFrom(config).ToText();
        var global = new StringBuilder();
        var root = new StringBuilder();
        StringBuilder? current = null;
        foreach (var line in synced.Split('\n'))
        {
            if (current is null)
            {
                if (!line.StartsWith("config ", StringComparison.Ordinal)) continue; // header lines belong to no block
                current = line.StartsWith("config system ", StringComparison.Ordinal) ? global : root;
            }
            current.Append(line).Append('\n');
            if (line == "end") current = null;
        }
        return new HaConfigChecksums(Md5(global.ToString()), Md5(root.ToString()), Md5(synced));
    }

    private static string Md5(string text) => Convert.ToHexString(MD5.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant();
}
