using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Scenario;

/// <summary>
/// `clusteractors scenario run [NAME] [--topology FILE] --embedded [--script FILE|-] [--fast-timers] [--seed N]`: starts the lab's
/// units (a shipped scenario's topology, or a topology file) and runs a script against them. A script file is parsed whole before anything starts; steps from stdin are read as they come
/// (interactively when stdin is a terminal: bad lines and failed steps are reported and the session goes on).
/// </summary>
public static class ScenarioRunCommand
{
    /// <param name="Topology">A topology file, instead of the shipped scenario <paramref name="Scenario"/>'s.</param>
    /// <param name="Seed">What `impair` steps draw their losses, duplicates and jitter from (printed with each).</param>
    public sealed record Request(string Scenario, bool Embedded, string? Script, bool FastTimers, string? Topology = null, long Seed = 1);

    public sealed record Console(TextReader In, bool InIsTerminal, TextWriter Out, TextWriter Error);

    public static async Task<int> RunAsync(Request request, Console console, CancellationToken ct,
        Func<Request, IScenarioDriver>? driverFactory = null)
    {
        if (request.Topology is null) Scenarios.Directory(request.Scenario); // unknown scenario: a usage error naming the known ones
        if (!request.Embedded)
            throw new UsageException("scenario run needs --embedded for now (all units in this process); the container lab comes later");
        // Every located error of the topology file before anything starts (TopologyInvalidException).
        var topology = Scenarios.Topology(request.Topology ?? request.Scenario);

        var fromFile = request.Script is { } s && s != "-";
        var script = new ScenarioScript(topology.UnitNames, fromFile ? request.Script! : "stdin");
        IReadOnlyList<ScenarioStep> steps = [];
        if (fromFile)
        {
            if (!File.Exists(request.Script)) throw new UsageException($"{request.Script}: no such file");
            var parsed = script.Parse(await File.ReadAllTextAsync(request.Script!, ct));
            if (parsed.Errors.Count > 0)
            {
                foreach (var e in parsed.Errors) await console.Error.WriteLineAsync(e.ToString());
                await console.Error.WriteLineAsync($"{request.Script}: {parsed.Errors.Count} error(s); nothing started");
                return ScenarioRunner.ScriptInvalid;
            }
            steps = parsed.Steps;
        }

        await using var driver = driverFactory?.Invoke(request) ?? new EmbeddedScenarioDriver(console.Out, request.FastTimers, topology: topology) { Seed = request.Seed };
        try
        {
            await driver.StartAll();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await console.Error.WriteLineAsync($"clusteractors: the scenario did not start: {e.Message}");
            return ScenarioRunner.StepFailed;
        }

        var interactive = !fromFile && console.InIsTerminal;
        var runner = new ScenarioRunner(driver, console.Out) { EchoSteps = !interactive };
        try
        {
            if (fromFile) return await runner.RunAsync(steps, ct);
            if (interactive)
                await console.Out.WriteLineAsync("steps: UNIT> COMMAND | dial | kill UNIT | start UNIT | link UNIT PORT down|up | impair UNIT PORT loss 5%|clear | wait 500ms | "
                                                 + "expect UNIT> COMMAND ~ REGEX [within 3s]; units: " + string.Join(", ", driver.Units) + "; Ctrl-D ends");
            return await runner.RunLinesAsync(console.In, script, interactive, console.Error, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await console.Error.WriteLineAsync("clusteractors: scenario run interrupted");
            return 130;
        }
    }
}
