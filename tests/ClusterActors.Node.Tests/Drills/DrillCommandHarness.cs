using ClusterActors.Node.Drills;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>Runs <see cref="DrillCommand"/> into a folder with a fresh <see cref="FakeDrillLab"/> per lab it brings up,
/// for the command specs of the drills and of chaos alike.</summary>
internal static class DrillCommandHarness
{
    public static async Task<(int Exit, string Out, List<FakeDrillLab> Labs)> Run(
        DrillCommand.Request request, string outDir, ITestOutputHelper output, Action<FakeDrillLab>? setup = null)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var labs = new List<FakeDrillLab>();
        var exit = await DrillCommand.RunAsync(request with { Out = outDir }, stdout, TextWriter.Null, CancellationToken.None, (_, _) =>
        {
            var lab = new FakeDrillLab();
            setup?.Invoke(lab);
            labs.Add(lab);
            return lab;
        });
        output.WriteLine(stdout.ToString());
        return (exit, stdout.ToString(), labs);
    }
}
