using System.Text;

namespace ClusterActors.Protocol.Config;

/// <summary>One word of a kept (not emulated) statement, as typed: quoted words print back quoted.</summary>
internal sealed record RawWord(string Text, bool Quoted)
{
    public static RawWord Of(Token t) => new(t.Text, t.Quoted);

    /// <summary>
    /// FortiOS layout: a word that was quoted prints quoted (escaping `"` and `\`), and so does any word that would not
    /// lex back as one word bare (empty, blanks, quotes, backslashes, a line break of a certificate).
    /// </summary>
    public string Render() =>
        Quoted || Text.Length == 0 || Text.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or '\\') ? ValueType.Quote(Text) : Text;
}

/// <summary>An item of a kept block, in the order it was first typed (FortiOS interleaves settings and nested configs).</summary>
internal abstract class KeptItem
{
    public abstract KeptItem Clone();
}

/// <summary>`set NAME WORDS…` of a setting this lab does not model.</summary>
internal sealed class KeptSetting(string name, List<RawWord> words) : KeptItem
{
    public string Name { get; } = name;
    public List<RawWord> Words { get; set; } = words;
    public override KeptItem Clone() => new KeptSetting(Name, [.. Words]);
}

/// <summary>`config NAME` … `end` of a section this lab does not model (the name is all its words as typed).</summary>
internal sealed class KeptConfig(string name, KeptBlock body) : KeptItem
{
    public string Name { get; } = name;
    public KeptBlock Body { get; } = body;
    public override KeptItem Clone() => new KeptConfig(Name, Body.Clone());
}

/// <summary>`edit ID` … `next` inside a kept table.</summary>
internal sealed class KeptEntry(RawWord id, KeptBlock body) : KeptItem
{
    public RawWord Id { get; } = id;
    public KeptBlock Body { get; } = body;
    public override KeptItem Clone() => new KeptEntry(Id, Body.Clone());
}

/// <summary>
/// The not-emulated part of a node: generic FortiOS blocks (settings, nested configs, table entries) kept so `show` prints
/// them back and a later script can still change them. Nothing in the emulator reads them.
/// </summary>
internal sealed class KeptBlock
{
    public List<KeptItem> Items { get; } = [];

    public bool IsEmpty => Items.Count == 0;

    public KeptBlock Clone()
    {
        var b = new KeptBlock();
        b.Items.AddRange(Items.Select(i => i.Clone()));
        return b;
    }

    public KeptSetting? Setting(string name) => Items.OfType<KeptSetting>().FirstOrDefault(s => s.Name == name);

    /// <summary>`set`: replaces the value where it stands, or adds it at the end.</summary>
    public void Set(string name, List<RawWord> words)
    {
        if (Setting(name) is { } s) s.Words = words;
        else Items.Add(new KeptSetting(name, words));
    }

    public bool Unset(string name) => Items.RemoveAll(i => i is KeptSetting s && s.Name == name) > 0;

    public KeptConfig Config(string name)
    {
        if (Items.OfType<KeptConfig>().FirstOrDefault(c => c.Name == name) is { } c) return c;
        var created = new KeptConfig(name, new KeptBlock());
        Items.Add(created);
        return created;
    }

    public KeptConfig? FindConfig(string name) => Items.OfType<KeptConfig>().FirstOrDefault(c => c.Name == name);

    public KeptEntry? Entry(string id) => Items.OfType<KeptEntry>().FirstOrDefault(e => e.Id.Text == id);

    public KeptEntry Edit(RawWord id)
    {
        if (Entry(id.Text) is { } e) return e;
        var created = new KeptEntry(id, new KeptBlock());
        Items.Add(created);
        return created;
    }

    public void Render(StringBuilder sb, int level)
    {
        var pad = string.Concat(Enumerable.Repeat("    ", level));
        foreach (var item in Items)
            switch (item)
            {
                case KeptSetting s:
                    sb.Append(pad).Append("set ").Append(s.Name);
                    foreach (var w in s.Words) sb.Append(' ').Append(w.Render());
                    sb.Append('\n');
                    break;
                case KeptConfig c:
                    RenderConfig(sb, c, level);
                    break;
                case KeptEntry e:
                    sb.Append(pad).Append("edit ").Append(e.Id.Render()).Append('\n');
                    e.Body.Render(sb, level + 1);
                    sb.Append(pad).Append("next\n");
                    break;
            }
    }

    public static void RenderConfig(StringBuilder sb, KeptConfig c, int level)
    {
        var pad = string.Concat(Enumerable.Repeat("    ", level));
        sb.Append(pad).Append("config ").Append(c.Name).Append('\n');
        c.Body.Render(sb, level + 1);
        sb.Append(pad).Append("end\n");
    }
}

/// <summary>
/// What a lenient document keeps without emulating it, as paths in FortiOS words: `firewall policy` (a whole section),
/// `system global set gui-theme` (a setting of a modelled section), `system interface config ipv6` (a block inside a
/// modelled table's entries). Entries of one table share their paths, so ten ports with `snmp-index` are one path.
/// </summary>
internal static class NotEmulatedPaths
{
    public static List<string> Of(Node root)
    {
        var paths = new List<string>();
        Walk(Schema.Root, root, "", paths);
        return paths.Distinct().ToList();
    }

    private static void Walk(SectionDef def, Node node, string path, List<string> paths)
    {
        if (node.Kept is { IsEmpty: false } kept)
            foreach (var item in kept.Items)
            {
                var prefix = path.Length == 0 ? "" : path + " ";
                switch (item)
                {
                    case KeptSetting s:
                        // A modelled secret kept as typed is an ENC value of another FortiGate: the unit runs without it.
                        paths.Add(def.Key(s.Name) is { IsSecret: true }
                            ? $"{prefix}set {s.Name} (ENC not readable here: runs unset)"
                            : $"{prefix}set {s.Name}");
                        break;
                    case KeptConfig c: paths.Add(path.Length == 0 ? c.Name : $"{prefix}config {c.Name}"); break;
                    case KeptEntry e: paths.Add($"{prefix}edit {e.Id.Text}"); break;
                }
            }
        foreach (var child in def.Children)
        {
            var childPath = path.Length == 0 ? child.Name : $"{path} config {child.Name}";
            if (child.IsTable)
            {
                if (node.Tables.TryGetValue(child.Name, out var t))
                    foreach (var e in t.Entries) Walk(child, e.Node, childPath, paths);
            }
            else if (node.Sections.TryGetValue(child.Name, out var s)) Walk(child, s, childPath, paths);
        }
    }
}
