using System.Text;

namespace ClusterActors.Protocol.Config;

/// <summary>Entry points for reading FortiOS configuration text.</summary>
public static class FortiConfig
{
    /// <summary>Parses a whole config file on top of the VM defaults (ports 1-10 exist, everything else default).</summary>
    public static ConfigResult<ConfigDocument> Parse(string text, string fileName = "<input>") =>
        ConfigDocument.Run(ConfigDocument.Empty, text, fileName, readSerial: true);

    public static ConfigResult<ConfigDocument> ParseFile(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ConfigResult<ConfigDocument>.Failure([new ConfigError(path, 0, 0, path, $"cannot read file ({e.Message})")]);
        }
        return Parse(text, path);
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

    private ConfigDocument(Node root, string? serialNumber)
    {
        Normalize(root);
        _root = root;
        SerialNumber = serialNumber;
        Global = ModelBuilder.Global(root);
        Interfaces = ModelBuilder.Interfaces(root);
        Ha = ModelBuilder.Ha(root);
        StandaloneCluster = ModelBuilder.StandaloneCluster(root);
        Phase1 = ModelBuilder.Phase1(root);
        Phase2 = ModelBuilder.Phase2(root);
        StaticRoutes = ModelBuilder.StaticRoutes(root);
    }

    public static ConfigDocument Empty { get; } = CreateEmpty();

    private static ConfigDocument CreateEmpty()
    {
        var root = new Node();
        var ports = root.Table(Schema.Interface);
        foreach (var p in Schema.VmPorts) ports.Entries.Add(new TableEntry(p, new Node()));
        return new ConfigDocument(root, null);
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
    public SystemGlobal Global { get; }
    public IReadOnlyList<SystemInterface> Interfaces { get; }
    public HaConfig Ha { get; }
    public StandaloneClusterConfig StandaloneCluster { get; }
    public IReadOnlyList<Phase1Interface> Phase1 { get; }
    public IReadOnlyList<Phase2Interface> Phase2 { get; }
    /// <summary>`config router static`, in entry order. FGCP-synced like the rest of the routing configuration.</summary>
    public IReadOnlyList<StaticRoute> StaticRoutes { get; }

    /// <summary>Runs CLI statements on a copy of this document; returns the new document only if every statement and check passed.</summary>
    public ConfigResult<ConfigDocument> Apply(string cliScript, string source = "cli") => Run(this, cliScript, source, readSerial: false);

    /// <summary>Same document with another serial number (the emulator assigns serials to units it starts).</summary>
    public ConfigDocument WithSerialNumber(string serial)
    {
        if (!FortiConfig.IsValidSerial(serial)) throw new ArgumentException($"not a FortiGate serial number: '{serial}'", nameof(serial));
        return new ConfigDocument(_root.Clone(), serial);
    }

    internal static ConfigResult<ConfigDocument> Run(ConfigDocument basis, string text, string file, bool readSerial)
    {
        var errors = new List<ConfigError>();
        var lex = Lexer.Lex(text, file, errors);
        var serial = basis.SerialNumber;
        if (readSerial && lex.SerialNumber is { } s)
        {
            if (FortiConfig.IsValidSerial(s.Text)) serial = s.Text;
            else errors.Add(s.Error("invalid serial number", "16 upper-case letters and digits starting with FG, e.g. FGVM02TM22000001"));
        }
        var tree = basis._root.Clone();
        new Interpreter(tree, errors).Run(lex.Statements, lex.EndOfInput);
        // Cross-reference checks on a structurally broken input would mostly report echoes of the first error.
        if (errors.Count == 0) Validator.Validate(tree, errors);
        if (errors.Count > 0)
            return ConfigResult<ConfigDocument>.Failure(errors.OrderBy(e => e.Line).ThenBy(e => e.Column).ToList());
        return ConfigResult<ConfigDocument>.Success(new ConfigDocument(tree, serial));
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
        return new ConfigDocument(tree, SerialNumber);
    }

    /// <summary>
    /// `show [full-configuration] PATH [ENTRY]`. PATH may be abbreviated (`sys ha`) and may start with
    /// `full-configuration`; empty shows everything.
    /// </summary>
    public string Show(string path, bool full)
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
        if (tokens.Count == 0) return Render(full, skipDefaultSections: !full);
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
        Renderer.Section(sb, def, _root, 0, full, entry);
        return sb.ToString();
    }

    /// <summary>The whole configuration as a file: serial header, then every section that differs from the defaults.</summary>
    public string ToText() => Render(full: false, skipDefaultSections: true);

    private string Render(bool full, bool skipDefaultSections)
    {
        var sb = new StringBuilder();
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
            Renderer.Section(sb, def, _root, 0, full, compact: skipDefaultSections);
        }
        return sb.ToString();
    }

    /// <summary>Operator-facing overview for `clusteractors config check`. Secrets are reported only as set/unset.</summary>
    public string Summary()
    {
        var sb = new StringBuilder();
        var ha = Ha;
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
            sb.Append($"phase1 {p.Name}: type={p.Type} interface={p.Interface} ike-version={p.IkeVersion} local-gw={p.LocalGw} fgsp-sync={OnOff(p.FgspSync)} nattraversal={p.NatTraversal} psksecret={(p.PskSecret is null ? "unset" : "set")}\n");
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
