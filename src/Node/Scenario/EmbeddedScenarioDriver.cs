using System.Diagnostics;
using Akka.Actor;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Unit;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;

namespace ClusterActors.Node.Scenario;

/// <summary>
/// The seed scenario's four units as ActorSystems in this process (<see cref="LoopbackLab"/>): real Akka remoting and
/// real UDP heartbeats on loopback, SQLite under a temporary data folder removed on dispose.
/// </summary>
public sealed class EmbeddedScenarioDriver : IScenarioDriver
{
    public const string Scenario = "seed";

    /// <summary>`--fast-timers`: with the VM defaults the shipped configs keep (hb-lost-threshold 20, hello-holddown 20 s)
    /// a lost peer is detected after 4 s and a unit started alone waits 20 s before it works as primary; these make
    /// it 1.2 s and 5 s.</summary>
    public const string FastTimers = "config system ha\n    set hb-lost-threshold 6\n    set hello-holddown 5\nend\n";

    private readonly LoopbackLab _lab;
    private readonly Dictionary<string, ConfigDocument> _configs;
    private readonly TextWriter _progress;

    /// <param name="progress">Where StartAll reports each unit coming up and the clusters forming.</param>
    /// <param name="fastTimers">Apply <see cref="FastTimers"/> to every unit before it starts.</param>
    /// <param name="akkaLogLevel">Akka's own log level; it logs to stdout, so the transcript stays readable only when it is quiet.</param>
    public EmbeddedScenarioDriver(TextWriter progress, bool fastTimers = false, string akkaLogLevel = "OFF")
    {
        _progress = progress;
        Units = Scenarios.Units(Scenario);
        _configs = Units.ToDictionary(u => u, u => LoopbackLab.ScenarioConfig(u, fastTimers ? FastTimers : null));
        _lab = new LoopbackLab { ExtraHocon = $"akka.loglevel = {akkaLogLevel}\nakka.stdout-loglevel = {akkaLogLevel}" };
        // One heartbeat segment per FGCP group-id, as LoopbackLab cables them by default.
        _lab.Define(Units.Select(u => (u, _configs[u])).ToList());
    }

    public IReadOnlyList<string> Units { get; }

    /// <summary>How long StartAll waits for the clusters: the slowest hello-holddown plus room for the Akka cluster.</summary>
    public TimeSpan FormationTimeout => TimeSpan.FromSeconds(_configs.Values.Max(c => c.Ha.HelloHolddown) + 30);

    public async Task StartAll()
    {
        foreach (var unit in Units)
        {
            await _progress.WriteAsync($"starting {unit} … ");
            await _progress.FlushAsync();
            await _lab.Start(unit);
            await _progress.WriteLineAsync("up");
        }
        foreach (var group in Units.GroupBy(u => _configs[u].Ha.GroupId))
        {
            var members = group.ToList();
            await _progress.WriteAsync($"waiting for FGCP cluster {string.Join("+", members)} (group-id {group.Key}) … ");
            await _progress.FlushAsync();
            var sw = Stopwatch.StartNew();
            try
            {
                await LoopbackLab.Eventually(async () => await Formed(members), FormationTimeout - sw.Elapsed, "");
            }
            catch (TimeoutException)
            {
                await _progress.WriteLineAsync("not formed");
                throw new TimeoutException($"FGCP cluster {string.Join("+", members)} did not form within {FormationTimeout.TotalSeconds:0} s");
            }
            var primary = (await _lab.Status(members[0])).Primary?.Hostname ?? "?";
            await _progress.WriteLineAsync($"formed, primary {primary}");
        }
        // SA sync and FGSP travel over the Akka cluster: the lab is ready once every unit is an Up member of one.
        await _progress.WriteAsync($"waiting for the Akka cluster of {Units.Count} units … ");
        await _progress.FlushAsync();
        var akka = Stopwatch.StartNew();
        while (!Units.All(u => _lab.AkkaMembersUp(u) == Units.Count))
        {
            if (akka.Elapsed > FormationTimeout)
                throw new TimeoutException($"the units did not form one Akka cluster within {FormationTimeout.TotalSeconds:0} s");
            await Task.Delay(50);
        }
        await _progress.WriteLineAsync("up");
        await _progress.FlushAsync();
    }

    private async Task<bool> Formed(IReadOnlyList<string> members)
    {
        try
        {
            foreach (var unit in members)
            {
                var s = await _lab.Status(unit);
                if (s.State != HaState.Work || s.Members.Count != members.Count) return false;
            }
            return true;
        }
        catch (AskTimeoutException)
        {
            return false; // a unit still busy starting
        }
    }

    public async Task<CliResult> Cli(string unit, string command) => await Running(unit).CliAsync(command);

    /// <summary>
    /// The client dials in to cluster 1, as in the scenario: IKE reaches whichever unit of cluster 1 is FGCP primary
    /// (it holds the cluster's addresses). Choosing between FGSP clusters is the DC router's job (data plane).
    /// </summary>
    public async Task<string> Dial()
    {
        var cluster1 = _configs["DC2_VM1"].Ha.GroupId;
        string? gateway = null;
        foreach (var u in Units.Where(u => _configs[u].Ha.GroupId == cluster1 && _lab.Units.ContainsKey(u)))
            if (await _lab.IsRole(u, HaRole.Primary)) gateway = u;
        if (gateway is null) throw new InvalidOperationException("no unit of cluster 1 is up as FGCP primary to answer IKE");
        var est = await _lab.Dial(gateway);
        return $"IKEv2 SA established with {gateway} ({_configs[gateway].Phase1.First().LocalGw}): " +
               $"ike spi {est.Sa.SpiI:x16}/{est.Sa.SpiR:x16}, child spi in {est.Child.InboundSpi:x8} out {est.Child.OutboundSpi:x8}";
    }

    public async Task Kill(string unit)
    {
        Running(unit);
        await _lab.Kill(unit);
    }

    public async Task Start(string unit)
    {
        if (!Units.Contains(unit)) throw new ArgumentException($"no unit {unit} in scenario {Scenario}");
        if (_lab.Units.ContainsKey(unit)) throw new InvalidOperationException($"{unit} is already running");
        await _lab.Start(unit);
    }

    public async Task Link(string unit, string port, bool up)
    {
        var host = Running(unit);
        var ports = _configs[unit].Interfaces.Select(i => i.Name).ToList();
        if (!ports.Contains(port))
        {
            var suggestion = ScenarioScript.Suggest(port, ports);
            throw new ArgumentException($"{unit} has no port {port}" + (suggestion is null ? $" (ports: {string.Join(", ", ports)})" : $"; did you mean '{suggestion}'?"));
        }
        await host.Unit.Ask<Akka.Done>(new SetLinkState(port, up), TimeSpan.FromSeconds(5));
    }

    private UnitHost Running(string unit) =>
        _lab.Units.TryGetValue(unit, out var host)
            ? host
            : throw new InvalidOperationException(Units.Contains(unit) ? $"{unit} is not running" : $"no unit {unit} in scenario {Scenario}");

    public ValueTask DisposeAsync() => _lab.DisposeAsync();
}
