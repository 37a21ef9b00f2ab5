namespace ClusterActors.Protocol.Config;

/// <summary>
/// A set value in canonical words (e.g. `/24` already turned into a dotted mask, `simultaneou` expanded),
/// plus where it was typed, so cross-reference checks that run after the whole input can still point at it.
/// </summary>
internal sealed record StoredValue(IReadOnlyList<string> Words, Secret? Secret, Loc Where, IReadOnlyList<Loc> ValueLocs);

/// <summary>
/// The untyped, schema-shaped config tree. It is mutable only while one Parse/Apply runs on a private clone;
/// a ConfigDocument never exposes or mutates its tree, which is what makes all-or-nothing cheap.
/// </summary>
internal sealed class Node
{
    public Dictionary<string, StoredValue> Values { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, Node> Sections { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, Table> Tables { get; } = new(StringComparer.Ordinal);

    /// <summary>The `edit` that created a table entry (null for the VM's built-in ports).</summary>
    public Loc? Where { get; init; }

    /// <summary>
    /// Lenient mode only: what was typed here that the schema does not model (settings, nested configs; at the root,
    /// whole sections), kept in order for `show` and never read by the emulator. Null until something is kept.
    /// </summary>
    public KeptBlock? Kept { get; set; }

    public KeptBlock KeptBlock() => Kept ??= new KeptBlock();

    public Node Clone()
    {
        var n = new Node { Where = Where, Kept = Kept?.Clone() };
        foreach (var (k, v) in Values) n.Values[k] = v;
        foreach (var (k, v) in Sections) n.Sections[k] = v.Clone();
        foreach (var (k, v) in Tables) n.Tables[k] = v.Clone();
        return n;
    }

    public Node Section(string name) => Sections.TryGetValue(name, out var s) ? s : Sections[name] = new Node();
    public Table Table(string name) => Tables.TryGetValue(name, out var t) ? t : Tables[name] = new Table();
}

internal sealed class Table
{
    public List<TableEntry> Entries { get; } = [];

    public TableEntry? Find(string id) => Entries.FirstOrDefault(e => e.Id == id);

    public Table Clone()
    {
        var t = new Table();
        t.Entries.AddRange(Entries.Select(e => new TableEntry(e.Id, e.Node.Clone())));
        return t;
    }
}

internal sealed record TableEntry(string Id, Node Node);
