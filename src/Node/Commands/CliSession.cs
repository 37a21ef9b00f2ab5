using System.Net;
using System.Net.Sockets;
using ClusterActors.Actors.Cli;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Protocol.Config;

namespace ClusterActors.Node.Commands;

/// <summary>What the interactive front does with a line the operator entered.</summary>
public abstract record CliStep;

/// <summary>Send this command (or whole `config … end` script) to the unit's admin endpoint and print its answer.</summary>
public sealed record CliRunOnUnit(string Command) : CliStep;

/// <summary>Print this text; nothing goes to the unit (a parse error found locally, or nothing at all when empty).</summary>
public sealed record CliPrint(string Text) : CliStep;

/// <summary>`execute ha manage INDEX USER`: continue the session on the cluster member with that HA cluster index.</summary>
public sealed record CliManage(int Index, string User) : CliStep;

/// <summary>`exit`: the session ends.</summary>
public sealed record CliExit : CliStep;

/// <summary>
/// The interactive FortiOS CLI as a pure model: the prompt and its config sub-modes, the `config … end` script being
/// typed, history, `?` and Tab. No console and no network: the front (<see cref="InteractiveCli"/>) reads keys, calls
/// <see cref="Enter"/>, <see cref="Help"/> and <see cref="Complete"/>, and carries out the returned step.
/// Configuration reaches the unit as one-shot config commands do: the whole `config … end` script in one request, sent
/// when the outermost block ends (src/Node/Commands/README.md, "Interactive CLI").
/// </summary>
public sealed class CliSession(string hostname)
{
    /// <summary>One open block: its section path from the root, the word its prompt shows, and whether it is a table entry (`edit`).</summary>
    private sealed record Level(IReadOnlyList<string> Path, string PromptWord, bool IsEntry, bool IsTable);

    private readonly Stack<Level> _levels = new();
    private readonly List<string> _script = [];
    private readonly List<string> _history = [];

    /// <summary>How many lines of <see cref="_script"/> FortiOS would already have saved: through the last `next` that closed an entry of the outermost table.</summary>
    private int _savedThrough;

    /// <summary>The hostname the prompt shows; changes when the session moves to another member.</summary>
    public string Hostname { get; private set; } = hostname;

    /// <summary>`DC2_VM1 # `, `DC2_VM1 (ha) # `, `DC2_VM1 (vpn1) # `.</summary>
    public string Prompt => _levels.Count == 0 ? $"{Hostname} # " : $"{Hostname} ({_levels.Peek().PromptWord}) # ";

    /// <summary>Lines entered, oldest first (blank lines are not kept, nor a line equal to the one before).</summary>
    public IReadOnlyList<string> History => _history;

    /// <summary>`diagnose debug application ike LEVEL`: 0 (the default) prints nothing.</summary>
    public int IkeDebugLevel { get; private set; }

    /// <summary>`diagnose debug enable` / `disable`: whether this session prints the debug output at all.</summary>
    public bool DebugEnabled { get; private set; }

    /// <summary>`diagnose vpn ike log-filter`: which IKE events this session prints.</summary>
    public IkeDebugFilter IkeFilter { get; private set; } = IkeDebugFilter.None;

    /// <summary>IKE debug lines are printed on this session now (the front polls the unit for them).</summary>
    public bool IkeDebugOn => DebugEnabled && IkeDebugLevel != 0;

    /// <summary>Inside `config`: lines typed are collected, not run.</summary>
    public bool InConfig => _levels.Count > 0;

    /// <summary>FortiOS's closing line for a command it rejects; -61 is "invalid input" (as <see cref="FortiOsCli"/> prints it).</summary>
    public static string Fail(string why) => $"{why}\nCommand fail. Return code -61\n";

    /// <summary>The session now talks to another member: new prompt, and any unfinished config block is dropped.</summary>
    public void MovedTo(string hostname)
    {
        Hostname = hostname;
        _levels.Clear();
        _script.Clear();
        _savedThrough = 0;
    }

    // FortiOS's top-level words and their help lines, in the order FortiOS lists them.
    private static readonly (string Word, string Help)[] TopWords =
    [
        ("config", "Configure object."),
        ("get", "Get dynamic and system information."),
        ("show", "Show configuration."),
        ("diagnose", "Diagnose facility."),
        ("execute", "Execute static commands."),
        ("exit", "Exit the CLI."),
    ];

