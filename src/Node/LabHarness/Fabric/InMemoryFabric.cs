using System.Collections.Concurrent;
using System.Net;
using System.Text;
using ClusterActors.Protocol.Packets;
using ClusterActors.Actors.DataPlane;

namespace ClusterActors.Node.LabHarness.Fabric;

/// <summary>Per-link packet counts (cumulative since the fabric was built).</summary>
/// <param name="Delivered">Packets handed to a receiving port.</param>
/// <param name="NoAnswer">Sends that found no up, answering port holding the next hop (an unanswered ARP).</param>
/// <param name="NoCarrier">Sends from a port without carrier (cable pulled, admin down, disposed).</param>
/// <param name="ImpairedLoss">Dropped by an impairment's random loss on a port of this link (<see cref="InMemoryFabric.Impair"/>).</param>
/// <param name="ImpairedLimit">Dropped because an impaired port's queue was full (netem's limit).</param>
/// <param name="ImpairedFlushed">Still queued on an impaired port when its impairment was replaced or cleared.</param>
public sealed record LinkCounters(string Segment, long Delivered, long NoAnswer, long NoCarrier,
    long ImpairedLoss = 0, long ImpairedLimit = 0, long ImpairedFlushed = 0)
{
    public long Dropped => NoAnswer + NoCarrier + ImpairedLoss + ImpairedLimit + ImpairedFlushed;
}

/// <summary>
/// One row of the fabric's wiring table as it stands now. <see cref="Announcements"/>: how many times a port on this
/// cable announced its addresses (gratuitous ARP: started answering, regained carrier while answering, or re-announced).
/// </summary>
public sealed record CableState(string Host, string Interface, string Segment, bool Plugged, bool Open, bool AdminUp, bool IsUp,
    bool Answering, IReadOnlyList<InterfaceAddress> Addresses, long Announcements = 0)
{
    /// <summary>The port's egress impairment and what it dropped (null: never impaired).</summary>
    public ImpairmentCounters? Impairment { get; init; }
}

/// <summary>Observes every delivery, on the sender's thread, before the receiver's callback runs (a packet capture).</summary>
public delegate void FabricTap(string segment, IPacketPort from, IPacketPort to, byte[] ipv4Packet);

/// <summary>
/// Every link of the lab in one process. A wiring table says which link (segment) each host's interface is cabled to
/// (<see cref="Cable"/>); a host opens its interfaces through <see cref="Host"/>'s <see cref="IPacketIo"/>. A link is a
/// layer-3 switch: <see cref="IPacketPort.Send"/> hands the packet to the port on the same link that is up, answers
/// (<see cref="IPacketPort.Answering"/>) and holds the next hop among its addresses — what ARP would resolve. When
/// several answer for one address (FGCP split brain), the one that announced itself last wins, as a gratuitous ARP
/// would have taught the switch and the neighbours. Delivery is synchronous: the receiver's callback runs on the
/// sender's thread, outside every lock of the fabric, so a callback may send onward (a router) or change port state.
/// </summary>
public sealed class InMemoryFabric
{
    private readonly object _gate = new();
    private readonly Dictionary<(string Host, string Interface), CableEntry> _cables = new();
    private readonly Dictionary<string, Link> _links = new(StringComparer.Ordinal);
    private readonly List<CableEntry> _cableOrder = new();
    private readonly ConcurrentDictionary<string, FabricHost> _hosts = new(StringComparer.Ordinal);
    /// <summary>Logical clock of announcements (an interface starting to answer, or gaining carrier while answering).</summary>
    private long _announceClock;
    /// <summary>When impaired packets leave (<see cref="Impair"/>); the system clock unless a spec steps one.</summary>
    private readonly TimeProvider _time;

    public InMemoryFabric(TimeProvider? time = null) => _time = time ?? TimeProvider.System;

    /// <summary>Observes every delivery (optional; costs one null check per packet when unused).</summary>
    public event FabricTap? Delivered;

    /// <summary>The packet I/O of host <paramref name="name"/> (the same object for the same name).</summary>
    public IPacketIo Host(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return _hosts.GetOrAdd(name, n => new FabricHost(this, n));
    }

