using System.Text;

namespace ClusterActors.Protocol.Config;

/// <summary>What `get` and `show` print inside a config block (src/Protocol/Config/README.md, "get and show in a block").</summary>
public enum ConfigBlockVerb
{
    /// <summary>`get`: every setting of the object being configured, defaults included, as `name : value`.</summary>
    Get,

    /// <summary>`show`: the block in config-command form, only what differs from the defaults.</summary>
    Show,

    /// <summary>`show full-configuration`: the block in config-command form, defaults included.</summary>
    ShowFull,
}

/// <summary>
/// `get` / `show` typed inside an interactive `config` block: the block as it would be if the lines typed so far were
/// saved. The open script (from the outermost `config` to the current line, not closed) is closed with the `next`/`end`
/// lines it lacks and applied to a copy of the document (<see cref="ConfigDocument.Apply(string, string, PrivateDataKey?)"/>
/// is pure); nothing is saved. Then only the block the operator is in is printed.
/// </summary>
public static class ConfigBlockView
{
    /// <summary>FortiOS's `get` layout: the name padded to this width, then `: value`; longer names run straight into `: `.</summary>
    public const int GetNameWidth = 20;

    private sealed record Frame(SectionDef Def, string? Entry);

    /// <summary>The view, or the errors that applying the lines typed so far would give (as `end` would report them).</summary>
    public static ConfigResult<string> Of(ConfigDocument document, string openScript, ConfigBlockVerb verb, PrivateDataKey? encKey = null)
    {
        var errors = new List<ConfigError>();
        var lex = Lexer.Lex(openScript, "cli", errors);
        if (errors.Count > 0) return ConfigResult<string>.Failure(errors);
        var frames = new Stack<Frame>();
        foreach (var st in lex.Statements)
        {
            var head = st.Head.Text;
            if (head == "config")
            {
                var parent = frames.Count == 0 ? Schema.Root : frames.Peek().Def;
                var (def, _, error) = PathResolver.Resolve(parent.Children, st.Tokens.Skip(1).ToList(), st.Head);
                if (def is null) return ConfigResult<string>.Failure([error!]);
                frames.Push(new Frame(def, null));
            }
            else if (head == "edit" && frames.Count > 0 && st.Tokens.Count == 2)
                frames.Push(frames.Pop() with { Entry = st.Tokens[1].Text });
            else if (head == "next" && frames.Count > 0)
                frames.Push(frames.Pop() with { Entry = null });
            else if (head == "end" && frames.Count > 0)
                frames.Pop();
        }
        if (frames.Count == 0) return ConfigResult<string>.Failure([lex.EndOfInput.Error("not inside a config block", "config <section>")]);

        // Close what is open, innermost first: an entry with `next`, every block with `end`.
        var closing = new StringBuilder(openScript.TrimEnd('\n')).Append('\n');
        foreach (var f in frames)
        {
            if (f.Entry is not null) closing.Append("next\n");
            closing.Append("end\n");
        }
        var applied = document.Apply(closing.ToString(), "cli");
        if (!applied.Ok) return ConfigResult<string>.Failure(applied.Errors);

        // Walk the saved-as-if tree down to the block the operator is in.
        var path = frames.Reverse().ToList();
        var parentNode = applied.Value!.Root;
        for (var i = 0; i < path.Count - 1; i++)
        {
            var f = path[i];
            parentNode = f.Def.IsTable ? parentNode.Table(f.Def.Name).Find(f.Entry!)!.Node : parentNode.Section(f.Def.Name);
        }
        var here = path[^1];
        var sb = new StringBuilder();
        var key = applied.Value.EncKey(encKey);
        if (verb is ConfigBlockVerb.Show or ConfigBlockVerb.ShowFull)
        {
            Renderer.Section(sb, here.Def, parentNode, 0, verb == ConfigBlockVerb.ShowFull, here.Entry, encKey: key);
            return ConfigResult<string>.Success(sb.ToString());
        }
        if (here.Def.IsTable && here.Entry is null)
        {
            // A table's `get` lists its entries, one `== [ name ]` line each.
            foreach (var e in parentNode.Table(here.Def.Name).Entries) sb.Append("== [ ").Append(e.Id).Append(" ]\n");
            return ConfigResult<string>.Success(sb.ToString());
        }
        var node = here.Def.IsTable ? parentNode.Table(here.Def.Name).Find(here.Entry!)!.Node : parentNode.Section(here.Def.Name);
        // A named entry's name is one of its settings on FortiOS (`name`); nested blocks are left out (README).
        if (here.Def.Id == IdKind.Name) sb.Append(Line("name", here.Entry!));
        foreach (var k in here.Def.Keys) sb.Append(Line(k.Name, Renderer.Setting(k, node, full: true, key) ?? ""));
        return ConfigResult<string>.Success(sb.ToString());
    }

    private static string Line(string name, string value) => name.PadRight(GetNameWidth) + ": " + value + "\n";
}
