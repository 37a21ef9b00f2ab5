using ClusterActors.Actors.DataPlane;
using System.Net;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Actors.Forwarding;

/// <summary>The unit's `config router static` as routes of its table (disabled entries left out, as FortiOS does).</summary>
public static class StaticRoutes
{
    public static IEnumerable<UnitRoute> Of(ConfigDocument config) =>
        config.StaticRoutes.Where(r => r.Enabled).Select(r => new UnitRoute(
            Ipv4Address.Parse(r.Dst) & Ipv4Prefix.MaskOf(r.PrefixLength), r.PrefixLength, r.Device,
            r.Gateway == "0.0.0.0" ? null : IPAddress.Parse(r.Gateway), r.Distance));
}
