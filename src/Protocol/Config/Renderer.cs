using System.Text;

namespace ClusterActors.Protocol.Config;

/// <summary>
/// Writes the tree back in FortiOS layout (4 spaces per level, settings in schema order, strings quoted,
/// enums and numbers bare, secrets as ENC). `show` leaves out values equal to the default; `show full` does not.
/// </summary>
internal static class Renderer
{
    private const string Indent = "    ";

    /// <param name="compact">For whole-file output: leave out built-in ports that carry no settings, which
    /// re-appear from the VM defaults on parse anyway.</param>
    /// <param name="encKey">The key ENC secrets are written under: the product key unless given (the unit's own when
    /// private data encryption is on).</param>
    public static void Section(StringBuilder sb, SectionDef def, Node node, int level, bool full, string? onlyEntry = null, bool compact = false,
        PrivateDataKey? encKey = null)
    {
        var pad = string.Concat(Enumerable.Repeat(Indent, level));
        sb.Append(pad).Append("config ").Append(def.Name).Append('\n');
        if (def.IsTable) Entries(sb, def, node.Tables.GetValueOrDefault(def.Name) ?? new Table(), level + 1, full, onlyEntry, compact, encKey);
        else Body(sb, def, node.Sections.GetValueOrDefault(def.Name) ?? new Node(), level + 1, full, encKey);
        sb.Append(pad).Append("end\n");
    }

    private static void Entries(StringBuilder sb, SectionDef def, Table table, int level, bool full, string? onlyEntry, bool compact, PrivateDataKey? encKey)
    {
        var pad = string.Concat(Enumerable.Repeat(Indent, level));
        foreach (var e in table.Entries)
        {
            if (onlyEntry is not null && e.Id != onlyEntry) continue;
            if (compact && def.BuiltinEntries?.Contains(e.Id) == true && IsDefault(def, e.Node)) continue;
            sb.Append(pad).Append("edit ").Append(def.Id == IdKind.Integer ? e.Id : ValueType.Quote(e.Id)).Append('\n');
            Body(sb, def, e.Node, level + 1, full, encKey);
            sb.Append(pad).Append("next\n");
        }
    }

    private static void Body(StringBuilder sb, SectionDef def, Node node, int level, bool full, PrivateDataKey? encKey)
    {
        var pad = string.Concat(Enumerable.Repeat(Indent, level));
        foreach (var key in def.Keys)
        {
            var line = Setting(key, node, full, encKey);
            if (line is not null) sb.Append(pad).Append("set ").Append(key.Name).Append(' ').Append(line).Append('\n');
        }
        foreach (var child in def.Children)
        {
            var hasContent = child.IsTable
                ? node.Tables.TryGetValue(child.Name, out var t) && t.Entries.Count > 0
                : node.Sections.TryGetValue(child.Name, out var s) && (full || !IsDefault(child, s));
            if (hasContent) Section(sb, child, node, level, full, encKey: encKey);
        }
        // Lenient mode: what was typed here that the schema does not model, after what it does, in typed order.
        node.Kept?.Render(sb, level);
    }

    public static string? Setting(KeyDef key, Node node, bool full, PrivateDataKey? encKey = null)
    {
        if (node.Values.TryGetValue(key.Name, out var v))
        {
            if (!full && key.Default is not null && v.Words.SequenceEqual(key.Default)) return null;
            return Value(key, v, encKey);
        }
        // Settings without a default (secrets, optional names, empty lists) have nothing to show.
        if (!full || key.Default is null || key.Default.Length == 0 && key.Type.IsList) return null;
        return key.Type.Render(key.Default, null);
    }

    /// <summary>One stored value as written after `set NAME`; secrets as ENC under <paramref name="encKey"/>.</summary>
    public static string Value(KeyDef key, StoredValue v, PrivateDataKey? encKey) =>
        key.Type is SecretType && v.Secret is not null && encKey is not null ? "ENC " + v.Secret.EncryptedUnder(encKey) : key.Type.Render(v.Words, v.Secret);

    /// <summary>True when nothing in the node differs from the schema defaults (so `show`/ToText can omit it).</summary>
    public static bool IsDefault(SectionDef def, Node node) =>
        node.Kept is null or { IsEmpty: true }
        && def.Keys.All(k => Setting(k, node, full: false) is null)
        && def.Children.All(c => c.IsTable
            ? !node.Tables.TryGetValue(c.Name, out var t) || t.Entries.Count == 0
            : !node.Sections.TryGetValue(c.Name, out var s) || IsDefault(c, s));
}
