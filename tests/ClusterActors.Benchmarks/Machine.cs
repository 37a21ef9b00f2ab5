using System.Diagnostics;

/// <summary>What the figures were measured on: printed with every figure, because this machine's cores are shared.</summary>
internal static class Machine
{
    /// <summary>The 1, 5 and 15 minute load averages from /proc/loadavg; "n/a" where there is none.</summary>
    public static string LoadAverage()
    {
        try
        {
            var fields = File.ReadAllText("/proc/loadavg").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return string.Join(' ', fields.Take(3));
        }
        catch (IOException) { return "n/a"; }
        catch (UnauthorizedAccessException) { return "n/a"; }
    }

    /// <summary>`2 cores, load 1.23 0.98 0.70`.</summary>
    public static string Line() => $"{Environment.ProcessorCount} cores, load {LoadAverage()}";

    /// <summary>The process's CPU time so far, to tell how many cores a measurement kept busy.</summary>
    public static TimeSpan CpuTime()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.OrderBy(v => v).ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