    private static readonly (string Word, string Help)[] SectionVerbs =
    [
        ("set", "Modify value."),
        ("unset", "Set to default value."),
        ("append", "Append values to a multi-value setting."),
        ("config", "Configure object."),
        ("get", "Get dynamic and system information."),
        ("show", "Show configuration."),
        ("abort", "End and discard last config."),
        ("end", "End and save last config."),
    ];

    private static readonly (string Word, string Help)[] EntryVerbs = [.. SectionVerbs, ("next", "Configure next table entry.")];

    private static readonly (string Word, string Help)[] TableVerbs =
    [
        ("edit", "Add new entry or edit existing entry."),
        ("delete", "Delete table entry."),
        ("get", "Get dynamic and system information."),
        ("show", "Show configuration."),
        ("abort", "End and discard last config."),
        ("end", "End and save last config."),
    ];

    /// <summary>FortiOS's field commands taken only as whole words (as the config parser does): `se` stays `set`.</summary>
    private static readonly string[] WholeWordVerbs = ["select", "unselect", "clear"];

    private (string Word, string Help)[] Verbs => _levels.Count == 0 ? TopWords
        : _levels.Peek().IsTable && !_levels.Peek().IsEntry ? TableVerbs
        : _levels.Peek().IsEntry ? EntryVerbs : SectionVerbs;

    private IReadOnlyList<string> Path => _levels.Count == 0 ? [] : _levels.Peek().Path;

    /// <summary>The operator pressed Enter on <paramref name="line"/>.</summary>
    public CliStep Enter(string line)
    {
        var text = line.Trim();
        if (text.Length > 0 && (_history.Count == 0 || _history[^1] != text)) _history.Add(text);
        var words = FortiOsCli.Words(text);
        if (words.Length == 0) return new CliPrint("");
        return _levels.Count == 0 ? AtTop(text, words) : InBlock(text, words);
    }

    private CliStep AtTop(string text, string[] words)
    {
        var first = Resolve(words[0], TopWords.Select(w => w.Word));
        if (first == "exit") return new CliExit();
        if (first == "config")
        {
            var (section, error) = ConfigOutline.ResolveChild([], words[1..]);
            if (section is null) return new CliPrint(Fail(words.Length == 1 ? "command incomplete: config <section>" : error!));
            Open([section], isEntry: false);
            _script.Add($"config {section}");
            return new CliPrint("");
        }
        if (first == "execute" && ManageArguments(words) is { } manage) return manage;
        if (first == "diagnose" && DebugSetting(words) is { } debug) return debug;
        // Everything else is the unit's own command table: it matches abbreviations and answers errors as FortiOS.
        return new CliRunOnUnit(text);
    }

    /// <summary>
    /// The session's debug settings, kept here and never sent (FortiOS keeps them per CLI session): `diagnose debug
    /// application ike LEVEL`, `diagnose debug enable|disable|reset`, `diagnose vpn ike log-filter dst-addr4 A|name N|clear`.
    /// Null for any other `diagnose`, which is the unit's.
    /// </summary>
    private CliStep? DebugSetting(string[] words)
    {
        if (words.Length < 3) return null;
        var second = Resolve(words[1], DiagnoseWords(1).Append("debug"));
        if (second == "debug")
        {
            var third = Resolve(words[2], ["application", "enable", "disable", "reset"]);
            switch (third)
            {
                case "enable" or "disable" or "reset" when words.Length > 3:
                    return new CliPrint(Fail($"command parse error before '{words[3]}'"));
                case "enable" or "disable":
                    DebugEnabled = third == "enable";
                    return new CliPrint("");
                case "reset":
                    // FortiOS's reset puts every debug level back to its default; enable/disable is left as it was.
                    IkeDebugLevel = 0;
                    return new CliPrint("");
                case "application" when words.Length >= 4 && Resolve(words[3], ["ike"]) == "ike":
                    if (words.Length >= 5 && words[4] == "read") return null;
                    if (words.Length != 5) return new CliPrint(Fail("command incomplete: diagnose debug application ike <level>"));
                    if (!int.TryParse(words[4], out var level)) return new CliPrint(Fail($"invalid debug level '{words[4]}'"));
                    IkeDebugLevel = level;
                    return new CliPrint("");
                default:
                    return null;
            }
        }
        if (second != "vpn" || words.Length < 4 || Resolve(words[2], ["ike", "tunnel"]) != "ike"
            || Resolve(words[3], DiagnoseWords(3).Append("log-filter")) != "log-filter") return null;
        var what = words.Length > 4 ? Resolve(words[4], ["dst-addr4", "name", "clear"]) : null;
        switch (what)
        {
            case "clear" when words.Length == 5:
                IkeFilter = IkeDebugFilter.None;
                return new CliPrint("");
            case "name" when words.Length == 6:
                IkeFilter = IkeFilter with { Name = words[5] };
                return new CliPrint("");
            case "dst-addr4" when words.Length == 6:
                if (!IPAddress.TryParse(words[5], out var a) || a.AddressFamily != AddressFamily.InterNetwork)
                    return new CliPrint(Fail($"invalid IPv4 address '{words[5]}'"));
                IkeFilter = IkeFilter with { DstAddr4 = a };
                return new CliPrint("");
            default:
                return new CliPrint(Fail("command incomplete: diagnose vpn ike log-filter dst-addr4 <ip> | name <phase1> | clear"));
        }
    }

