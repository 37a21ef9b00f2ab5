using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Node.Drills;

/// <summary>How many tunnels one unit lists as sync-primary.</summary>
public sealed record OwnerTunnels(string Unit, int Tunnels);

/// <summary>One dialed client as the census counts it: its WAN address (the tunnel's remote gateway on every unit).</summary>
public sealed record CensusClient(string Name, string Address);

/// <summary>
/// Where the lab's rules put one client's tunnel now: the unit that must own it (the FGCP primary behind the next hop
/// the DC router's flow hash picks for the client, as the router resolves it now; null when no running unit is there)
/// and the running units that must hold a copy (the owner's FGCP cluster, and every FGSP member that syncs when the
/// owner's phase1 does).
/// </summary>
public sealed record CensusExpectation(string? Owner, IReadOnlyList<string> Holders);

/// <summary>
/// Many clients at once (issue 12, "Many clients"): every dialed client's tunnel, counted over every running unit's
/// tunnel list. Pure: the lab reads the lists and the router's placement, this decides. A tunnel is the client's by
/// its remote gateway (instance names are per unit, `vpn1_0` on one unit may be another client's `vpn1_2` on the
/// next). The census holds when, for every client: exactly one unit lists its tunnel as sync-primary, that unit is the
/// one the router's rule gives, every holder lists it, and every copy shows the owner's SPIs.
/// </summary>
/// <param name="Label">When it was taken: "before the fault", "after phase 1".</param>
/// <param name="PerOwner">Tunnels listed as sync-primary per unit, every running unit named (0 included), in the lab's order.</param>
/// <param name="Violations">One line per client whose tunnel breaks a rule; empty when the census holds.</param>
public sealed record TunnelCensus(string Label, int Clients, IReadOnlyList<OwnerTunnels> PerOwner, IReadOnlyList<string> Violations)
{
    public bool Holds => Violations.Count == 0;

    /// <summary>How long after it was first taken the census held (or was given up on: <see cref="Holds"/> false); null
    /// for a single take.</summary>
    public double? SettledMs { get; init; }

    /// <summary>Per client name, the one unit that lists its tunnel as sync-primary; null for none or more than one.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyDictionary<string, string?> OwnerOf { get; init; } = new Dictionary<string, string?>();

    /// <summary>"DC2_VM1 3, DC2_VM3 2" (the units that own none left out).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Counts => PerOwner.Any(p => p.Tunnels > 0)
        ? string.Join(", ", PerOwner.Where(p => p.Tunnels > 0).Select(p => $"{p.Unit} {p.Tunnels}"))
        : "none";

    /// <param name="tunnels">Per running unit that answered, its tunnel list (<see cref="TunnelView.Remote"/> set); a
    /// unit down or silent is absent.</param>
    /// <param name="expected">Per client, where its tunnel must be (<see cref="CensusExpectation"/>).</param>
    public static TunnelCensus Take(string label, IReadOnlyList<CensusClient> clients, IReadOnlyList<string> units,
        IReadOnlyDictionary<string, IReadOnlyList<TunnelView>> tunnels, Func<CensusClient, CensusExpectation> expected)
    {
        var violations = new List<string>();
        var perOwner = units.Where(tunnels.ContainsKey).ToDictionary(u => u, _ => 0);
        var ownerOf = new Dictionary<string, string?>();
        // Each unit's list by remote gateway once: a lookup per client, not a scan of every list (10,000 clients).
        var byRemote = tunnels.SelectMany(t => t.Value.Select(v => (Unit: t.Key, View: v))).ToLookup(c => c.View.Remote);
        foreach (var client in clients)
        {
            var copies = byRemote[client.Address].ToList();
            var owners = copies.Where(c => c.View.Role == TunnelRole.SyncPrimary).Select(c => c.Unit).Distinct().ToList();
            foreach (var o in owners) perOwner[o]++;
            ownerOf[client.Name] = owners.Count == 1 ? owners[0] : null;
            var want = expected(client);
            var who = $"{client.Name} ({client.Address})";
            if (owners.Count == 0)
            {
                violations.Add($"{who}: no unit lists its tunnel as sync-primary" + (want.Owner is null ? "" : $" (the router's rule gives {want.Owner})"));
                continue;
            }
            if (owners.Count > 1)
            {
                violations.Add($"{who}: {owners.Count} owners at once: {string.Join(", ", owners)}");
                continue;
            }
            var owner = owners[0];
            if (want.Owner is null)
                violations.Add($"{who}: owned by {owner}, but the router's rule sends it to no running unit");
            else if (want.Owner != owner)
                violations.Add($"{who}: owned by {owner}, but the router's rule gives {want.Owner}");
            var ownerSa = copies.First(c => c.Unit == owner && c.View.Role == TunnelRole.SyncPrimary).View;
            var missing = want.Holders.Where(h => tunnels.ContainsKey(h) && copies.All(c => c.Unit != h)).ToList();
            if (missing.Count > 0) violations.Add($"{who}: not listed on {string.Join(", ", missing)}");
            var otherSas = copies.Where(c => c.View.DecSpi != ownerSa.DecSpi || c.View.EncSpi != ownerSa.EncSpi).Select(c => c.Unit).Distinct().ToList();
            if (otherSas.Count > 0)
                violations.Add($"{who}: {string.Join(", ", otherSas)} show other SPIs than its owner's (dec {ownerSa.DecSpi:x8}, enc {ownerSa.EncSpi:x8})");
        }
        return new TunnelCensus(label, clients.Count, units.Where(perOwner.ContainsKey).Select(u => new OwnerTunnels(u, perOwner[u])).ToList(), violations)
        {
            OwnerOf = ownerOf,
        };
    }
}
