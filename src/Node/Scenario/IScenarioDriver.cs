using ClusterActors.Actors.Unit;

namespace ClusterActors.Node.Scenario;

/// <summary>
/// What the scenario runner needs from a lab, and nothing more: the embedded lab (ActorSystems in this process)
/// implements it now, the container lab later, and the runner's specs use an in-memory fake.
/// A step that cannot be carried out (unit not running, no client yet) throws; the runner reports it as a failed step.
/// </summary>
public interface IScenarioDriver : IAsyncDisposable
{
    /// <summary>The scenario's units, as scripts name them.</summary>
    IReadOnlyList<string> Units { get; }

    /// <summary>Starts every unit and returns once the scenario has formed (both FGCP clusters for seed).</summary>
    Task StartAll();

    /// <summary>One FortiOS CLI command; a command the unit rejects is a result with a non-zero exit code, not an exception.</summary>
    Task<CliResult> Cli(string unit, string command);

    /// <summary>The client dials in; returns what to print.</summary>
    Task<string> Dial();

    /// <summary>Abrupt stop, as a power cut.</summary>
    Task Kill(string unit);

    /// <summary>Starts a killed unit again on the same data.</summary>
    Task Start(string unit);

    /// <summary>Pulls (<paramref name="up"/> false) or plugs a unit's cable on one port.</summary>
    Task Link(string unit, string port, bool up);

    /// <summary>
    /// netem on the egress of a unit's port (<paramref name="spec"/> null: cleared), drawing from the lab's seed; returns
    /// what to print: the impairment, the container lab's equivalent `tc` command, and on clear what it dropped by cause.
    /// </summary>
    Task<string> Impair(string unit, string port, ClusterActors.Actors.DataPlane.ImpairmentSpec? spec);

    /// <summary>PC1 starts echo requests to the Server; returns what to print.</summary>
    Task<string> TrafficStart(int packetsPerSecond, int payloadSize);

    /// <summary>PC1 stops sending and waits for late replies; returns what to print.</summary>
    Task<string> TrafficStop();

    /// <summary>Sent, answered, lost, longest gap and which units forwarded, so far.</summary>
    Task<string> TrafficReport();

    /// <summary>The DC router's routes: each ECMP next hop, alive or dead, and its probe counters.</summary>
    Task<string> Router();

    /// <summary>Starts capturing every segment of the lab (a capture already running starts over); returns what to print.</summary>
    Task<string> PcapStart();

    /// <summary>Writes one pcapng per captured segment into <paramref name="directory"/>; returns the files and the tshark command.</summary>
    Task<string> PcapSave(string directory);
}
