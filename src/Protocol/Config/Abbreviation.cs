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

    public static string? Suggest(string word, IEnumerable<string> options) => DidYouMean.Suggest(word, options);

    /// <summary>Turns a failed match into a located error for the word kind named by <paramref name="what"/>.</summary>
    public static ConfigError ToError(WordMatch m, Token token, string what, IEnumerable<string> options) =>
        m.Kind == MatchKind.Ambiguous
            ? token.Error($"ambiguous {what}; candidates: {string.Join(", ", m.Candidates)}", "one of: " + string.Join(", ", m.Candidates))
            : token.Error($"unknown {what}", "one of: " + string.Join(", ", options.Distinct()), m.Suggestion);
}
