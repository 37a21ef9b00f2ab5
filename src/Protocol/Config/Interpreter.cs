using System.Globalization;

namespace ClusterActors.Protocol.Config;

/// <summary>
/// Runs config/edit/set/unset/next/end statements against a private copy of the tree. Errors are collected
/// per statement and the walk keeps going so one run reports everything; the caller throws the copy away
/// if there was any error, which is how nothing is ever half-applied.
/// </summary>
internal sealed class Interpreter(Node root, List<ConfigError> errors, PrivateDataKey? unitKey = null)
{
    /// <summary>Lines holding a `set` of a secret or password setting, whether it parsed or not: errors there are masked.</summary>
    public HashSet<int> SecretLines { get; } = [];

    /// <summary>Every secret that was set, by line, as stored: what <see cref="ScriptSecrets"/> writes back as ENC.</summary>
    public List<(int Line, string Key, StoredValue Value, KeyDef Def)> SecretsSet { get; } = [];

    public static readonly string[] Keywords = ["config", "edit", "set", "unset", "append", "next", "end", "delete"];

    private abstract record Ctx(Token Opener);
    private sealed record NodeCtx(SectionDef Def, Node Node, Token Opener, bool IsEntry) : Ctx(Opener);
    private sealed record TableCtx(SectionDef Def, Table Table, Token Opener) : Ctx(Opener);
    /// <summary>Swallows the body of a block that failed to open, so one bad `config` line is one error, not twenty.</summary>
    private sealed record SkipCtx(Token Opener, bool IsEntry) : Ctx(Opener);

    private readonly Stack<Ctx> _stack = new([new NodeCtx(Schema.Root, root, new Token("", false, 0, 0, ""), false)]);

    private bool AtRoot => _stack.Count == 1;

    public void Run(IReadOnlyList<Statement> statements, Token endOfInput)
    {
        foreach (var st in statements) Execute(st);
        var unclosed = new List<ConfigError>();
        while (!AtRoot)
        {
            var ctx = _stack.Pop();
            if (ctx is NodeCtx { IsEntry: true } or SkipCtx { IsEntry: true }) continue;
            var what = ctx is NodeCtx n ? $"'config {n.Def.Name}'" : ctx is TableCtx t ? $"'config {t.Def.Name}'" : "this 'config'";
            unclosed.Add(ctx.Opener.Error($"missing 'end' for {what} before end of input", "end"));
        }
        unclosed.Reverse();
        errors.AddRange(unclosed);
    }

    private void Execute(Statement st)
    {
        var head = st.Head;
        var args = st.Tokens.Skip(1).ToList();
        var m = head.Quoted ? new WordMatch(MatchKind.Unknown, null, [], Abbreviation.Suggest(head.Text, Keywords)) : Abbreviation.Resolve(head.Text, Keywords);
        if (!m.Ok)
        {
            errors.Add(Abbreviation.ToError(m, head, "command", Keywords));
            // Keep the block structure of a typo'd keyword so one typo is one error, not a cascade:
            // a mistyped `config` still opens a block, a mistyped `end`/`next` still closes one.
            var before = errors.Count;
            switch (m.Suggestion)
            {
                case "config": _stack.Push(new SkipCtx(head, false)); break;
                case "end": End(head, []); break;
                case "next": Next(head, []); break;
            }
            errors.RemoveRange(before, errors.Count - before);
            return;
        }
        switch (m.Value)
        {
            case "config": Config(head, args); break;
            case "edit": Edit(head, args); break;
            case "next": Next(head, args); break;
            case "end": End(head, args); break;
            case "delete": Delete(head, args); break;
            default: Set(m.Value!, head, args); break;
        }
    }

    private void NoArguments(List<Token> args)
    {
        if (args.Count > 0) errors.Add(args[0].Error("unexpected token", "end of statement"));
    }