    /// <summary>The words at <paramref name="position"/> of the unit's `diagnose` commands (so abbreviations stay as ambiguous as the unit's table makes them).</summary>
    private static IEnumerable<string> DiagnoseWords(int position) =>
        FortiOsCli.CommandWords.Where(c => c[0] == "diagnose" && c.Count > position).Select(c => c[position]);

    /// <summary>`execute ha manage INDEX USER` (abbreviated as the table allows); any other `execute` is the unit's.</summary>
    private static CliStep? ManageArguments(string[] words)
    {
        if (words.Length < 3 || Resolve(words[1], ["ha"]) != "ha" || Resolve(words[2], ["failover", "manage"]) != "manage") return null;
        if (words.Length != 5) return new CliPrint(Fail("command incomplete: execute ha manage <cluster-index> <admin-user>"));
        return int.TryParse(words[3], out var index) && index >= 0
            ? new CliManage(index, words[4])
            : new CliPrint(Fail($"invalid cluster index '{words[3]}'"));
    }

    private CliStep InBlock(string text, string[] words)
    {
        var level = _levels.Peek();
        var verb = WholeWordVerbs.Contains(words[0]) && !level.IsTable | level.IsEntry ? words[0] : Resolve(words[0], Verbs.Select(v => v.Word));
        switch (verb)
        {
            case null:
                return new CliPrint(Fail($"command parse error before '{words[0]}'"));
            case "abort":
            {
                if (words.Length > 1) return new CliPrint(Fail($"command parse error before '{words[1]}'"));
                // FortiOS saves each entry of the outermost table at its `next`; abort discards only what came after.
                // Nothing was sent yet here, so the saved entries go now, the rest is dropped (README's choice).
                var saved = _script.Take(_savedThrough).Append("end").ToList();
                var any = _savedThrough > 0;
                _levels.Clear();
                _script.Clear();
                _savedThrough = 0;
                return any ? new CliRunOnUnit(string.Join('\n', saved)) : new CliPrint("");
            }
            case "end":
                if (words.Length > 1) return new CliPrint(Fail($"command parse error before '{words[1]}'"));
                // `end` in an entry closes the entry and its table at once, as FortiOS (and the config parser) do.
                if (_levels.Pop().IsEntry) _levels.Pop();
                _script.Add("end");
                if (_levels.Count > 0) return new CliPrint("");
                var script = string.Join('\n', _script);
                _script.Clear();
                _savedThrough = 0;
                return new CliRunOnUnit(script);
            case "show" or "get":
                return View(verb, words);
            case "next":
                if (words.Length > 1) return new CliPrint(Fail($"command parse error before '{words[1]}'"));
                _levels.Pop();
                _script.Add("next");
                if (_levels.Count == 1) _savedThrough = _script.Count;
                return new CliPrint("");
            case "edit":
                if (words.Length != 2) return new CliPrint(Fail(words.Length == 1 ? "command incomplete: edit <name>" : $"command parse error before '{words[2]}'"));
                _levels.Push(new Level(level.Path, words[1], IsEntry: true, IsTable: true));
                _script.Add(text);
                return new CliPrint("");
            case "delete":
                if (words.Length != 2) return new CliPrint(Fail(words.Length == 1 ? "command incomplete: delete <name>" : $"command parse error before '{words[2]}'"));
                _script.Add(text);
                return new CliPrint("");
            case "config":
            {
                var (section, error) = ConfigOutline.ResolveChild(level.Path, words[1..]);
                if (section is null) return new CliPrint(Fail(words.Length == 1 ? "command incomplete: config <section>" : error!));
                Open([.. level.Path, section], isEntry: false);
                _script.Add($"config {section}");
                return new CliPrint("");
            }
            default:
            {
                // set, unset, append, select, unselect, clear: the setting must exist here; its value is checked by the unit.
                if (words.Length < 2) return new CliPrint(Fail($"command incomplete: {verb} <setting>"));
                var (setting, error) = ConfigOutline.ResolveSetting(level.Path, words[1]);
                if (setting is null) return new CliPrint(Fail(error!));
                if (verb is "set" or "append" or "select" or "unselect" && words.Length < 3)
                    return new CliPrint(Fail($"command incomplete: {verb} {setting} <value>"));
                _script.Add(text);
                return new CliPrint("");
            }
        }
    }

