using System.Diagnostics;
using ClusterActors.Node.Scenario;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Scenario;

/// <summary>
/// Runs a scenario script on the embedded seed lab (fast timers) as `clusteractors scenario run --embedded` does, and
/// writes the run's time, stdout and stderr to the spec's output whatever happens, so a failure shows its transcript.
/// </summary>
internal static class EmbeddedScript
{
    public sealed record Run(int Exit, string Stdout, string Stderr);

    public static async Task<Run> RunAsync(string script, TimeSpan timeout, ITestOutputHelper output, string? topology = null)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        using var cts = new CancellationTokenSource(timeout);
        var sw = Stopwatch.StartNew();
        try
        {
            var exit = await ScenarioRunCommand.RunAsync(new ScenarioRunCommand.Request("seed", Embedded: true, script, FastTimers: true, Topology: topology),
                new ScenarioRunCommand.Console(TextReader.Null, InIsTerminal: false, stdout, stderr), cts.Token);
            return new Run(exit, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            output.WriteLine($"{sw.Elapsed.TotalSeconds:0.0} s\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}");
        }
    }
}
