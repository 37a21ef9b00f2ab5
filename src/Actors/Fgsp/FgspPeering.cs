using ClusterActors.Actors.DataPlane;
using System.Net;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgsp;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Actors.Fgsp;

/// <summary>One configured `cluster-peer` and the unit that currently answers for its peerip, if any.</summary>
public sealed record FgspDetectedPeer(int PeerId, string PeerIp, FgspAnnouncement? Unit);

/// <summary>
/// Pure FGSP peer detection: a configured `peerip` is answered by the FGCP primary of another cluster that holds
/// that address on its FGSP link, in the same standalone group, on a unit that is alive in the Akka cluster.
/// When that cluster fails over its new primary takes the address, so the peer follows it. A standalone unit (HA mode
/// standalone, <paramref name="ownFgcpGroup"/> null in <see cref="Detect"/>) is a cluster of its own: every other unit
/// may be its peer, as Fortinet's "FGSP per-tunnel failover for IPsec" peers four standalone FortiGates. Comparing
/// group-ids there would leave them none: they all carry the default group-id 0.
/// </summary>
public static class FgspPeering
{
    /// <param name="ownFgcpGroup">This unit's FGCP group-id, or null when it is standalone (in no FGCP cluster).</param>
    /// <param name="ownSerial">This unit's serial: a standalone unit is never its own peer.</param>
    public static IReadOnlyList<FgspDetectedPeer> Detect(
        StandaloneClusterConfig config, int? ownFgcpGroup, IEnumerable<FgspAnnouncement> announcements, ISet<string> liveAkkaAddresses,
        string? ownSerial = null)
    {
        var candidates = announcements
            .Where(a => a.StandaloneGroupId == config.StandaloneGroupId && a.IsFgcpPrimary
                        && (ownFgcpGroup is { } group ? a.FgcpGroupId != group : a.Serial != ownSerial)
                        && liveAkkaAddresses.Contains(a.AkkaAddress))
            .ToList();
        return config.Peers
            .Select(p => new FgspDetectedPeer(p.Id, p.PeerIp,
                // Two live primaries claiming one address only happen mid-failover: the newest incarnation is the one that stays.
                candidates.Where(a => a.FgspAddress == p.PeerIp).OrderByDescending(a => a.Incarnation).FirstOrDefault()))
            .ToList();
    }

    /// <summary>
    /// Sums per-unit sync counters (keyed by Akka address) into one pair per other FGSP member, as the peer line of
    /// `diagnose sys ha standalone-peers` shows them. A member is its group-member-id: an FGCP cluster's units share one
    /// (the seed's DC2_VM1 and DC2_VM2 are both 1), a standalone unit has its own. Grouping by FGCP group-id, as before,
    /// left standalone peers nothing: they all carry the default group-id 0, the own one included, so every peer line of
    /// Fortinet's four standalone units read 0. Units not (yet) announced, and units of the own member, are not counted.
    /// </summary>
    public static IReadOnlyDictionary<int, FgspSyncCounters> SyncByPeerMember(
        int ownGroupMemberId, IEnumerable<FgspAnnouncement> announcements, IReadOnlyDictionary<string, (long Sent, long Received)> byAddress)
    {
        var result = new Dictionary<int, FgspSyncCounters>();
        foreach (var member in announcements.Where(a => a.GroupMemberId != ownGroupMemberId).GroupBy(a => a.GroupMemberId))
        {
            long sent = 0, received = 0;
            foreach (var address in member.Select(a => a.AkkaAddress).Distinct())
                if (byAddress.TryGetValue(address, out var c))
                {
                    sent += c.Sent;
                    received += c.Received;
                }
            result[member.Key] = new FgspSyncCounters(sent, received);
        }
        return result;
    }

    /// <summary>The unit's own address on the FGSP link: the interface whose subnet holds the first peer's address.</summary>
    public static string? OwnAddress(ConfigDocument config)
    {
        var peer = config.StandaloneCluster.Peers.FirstOrDefault()?.PeerIp;
        if (peer is null || !IPAddress.TryParse(peer, out var peerIp)) return null;
        foreach (var i in config.Interfaces)
        {
            if (i.Ip == "0.0.0.0" || !IPAddress.TryParse(i.Ip, out var ip) || i.PrefixLength is 0 or 32) continue;
            if (new Ipv4Prefix(Ipv4Address.ToUInt32(ip), i.PrefixLength).Contains(peerIp)) return i.Ip;
        }
        return null;
    }
}
