using System.Net;
using Akka.Actor;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Telemetry;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ipsec;
using Prometheus;

namespace ClusterActors.Node.Hosting.Metrics;

/// <summary>
/// One unit's Prometheus metrics (src/Node/Hosting/Metrics/README.md): its own registry, labelled with the unit's
/// hostname and serial, so that several units in one process (the embedded lab, the multi-node specs) never share a
/// series. HA and tunnel figures follow the events the unit's actors publish (<see cref="Observe"/>, fed by
/// <see cref="MetricsSink"/>); packet and drop counters are read from the host's <see cref="UnitCounters"/> and hbdev
/// links when Prometheus scrapes. Owned by the host, like the hbdev sockets: it outlives every actor and every
/// ActorSystem of the unit.
/// </summary>
public sealed class UnitMetrics : IDisposable
{
    public CollectorRegistry Registry { get; } = Prometheus.Metrics.NewCustomRegistry();

    private readonly UnitCounters _counters;
    private readonly Func<IEnumerable<(string Interface, HbdevCounters Counters)>> _hbdevs;
    private readonly object _gate = new();
    /// <summary>Every dialup instance this unit holds and its role; the tunnel gauges count them.</summary>
    private readonly Dictionary<string, TunnelRole> _tunnels = new(StringComparer.Ordinal);
    private string? _primarySerial;
    private MetricServer? _server;

    private readonly Gauge _haRole, _haState, _membersSeen, _tunnelsByRole, _ikeSas, _incarnations;
    private readonly Counter _membersLost, _elections, _failovers, _hbSent, _hbReceived, _hbDropped;
    private readonly Counter _espPackets, _espBytes, _espDrops, _forwardingDrops, _ikeNegotiations;
    private readonly Histogram _syncLag;

    /// <summary>Bounds of the SA-sync lag histogram, in seconds: a push over loopback takes about a millisecond, over the lab's links a few.</summary>
    public static readonly double[] SyncLagBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    public UnitMetrics(string hostname, string serial, UnitCounters counters, Func<IEnumerable<(string Interface, HbdevCounters Counters)>>? hbdevs = null)
    {
        _counters = counters;
        _hbdevs = hbdevs ?? (() => []);
        Registry.SetStaticLabels(new Dictionary<string, string> { ["unit"] = hostname, ["serial"] = serial });
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        _haRole = f.CreateGauge("fortigate_ha_role", "1 for the FGCP role this unit works in (get system ha status), 0 for the other; both 0 in hello.", "role");
        _haState = f.CreateGauge("fortigate_ha_state", "1 for the FGCP state this unit is in (hello while it looks for peers, work once elected).", "state");
        _membersSeen = f.CreateGauge("fortigate_ha_members_seen", "Other cluster members this unit hears on its heartbeat interfaces.");
        _membersLost = f.CreateCounter("fortigate_ha_members_lost_total", "Members declared lost: no heartbeat for hb-interval x hb-lost-threshold.");
        _elections = f.CreateCounter("fortigate_ha_elections_total", "FGCP negotiations (elections) this unit ran.");
        _failovers = f.CreateCounter("fortigate_ha_failovers_total", "Times this unit saw its cluster's primary move to another unit.");
        _hbSent = f.CreateCounter("fortigate_ha_heartbeats_sent_total", "FGCP heartbeat datagrams sent, per hbdev.", "hbdev");
        _hbReceived = f.CreateCounter("fortigate_ha_heartbeats_received_total", "FGCP heartbeat datagrams received, per hbdev.", "hbdev");
        _hbDropped = f.CreateCounter("fortigate_ha_heartbeats_dropped_total",
            "Heartbeats dropped, by cause (activity.hb_drop of diagnose sys ha status).", "cause");
        _tunnelsByRole = f.CreateGauge("fortigate_ipsec_tunnels", "Dialup instances this unit holds, by role (sync-primary: owned here; standby: synced copy).", "role");
        _ikeSas = f.CreateGauge("fortigate_ike_sas", "IKE SAs this unit holds (one per dialup instance, owned or standby).");
        _ikeNegotiations = f.CreateCounter("fortigate_ike_negotiations_total", "IKE exchanges ended at this unit's gateway: established, refused or dropped, and why.",
            "result", "cause");
        _syncLag = f.CreateHistogram("fortigate_ipsec_sa_sync_lag_seconds",
            "From IKE_AUTH on the owner to the tunnel's record present on this unit (standby copies).",
            new HistogramConfiguration { Buckets = SyncLagBuckets });
        _espPackets = f.CreateCounter("fortigate_esp_packets_total", "ESP packets: in (to this unit) and out (encrypted by it).", "direction");
        _espBytes = f.CreateCounter("fortigate_esp_bytes_total", "ESP bytes (the ESP header on, the outer IP header off for in).", "direction");
        _espDrops = f.CreateCounter("fortigate_esp_drops_total", "ESP dropped, by cause (forwarding plane, SA checks).", "cause");
        _forwardingDrops = f.CreateCounter("fortigate_forwarding_drops_total", "Frames the forwarding plane dropped, by cause.", "cause");
        _incarnations = f.CreateGauge("clusteractors_unit_incarnations", "ActorSystems this unit has run: 1, plus one per restart to rejoin Akka.");

        // FGCP starts in hello (FgcpPeerTable): shown before its first event, so a scrape never sees no state at all.
        foreach (var role in new[] { "primary", "secondary" }) _haRole.WithLabels(role).Set(0);
        _haState.WithLabels("hello").Set(1);
        _haState.WithLabels("work").Set(0);
        foreach (var role in new[] { TunnelRole.SyncPrimary, TunnelRole.Standby }) _tunnelsByRole.WithLabels(TunnelRoles.Word(role)).Set(0);
        foreach (var direction in new[] { "in", "out" })
        {
            _espPackets.WithLabels(direction);
            _espBytes.WithLabels(direction);
        }
        _incarnations.Set(1);
        Registry.AddBeforeCollectCallback(ReadCounters);
    }

