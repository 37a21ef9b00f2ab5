using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using ClusterActors.Protocol.Packets;
using ClusterActors.Actors.DataPlane;

namespace ClusterActors.Node.LabHarness.Fabric;

/// <summary>How an ECMP route probes its next hops: an ICMP echo every <see cref="Interval"/>, dead after <see cref="MissedProbes"/> consecutive misses.</summary>
public sealed record ProbeOptions(TimeSpan Interval, int MissedProbes)
{
    /// <summary>100 ms × 3: a dead cluster leaves the route within about 0.3–0.4 s.</summary>
    public static ProbeOptions Default { get; } = new(TimeSpan.FromMilliseconds(100), 3);

    /// <summary>No probing: next hops follow only the carrier of the router's own leg.</summary>
    public static ProbeOptions Disabled { get; } = new(TimeSpan.Zero, 0);

    public bool Enabled => Interval > TimeSpan.Zero && MissedProbes > 0;

    public override string ToString() =>
        Enabled ? string.Create(CultureInfo.InvariantCulture, $"probe {Interval.TotalMilliseconds:0}ms x {MissedProbes}") : "no probe";
}

public sealed record LabRouterOptions
{
    /// <summary>
    /// Clock for the times the router records and prints. With the system clock, probes run on one dedicated
    /// background thread per router (not pool timers: on two cores shared with four ActorSystems a starved thread pool
    /// delayed the first probe by half a second); any other provider gets its own timers, so a fake clock drives probing.
    /// </summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>False: no probe timers run; a test drives probe rounds with <see cref="LabRouter.ProbeNow"/>.</summary>
    public bool ProbeTimers { get; init; } = true;
}

public enum RouteKind
{
    Connected,
    Static,
    Ecmp,
    ReversePath,
}

/// <summary>Where the router would send a packet of flow (source, destination) now.</summary>
public sealed record RouteDecision(Ipv4Prefix Prefix, RouteKind Kind, IPAddress NextHop, string Leg);

public sealed record NextHopStatus(IPAddress Address, string Leg, bool Alive, long Forwarded, long Unreachable,
    long ProbesSent, long ProbesMissed, int ConsecutiveMissed, TimeSpan? DownSince);

public sealed record RouteStatus(Ipv4Prefix Prefix, RouteKind Kind, ProbeOptions Probe, IReadOnlyList<NextHopStatus> NextHops, int LearnedFlows);

/// <param name="Received">Packets that arrived on any leg.</param>
/// <param name="Forwarded">Packets sent onward (TTL decremented).</param>
/// <param name="Local">Packets addressed to the router itself (echo requests, probe replies, anything else).</param>
/// <param name="EchoReplies">Echo replies the router sent for requests to its own addresses.</param>
/// <param name="DroppedNoRoute">No route, or every next hop of the matching routes dead.</param>
/// <param name="DroppedTtl">TTL would reach 0 (no ICMP time-exceeded is sent).</param>
/// <param name="DroppedUnreachable">The chosen next hop did not answer on its link (the fabric's send returned false).</param>
/// <param name="DroppedMalformed">Not a valid IPv4 packet.</param>
public sealed record RouterCounters(long Received, long Forwarded, long Local, long EchoReplies,
    long DroppedNoRoute, long DroppedTtl, long DroppedUnreachable, long DroppedMalformed);

/// <summary>
/// A lab router (the scenario's DC router and DC core): legs with connected routes, static routes, ECMP routes whose
/// next hops are probed with ICMP echo, and reverse-path routes that send replies back the way the request came.
/// Plain thread-safe class, not an actor: packets are forwarded on the thread that delivered them (the in-memory
/// fabric's sender), probes run on the router's own timers. Hop decisions are delegated to the pure
/// <see cref="EcmpSelection"/> and <see cref="NextHopHealth"/>.
/// </summary>
public sealed class LabRouter : IDisposable
{
    private const int MaxLearnedFlows = 65_536;
    private static readonly byte[] ProbeData = "ClusterActors lab router probe"u8.ToArray();

