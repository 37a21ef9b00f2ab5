using ClusterActors.Node.Hosting.Kernel;

namespace ClusterActors.Node.Tests;

/// <summary>A system tool a spec shells out to is not installed: the one line names the tool and its Debian package.</summary>
public sealed class MissingToolException(string message) : Exception(message);

/// <summary>
/// The system tools the specs shell out to, with their Debian packages: the same table as .ci/test-prerequisites (the
/// README's test command runs it first; <see cref="RequiredToolSpec"/> checks both lists agree). A spec calls
/// <see cref="Check"/> for every tool it uses before it builds anything, so a machine without one fails the spec at
/// once with one line ("ping (Debian package iputils-ping) is not installed …") instead of a timeout further on.
/// </summary>
public static class RequiredTool
{
    /// <summary>Tool (a name looked up on PATH, /usr/sbin, /sbin, or an absolute path) → Debian package.</summary>
    public static readonly IReadOnlyDictionary<string, string> Packages = new Dictionary<string, string>
    {
        ["ip"] = "iproute2",
        ["ping"] = "iputils-ping",
        ["nft"] = "nftables",
        ["iptables"] = "iptables",
        ["sysctl"] = "procps",
        ["swanctl"] = "strongswan-swanctl",
        [Charon] = "charon-systemd",
        [KernelLibipsec] = "libcharon-extra-plugins",
        ["docker-compose"] = "docker-compose",
        ["tshark"] = "tshark",
        ["tmux"] = "tmux",
        ["dot"] = "graphviz",
        ["chromium"] = "chromium",
    };

    /// <summary>strongSwan's charon as Debian 12 ships it in charon-systemd.</summary>
    public const string Charon = "/usr/sbin/charon-systemd";

    /// <summary>charon's userspace ESP (kernel-libipsec), which the lab's strongswan.conf loads.</summary>
    public const string KernelLibipsec = "/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so";

    /// <summary>Where <paramref name="tool"/> is; throws <see cref="MissingToolException"/> naming it and its package.</summary>
    public static string Path(string tool)
    {
        Check(tool);
        return Locate(tool)!;
    }

    /// <summary>Every one of <paramref name="tools"/> is installed, or one line naming each missing tool and its package.</summary>
    public static void Check(params string[] tools) => Check(Locate, tools);

    /// <summary><see cref="Check(string[])"/> with the lookup given (for the spec of the message itself).</summary>
    public static void Check(Func<string, string?> locate, params string[] tools)
    {
        var missing = new List<string>();
        foreach (var tool in tools)
        {
            if (!Packages.TryGetValue(tool, out var package))
                throw new ArgumentException($"'{tool}' is not in RequiredTool.Packages nor in .ci/test-prerequisites: add it to both", nameof(tools));
            if (locate(tool) is null) missing.Add($"{tool} (Debian package {package})");
        }
        if (missing.Count == 0) return;
        var packages = string.Join(' ', tools.Where(t => locate(t) is null).Select(t => Packages[t]).Distinct());
        throw new MissingToolException(
            $"{string.Join(", ", missing)} {(missing.Count == 1 ? "is" : "are")} not installed: run .ci/test-prerequisites as root (apt-get install {packages})");
    }

    private static string? Locate(string tool) =>
        tool.StartsWith('/') ? File.Exists(tool) ? tool : null : SystemCommand.Find(tool);
}
