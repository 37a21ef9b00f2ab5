using ClusterActors.Actors.Telemetry;
using ClusterActors.Actors.Unit;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Node.Drills;

/// <summary>
/// What a drill needs from a lab, and nothing more: the embedded lab (<see cref="EmbeddedDrillLab"/>: every unit an
/// ActorSystem in this process, the in-memory packet fabric, SQLite) implements it now; the container lab (one
/// container per unit, kernel networking, strongSwan as the client) plugs in here later. Everything is phrased in the
/// scenario's own terms (units, ports, the client, PC1, the DC router) so the drills do not care which lab runs them.
/// A call that cannot be carried out (unit not running, no client yet) throws.
/// </summary>
public interface IDrillLab : IAsyncDisposable
{
    /// <summary>"embedded" or "docker": printed in the reports.</summary>
    string Mode { get; }

    /// <summary>The scenario's units.</summary>
    IReadOnlyList<string> Units { get; }

    /// <summary>The HA timers and the DC router's probing the lab runs with (the same on every unit).</summary>
    DrillTimers Timers { get; }

    /// <summary>Starts every unit and returns once both FGCP clusters have formed with <paramref name="primaries"/> as their
    /// primaries and the units can sync tunnels (one Akka cluster for the embedded lab). Returns a line for the progress.</summary>
    Task<string> Up(IReadOnlyList<string> primaries, CancellationToken ct);

    /// <summary>CLIENT1 dials lb1 through the lab's links; the DC router's flow hash picks the FGSP cluster.</summary>
    Task<DialInfo> Dial(CancellationToken ct);

    /// <summary>PC1 starts echo requests to the Server through the tunnel; one run at a time.</summary>
    void TrafficStart(double packetsPerSecond);

    /// <summary>The running echo run's counters so far (zeros when none runs).</summary>
    TrafficProgress TrafficProgress();

    /// <summary>Stops PC1's run and waits for its report (late replies included).</summary>
    Task<ClusterActors.Node.LabHarness.Client.EchoReport> TrafficStop();

    /// <summary>Per running unit, how many packets it has forwarded out of the tunnel so far (ForwardingStatus.TunnelIn);
    /// a unit that is down or does not answer in time is left out.</summary>
    Task<IReadOnlyDictionary<string, long>> TunnelForwarded();

    /// <summary>Abrupt stop (kill -9 / power cut).</summary>
    Task Kill(string unit);

    /// <summary>Starts a killed unit again on the same data.</summary>
    Task Start(string unit);

    /// <summary>Pulls (<paramref name="up"/> false) or plugs the cable of a unit's data port (port2, port3, port5).</summary>
    Task Link(string unit, string port, bool up);

    /// <summary>`config system interface` / `edit PORT` / `set status down|up` on the unit, as the document shuts the uplink.</summary>
    Task SetInterfaceStatus(string unit, string port, bool up);

    /// <summary>Pulls (<paramref name="up"/> false) or plugs the unit's heartbeat cable (its hbdev, port4): with two units
    /// on a heartbeat segment, the cluster's heartbeat is cut and each side hears nobody.</summary>
    Task SetHeartbeat(string unit, bool up);

    /// <summary>Cuts only the Akka path (SA sync, config sync, FGSP announcements) between two units, both ways; their FGCP
    /// heartbeats and data ports are untouched. Cutting a unit from every other unit isolates it.</summary>
    Task CutAkkaAsync(string unitA, string unitB);

    /// <summary>Restores the Akka path <see cref="CutAkkaAsync"/> cut.</summary>
    Task HealAkkaAsync(string unitA, string unitB);

    /// <summary>
    /// Makes the unit's database unavailable while the unit runs, as a stopped database server is: its journals can
    /// neither write nor read until <see cref="StartDatabaseAsync"/>. Both labs keep each unit's journal in SQLite (a
    /// file, no server), so "stopped" is the file locked by another process (an open `BEGIN EXCLUSIVE` transaction):
    /// every read and write of the unit's journals waits on SQLite's busy timeout and then fails, as against a server
    /// that does not answer.
    /// </summary>
    Task StopDatabaseAsync(string unit);

    /// <summary>Makes the unit's database available again (the lock released).</summary>
    Task StartDatabaseAsync(string unit);
    /// <summary>
    /// Freezes (<paramref name="frozen"/> true: SIGSTOP) or resumes (SIGCONT) the unit: while frozen it runs nothing and
    /// answers nothing (its HA view, tunnels and counters read as a unit that does not answer), what its peers and the
    /// links send it waits for it, and its timers fire only once it resumes.
    /// </summary>
    Task Freeze(string unit, bool frozen);

    /// <summary>The checksum of the unit's FGCP-synced configuration (<see cref="ClusterActors.Actors.Fgcp.FgcpConfigSync.Checksum"/>,
    /// what its heartbeats carry); null when the unit is down or does not answer.</summary>
    Task<string?> ConfigChecksum(string unit);

