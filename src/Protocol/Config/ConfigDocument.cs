using System.Text;

namespace ClusterActors.Protocol.Config;

/// <summary>Entry points for reading FortiOS configuration text.</summary>
public static class FortiConfig
{
    /// <summary>Parses a whole config file on top of the VM defaults (ports 1-10 exist, everything else default).</summary>
    /// <param name="unitKey">The unit's private data key: ENC values under it are read as well as the product key's.</param>
    /// <param name="lenient">A whole FortiOS backup: what the lab does not model is kept (shown back, listed in
    /// <see cref="ConfigDocument.NotEmulated"/>) instead of refused; the document stays lenient for every later Apply.</param>
    public static ConfigResult<ConfigDocument> Parse(string text, string fileName = "<input>", PrivateDataKey? unitKey = null, bool lenient = false) =>
        ConfigDocument.Run(lenient ? ConfigDocument.EmptyLenient : ConfigDocument.Empty, text, fileName, readSerial: true, unitKey, out _);

    public static ConfigResult<ConfigDocument> ParseFile(string path, bool lenient = false)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ConfigResult<ConfigDocument>.Failure([new ConfigError(path, 0, 0, path, $"cannot read file ({e.Message})")]);
        }
        return Parse(text, path, lenient: lenient);
    }

    /// <summary>FortiGate serials are 16 characters, letters and digits, and start with the FG family prefix.</summary>
    public static bool IsValidSerial(string s) =>
        s.Length == 16 && s.StartsWith("FG", StringComparison.Ordinal) && s.All(c => char.IsAsciiDigit(c) || char.IsAsciiLetterUpper(c));
}

/// <summary>
/// One unit's configuration. Immutable: every change (Apply, WithSyncedFrom) returns a new document, so actors
/// can share it freely and a rejected change cannot leave a half-applied state behind.
/// </summary>
public sealed class ConfigDocument
{
    private readonly Node _root;

    /// <summary>The tree, for readers inside this assembly (<see cref="ConfigBlockView"/>); never mutated.</summary>
    internal Node Root => _root;

    private ConfigDocument(Node root, string? serialNumber, bool lenient = false, IReadOnlyList<string>? header = null)
    {
        Normalize(root);
        _root = root;
        SerialNumber = serialNumber;
        Lenient = lenient;
        Header = header ?? [];
        NotEmulated = NotEmulatedPaths.Of(root);
        Global = ModelBuilder.Global(root);
        Interfaces = ModelBuilder.Interfaces(root);
        Ha = ModelBuilder.Ha(root);
        StandaloneCluster = ModelBuilder.StandaloneCluster(root);
        Ike = ModelBuilder.Ike(root);
        Phase1 = ModelBuilder.Phase1(root);
        Phase2 = ModelBuilder.Phase2(root);
        StaticRoutes = ModelBuilder.StaticRoutes(root);
        Admins = ModelBuilder.Admins(root);
    }

    public static ConfigDocument Empty { get; } = CreateEmpty(lenient: false);

    /// <summary>The VM defaults, in lenient mode (what <c>FortiConfig.Parse(…, lenient: true)</c> starts from).</summary>
    public static ConfigDocument EmptyLenient { get; } = CreateEmpty(lenient: true);

    private static ConfigDocument CreateEmpty(bool lenient)
    {
        var root = new Node();
        var ports = root.Table(Schema.Interface);
        foreach (var p in Schema.VmPorts) ports.Entries.Add(new TableEntry(p, new Node()));
        return new ConfigDocument(root, null, lenient);
    }

    /// <summary>Every section exists after this, so readers never need to create (mutate) anything.</summary>
    private static void Normalize(Node root)
    {
        foreach (var def in Schema.Root.Children)
        {
            if (def.IsTable) root.Table(def.Name);
            else
            {
                var s = root.Section(def.Name);
                foreach (var c in def.Children.Where(c => c.IsTable)) s.Table(c.Name);
            }
        }
    }

