using System.Net;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.Drills;

/// <summary>The parts a drill names instead of units (issue 12, "Drills by role").</summary>
public enum DrillRole
{
    /// <summary>The unit that owns the client's tunnel (`role=sync-primary`) once it is dialed.</summary>
    Owner,

    /// <summary>The owner's FGCP peer: the other member of its FGCP cluster (none for a standalone owner).</summary>
    OwnerPeer,

    /// <summary>The primary of the FGSP member the DC router sends the client to once the owner's member is withdrawn.</summary>
    OtherMember,

    /// <summary>A unit of another FGSP member whose dialup phase1 has `set fgsp-sync disable`.</summary>
    NoSyncMember,
}

/// <summary>One role and the unit that plays it, for the reports.</summary>
public sealed record CastEntry(string Role, string Unit, string Why);

/// <summary>
/// Who plays each <see cref="DrillRole"/> in a lab, resolved from its topology alone, purely: which unit each FGCP
/// cluster elects at the start, where the DC router's flow hash sends the client, and where it sends it once the
/// owner's next hop is withdrawn. The run then holds the live lab to it (the tunnel must come up on
/// <see cref="Owner"/>, the clusters must form with <see cref="Primaries"/>), so a cast the lab does not play is a
/// failed run, never a silently different drill.
/// </summary>
/// <param name="Primaries">Each FGCP cluster's elected primary, and every standalone unit (its own primary).</param>
/// <param name="Uplinks">Per unit, its port the DC router's ECMP next hop sits on (the IPsec uplink, port2 in both shipped labs).</param>
/// <param name="Holders">The units expected to hold the client's SAs once dialed: the owner's FGCP cluster, and the other
/// FGSP members whose phase1 has fgsp-sync enabled when the owner's has too.</param>
/// <param name="Units">Every unit, in the topology's order.</param>
public sealed record DrillCast(
    string Owner,
    string? OwnerPeer,
    string? OtherMember,
    string? NoSyncMember,
    string? OtherMemberRefused,
    IReadOnlyList<string> Primaries,
    IReadOnlyDictionary<string, string> Uplinks,
    IReadOnlyList<string> Holders,
    IReadOnlyList<string> Units,
    IReadOnlyList<CastEntry> Entries)
{
    /// <summary>The unit playing <paramref name="role"/>, or null when the lab has none.</summary>
    public string? Unit(DrillRole role) => role switch
    {
        DrillRole.Owner => Owner,
        DrillRole.OwnerPeer => OwnerPeer,
        DrillRole.OtherMember => OtherMemberRefused is null ? OtherMember : null,
        DrillRole.NoSyncMember => NoSyncMember,
        _ => throw new ArgumentOutOfRangeException(nameof(role)),
    };

    /// <summary>Why <paramref name="role"/> has nobody in this lab (a drill that needs it is not applicable), or null.</summary>
    public string? Missing(DrillRole role) => role switch
    {
        DrillRole.Owner => null,
        DrillRole.OwnerPeer when OwnerPeer is null => $"the owner {Owner} has no FGCP peer (it is a standalone unit)",
        DrillRole.OtherMember when OtherMember is null => "no other FGSP member behind the DC router",
        DrillRole.OtherMember when OtherMemberRefused is not null => OtherMemberRefused,
        DrillRole.NoSyncMember when NoSyncMember is null => "no other FGSP member has `set fgsp-sync disable` on the dialup phase1",
        _ => null,
    };

    /// <summary>The unit's HA role once the lab is up: Primary for a cluster's elected primary and a standalone unit, else Secondary.</summary>
    public string HaAtStart(string unit) => Primaries.Contains(unit) ? "Primary" : "Secondary";

    /// <summary>The unit's uplink port (the DC router's next hop's segment).</summary>
    public string Uplink(string unit) => Uplinks.TryGetValue(unit, out var port) ? port
        : throw new ArgumentException($"{unit} has no port on a next hop of the DC router's ecmp route", nameof(unit));

    /// <summary>
    /// The cast of <paramref name="topology"/> with <paramref name="configs"/> (the units' configs as the lab runs them;
    /// default the topology's). FGCP's election at the start with override disabled and the units' uptimes within the
    /// margin: the highest priority, then the highest serial (src/Actors/Fgcp/README.md).
    /// </summary>
    public static DrillCast Resolve(LabTopology topology, IReadOnlyDictionary<string, ConfigDocument>? configs = null)
    {
        ConfigDocument Config(string unit) => configs?.GetValueOrDefault(unit) ?? topology.Unit(unit).Config;
        var units = topology.UnitNames;
        var cluster = units.ToDictionary(u => u, u => topology.ClusterOf(u)?.Members ?? (IReadOnlyList<string>)[u]);
        var primaries = units.Where(u => Elected(cluster[u], Config) == u).ToList();

        var router = topology.Routers.FirstOrDefault(r => r.Routes.Any(x => x.Kind == TopologyRouteKind.Ecmp))
                     ?? throw new ArgumentException($"topology {topology.Name} has no router with an ecmp route");
        var route = router.Routes.First(x => x.Kind == TopologyRouteKind.Ecmp);
        var client = topology.Clients.FirstOrDefault() ?? throw new ArgumentException($"topology {topology.Name} has no client");
        IReadOnlyList<string> Behind(IPAddress hop) =>
            topology.Wires.Where(w => units.Contains(w.Host) && w.Address.Address.Equals(hop)).Select(w => w.Host).ToList();
        var uplinks = new Dictionary<string, string>();
        foreach (var hop in route.Via)
            foreach (var w in topology.Wires.Where(w => units.Contains(w.Host) && w.Address.Address.Equals(hop)))
                uplinks[w.Host] = w.Interface;

        // The flow's ranking of the next hops: the router's choice, then its choice once that one is withdrawn, …
        var ranking = new List<IPAddress>();
        var alive = route.Via.ToList();
        while (alive.Count > 0 && EcmpSelection.Choose(client.Wan.Address, route.Destination.Network, alive, route.HashSeed) is { } chosen)
        {
            ranking.Add(chosen);
            alive.Remove(chosen);
        }
        string? PrimaryBehind(IPAddress hop) => Behind(hop).FirstOrDefault(primaries.Contains);
        var owner = ranking.Select(PrimaryBehind).FirstOrDefault(u => u is not null)
                    ?? throw new ArgumentException($"topology {topology.Name}: no unit answers on the DC router's next hops");
        var ownerCluster = cluster[owner];
        var peer = ownerCluster.Where(u => u != owner).OrderByDescending(u => Config(u).Ha.Priority)
            .ThenByDescending(u => Config(u).SerialNumber, StringComparer.Ordinal).FirstOrDefault();
        var other = ranking.Select(PrimaryBehind).FirstOrDefault(u => u is not null && !ownerCluster.Contains(u));

        bool Syncs(string unit) => Dialup(Config(unit))?.FgspSync ?? false;
        string? refused = null;
        if (other is not null && !Syncs(owner))
            refused = $"the owner {owner}'s phase1 has fgsp-sync disabled: no other FGSP member holds its tunnel";
        else if (other is not null && !Syncs(other))
            refused = $"the DC router's next choice {other} has fgsp-sync disabled: it holds no copy of the tunnel to take over";
        var noSync = units.FirstOrDefault(u => !ownerCluster.Contains(u) && Dialup(Config(u)) is not null && !Syncs(u));
        var holders = HoldersOf(topology, owner, Config);

        var entries = new List<CastEntry>
        {
            new("owner", owner, $"the DC router's flow hash sends {client.Name} to {string.Join("+", Behind(ranking[0]))} ({ranking[0]})"
                                + (ownerCluster.Count > 1 ? $", whose FGCP primary is {owner}" : "")),
        };
        if (peer is not null) entries.Add(new("owner's FGCP peer", peer, $"the other member of {owner}'s FGCP cluster"));
        if (other is not null)
            entries.Add(new("other FGSP member", other, $"the router's next choice for {client.Name} once {owner}'s next hop is withdrawn"
                                                        + (refused is null ? "" : $" (not applicable: {refused})")));
        if (noSync is not null) entries.Add(new("fgsp-sync disabled member", noSync, "its dialup phase1 has `set fgsp-sync disable`"));
        entries.Add(new("owner's uplink", $"{owner} {uplinks.GetValueOrDefault(owner, "?")}", "its port on the DC router's next hop"));
        return new DrillCast(owner, peer, other, noSync, refused, primaries, uplinks, holders, units, entries);
    }

    /// <summary>The units that hold a copy of a tunnel <paramref name="owner"/> owns: its FGCP cluster, and every unit
    /// whose dialup phase1 has fgsp-sync enabled when the owner's has too.</summary>
    public static IReadOnlyList<string> HoldersOf(LabTopology topology, string owner, Func<string, ConfigDocument> config)
    {
        var ownerCluster = topology.ClusterOf(owner)?.Members ?? [owner];
        bool Syncs(string unit) => Dialup(config(unit))?.FgspSync ?? false;
        return topology.UnitNames.Where(u => ownerCluster.Contains(u) || (Syncs(owner) && Syncs(u))).ToList();
    }

    private static Phase1Interface? Dialup(ConfigDocument config) => config.Phase1.FirstOrDefault(p => p.Type == Phase1Type.Dynamic);

    private static string Elected(IReadOnlyList<string> members, Func<string, ConfigDocument> config) =>
        members.OrderByDescending(u => config(u).Ha.Priority).ThenByDescending(u => config(u).SerialNumber, StringComparer.Ordinal).First();
}
