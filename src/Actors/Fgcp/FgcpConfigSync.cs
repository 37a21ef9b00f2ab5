using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Cluster;
using ClusterActors.Protocol.Config;

namespace ClusterActors.Actors.Fgcp;

/// <summary>
/// What FGCP compares and copies between primary and secondary: the synced part of the configuration only
/// (per-unit keys such as priority, override and hostname stay each unit's own).
/// </summary>
public static class FgcpConfigSync
{
    /// <summary>Source recorded for changes that arrived by FGCP sync; such changes are never forwarded back.</summary>
    public const string SyncSource = "ha-sync";

    public static string Checksum(ConfigDocument config)
    {
        var synced = ConfigDocument.Empty.WithSyncedFrom(config).ToText();
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(synced)))[..32].ToLowerInvariant();
    }

    /// <summary>Prefix of the Akka cluster role that carries a unit's serial number.</summary>
    public const string SerialRolePrefix = "serial:";

    public static string SerialRole(string serial) => SerialRolePrefix + serial;

    /// <summary>
    /// Where the configuration for unit <paramref name="serial"/> goes: the one Akka cluster member, up (or weakly up) and
    /// reachable, whose role names that serial. Membership is Akka's (who may join is the transport's business: TLS with
    /// lab certificates), never an address from a heartbeat, which anyone on the heartbeat link can write. None, or more
    /// than one such member (a serial claimed twice): no destination, and why.
    /// </summary>
    public static (Address? Address, string Why) Destination(string serial, IEnumerable<FgcpSyncCandidate> members)
    {
        var role = SerialRole(serial);
        var named = members.Where(m => m.Roles.Contains(role)).ToList();
        var usable = named.Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp && m.Reachable).ToList();
        return usable.Count switch
        {
            1 => (usable[0].Address, ""),
            0 when named.Count == 0 => (null, $"no Akka cluster member has the role {role}"),
            0 => (null, $"the Akka member with the role {role} is not up and reachable"),
            _ => (null, $"{usable.Count} Akka members claim the role {role}: config is sent to none of them"),
        };
    }
}

/// <summary>An Akka cluster member as <see cref="FgcpConfigSync.Destination"/> sees it.</summary>
public sealed record FgcpSyncCandidate(Address Address, IEnumerable<string> Roles, MemberStatus Status, bool Reachable);