    /// <summary>The unit's endpoint (`clusteractors.unit.metrics`), served by its own listener at http://HOST:PORT/metrics.</summary>
    public IPEndPoint? Endpoint { get; private set; }

    /// <summary>Serves <see cref="Registry"/> on <paramref name="endpoint"/>; a port that cannot be bound fails the unit's start.</summary>
    public void Serve(IPEndPoint endpoint)
    {
        var host = endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any) ? "+"
            : endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]" : endpoint.Address.ToString();
        var server = new MetricServer(host, endpoint.Port, "metrics/", Registry);
        try
        {
            server.Start();
        }
        catch (HttpListenerException e)
        {
            server.Dispose();
            throw new UsageException($"metrics endpoint {endpoint}: cannot listen ({e.Message})");
        }
        _server = server;
        Endpoint = endpoint;
    }

    /// <summary>
    /// Starts <paramref name="system"/>'s <see cref="MetricsSink"/> and subscribes it at once (not in its PreStart), before
    /// the unit's actors exist: no first role is missed.
    /// </summary>
    public IActorRef SubscribeTo(ActorSystem system)
    {
        var sink = system.ActorOf(Props.Create(() => new MetricsSink(this)), MetricsSink.Name);
        system.EventStream.Subscribe(sink, typeof(IUnitTelemetryEvent));
        return sink;
    }

    /// <summary>A new ActorSystem of the unit: its phase1 actors tell every tunnel they hold again, so the old set is let go.</summary>
    public void NewIncarnation(int incarnations)
    {
        lock (_gate)
        {
            _tunnels.Clear();
            CountTunnels();
        }
        _incarnations.Set(incarnations);
    }

    /// <summary>Maps one event the unit's actors published onto the metrics.</summary>
    public void Observe(IUnitTelemetryEvent e)
    {
        switch (e)
        {
            case HaRoleObserved r:
                _haState.WithLabels("hello").Set(r.State == HaState.Hello ? 1 : 0);
                _haState.WithLabels("work").Set(r.State == HaState.Work ? 1 : 0);
                var working = r.State == HaState.Work;
                _haRole.WithLabels("primary").Set(working && r.Role == HaRole.Primary ? 1 : 0);
                _haRole.WithLabels("secondary").Set(working && r.Role == HaRole.Secondary ? 1 : 0);
                lock (_gate)
                {
                    if (working && _primarySerial is not null && _primarySerial != r.PrimarySerial) _failovers.Inc();
                    if (working) _primarySerial = r.PrimarySerial;
                }
                break;
            case HaElectionObserved:
                _elections.Inc();
                break;
            case HaMembersObserved m:
                _membersSeen.Set(m.Peers);
                break;
            case HaMemberLostObserved:
                _membersLost.Inc();
                break;
            case TunnelRoleObserved t:
                lock (_gate)
                {
                    if (t.Role is { } role) _tunnels[t.Key] = role;
                    else _tunnels.Remove(t.Key);
                    CountTunnels();
                }
                if (t.SyncLag is { } lag) _syncLag.Observe(lag.TotalSeconds);
                break;
        }
    }

    private void CountTunnels()
    {
        var owned = _tunnels.Values.Count(r => r == TunnelRole.SyncPrimary);
        var standby = _tunnels.Values.Count(r => r == TunnelRole.Standby);
        _tunnelsByRole.WithLabels(TunnelRoles.Word(TunnelRole.SyncPrimary)).Set(owned);
        _tunnelsByRole.WithLabels(TunnelRoles.Word(TunnelRole.Standby)).Set(standby);
        _ikeSas.Set(_tunnels.Count);
    }

    /// <summary>At each scrape: the counters kept where the packets are handled, as they are now.</summary>
    private void ReadCounters()
    {
        foreach (var (iface, c) in _hbdevs())
        {
            _hbSent.WithLabels(iface).IncTo(c.TxPackets);
            _hbReceived.WithLabels(iface).IncTo(c.RxPackets);
        }
        foreach (var (cause, n) in _counters.HeartbeatDrops) _hbDropped.WithLabels(FgcpHeartbeatValidation.CounterName(cause)).IncTo(n);
        var (inPackets, inBytes) = _counters.EspIn;
        var (outPackets, outBytes) = _counters.EspOut;
        _espPackets.WithLabels("in").IncTo(inPackets);
        _espBytes.WithLabels("in").IncTo(inBytes);
        _espPackets.WithLabels("out").IncTo(outPackets);
        _espBytes.WithLabels("out").IncTo(outBytes);
        foreach (var (cause, n) in _counters.EspDrops) _espDrops.WithLabels(Label(cause)).IncTo(n);
        foreach (var (cause, n) in _counters.ForwardingDrops) _forwardingDrops.WithLabels(Label(cause)).IncTo(n);
        foreach (var ((result, cause), n) in _counters.IkeNegotiations) _ikeNegotiations.WithLabels(result, Label(cause)).IncTo(n);
    }

    /// <summary>A cause as a label value: the words of the unit's own counters ("esp while not primary") in snake case.</summary>
    public static string Label(string cause) =>
        System.Text.RegularExpressions.Regex.Replace(cause.Trim(), "(?<=[a-z0-9])([A-Z])", "_$1").Replace(' ', '_').Replace('-', '_').ToLowerInvariant();

    /// <summary>The exposition text a scrape gets (what curl prints), for specs and the CLI.</summary>
    public async Task<string> ExportAsync(CancellationToken cancel = default)
    {
        using var stream = new MemoryStream();
        await Registry.CollectAndExportAsTextAsync(stream, cancel);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    public void Dispose()
    {
        _server?.Dispose();
        _server = null;
    }
}

/// <summary>
/// The subscriber on one ActorSystem's event stream that hands the unit's <see cref="IUnitTelemetryEvent"/>s to the
/// host's <see cref="UnitMetrics"/>. It holds nothing: a new ActorSystem gets a new sink on the same metrics.
/// </summary>
public sealed class MetricsSink : ReceiveActor
{
    public const string Name = "metrics-sink";

    public MetricsSink(UnitMetrics metrics) => Receive<IUnitTelemetryEvent>(metrics.Observe);
}
