using System.Text;
using ClusterActors.Actors.DataPlane;

namespace ClusterActors.Node.Hosting.Kernel;

/// <summary>How a <see cref="KernelPacketIo"/> works; the defaults suit the container lab.</summary>
public sealed record KernelPacketIoOptions
{
    /// <summary>
    /// The network namespace to work in, by its `ip netns` name (/run/netns/NAME); null: the process's own (a unit's
    /// container). With a name, sockets are created on a thread that entered it and every `ip` command gets `-n NAME`,
    /// so several hosts, each in a namespace of its own, can live in one process (the tests do).
    /// </summary>
    public string? Namespace { get; init; }

    /// <summary>Scenario interface name → Linux interface name, for a lab whose interfaces are not named port2, port3…</summary>
    public IReadOnlyDictionary<string, string> InterfaceNames { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Whether a port answers for its addresses as soon as it is opened (the interface's contract: true). An FGCP unit
    /// opens silent (false) so that a restarting secondary never steals the cluster's address between Open and the
    /// first role change; it also takes a stale cluster address off the interface then (a previous run's).
    /// </summary>
    public bool AnsweringOnOpen { get; init; } = true;

    /// <summary>How long <see cref="IPacketPort.Send"/> may wait for an ARP answer before giving up on a next hop.</summary>
    public TimeSpan ResolveTimeout { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>After a next hop did not answer, sends to it fail at once for this long (the kernel's FAILED state).</summary>
    public TimeSpan UnresolvedHoldDown { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A neighbour not heard from (any ARP packet from it) for this long is asked again; used while being asked.</summary>
    public TimeSpan NeighbourLifetime { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The receive buffer each port's IP socket asks for. Taken with SO_RCVBUFFORCE (the unit has CAP_NET_ADMIN in its
    /// container) so that the host's <c>net.core.rmem_max</c> does not decide it: at Linux's default (208 KiB) a port got
    /// ~416 KB where this machine's 4 MiB gave 2 MB, and a unit stall that only delays frames here could drop them on
    /// another machine. Without the capability, SO_RCVBUF (capped by rmem_max).
    /// </summary>
    public int ReceiveBuffer { get; init; } = 1 << 20;

    /// <summary>How often carrier is read (interface flags).</summary>
    public TimeSpan CarrierPollInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Gratuitous ARPs sent per address when a port starts answering or regains carrier (FortiOS: `set arps`).</summary>
    public int GratuitousArps { get; init; } = 2;

    /// <summary>Between two gratuitous ARPs (FortiOS: `set arps-interval`, in seconds there).</summary>
    public TimeSpan GratuitousArpInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Where problems that cannot be thrown go (a failed `ip` command in a property setter, a callback that threw).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>
    /// A frame that waited in the port's socket longer than this, by the kernel's receive timestamp (SO_TIMESTAMPNS), is
    /// dropped, never delivered (counter <see cref="KernelPortCounters.StaleQueued"/>); null: no limit. A unit sets it to
    /// FGCP's stall tolerance (<c>StalledInput.Tolerance</c>): while the process is stopped (SIGSTOP, a hang) the kernel
    /// keeps queueing its frames, and on SIGCONT they would be delivered as if they had just arrived — the forwarding
    /// plane's own stamp is taken after the stop — so a resumed former owner would encrypt the replies from a counter
    /// its successor has passed, and CLIENT1 would drop them as replays (docker chaos, sigstop of the owner).
    /// </summary>
    public TimeSpan? StaleAfter { get; init; }
}

/// <summary>
/// <see cref="IPacketIo"/> on real Linux interfaces, for the container lab: the same forwarding plane, client and PC1
/// code that runs on the in-memory fabric runs on kernel networking. One per process (or per network namespace).
/// Each <see cref="Open"/> binds a Linux interface (named like the scenario's, mapped, or found by its address) with
/// AF_PACKET sockets and delivers whole IPv4 packets on a receive thread of its own. See README.md beside this file.
/// </summary>
public sealed class KernelPacketIo : IPacketIo, IDisposable
{
    private readonly object _gate = new();
    private readonly Dictionary<string, KernelPacketPort> _ports = new(StringComparer.Ordinal);
    private readonly ManualResetEventSlim _stop = new();
    private readonly List<string> _problems = new();
    private Thread? _poller;
    private bool _disposed;

    public KernelPacketIo(KernelPacketIoOptions? options = null)
    {
        Options = options ?? new KernelPacketIoOptions();
    }

    public KernelPacketIoOptions Options { get; }

    public IReadOnlyList<KernelPacketPort> Ports
    {
        get
        {
            lock (_gate) return _ports.Values.ToList();
        }
    }

    /// <summary>Problems reported so far (also sent to <see cref="KernelPacketIoOptions.Log"/>).</summary>
    public IReadOnlyList<string> Problems
    {
        get
        {
            lock (_problems) return _problems.ToList();
        }
    }

    /// <summary>
    /// Opens interface <paramref name="name"/>: throws <see cref="InvalidOperationException"/> when no Linux interface
    /// matches (the forwarding plane reads that as "not cabled in this lab") or the interface is already open.
    /// </summary>
    public IPacketPort Open(string name, IReadOnlyList<InterfaceAddress> addresses, PacketArrived onPacket)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(addresses);
        ArgumentNullException.ThrowIfNull(onPacket);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_ports.ContainsKey(name))
                throw new InvalidOperationException($"{name} is already open; dispose that port first.");
            Options.InterfaceNames.TryGetValue(name, out var linuxName);
            var port = LinuxNet.InNamespace(Options.Namespace, () => KernelPacketPort.Create(this, name, linuxName, addresses, onPacket));
            try
            {
                port.Start(Options.AnsweringOnOpen);
            }
            catch
            {
                port.Dispose();
                throw;
            }
            _ports[name] = port;
            if (_poller is null)
            {
                _poller = new Thread(PollCarrier) { IsBackground = true, Name = "kernel-io carrier" + (Options.Namespace is { } ns ? " " + ns : "") };
                _poller.Start();
            }
            return port;
        }
    }

    /// <summary>
    /// Makes this namespace's kernel leave to the unit what the unit does itself: no IP forwarding, no answers to
    /// ICMP echo, IKE (UDP 500, 4500) or ESP arriving on <paramref name="interfaces"/> (all but lo when null), ARP
    /// answered only on the interface that holds the address. Throws when a step cannot be applied.
    /// </summary>
    public NamespacePreparation PrepareNamespace(IEnumerable<string>? interfaces = null, NamespaceFirewall firewall = NamespaceFirewall.Auto) =>
        NamespacePreparation.Apply(Options.Namespace, interfaces?.ToList(), firewall);

    internal void Report(string problem)
    {
        lock (_problems)
        {
            _problems.Add(problem);
            if (_problems.Count > 100) _problems.RemoveAt(0);
        }
        Options.Log?.Invoke("kernel-io: " + problem);
    }

    /// <summary>A line for <see cref="KernelPacketIoOptions.Log"/> that is not a problem (a role change's measured takeover).</summary>
    internal void Note(string line) => Options.Log?.Invoke("kernel-io: " + line);

    internal void Detach(KernelPacketPort port)
    {
        lock (_gate)
            if (_ports.TryGetValue(port.Name, out var p) && p == port)
                _ports.Remove(port.Name);
    }

    private void PollCarrier()
    {
        while (!_stop.Wait(Options.CarrierPollInterval))
        {
            foreach (var port in Ports)
            {
                try
                {
                    port.Poll();
                }
                catch (Exception e)
                {
                    Report($"{port.Name}: carrier poll: {e.Message}");
                }
            }
        }
    }

    /// <summary>Every open port: interface, MAC, state, counters and learned neighbours.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        sb.Append("kernel packet I/O").Append(Options.Namespace is { } ns ? $" in namespace {ns}" : "").Append('\n');
        foreach (var p in Ports) sb.Append(p.Describe());
        return sb.ToString();
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _stop.Set();
        if (_poller is not null && _poller != Thread.CurrentThread) _poller.Join(TimeSpan.FromSeconds(2));
        foreach (var p in Ports) p.Dispose();
    }

    public override string ToString() => "kernel packet I/O" + (Options.Namespace is { } ns ? " in " + ns : "");
}