    private void Config(Token head, List<Token> args)
    {
        var top = _stack.Peek();
        switch (top)
        {
            case SkipCtx:
                _stack.Push(new SkipCtx(head, false));
                return;
            case TableCtx t:
                errors.Add(head.Error($"'config' inside table 'config {t.Def.Name}' needs 'edit' first", "edit <id>"));
                _stack.Push(new SkipCtx(head, false));
                return;
        }
        var n = (NodeCtx)top;
        var children = n.Def.Children;
        if (children.Length == 0)
        {
            errors.Add((args.Count > 0 ? args[0] : head).Error($"'config {n.Def.Name}' has no sub-sections"));
            _stack.Push(new SkipCtx(head, false));
            return;
        }
        var (def, consumed, error) = PathResolver.Resolve(children, args, head);
        if (def is null)
        {
            errors.Add(error!);
            _stack.Push(new SkipCtx(head, false));
            return;
        }
        if (consumed < args.Count) errors.Add(args[consumed].Error("unexpected token after section name", "end of statement"));
        if (def.IsTable) _stack.Push(new TableCtx(def, n.Node.Table(def.Name), head));
        else _stack.Push(new NodeCtx(def, n.Node.Section(def.Name), head, false));
    }

    private void Edit(Token head, List<Token> args)
    {
        var top = _stack.Peek();
        switch (top)
        {
            case SkipCtx s:
                if (!s.IsEntry) _stack.Push(new SkipCtx(head, true));
                return;
            case TableCtx t:
                EditEntry(t, head, args);
                return;
            case NodeCtx { IsEntry: true }:
                errors.Add(head.Error("missing 'next' before 'edit'", "next"));
                _stack.Pop();
                EditEntry((TableCtx)_stack.Peek(), head, args);
                return;
            case NodeCtx when AtRoot:
                errors.Add(head.Error("'edit' outside config", "config <table>"));
                break;
            case NodeCtx n:
                errors.Add(head.Error($"'edit' outside a table: 'config {n.Def.Name}' has no entries", "set, unset or end"));
                break;
        }
        _stack.Push(new SkipCtx(head, true));
    }

    private void EditEntry(TableCtx t, Token head, List<Token> args)
    {
        var id = EntryId(t.Def, head, args, creating: true, t.Table);
        if (id is null) { _stack.Push(new SkipCtx(head, true)); return; }
        var entry = t.Table.Find(id);
        if (entry is null)
        {
            entry = new TableEntry(id, new Node { Where = args[0].Loc });
            t.Table.Entries.Add(entry);
        }
        _stack.Push(new NodeCtx(t.Def, entry.Node, head, true));
    }