    public string? SerialNumber { get; }

    /// <summary>
    /// Read as a whole FortiOS backup (`--lenient`): what the schema does not model is kept, not refused, here and in every
    /// document Apply makes from this one.
    /// </summary>
    public bool Lenient { get; }

    /// <summary>The leading comment block of the file it was read from (a backup's `#config-version=…` lines), printed back first.</summary>
    public IReadOnlyList<string> Header { get; }

    /// <summary>
    /// What this document keeps without emulating it, once per path in FortiOS words (`firewall policy`,
    /// `system global set gui-theme`, `system interface config ipv6`); empty for every strict document.
    /// </summary>
    public IReadOnlyList<string> NotEmulated { get; }

    /// <summary>The one report of <see cref="NotEmulated"/> for `config check` and a unit's start; null when there is nothing.</summary>
    public string? NotEmulatedReport() => NotEmulated.Count == 0
        ? null
        : $"not emulated ({NotEmulated.Count} path(s), kept and shown back, no effect on the unit): {string.Join("; ", NotEmulated)}";
    public SystemGlobal Global { get; }
    public IReadOnlyList<SystemInterface> Interfaces { get; }
    public HaConfig Ha { get; }
    public StandaloneClusterConfig StandaloneCluster { get; }
    /// <summary>`config system ike` (`embryonic-limit`).</summary>
    public SystemIke Ike { get; }
    public IReadOnlyList<Phase1Interface> Phase1 { get; }
    public IReadOnlyList<Phase2Interface> Phase2 { get; }
    /// <summary>`config router static`, in entry order. FGCP-synced like the rest of the routing configuration.</summary>
    public IReadOnlyList<StaticRoute> StaticRoutes { get; }
    /// <summary>`config system admin`: the accounts the admin endpoint logs in (FGCP-synced).</summary>
    public IReadOnlyList<AdminAccount> Admins { get; }

    /// <summary>Runs CLI statements on a copy of this document; returns the new document only if every statement and check passed.</summary>
    public ConfigResult<ConfigDocument> Apply(string cliScript, string source = "cli", PrivateDataKey? unitKey = null) =>
        Run(this, cliScript, source, readSerial: false, unitKey, out _);

    /// <summary>
    /// Apply, also handing back where the script set secrets, so what is journaled is the script with each of them as
    /// ENC (<see cref="ScriptSecrets.Rewrite"/>), never as typed.
    /// </summary>
    public ConfigResult<ConfigDocument> Apply(string cliScript, string source, PrivateDataKey? unitKey, out ScriptSecrets secrets) =>
        Run(this, cliScript, source, readSerial: false, unitKey, out secrets);

    /// <summary>The key this unit writes ENC values under: its own with `set private-data-encryption enable`, else the product key.</summary>
    public PrivateDataKey EncKey(PrivateDataKey? unitKey) => Global.PrivateDataEncryption && unitKey is not null ? unitKey : PrivateDataKey.Product;

    /// <summary>Same document with another serial number (the emulator assigns serials to units it starts).</summary>
    public ConfigDocument WithSerialNumber(string serial)
    {
        if (!FortiConfig.IsValidSerial(serial)) throw new ArgumentException($"not a FortiGate serial number: '{serial}'", nameof(serial));
        return new ConfigDocument(_root.Clone(), serial, Lenient, Header);
    }