    /// <summary>
    /// `get` / `show [full-configuration]` in a block: the block as it would be with the lines typed so far. The unit gets
    /// the open script with the verb as its last line and answers from a copy of its configuration, saving nothing
    /// (ConfigBlockView in src/Protocol/Config); the line is not added to the script.
    /// </summary>
    private CliStep View(string verb, string[] words)
    {
        string line;
        if (verb == "get")
        {
            if (words.Length > 1) return new CliPrint(Fail($"command parse error before '{words[1]}'"));
            line = "get";
        }
        else
        {
            var full = words.Length == 2 && words[1].Length >= 2 && "full-configuration".StartsWith(words[1], StringComparison.Ordinal);
            if (words.Length > 2 || words.Length == 2 && !full) return new CliPrint(Fail($"command parse error before '{words[^1]}'"));
            line = full ? "show full-configuration" : "show";
        }
        return new CliRunOnUnit(string.Join('\n', _script.Append(line)));
    }

    private void Open(IReadOnlyList<string> path, bool isEntry)
    {
        var section = ConfigOutline.Find(path)!;
        _levels.Push(new Level(path, section.PromptWord, isEntry, section.IsTable));
    }

    /// <summary>
    /// `?` typed after <paramref name="partial"/>: what may follow, one word a line with its help, as FortiOS lists it
    /// (only the words starting with a word being typed). `&lt;Enter&gt;` when the command may end here.
    /// </summary>
    public string Help(string partial)
    {
        var options = Options(partial, out var typing);
        var shown = options.Where(o => o.Word.StartsWith(typing, StringComparison.Ordinal)).ToList();
        if (shown.Count == 0) return Fail($"command parse error before '{(typing.Length > 0 ? typing : partial.Trim())}'");
        var width = Math.Max(12, shown.Max(o => o.Word.Length) + 2);
        return string.Concat(shown.Select(o => o.Help.Length == 0 ? o.Word + "\n" : o.Word.PadRight(width) + o.Help + "\n"));
    }

    /// <summary>Tab after <paramref name="partial"/>: the word being typed completed when one word fits (with a blank after it), else as typed.</summary>
    public string Complete(string partial)
    {
        var options = Options(partial, out var typing);
        if (typing.Length == 0) return partial;
        var fits = options.Select(o => o.Word).Where(w => !w.StartsWith('<') && w.StartsWith(typing, StringComparison.Ordinal)).Distinct().ToList();
        if (fits.Count == 0) return partial;
        var head = partial[..^typing.Length];
        if (fits.Count == 1) return head + fits[0] + " ";
        // Several fit: complete as far as they agree, as a shell does.
        var common = fits.Aggregate((a, b) => a[..Enumerable.Range(0, Math.Min(a.Length, b.Length)).TakeWhile(i => a[i] == b[i]).Count()]);
        return head + common;
    }

    private const string EnterWord = "<Enter>";