    /// <summary>One FortiOS CLI command on a unit.</summary>
    Task<CliResult> Cli(string unit, string command);

    /// <summary>The unit's FGCP view; null when the unit is down or does not answer.</summary>
    Task<HaView?> Ha(string unit);

    /// <summary>
    /// When the unit itself became Primary (<paramref name="primary"/> true) or Secondary, by its own clock: the first
    /// such change at or after <paramref name="since"/>; null when the lab keeps no such record or the unit logged none.
    /// The container lab reads it from the unit's log, since a poll over the admin endpoint comes back hundreds of ms
    /// after the change on two busy cores; the embedded lab reads roles straight from the actors and keeps none.
    /// </summary>
    Task<DateTimeOffset?> RoleChangedAt(string unit, bool primary, DateTimeOffset since) => Task.FromResult<DateTimeOffset?>(null);

    /// <summary>The unit's dialup tunnels of CLIENT1, the drill's client (`diagnose vpn tunnel list`); null when the unit
    /// is down or does not answer. With other clients dialed (<see cref="DialOthers"/>) their tunnels are left out here.</summary>
    Task<IReadOnlyList<TunnelView>?> Tunnels(string unit);

    /// <summary>
    /// Many clients (issue 12): dials every other client of the topology (`count: N`, `drill --clients N`) after CLIENT1,
    /// each PC behind them sending a light echo run to the Server until the lab ends (traffic is what moves a tunnel to
    /// another FGSP member), and returns them all, CLIENT1 first. Empty where the lab dials CLIENT1 only.
    /// </summary>
    Task<IReadOnlyList<ClientDial>> DialOthers(CancellationToken ct) => Task.FromResult<IReadOnlyList<ClientDial>>([]);

    /// <summary>Every client's tunnels counted over the running units against the router's rule (<see cref="TunnelCensus"/>);
    /// null where the lab dialed no other client.</summary>
    Task<TunnelCensus?> Census(string label) => Task.FromResult<TunnelCensus?>(null);

    /// <summary>The other clients' echo runs so far, summed: requests sent and answered (zeros when none runs).</summary>
    TrafficProgress OthersTraffic() => new(0, 0);

    /// <summary>Each other client's echo run so far, request by request, in ms from <paramref name="fromTimestamp"/> (a
    /// <see cref="System.Diagnostics.Stopwatch"/> timestamp: the phase's fault), for <see cref="TunnelRecovery"/>; empty
    /// where the lab dialed no other client.</summary>
    IReadOnlyList<ClientProbes> OthersProbes(long fromTimestamp) => [];

    /// <summary>How often each other client's PC sends a request: the granularity of <see cref="OthersProbes"/>.</summary>
    double OthersProbeIntervalMs => 0;

    /// <summary>The DC router's ECMP next hops towards lb1.</summary>
    IReadOnlyList<NextHopView> RouterNextHops();

    /// <summary>How late the lab router's probe rounds ran against their schedule, summed since it started; null where
    /// the lab's router does not say (the container lab gives the machine's stalls, <see cref="LatenessIsMachineWide"/>).</summary>
    TimeSpan? RouterProbesLate() => null;

    /// <summary>When the DC router itself withdrew the next hop <paramref name="address"/>, by its own clock, at or after
    /// <paramref name="since"/>; null where the lab keeps no such record (the embedded lab's is <see cref="NextHopView.WithdrawnAt"/>).
    /// The container lab reads it from the router's log (<see cref="RouterLog"/>).</summary>
    Task<DateTimeOffset?> RouterWithdrewAt(string address, DateTimeOffset since) => Task.FromResult<DateTimeOffset?>(null);

    /// <summary>How late the unit's own timers ran against their schedule, summed since this incarnation of it started
    /// (<see cref="UnitTimerLag"/>); null when it is down, or where the lab cannot measure it. The container lab, which
    /// cannot reach into a unit's ActorSystem, gives how long the machine stood still instead (<see cref="MachineStalls"/>,
    /// <see cref="LatenessIsMachineWide"/>), for the router's probe rounds too.</summary>
    TimeSpan? UnitTimersLate(string unit) => null;

    /// <summary><see cref="UnitTimersLate"/> and <see cref="RouterProbesLate"/> are the machine's stalls as the drill's
    /// process saw them, not the unit's or router's own timers (the container lab's): said so where they are added.</summary>
    bool LatenessIsMachineWide => false;

    /// <summary>CLIENT1's counters.</summary>
    ClientView Client();

    /// <summary>
    /// netem on the egress of <paramref name="unit"/>'s <paramref name="port"/> (`impair`): the embedded lab's model with
    /// draws from <paramref name="seed"/> and the port (<see cref="ClusterActors.Actors.DataPlane.NetemModel.RandomFor"/>),
    /// `tc qdisc … netem` in a container, whose kernel draws its own. Null clears it.
    /// </summary>
    Task Impair(string unit, string port, ClusterActors.Actors.DataPlane.ImpairmentSpec? spec, long seed) =>
        throw new NotSupportedException("this lab applies no impairment");