    private readonly IPacketIo _io;
    private readonly TimeProvider _time;
    private readonly bool _probeTimers;
    private readonly long _started;
    private readonly object _gate = new();
    private volatile Leg[] _legs = [];
    /// <summary>Longest prefix first; replaced whole under the gate.</summary>
    private volatile Route[] _routes = [];
    /// <summary>Routes in the order they were configured (for <see cref="Describe"/>).</summary>
    private readonly List<Route> _configured = new();
    private volatile uint[] _ownAddresses = [];
    private volatile Dictionary<ushort, (EcmpRoute Route, NextHop Hop)> _probeIds = new();
    private ushort _nextProbeId = 0x4C00;
    private volatile bool _disposed;
    /// <summary>The probe thread (system clock only); it waits on <see cref="_probeWake"/> between rounds.</summary>
    private Thread? _prober;
    private readonly object _probeWake = new();
    /// <summary>How late the probe rounds started against their schedule, summed (Stopwatch ticks).</summary>
    private long _probeLateTicks;

    private long _received, _forwarded, _local, _echoReplies, _noRoute, _ttl, _unreachable, _malformed;

    public LabRouter(string name, IPacketIo io, LabRouterOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
        _io = io ?? throw new ArgumentNullException(nameof(io));
        options ??= new LabRouterOptions();
        _time = options.Time;
        _probeTimers = options.ProbeTimers;
        _started = _time.GetTimestamp();
    }

    public string Name { get; }

    /// <summary>Time since the router was created, on its clock.</summary>
    public TimeSpan Elapsed => _time.GetElapsedTime(_started);

    /// <summary>
    /// How late the probe rounds started against their schedule, summed since the router started: on a loaded machine
    /// the probe thread is not run on time, and each late round delays a withdrawal by as much (CI, stop 20's trial: a
    /// kill's withdrawal 1,824 ms after it by the router's own stamp, against (14 + 1) × 100 ms + 200). The drills add
    /// what accrued between the fault and the withdrawal to the router's detection bound, and print it.
    /// </summary>
    public TimeSpan ProbeRoundsLate => TimeSpan.FromSeconds((double)Interlocked.Read(ref _probeLateTicks) / Stopwatch.Frequency);

    public RouterCounters Counters => new(
        Interlocked.Read(ref _received), Interlocked.Read(ref _forwarded), Interlocked.Read(ref _local), Interlocked.Read(ref _echoReplies),
        Interlocked.Read(ref _noRoute), Interlocked.Read(ref _ttl), Interlocked.Read(ref _unreachable), Interlocked.Read(ref _malformed));

    // ------------------------------------------------------------------------------------------------------------------
    // Configuration

    /// <summary>Opens interface <paramref name="name"/> with its addresses ("192.168.7.1/24"); each address's subnet becomes a connected route.</summary>
    public IPacketPort AddLeg(string name, params string[] addresses) =>
        AddLeg(name, addresses.Select(InterfaceAddress.Parse).ToArray());

