using System.Security.Cryptography;
using System.Text;
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
}