    /// <summary>
    /// The FGCP heartbeats <paramref name="unit"/> sent and received on its hbdev <paramref name="port"/> since it started,
    /// as the unit counts them (its `fortigate_ha_heartbeats_sent_total` / `_received_total`), and what the impairment on
    /// that port's egress dropped (the netem model's count, or the kernel qdisc's); null when the unit does not answer.
    /// </summary>
    Task<HeartbeatCount?> Heartbeats(string unit, string port) => Task.FromResult<HeartbeatCount?>(null);

    /// <summary>
    /// Writes one pcapng per segment the lab captured into <paramref name="directory"/> as `STEM-SEGMENT.pcapng` and
    /// returns them with the ESP SAs that decrypt CLIENT1's ESP; null where the lab captures nothing (a container lab
    /// on a host without dumpcap).
    /// </summary>
    DrillPackets? SavePackets(string directory, string stem) => null;
}

/// <summary>One segment's capture as saved next to the report.</summary>
/// <param name="NotKept">Packets between the first and the most recent kept, past the capture's bound (<see cref="ClusterActors.Node.LabHarness.Fabric.FabricCapture"/>): counted, not saved.</param>
public sealed record SegmentPcap(string Segment, string File, long Packets, long NotKept);

/// <summary>A run's captures, the segment CLIENT1's ESP crosses, and the SAs that decrypt it.</summary>
public sealed record DrillPackets(IReadOnlyList<SegmentPcap> Files, string? EspSegment, IReadOnlyList<ClusterActors.Protocol.Esp.EspSaOnWire> Sas);

/// <summary>One unit's FGCP state: `get system ha status` in a value.</summary>
public sealed record HaView(string Unit, bool Working, bool Primary, string PrimaryHostname, int Members);

/// <summary>One dialup instance on one unit: its role (`sync-primary`, `standby`) and its SPIs (dec: ours, enc: the client's).</summary>
/// <param name="Remote">The client's address (the list's `->A.B.C.D:port`): which client the tunnel is, on every unit;
/// null where not read.</param>
public sealed record TunnelView(string Name, TunnelRole Role, uint DecSpi, uint EncSpi, string? Remote = null);

/// <summary>One client of the lab as dialed: its name and WAN address, and the DC router's next hop for it at the dial.</summary>
public sealed record ClientDial(string Client, string Address, string? NextHop, IReadOnlyList<string> NextHopUnits);

/// <summary>An ECMP next hop of the DC router towards lb1, the units behind it, and whether the router counts it alive.</summary>
/// <param name="WithdrawnAt">While dead: when the router itself withdrew it, by its own clock; null where the lab's
/// router keeps no such stamp (the container lab's reads only "alive"/"dead").</param>
public sealed record NextHopView(string Address, IReadOnlyList<string> Units, bool Alive, DateTimeOffset? WithdrawnAt = null);

/// <summary>What the client dialed: the tunnel's CHILD SA as the client sees it and the next hop the router chose.</summary>
/// <param name="ClientInboundSpi">The client's inbound SPI: the gateway's `enc: spi`.</param>
/// <param name="ClientOutboundSpi">The client's outbound SPI: the gateway's `dec: spi`.</param>
public sealed record DialInfo(uint ClientInboundSpi, uint ClientOutboundSpi, string? NextHop, IReadOnlyList<string> NextHopUnits);

/// <summary>The running echo run so far.</summary>
public sealed record TrafficProgress(long Sent, long Answered);

/// <param name="AntiReplayDrops">Null for a client that does not count them (strongSwan: charon exposes no replay counter).</param>
/// <param name="IkeSpis">The client's IKE SA (initiator and responder SPIs): a new one means it dialed again. Null where not read.</param>
/// <param name="ChildSaRekeys">CHILD SA rekeys the gateway asked for and the client answered, so far; null where not counted.</param>
/// <param name="AntiReplayTrace">The client's last anti-replay drops, one line each (SPI, number, why, the window's highest
/// and, where the lab captures it, which unit sent each); null where the client does not say.</param>
public sealed record ClientView(long? AntiReplayDrops, long? IcvFailures, uint InboundSpi, uint OutboundSpi, bool Up,
    (ulong SpiI, ulong SpiR)? IkeSpis = null, long? ChildSaRekeys = null, IReadOnlyList<string>? AntiReplayTrace = null);

/// <summary>Heartbeats one unit sent and received on one hbdev since it started, and what the impairment on its egress
/// dropped of them (<see cref="IDrillLab.Heartbeats"/>; a container's qdisc counts from when it was put on).</summary>
public sealed record HeartbeatCount(long Sent, long Received, long Dropped);
