using System.Net;
using Akka.Actor;
using Akka.Configuration;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Persistence;
using ClusterActors.Actors.Unit;
using ClusterActors.Protocol.Config;
using Akka.Actor.Setup;
using ClusterActors.Actors.Telemetry;
using ClusterActors.Node.Hosting.Metrics;

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

    /// <summary>The unit's current ActorSystem: a new one (a new Akka incarnation) after each <see cref="RestartAsync"/>.</summary>
    public ActorSystem System { get; private set; } = null!;

    /// <summary>The current ActorSystem's FortiGateUnit actor.</summary>
    public IActorRef Unit { get; private set; } = ActorRefs.Nobody;

    public AdminServer Admin { get; private set; } = null!;

    /// <summary>The unit's Prometheus metrics, served on <see cref="UnitOptions.Metrics"/>; null when it has no metrics endpoint.</summary>
    public UnitMetrics? Metrics { get; private init; }

    /// <summary>The unit's packet and drop counters (<see cref="UnitCounters"/>), host-owned so they run on across restarts.</summary>
    public UnitCounters Counters { get; private init; } = new();
    public required IReadOnlyDictionary<string, UdpHbdevLink> Hbdevs { get; init; }
    public IkeUdpListener? Ike { get; private set; }

    /// <summary>The out-of-band cluster probe (UDP on the Akka port number, signed with the unit's lab certificate); null
    /// without TLS or when it cannot bind (README "Two clusters that downed each other").</summary>
    public ClusterProbeSocket? Probe { get; private set; }

    /// <summary>ActorSystems this unit has run: 1, plus one per restart to rejoin Akka.</summary>
    public int Incarnations { get; private set; } = 1;

    private int _refusedShutdowns;

    /// <summary>How many times Akka asked to stop this unit after a failed outbound TLS handshake and the unit refused (<see cref="AkkaShutdownGuard"/>).</summary>
    public int RefusedShutdowns => Volatile.Read(ref _refusedShutdowns);

    /// <summary>The host's rejoin rule, kept across restarts (<see cref="AkkaRejoin"/>).</summary>
    public AkkaRejoin Rejoin { get; private init; } = null!;

    /// <summary>Completes when the unit stops for good: disposed, killed, or its ActorSystem ended other than by a restart.</summary>
    public Task WhenStopped => _stopped.Task;

    /// <summary>Raised after each restart to rejoin Akka, with the rule's reason (the lab re-applies its Akka cuts).</summary>
    public event Action<UnitHost, RejoinVerdict>? Restarted;

    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _restartGate = new(1, 1);
    private volatile bool _stopping;
    private volatile bool _restarting;
    private Func<UnitSettings, IReadOnlyList<Address>, (ActorSystem System, IActorRef Unit)> _startSystem = null!;
    private UnitSettings _settings = null!;

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
        var config = ConfigurationFactory.ParseString(string.Join("\n", parts));
        if (o.InsecureAkka) return config;
        // TLS last, so that it wins; the identity adapter goes right above the driver, after any adapter asked for
        // (the lab's throttler).
        var adapters = config.GetStringList("akka.remote.dot-netty.tcp.applied-adapters", []).Where(a => a != UnitIdentityAdapter.Scheme).ToList();
        parts.Add(AkkaTlsWiring.Hocon(adapters));
        return ConfigurationFactory.ParseString(string.Join("\n", parts));
    }

    /// <summary>Why this unit may not start its Akka side as configured; null when it may.</summary>
    public static string? TlsRefusal(UnitOptions o)
    {
        if (o.InsecureAkka) return null;
        if (o.Tls is null)
            return $"{o.UnitName}: no certificate for Akka remoting: give --certs DIR (made by `clusteractors certs create --out DIR --units {o.UnitName}`), or --insecure-akka for development";
        var named = AkkaTls.IdentityOf(o.Tls.Certificate);
        if (named is null) return $"{o.UnitName}: its Akka certificate names no unit (CN and serialNumber)";
        if (named.Serial != o.Serial) return $"{o.UnitName}: its Akka certificate is for {named.Name} ({named.Serial}), not serial {o.Serial}";
        if (!o.Tls.Certificate.HasPrivateKey) return $"{o.UnitName}: its Akka certificate has no private key";
        if (o.Tls.Verify(o.Tls.Certificate, out var why) is null) return $"{o.UnitName}: its Akka certificate is not accepted by its own CA: {why}";
        return null;
    }

    /// <summary>The ActorSystem's setup: HOCON, and with TLS the certificate, its validator and the identity registry.</summary>
    private static ActorSystemSetup Setup(UnitOptions o, Akka.Configuration.Config config, Action<string, string> refused, UnitCounters counters)
    {
        var bootstrap = BootstrapSetup.Create().WithConfig(config);
        var counted = new UnitCountersSetup(counters);
        if (o.InsecureAkka) return ActorSystemSetup.Create(bootstrap, new UnitIdentitiesSetup(new UnitIdentities(enforcing: false)), counted);
        // The same certificate signs this unit's Distributed Data entries, verified against the same CA (issue 11).
        var registry = new UnitIdentities(enforcing: true)
        {
            RecordSigner = new Protocol.Ipsec.TunnelRecordSigner(o.Tls!.Certificate),
            LabTrust = new Protocol.Ipsec.LabCertificateTrust(o.Tls.Ca)
        };
        var (ssl, identities) = AkkaTlsWiring.Setups(o.Tls, registry, refused);
        return ActorSystemSetup.Create(bootstrap, ssl, identities, counted);
    }

    /// <param name="ikeSend">Where IKE requests the unit starts itself (DPD) go; by default its IKE socket.</param>
    /// <param name="packets">The unit's interfaces as packet I/O (the lab's fabric); none: no forwarding plane.</param>
    /// <param name="postgreSql">The Npgsql connection string when PostgreSQL is chosen; default CLUSTERACTORS_PG.</param>
    /// <param name="say">Where the wait for the database is reported (one line per attempt, backing off); default stderr.</param>
    /// <param name="systemBuilt">Called with each ActorSystem of the unit right after it is built, before the unit's
    /// actors exist (json logs: the HA events to the logger, so that FGCP's first role is not published before).</param>
    /// <exception cref="StorageUnusableException">The database is corrupt or refuses us: the unit is not started.</exception>
    public static async Task<UnitHost> StartAsync(UnitOptions o, string? persistenceHocon = null, string? extraHocon = null,
        Action<IPEndPoint, byte[]>? ikeSend = null, IPacketIo? packets = null, Action<string>? say = null, string? postgreSql = null, CancellationToken cancel = default,
        Action<ActorSystem>? systemBuilt = null)
    {
        if (TlsRefusal(o) is { } refusal) throw new UsageException(refusal);
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
        var host0Counters = new UnitCounters();
        var links = new Dictionary<string, UdpHbdevLink>();
        try
        {
            foreach (var hb in o.Hbdevs) links[hb.Interface] = new UdpHbdevLink(hb.Interface, hb.Bind, hb.Peers);
        }
        catch
        {
            foreach (var l in links.Values) l.Dispose();
            throw;
        }

        // The metrics listener is the host's, like the sockets: no restart of an actor or of the ActorSystem takes it down.
        UnitMetrics? unitMetrics = null;
        if (o.Metrics is { } metricsAt)
        {
            unitMetrics = new UnitMetrics(o.UnitName, o.Serial, host0Counters, () => links.Select(l => (l.Key, l.Value.Counters)).ToList());
            try
            {
                unitMetrics.Serve(metricsAt);
            }
            catch
            {
                foreach (var l in links.Values) l.Dispose();
                throw;
            }
        }

        var akkaConfig = BuildAkkaConfig(o, persistenceHocon, extraHocon);
        var cluster = akkaConfig.GetConfig("clusteractors.cluster");
        var host = new UnitHost
        {
            Counters = host0Counters,
            Metrics = unitMetrics,
            Options = o,
            Hbdevs = links,
            Rejoin = new AkkaRejoin(cluster.GetTimeSpan("rejoin-confirm-after"), cluster.GetTimeSpan("rejoin-min-interval"), TimeProvider.System)
            {
                Contacts = o.Contacts
            }
        };
        if (!o.InsecureAkka && o.Akka.Port != 0)
        {
            host.Probe = ClusterProbeSocket.Start(o.Akka, o.Tls!, host.ProbeSelf, TimeProvider.System, out var noProbe);
            if (host.Probe is null)
                Console.Error.WriteLine($"{o.UnitName}: no out-of-band cluster probe ({noProbe}): two Akka clusters that downed each other will not merge");
        }
        var unitKey = PrivateDataKeyFile.LoadOrCreate(o.DataDir);
        // Once per refused peer host a minute, across restarts: a scanner must not flood the log.
        var refusals = new PerSenderLog(TimeSpan.FromSeconds(60), TimeProvider.System);
        // Everything below lives as long as the host, across restarts of the ActorSystem: the heartbeat sockets, HA
        // uptime, FGCP's handover, the packet I/O, the IKE socket and the admin endpoint.
        host._settings = new UnitSettings(o.Serial, o.Config, config =>
            // FGCP heartbeats only on the interfaces `set hbdev` names and the lab has wired.
            config.Ha.HbDevs.Where(d => links.ContainsKey(d.Interface)).ToDictionary(d => d.Interface, d => (IHbdevLink)links[d.Interface]))
        {
            IkeSend = ikeSend ?? ((to, datagram) => host.Ike?.Send(to, datagram)),
            Packets = packets,
            IkeAdmission = o.IkeAdmission,
            UnitKey = unitKey,
            HaUptime = new HaUptime(TimeProvider.System),
            FgcpHandover = new FgcpHandover()
        };
        host._startSystem = (settings, joinThrough) =>
        {
            Akka.Event.ILoggingAdapter? tlsLog = null;
            var system = ActorSystem.Create(SystemName, Setup(o, akkaConfig, (peer, line) =>
            {
                if (tlsLog is not null && refusals.ShouldLog(UnitIdentityAdapter.PeerHost(peer), out var suppressed))
                    Akka.Event.LoggingExtensions.Warning(tlsLog, suppressed > 0 ? $"{line} ({suppressed} more refused since the last line)" : line);
            }, host.Counters));
            // Subscribed before the unit's actors exist, so the metrics see FGCP's first role.
            host.Metrics?.SubscribeTo(system);
            systemBuilt?.Invoke(system);
            tlsLog = Akka.Event.Logging.GetLogger(system, "akka-tls");
            AkkaShutdownGuard.Install(system, () => host._stopping, why =>
            {
                Interlocked.Increment(ref host._refusedShutdowns);
                Akka.Event.LoggingExtensions.Warning(tlsLog, $"Akka asked to stop this unit after a failed outbound TLS handshake ({why}); refused: the unit keeps running and the association is retried");
            });
            // Contacts are written as akka.tcp://…; the scheme this unit's transports really use (akka.unitid.ssl.tcp with
            // TLS, plus trttl in the lab) is the same for every unit, so it is taken from this unit's own address.
            var self = ((ExtendedActorSystem)system).Provider.DefaultAddress;
            var contacts = o.Contacts.Select(c => Address.Parse(c)).Select(a => new Address(self.Protocol, a.System, a.Host, a.Port)).ToList();
            // This unit is who its own certificate says (records it wrote itself come back through Distributed Data).
            if (!o.InsecureAkka)
            {
                var identities = UnitIdentities.Of(system);
                identities.Bind(self, AkkaTls.IdentityOf(o.Tls!.Certificate)!);
                foreach (var c in contacts) identities.AllowDial(UnitIdentities.KeyOf(c));
                foreach (var j in joinThrough) identities.AllowDial(UnitIdentities.KeyOf(j));
            }
            else Akka.Event.LoggingExtensions.Warning(tlsLog, "--insecure-akka: Akka remoting runs without TLS and without sender authorization");
            TunnelTrace.StartIfConfigured(system); // opt-in (clusteractors.unit.trace-tunnels), for the SA-sync benchmark
            var unit = system.ActorOf(FortiGateUnit.Props(settings), FortiGateUnit.Name);
            system.ActorOf(ClusterBootstrap.Props(contacts, cluster.GetTimeSpan("bootstrap-probe-interval"), cluster.GetTimeSpan("bootstrap-fallback-after"),
                host.Rejoin, verdict => _ = Task.Run(() => host.RestartAsync(verdict)), joinThrough, host.Probe), ClusterBootstrap.Name);
            system.ActorOf(ClusterJanitor.Props(cluster.GetTimeSpan("down-unreachable-blocking-change-after")), "cluster-janitor");
            // A system that ends other than by a restart ends the unit (NodeRunner then exits).
            system.WhenTerminated.ContinueWith(_ =>
            {
                if (!host._restarting) host._stopped.TrySetResult();
            }, TaskScheduler.Default);
            return (system, unit);
        };
        try
        {
            (host.System, host.Unit) = host._startSystem(host._settings, []);
        }
        catch
        {
            foreach (var l in links.Values) l.Dispose();
            host.Probe?.Dispose();
            host.Metrics?.Dispose();
            throw;
        }

        host.Admin = AdminServer.Start(o.Admin, () => host.Unit, host.System.Log);
        var dialup = o.Config.Phase1.FirstOrDefault(p => p.Type == Phase1Type.Dynamic);
        // With a packet I/O the forwarding plane answers IKE on the unit's addresses; a socket would answer twice.
        host.Ike = o.Ike is not null && dialup is not null && packets is null ? IkeUdpListener.Start(o.Ike, IPAddress.Parse(dialup.LocalGw), () => (host.System, host.Unit), o.IkeAdmission) : null;
        return host;
    }

    /// <summary>
    /// Starts this unit's ActorSystem again as a new Akka incarnation and joins through <paramref name="verdict"/>'s
    /// members (src/Node/Hosting/README.md, "Safety net (b)"): the unit parks FGCP (role, peers, incarnation) and hands
    /// over its tunnel records, the old system is terminated without leaving (it was removed already, or is in the
    /// wrong cluster), and the new one starts on the same sockets, HA uptime and packet I/O with FGCP resumed and the
    /// records carried. The config and HA history are in the journal, which the new system recovers.
    /// </summary>
    public async Task RestartAsync(RejoinVerdict verdict)
    {
        if (_stopping) return;
        await _restartGate.WaitAsync();
        try
        {
            if (_stopping) return;
            _restarting = true;
            IReadOnlyList<Protocol.Ipsec.TunnelRecord> carried = [];
            try
            {
                carried = (await Unit.Ask<UnitHandedOver>(HandOverForRestart.Instance, TimeSpan.FromSeconds(10))).Tunnels;
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                Console.Error.WriteLine($"{Options.UnitName}: the unit did not hand over before its restart ({e.Message}); FGCP starts in hello, tunnels come from the others");
            }
            await System.Terminate();
            Rejoin.Restarted();
            var joinThrough = verdict.JoinThrough.Select(a => Address.Parse(a)).ToList();
            Metrics?.NewIncarnation(Incarnations + 1);
            (System, Unit) = _startSystem(_settings with { CarriedTunnels = carried }, joinThrough);
            Incarnations++;
            _restarting = false;
        }
        finally
        {
            _restarting = false;
            _restartGate.Release();
        }
        Restarted?.Invoke(this, verdict);
    }

    /// <summary>What the datagram probe answers about this unit: the current ActorSystem's membership; null while it restarts.</summary>
    private ClusterProbeSelf? ProbeSelf()
    {
        var system = System;
        if (_restarting || system is null || system.WhenTerminated.IsCompleted) return null;
        try
        {
            var cluster = Akka.Cluster.Cluster.Get(system);
            var member = cluster.SelfMember.Status is Akka.Cluster.MemberStatus.Up or Akka.Cluster.MemberStatus.WeaklyUp or Akka.Cluster.MemberStatus.Joining;
            var live = member
                ? cluster.State.Members.Where(m => m.Status is Akka.Cluster.MemberStatus.Joining or Akka.Cluster.MemberStatus.WeaklyUp or Akka.Cluster.MemberStatus.Up)
                    .Select(m => ClusterBootstrap.Unique(m.UniqueAddress)).ToList()
                : [];
            return new ClusterProbeSelf(cluster.SelfAddress.ToString(), member, ClusterBootstrap.Unique(cluster.SelfUniqueAddress), live);
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
        {
            return null;
        }
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
        _stopping = true;
        await _restartGate.WaitAsync();
        Admin.Dispose();
        Ike?.Dispose();
        Probe?.Dispose();
        Metrics?.Dispose();
        // CoordinatedShutdown runs once per ActorSystem: after a refused request (AkkaShutdownGuard) the host leaves the
        // cluster and terminates the system itself.
        if (AkkaShutdownGuard.Refused(System))
        {
            try { await Akka.Cluster.Cluster.Get(System).LeaveAsync().WaitAsync(TimeSpan.FromSeconds(5)); }
            catch (TimeoutException) { }
            await System.Terminate();
        }
        else await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance);
        await System.WhenTerminated;
        // The heartbeat sockets are the host's, not FGCP's (an FGCP restart must find them open): closed last.
        foreach (var l in Hbdevs.Values) l.Dispose();
        _stopped.TrySetResult();
    }

    /// <summary>Abrupt stop, as a power cut: no leaving the cluster, no goodbye on the heartbeat.</summary>
    public async Task KillAsync()
    {
        _stopping = true;
        await _restartGate.WaitAsync();
        Admin.Dispose();
        Ike?.Dispose();
        Probe?.Dispose();
        Metrics?.Dispose(); // a power cut: nothing answers on the unit's addresses any more
        foreach (var l in Hbdevs.Values) l.Dispose();
        await System.Terminate();
        _stopped.TrySetResult();
    }
}

/// <summary>The HOCON files shipped in hocon/, copied beside the executable.</summary>
public static class Hocon
{
    public static string PathOf(string file) => Path.Combine(AppContext.BaseDirectory, "hocon", file);

    public static Akka.Configuration.Config Load(string file) => ConfigurationFactory.ParseString(File.ReadAllText(PathOf(file)));
}
