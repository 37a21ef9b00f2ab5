using System.Text;

namespace ClusterActors.Node.Hosting.Kernel;

/// <summary>Which netfilter front end <see cref="KernelPacketIo.PrepareNamespace"/> uses.</summary>
public enum NamespaceFirewall
{
    /// <summary>nft when installed (Debian 12's default), else iptables.</summary>
    Auto,
    Nftables,
    Iptables
}

/// <summary>
/// What a unit's network namespace needs so that its kernel does not ALSO act on what the unit handles itself
/// (AF_PACKET hands the unit every frame before netfilter sees it, so the unit still gets all of it):
/// <list type="bullet">
/// <item>no IP forwarding (a new namespace inherits the host's ip_forward=1): the unit routes transit traffic;</item>
/// <item>netfilter INPUT drops ESP, UDP 500/4500 and ICMP echo requests arriving on the unit's interfaces: the unit
/// answers those on its addresses, the kernel must neither answer nor send port/protocol unreachable;</item>
/// <item>arp_ignore=1 and arp_announce=2: the kernel answers ARP for an address only on the interface that holds it,
/// and asks with a source address of that interface — the virtual-MAC rule per port;</item>
/// <item>promote_secondaries=1: taking the cluster address off an interface keeps a per-unit address of the same
/// subnet (Linux deletes an address's secondaries with it otherwise).</item>
/// </list>
/// Docker mounts /proc/sys read-only: there the sysctls come from the container's own settings (compose `sysctls:`,
/// `docker run --sysctl`) and this only checks them; see <see cref="Script"/> and README.md.
/// </summary>
public sealed record NamespacePreparation(string? Namespace, string Firewall, IReadOnlyList<string> Steps)
{
    public const string NftTable = "clusteractors";

    /// <summary>The sysctls a unit's namespace needs, as (name under /proc/sys, value).</summary>
    public static readonly IReadOnlyList<(string Key, string Value)> Sysctls =
    [
        ("net/ipv4/ip_forward", "0"),
        ("net/ipv4/conf/all/forwarding", "0"),
        ("net/ipv4/conf/all/arp_ignore", "1"),
        ("net/ipv4/conf/all/arp_announce", "2"),
        ("net/ipv4/conf/all/promote_secondaries", "1"),
    ];

    public override string ToString() =>
        $"namespace {Namespace ?? "(own)"} prepared with {Firewall}:\n" + string.Concat(Steps.Select(s => "  " + s + "\n"));