    internal static ConfigResult<ConfigDocument> Run(ConfigDocument basis, string text, string file, bool readSerial, PrivateDataKey? unitKey,
        out ScriptSecrets secrets)
    {
        var errors = new List<ConfigError>();
        var lenient = basis.Lenient;
        var lex = Lexer.Lex(text, file, errors, multiLineQuotes: lenient);
        var serial = basis.SerialNumber;
        var header = basis.Header;
        if (readSerial && lex.Header.Count > 0) header = lex.Header;
        // A multi-VDOM backup nests every section under `config vdom`/`config global`: all of it would be kept and none
        // emulated, a unit that runs nothing. Refused by name instead.
        if (readSerial && lex.ConfigVersion is { } version && version.Text.Split(':').Contains("vdom=1"))
            errors.Add(version.Error("multi-VDOM configuration is not emulated", "a backup with vdom=0 (no VDOMs)"));
        if (readSerial && lex.SerialNumber is { } s)
        {
            if (FortiConfig.IsValidSerial(s.Text)) serial = s.Text;
            else errors.Add(s.Error("invalid serial number", "16 upper-case letters and digits starting with FG, e.g. FGVM02TM22000001"));
        }
        var tree = basis._root.Clone();
        var interpreter = new Interpreter(tree, errors, unitKey, lenient);
        interpreter.Run(lex.Statements, lex.EndOfInput);
        secrets = new ScriptSecrets(text, interpreter.SecretsSet);
        // Cross-reference checks on a structurally broken input would mostly report echoes of the first error.
        if (errors.Count == 0) Validator.Validate(tree, errors);
        if (errors.Count > 0)
            // Any error on a line that sets a secret (the lexer's unterminated quote included) shows no token of it.
            return ConfigResult<ConfigDocument>.Failure(errors
                .Select(e => interpreter.SecretLines.Contains(e.Line) && e.File == file ? e with { Token = "********" } : e)
                .OrderBy(e => e.Line).ThenBy(e => e.Column).ToList());
        return ConfigResult<ConfigDocument>.Success(new ConfigDocument(tree, serial, lenient, header));
    }

    /// <summary>
    /// What a FGCP secondary ends up with after config sync: the primary's configuration, except the settings
    /// FGCP never synchronises (ha priority/override, global hostname) and the unit's own serial.
    /// </summary>
    public ConfigDocument WithSyncedFrom(ConfigDocument primary)
    {
        var tree = primary._root.Clone();
        foreach (var def in Schema.Root.Children.Where(d => !d.IsTable))
        {
            var mine = _root.Section(def.Name);
            var theirs = tree.Section(def.Name);
            foreach (var key in def.Keys.Where(k => k.PerUnit))
            {
                if (mine.Values.TryGetValue(key.Name, out var v)) theirs.Values[key.Name] = v;
                else theirs.Values.Remove(key.Name);
            }
        }
        return new ConfigDocument(tree, SerialNumber, Lenient, Header);
    }

    /// <summary>
    /// `show [full-configuration] PATH [ENTRY]`. PATH may be abbreviated (`sys ha`) and may start with
    /// `full-configuration`; empty shows everything.
    /// </summary>
    public string Show(string path, bool full, PrivateDataKey? encKey = null)
    {
        var errors = new List<ConfigError>();
        var lex = Lexer.Lex(path, "show", errors);
        if (errors.Count > 0) throw new ConfigPathException(errors[0]);
        var tokens = lex.Statements.SelectMany(s => s.Tokens).ToList();
        // Accept the CLI's own spelling too: `show full-configuration system ha` (no section starts with "f").
        if (tokens.Count > 0 && tokens[0].Text.Length >= 2 && "full-configuration".StartsWith(tokens[0].Text, StringComparison.Ordinal))
        {
            tokens.RemoveAt(0);
            full = true;
        }
        if (tokens.Count == 0) return Render(full, skipDefaultSections: !full, encKey);
        if (ShowKept(tokens) is { } kept) return kept;
        var (def, consumed, error) = PathResolver.Resolve(Schema.Root.Children, tokens, tokens[0]);
        if (def is null) throw new ConfigPathException(error!);
        string? entry = null;
        if (consumed < tokens.Count)
        {
            var extra = tokens[consumed];
            if (!def.IsTable || consumed + 1 < tokens.Count)
                throw new ConfigPathException((def.IsTable ? tokens[consumed + 1] : extra).Error("unexpected token after section name", "end of path"));
            if (_root.Table(def.Name).Find(extra.Text) is null)
                throw new ConfigPathException(extra.Error($"no such entry in 'config {def.Name}'", null,
                    Abbreviation.Suggest(extra.Text, _root.Table(def.Name).Entries.Select(e => e.Id))));
            entry = extra.Text;
        }
        var sb = new StringBuilder();
        Renderer.Section(sb, def, _root, 0, full, entry, encKey: encKey);
        return sb.ToString();
    }