    /// <summary>
    /// Cables interface <paramref name="iface"/> of <paramref name="host"/> to link <paramref name="segment"/> (created on
    /// first use), plugged in. <paramref name="answeringOnOpen"/> is the port's <see cref="IPacketPort.Answering"/> when it
    /// is opened: true for ordinary hosts; false lets an HA member come up silent and announce only once primary.
    /// </summary>
    public void Cable(string host, string iface, string segment, bool answeringOnOpen = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        ArgumentException.ThrowIfNullOrWhiteSpace(iface);
        ArgumentException.ThrowIfNullOrWhiteSpace(segment);
        lock (_gate)
        {
            if (_cables.TryGetValue((host, iface), out var existing))
                throw new InvalidOperationException(
                    $"{host} {iface} is already cabled to segment '{existing.Link.Name}'; one interface has one cable.");
            if (!_links.TryGetValue(segment, out var link))
                _links[segment] = link = new Link(segment);
            var entry = new CableEntry(host, iface, link, answeringOnOpen);
            _cables[(host, iface)] = entry;
            _cableOrder.Add(entry);
        }
    }

    /// <summary>
    /// Plugs or pulls the cable of <paramref name="host"/> <paramref name="iface"/>. A pulled cable takes the carrier
    /// from that port (its <see cref="IPacketPort.CarrierChanged"/> fires); it neither sends nor receives until plugged
    /// back. The state belongs to the cable, so a port opened later (a restarted unit) starts with it.
    /// </summary>
    public void SetCable(string host, string iface, bool plugged)
    {
        FabricPort? port;
        bool before, after;
        lock (_gate)
        {
            var entry = Entry(host, iface);
            port = entry.Port;
            before = port?.IsUpUnsafe ?? false;
            entry.Plugged = plugged;
            after = port is not null && Recompute(port, before);
        }
        if (port is not null && before != after)
            port.RaiseCarrierChanged(after);
    }

    /// <summary>
    /// `impair HOST IFACE …`: netem on the egress of that interface (<see cref="NetemModel"/>): what it sends is lost,
    /// duplicated, delayed or rate-limited as <paramref name="spec"/> says, drawing from <paramref name="random"/> (give
    /// a seeded one, <see cref="NetemModel.RandomFor"/>, so that a run replays). Null or <see cref="ImpairmentSpec.None"/>
    /// clears it. Replacing or clearing purges what is still queued (counted as flushed), as `tc qdisc replace|del`
    /// does. Like the cable's plug state, the impairment belongs to the cable: a port opened again later keeps it.
    /// </summary>
    public void Impair(string host, string iface, ImpairmentSpec? spec, Random? random = null)
    {
        lock (_gate)
        {
            var entry = Entry(host, iface);
            if (entry.Egress is { } old)
            {
                // Safe under the gate: the egress's own lock is never held while it calls into the fabric.
                old.Dispose();
                entry.Retire(old);
            }
            entry.Egress = spec is null || spec == ImpairmentSpec.None
                ? null
                : new ImpairedEgress<InFlight>(spec, random ?? NetemModel.RandomFor(0, host, iface), _time, Release);
        }
    }

    /// <summary>The impairment on that cable and its counters (cleared ones included), or null if it never had one.</summary>
    public ImpairmentCounters? Impairment(string host, string iface)
    {
        lock (_gate)
            return Entry(host, iface).ImpairmentCounters;
    }

    public bool IsPlugged(string host, string iface)
    {
        lock (_gate)
            return Entry(host, iface).Plugged;
    }

    /// <summary>The port currently open on that cable, or null (never opened, or disposed).</summary>
    public IPacketPort? OpenPort(string host, string iface)
    {
        lock (_gate)
            return Entry(host, iface).Port;
    }

    public IReadOnlyList<string> Segments
    {
        get
        {
            lock (_gate)
                return _links.Keys.ToArray();
        }
    }

    /// <summary>The wiring table with each cable's live state, in the order the cables were laid.</summary>
    public IReadOnlyList<CableState> Wiring
    {
        get
        {
            lock (_gate)
                return _cableOrder.Select(StateOf).ToArray();
        }
    }

    public LinkCounters Counters(string segment)
    {
        lock (_gate)
        {
            if (!_links.TryGetValue(segment, out var link))
                throw new ArgumentException($"No segment '{segment}' in this fabric (segments: {string.Join(", ", _links.Keys)}).", nameof(segment));
            return Snapshot(link);
        }
    }

    /// <summary>The link's counters with its ports' impairment drops. Under <see cref="_gate"/>.</summary>
    private LinkCounters Snapshot(Link link)
    {
        long loss = 0, limit = 0, flushed = 0;
        foreach (var e in _cableOrder)
            if (e.Link == link && e.ImpairmentCounters is { } c)
                (loss, limit, flushed) = (loss + c.Lost, limit + c.OverLimit, flushed + c.Flushed);
        return link.Snapshot() with { ImpairedLoss = loss, ImpairedLimit = limit, ImpairedFlushed = flushed };
    }

