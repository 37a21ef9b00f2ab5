using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Actors.Forwarding;

/// <summary>One route of a unit's table: connected (no gateway) or static (`config router static`).</summary>
public sealed record UnitRoute(uint Network, int PrefixLength, string Interface, IPAddress? Gateway, int Distance)
{
    public bool Contains(uint address) => (address & Ipv4Prefix.MaskOf(PrefixLength)) == Network;
}

/// <summary>Where a packet leaves: the interface and the neighbour to hand it to (the destination itself when connected).</summary>
public readonly record struct NextHop(string Interface, IPAddress Address);

/// <summary>
/// A unit's routing table as FortiOS builds it: connected subnets of its interfaces (distance 0) and its enabled
/// static routes; longest prefix wins, then the lower distance. Interfaces that are down contribute nothing, so a
/// route through a pulled cable is skipped as FortiOS skips it.
/// </summary>
public sealed class UnitRoutes
{
    private readonly UnitRoute[] _routes;
    private readonly HashSet<uint> _local;

    public UnitRoutes(IEnumerable<UnitRoute> routes, IEnumerable<IPAddress> localAddresses)
    {
        _routes = routes.OrderByDescending(r => r.PrefixLength).ThenBy(r => r.Distance).ToArray();
        _local = localAddresses.Select(Ipv4Address.ToUInt32).ToHashSet();
    }

    public IReadOnlyList<UnitRoute> Routes => _routes;

    public bool IsLocal(IPAddress address) => _local.Contains(Ipv4Address.ToUInt32(address));

    /// <summary>The route for <paramref name="destination"/> among interfaces <paramref name="isUp"/> says carry traffic.</summary>
    public NextHop? Lookup(IPAddress destination, Func<string, bool> isUp)
    {
        var d = Ipv4Address.ToUInt32(destination);
        foreach (var r in _routes)
        {
            if (!r.Contains(d) || !isUp(r.Interface)) continue;
            return new NextHop(r.Interface, r.Gateway ?? destination);
        }
        return null;
    }

    /// <summary>Connected routes from the interfaces with an address (loopbacks are local addresses only), plus static routes.</summary>
    public static UnitRoutes From(ConfigDocument config, IEnumerable<UnitRoute> staticRoutes)
    {
        var connected = new List<UnitRoute>();
        var local = new List<IPAddress>();
        foreach (var i in config.Interfaces)
        {
            if (!IPAddress.TryParse(i.Ip, out var ip) || i.Ip == "0.0.0.0") continue;
            local.Add(ip);
            if (i.Type == "loopback" || i.PrefixLength is 32 or 0) continue;
            connected.Add(new UnitRoute(Ipv4Address.ToUInt32(ip) & Ipv4Prefix.MaskOf(i.PrefixLength), i.PrefixLength, i.Name, null, 0));
        }
        return new UnitRoutes(connected.Concat(staticRoutes), local);
    }

    /// <summary>The addresses a unit opens an interface with (its `set ip`), or none for an interface without one.</summary>
    public static IReadOnlyList<InterfaceAddress> AddressesOf(SystemInterface i) =>
        IPAddress.TryParse(i.Ip, out var ip) && i.Ip != "0.0.0.0" ? [new InterfaceAddress(ip, i.PrefixLength)] : [];
}
