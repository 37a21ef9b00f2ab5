namespace ClusterActors.Node.Tests;

/// <summary>
/// A command that ran a real lab (a drill, a scenario script) exited 0, or the failure says why in its first lines. CI
/// prints only the first lines of a failed spec's message, not its output, and a red that does not come back on a
/// second machine must still be explained: so the message leads with the command's FAIL and error lines, then ends with
/// the last lines it printed.
/// </summary>
internal static class ExitAssert
{
    private const int Lines = 12;

    public static void Zero(int exit, string stdout, string stderr = "")
    {
        if (exit == 0) return;
        var all = stdout.Split('\n');
        var why = all.Where(l => l.Contains("FAIL", StringComparison.Ordinal) || l.Contains("error", StringComparison.OrdinalIgnoreCase)
                                 || l.Contains("violation", StringComparison.OrdinalIgnoreCase) || l.Contains("timed out", StringComparison.Ordinal))
            .Concat(stderr.Split('\n').Where(l => l.Length > 0))
            .Take(Lines)
            .ToList();
        var tail = all.Where(l => l.Length > 0).TakeLast(Lines);
        Assert.Fail($"exit {exit}, expected 0. What failed:\n{string.Join('\n', why)}\nThe output's last lines:\n{string.Join('\n', tail)}");
    }
}
