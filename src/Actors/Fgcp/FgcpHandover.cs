using ClusterActors.Protocol.Fgcp;

namespace ClusterActors.Actors.Fgcp;

/// <summary>
/// Sent to FGCP (through the unit) before the host restarts the unit's ActorSystem to rejoin Akka: FGCP stops beating,
/// parks its peer table in the host's <see cref="FgcpHandover"/> and answers <c>Done</c>; it then touches nothing more.
/// </summary>
public sealed record ParkFgcp
{
    public static readonly ParkFgcp Instance = new();
}

/// <summary>
/// FGCP's state carried across a restart of the unit's ActorSystem (src/Node/Hosting/README.md, "Safety net (b)"). FGCP
/// runs on its own heartbeats and never on Akka membership, so losing the Akka cluster must not cost the unit its role:
/// the old FGCP actor parks its peer table (role, primary, peers, operating order, history counters), its heartbeat
/// sequence (the incarnation is in the table) here, and the first FGCP actor of the new ActorSystem takes them and carries on, telling the
/// new unit tree its role at once. Meanwhile the host beats for it on the same links, so peers see the same incarnation
/// without a gap (no member lost, no negotiation); the heartbeats the peers sent meanwhile went unread, and the resumed
/// table's first peer check, run late, gives every peer a fresh hb-lost window (FgcpPeerTable's stall rule) instead of
/// losing them.
/// Owned by the host, like the hbdev sockets and <see cref="HaUptime"/>. Taken at most once: a FGCP actor restarted by its
/// supervisor after a failure starts from a new table (the failed one may be inconsistent) with the host's uptime.
/// </summary>
public sealed class FgcpHandover
{
    private readonly object _gate = new();
    private Parked? _parked;
    private FgcpHeartbeat? _last;
    private IReadOnlyList<IHbdevLink> _links = [];
    private Timer? _bridge;

    public sealed record Parked(FgcpPeerTable Table, long Sequence);

    /// <summary>Heartbeats the host sent for the parked FGCP while the ActorSystem restarted.</summary>
    public long Bridged { get; private set; }

    /// <summary>
    /// Parks FGCP's state. Until the next FGCP actor takes it, the host keeps beating on the same links every
    /// <paramref name="interval"/> (<paramref name="last"/> with the next sequence number and the current uptime), so
    /// the peers never miss this unit, whatever the restart costs.
    /// </summary>
    public void Park(FgcpPeerTable table, long sequence, FgcpHeartbeat last, IEnumerable<IHbdevLink> links, TimeSpan interval)
    {
        lock (_gate)
        {
            _parked = new Parked(table, sequence);
            _last = last;
            _links = links.ToList();
            _bridge?.Dispose();
            _bridge = new Timer(_ => Bridge(), null, interval, interval);
        }
    }

    private void Bridge()
    {
        lock (_gate)
        {
            if (_parked is null || _last is null) return;
            _parked = _parked with { Sequence = _parked.Sequence + 1 };
            var hb = _last with { Sequence = _parked.Sequence, HaUptimeMs = (long)_parked.Table.Uptime.TotalMilliseconds };
            var datagram = _parked.Table.Seal(hb); // sealed as FGCP would: the peers' replay guards see the next sequence
            foreach (var link in _links) link.Send(datagram);
            Bridged++;
        }
    }

    /// <summary>The parked state, once (the host stops beating for it); null when nothing is parked.</summary>
    public Parked? Take()
    {
        lock (_gate)
        {
            _bridge?.Dispose();
            _bridge = null;
            var parked = _parked;
            _parked = null;
            _last = null;
            return parked;
        }
    }
}
