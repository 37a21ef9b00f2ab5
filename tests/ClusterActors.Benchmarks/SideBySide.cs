namespace ClusterActors.Benchmarks;

/// <summary>Which responder a round of a side-by-side benchmark runs against.</summary>
public enum Side
{
    Ours,
    Theirs,
}

/// <summary>
/// The bookkeeping of the side-by-side benchmarks (ike-vs-strongswan, esp-vs-strongswan), pure so that it has a spec
/// (tests/ClusterActors.Node.Tests/Benchmarks/SideBySideSpec.cs compiles this file): the alternating order of the rounds,
/// medians and percentiles of the per-round figures, and the ratio ours/theirs as it is printed.
/// </summary>
public static class SideBySide
{
    /// <summary>
    /// Ours, theirs, ours, theirs … <paramref name="rounds"/> of each: alternating, so a change of the machine's load
    /// during the run falls on both sides instead of on one.
    /// </summary>
    public static IReadOnlyList<(int Round, Side Side)> Schedule(int rounds)
    {
        if (rounds < 1) throw new ArgumentOutOfRangeException(nameof(rounds), rounds, "at least one round of each side");
        var order = new List<(int, Side)>(2 * rounds);
        for (var r = 1; r <= rounds; r++)
        {
            order.Add((r, Side.Ours));
            order.Add((r, Side.Theirs));
        }
        return order;
    }

    /// <summary>The median of the finite values; NaN when there is none.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(double.IsFinite).OrderBy(v => v).ToList();
        if (sorted.Count == 0) return double.NaN;
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>Nearest-rank percentile (<paramref name="q"/> in (0, 1]) of the finite values; NaN when there is none.</summary>
    public static double Percentile(IEnumerable<double> values, double q)
    {
        if (q is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(q), q, "a quantile in (0, 1]");
        var sorted = values.Where(double.IsFinite).OrderBy(v => v).ToList();
        if (sorted.Count == 0) return double.NaN;
        return sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    /// <summary>ours / theirs; NaN when either is missing or theirs is zero (printed as n/a, never as infinity).</summary>
    public static double Ratio(double ours, double theirs) =>
        double.IsFinite(ours) && double.IsFinite(theirs) && theirs != 0 ? ours / theirs : double.NaN;

    /// <summary>`1.23`, or `n/a` for a ratio that could not be formed.</summary>
    public static string FormatRatio(double ratio) => double.IsFinite(ratio) ? ratio.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) : "n/a";

    /// <summary>
    /// The median of each side's per-round figures and their ratio ours/theirs, from rounds tagged by side (a failed round
    /// carries NaN and is left out of its side's median).
    /// </summary>
    public static (double Ours, double Theirs, double Ratio) Compare(IEnumerable<(Side Side, double Value)> rounds)
    {
        var list = rounds.ToList();
        var ours = Median(list.Where(r => r.Side == Side.Ours).Select(r => r.Value));
        var theirs = Median(list.Where(r => r.Side == Side.Theirs).Select(r => r.Value));
        return (ours, theirs, Ratio(ours, theirs));
    }
}