    /// <summary>What may come at the word being typed (<paramref name="typing"/>; empty after a blank) given the words before it.</summary>
    private IReadOnlyList<(string Word, string Help)> Options(string partial, out string typing)
    {
        var words = FortiOsCli.Words(partial);
        var endsInBlank = partial.Length == 0 || char.IsWhiteSpace(partial[^1]);
        typing = endsInBlank || words.Length == 0 ? "" : words[^1];
        var before = endsInBlank ? words : words[..^1];
        if (before.Length == 0) return Verbs;
        var verb = WholeWordVerbs.Contains(before[0]) ? before[0] : Resolve(before[0], Verbs.Select(v => v.Word));
        if (verb is null) return [];
        var rest = before[1..];
        if (verb == "config") return SectionWords(Path, rest);
        if (_levels.Count == 0) return TableWords(verb, rest);
        switch (verb)
        {
            case "set" or "unset" or "append" or "select" or "unselect" or "clear":
                var settings = ConfigOutline.Find(Path)!.Settings;
                if (rest.Length == 0) return settings.Select(s => (s.Name, s.Expected)).ToList();
                var (setting, _) = ConfigOutline.ResolveSetting(Path, rest[0]);
                if (setting is null || verb is "unset" or "clear") return rest.Length == 1 && setting is not null ? [(EnterWord, "")] : [];
                var values = ConfigOutline.ValuesOf(Path, setting);
                var expected = settings.First(s => s.Name == setting).Expected;
                return values.Count > 0 ? values.Select(v => (v, "")).Append((EnterWord, "")).Where(_ => rest.Length >= 1).ToList()
                    : [($"<{setting}>", expected)];
            case "edit" or "delete":
                return rest.Length == 0 ? [("<name>", "the entry's name (a new name adds one)")] : [(EnterWord, "")];
            default:
                return [(EnterWord, "")];
        }
    }

    /// <summary>The next word of a (multi-word) section name under <paramref name="path"/> after <paramref name="typed"/>.</summary>
    private static IReadOnlyList<(string Word, string Help)> SectionWords(IReadOnlyList<string> path, string[] typed)
    {
        var names = ConfigOutline.ChildrenOf(path).Select(n => n.Split(' ')).ToList();
        for (var i = 0; i < typed.Length; i++)
        {
            var at = Resolve(typed[i], names.Where(n => n.Length > i).Select(n => n[i]));
            if (at is null) return [];
            names = names.Where(n => n.Length > i && n[i] == at).ToList();
            if (names.Any(n => n.Length == i + 1)) return [(EnterWord, "")];
        }
        return names.Select(n => n[typed.Length]).Distinct().Select(w => (w, "")).ToList();
    }

    /// <summary>The next word of a command in the unit's table (<see cref="FortiOsCli.CommandWords"/>) after <paramref name="verb"/> and <paramref name="typed"/>.</summary>
    private static IReadOnlyList<(string Word, string Help)> TableWords(string verb, string[] typed)
    {
        IReadOnlyList<string>[] extra =
        [
            ["exit"], ["execute", "ha", "manage"], ["diagnose", "debug", "enable"], ["diagnose", "debug", "disable"], ["diagnose", "debug", "reset"],
            ["diagnose", "debug", "application", "ike"], ["diagnose", "vpn", "ike", "log-filter", "dst-addr4"],
            ["diagnose", "vpn", "ike", "log-filter", "name"], ["diagnose", "vpn", "ike", "log-filter", "clear"],
        ];
        var commands = FortiOsCli.CommandWords.Concat(extra).Where(c => c[0] == verb).ToList();
        for (var i = 0; i < typed.Length; i++)
        {
            var pos = i + 1;
            if (commands.All(c => c.Count <= pos)) return commands.Count > 0 ? [(EnterWord, "")] : [];
            var at = Resolve(typed[i], commands.Where(c => c.Count > pos).Select(c => c[pos]));
            // Past a command's words come its arguments (the unit checks them): only <Enter> can be offered.
            if (at is null) return commands.Any(c => c.Count <= pos) ? [(EnterWord, "")] : [];
            commands = commands.Where(c => c.Count > pos && c[pos] == at).ToList();
        }
        var next = typed.Length + 1;
        var words = commands.Where(c => c.Count > next).Select(c => c[next]).Distinct().Select(w => (w, "")).ToList();
        if (commands.Any(c => c.Count == next)) words.Add((EnterWord, ""));
        return words;
    }

    /// <summary>The abbreviation rule of the command parser and the config parser: an exact word wins, else a unique prefix.</summary>
    private static string? Resolve(string word, IEnumerable<string> options)
    {
        var list = options.Distinct().ToList();
        if (list.Contains(word)) return word;
        var prefixed = list.Where(o => word.Length > 0 && o.StartsWith(word, StringComparison.Ordinal)).ToList();
        return prefixed.Count == 1 ? prefixed[0] : null;
    }
}
