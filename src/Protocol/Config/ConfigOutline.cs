namespace ClusterActors.Protocol.Config;

/// <summary>One `config` block as the interactive CLI sees it: for `?` and Tab (src/Node/Commands/README.md, "Interactive CLI").</summary>
/// <param name="Name">The section's name (`system ha`, `vpn ipsec phase1-interface`, `cluster-peer`).</param>
/// <param name="IsTable">Entries are opened with `edit`.</param>
/// <param name="Settings">Each setting's name and what it takes (the parser's own "expected" text).</param>
/// <param name="Children">Nested blocks (`config cluster-peer`).</param>
public sealed record ConfigOutlineSection(string Name, bool IsTable, IReadOnlyList<(string Name, string Expected)> Settings,
    IReadOnlyList<string> Children)
{
    /// <summary>The last word of the name: FortiOS's sub-mode prompt (`(ha)`, `(phase1-interface)`).</summary>
    public string PromptWord => Name.Split(' ')[^1];
}

/// <summary>
/// A read-only view of the config schema the parser uses (<see cref="Schema"/>), so an interactive CLI offers exactly the
/// words `config … end` scripts accept, abbreviated by the same rule (<see cref="Abbreviation"/>).
/// </summary>
public static class ConfigOutline
{
    /// <summary>The section at <paramref name="path"/> (full names from the root: ["system standalone-cluster", "cluster-peer"]); null if none.</summary>
    public static ConfigOutlineSection? Find(IReadOnlyList<string> path)
    {
        var def = Def(path);
        return def is null ? null : Of(def);
    }

    /// <summary>The blocks that may be opened with `config` inside <paramref name="path"/> (the root: []).</summary>
    public static IReadOnlyList<string> ChildrenOf(IReadOnlyList<string> path) => Def(path)?.Children.Select(c => c.Name).ToList() ?? [];

    /// <summary>
    /// Resolves possibly abbreviated words (`sys ha`) to a child section of <paramref name="path"/>, word by word as the
    /// parser does; the error is the parser's message when they do not name one.
    /// </summary>
    public static (string? Name, string? Error) ResolveChild(IReadOnlyList<string> path, IReadOnlyList<string> words)
    {
        var def = Def(path);
        if (def is null || def.Children.Length == 0) return (null, "no sub-sections here");
        var tokens = words.Select((w, i) => new Token(w, false, 1, i + 1, "cli")).ToList();
        var (child, consumed, error) = PathResolver.Resolve(def.Children, tokens, new Token("config", false, 1, 0, "cli"));
        if (child is null) return (null, error!.Message);
        return consumed < words.Count ? (null, $"unexpected '{words[consumed]}' after section name") : (child.Name, null);
    }

    /// <summary>A setting name of the section at <paramref name="path"/>, abbreviated while unambiguous; null with the reason otherwise.</summary>
    public static (string? Name, string? Error) ResolveSetting(IReadOnlyList<string> path, string word)
    {
        var def = Def(path);
        if (def is null) return (null, "no such section");
        var m = Abbreviation.Resolve(word, def.Keys.Select(k => k.Name));
        return m.Ok ? (m.Value, null)
            : m.Kind == MatchKind.Ambiguous ? (null, $"ambiguous setting '{word}': {string.Join(", ", m.Candidates)}")
            : (null, $"unknown setting '{word}'" + (m.Suggestion is null ? "" : $" (did you mean '{m.Suggestion}'?)"));
    }

    /// <summary>The words a setting's value may be (an enumeration's options); empty for free values (numbers, addresses, names).</summary>
    public static IReadOnlyList<string> ValuesOf(IReadOnlyList<string> path, string setting) =>
        Def(path)?.Key(setting)?.Type is EnumType e ? e.Options : [];

    private static SectionDef? Def(IReadOnlyList<string> path)
    {
        var def = Schema.Root;
        foreach (var name in path)
        {
            def = def.Child(name);
            if (def is null) return null;
        }
        return def;
    }

    private static ConfigOutlineSection Of(SectionDef d) =>
        new(d.Name, d.IsTable, d.Keys.Select(k => (k.Name, k.Type.Expected)).ToList(), d.Children.Select(c => c.Name).ToList());
}