    /// <summary>
    /// `show firewall policy [ID]` of a section kept but not emulated: its words as typed in the file (whole words, no
    /// abbreviation), then at most an entry id. Null when no kept section matches.
    /// </summary>
    private string? ShowKept(List<Token> tokens)
    {
        if (_root.Kept is not { } kept) return null;
        for (var n = tokens.Count; n >= 1; n--)
        {
            var name = string.Join(' ', tokens.Take(n).Select(t => t.Text));
            if (kept.FindConfig(name) is not { } section) continue;
            if (n < tokens.Count - 1) throw new ConfigPathException(tokens[n + 1].Error("unexpected token after entry", "end of path"));
            var sb = new StringBuilder();
            if (n == tokens.Count)
            {
                KeptBlock.RenderConfig(sb, section, 0);
                return sb.ToString();
            }
            var id = tokens[n];
            if (section.Body.Entry(id.Text) is not { } entry)
                throw new ConfigPathException(id.Error($"no such entry in 'config {name}'", null,
                    Abbreviation.Suggest(id.Text, section.Body.Items.OfType<KeptEntry>().Select(e => e.Id.Text))));
            var only = new KeptConfig(name, new KeptBlock());
            only.Body.Items.Add(entry);
            KeptBlock.RenderConfig(sb, only, 0);
            return sb.ToString();
        }
        return null;
    }

    /// <summary>The whole configuration as a file: serial header, then every section that differs from the defaults.</summary>
    /// <param name="encKey">Secrets as ENC under this key; the product key by default (what FGCP sync and checksums use).</param>
    public string ToText(PrivateDataKey? encKey = null) => Render(full: false, skipDefaultSections: true, encKey);

    private string Render(bool full, bool skipDefaultSections, PrivateDataKey? encKey = null)
    {
        var sb = new StringBuilder();
        foreach (var line in Header) sb.Append(line).Append('\n');
        if (SerialNumber is not null) sb.Append(Lexer.SerialHeader).Append(SerialNumber).Append('\n');
        foreach (var def in Schema.Root.Children)
        {
            if (skipDefaultSections)
            {
                var empty = def.IsTable
                    ? _root.Table(def.Name).Entries.All(e => def.BuiltinEntries?.Contains(e.Id) == true && Renderer.IsDefault(def, e.Node))
                    : Renderer.IsDefault(def, _root.Section(def.Name));
                if (empty) continue;
            }
            Renderer.Section(sb, def, _root, 0, full, compact: skipDefaultSections, encKey: encKey);
        }
        // Sections kept but not emulated follow the modelled ones, in the order they were first typed.
        _root.Kept?.Render(sb, 0);
        return sb.ToString();
    }