    /// <summary>Every link with its ports, their state and the link's counters, as plain text.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        lock (_gate)
        {
            foreach (var link in _links.Values)
            {
                var c = Snapshot(link);
                sb.Append("segment ").Append(link.Name)
                  .Append($"  delivered {c.Delivered}, no answer {c.NoAnswer}, no carrier {c.NoCarrier}");
                if (c.ImpairedLoss + c.ImpairedLimit + c.ImpairedFlushed > 0)
                    sb.Append($", impaired loss {c.ImpairedLoss}, limit {c.ImpairedLimit}, flushed {c.ImpairedFlushed}");
                sb.Append('\n');
                foreach (var entry in _cableOrder.Where(e => e.Link == link))
                {
                    var s = StateOf(entry);
                    var addresses = s.Addresses.Count == 0 ? "-" : string.Join(",", s.Addresses);
                    string state = !s.Open ? "not open" + (s.Plugged ? "" : ", cable pulled")
                        : !s.Plugged ? "down (cable pulled)"
                        : !s.AdminUp ? "down (admin)"
                        : s.Answering ? "up answering" : "up silent";
                    sb.Append($"    {s.Host} {s.Interface}".PadRight(24)).Append(' ').Append(addresses.PadRight(20)).Append(' ')
                      .Append(state).Append('\n');
                    if (s.Impairment is { } imp)
                        sb.Append("      egress ").Append(entry.Egress is null ? "(cleared) " : "").Append(imp).Append('\n');
                }
            }
        }
        return sb.ToString();
    }

    // ------------------------------------------------------------------------------------------------------------------
    // Port operations (called by FabricPort)

    private IPacketPort Open(FabricHost host, string name, IReadOnlyList<InterfaceAddress> addresses, PacketArrived onPacket)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(addresses);
        ArgumentNullException.ThrowIfNull(onPacket);
        var keys = addresses.Select(a => Ipv4Address.ToUInt32(a.Address)).ToArray();
        lock (_gate)
        {
            if (!_cables.TryGetValue((host.Name, name), out var entry))
            {
                var cabled = _cableOrder.Where(e => e.Host == host.Name).Select(e => e.Interface).ToArray();
                throw new InvalidOperationException(
                    $"{host.Name} has no cable on interface '{name}': the fabric's wiring table needs " +
                    $"fabric.Cable(\"{host.Name}\", \"{name}\", segment) before the interface is opened " +
                    (cabled.Length == 0 ? $"({host.Name} has no cabled interface at all)." : $"({host.Name} is cabled on {string.Join(", ", cabled)})."));
            }
            if (entry.Port is not null)
                throw new InvalidOperationException(
                    $"{host.Name} {name} is already open; dispose that port first (a restarted unit opens its interfaces again once the old ports are disposed).");
            var port = new FabricPort(this, entry, name, addresses.ToArray(), keys, onPacket, entry.AnsweringOnOpen);
            Recompute(port, wasUp: false);
            entry.Port = port;
            entry.Link.Ports = [.. entry.Link.Ports, port];
            return port;
        }
    }

    private void SetAdminUp(FabricPort port, bool value) => ChangeState(port, p => p.AdminUpUnsafe = value);

    private void SetAnswering(FabricPort port, bool value) => ChangeState(port, p => p.AnsweringUnsafe = value);

    /// <summary>A gratuitous ARP from a port that already answers: it becomes the newest announcement on its link.</summary>
    private void Reannounce(FabricPort port)
    {
        lock (_gate)
        {
            if (port.Disposed || !port.IsUpUnsafe || !port.AnsweringUnsafe)
                return;
            port.AnnouncedAt = ++_announceClock;
            port.Entry.Announcements++;
        }
    }

    private void ChangeState(FabricPort port, Action<FabricPort> mutate)
    {
        bool before, after;
        lock (_gate)
        {
            if (port.Disposed)
                return;
            before = port.IsUpUnsafe;
            bool wasAnnouncing = before && port.AnsweringUnsafe;
            mutate(port);
            after = Recompute(port, before, wasAnnouncing);
        }
        if (before != after)
            port.RaiseCarrierChanged(after);
    }

    /// <summary>Derives carrier and the announcement stamp from the port's state. Under <see cref="_gate"/>.</summary>
    private bool Recompute(FabricPort port, bool wasUp, bool? wasAnnouncing = null)
    {
        bool announcing0 = wasAnnouncing ?? (wasUp && port.AnsweringUnsafe);
        bool up = !port.Disposed && port.Entry.Plugged && port.AdminUpUnsafe;
        port.IsUpUnsafe = up;
        bool announcing = up && port.AnsweringUnsafe;
        if (!port.AnsweringUnsafe)
            port.AnnouncedAt = 0;
        else if (announcing && !announcing0)
        {
            port.AnnouncedAt = ++_announceClock; // gratuitous ARP: the newest announcement wins the address
            port.Entry.Announcements++;
        }
        return up;
    }

    private void Detach(FabricPort port)
    {
        lock (_gate)
        {
            if (port.Disposed)
                return;
            port.Disposed = true;
            port.IsUpUnsafe = false;
            port.AnnouncedAt = 0;
            if (port.Entry.Port == port)
                port.Entry.Port = null;
            port.Entry.Link.Ports = port.Entry.Link.Ports.Where(p => p != port).ToArray();
        }
    }

    private bool Deliver(FabricPort from, IPAddress nextHop, byte[] packet)
    {
        ArgumentNullException.ThrowIfNull(nextHop);
        ArgumentNullException.ThrowIfNull(packet);
        var link = from.Entry.Link;
        if (!from.IsUp)
        {
            Interlocked.Increment(ref link.NoCarrier);
            return false;
        }
        uint target = Ipv4Address.ToUInt32(nextHop);
        FabricPort? best = null;
        long bestStamp = 0;
        foreach (var p in link.Ports)
        {
            if (p == from || !p.IsUp)
                continue;
            long stamp = Volatile.Read(ref p.AnnouncedAt);
            if (stamp <= bestStamp || !p.Holds(target))
                continue;
            best = p;
            bestStamp = stamp;
        }
        if (best is null)
        {
            Interlocked.Increment(ref link.NoAnswer);
            return false;
        }
        if (from.Entry.Egress is { } egress)
        {
            // Impaired: netem decides; what leaves later leaves a copy (the sender may reuse its buffer by then). The
            // sender is told true either way, as a socket is by a qdisc that drops.
            egress.Send(new InFlight(from, best, packet.ToArray()), packet.Length);
            return true;
        }
        Interlocked.Increment(ref link.DeliveredCount);
        Delivered?.Invoke(link.Name, from, best, packet);
        best.OnPacket(best, packet);
        return true;
    }

    /// <summary>A packet an impaired egress let through, now (its receiver was resolved when it was sent, as the
    /// frame's destination MAC was before it entered the qdisc).</summary>
    private readonly record struct InFlight(FabricPort From, FabricPort To, byte[] Packet);

    private void Release(InFlight f)
    {
        var link = f.From.Entry.Link;
        if (!f.From.IsUp)
        {
            Interlocked.Increment(ref link.NoCarrier); // the sender lost carrier meanwhile: the queue goes with the link
            return;
        }
        if (!f.To.IsUp)
        {
            Interlocked.Increment(ref link.NoAnswer); // the receiver went away meanwhile
            return;
        }
        Interlocked.Increment(ref link.DeliveredCount);
        Delivered?.Invoke(link.Name, f.From, f.To, f.Packet);
        f.To.OnPacket(f.To, f.Packet);
    }

    private CableEntry Entry(string host, string iface)
    {
        if (_cables.TryGetValue((host, iface), out var entry))
            return entry;
        throw new ArgumentException($"No cable for {host} {iface} in the wiring table; lay it with fabric.Cable(host, iface, segment).");
    }

    private static CableState StateOf(CableEntry e)
    {
        var p = e.Port;
        return new CableState(e.Host, e.Interface, e.Link.Name, e.Plugged, p is not null, p?.AdminUpUnsafe ?? true, p?.IsUpUnsafe ?? false,
            p is null ? e.AnsweringOnOpen : p.AnsweringUnsafe, p?.Addresses ?? [], e.Announcements) { Impairment = e.ImpairmentCounters };
    }

    // ------------------------------------------------------------------------------------------------------------------

    private sealed class Link(string name)
    {
        public string Name { get; } = name;
        /// <summary>Attached ports; replaced whole under the gate, read without it by senders.</summary>
        public volatile FabricPort[] Ports = [];
        public long DeliveredCount;
        public long NoAnswer;
        public long NoCarrier;

        public LinkCounters Snapshot() =>
            new(Name, Interlocked.Read(ref DeliveredCount), Interlocked.Read(ref NoAnswer), Interlocked.Read(ref NoCarrier));
    }

    private sealed class CableEntry(string host, string iface, Link link, bool answeringOnOpen)
    {
        public string Host { get; } = host;
        public string Interface { get; } = iface;
        public Link Link { get; } = link;
        public bool AnsweringOnOpen { get; } = answeringOnOpen;
        public bool Plugged = true;
        public FabricPort? Port;
        /// <summary>Announcements by any port opened on this cable (under the gate).</summary>
        public long Announcements;
        /// <summary>The egress impairment (read without the gate by senders, replaced under it).</summary>
        public volatile ImpairedEgress<InFlight>? Egress;
        /// <summary>The counters of impairments replaced or cleared, summed (under the gate).</summary>
        private ImpairmentCounters? _retired;

        /// <summary>Folds a replaced impairment's counters (after its queue was flushed) into the cable's.</summary>
        public void Retire(ImpairedEgress<InFlight> old)
        {
            var c = old.Counters;
            _retired = _retired is null ? c : c with
            {
                Offered = c.Offered + _retired.Offered, Lost = c.Lost + _retired.Lost, OverLimit = c.OverLimit + _retired.OverLimit,
                Flushed = c.Flushed + _retired.Flushed, Duplicated = c.Duplicated + _retired.Duplicated,
            };
        }

        /// <summary>The live impairment's counters plus the retired ones', under the live spec (or the last one).</summary>
        public ImpairmentCounters? ImpairmentCounters
        {
            get
            {
                var live = Egress?.Counters;
                if (live is null) return _retired;
                if (_retired is null) return live;
                return live with
                {
                    Offered = live.Offered + _retired.Offered, Lost = live.Lost + _retired.Lost, OverLimit = live.OverLimit + _retired.OverLimit,
                    Flushed = live.Flushed + _retired.Flushed, Duplicated = live.Duplicated + _retired.Duplicated,
                };
            }
        }
    }

    private sealed class FabricHost(InMemoryFabric fabric, string name) : IPacketIo
    {
        public string Name { get; } = name;

        public IPacketPort Open(string name, IReadOnlyList<InterfaceAddress> addresses, PacketArrived onPacket) =>
            fabric.Open(this, name, addresses, onPacket);

        public override string ToString() => $"fabric host {Name}";
    }

    private sealed class FabricPort : IPacketPort
    {
        private readonly InMemoryFabric _fabric;
        private readonly uint[] _keys;
        private volatile bool _isUp;
        private volatile bool _disposed;

        public FabricPort(InMemoryFabric fabric, CableEntry entry, string name, InterfaceAddress[] addresses, uint[] keys,
            PacketArrived onPacket, bool answering)
        {
            _fabric = fabric;
            Entry = entry;
            Name = name;
            Addresses = addresses;
            _keys = keys;
            OnPacket = onPacket;
            AnsweringUnsafe = answering;
        }

        public CableEntry Entry { get; }
        public PacketArrived OnPacket { get; }
        public string Name { get; }
        public IReadOnlyList<InterfaceAddress> Addresses { get; }

        // State written under the fabric's gate only.
        public bool AdminUpUnsafe = true;
        public bool AnsweringUnsafe;
        public long AnnouncedAt;
        public bool IsUpUnsafe { get => _isUp; set => _isUp = value; }
        public bool Disposed { get => _disposed; set => _disposed = value; }

        public bool IsUp => _isUp;

        public bool AdminUp
        {
            get => Volatile.Read(ref AdminUpUnsafe);
            set => _fabric.SetAdminUp(this, value);
        }

        public bool Answering
        {
            get => Volatile.Read(ref AnsweringUnsafe);
            set => _fabric.SetAnswering(this, value);
        }

        public event Action<IPacketPort, bool>? CarrierChanged;

        public bool Holds(uint address)
        {
            foreach (var k in _keys)
                if (k == address)
                    return true;
            return false;
        }

        public bool Send(IPAddress nextHop, byte[] ipv4Packet) => _fabric.Deliver(this, nextHop, ipv4Packet);

        public void Reannounce() => _fabric.Reannounce(this);

        public void RaiseCarrierChanged(bool up) => CarrierChanged?.Invoke(this, up);

        public void Dispose() => _fabric.Detach(this);

        public override string ToString() => $"{Entry.Host} {Name}";
    }
}