    /// <summary>The nftables ruleset (one atomic `nft -f` file; re-applying replaces the table).</summary>
    public static string NftRuleset(IReadOnlyList<string>? interfaces)
    {
        var match = interfaces is { Count: > 0 }
            ? $"iifname {{ {string.Join(", ", interfaces.Select(i => $"\"{i}\""))} }}"
            : "iifname != \"lo\"";
        return $$"""
            table ip {{NftTable}}
            delete table ip {{NftTable}}
            table ip {{NftTable}} {
                chain input {
                    type filter hook input priority filter; policy accept;
                    {{match}} ip protocol esp drop
                    {{match}} udp dport { 500, 4500 } drop
                    {{match}} icmp type echo-request drop
                }
            }

            """;
    }

    /// <summary>The same as a shell script, for a container entrypoint that prepares the namespace before the unit starts.</summary>
    public static string Script(IReadOnlyList<string>? interfaces = null)
    {
        var sb = new StringBuilder();
        sb.Append("#!/bin/sh\n# The unit answers ICMP echo, IKE and ESP and routes transit traffic itself (AF_PACKET): the kernel must not.\n");
        sb.Append("set -e\n");
        foreach (var (key, value) in Sysctls)
        {
            var name = key.Replace('/', '.');
            sb.Append($"{{ echo {value} > /proc/sys/{key}; }} 2>/dev/null || [ \"$(cat /proc/sys/{key})\" = {value} ] ")
              .Append($"|| {{ echo \"{name} must be {value} (read-only /proc/sys: docker run --sysctl {name}={value})\" >&2; exit 1; }}\n");
        }
        sb.Append("nft -f - <<'EOF'\n").Append(NftRuleset(interfaces)).Append("EOF\n");
        return sb.ToString();
    }

    internal static NamespacePreparation Apply(string? ns, IReadOnlyList<string>? interfaces, NamespaceFirewall firewall)
    {
        var steps = new List<string>();
        var problems = new List<string>();
        foreach (var (key, value) in Sysctls)
        {
            var outcome = LinuxNet.InNamespace(ns, () => SetSysctl(key, value));
            if (outcome.StartsWith("FAILED", StringComparison.Ordinal)) problems.Add(outcome[7..]);
            else steps.Add(outcome);
        }

        var useNft = firewall switch
        {
            NamespaceFirewall.Nftables => true,
            NamespaceFirewall.Iptables => false,
            _ => SystemCommand.Find("nft") is not null || SystemCommand.Find("iptables") is null
        };
        string used;
        if (useNft)
        {
            used = "nftables";
            var r = SystemCommand.InNamespace(ns, "nft", ["-f", "-"], NftRuleset(interfaces));
            if (r.Ok) steps.Add($"nft table ip {NftTable}: input drops esp, udp 500/4500, icmp echo-request on " + Describe(interfaces));
            else problems.Add(r.ToString());
        }
        else
        {
            used = "iptables";
            const string chain = "CLUSTERACTORS";
            SystemCommand.InNamespace(ns, "iptables", ["-w", "-N", chain]); // fails when it exists: fine, it is flushed next
            var commands = new List<string[]> { new[] { "-w", "-F", chain } };
            if (!SystemCommand.InNamespace(ns, "iptables", ["-w", "-C", "INPUT", "-j", chain]).Ok)
                commands.Add(["-w", "-I", "INPUT", "-j", chain]);
            foreach (var match in interfaces is { Count: > 0 } ? interfaces.Select(i => new[] { "-i", i }) : [new[] { "!", "-i", "lo" }])
            {
                commands.Add(["-w", "-A", chain, .. match, "-p", "esp", "-j", "DROP"]);
                commands.Add(["-w", "-A", chain, .. match, "-p", "udp", "-m", "multiport", "--dports", "500,4500", "-j", "DROP"]);
                commands.Add(["-w", "-A", chain, .. match, "-p", "icmp", "--icmp-type", "echo-request", "-j", "DROP"]);
            }
            foreach (var c in commands)
            {
                var r = SystemCommand.InNamespace(ns, "iptables", c);
                if (!r.Ok) problems.Add(r.ToString());
            }
            if (problems.Count == 0)
                steps.Add($"iptables chain {chain} (from INPUT): drops esp, udp 500/4500, icmp echo-request on " + Describe(interfaces));
        }

        if (problems.Count > 0)
            throw new InvalidOperationException(
                $"preparing network namespace {ns ?? "(own)"} for a unit failed:\n  " + string.Join("\n  ", problems) +
                "\n(needs NET_ADMIN; in Docker set the sysctls with --sysctl / compose sysctls:, /proc/sys is read-only there)");
        return new NamespacePreparation(ns, used, steps);
    }

    private static string Describe(IReadOnlyList<string>? interfaces) =>
        interfaces is { Count: > 0 } ? string.Join(", ", interfaces) : "every interface but lo";

    /// <summary>Writes one sysctl of the current thread's namespace (/proc/sys/net follows the thread's namespace).</summary>
    private static string SetSysctl(string key, string value)
    {
        var path = "/proc/sys/" + key;
        string Current() => File.Exists(path) ? File.ReadAllText(path).Trim() : "(missing)";
        try
        {
            File.WriteAllText(path, value + "\n");
            var now = Current();
            return now == value ? $"{key.Replace('/', '.')} = {value}" : $"FAILED {key.Replace('/', '.')} is {now} after writing {value}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var now = Current();
            return now == value
                ? $"{key.Replace('/', '.')} = {value} (already; /proc/sys not writable here)"
                : $"FAILED {key.Replace('/', '.')} is {now}, needs {value}, and /proc/sys is not writable here ({e.Message})";
        }
    }
}
