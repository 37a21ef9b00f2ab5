namespace ClusterActors.Actors.Ipsec;

/// <summary>
/// The index a unit shows a dialup instance under (`&lt;phase1&gt;_&lt;index&gt;`, `parent=vpn1 index=1` → `vpn1_1`), as pure
/// rules (README, "Instance names"). Names are per unit, as on FortiOS; a tunnel is known across units by its key
/// (phase1 and IKE SPIs). A unit names an instance once, when it first holds it, and never renames it: the index its
/// record carries (the one the unit that completed IKE gave it) when that index is free on this unit, else the next
/// after the highest in use. So two tunnels named alike on both sides of an Akka cut each keep the name they had on
/// their own side, and the other side shows the newcomer under a free one.
/// </summary>
public static class DialupInstanceNames
{
    /// <summary>The index of an instance this unit creates for a client that completed IKE here: after the highest in use, from 1.</summary>
    public static int ForNewTunnel(IEnumerable<int> inUse) => inUse.DefaultIfEmpty(0).Max() + 1;

    /// <summary>The index of an instance this unit learns from a record: the record's when free here, else a new one.</summary>
    public static int ForSynced(int recordIndex, IReadOnlyCollection<int> inUse) =>
        recordIndex >= 1 && !inUse.Contains(recordIndex) ? recordIndex : ForNewTunnel(inUse);

    /// <summary>The name FortiOS prints for <paramref name="index"/> of <paramref name="phase1"/>.</summary>
    public static string Name(string phase1, int index) => $"{phase1}_{index}";
}