    public IPacketPort AddLeg(string name, IReadOnlyList<InterfaceAddress> addresses)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (addresses.Count == 0)
            throw new ArgumentException($"Leg {name} needs at least one address.", nameof(addresses));
        lock (_gate)
        {
            ThrowIfDisposed();
            if (_legs.Any(l => l.Name == name))
                throw new InvalidOperationException($"{Name} already has a leg named {name}.");
            var leg = new Leg(name, addresses.ToArray());
            var port = leg.Port = _io.Open(name, addresses, (_, bytes) => Receive(leg, bytes));
            port.CarrierChanged += (_, up) => OnLegCarrier(leg, up);
            _legs = [.. _legs, leg];
            _ownAddresses = [.. _ownAddresses, .. leg.Keys];
            foreach (var a in leg.Addresses)
                AddRoute(new ConnectedRoute(a.Subnet, leg));
            return port;
        }
    }

    /// <summary>
    /// An ECMP route: equal-cost <paramref name="nextHops"/> (each must lie in a leg's subnet), a flow (source and
    /// destination address) hashed onto the live ones by rendezvous hashing. Each next hop is probed per
    /// <paramref name="probe"/> (null: <see cref="ProbeOptions.Default"/>; <see cref="ProbeOptions.Disabled"/>: never).
    /// <paramref name="hashSeed"/> is the router's ECMP hash seed (see <see cref="EcmpSelection.FlowHash"/>).
    /// </summary>
    public void AddEcmpRoute(string prefix, IReadOnlyList<string> nextHops, ProbeOptions? probe = null, ulong hashSeed = 0) =>
        AddEcmp(Ipv4Prefix.Parse(prefix), nextHops, probe ?? ProbeOptions.Default, RouteKind.Ecmp, hashSeed);

    /// <summary>A plain static route through one next hop, not probed (it follows only the carrier of its leg).</summary>
    public void AddStaticRoute(string prefix, string nextHop) =>
        AddEcmp(Ipv4Prefix.Parse(prefix), [nextHop], ProbeOptions.Disabled, RouteKind.Static, 0);

    /// <summary>
    /// A reverse-path route ("replies follow the session"): a packet to <paramref name="prefix"/> goes to the neighbour
    /// from which the latest packet of the opposite flow (from that destination to that source) arrived; for a flow not
    /// seen yet, to the neighbour the latest packet from anywhere in the prefix came from; before any, to the first
    /// neighbour whose leg has carrier. The fabric carries no link-layer source, so the neighbour is identified by the
    /// ingress leg: at most one neighbour per leg.
    /// </summary>
    public void AddReversePathRoute(string prefix, IReadOnlyList<string> neighbours)
    {
        var p = Ipv4Prefix.Parse(prefix);
        lock (_gate)
        {
            ThrowIfDisposed();
            var hops = neighbours.Select(n => ResolveNextHop(p, n)).ToArray();
            if (hops.Length == 0)
                throw new ArgumentException($"Reverse-path route {p} needs at least one neighbour.", nameof(neighbours));
            var shared = hops.GroupBy(h => h.Leg).FirstOrDefault(g => g.Count() > 1);
            if (shared is not null)
                throw new ArgumentException(
                    $"Reverse-path route {p}: neighbours {string.Join(" and ", shared.Select(h => h.Address))} share leg {shared.Key.Name}; " +
                    "the neighbour is recognised by its ingress leg, so one neighbour per leg.", nameof(neighbours));
            AddRoute(new ReversePathRoute(p, hops));
        }
    }

    private void AddEcmp(Ipv4Prefix prefix, IReadOnlyList<string> nextHops, ProbeOptions probe, RouteKind kind, ulong hashSeed)
    {
        lock (_gate)
        {
            ThrowIfDisposed();
            if (nextHops.Count is 0 or > EcmpSelection.MaxNextHops)
                throw new ArgumentException($"Route {prefix} needs 1..{EcmpSelection.MaxNextHops} next hops.", nameof(nextHops));
            var hops = nextHops.Select(n => ResolveNextHop(prefix, n, probe)).ToArray();
            if (hops.Select(h => h.Key).Distinct().Count() != hops.Length)
                throw new ArgumentException($"Route {prefix} lists a next hop twice.", nameof(nextHops));
            var route = new EcmpRoute(prefix, kind, hops, probe, hashSeed);
            var now = Elapsed;
            foreach (var h in hops)
                if (!h.Leg.Port.IsUp)
                    h.Health.CarrierLost(now);
            route.RecomputeMask();
            if (probe.Enabled)
            {
                var ids = new Dictionary<ushort, (EcmpRoute, NextHop)>(_probeIds);
                foreach (var h in hops)
                {
                    h.ProbeId = _nextProbeId++;
                    ids[h.ProbeId] = (route, h);
                }
                _probeIds = ids;
            }
            AddRoute(route);
            if (probe.Enabled && _probeTimers)
            {
                if (_time != TimeProvider.System)
                    route.Timer = _time.CreateTimer(static s => ((ProbeTick)s!).Run(), new ProbeTick(this, route), probe.Interval, probe.Interval);
                else if (_prober is null)
                {
                    _prober = new Thread(ProbeLoop) { IsBackground = true, Name = $"{Name} probes" };
                    _prober.Start();
                }
                else
                    lock (_probeWake)
                        Monitor.PulseAll(_probeWake); // a new route to schedule
            }
        }
    }

    private NextHop ResolveNextHop(Ipv4Prefix prefix, string address, ProbeOptions? probe = null)
    {
        var ip = IPAddress.Parse(address);
        uint key = Ipv4Address.ToUInt32(ip);
        foreach (var leg in _legs)
            for (int i = 0; i < leg.Addresses.Length; i++)
                if (leg.Addresses[i].Subnet.Contains(key))
                    return new NextHop(ip, key, leg, leg.Keys[i], new NextHopHealth(probe is { Enabled: true } ? probe.MissedProbes : 1));
        throw new ArgumentException(
            $"{Name}: next hop {address} of route {prefix} is on none of the legs' subnets ({string.Join(", ", _legs.SelectMany(l => l.Addresses).Select(a => a.Subnet))}); add the leg first.");
    }

    private void AddRoute(Route route)
    {
        if (_configured.Any(r => r.Prefix == route.Prefix))
            throw new InvalidOperationException($"{Name} already has a route to {route.Prefix}.");
        _configured.Add(route);
        // Longest prefix first; OrderBy is stable, so equal lengths keep their configuration order.
        _routes = _configured.OrderByDescending(r => r.Prefix.Length).ToArray();
    }

    // ------------------------------------------------------------------------------------------------------------------
    // Forwarding

    private void Receive(Leg leg, byte[] bytes)
    {
        Interlocked.Increment(ref _received);
        if (!Ipv4Header.TryRead(bytes, out var h))
        {
            Interlocked.Increment(ref _malformed);
            return;
        }
        foreach (var r in _routes)
            if (r is ReversePathRoute rp)
                rp.Learn(leg, h.Source, h.Destination, _time);
        if (IsOwn(h.Destination))
        {
            Local(bytes, h);
            return;
        }
        if (h.Ttl <= 1)
        {
            Interlocked.Increment(ref _ttl);
            return;
        }
        if (!TryDecide(h.Source, h.Destination, out var route, out var hop, out var nextHop, out var outLeg))
        {
            Interlocked.Increment(ref _noRoute);
            return;
        }
        Transmit(outLeg, hop, nextHop, Ipv4Header.CopyWithTtlDecremented(bytes, h));
    }

    /// <summary>Sends a packet the router itself originates (an echo reply): routed, TTL untouched.</summary>
    private void Originate(uint source, uint destination, byte[] packet)
    {
        if (!TryDecide(source, destination, out _, out var hop, out var nextHop, out var leg))
        {
            Interlocked.Increment(ref _noRoute);
            return;
        }
        Transmit(leg, hop, nextHop, packet);
    }

    private void Transmit(Leg leg, NextHop? hop, uint nextHop, byte[] packet)
    {
        var address = hop?.Address ?? Ipv4Address.ToIPAddress(nextHop);
        if (leg.Port.Send(address, packet))
        {
            Interlocked.Increment(ref _forwarded);
            if (hop is not null)
                Interlocked.Increment(ref hop.Forwarded);
        }
        else
        {
            Interlocked.Increment(ref _unreachable);
            if (hop is not null)
                Interlocked.Increment(ref hop.Unreachable);
        }
    }

    /// <summary>Longest-prefix match; an ECMP or reverse-path route with no usable next hop is skipped (withdrawn), as a router's RIB would.</summary>
    private bool TryDecide(uint source, uint destination, out Route? route, out NextHop? hop, out uint nextHop, out Leg leg)
    {
        foreach (var r in _routes)
        {
            if (!r.Prefix.Contains(destination))
                continue;
            switch (r)
            {
                case ConnectedRoute c:
                    route = r;
                    hop = null;
                    nextHop = destination;
                    leg = c.Leg;
                    return true;
                case EcmpRoute e:
                {
                    int i = EcmpSelection.Choose(source, destination, e.Keys, e.AliveMask, e.HashSeed);
                    if (i < 0)
                        continue;
                    (route, hop, nextHop, leg) = (r, e.Hops[i], e.Hops[i].Key, e.Hops[i].Leg);
                    return true;
                }
                case ReversePathRoute rp:
                {
                    var n = rp.Select(source, destination);
                    if (n is null)
                        continue;
                    (route, hop, nextHop, leg) = (r, n, n.Key, n.Leg);
                    return true;
                }
            }
        }
        (route, hop, nextHop, leg) = (null, null, 0, null!);
        return false;
    }

    private bool IsOwn(uint address)
    {
        foreach (var a in _ownAddresses)
            if (a == address)
                return true;
        return false;
    }

    private void Local(byte[] bytes, in Ipv4Header h)
    {
        Interlocked.Increment(ref _local);
        if (h.Protocol != Ipv4Packet.ProtocolIcmp
            || !IcmpEcho.TryParse(bytes.AsSpan(h.HeaderLength, h.TotalLength - h.HeaderLength), out var echo))
            return;
        if (echo.Type == IcmpEchoType.Request)
        {
            if (IcmpEcho.TryReply(bytes.AsSpan(0, h.TotalLength), out var reply))
            {
                Interlocked.Increment(ref _echoReplies);
                Originate(h.Destination, h.Source, reply);
            }
            return;
        }
        if (_probeIds.TryGetValue(echo.Identifier, out var target) && target.Hop.Key == h.Source)
            target.Route.OnProbeReply(target.Hop, echo.Sequence, Elapsed);
    }

    // ------------------------------------------------------------------------------------------------------------------
    // Probing and carrier

    /// <summary>One probe round of every probed route now, whatever the timers do (tests drive probing with this).</summary>
    public void ProbeNow()
    {
        foreach (var r in _routes)
            if (r is EcmpRoute { Probe.Enabled: true } e)
                ProbeRound(e);
    }

    private sealed class ProbeTick(LabRouter router, EcmpRoute route)
    {
        public void Run() => router.ProbeRound(route);
    }

    /// <summary>
    /// The probe thread: every probed route gets a round when it is due (the first at once), then one every interval.
    /// A round that runs late is not caught up with a burst: the next is one interval after it.
    /// </summary>
    private void ProbeLoop()
    {
        var due = new Dictionary<EcmpRoute, long>();
        while (!_disposed)
        {
            long now = Stopwatch.GetTimestamp();
            long wait = Stopwatch.Frequency; // at most a second between looks
            foreach (var r in _routes)
            {
                if (r is not EcmpRoute { Probe.Enabled: true } e)
                    continue;
                long interval = (long)(e.Probe.Interval.TotalSeconds * Stopwatch.Frequency);
                if (!due.TryGetValue(e, out var next) || next <= now)
                {
                    if (next != 0) Interlocked.Add(ref _probeLateTicks, now - next);
                    ProbeRound(e);
                    next = (next == 0 ? now : next) + interval;
                    now = Stopwatch.GetTimestamp();
                    if (next <= now)
                        next = now + interval;
                    due[e] = next;
                }
                wait = Math.Min(wait, next - now);
            }
            lock (_probeWake)
            {
                if (!_disposed && wait > 0)
                    Monitor.Wait(_probeWake, TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency));
            }
        }
    }

    private void ProbeRound(EcmpRoute route)
    {
        if (_disposed || Interlocked.Exchange(ref route.Probing, 1) == 1)
            return;
        try
        {
            var due = new (NextHop Hop, ushort Sequence)[route.Hops.Length];
            lock (route.Gate)
            {
                var now = Elapsed;
                for (int i = 0; i < route.Hops.Length; i++)
                {
                    var hop = route.Hops[i];
                    hop.Health.ProbeDue(now);
                    due[i] = (hop, hop.Health.Sequence);
                }
                route.RecomputeMask();
            }
            // Sent outside the route's lock: the reply may come back synchronously on this very thread.
            foreach (var (hop, sequence) in due)
            {
                var probe = IcmpEcho.Request(hop.ProbeId, sequence, ProbeData)
                    .InIpv4(Ipv4Address.ToIPAddress(hop.LegAddress), hop.Address).ToBytes();
                try
                {
                    hop.Leg.Port.Send(hop.Address, probe);
                }
                catch (Exception)
                {
                    // A neighbour's callback failed while answering; on a timer thread that must not end the process.
                    // The probe simply counts as unanswered.
                }
            }
        }
        finally
        {
            Volatile.Write(ref route.Probing, 0);
        }
    }

    private void OnLegCarrier(Leg leg, bool up)
    {
        var now = Elapsed;
        foreach (var r in _routes)
        {
            if (r is not EcmpRoute e)
                continue;
            lock (e.Gate)
            {
                foreach (var hop in e.Hops)
                {
                    if (hop.Leg != leg)
                        continue;
                    if (!up)
                        hop.Health.CarrierLost(now);
                    else if (!e.Probe.Enabled)
                        hop.Health.Set(true, now); // probed next hops come back on their first answered probe
                }
                e.RecomputeMask();
            }
        }
    }

    // ------------------------------------------------------------------------------------------------------------------
    // Inspection

    /// <summary>Where a packet of (source, destination) would go now, or null (no route, or no live next hop).</summary>
    public RouteDecision? Resolve(IPAddress source, IPAddress destination)
    {
        if (!TryDecide(Ipv4Address.ToUInt32(source), Ipv4Address.ToUInt32(destination), out var route, out _, out var nextHop, out var leg))
            return null;
        return new RouteDecision(route!.Prefix, route.Kind, Ipv4Address.ToIPAddress(nextHop), leg.Name);
    }

    public IPacketPort Port(string leg) =>
        _legs.FirstOrDefault(l => l.Name == leg)?.Port ?? throw new ArgumentException($"{Name} has no leg {leg}.", nameof(leg));

    public IReadOnlyList<RouteStatus> Routes
    {
        get
        {
            lock (_gate)
                return _configured.Select(r => r.Status()).ToArray();
        }
    }

    /// <summary>
    /// The routing table, one route per block (configured routes first, then connected), and the counters, as
    /// plain text:
    /// <code>
    /// 192.168.202.35/32 ecmp (flow hash: source+destination, probe 100ms x 3)
    ///     via 192.168.129.254 dev c1 alive    probes sent 120, missed 0, forwarded 57
    /// </code>
    /// </summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        Route[] routes;
        lock (_gate)
            routes = _configured.Where(r => r is not ConnectedRoute).Concat(_configured.Where(r => r is ConnectedRoute)).ToArray();
        foreach (var r in routes)
            r.Describe(sb, _time);
        var c = Counters;
        sb.Append(CultureInfo.InvariantCulture,
            $"counters: received {c.Received}, forwarded {c.Forwarded}, local {c.Local} (echo replies {c.EchoReplies}), dropped no-route {c.DroppedNoRoute}, dropped TTL {c.DroppedTtl}, unreachable {c.DroppedUnreachable}, malformed {c.DroppedMalformed}\n");
        return sb.ToString();
    }

    public override string ToString() => $"LabRouter {Name}";

    /// <summary>Stops probing (waiting for a round in progress, unless called from it) and closes the legs.</summary>
    public void Dispose()
    {
        Leg[] legs;
        Thread? prober;
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (var r in _configured)
                if (r is EcmpRoute e)
                    e.Timer?.Dispose();
            legs = _legs;
            prober = _prober;
        }
        lock (_probeWake)
            Monitor.PulseAll(_probeWake);
        if (prober is not null && prober != Thread.CurrentThread)
            prober.Join(TimeSpan.FromSeconds(5));
        foreach (var leg in legs)
            leg.Port.Dispose();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture) + " s";

    // ------------------------------------------------------------------------------------------------------------------

    private sealed class Leg(string name, InterfaceAddress[] addresses)
    {
        public string Name { get; } = name;
        /// <summary>Set right after opening (the receive callback captures the leg before the port exists).</summary>
        public IPacketPort Port { get; set; } = null!;
        public InterfaceAddress[] Addresses { get; } = addresses;
        public uint[] Keys { get; } = addresses.Select(a => Ipv4Address.ToUInt32(a.Address)).ToArray();
    }

    private sealed class NextHop(IPAddress address, uint key, Leg leg, uint legAddress, NextHopHealth health)
    {
        public IPAddress Address { get; } = address;
        public uint Key { get; } = key;
        public Leg Leg { get; } = leg;
        /// <summary>The router's own address on the next hop's subnet: the probes' source.</summary>
        public uint LegAddress { get; } = legAddress;
        public NextHopHealth Health { get; } = health;
        public ushort ProbeId;
        public long Forwarded;
        public long Unreachable;
        /// <summary>Reverse path: timestamp of the latest packet from the route's prefix that came in through this neighbour (0: none).</summary>
        public long LatestIngress;

        public NextHopStatus Status() => new(Address, Leg.Name, Health.Alive, Interlocked.Read(ref Forwarded), Interlocked.Read(ref Unreachable),
            Health.ProbesSent, Health.ProbesMissed, Health.ConsecutiveMissed, Health.DownSince);
    }

    private abstract class Route(Ipv4Prefix prefix, RouteKind kind)
    {
        public Ipv4Prefix Prefix { get; } = prefix;
        public RouteKind Kind { get; } = kind;
        public abstract RouteStatus Status();
        public abstract void Describe(StringBuilder sb, TimeProvider time);
    }

    private sealed class ConnectedRoute(Ipv4Prefix prefix, Leg leg) : Route(prefix, RouteKind.Connected)
    {
        public Leg Leg { get; } = leg;

        public override RouteStatus Status() => new(Prefix, Kind, ProbeOptions.Disabled, [], 0);

        public override void Describe(StringBuilder sb, TimeProvider time) =>
            sb.Append($"{Prefix} connected dev {Leg.Name} {(Leg.Port.IsUp ? "up" : "down")}\n");
    }

    private sealed class EcmpRoute : Route
    {
        public EcmpRoute(Ipv4Prefix prefix, RouteKind kind, NextHop[] hops, ProbeOptions probe, ulong hashSeed) : base(prefix, kind)
        {
            HashSeed = hashSeed;
            Hops = hops;
            Keys = hops.Select(h => h.Key).ToArray();
            Probe = probe;
        }

        public NextHop[] Hops { get; }
        public uint[] Keys { get; }
        public ProbeOptions Probe { get; }
        public ulong HashSeed { get; }
        public object Gate { get; } = new();
        public ITimer? Timer;
        public int Probing;
        private volatile uint _aliveMask;

        public uint AliveMask => _aliveMask;

        /// <summary>Under <see cref="Gate"/>.</summary>
        public void RecomputeMask()
        {
            uint mask = 0;
            for (int i = 0; i < Hops.Length; i++)
                if (Hops[i].Health.Alive)
                    mask |= 1u << i;
            _aliveMask = mask;
        }

        public void OnProbeReply(NextHop hop, ushort sequence, TimeSpan now)
        {
            lock (Gate)
            {
                if (hop.Health.Answered(sequence, now) != HealthChange.None)
                    RecomputeMask();
            }
        }

        public override RouteStatus Status()
        {
            lock (Gate)
                return new(Prefix, Kind, Probe, Hops.Select(h => h.Status()).ToArray(), 0);
        }

        public override void Describe(StringBuilder sb, TimeProvider time)
        {
            lock (Gate)
            {
                if (Kind == RouteKind.Static)
                    sb.Append($"{Prefix} static ({Probe})\n");
                else
                    sb.Append($"{Prefix} ecmp (flow hash: source+destination{(HashSeed == 0 ? "" : $" seed {HashSeed}")}, {Probe})\n");
                foreach (var h in Hops)
                {
                    var health = h.Health;
                    sb.Append($"    via {h.Address} dev {h.Leg.Name} ").Append((health.Alive ? "alive" : "dead").PadRight(9));
                    if (Probe.Enabled)
                    {
                        if (health.Alive)
                            sb.Append($"probes sent {health.ProbesSent}, missed {health.ProbesMissed}");
                        else
                            sb.Append($"{health.ConsecutiveMissed} missed probes");
                    }
                    else
                        sb.Append(h.Leg.Port.IsUp ? "carrier" : "no carrier");
                    if (health.DownSince is { } since)
                        sb.Append(", down since ").Append(Seconds(since));
                    sb.Append($", forwarded {Interlocked.Read(ref h.Forwarded)}");
                    if (Interlocked.Read(ref h.Unreachable) is var u and > 0)
                        sb.Append($", unreachable {u}");
                    sb.Append('\n');
                }
            }
        }
    }

    private sealed class ReversePathRoute(Ipv4Prefix prefix, NextHop[] neighbours) : Route(prefix, RouteKind.ReversePath)
    {
        /// <summary>Reply flow (source &lt;&lt; 32 | destination) → index of the neighbour its request came through.</summary>
        private readonly ConcurrentDictionary<ulong, int> _flows = new();
        private int _flowCount;
        private volatile int _latest = -1;

        public NextHop[] Neighbours { get; } = neighbours;

        /// <summary>A packet from <paramref name="source"/> (in the prefix?) to <paramref name="destination"/> came in on <paramref name="leg"/>.</summary>
        public void Learn(Leg leg, uint source, uint destination, TimeProvider time)
        {
            if (!Prefix.Contains(source))
                return;
            int index = -1;
            for (int i = 0; i < Neighbours.Length; i++)
                if (Neighbours[i].Leg == leg)
                    index = i;
            if (index < 0)
                return;
            Volatile.Write(ref Neighbours[index].LatestIngress, time.GetTimestamp());
            _latest = index;
            ulong reply = ((ulong)destination << 32) | source;
            if (_flows.TryGetValue(reply, out var known))
            {
                if (known != index)
                    _flows[reply] = index;
                return;
            }
            if (_flows.TryAdd(reply, index) && Interlocked.Increment(ref _flowCount) > MaxLearnedFlows)
            {
                // A lab never gets here; if a flood does, forget and relearn rather than grow without bound.
                _flows.Clear();
                Interlocked.Exchange(ref _flowCount, 0);
            }
        }

        public NextHop? Select(uint source, uint destination)
        {
            if (_flows.TryGetValue(((ulong)source << 32) | destination, out var i) && Neighbours[i].Leg.Port.IsUp)
                return Neighbours[i];
            int latest = _latest;
            if (latest >= 0 && Neighbours[latest].Leg.Port.IsUp)
                return Neighbours[latest];
            foreach (var n in Neighbours)
                if (n.Leg.Port.IsUp)
                    return n;
            return null;
        }

        public override RouteStatus Status() => new(Prefix, Kind, ProbeOptions.Disabled, Neighbours.Select(n => n.Status()).ToArray(), _flows.Count);

        public override void Describe(StringBuilder sb, TimeProvider time)
        {
            var flows = _flows.ToArray();
            sb.Append($"{Prefix} reverse-path (replies follow the latest ingress of their flow; {flows.Length} flow{(flows.Length == 1 ? "" : "s")} learned)\n");
            foreach (var n in Neighbours)
            {
                sb.Append($"    via {n.Address} dev {n.Leg.Name} ").Append((n.Leg.Port.IsUp ? "carrier" : "no carrier").PadRight(11))
                  .Append($"forwarded {Interlocked.Read(ref n.Forwarded)}");
                long ingress = Volatile.Read(ref n.LatestIngress);
                if (ingress != 0)
                    sb.Append(", latest ingress ").Append(Seconds(time.GetElapsedTime(ingress))).Append(" ago");
                sb.Append('\n');
            }
            foreach (var (key, index) in flows.OrderBy(f => f.Key).Take(8))
                sb.Append($"    flow {Ipv4Address.Format((uint)(key >> 32))} -> {Ipv4Address.Format((uint)key)} via {Neighbours[index].Address}\n");
            if (flows.Length > 8)
                sb.Append($"    ... {flows.Length - 8} more flows\n");
        }
    }
}
