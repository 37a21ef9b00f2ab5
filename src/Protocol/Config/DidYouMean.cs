namespace ClusterActors.Protocol.Config;

/// <summary>The "did you mean" of every located error: the FortiOS config language, CLI words and scenario scripts.</summary>
public static class DidYouMean
{
    /// <summary>Closest option by edit distance, only when close enough to be a plausible typo (case counts for nothing).</summary>
    public static string? Suggest(string word, IEnumerable<string> options)
    {
        var w = word.ToLowerInvariant();
        var limit = w.Length <= 3 ? 1 : w.Length <= 6 ? 2 : 3;
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var o in options)
        {
            var d = Distance(w, o.ToLowerInvariant());
            if (d < bestDistance) { best = o; bestDistance = d; }
        }
        return bestDistance <= limit ? best : null;
    }

    /// <summary>Optimal-string-alignment distance: a swapped pair of letters (`ned`) counts as one typo.</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        for (var j = 1; j <= b.Length; j++)
        {
            var cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
        }
        return d[a.Length, b.Length];
    }
}
