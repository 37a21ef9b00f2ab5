using System.Globalization;

namespace ClusterActors.Node.Drills;

/// <summary>
/// What a unit's process must hold in the container lab (docker-compose.yml, src/Node/lab/scripts/lab-user), read from
/// its /proc/PID/status: not root, NET_ADMIN and NET_RAW permitted, effective, ambient and bounding and nothing else,
/// no_new_privs set. <see cref="DockerDrillLab"/> refuses a lab whose units run otherwise.
/// </summary>
public static class UnitPrivileges
{
    /// <summary>CAP_NET_ADMIN (12) and CAP_NET_RAW (13).</summary>
    public const ulong NetworkOnly = (1UL << 12) | (1UL << 13);

    /// <summary>Null when the status shows the lab's least privilege, else what is wrong.</summary>
    public static string? Problem(string procStatus)
    {
        var fields = procStatus.Split('\n')
            .Select(l => l.Split(':', 2))
            .Where(p => p.Length == 2)
            .GroupBy(p => p[0].Trim())
            .ToDictionary(g => g.Key, g => g.First()[1].Trim());
        var problems = new List<string>();
        if (!fields.TryGetValue("Uid", out var uid)) return "no Uid line";
        var uids = uid.Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
        if (uids.Length == 0 || uids.Any(u => u == "0")) problems.Add($"runs as uid {uid.Replace('\t', ' ')}");
        foreach (var set in new[] { "CapPrm", "CapEff", "CapAmb", "CapBnd" })
        {
            if (!fields.TryGetValue(set, out var hex) || !ulong.TryParse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var caps))
                problems.Add($"no {set}");
            else if (caps != NetworkOnly)
                problems.Add($"{set} {caps:x16}, expected {NetworkOnly:x16} (NET_ADMIN, NET_RAW)");
        }
        if (!fields.TryGetValue("NoNewPrivs", out var nnp) || nnp != "1") problems.Add("no_new_privs not set");
        return problems.Count == 0 ? null : string.Join("; ", problems);
    }
}
