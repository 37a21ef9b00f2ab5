using System.Net;
using Akka.Actor;
using Akka.Configuration;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Persistence;
using ClusterActors.Actors.Unit;
using ClusterActors.Protocol.Config;

namespace ClusterActors.Node.Hosting;

/// <summary>
/// Brings one FortiGate unit up: its ActorSystem (remoting, cluster, persistence), the unit's actor tree,
/// the cluster bootstrap and the admin CLI endpoint. Used by `clusteractors node`, the embedded scenario and the
/// multi-node specs alike, so all three run the same code.
/// </summary>
public sealed class UnitHost : IAsyncDisposable
{
    public const string SystemName = "fortigate";

    public required UnitOptions Options { get; init; }
    public required ActorSystem System { get; init; }
    public required IActorRef Unit { get; init; }
    public required AdminServer Admin { get; init; }
    public required IReadOnlyDictionary<string, UdpHbdevLink> Hbdevs { get; init; }
    public IkeUdpListener? Ike { get; init; }

    public Address Address => ((ExtendedActorSystem)System).Provider.DefaultAddress;

    /// <summary>
    /// One HOCON document, lowest precedence first: persistence (plugin defaults included), hocon/cluster.conf,
    /// the user's --hocon files in order, then this unit's endpoints. Parsed once: see PersistenceHocon.Document
    /// for why nothing is layered with WithFallback.
    /// </summary>
    public static Akka.Configuration.Config BuildAkkaConfig(UnitOptions o, string persistenceHocon, string? extraHocon = null)
    {
        var parts = new List<string> { persistenceHocon, File.ReadAllText(Hocon.PathOf("cluster.conf")) };
        parts.AddRange(o.HoconFiles.Select(File.ReadAllText));
        parts.Add($$"""
            akka.remote.dot-netty.tcp.hostname = "{{o.Akka.Address}}"
            akka.remote.dot-netty.tcp.public-hostname = "{{o.Akka.Address}}"
            akka.remote.dot-netty.tcp.port = {{o.Akka.Port}}
            # FGCP sends config sync to the member whose role names the secondary's serial, never to an address from a heartbeat.
            akka.cluster.roles = ["{{FgcpActor.SerialRole(o.Serial)}}"]
            """);
        if (extraHocon is not null) parts.Add(extraHocon);
        return ConfigurationFactory.ParseString(string.Join("\n", parts));
    }