    /// <summary>Operator-facing overview for `clusteractors config check`. Secrets are reported only as set/unset.</summary>
    public string Summary()
    {
        var sb = new StringBuilder();
        var ha = Ha;
        if (Header.FirstOrDefault(h => h.StartsWith(Lexer.ConfigVersionHeader, StringComparison.Ordinal)) is { } version)
            sb.Append($"config-version: {version[Lexer.ConfigVersionHeader.Length..]}\n");
        sb.Append($"hostname: {Global.Hostname}\n");
        sb.Append($"serial: {SerialNumber ?? "(none)"}\n");
        sb.Append($"ha: mode={ModeName(ha.Mode)} group-id={ha.GroupId} group-name=\"{ha.GroupName}\" priority={ha.Priority} override={OnOff(ha.Override)} password={(ha.Password is null ? "unset" : "set")}\n");
        sb.Append($"ha hbdev: {(ha.HbDevs.Count == 0 ? "(none)" : string.Join(", ", ha.HbDevs.Select(h => $"{h.Interface}/{h.Priority}")))}; monitor: {(ha.Monitor.Count == 0 ? "(none)" : string.Join(", ", ha.Monitor))}\n");
        sb.Append($"ha timers: hb-interval={ha.HbInterval} ({ha.HeartbeatInterval.TotalMilliseconds:0} ms) hb-lost-threshold={ha.HbLostThreshold} (lost after {ha.LostAfter.TotalMilliseconds:0} ms) hello-holddown={ha.HelloHolddown}s ha-uptime-diff-margin={ha.HaUptimeDiffMargin}s failover-hold-time={ha.FailoverHoldTime}s arps={ha.Arps}x{ha.ArpsInterval}s\n");
        sb.Append($"ha sync: session-pickup={OnOff(ha.SessionPickup)} session-pickup-connectionless={OnOff(ha.SessionPickupConnectionless)} upgrade-mode={ha.UpgradeMode}\n");
        foreach (var i in Interfaces.Where(i => i.Type != "physical" || i.Ip != "0.0.0.0"))
            sb.Append($"interface {i.Name}: {i.Type} {i.Ip}/{i.PrefixLength} {(i.StatusUp ? "up" : "down")}\n");
        var fgsp = StandaloneCluster;
        sb.Append($"fgsp: standalone-group-id={fgsp.StandaloneGroupId} group-member-id={fgsp.GroupMemberId} peers={(fgsp.Peers.Count == 0 ? "(none)" : string.Join(", ", fgsp.Peers.Select(p => $"{p.Id}:{p.PeerIp}")))}\n");
        foreach (var p in Phase1)
            sb.Append($"phase1 {p.Name}: type={p.Type} interface={p.Interface} ike-version={p.IkeVersion} local-gw={p.LocalGw} fgsp-sync={OnOff(p.FgspSync)} nattraversal={ConfigWords.Word(p.NatTraversal)} psksecret={(p.PskSecret is null ? "unset" : "set")}\n");
        foreach (var p in Phase2)
            sb.Append($"phase2 {p.Name}: phase1name={p.Phase1Name} keylifeseconds={p.KeyLifeSeconds}\n");
        foreach (var r in StaticRoutes)
            sb.Append($"route {r.Id}: {r}\n");
        return sb.ToString();

        static string OnOff(bool b) => b ? "enable" : "disable";
        static string ModeName(HaMode m) => m switch { HaMode.ActiveActive => "a-a", HaMode.ActivePassive => "a-p", _ => "standalone" };
    }

    public override string ToString() => $"ConfigDocument({Global.Hostname}, serial {SerialNumber ?? "none"})";
}

/// <summary>
/// Where a script set secrets. <see cref="Rewrite"/> gives the script back with each such line as `set NAME ENC …`
/// under the given key (an admin password as its one-way hash), every other line as typed: what a journal stores.
/// </summary>
public sealed class ScriptSecrets
{
    private readonly string _script;
    private readonly IReadOnlyList<(int Line, string Key, StoredValue Value, KeyDef Def)> _set;

    internal ScriptSecrets(string script, IReadOnlyList<(int Line, string Key, StoredValue Value, KeyDef Def)> set)
    {
        _script = script;
        _set = set;
    }

    public bool Any => _set.Count > 0;

    public string Rewrite(PrivateDataKey encKey)
    {
        if (_set.Count == 0) return _script;
        // The lexer's own line split, so line numbers agree.
        var lines = _script.Replace("\r\n", "\n").Replace('\r', '\n').Split('\n');
        foreach (var (line, key, value, def) in _set)
        {
            var i = line - 1;
            if (i < 0 || i >= lines.Length) continue;
            var indent = lines[i][..(lines[i].Length - lines[i].TrimStart().Length)];
            lines[i] = $"{indent}set {key} {Renderer.Value(def, value, encKey)}";
        }
        return string.Join('\n', lines);
    }
}
