namespace ClusterActors.Protocol.Config;

internal enum MatchKind { Exact, Prefix, Ambiguous, Unknown }

internal sealed record WordMatch(MatchKind Kind, string? Value, IReadOnlyList<string> Candidates, string? Suggestion)
{
    public bool Ok => Kind is MatchKind.Exact or MatchKind.Prefix;
}

/// <summary>
/// FortiOS accepts any unambiguous prefix of a CLI word. We apply the same rule to keywords, section words,
/// setting names and enum values (the seed's `simultaneou` depends on it); an exact word always wins so
/// `hb-interval` is never ambiguous with `hb-interval-in-milliseconds`.
/// </summary>
internal static class Abbreviation
{
    public static WordMatch Resolve(string word, IEnumerable<string> options, bool allowPrefix = true)
    {
        var list = options.Distinct().ToList();
        if (list.Contains(word)) return new WordMatch(MatchKind.Exact, word, [word], null);
        if (allowPrefix && word.Length > 0)
        {
            var prefixed = list.Where(o => o.StartsWith(word, StringComparison.Ordinal)).ToList();
            if (prefixed.Count == 1) return new WordMatch(MatchKind.Prefix, prefixed[0], prefixed, null);
            if (prefixed.Count > 1) return new WordMatch(MatchKind.Ambiguous, null, prefixed, null);
        }
        return new WordMatch(MatchKind.Unknown, null, [], Suggest(word, list));
    }

    /// <summary>Closest option by edit distance, only when close enough to be a plausible typo.</summary>
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

    /// <summary>Turns a failed match into a located error for the word kind named by <paramref name="what"/>.</summary>
    public static ConfigError ToError(WordMatch m, Token token, string what, IEnumerable<string> options) =>
        m.Kind == MatchKind.Ambiguous
            ? token.Error($"ambiguous {what}; candidates: {string.Join(", ", m.Candidates)}", "one of: " + string.Join(", ", m.Candidates))
            : token.Error($"unknown {what}", "one of: " + string.Join(", ", options.Distinct()), m.Suggestion);
}
