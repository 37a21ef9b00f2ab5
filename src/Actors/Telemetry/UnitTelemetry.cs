using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Actor.Setup;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Telemetry;

/// <summary>
/// What a unit's actors publish on its ActorSystem's event stream for whoever watches the unit (the host's metrics
/// sink, src/Node/Hosting/Metrics): HA and tunnel events, a few a second at most. Per-packet figures go to
/// <see cref="UnitCounters"/> instead: a message per ESP packet would double the data path's cost.
/// </summary>
public interface IUnitTelemetryEvent
{
    /// <summary>The unit that saw it.</summary>
    string Serial { get; }
}

/// <summary>FGCP settled this unit's state and role (after every negotiation, also when unchanged; and on resume).</summary>
public sealed record HaRoleObserved(string Serial, HaState State, HaRole Role, string PrimarySerial) : IUnitTelemetryEvent;

/// <summary>
/// FGCP ran an election (`diagnose sys ha history`: "… is selected as the primary …"), <paramref name="Why"/> the
/// trigger (cluster formed, member lost, …).
/// </summary>
public sealed record HaElectionObserved(string Serial, string Why, string PrimarySerial) : IUnitTelemetryEvent;

/// <summary>The other members this unit's FGCP hears (its peer table), whenever the set changes.</summary>
public sealed record HaMembersObserved(string Serial, int Peers) : IUnitTelemetryEvent;

/// <summary>A member was declared lost: no heartbeat for hb-interval × hb-lost-threshold ("member '…' is lost").</summary>
public sealed record HaMemberLostObserved(string Serial, string PeerSerial) : IUnitTelemetryEvent;

/// <summary>
/// A dialup instance's role on this unit: `sync-primary` (this unit owns it), `standby` (a synced copy), or null once the
/// instance is gone (deleted). <paramref name="SyncLag"/>: for a synced copy seen here the first time, the time from
/// IKE_AUTH completing on the owner (the record's EstablishedAt, wall clock) to the record being present here.
/// </summary>
public sealed record TunnelRoleObserved(string Serial, string Phase1, string Key, TunnelRole? Role, TimeSpan? SyncLag = null)
    : IUnitTelemetryEvent;

/// <summary>
/// A unit's data-plane and input-validation counters, bumped where the packet is handled (thread-safe, no message) and
/// read when Prometheus scrapes. The host owns it, beside the hbdev sockets, so the figures run on across a restart
/// of any actor and of the unit's ActorSystem: a Prometheus counter must never go backwards while the process lives.
/// Actors reach it through <see cref="Of"/>.
/// </summary>
public sealed class UnitCounters
{
    private long _espInPackets, _espInBytes, _espOutPackets, _espOutBytes;
    private readonly ConcurrentDictionary<string, long> _espDrops = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _forwardingDrops = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<HeartbeatDropCause, long> _heartbeatDrops = new();
    private readonly ConcurrentDictionary<(string Result, string Cause), long> _ikeNegotiations = new();

    /// <summary>Where the counters of a system without a host's go (specs that start actors alone): counted, never read.</summary>
    public static readonly UnitCounters Detached = new();

    /// <summary>This system's counters: the host's (<see cref="UnitCountersSetup"/>), or <see cref="Detached"/>.</summary>
    public static UnitCounters Of(ActorSystem system) =>
        system.Settings.Setup.Get<UnitCountersSetup>() is { HasValue: true } s ? s.Value.Counters : Detached;

    /// <summary>An ESP packet addressed to this unit (protocol 50, or in UDP 4500), before any check.</summary>
    public void EspReceived(int bytes)
    {
        Interlocked.Increment(ref _espInPackets);
        Interlocked.Add(ref _espInBytes, bytes);
    }

    /// <summary>An ESP packet this unit encrypted and routed to the client.</summary>
    public void EspSent(int bytes)
    {
        Interlocked.Increment(ref _espOutPackets);
        Interlocked.Add(ref _espOutBytes, bytes);
    }

    /// <summary>ESP dropped, by cause: the forwarding plane's ("esp unknown spi", "esp while not primary") and the SA's (anti-replay, ICV …).</summary>
    public void EspDropped(string cause) => _espDrops.AddOrUpdate(cause, 1, (_, n) => n + 1);

    /// <summary>Any frame the forwarding plane dropped, by its cause (ESP drops of the forwarding plane among them).</summary>
    public void ForwardingDropped(string cause) => _forwardingDrops.AddOrUpdate(cause, 1, (_, n) => n + 1);

    public void HeartbeatDropped(HeartbeatDropCause cause, long count) => _heartbeatDrops.AddOrUpdate(cause, count, (_, n) => n + count);

    /// <summary>An IKE exchange ended here: <paramref name="result"/> established, refused (a policy said no) or dropped
    /// (not answered: malformed, flood protection …), <paramref name="cause"/> why ("" when established).</summary>
    public void IkeNegotiation(string result, string cause = "") => _ikeNegotiations.AddOrUpdate((result, cause), 1, (_, n) => n + 1);

    public (long Packets, long Bytes) EspIn => (Interlocked.Read(ref _espInPackets), Interlocked.Read(ref _espInBytes));
    public (long Packets, long Bytes) EspOut => (Interlocked.Read(ref _espOutPackets), Interlocked.Read(ref _espOutBytes));
    public IReadOnlyDictionary<string, long> EspDrops => new Dictionary<string, long>(_espDrops);
    public IReadOnlyDictionary<string, long> ForwardingDrops => new Dictionary<string, long>(_forwardingDrops);
    public IReadOnlyDictionary<HeartbeatDropCause, long> HeartbeatDrops => new Dictionary<HeartbeatDropCause, long>(_heartbeatDrops);
    public IReadOnlyDictionary<(string Result, string Cause), long> IkeNegotiations => new Dictionary<(string, string), long>(_ikeNegotiations);
}

/// <summary>Carries the host's <see cref="UnitCounters"/> into the ActorSystem (Akka's ActorSystemSetup).</summary>
public sealed class UnitCountersSetup(UnitCounters counters) : Setup
{
    public UnitCounters Counters { get; } = counters;
}
