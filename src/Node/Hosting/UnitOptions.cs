using System.Net;
using Akka.Configuration;
using ClusterActors.Protocol.Config;

namespace ClusterActors.Node.Hosting;

/// <summary>The heartbeat segment one hbdev is wired to: where this unit listens and who else is on it.</summary>
public sealed record HbdevWiring(string Interface, IPEndPoint Bind, IReadOnlyList<IPEndPoint> Peers);

/// <summary>Everything needed to run one unit process, resolved from the command line, its HOCON and its config file.</summary>
public sealed record UnitOptions(
    string UnitName,
    ConfigDocument Config,
    string Serial,
    string DataDir,
    IPEndPoint Akka,
    IPEndPoint Admin,
    IReadOnlyList<HbdevWiring> Hbdevs,
    IReadOnlyList<string> Contacts,
    IReadOnlyList<string> HoconFiles)
{
    /// <summary>
    /// Where the unit serves its Prometheus metrics (`clusteractors.unit.metrics = "HOST:PORT"`, http://HOST:PORT/metrics;
    /// src/Node/Hosting/Metrics/README.md); none when null.
    /// </summary>
    public IPEndPoint? Metrics { get; init; }

    /// <summary>Where the unit's IKE socket is bound (UDP/500 of its local gateway in the lab; a loopback port here); none when null.</summary>
    public IPEndPoint? Ike { get; init; }

    /// <summary>
    /// The unit's packet I/O (`clusteractors.unit.packets`): `none` (no forwarding plane; IKE on the <see cref="Ike"/>
    /// socket) or `kernel` (its interfaces as the container's real Linux interfaces: port2, port3, port5).
    /// </summary>
    public string Packets { get; init; } = "none";

    /// <summary>IKE flood protection of the dialup phase1 (src/Actors/Ipsec/README.md); null: the documented defaults.</summary>
    public ClusterActors.Protocol.Ike.IkeAdmissionSettings? IkeAdmission { get; init; }
    /// <summary>
    /// The lab CA and this unit's certificate for Akka remoting's mutual TLS. A unit without one does not start, unless
    /// <see cref="InsecureAkka"/> (src/Node/Hosting/README.md, "Secured Akka").
    /// </summary>
    public AkkaTls? Tls { get; init; }

    /// <summary>`--insecure-akka`: plain TCP remoting and no sender authorization, for development only.</summary>
    public bool InsecureAkka { get; init; }
}

public static class Endpoints
{
    public static IPEndPoint Parse(string text, string what)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !IPAddress.TryParse(text[..colon].Trim('[', ']'), out var ip) || !int.TryParse(text[(colon + 1)..], out var port)
            || port is < 0 or > 65535)
            throw new UsageException($"{what}: '{text}' is not HOST:PORT with a numeric IP address");
        return new IPEndPoint(ip, port);
    }
}

/// <summary>A topology file that does not validate: every located error is printed, exit code 2.</summary>
public sealed class TopologyInvalidException(string file, IReadOnlyList<ConfigError> errors)
    : Exception($"{file}: {errors.Count} error(s) in the topology; nothing started")
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;
}

/// <summary>A mistake in how the command was called: printed as one line, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>The shipped scenarios: ready configs and loopback wiring for each unit (src/Node/scenarios/NAME).</summary>
public static class Scenarios
{
    public static string Directory(string scenario)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "scenarios", scenario);
        if (!System.IO.Directory.Exists(dir))
            throw new UsageException($"unknown scenario '{scenario}' (known: {string.Join(", ", Known())})");
        return dir;
    }

    public static IEnumerable<string> Known() =>
        System.IO.Directory.Exists(Path.Combine(AppContext.BaseDirectory, "scenarios"))
            ? System.IO.Directory.GetDirectories(Path.Combine(AppContext.BaseDirectory, "scenarios")).Select(d => Path.GetFileName(d)!)
                // samples/ holds example configs (a FortiOS 7.4 backup), not a scenario.
                .Where(d => d != "samples").Order(StringComparer.Ordinal)
            : [];

    public static Akka.Configuration.Config Wiring(string scenario) =>
        ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(Directory(scenario), "scenario.conf")))
            .GetConfig($"clusteractors.scenario.{scenario}");

    public static IReadOnlyList<string> Units(string scenario) =>
        Wiring(scenario).GetConfig("units").AsEnumerable().Select(kv => kv.Key).Distinct().OrderBy(u => u, StringComparer.Ordinal).ToList();

    public static IPEndPoint IkeOf(string scenario, string unit)
    {
        var u = Wiring(scenario).GetConfig("units").GetConfig(unit)
                ?? throw new UsageException($"scenario '{scenario}' has no unit '{unit}' (units: {string.Join(", ", Units(scenario))})");
        return Endpoints.Parse(u.GetString("ike"), $"{unit}.ike");
    }

    /// <summary>The file name of a shipped scenario's topology (src/Protocol/Topology/README.md).</summary>
    public const string TopologyFileName = "topology.yml";

    /// <summary>
    /// A lab's topology: <paramref name="nameOrFile"/> is a topology file (a path that exists, or ends in .yml/.yaml),
    /// or the name of a shipped scenario (its scenarios/NAME/topology.yml). A file that does not validate throws
    /// <see cref="TopologyInvalidException"/> with every located error.
    /// </summary>
    /// <param name="clients">The first client entry's count in place of the file's (`drill --clients N`); null: the file's.</param>
    public static ClusterActors.Protocol.Topology.LabTopology Topology(string nameOrFile, int? clients = null)
    {
        var isFile = File.Exists(nameOrFile) || nameOrFile.EndsWith(".yml", StringComparison.OrdinalIgnoreCase)
                     || nameOrFile.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || nameOrFile.Contains('/');
        var path = isFile ? nameOrFile : Path.Combine(Directory(nameOrFile), TopologyFileName);
        if (!File.Exists(path)) throw new UsageException($"{path}: no such topology file");
        var result = ClusterActors.Protocol.Topology.TopologyFile.Load(path, clients);
        return result.Ok ? result.Value! : throw new TopologyInvalidException(path, result.Errors);
    }

    public static IPEndPoint AdminOf(string scenario, string unit)
    {
        var units = Wiring(scenario).GetConfig("units");
        var u = units.GetConfig(unit) ?? throw new UsageException($"scenario '{scenario}' has no unit '{unit}' (units: {string.Join(", ", Units(scenario))})");
        return Endpoints.Parse(u.GetString("admin"), $"{unit}.admin");
    }
}
