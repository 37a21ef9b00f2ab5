using ClusterActors.Protocol.Config;

namespace ClusterActors.Actors.Forwarding;

/// <summary>The unit's `config router static` as routes of its table.</summary>
public static class StaticRoutes
{
    public static IEnumerable<UnitRoute> Of(ConfigDocument config) => [];
}
