using System.Globalization;

namespace ClusterActors.Protocol.Config;

/// <summary>
/// Runs config/edit/set/unset/next/end statements against a private copy of the tree. Errors are collected
/// per statement and the walk keeps going so one run reports everything; the caller throws the copy away
/// if there was any error, which is how nothing is ever half-applied.
/// </summary>
/// <param name="lenient">Lenient mode (a whole FortiOS backup): section and setting names must be whole words, and what the
/// schema does not model is kept in <see cref="Node.Kept"/> instead of being an error (src/Protocol/Config/README.md).</param>
internal sealed class Interpreter(Node root, List<ConfigError> errors, PrivateDataKey? unitKey = null, bool lenient = false)
{
    /// <summary>Lines holding a `set` of a secret or password setting, whether it parsed or not: errors there are masked.</summary>
    public HashSet<int> SecretLines { get; } = [];

    /// <summary>Every secret that was set, by line, as stored: what <see cref="ScriptSecrets"/> writes back as ENC.</summary>
    public List<(int Line, string Key, StoredValue Value, KeyDef Def)> SecretsSet { get; } = [];

    public static readonly string[] Keywords = ["config", "edit", "set", "unset", "append", "next", "end", "delete"];

    /// <summary>
    /// FortiOS's field commands for multi-option values (KB 197205, FortiOS 5.0+): `select` = set, `unselect` removes
    /// options, `clear` = unset. Only whole words: an abbreviation resolves among <see cref="Keywords"/> alone, so
    /// `se` stays `set` as it always was here.
    /// </summary>
    public static readonly string[] WholeWordKeywords = ["select", "unselect", "clear"];

