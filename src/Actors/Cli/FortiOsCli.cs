using Akka;
using Akka.Actor;
using ClusterActors.Actors.Persistence;
using ClusterActors.Actors.UnitConfig;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Fgsp;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Unit;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.History;

namespace ClusterActors.Actors.Cli;

public sealed record CliTargets(string Serial, IActorRef Config, IActorRef Fgcp, IActorRef History, IActorRef Fgsp, IReadOnlyList<IActorRef> Phase1,
    IActorRef Forwarding)
{
    /// <summary>The unit's private data key: `show` prints ENC under it when private-data-encryption is enabled.</summary>
    public PrivateDataKey? UnitKey { get; init; }

    /// <summary>The unit's IKE debug keeper (<see cref="IkeDebugActor"/>); Nobody where none runs.</summary>
    public IActorRef IkeDebug { get; init; } = ActorRefs.Nobody;
}

/// <summary>
/// The FortiOS commands a unit answers. Words may be abbreviated while unambiguous, as on FortiOS
/// (`diag sys ha stat`); a command FortiOS would not parse gets FortiOS's own failure text and a non-zero exit.
/// </summary>
public static class FortiOsCli
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    private delegate Task<CliResult> Handler(CliTargets unit, string[] rest);

    private static readonly (string[] Words, Handler Run)[] Commands =
    [
        (["diagnose", "sys", "ha", "status"], async (u, _) => Ok(HaDiagnostics.DiagnoseStatus(await Status(u)))),
        (["diagnose", "sys", "ha", "history", "read"], async (u, _) =>
            Ok(HaDiagnostics.HistoryRead((await u.History.Ask<HaHistory>(new ReadHaHistory(), AskTimeout)).Entries))),
        (["diagnose", "vpn", "tunnel", "list"], async (u, _) =>
        {
            var lists = await Task.WhenAll(u.Phase1.Select(p => p.Ask<TunnelList>(GetTunnelList.Instance, AskTimeout)));
            return Ok(VpnDiagnostics.TunnelList(lists.SelectMany(l => l.Tunnels).ToList(), DateTimeOffset.UtcNow));
        }),
        (["diagnose", "vpn", "ike", "gateway", "list"], async (u, _) =>
        {
            var tunnels = await Tunnels(u);
            var config = await u.Config.Ask<ConfigDocument>(GetUnitConfig.Instance, AskTimeout);
            return Ok(VpnDiagnostics.IkeGatewayList(tunnels, DateTimeOffset.UtcNow,
                parent => config.Phase1.FirstOrDefault(p => p.Name == parent)?.Interface ?? ""));
        }),
        (["get", "vpn", "ipsec", "tunnel", "summary"], async (u, _) => Ok(VpnDiagnostics.TunnelSummary(await Tunnels(u)))),
        (["diagnose", "sys", "ha", "standalone-peers"], async (u, _) =>
            Ok(VpnDiagnostics.StandalonePeers(StandalonePeers(u.Serial, await u.Fgsp.Ask<FgspStatus>(GetFgspStatus.Instance, AskTimeout))))),
        (["diagnose", "sys", "ha", "reset-uptime"], async (u, _) =>
        {
            await u.Fgcp.Ask<Done>(ResetHaUptime.Instance, AskTimeout);
            return Ok("");
        }),
        (["get", "system", "ha", "status"], async (u, _) =>
        {
            var status = await Status(u);
            var history = await u.History.Ask<HaHistory>(new ReadHaHistory(), AskTimeout);
            return Ok(HaDiagnostics.GetStatus(status, history.Entries));
        }),
        (["get", "system", "status"], async (u, _) =>
        {
            var config = await u.Config.Ask<ConfigDocument>(GetUnitConfig.Instance, AskTimeout);
            var status = await Status(u);
            return Ok(HaDiagnostics.SystemStatus(config, status));
        }),
        (["execute", "ha", "failover", "set"], (u, rest) => Failover(u, rest, set: true)),
        (["execute", "ha", "failover", "unset"], (u, rest) => Failover(u, rest, set: false)),
        (["execute", "ha", "failover", "status"], async (u, rest) =>
        {
            if (VclusterError(rest) is { } error) return Fail(error);
            var flag = await u.Fgcp.Ask<ExeFailOverStatus>(GetExeFailOver.Instance, AskTimeout);
            return Ok(HaDiagnostics.FailoverStatus(flag.Set));
        }),
        (["diagnose", "sys", "ha", "checksum", "show"], async (u, _) =>
        {
            var status = await Status(u);
            var config = await u.Config.Ask<ConfigDocument>(GetUnitConfig.Instance, AskTimeout);
            // The config the unit holds now (the config actor's), not the figures of FGCP's last heartbeat.
            return Ok(HaDiagnostics.ChecksumShow(status.Role == ClusterActors.Protocol.Fgcp.HaRole.Primary, HaChecksums.Of(config)));
        }),
        (["diagnose", "sys", "ha", "checksum", "cluster"], async (u, _) => Ok(HaDiagnostics.ChecksumCluster(await Status(u)))),
        (["diagnose", "sniffer", "packet"], Sniffer),
        (["diagnose", "debug", "application", "ike", "read"], ReadIkeDebug),
        (["show", "full-configuration"], (u, rest) => Show(u, rest, full: true)),
        (["show"], (u, rest) => Show(u, rest, full: false)),
    ];

    /// <summary>
    /// The words of every command in the table (besides `config`, which opens the schema): what an interactive session
    /// offers at `?` and completes with Tab (src/Node/Commands/CliSession.cs).
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<string>> CommandWords { get; } = Commands.Select(c => (IReadOnlyList<string>)c.Words).ToList();

    public static async Task<CliResult> Run(string command, CliTargets unit)
    {
        try
        {
            var text = command.Trim();
            if (text.Length == 0) return Ok("");
            var first = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[0];
            if ("config".StartsWith(first, StringComparison.Ordinal) && first.Length >= 4)
                return await ApplyConfig(unit, text);

            var words = Words(text);
            var (handler, remaining, error) = Match(words);
            if (handler is null) return Fail(error!);
            return await handler(unit, remaining);
        }
        catch (AskTimeoutException)
        {
            return new CliResult("the unit did not answer in time\nCommand fail. Return code -1\n", 1);
        }
        catch (JournalUnavailableException e)
        {
            // The HA history journal is restarting after a database fault (Persistence/README.md): say so, not "no answer".
            return new CliResult($"{e.Message}\nCommand fail. Return code -1\n", 1);
        }
    }

    /// <summary>
    /// The kernel view FortiOS prints: one line per detected peer (sync endpoint UDP/708), and the dev_base table with
    /// this unit's own interface MACs and each peer cluster's FGCP virtual MACs.
    /// </summary>
    private static FgspPeersStatus StandalonePeers(string serial, FgspStatus s)
    {
        const int PhysicalInterfaces = 10;
        var detected = s.Peers.Where(p => p.Unit is not null).Select(p => p.Unit!).ToList();
        var lines = detected.Select(p => new FgspPeerLine(0, System.Net.IPAddress.Parse(p.FgspAddress), 708, p.GroupMemberId,
            // packet-type counts packets forwarded to the peer (asymmetric routing); this lab never forwards between peers.
            s.SessionSyncWith(p.GroupMemberId).Sent, s.SessionSyncWith(p.GroupMemberId).Received, 0, 0)).ToList();
        var devBase = Enumerable.Range(0, 16).Select(id =>
        {
            if (id == s.GroupMemberId) return new FgspDevBase(id, VpnDiagnostics.PseudoPhysicalMacs(serial, PhysicalInterfaces));
            var peer = detected.FirstOrDefault(p => p.GroupMemberId == id);
            return new FgspDevBase(id, peer is null ? [] : VpnDiagnostics.FgcpVirtualMacs(peer.FgcpGroupId, PhysicalInterfaces));
        }).ToList();
        return new FgspPeersStatus(s.StandaloneGroupId, s.GroupMemberId, lines, devBase)
        {
            SyncProtection = new FgspSyncProtection(s.Encryption, s.PskSecretSet, s.SyncRefusals),
        };
    }

    /// <summary>
    /// The interactive console's poll for `diagnose debug application ike` (not a FortiOS command: FortiOS prints debug
    /// lines on the session that enabled them; this lab's admin endpoint answers one request per connection, so the
    /// console asks). `read CURSOR [name NAME] [dst-addr4 ADDRESS]`: first line `cursor NEXT MISSED`, then the lines.
    /// </summary>
    private static async Task<CliResult> ReadIkeDebug(CliTargets u, string[] rest)
    {
        if (rest.Length < 1 || !long.TryParse(rest[0], out var cursor)) return Fail("command incomplete: diagnose debug application ike read <cursor>");
        string? name = null;
        System.Net.IPAddress? dst = null;
        for (var i = 1; i < rest.Length; i += 2)
        {
            if (i + 1 >= rest.Length) return Fail($"command incomplete after '{rest[i]}'");
            if (rest[i] == "name") name = rest[i + 1];
            else if (rest[i] == "dst-addr4" && System.Net.IPAddress.TryParse(rest[i + 1], out var a)
                     && a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) dst = a;
            else return Fail($"command parse error before '{rest[i]}'");
        }
        if (u.IkeDebug.IsNobody()) return Fail("this unit keeps no IKE debug events");
        var lines = await u.IkeDebug.Ask<IkeDebugLines>(new ReadIkeDebug(cursor, new IkeDebugFilter(name, dst)), AskTimeout);
        return Ok($"cursor {lines.Next} {lines.Missed}\n" + string.Concat(lines.Lines.Select(l => l + "\n")));
    }

    /// <summary>How long a capture without a count runs before it is stopped as if by Ctrl-C (a FortiOS console runs until ^C).</summary>
    public static readonly TimeSpan SnifferDefaultDuration = TimeSpan.FromSeconds(1);

    /// <summary>The longest a capture with a count waits for its packets.</summary>
    public static readonly TimeSpan SnifferMaxDuration = TimeSpan.FromSeconds(5);

    /// <summary>
    /// `diagnose sniffer packet &lt;interface&gt; &lt;'filter'&gt; &lt;verbose&gt; &lt;count&gt; [--pcap FILE]` (FortiOS's argument order;
    /// `--pcap` is the lab's: it also writes the capture as pcapng to FILE on the host running the unit).
    /// </summary>
    private static async Task<CliResult> Sniffer(CliTargets u, string[] rest)
    {
        string? pcapFile = null;
        var pcapAt = Array.IndexOf(rest, "--pcap");
        if (pcapAt >= 0)
        {
            if (pcapAt + 1 >= rest.Length || rest[pcapAt + 1].Length == 0) return Fail("--pcap needs a file name");
            pcapFile = rest[pcapAt + 1];
            rest = [.. rest[..pcapAt], .. rest[(pcapAt + 2)..]];
        }
        if (rest.Length < 1) return Fail("command incomplete: diagnose sniffer packet <interface> <'filter'> <verbose> <count>");
        var iface = rest[0];
        var filter = rest.Length > 1 ? rest[1] : "none";
        var verbosity = 1;
        if (rest.Length > 2 && !int.TryParse(rest[2], out verbosity)) return Fail($"invalid verbose level '{rest[2]}'");
        int? count = null;
        if (rest.Length > 3)
        {
            if (!int.TryParse(rest[3], out var c)) return Fail($"invalid count '{rest[3]}'");
            count = c;
        }
        if (u.Forwarding.IsNobody()) return Fail("this unit has no packet interfaces (it runs without the lab's data plane)");
        var duration = count is > 0 ? SnifferMaxDuration : SnifferDefaultDuration;
        var result = await u.Forwarding.Ask<SnifferResult>(new StartSniffer(iface, filter, verbosity, count, duration, pcapFile is not null), duration + AskTimeout);
        if (!result.Ok) return Fail(result.Output);
        if (pcapFile is null) return Ok(result.Output);
        if (result.Pcap is null) return Fail(result.Output + $"the capture could not be written as pcapng");
        try
        {
            await File.WriteAllBytesAsync(pcapFile, result.Pcap);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return Fail(result.Output + $"cannot write {pcapFile}: {e.Message}");
        }
        return Ok(result.Output + $"pcapng written to {Path.GetFullPath(pcapFile)}\n");
    }

    /// <summary>
    /// `execute ha failover set|unset [vcluster]`. FortiOS asks "Do you want to continue? (y/n)"; a command given whole (this
    /// CLI runs one command per connection) is its own confirmation, so the caution is printed with the answer y.
    /// </summary>
    private static async Task<CliResult> Failover(CliTargets u, string[] rest, bool set)
    {
        if (VclusterError(rest) is { } error) return Fail(error);
        var status = await Status(u);
        if (status.Ha.Mode == HaMode.Standalone) return Fail("HA is not enabled (mode standalone): there is no cluster to fail over");
        var flag = await u.Fgcp.Ask<ExeFailOverStatus>(new SetExeFailOver(set), AskTimeout);
        return Ok(HaDiagnostics.FailoverConfirmation(set) + HaDiagnostics.FailoverStatus(flag.Set));
    }

    /// <summary>The optional virtual cluster id of `execute ha failover`: this lab has one vcluster (1), as `get system ha status` says.</summary>
    private static string? VclusterError(string[] rest) => rest switch
    {
        [] or ["1"] => null,
        [var id] when int.TryParse(id, out _) => $"vcluster {id} does not exist (number of vcluster: 1)",
        [var id] => $"invalid virtual cluster id '{id}'",
        _ => $"command parse error before '{rest[1]}'",
    };

    private static async Task<IReadOnlyList<ClusterActors.Protocol.Ipsec.DialupTunnelState>> Tunnels(CliTargets u)
    {
        var lists = await Task.WhenAll(u.Phase1.Select(p => p.Ask<TunnelList>(GetTunnelList.Instance, AskTimeout)));
        return lists.SelectMany(l => l.Tunnels).ToList();
    }

    private static async Task<HaStatusSnapshot> Status(CliTargets u) => await u.Fgcp.Ask<HaStatusSnapshot>(GetHaStatus.Instance, AskTimeout);

    /// <summary>
    /// Words as the FortiOS shell splits them: on blanks, except inside single or double quotes, which group a
    /// word and are removed (`diagnose sniffer packet any 'host 10.10.101.2' 4`).
    /// </summary>
    public static string[] Words(string text)
    {
        var words = new List<string>();
        var current = new System.Text.StringBuilder();
        char? quote = null;
        var inWord = false;
        foreach (var ch in text)
        {
            if (quote is not null)
            {
                if (ch == quote) quote = null;
                else current.Append(ch);
            }
            else if (ch is '\'' or '"')
            {
                quote = ch;
                inWord = true;
            }
            else if (char.IsWhiteSpace(ch))
            {
                if (inWord) words.Add(current.ToString());
                current.Clear();
                inWord = false;
            }
            else
            {
                current.Append(ch);
                inWord = true;
            }
        }
        if (inWord) words.Add(current.ToString());
        return words.ToArray();
    }

    /// <summary>Prefix matching word by word over the command table, longest command first.</summary>
    private static (Handler? Handler, string[] Remaining, string? Error) Match(string[] words)
    {
        var candidates = Commands.Select((c, i) => i).ToList();
        for (var pos = 0; pos < words.Length; pos++)
        {
            var word = words[pos];
            var reaching = candidates.Where(i => Commands[i].Words.Length > pos).ToList();
            var exact = reaching.Where(i => Commands[i].Words[pos] == word).ToList();
            var prefixed = exact.Count > 0 ? exact : reaching.Where(i => Commands[i].Words[pos].StartsWith(word, StringComparison.Ordinal)).ToList();
            var distinctWords = prefixed.Select(i => Commands[i].Words[pos]).Distinct().ToList();
            if (distinctWords.Count > 1 && exact.Count == 0)
                return (null, [], $"ambiguous command before '{word}': {string.Join(", ", distinctWords)}");
            var complete = candidates.Where(i => Commands[i].Words.Length == pos).ToList();
            if (prefixed.Count == 0)
            {
                if (complete.Count > 0) return (Commands[complete[0]].Run, words[pos..], null);
                return (null, [], $"command parse error before '{word}'");
            }
            candidates = prefixed.Concat(complete).ToList();
        }
        var done = candidates.Where(i => Commands[i].Words.Length == words.Length).ToList();
        return done.Count > 0
            ? (Commands[done[0]].Run, [], null)
            : (null, [], "command incomplete: " + string.Join(" | ", candidates.Select(i => string.Join(' ', Commands[i].Words)).Take(4)));
    }

    private static async Task<CliResult> Show(CliTargets u, string[] path, bool full)
    {
        var config = await u.Config.Ask<ConfigDocument>(GetUnitConfig.Instance, AskTimeout);
        try
        {
            return Ok(config.Show(string.Join(' ', path), full, config.EncKey(u.UnitKey)));
        }
        catch (ConfigPathException e)
        {
            return Fail(e.Message);
        }
    }

    /// <summary>
    /// `get` / `show [full-configuration]` as the last line of an unclosed config script: what an interactive session
    /// sends when the operator types them inside a block. The block as it would be with the lines typed so far; nothing
    /// is saved (<see cref="ConfigBlockView"/>). Null when the last line is not one of them.
    /// </summary>
    private static ConfigBlockVerb? BlockViewVerb(string lastLine)
    {
        var w = Words(lastLine);
        if (w.Length == 1 && w[0].Length >= 1 && "get".StartsWith(w[0], StringComparison.Ordinal)) return ConfigBlockVerb.Get;
        if (w.Length is < 1 or > 2 || w[0].Length < 2 || !"show".StartsWith(w[0], StringComparison.Ordinal)) return null;
        if (w.Length == 1) return ConfigBlockVerb.Show;
        return w[1].Length >= 2 && "full-configuration".StartsWith(w[1], StringComparison.Ordinal) ? ConfigBlockVerb.ShowFull : null;
    }

    private static async Task<CliResult> ApplyConfig(CliTargets u, string script)
    {
        var lines = script.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length > 1 && BlockViewVerb(lines[^1]) is { } verb)
        {
            var config = await u.Config.Ask<ConfigDocument>(GetUnitConfig.Instance, AskTimeout);
            var view = ConfigBlockView.Of(config, string.Join('\n', lines[..^1]), verb, u.UnitKey);
            return view.Ok ? Ok(view.Value!) : Fail(string.Join("\n", view.Errors.Select(e => e.ToString())));
        }

        var applied = await u.Config.Ask<ConfigApplied>(new ApplyConfigScript(script + "\n", "cli"), AskTimeout);
        return applied.Ok
            ? Ok("")
            : Fail(string.Join("\n", applied.Errors.Select(e => e.ToString())));
    }

    private static CliResult Ok(string output) => new(output, 0);

    /// <summary>FortiOS closes every rejected command with this line; -61 is its "invalid input" code.</summary>
    private static CliResult Fail(string why) => new($"{why}\nCommand fail. Return code -61\n", 1);
}