    private string? EntryId(SectionDef def, Token head, List<Token> args, bool creating, Table table)
    {
        var expected = def.Id == IdKind.Integer ? "entry id (integer)" : $"entry name of 1-{def.IdMaxLength} characters";
        if (args.Count == 0) { errors.Add(head.Error("missing entry name", expected)); return null; }
        if (args.Count > 1) { errors.Add(args[1].Error("too many values", expected)); return null; }
        var t = args[0];
        if (def.Id == IdKind.Integer)
        {
            if (!IntType.IsInteger(t.Text) || !long.TryParse(t.Text, CultureInfo.InvariantCulture, out var v) || v < 0 || v > uint.MaxValue)
            {
                errors.Add(t.Error("invalid entry id", "integer 0-4294967295"));
                return null;
            }
            // FortiOS: `edit 0` allocates the next free id.
            if (v == 0 && creating)
                v = table.Entries.Select(e => long.Parse(e.Id, CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max() + 1;
            return v.ToString(CultureInfo.InvariantCulture);
        }
        if (t.Text.Length == 0 || t.Text.Length > def.IdMaxLength)
        {
            errors.Add(t.Error(t.Text.Length == 0 ? "empty entry name" : $"entry name too long ({t.Text.Length} > {def.IdMaxLength} characters)", expected));
            return null;
        }
        return t.Text;
    }

    private void Next(Token head, List<Token> args)
    {
        NoArguments(args);
        if (_stack.Peek() is NodeCtx { IsEntry: true } or SkipCtx { IsEntry: true }) { _stack.Pop(); return; }
        errors.Add(head.Error("'next' outside edit", _stack.Peek() is SkipCtx || AtRoot ? null : "end"));
    }

    private void End(Token head, List<Token> args)
    {
        NoArguments(args);
        if (AtRoot) { errors.Add(head.Error("'end' without matching 'config'")); return; }
        var popped = _stack.Pop();
        // FortiOS lets `end` close an open entry and its table at once.
        if (popped is NodeCtx { IsEntry: true }) _stack.Pop();
        else if (popped is SkipCtx { IsEntry: true } && _stack.Peek() is TableCtx or SkipCtx) _stack.Pop();
    }

    private void Delete(Token head, List<Token> args)
    {
        if (_stack.Peek() is SkipCtx) return;
        if (_stack.Peek() is not TableCtx t) { errors.Add(head.Error("'delete' outside a table", "edit, set, unset or end")); return; }
        var id = EntryId(t.Def, head, args, creating: false, t.Table);
        if (id is null) return;
        var entry = t.Table.Find(id);
        if (entry is null)
        {
            errors.Add(args[0].Error($"no such entry in 'config {t.Def.Name}'", null, Abbreviation.Suggest(id, t.Table.Entries.Select(e => e.Id))));
            return;
        }
        if (t.Def.BuiltinEntries?.Contains(id) == true)
        {
            errors.Add(args[0].Error("built-in port cannot be deleted"));
            return;
        }
        t.Table.Entries.Remove(entry);
    }

    private void Set(string verb, Token head, List<Token> args)
    {
        var top = _stack.Peek();
        if (top is SkipCtx) return;
        if (AtRoot) { errors.Add(head.Error($"'{verb}' outside config", "config <section>")); return; }
        if (top is TableCtx t) { errors.Add(head.Error($"'{verb}' outside edit: 'config {t.Def.Name}' is a table", "edit <id>")); return; }
        var n = (NodeCtx)top;
        var names = n.Def.Keys.Select(k => k.Name).ToArray();
        if (args.Count == 0) { errors.Add(head.Error("missing setting name", "one of: " + string.Join(", ", names))); return; }
        var keyToken = args[0];
        var m = Abbreviation.Resolve(keyToken.Text, names);
        if (!m.Ok) { errors.Add(Abbreviation.ToError(m, keyToken, $"setting in 'config {n.Def.Name}'", names)); return; }
        var key = n.Def.Key(m.Value!)!;
        var values = args.Skip(1).ToList();

        if (verb == "unset")
        {
            if (values.Count > 0) { errors.Add(values[0].Error("unexpected value after unset", "end of statement")); return; }
            n.Node.Values.Remove(key.Name);
            return;
        }
        if (key.IsSecret) SecretLines.Add(keyToken.Line);
        if (values.Count == 0) { errors.Add(keyToken.Error("missing value", key.Type.Expected)); return; }
        if (verb == "append" && !key.Type.IsList) { errors.Add(head.Error($"'append' needs a list setting; '{key.Name}' holds one value", "set")); return; }

        var parsed = key.Type is SecretType secretType ? secretType.Parse(keyToken, values, errors, unitKey) : key.Type.Parse(keyToken, values, errors);
        if (parsed is null) return;
        // Secret tokens may be the clear text: never keep them as locations.
        List<Loc> locs = key.IsSecret ? [] : values.Select(v => v.Loc).ToList();
        var where = keyToken.Loc;
        var words = parsed.Words;
        if (verb == "append")
        {
            var old = n.Node.Values.TryGetValue(key.Name, out var existing) ? existing : null;
            var oldWords = old?.Words ?? key.Default ?? [];
            var oldLocs = old?.ValueLocs ?? oldWords.Select(_ => where).ToList();
            if (key.Type.Ref == RefKind.HbDevPairs)
            {
                var dup = words.Where((_, i) => i % 2 == 0).FirstOrDefault(w => oldWords.Where((_, i) => i % 2 == 0).Contains(w));
                if (dup is not null) { errors.Add(values.First(v => v.Text == dup).Error("interface listed twice", key.Type.Expected)); return; }
                words = oldWords.Concat(words).ToArray();
                locs = oldLocs.Concat(locs).ToList();
            }
            else
            {
                var merged = oldWords.Select((w, i) => (w, l: oldLocs[i])).ToList();
                foreach (var (w, l) in words.Zip(locs))
                    if (!merged.Any(x => x.w == w)) merged.Add((w, l));
                words = merged.Select(x => x.w).ToArray();
                locs = merged.Select(x => x.l).ToList();
            }
        }
        var stored = new StoredValue(words, parsed.Secret, where, locs);
        n.Node.Values[key.Name] = stored;
        if (key.IsSecret) SecretsSet.Add((keyToken.Line, key.Name, stored, key));
    }
}

internal static class PathResolver
{
    /// <summary>
    /// Matches possibly abbreviated words (`sys ha`) against multi-word section names, word by word,
    /// so each word is abbreviated among the names still possible at that position.
    /// </summary>
    public static (SectionDef? Def, int Consumed, ConfigError? Error) Resolve(IReadOnlyList<SectionDef> children, IReadOnlyList<Token> tokens, Token anchor)
    {
        var candidates = children.ToList();
        for (var i = 0; ; i++)
        {
            var options = candidates.Where(c => c.Words.Length > i).Select(c => c.Words[i]).Distinct().ToList();
            if (i >= tokens.Count)
            {
                var at = i == 0 ? anchor : tokens[i - 1];
                return (null, i, at.Error(i == 0 ? "missing section name" : "incomplete section name", "one of: " + string.Join(", ", options)));
            }
            var m = Abbreviation.Resolve(tokens[i].Text, options);
            if (!m.Ok) return (null, i, Abbreviation.ToError(m, tokens[i], "section", options));
            candidates = candidates.Where(c => c.Words.Length > i && c.Words[i] == m.Value).ToList();
            var complete = candidates.FirstOrDefault(c => c.Words.Length == i + 1);
            if (complete is not null) return (complete, i + 1, null);
        }
    }
}

/// <summary>Checks that need the whole document: required settings and references between sections.</summary>
internal static class Validator
{
    public static void Validate(Node root, List<ConfigError> errors)
    {
        var interfaces = root.Table(Schema.Interface).Entries.Select(e => e.Id).ToList();
        var phase1 = root.Table(Schema.Phase1).Entries.Select(e => e.Id).ToList();
        var before = errors.Count;
        Walk(Schema.Root, root, interfaces, phase1, errors);
        CheckInterfaceTypes(root.Table(Schema.Interface), errors);
        if (errors.Count == before) CheckHaInterfaceKinds(root, errors);
    }

    /// <summary>
    /// FGCP heartbeats run on physical links, and link monitoring needs a port that can lose carrier,
    /// so loopbacks/VLANs/tunnels are refused for hbdev and tunnels/loopbacks/VLANs for monitor.
    /// </summary>
    private static void CheckHaInterfaceKinds(Node root, List<ConfigError> errors)
    {
        var def = Schema.Top(Schema.Interface);
        string TypeOf(string name)
        {
            var node = root.Table(Schema.Interface).Find(name)!.Node;
            return node.Values.TryGetValue("type", out var t) ? t.Words[0] : def.Key("type")!.Default![0];
        }
        var ha = root.Section(Schema.Ha);
        if (ha.Values.TryGetValue("hbdev", out var hb))
            for (var i = 0; i < hb.Words.Count; i += 2)
                if (TypeOf(hb.Words[i]) is not ("physical" or "aggregate"))
                    errors.Add(hb.ValueLocs[i].Error($"heartbeat device must be a physical or aggregate port, '{hb.Words[i]}' is {TypeOf(hb.Words[i])}", "physical port such as port4"));
        if (ha.Values.TryGetValue("monitor", out var mon))
            for (var i = 0; i < mon.Words.Count; i++)
                if (TypeOf(mon.Words[i]) is not ("physical" or "aggregate"))
                    errors.Add(mon.ValueLocs[i].Error($"monitored interface must be a physical or aggregate port, '{mon.Words[i]}' is {TypeOf(mon.Words[i])}", "physical port such as port2"));
    }

    private static void Walk(SectionDef def, Node node, List<string> interfaces, List<string> phase1, List<ConfigError> errors)
    {
        foreach (var key in def.Keys)
        {
            if (!node.Values.TryGetValue(key.Name, out var v))
            {
                if (key.Required && node.Where is { } where)
                    errors.Add(where.Error($"'config {def.Name}' entry is missing required setting '{key.Name}'", $"set {key.Name} <{key.Type.Expected}>"));
                continue;
            }
            switch (key.Type.Ref)
            {
                case RefKind.Interface:
                    for (var i = 0; i < v.Words.Count; i++) CheckRef(v, i, interfaces, "interface", InterfaceHint, errors);
                    break;
                case RefKind.HbDevPairs:
                    for (var i = 0; i < v.Words.Count; i += 2) CheckRef(v, i, interfaces, "interface", InterfaceHint, errors);
                    break;
                case RefKind.Phase1:
                    CheckRef(v, 0, phase1, "phase1-interface", "name of a 'config vpn ipsec phase1-interface' entry", errors);
                    break;
            }
            if (key.NotEmulated is { } notEmulated)
                for (var i = 0; i < v.Words.Count; i++)
                    if (notEmulated(v.Words[i]) is { } why)
                        errors.Add((i < v.ValueLocs.Count ? v.ValueLocs[i] : v.Where).Error($"{key.Name} '{v.Words[i]}' is valid FortiOS but not emulated: {why}", key.Emulated));
        }
        foreach (var child in def.Children)
        {
            if (child.IsTable)
            {
                if (node.Tables.TryGetValue(child.Name, out var t))
                    foreach (var e in t.Entries) Walk(child, e.Node, interfaces, phase1, errors);
            }
            else if (node.Sections.TryGetValue(child.Name, out var s)) Walk(child, s, interfaces, phase1, errors);
        }
    }

    private const string InterfaceHint = "port1-port10 or an interface configured in 'config system interface'";

    private static void CheckRef(StoredValue v, int i, List<string> known, string what, string expected, List<ConfigError> errors)
    {
        if (known.Contains(v.Words[i])) return;
        var loc = i < v.ValueLocs.Count ? v.ValueLocs[i] : v.Where;
        errors.Add(loc.Error($"unknown {what}", expected, Abbreviation.Suggest(v.Words[i], known)));
    }

    /// <summary>A VM has exactly port1-port10 as hardware; anything else must be a logical interface type.</summary>
    private static void CheckInterfaceTypes(Table interfaces, List<ConfigError> errors)
    {
        foreach (var e in interfaces.Entries)
        {
            var builtin = Schema.VmPorts.Contains(e.Id);
            e.Node.Values.TryGetValue("type", out var type);
            var isPhysical = type is null || type.Words[0] == "physical";
            if (builtin && !isPhysical)
                errors.Add(type!.ValueLocs[0].Error($"'{e.Id}' is a physical port of the VM; its type cannot change", "physical"));
            else if (!builtin && isPhysical && e.Node.Where is { } where)
                errors.Add((type?.ValueLocs[0] ?? where).Error($"interface '{e.Id}' is not a port of the VM; it needs a logical type", "set type loopback, vlan, aggregate or tunnel"));
        }
    }
}
