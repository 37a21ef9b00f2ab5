using ClusterActors.Actors.Unit;
using ClusterActors.Node.Drills;

namespace ClusterActors.Node.LiveView;

/// <summary>
/// A drill lab that tells the live view what is done to it: every fault a drill injects (kill, start, a cable pulled,
/// an interface shut, the heartbeat cut, the Akka path cut, a database stopped, a unit frozen, a CLI command) is reported
/// as it is made, before the call, so the page lists it next to the role changes it causes. Everything else is passed
/// through untouched.
/// </summary>
public sealed class ObservedDrillLab(IDrillLab inner, Action<string, string?, string> fault) : IDrillLab
{
    public IDrillLab Inner => inner;

    private Task Say(string? unit, string text, Func<Task> act)
    {
        fault("fault", unit, text);
        return act();
    }

    public string Mode => inner.Mode;
    public IReadOnlyList<string> Units => inner.Units;
    public DrillTimers Timers => inner.Timers;
    public Task<string> Up(IReadOnlyList<string> primaries, CancellationToken ct) => inner.Up(primaries, ct);
    public Task<DialInfo> Dial(CancellationToken ct) => inner.Dial(ct);
    public void TrafficStart(double packetsPerSecond) => inner.TrafficStart(packetsPerSecond);
    public TrafficProgress TrafficProgress() => inner.TrafficProgress();
    public Task<ClusterActors.Node.LabHarness.Client.EchoReport> TrafficStop() => inner.TrafficStop();
    public Task<IReadOnlyDictionary<string, long>> TunnelForwarded() => inner.TunnelForwarded();
    public Task Kill(string unit) => Say(unit, $"kill -9 {unit}", () => inner.Kill(unit));
    public Task Start(string unit) => Say(unit, $"start {unit}", () => inner.Start(unit));
    public Task Link(string unit, string port, bool up) => Say(unit, $"{unit} {port} cable {(up ? "plugged" : "pulled")}", () => inner.Link(unit, port, up));

    public Task SetInterfaceStatus(string unit, string port, bool up) =>
        Say(unit, $"{unit} {port} set status {(up ? "up" : "down")}", () => inner.SetInterfaceStatus(unit, port, up));

    public Task SetHeartbeat(string unit, bool up) => Say(unit, $"{unit} heartbeat cable {(up ? "plugged" : "pulled")}", () => inner.SetHeartbeat(unit, up));
    public Task CutAkkaAsync(string unitA, string unitB) => Say(unitA, $"Akka path {unitA}–{unitB} cut", () => inner.CutAkkaAsync(unitA, unitB));
    public Task HealAkkaAsync(string unitA, string unitB) => Say(unitA, $"Akka path {unitA}–{unitB} healed", () => inner.HealAkkaAsync(unitA, unitB));
    public Task StopDatabaseAsync(string unit) => Say(unit, $"{unit} database stopped", () => inner.StopDatabaseAsync(unit));
    public Task StartDatabaseAsync(string unit) => Say(unit, $"{unit} database started", () => inner.StartDatabaseAsync(unit));
    public Task Freeze(string unit, bool frozen) => Say(unit, $"{unit} {(frozen ? "frozen (SIGSTOP)" : "resumed (SIGCONT)")}", () => inner.Freeze(unit, frozen));
    public Task<string?> ConfigChecksum(string unit) => inner.ConfigChecksum(unit);

    public async Task<CliResult> Cli(string unit, string command)
    {
        fault("fault", unit, $"{unit} # {command.Split('\n')[0].Trim()}");
        return await inner.Cli(unit, command);
    }

    public Task<HaView?> Ha(string unit) => inner.Ha(unit);
    public Task<DateTimeOffset?> RoleChangedAt(string unit, bool primary, DateTimeOffset since) => inner.RoleChangedAt(unit, primary, since);
    public Task<IReadOnlyList<TunnelView>?> Tunnels(string unit) => inner.Tunnels(unit);
    public Task<IReadOnlyList<ClientDial>> DialOthers(CancellationToken ct) => inner.DialOthers(ct);
    public IReadOnlyList<ClientProbes> OthersProbes(long fromTimestamp) => inner.OthersProbes(fromTimestamp);
    public double OthersProbeIntervalMs => inner.OthersProbeIntervalMs;
    public Task<TunnelCensus?> Census(string label) => inner.Census(label);
    public TrafficProgress OthersTraffic() => inner.OthersTraffic();
    public IReadOnlyList<NextHopView> RouterNextHops() => inner.RouterNextHops();
    public TimeSpan? RouterProbesLate() => inner.RouterProbesLate();

    public Task<DateTimeOffset?> RouterWithdrewAt(string address, DateTimeOffset since) => inner.RouterWithdrewAt(address, since);

    public TimeSpan? UnitTimersLate(string unit) => inner.UnitTimersLate(unit);
    public bool LatenessIsMachineWide => inner.LatenessIsMachineWide;
    public ClientView Client() => inner.Client();

    public Task Impair(string unit, string port, ClusterActors.Actors.DataPlane.ImpairmentSpec? spec, long seed) =>
        Say(unit, spec is null ? $"{port}: impairment cleared" : $"{port}: netem {spec.NetemArguments}", () => inner.Impair(unit, port, spec, seed));

    public Task<HeartbeatCount?> Heartbeats(string unit, string port) => inner.Heartbeats(unit, port);
    public DrillPackets? SavePackets(string directory, string stem) => inner.SavePackets(directory, stem);
    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
