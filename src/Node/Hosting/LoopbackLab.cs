using System.Net;
using System.Net.Sockets;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Unit;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Topology;
using Akka.Actor;

namespace ClusterActors.Node.Hosting;

/// <summary>
/// Several FortiGate units as ActorSystems in one process (the multi-node specs, the benchmarks and the embedded
/// scenario), each with real Akka remoting and real UDP
/// heartbeats on loopback, built from the shipped scenario configs plus per-test CLI changes.
/// </summary>
public sealed class LoopbackLab : IAsyncDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "clusteractors-lab-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly Dictionary<string, UnitHost> _running = new();
    private readonly Dictionary<string, UnitOptions> _options = new();

    public IReadOnlyDictionary<string, UnitHost> Units => _running;

    /// <summary>HOCON appended to every unit's configuration, e.g. to quiet Akka's logging in a benchmark.</summary>
    public string? ExtraHocon { get; init; }

    /// <summary>Every unit serves its Prometheus metrics on a loopback port of its own (<see cref="MetricsOf"/>).</summary>
    public bool Metrics { get; init; }

    /// <summary>Where <paramref name="unit"/> serves http://…/metrics; null when the lab was built without <see cref="Metrics"/>.</summary>
    public IPEndPoint? MetricsOf(string unit) => _options[unit].Metrics;

    /// <summary>IKE flood protection of every unit's dialup phase1; null: the defaults (src/Actors/Ipsec/README.md).</summary>
    public ClusterActors.Protocol.Ike.IkeAdmissionSettings? IkeAdmission { get; init; }

    /// <summary>
    /// Every unit's remoting runs through Akka.Remote's throttler adapter ("trttl", as Akka's TestConductor does), so
    /// <see cref="CutAkka"/> can blackhole the Akka path between two units while their FGCP heartbeats (UDP, outside
    /// Akka) keep flowing. The adapter puts its scheme into the address (akka.trttl.tcp://…), so every unit of the lab
    /// must use it.
    /// </summary>
    public bool AkkaCuts { get; init; }

    private const string ThrottlerHocon = "akka.remote.dot-netty.tcp.applied-adapters = [\"trttl\"]";

    private string? UnitHocon => AkkaCuts ? ThrottlerHocon + "\n" + ExtraHocon : ExtraHocon;

    private readonly Dictionary<string, IPEndPoint> _akka = new();

    /// <summary>
    /// The lab's own CA, made for this lab only: every unit gets a certificate from it for Akka's mutual TLS, as the
    /// docker lab's units get theirs from `clusteractors certs create`. A spec that plays an outsider uses another CA.
    /// </summary>
    public LabCertificateAuthority Certificates { get; } = LabCertificateAuthority.Create("ClusterActors loopback lab CA");

    /// <summary>Plain TCP remoting and no sender authorization (`--insecure-akka`): only to measure what TLS costs.</summary>
    public bool InsecureAkka { get; init; }

    /// <summary>The options a unit was defined with (its certificate included), e.g. to start a look-alike of it.</summary>
    public UnitOptions OptionsOf(string unit) => _options[unit];

    /// <summary>Blackholes (<paramref name="cut"/>) or restores the Akka path between two running units, both ways, on
    /// both units' throttlers; nothing else between them changes.</summary>
    public async Task SetAkkaPath(string unitA, string unitB, bool cut)
    {
        if (!AkkaCuts) throw new InvalidOperationException("this lab was not built with AkkaCuts: its remoting has no throttler");
        var mode = cut ? (Akka.Remote.Transport.ThrottleMode)Akka.Remote.Transport.Blackhole.Instance : Akka.Remote.Transport.Unthrottled.Instance;
        foreach (var (from, to) in new[] { (unitA, unitB), (unitB, unitA) })
        {
            if (!_running.TryGetValue(from, out var host)) continue; // a unit that is down has no path to cut
            var target = new Address("akka.tcp", UnitHost.SystemName, _akka[to].Address.ToString(), _akka[to].Port);
            var provider = (Akka.Remote.RemoteActorRefProvider)((ExtendedActorSystem)host.System).Provider;
            await provider.Transport.ManagementCommand(new Akka.Remote.Transport.SetThrottle(target,
                Akka.Remote.Transport.ThrottleTransportAdapter.Direction.Both, mode));
            // The datagram cluster probe runs on the same link and port number: a cut of the path cuts it too.
            host.Probe?.SetBlocked(_akka[to], cut);
        }
    }

    /// <summary>The unit's SQLite journal file (its data folder's <c>clusteractors.db</c>), for a drill that stops its database.</summary>
    public string SqliteFile(string unit) =>
        Path.Combine(Path.GetFullPath(_options[unit].DataDir), ClusterActors.Actors.Persistence.PersistenceHocon.SqliteFile);

    /// <summary>Cuts the Akka path between <paramref name="unitA"/> and <paramref name="unitB"/> (see <see cref="AkkaCuts"/>).</summary>
    public Task CutAkka(string unitA, string unitB) => SetAkkaPath(unitA, unitB, cut: true);

    /// <summary>Restores the Akka path <see cref="CutAkka"/> cut.</summary>
    public Task HealAkka(string unitA, string unitB) => SetAkkaPath(unitA, unitB, cut: false);

    /// <summary>
    /// Ports handed out below Linux's ephemeral range (32768-60999): a port the kernel picked with port 0 and released
    /// could be taken by another unit's outgoing connection before the unit binds it (seen under CI load).
    /// </summary>
    private static int _nextPort = 20000 + Random.Shared.Next(0, 6000);

    private static int NextFreePort(Func<int, bool> free)
    {
        for (var attempt = 0; attempt < 2000; attempt++)
        {
            var port = Interlocked.Increment(ref _nextPort);
            if (port >= 32000) Interlocked.CompareExchange(ref _nextPort, 20000, port);
            if (port is >= 20000 and < 32000 && free(port)) return port;
        }
        throw new InvalidOperationException("no free loopback port between 20000 and 32000");
    }

    public static int FreeTcpPort() => NextFreePort(port =>
    {
        try
        {
            using var l = new TcpListener(IPAddress.Loopback, port);
            l.Start();
            return true;
        }
        catch (SocketException) { return false; }
    });

    public static int FreeUdpPort() => NextFreePort(port =>
    {
        try
        {
            using var u = new UdpClient(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException) { return false; }
    });

    public static ConfigDocument ScenarioConfig(string unit, string? change = null)
    {
        var file = Path.Combine(AppContext.BaseDirectory, "scenarios", "seed", unit + ".conf");
        var parsed = FortiConfig.ParseFile(file);
        if (!parsed.Ok) throw new ConfigInvalidException(parsed.Errors);
        var config = parsed.Value!;
        if (change is null) return config;
        var applied = config.Apply(change, "lab");
        if (!applied.Ok) throw new ConfigInvalidException(applied.Errors);
        return applied.Value!;
    }

    /// <summary><paramref name="config"/> with the CLI lines of <paramref name="change"/> applied (none: as it is).</summary>
    public static ConfigDocument WithChange(ConfigDocument config, string? change)
    {
        if (string.IsNullOrEmpty(change)) return config;
        var applied = config.Apply(change, "lab");
        if (!applied.Ok) throw new ConfigInvalidException(applied.Errors);
        return applied.Value!;
    }

    /// <summary>
    /// Declares the topology's units, each with its config and <paramref name="changes"/> (CLI lines per unit) applied,
    /// their hbdev ports on the topology's heartbeat links; a unit on no heartbeat link hears nobody.
    /// </summary>
    public void Define(LabTopology topology, IReadOnlyDictionary<string, string>? changes = null)
    {
        HeartbeatLink? LinkOf(string unit) => topology.HeartbeatLinks.FirstOrDefault(h => h.Ports.Any(p => p.Host == unit));
        Define(topology.Units.Select(u => (u.Name, WithChange(u.Config, changes?.GetValueOrDefault(u.Name)))).ToList(),
            unit => LinkOf(unit)?.Name ?? "unit:" + unit,
            unit => LinkOf(unit)?.Ports.First(p => p.Host == unit).Port ?? "port4");
    }

    /// <summary>Declares the units and wires them: one heartbeat segment per FGCP group, every unit a contact of the others.</summary>
    /// <param name="hbSegment">Which heartbeat segment a unit's port4 is cabled to; by default one per FGCP group-id.
    /// A test of mismatched clusters cables them together anyway.</param>
    /// <param name="hbdev">The unit's heartbeat port on that segment (default port4).</param>
    public void Define(IReadOnlyList<(string Unit, ConfigDocument Config)> units, Func<string, string>? hbSegment = null, Func<string, string>? hbdev = null)
    {
        hbdev ??= _ => "port4";
        hbSegment ??= unit => units.First(u => u.Unit == unit).Config.Ha.GroupId.ToString();
        var akka = units.ToDictionary(u => u.Unit, _ => new IPEndPoint(IPAddress.Loopback, FreeTcpPort()));
        var hb = units.ToDictionary(u => u.Unit, _ => new IPEndPoint(IPAddress.Loopback, FreeUdpPort()));
        foreach (var (unit, endpoint) in akka) _akka[unit] = endpoint;
        // Written as akka.tcp://…: each unit puts in the scheme its transports really use (TLS, throttler).
        var contacts = akka.Values.Select(UnitHost.AkkaAddress).ToList();
        foreach (var (unit, config) in units)
        {
            var peers = units.Where(o => o.Unit != unit && hbSegment(o.Unit) == hbSegment(unit)).Select(o => hb[o.Unit]).ToList();
            _options[unit] = new UnitOptions(unit, config, config.SerialNumber!, Path.Combine(_root, unit), akka[unit],
                new IPEndPoint(IPAddress.Loopback, 0), [new HbdevWiring(hbdev(unit), hb[unit], peers)], contacts, [])
            {
                Tls = InsecureAkka ? null : Certificates.For(unit, config.SerialNumber!),
                Metrics = Metrics ? new IPEndPoint(IPAddress.Loopback, FreeTcpPort()) : null,
                InsecureAkka = InsecureAkka,
                IkeAdmission = IkeAdmission
            };
        }
    }

    /// <summary>
    /// The scenario's links when the lab carries packets (<see cref="UsePacketFabric"/>): the units' ports, the DC router,
    /// the DC core, the Server, CLIENT1 and PC1 on the in-memory fabric. Null: IKE goes straight to a unit's phase1.
    /// </summary>
    public ScenarioLab? Net { get; private set; }

    /// <summary>FortiGate IPsec Client 1 on the fabric, once <see cref="DialOverFabric"/> dialed.</summary>
    public DialupClientGateway? Client1 { get; private set; }

    /// <summary>PC1 behind the client, with its echo traffic generator.</summary>
    public Pc1TrafficGenerator? Pc1 { get; private set; }

    /// <summary>
    /// Lays the links: the <paramref name="topology"/>'s, or without one the C# seed tables (<see cref="ScenarioFabric"/>);
    /// call before starting units. Units come up silent and answer once FGCP makes them primary.
    /// </summary>
    public void UsePacketFabric(ScenarioFabricOptions? options = null, LabTopology? topology = null)
    {
        if (_running.Count > 0) throw new InvalidOperationException("lay the packet fabric before starting units");
        options = (options ?? new ScenarioFabricOptions()) with { UnitsAnswerOnOpen = false };
        Net = topology is null ? ScenarioFabric.Build(options) : ScenarioFabric.Build(topology, options);
    }

    private ScenarioLab Fabric => Net ?? throw new InvalidOperationException("this lab has no packet fabric (UsePacketFabric)");

    /// <summary>
    /// CLIENT1 dials the shared local gateway (lb1) over the fabric: the DC router's ECMP hash picks the FGSP cluster and
    /// that cluster's FGCP primary answers. PC1 is connected behind it.
    /// </summary>
    public async Task<DialupClientGateway> DialOverFabric(IkeInitiatorSettings? client = null, CancellationToken cancel = default)
    {
        // The topology's first client and its first PC, addressed as the file says; the seed tables' CLIENT1 and PC1 otherwise.
        var cast = Fabric.Topology?.Clients.FirstOrDefault();
        Client1 ??= new DialupClientGateway(Fabric.Fabric.Host(cast?.Name ?? ScenarioFabric.Client1Host), ClientSettings(cast, client));
        await Client1.DialAsync(cancel);
        Pc1 ??= PcBehind(cast);
        return Client1;
    }

    /// <summary>
    /// Another client of the topology (`count: N`: CLIENT1-2, …) dials lb1 over the fabric as CLIENT1 does, with its own
    /// WAN address and its own LAN as the traffic selector; returns it with the PC behind it. The caller owns both.
    /// </summary>
    public async Task<(DialupClientGateway Client, Pc1TrafficGenerator Pc)> DialOtherOverFabric(TopologyClient cast, CancellationToken cancel = default)
    {
        var gateway = new DialupClientGateway(Fabric.Fabric.Host(cast.Name), ClientSettings(cast, null));
        try
        {
            await gateway.DialAsync(cancel);
            return (gateway, PcBehind(cast));
        }
        catch
        {
            gateway.Dispose();
            throw;
        }
    }

    /// <summary>The client's settings: the scenario's proposals and PSK; the topology client's addresses, lb1, and its LAN
    /// as the initiator's traffic selector (each of N clients proposes its own LAN).</summary>
    private DialupClientSettings ClientSettings(TopologyClient? cast, IkeInitiatorSettings? client)
    {
        var phase1 = _options.Values.First().Config.Phase1.First(p => p.Type == Phase1Type.Dynamic);
        var ike = client ?? DialupClient.ScenarioSettings(phase1.PskSecret!.Clear);
        if (cast is not null && client is null) ike = ike with { TsI = [TrafficSelector.FromCidr(cast.Lan.Subnet.ToString())] };
        var settings = new DialupClientSettings(ike);
        if (cast is not null)
            settings = settings with
            {
                WanInterface = cast.WanInterface, WanAddress = new InterfaceAddress(cast.Wan.Address, cast.Wan.PrefixLength), WanNextHop = cast.WanGateway,
                LanInterface = cast.LanInterface, LanAddress = new InterfaceAddress(cast.Lan.Address, cast.Lan.PrefixLength),
                // The lab's lb1: the client config's remote-gw, else the units' dialup local-gw (a topology's lb1 need
                // not be the seed's 192.168.202.35).
                RemoteGateway = RemoteGatewayOf(cast.Config, phase1),
            };
        return settings;
    }

    private Pc1TrafficGenerator PcBehind(TopologyClient? cast)
    {
        var pc = cast?.Pcs.FirstOrDefault();
        return new Pc1TrafficGenerator(Fabric.Fabric.Host(pc?.Name ?? ScenarioFabric.Pc1Host), pc is null ? null
            : new Pc1Settings { Address = new InterfaceAddress(pc.Address.Address, pc.Address.PrefixLength), Gateway = cast!.Lan.Address });
    }

    private static IPAddress RemoteGatewayOf(ConfigDocument? client, Phase1Interface dialup) =>
        client?.Phase1.FirstOrDefault(p => p.Type == Phase1Type.Static) is { } p && IPAddress.TryParse(p.RemoteGw, out var gw) && !gw.Equals(IPAddress.Any)
            ? gw
            : IPAddress.Parse(dialup.LocalGw);

    /// <summary>Pulls (<paramref name="plugged"/> false) or plugs a cable of the fabric.</summary>
    public void SetCable(string host, string iface, bool plugged) => Fabric.Fabric.SetCable(host, iface, plugged);

    public async Task<UnitHost> Start(string unit)
    {
        var host = await UnitHost.StartAsync(_options[unit], extraHocon: UnitHocon, ikeSend: (_, datagram) => ToClients(unit, datagram),
            packets: Net?.Fabric.Host(unit));
        _running[unit] = host;
        return host;
    }

    public async Task Kill(string unit)
    {
        if (_running.Remove(unit, out var host)) await host.KillAsync();
    }

    public async Task<HaStatusSnapshot> Status(string unit) =>
        await _running[unit].Unit.Ask<HaStatusSnapshot>(GetHaStatus.Instance, TimeSpan.FromSeconds(5));

    /// <summary>Polls every 20 ms until the condition holds; returns how long it took, fails after the deadline.</summary>
    public static async Task<TimeSpan> Eventually(Func<Task<bool>> condition, TimeSpan within, string what)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (sw.Elapsed < within)
        {
            if (await condition()) return sw.Elapsed;
            await Task.Delay(20);
        }
        throw new TimeoutException($"not within {within.TotalMilliseconds:0} ms: {what}");
    }

    /// <summary>The scenario's remote gateway: FortiGate IPsec Client 1's WAN address.</summary>
    public static readonly IPAddress ClientAddress = IPAddress.Parse("192.168.7.2");

    /// <summary>The scenario's client dials in to <paramref name="unit"/>'s local gateway (IKEv2 straight to its phase1).</summary>
    public async Task<IkeSaEstablished> Dial(string unit, IkeInitiatorSettings? client = null) => (await DialClient(unit, client)).Established!;

    /// <summary>Dials in and returns the client, whose IKE SA can then rekey, check or delete through <see cref="Exchange"/>.</summary>
    public async Task<DialupClient> DialClient(string unit, IkeInitiatorSettings? client = null)
    {
        var phase1 = _options[unit].Config.Phase1.First(p => p.Type == Phase1Type.Dynamic);
        var dialer = new DialupClient(client ?? DialupClient.ScenarioSettings(phase1.PskSecret!.Clear), IPAddress.Parse(phase1.LocalGw));
        await dialer.DialAsync(datagram => Exchange(unit, datagram));
        lock (_clients) _clients.Add(dialer);
        return dialer;
    }

    private readonly List<DialupClient> _clients = new();

    /// <summary>Whether the lab's dialed-in clients answer the gateway's requests (DPD); false plays a client that died.</summary>
    public bool ClientsAnswer { get; set; } = true;

    /// <summary>A request a unit starts (DPD) reaches the client whose IKE SA it names; its answer goes back to that unit.</summary>
    private void ToClients(string unit, byte[] datagram)
    {
        if (!ClientsAnswer || datagram.Length < 8) return;
        var spiI = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(datagram.AsSpan(0, 8));
        DialupClient? client;
        lock (_clients) client = _clients.FirstOrDefault(c => c.Initiator?.Sa?.SpiI == spiI);
        if (client is null) return;
        IkeOutput output;
        lock (client) output = client.Initiator!.Handle(datagram);
        foreach (var reply in output.Replies)
            _ = Exchange(unit, reply).ContinueWith(t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
    }

    /// <summary>One IKE datagram from the client to <paramref name="unit"/>'s local gateway, and its answers.</summary>
    public async Task<IReadOnlyList<byte[]>> Exchange(string unit, byte[] datagram)
    {
        var gateway = IPAddress.Parse(_options[unit].Config.Phase1.First(p => p.Type == Phase1Type.Dynamic).LocalGw);
        var replies = await _running[unit].Unit.Ask<IkeReplies>(new DeliverIke(gateway, new IkeDatagram(ClientAddress, 500, datagram)),
            TimeSpan.FromSeconds(10));
        if (replies.Refused is not null && replies.Datagrams.Count == 0) throw new DialFailedException(replies.Refused);
        return replies.Datagrams;
    }

    /// <summary>How many members <paramref name="unit"/> sees Up in its Akka cluster.</summary>
    public int AkkaMembersUp(string unit) =>
        Akka.Cluster.Cluster.Get(_running[unit].System).State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up);

    public async Task<bool> IsRole(string unit, HaRole role)
    {
        var s = await Status(unit);
        return s.State == HaState.Work && s.Role == role;
    }

    public async ValueTask DisposeAsync()
    {
        Pc1?.Dispose();
        Client1?.Dispose();
        foreach (var host in _running.Values.ToList())
        {
            try { await host.KillAsync(); } catch { /* already down */ }
        }
        Net?.Dispose();
        try { Directory.Delete(_root, true); } catch { /* best effort */ }
    }
}