    private abstract record Ctx(Token Opener);
    private sealed record NodeCtx(SectionDef Def, Node Node, Token Opener, bool IsEntry) : Ctx(Opener);
    private sealed record TableCtx(SectionDef Def, Table Table, Token Opener) : Ctx(Opener);
    /// <summary>Swallows the body of a block that failed to open, so one bad `config` line is one error, not twenty.</summary>
    private sealed record SkipCtx(Token Opener, bool IsEntry) : Ctx(Opener);
    /// <summary>Lenient mode: inside a block the schema does not model, kept as typed (<see cref="KeptBlock"/>).</summary>
    private sealed record KeptCtx(KeptBlock Block, string Name, Token Opener, bool IsEntry) : Ctx(Opener);

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
            if (ctx is KeptCtx { IsEntry: true }) continue;
            var what = ctx is NodeCtx n ? $"'config {n.Def.Name}'" : ctx is TableCtx t ? $"'config {t.Def.Name}'" : ctx is KeptCtx k ? $"'config {k.Name}'" : "this 'config'";
            unclosed.Add(ctx.Opener.Error($"missing 'end' for {what} before end of input", "end"));
        }
        unclosed.Reverse();
        errors.AddRange(unclosed);
    }

    private void Execute(Statement st)
    {
        var head = st.Head;
        var args = st.Tokens.Skip(1).ToList();
        var m = head.Quoted ? new WordMatch(MatchKind.Unknown, null, [], Abbreviation.Suggest(head.Text, Keywords))
            : WholeWordKeywords.Contains(head.Text) ? new WordMatch(MatchKind.Exact, head.Text, [head.Text], null)
            : Abbreviation.Resolve(head.Text, Keywords);
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
        if (_stack.Peek() is KeptCtx kept)
        {
            Kept(kept, m.Value!, head, args);
            return;
        }
        switch (m.Value)
        {
            case "config": Config(head, args); break;
            case "edit": Edit(head, args); break;
            case "next": Next(head, args); break;
            case "end": End(head, args); break;
            case "delete": Delete(head, args); break;
            case "select": Set("set", head, args); break;
            case "clear": Set("unset", head, args); break;
            default: Set(m.Value!, head, args); break;
        }
    }

    /// <summary>
    /// FortiOS names of secret settings (password, passwd, psksecret, ppk-secret, sso-password, auth-pwd, passphrase,
    /// private-key, key): a kept one must be typed as ENC (or an encrypted PEM), never in clear.
    /// </summary>
    public static bool LooksSecret(string name) =>
        name is "key" or "private-key" || name.Contains("passw", StringComparison.Ordinal) || name.Contains("secret", StringComparison.Ordinal)
        || name.Contains("pwd", StringComparison.Ordinal) || name.Contains("passphrase", StringComparison.Ordinal);

    /// <summary>Opens a block the schema does not model (lenient mode) in <paramref name="into"/>: `config A B C` keeps the name "A B C".</summary>
    private void OpenKept(KeptBlock into, Token head, List<Token> args)
    {
        if (args.Count == 0) { errors.Add(head.Error("missing section name")); _stack.Push(new SkipCtx(head, false)); return; }
        var name = string.Join(' ', args.Select(a => a.Text));
        _stack.Push(new KeptCtx(into.Config(name).Body, name, head, false));
    }

    /// <summary>
    /// A statement inside a kept block: the generic FortiOS grammar, with no schema. `edit 0` allocates the next free id when
    /// every id is a number (an integer table, as far as can be told).
    /// </summary>
    private void Kept(KeptCtx ctx, string verb, Token head, List<Token> args)
    {
        var block = ctx.Block;
        switch (verb)
        {
            case "config":
                OpenKept(block, head, args);
                return;
            case "edit":
                if (args.Count != 1) { errors.Add((args.Count == 0 ? head : args[1]).Error(args.Count == 0 ? "missing entry name" : "too many values", "edit <id>")); _stack.Push(new SkipCtx(head, true)); return; }
                if (ctx.IsEntry)
                {
                    errors.Add(head.Error("missing 'next' before 'edit'", "next"));
                    _stack.Pop();
                    block = ((KeptCtx)_stack.Peek()).Block;
                }
                var id = RawWord.Of(args[0]);
                var entries = block.Items.OfType<KeptEntry>().ToList();
                if (id.Text == "0" && entries.All(e => IntType.IsInteger(e.Id.Text) && e.Id.Text[0] != '-'))
                    id = new RawWord((entries.Select(e => long.Parse(e.Id.Text, CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max() + 1).ToString(CultureInfo.InvariantCulture), false);
                _stack.Push(new KeptCtx(block.Edit(id).Body, ctx.Name, head, true));
                return;
            case "next":
                Next(head, args);
                return;
            case "end":
                End(head, args);
                return;
            case "delete":
                if (args.Count != 1) { errors.Add((args.Count == 0 ? head : args[1]).Error(args.Count == 0 ? "missing entry name" : "too many values", "delete <id>")); return; }
                if (block.Entry(args[0].Text) is not { } gone) { errors.Add(args[0].Error($"no such entry in 'config {ctx.Name}'")); return; }
                block.Items.Remove(gone);
                return;
        }
        if (args.Count == 0) { errors.Add(head.Error("missing setting name", "set <name> <value>")); return; }
        var name = args[0].Text;
        var words = args.Skip(1).Select(RawWord.Of).ToList();
        switch (verb)
        {
            case "unset" or "clear":
                if (words.Count > 0) { errors.Add(args[1].Error("unexpected value after unset", "end of statement")); return; }
                block.Unset(name);
                return;
            case "unselect":
                if (words.Count == 0) { errors.Add(args[0].Error("missing value", "the options to remove")); return; }
                if (block.Setting(name) is { } s)
                {
                    s.Words = s.Words.Where(w => !words.Any(x => x.Text == w.Text)).ToList();
                    if (s.Words.Count == 0) block.Unset(name);
                }
                return;
        }
        if (LooksSecret(name)) SecretLines.Add(args[0].Line);
        if (words.Count == 0) { errors.Add(args[0].Error("missing value", "set <name> <value>")); return; }
        if (LooksSecret(name) && !(words[0].Text == "ENC" && words.Count == 2 || words[0].Text.StartsWith("-----BEGIN ENCRYPTED", StringComparison.Ordinal)))
        {
            // Kept text is shown back and journaled as typed: a secret we cannot encrypt for its section must come encrypted.
            errors.Add(args[1].Error($"'{name}' is a secret this lab does not emulate; in clear it would be kept and journaled in clear",
                "ENC <value> as a FortiOS backup writes it"));
            return;
        }
        if (verb == "append" && block.Setting(name) is { } old)
            old.Words = old.Words.Concat(words.Where(w => !old.Words.Any(o => o.Text == w.Text))).ToList();
        else block.Set(name, words);
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
        if (lenient)
        {
            // Whole words only: FortiOS wrote the backup with every name whole, and a prefix of a section we model may be
            // the whole name of one we do not.
            var exact = children.FirstOrDefault(c => c.Words.SequenceEqual(args.Select(a => a.Text)));
            if (exact is null) { OpenKept(n.Node.KeptBlock(), head, args); return; }
            if (exact.IsTable) _stack.Push(new TableCtx(exact, n.Node.Table(exact.Name), head));
            else _stack.Push(new NodeCtx(exact, n.Node.Section(exact.Name), head, false));
            return;
        }
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
        if (_stack.Peek() is NodeCtx { IsEntry: true } or SkipCtx { IsEntry: true } or KeptCtx { IsEntry: true }) { _stack.Pop(); return; }
        errors.Add(head.Error("'next' outside edit", _stack.Peek() is SkipCtx || AtRoot ? null : "end"));
    }

    private void End(Token head, List<Token> args)
    {
        NoArguments(args);
        if (AtRoot) { errors.Add(head.Error("'end' without matching 'config'")); return; }
        var popped = _stack.Pop();
        // FortiOS lets `end` close an open entry and its table at once.
        if (popped is NodeCtx { IsEntry: true } or KeptCtx { IsEntry: true }) _stack.Pop();
        else if (popped is SkipCtx { IsEntry: true } && _stack.Peek() is TableCtx or SkipCtx or KeptCtx) _stack.Pop();
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
        if (lenient && n.Def.Key(keyToken.Text) is null)
        {
            // Not modelled: kept as typed, in a kept block of this node, under the same generic grammar.
            Kept(new KeptCtx(n.Node.KeptBlock(), n.Def.Name, head, false), verb, head, args);
            return;
        }
        var m = Abbreviation.Resolve(keyToken.Text, names);
        if (!m.Ok) { errors.Add(Abbreviation.ToError(m, keyToken, $"setting in 'config {n.Def.Name}'", names)); return; }
        var key = n.Def.Key(m.Value!)!;
        var values = args.Skip(1).ToList();

        if (verb == "unset")
        {
            if (values.Count > 0) { errors.Add(values[0].Error("unexpected value after unset", "end of statement")); return; }
            n.Node.Values.Remove(key.Name);
            n.Node.Kept?.Unset(key.Name);
            return;
        }
        if (key.IsSecret) SecretLines.Add(keyToken.Line);
        if (values.Count == 0) { errors.Add(keyToken.Error("missing value", key.Type.Expected)); return; }
        if (verb is "append" or "unselect" && !key.Type.IsList) { errors.Add(head.Error($"'{verb}' needs a list setting; '{key.Name}' holds one value", "set")); return; }
        if (verb == "unselect" && key.Type.Ref == RefKind.HbDevPairs) { errors.Add(head.Error("'unselect' of heartbeat devices is not supported", $"set {key.Name} <{key.Type.Expected}>")); return; }

        var before = errors.Count;
        var parsed = key.Type is SecretType secretType ? secretType.Parse(keyToken, values, errors, unitKey) : key.Type.Parse(keyToken, values, errors);
        if (parsed is null && lenient && key.IsSecret && verb == "set" && values[0].Text == "ENC")
        {
            // A backup's ENC is under another FortiGate's key (or FortiOS's own hash format): kept as typed and shown back,
            // reported, and the unit runs as if it were unset (an admin without a readable password cannot log in).
            errors.RemoveRange(before, errors.Count - before);
            n.Node.Values.Remove(key.Name);
            n.Node.KeptBlock().Set(key.Name, values.Select(RawWord.Of).ToList());
            return;
        }
        if (parsed is null) return;
        n.Node.Kept?.Unset(key.Name);
        if (verb == "unselect")
        {
            var current = n.Node.Values.TryGetValue(key.Name, out var had) ? had : null;
            var currentWords = current?.Words ?? key.Default ?? [];
            var kept = currentWords.Select((w, i) => (w, i)).Where(x => !parsed.Words.Contains(x.w)).ToList();
            if (kept.Count == 0)
            {
                if (key.Default is { Length: > 0 }) { errors.Add(head.Error($"'unselect' would leave '{key.Name}' without a value", $"set {key.Name} <{key.Type.Expected}>")); return; }
                n.Node.Values.Remove(key.Name);
                return;
            }
            var oldLocs = current?.ValueLocs ?? currentWords.Select(_ => keyToken.Loc).ToList();
            n.Node.Values[key.Name] = new StoredValue(kept.Select(x => x.w).ToArray(), null, keyToken.Loc, kept.Select(x => x.i < oldLocs.Count ? oldLocs[x.i] : keyToken.Loc).ToList());
            return;
        }
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