    /// <param name="ikeSend">Where IKE requests the unit starts itself (DPD) go; by default its IKE socket.</param>
    /// <param name="packets">The unit's interfaces as packet I/O (the lab's fabric); none: no forwarding plane.</param>
    /// <param name="postgreSql">The Npgsql connection string when PostgreSQL is chosen; default CLUSTERACTORS_PG.</param>
    /// <param name="say">Where the wait for the database is reported (one line per attempt, backing off); default stderr.</param>
    /// <exception cref="StorageUnusableException">The database is corrupt or refuses us: the unit is not started.</exception>
    public static async Task<UnitHost> StartAsync(UnitOptions o, string? persistenceHocon = null, string? extraHocon = null,
        Action<IPEndPoint, byte[]>? ikeSend = null, IPacketIo? packets = null, Action<string>? say = null, string? postgreSql = null, CancellationToken cancel = default)
    {
        Directory.CreateDirectory(o.DataDir);
        if (persistenceHocon is null)
        {
            // The database is read before the unit exists, so that it never says "up" on a journal it cannot read
            // (Persistence/README.md: which faults wait with backoff and which end the start).
            DatabaseReadiness readiness;
            switch (ChosenDatabase(o))
            {
                case "postgresql":
                    var cs = (postgreSql ?? Environment.GetEnvironmentVariable("CLUSTERACTORS_PG")) is { Length: > 0 } pg
                        ? pg
                        : throw new UsageException("hocon/persistence-postgresql.conf is chosen but CLUSTERACTORS_PG (an Npgsql connection string) is not set");
                    persistenceHocon = PersistenceHocon.PostgreSqlText(cs);
                    readiness = DatabaseReadiness.PostgreSql(cs);
                    break;
                case "sqlite":
                    persistenceHocon = PersistenceHocon.SqliteText(o.DataDir);
                    readiness = DatabaseReadiness.Sqlite(Path.Combine(Path.GetFullPath(o.DataDir), PersistenceHocon.SqliteFile));
                    break;
                case var other:
                    throw new UsageException($"clusteractors.persistence.database = {other}: expected sqlite or postgresql");
            }
            await readiness.WaitAsync(say ?? (line => Console.Error.WriteLine($"{o.UnitName}: {line}")), cancel: cancel);
        }
        var system = ActorSystem.Create(SystemName, BuildAkkaConfig(o, persistenceHocon, extraHocon));
        TunnelTrace.StartIfConfigured(system); // opt-in (clusteractors.unit.trace-tunnels), for the SA-sync benchmark
        var links = new Dictionary<string, UdpHbdevLink>();
        try
        {
            foreach (var hb in o.Hbdevs) links[hb.Interface] = new UdpHbdevLink(hb.Interface, hb.Bind, hb.Peers);
        }
        catch
        {
            foreach (var l in links.Values) l.Dispose();
            await system.Terminate();
            throw;
        }

        IkeUdpListener? ikeSocket = null;
        var settings = new UnitSettings(o.Serial, o.Config, config =>
            // FGCP heartbeats only on the interfaces `set hbdev` names and the lab has wired.
            config.Ha.HbDevs.Where(d => links.ContainsKey(d.Interface)).ToDictionary(d => d.Interface, d => (IHbdevLink)links[d.Interface]))
        {
            IkeSend = ikeSend ?? ((to, datagram) => ikeSocket?.Send(to, datagram)),
            Packets = packets
        };
        var unit = system.ActorOf(FortiGateUnit.Props(settings), FortiGateUnit.Name);

        var cluster = system.Settings.Config.GetConfig("clusteractors.cluster");
        var contacts = o.Contacts.Select(c => Address.Parse(c)).ToList();
        system.ActorOf(ClusterBootstrap.Props(contacts, cluster.GetTimeSpan("bootstrap-probe-interval"), cluster.GetTimeSpan("bootstrap-fallback-after")),
            ClusterBootstrap.Name);
        system.ActorOf(ClusterJanitor.Props(cluster.GetTimeSpan("down-unreachable-blocking-change-after")), "cluster-janitor");

        var admin = AdminServer.Start(o.Admin, unit);
        var dialup = o.Config.Phase1.FirstOrDefault(p => p.Type == "dynamic");
        // With a packet I/O the forwarding plane answers IKE on the unit's addresses; a socket would answer twice.
        ikeSocket = o.Ike is not null && dialup is not null && packets is null ? IkeUdpListener.Start(o.Ike, IPAddress.Parse(dialup.LocalGw), unit) : null;
        return new UnitHost { Options = o, System = system, Unit = unit, Admin = admin, Hbdevs = links, Ike = ikeSocket };
    }

    /// <summary>`clusteractors.persistence.database` from the user's --hocon files (hocon/persistence-postgresql.conf sets it).</summary>
    private static string ChosenDatabase(UnitOptions o)
    {
        var chosen = "sqlite";
        foreach (var file in o.HoconFiles)
        {
            var value = ConfigurationFactory.ParseString(File.ReadAllText(file)).GetString("clusteractors.persistence.database", null);
            if (value is not null) chosen = value;
        }
        return chosen;
    }

    public static string AkkaAddress(IPEndPoint akka) => $"akka.tcp://{SystemName}@{akka.Address}:{akka.Port}";

    public async Task<CliResult> CliAsync(string command, TimeSpan? timeout = null) =>
        await Unit.Ask<CliResult>(new RunCli(command), timeout ?? TimeSpan.FromSeconds(10));

    public async ValueTask DisposeAsync()
    {
        Admin.Dispose();
        Ike?.Dispose();
        await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance);
        await System.WhenTerminated;
        // The heartbeat sockets are the host's, not FGCP's (an FGCP restart must find them open): closed last.
        foreach (var l in Hbdevs.Values) l.Dispose();
    }

    /// <summary>Abrupt stop, as a power cut: no leaving the cluster, no goodbye on the heartbeat.</summary>
    public async Task KillAsync()
    {
        Admin.Dispose();
        Ike?.Dispose();
        foreach (var l in Hbdevs.Values) l.Dispose();
        await System.Terminate();
    }
}

/// <summary>The HOCON files shipped in hocon/, copied beside the executable.</summary>
public static class Hocon
{
    public static string PathOf(string file) => Path.Combine(AppContext.BaseDirectory, "hocon", file);

    public static Akka.Configuration.Config Load(string file) => ConfigurationFactory.ParseString(File.ReadAllText(PathOf(file)));
}
