using System.CommandLine;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Router;
using ClusterActors.Protocol.Config;

namespace ClusterActors.Node.Commands;

/// <summary>`clusteractors` and its subcommands. Errors a user can fix are one clear line and a non-zero exit.</summary>
public static class CommandLine
{
    public static RootCommand Build()
    {
        var root = new RootCommand("ClusterActors: FortiGate FGCP/FGSP high availability for dialup IPsec, emulated on Akka.NET");
        root.Subcommands.Add(NodeCommand());
        root.Subcommands.Add(CliCommand());
        root.Subcommands.Add(ConfigCommand());
        root.Subcommands.Add(ClientCmd());
        root.Subcommands.Add(ScenarioCommand());
        root.Subcommands.Add(DrillCmd());
        root.Subcommands.Add(RouterCmd());
        root.Subcommands.Add(CertsCmd());
        root.Subcommands.Add(LabCmd());
        return root;
    }

    private static Command NodeCommand()
    {
        var config = new Option<string>("--config") { Description = "FortiOS configuration file of the unit" };
        var scenario = new Option<string>("--scenario") { Description = "run a unit of a shipped scenario (e.g. seed)" };
        var unit = new Option<string>("--unit") { Description = "the scenario's unit (e.g. DC2_VM1)" };
        var data = new Option<string>("--data") { Description = "data folder (SQLite journal); default data/<scenario>/<unit>" };
        var hocon = new Option<string[]>("--hocon") { Description = "extra HOCON files (later ones win), e.g. hocon/persistence-postgresql.conf", AllowMultipleArgumentsPerToken = true };
        var admin = new Option<string>("--admin") { Description = "admin CLI endpoint HOST:PORT" };
        var akka = new Option<string>("--akka") { Description = "Akka remoting endpoint HOST:PORT (bound and advertised)" };
        var serial = new Option<string>("--serial") { Description = "serial number, overriding the config's #serialno" };
        var contact = new Option<string[]>("--contact") { Description = "Akka address of another unit to find the cluster through", AllowMultipleArgumentsPerToken = true };
        var certs = new Option<string>("--certs") { Description = "folder with the lab CA (ca.crt) and this unit's UNIT.crt/UNIT.key for Akka's mutual TLS (`clusteractors certs create`)" };
        var insecure = new Option<bool>("--insecure-akka") { Description = "development only: Akka remoting without TLS and without sender authorization" };
        var lenient = new Option<bool>("--lenient") { Description = LenientDescription };
        var logFormat = new Option<string>("--log-format") { Description = $"text (default) or json: one compact JSON (CLEF) object a line (default from ${Hosting.Logs.UnitLogFormats.Variable})", HelpName = "text|json" };
        var cmd = new Command("node", "run one FortiGate unit") { config, scenario, unit, data, hocon, admin, akka, serial, contact, certs, insecure, lenient, logFormat };
        cmd.SetAction(async (pr, ct) => await Guard(async () =>
        {
            // Chosen first: a bad value is refused before anything is read or started.
            var format = Hosting.Logs.UnitLogFormats.Choose(pr.GetValue(logFormat), Environment.GetEnvironmentVariable(Hosting.Logs.UnitLogFormats.Variable));
            var options = UnitOptionsResolver.Resolve(new UnitOptionsResolver.Request(
                pr.GetValue(config), pr.GetValue(scenario), pr.GetValue(unit), pr.GetValue(data), pr.GetValue(admin), pr.GetValue(akka),
                pr.GetValue(serial), pr.GetValue(hocon), pr.GetValue(contact), pr.GetValue(certs), pr.GetValue(insecure), pr.GetValue(lenient)));
            if (format == Hosting.Logs.UnitLogFormat.Text) return await NodeRunner.RunAsync(options, ct);
            using var logs = Hosting.Logs.JsonUnitLogs.Install(options.Config.Global.Hostname, options.Serial);
            return await NodeRunner.RunAsync(options, ct, extraHocon: Hosting.Logs.JsonUnitLogs.AkkaHocon, systemBuilt: Hosting.Logs.JsonUnitLogs.SubscribeHaEvents);
        }));
        return cmd;
    }

    /// <summary>The environment variable `clusteractors cli` takes the admin password from.</summary>
    public const string PasswordVariable = "CLUSTERACTORS_PASSWORD";

    private static Command CliCommand()
    {
        var node = new Option<string>("--node") { Description = "admin endpoint HOST:PORT of a running unit" };
        var scenario = new Option<string>("--scenario") { Description = "address the unit by scenario and unit name instead" };
        var unit = new Option<string>("--unit") { Description = "the scenario's unit (e.g. DC2_VM1)" };
        var timeout = new Option<int>("--timeout") { Description = "seconds to wait for the answer", DefaultValueFactory = _ => 15 };
        var user = new Option<string>("--user") { Description = "the administrator to log in as (config system admin)", DefaultValueFactory = _ => "admin" };
        var passwordFile = new Option<string>("--password-file") { Description = $"read the password from the first line of FILE (otherwise ${PasswordVariable}, otherwise a prompt at a terminal)" };
        var member = new Option<string[]>("--member") { Description = "HOSTNAME=HOST:PORT: another cluster member's admin endpoint, for `execute ha manage` in the interactive session (a --scenario knows its own)", AllowMultipleArgumentsPerToken = true };
        // Zero words at a terminal opens the interactive console; without a terminal a command stays required, as before.
        var words = new Argument<string[]>("command") { Description = "the FortiOS command, e.g. diagnose sys ha status; none at a terminal opens an interactive session", Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("cli", "run one FortiOS CLI command on a running unit, logged in as an administrator; with no command at a terminal, a FortiOS console session") { node, scenario, unit, timeout, user, passwordFile, member, words };
        cmd.Validators.Add(r =>
        {
            if (r.GetValue(words) is not { Length: > 0 } && Console.IsInputRedirected)
                r.AddError("Required argument missing for command: 'cli'.");
        });
        cmd.SetAction(async (pr, ct) => await Guard(async () =>
        {
            var endpoint = pr.GetValue(node) is { } n
                ? Endpoints.Parse(n, "--node")
                : pr.GetValue(scenario) is { } s && pr.GetValue(unit) is { } u
                    ? Scenarios.AdminOf(s, u)
                    : throw new UsageException("give --node HOST:PORT, or --scenario NAME --unit UNIT");
            var command = string.Join(' ', pr.GetValue(words)!);
            if (command.Length == 0)
            {
                var typed = AdminPassword.Read(pr.GetValue(passwordFile), Environment.GetEnvironmentVariable(PasswordVariable), canPrompt: true, Console.Error);
                var scenarioName = pr.GetValue(scenario);
                // `execute ha manage` hops to a member by its hostname: a scenario knows every member's admin endpoint.
                var members = new Dictionary<string, System.Net.IPEndPoint>();
                foreach (var m in pr.GetValue(member) ?? [])
                {
                    var eq = m.IndexOf('=');
                    if (eq <= 0) throw new UsageException($"--member {m}: give HOSTNAME=HOST:PORT");
                    members[m[..eq]] = Endpoints.Parse(m[(eq + 1)..], "--member");
                }
                Func<string, System.Net.IPEndPoint?> adminOf = hostname =>
                    members.TryGetValue(hostname, out var at) ? at
                    : scenarioName is not null && Scenarios.Units(scenarioName).Contains(hostname) ? Scenarios.AdminOf(scenarioName, hostname) : null;
                return await new InteractiveCli(endpoint, typed is null ? null : new AdminCredentials(pr.GetValue(user)!, typed),
                    TimeSpan.FromSeconds(pr.GetValue(timeout)), adminOf).RunAsync(ct);
            }
            // The password is read before a script on stdin, so a prompt never competes with it for the terminal.
            var password = AdminPassword.Read(pr.GetValue(passwordFile), Environment.GetEnvironmentVariable(PasswordVariable),
                canPrompt: command != "-" && !Console.IsInputRedirected, Console.Error);
            var credentials = password is null ? null : new AdminCredentials(pr.GetValue(user)!, password);
            // A `config … end` script may come on stdin when the command is just "-".
            if (command == "-") command = await Console.In.ReadToEndAsync(ct);
            CliResultOrError result;
            try
            {
                result = new(await AdminClient.RunAsync(endpoint, command, TimeSpan.FromSeconds(pr.GetValue(timeout)), credentials), null);
            }
            catch (AdminRefusedException e)
            {
                result = new(null, e.Message);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or OperationCanceledException)
            {
                result = new(null, $"cannot reach the unit at {endpoint}: {e.Message}");
            }
            if (result.Error is not null)
            {
                // 3: nothing ran on the unit (unreachable, or the login was refused); 1 is a command the unit rejected.
                Console.Error.WriteLine($"clusteractors cli: {result.Error}");
                return 3;
            }
            Console.Out.Write(result.Result!.Output);
            return result.Result.ExitCode;
        }));
        return cmd;
    }

    private static Command ClientCmd()
    {
        var config = new Option<string>("--config") { Description = "FortiOS config of the client (a static IKEv2 phase1 and its phase2)", Required = true };
        var gateway = new Option<string>("--gateway") { Description = "UDP HOST:PORT where the phase1's remote-gw answers IKE" };
        var scenario = new Option<string>("--scenario") { Description = "dial a unit of a shipped scenario instead (its lb1 wiring)" };
        var unit = new Option<string>("--unit") { Description = "the scenario's unit (e.g. DC2_VM1)" };
        var once = new Option<bool>("--once") { Description = "exit once the tunnel is up" };
        var timeout = new Option<int>("--timeout") { Description = "seconds to wait for each IKE exchange", DefaultValueFactory = _ => 8 };
        var kernel = new Option<bool>("--kernel") { Description = "container lab: CLIENT1 on this host's port1/port2 and PC1 on --pc1-interface, port2's veth peer (kernel packet I/O), driven over --serve" };
        var serve = new Option<string>("--serve") { Description = "with --kernel: control endpoint HOST:PORT (dial, traffic start PPS, traffic progress, traffic stop, counters, show)" };
        var pc1Iface = new Option<string>("--pc1-interface") { Description = "with --kernel: PC1's interface, the other end of port2's veth pair in this namespace (10.10.1.2)", DefaultValueFactory = _ => "pc1" };
        var pc1Address = new Option<string>("--pc1-address") { Description = "with --kernel: PC1's address/prefix in port2's subnet (default 10.10.1.2/24; the container lab passes the topology's)", HelpName = "A.B.C.D/NN" };
        var cmd = new Command("client", "dial in as the scenario's FortiGate IPsec Client 1 (IKEv2 over UDP)") { config, gateway, scenario, unit, once, timeout, kernel, serve, pc1Iface, pc1Address };
        cmd.SetAction(async (pr, ct) => await Guard(async () =>
        {
            if (pr.GetValue(kernel))
            {
                var at = pr.GetValue(serve) is { } sv ? Endpoints.Parse(sv, "--serve") : throw new UsageException("--kernel needs --serve HOST:PORT");
                return await LabClientCommand.RunAsync(new LabClientCommand.Request(pr.GetValue(config)!, at, pr.GetValue(pc1Iface)!, pr.GetValue(pc1Address)), Console.Out, ct);
            }
            var endpoint = pr.GetValue(gateway) is { } g
                ? Endpoints.Parse(g, "--gateway")
                : pr.GetValue(scenario) is { } s && pr.GetValue(unit) is { } u
                    ? Scenarios.IkeOf(s, u)
                    : throw new UsageException("give --gateway HOST:PORT, or --scenario NAME --unit UNIT");
            return await ClientCommand.RunAsync(new ClientCommand.Request(pr.GetValue(config)!, endpoint, pr.GetValue(once),
                TimeSpan.FromSeconds(pr.GetValue(timeout))), Console.Out, ct);
        }));
        return cmd;
    }

    private static Command LabCmd()
    {
        var topology = new Option<string>("--topology") { Description = $"the lab's topology file, or a shipped name (default {LabCommand.DefaultTopology})", HelpName = "FILE" };
        var format = new Option<string>("--format") { Description = "mermaid or dot (graphviz: dot -Tsvg)", DefaultValueFactory = _ => "mermaid", HelpName = "mermaid|dot" };
        var graph = new Command("graph", "draw the lab: units in their FGCP clusters inside the FGSP peering (from their configs), segments, routers, clients, servers") { topology, format };
        graph.Action = new UsageErrorsExit2(async (pr, ct) => await Guard(() => Task.FromResult(LabCommand.Graph(pr.GetValue(topology), pr.GetValue(format)!, Console.Out))));
        var composeTopology = new Option<string>("--topology") { Description = $"the lab's topology file, or a shipped name (default {LabCommand.DefaultTopology})", HelpName = "FILE" };
        var composeOut = new Option<string>("--out") { Description = "write the compose file here instead of stdout", HelpName = "FILE" };
        var compose = new Command("compose", "the topology's container lab as a docker-compose file (the root docker-compose.yml is the seed's)") { composeTopology, composeOut };
        compose.Action = new UsageErrorsExit2(async (pr, ct) => await Guard(() => Task.FromResult(LabCommand.Compose(pr.GetValue(composeTopology), pr.GetValue(composeOut), Console.Out))));
        var viewTopology = new Option<string>("--topology") { Description = $"the lab's topology file, or a shipped name (default {LabCommand.DefaultTopology})", HelpName = "FILE" };
        var viewListen = new Option<string>("--listen") { Description = $"serve the page here (default {LiveView.LiveViewCommand.DefaultListen}: loopback only)", HelpName = "HOST:PORT" };
        var viewRate = new Option<double?>("--rate") { Description = "PC1's echo requests a second between drills (default 100)", HelpName = "PPS" };
        var viewOut = new Option<string>("--out") { Description = $"each drill's reports go here, as `drill --out` (default {Drills.DrillCommand.DefaultOut})", HelpName = "DIR" };
        var viewMode = new Option<string>("--mode") { Description = "embedded (every unit in this process) or docker (the topology's container lab)", DefaultValueFactory = _ => LabCommand.EmbeddedMode, HelpName = "embedded|docker" };
        var view = new Command("view", "the lab live in one web page: topology, HA and tunnel roles, the DC router's next hops, packets a second, events, a button per drill")
            { viewTopology, viewMode, viewListen, viewRate, viewOut };
        view.Action = new UsageErrorsExit2(async (pr, ct) => await Guard(() => LiveView.LiveViewCommand.RunAsync(
            new LiveView.LiveViewCommand.Request(pr.GetValue(viewTopology), pr.GetValue(viewListen) ?? LiveView.LiveViewCommand.DefaultListen,
                pr.GetValue(viewRate) ?? 100, pr.GetValue(viewOut) ?? Drills.DrillCommand.DefaultOut, pr.GetValue(viewMode)!),
            Console.Out, Console.Error, ct)));
        var lab = new Command("lab", "work with a lab's topology file: graph, compose, view, and its lifecycle (up, status, down)") { graph, compose, view };
        foreach (var (action, description) in new[]
                 {
                     ("up", "start the lab: docker, the generated compose lab under artifacts/labs/NAME until `lab down`; embedded, in this process until quit, end of input or Ctrl-C"),
                     ("down", "remove the docker lab: containers, networks, volumes"),
                     ("status", "per unit: state, FGCP cluster and HA role, FGSP member, tunnels and their roles; every host's addresses per network"),
                 })
        {
            var t = new Option<string>("--topology") { Description = $"the lab's topology file, or a shipped name (default {LabCommand.DefaultTopology})", HelpName = "FILE" };
            var m = new Option<string>("--mode") { Description = "embedded (every unit in this process) or docker (one container per host)", DefaultValueFactory = _ => LabCommand.EmbeddedMode, HelpName = "embedded|docker" };
            var c = new Command(action, description) { t, m };
            c.Action = new UsageErrorsExit2(async (pr, ct) => await Guard(() => LabCommand.Lifecycle(action, pr.GetValue(t), pr.GetValue(m)!, Console.In, Console.Out, ct)));
            lab.Subcommands.Add(c);
        }
        return lab;
    }

    private static Command RouterCmd()
    {
        var route = new Option<string>("--route") { Description = "the prefix routed over the next hops, e.g. 192.168.202.35/32", Required = true };
        var via = new Option<string[]>("--via") { Description = "a next hop (give it once per hop), e.g. 192.168.129.254", Required = true };
        var interval = new Option<string>("--probe-interval") { Description = "ICMP probe to each next hop this often (default 100ms)" };
        var misses = new Option<int?>("--probe-misses") { Description = "a next hop is dead after this many missed probes in a row (default 3)" };
        var status = new Option<string>("--status") { Description = $"file rewritten every second with the route's state (default {RouterCommand.DefaultStatus})" };
        var clients = new Option<string[]>("--clients") { Description = "a client-side prefix whose every address's flows are placed (give it once per prefix), e.g. 192.168.7.0/24", Required = true };
        var seed = new Option<ulong?>("--hash-seed") { Description = $"the placement's hash seed (default {PlacementRoute.DefaultHashSeed}, the embedded DC router's)" };
        var cmd = new Command("router", "the container lab's DC router: each client flow placed on one next hop by the embedded router's rendezvous rule, rewritten from probes of the next hops, until SIGTERM")
            { route, via, clients, seed, interval, misses, status };
        cmd.SetAction(async (pr, ct) => await Guard(() => RouterCommand.RunAsync(
            new RouterCommand.Request(pr.GetValue(route)!, pr.GetValue(via) ?? [], pr.GetValue(interval), pr.GetValue(misses), pr.GetValue(status),
                pr.GetValue(clients) ?? [], pr.GetValue(seed)),
            Console.Out, ct)));
        var showStatus = new Option<string>("--status") { Description = $"the running router's status file (default {RouterCommand.DefaultStatus})" };
        var show = new Command("show", "print the running router's route and next hops") { showStatus };
        show.SetAction(pr => RouterCommand.Show(pr.GetValue(showStatus), Console.Out, Console.Error));
        cmd.Subcommands.Add(show);
        return cmd;
    }

    private static Command CertsCmd()
    {
        var output = new Option<string>("--out") { Description = "folder to write ca.crt and UNIT.crt / UNIT.key into", Required = true };
        var units = new Option<string[]>("--units")
        {
            Description = "units to certify, NAME or NAME=SERIAL (comma or space separated); a NAME alone takes its serial from the seed scenario. Default: the seed scenario's four units",
            AllowMultipleArgumentsPerToken = true
        };
        var create = new Command("create", "make a lab CA and one certificate per unit for Akka remoting's mutual TLS") { output, units };
        create.SetAction(pr => Guard(() =>
        {
            var wanted = CertsCommand.ParseUnits(pr.GetValue(units) ?? []);
            var dir = Path.GetFullPath(pr.GetValue(output)!);
            LabCertificateAuthority.Create().WriteTo(dir, wanted);
            Console.Out.WriteLine($"lab CA and {wanted.Count} unit certificate(s) in {dir}: {string.Join(", ", wanted.Select(u => $"{u.Unit} ({u.Serial})"))}");
            return Task.FromResult(0);
        }).GetAwaiter().GetResult());
        var cmd = new Command("certs", "the lab's certificates for Akka remoting (mutual TLS between units)");
        cmd.Subcommands.Add(create);
        return cmd;
    }

    private sealed record CliResultOrError(ClusterActors.Actors.Unit.CliResult? Result, string? Error);

    private const string LenientDescription =
        "accept a whole FortiOS backup: sections and settings the lab does not emulate are kept, shown back by show, and listed once";

    private static Command ConfigCommand()
    {
        var file = new Argument<string>("file") { Description = "FortiOS configuration file" };
        var lenient = new Option<bool>("--lenient") { Description = LenientDescription };
        var check = new Command("check", "validate a FortiOS configuration file") { file, lenient };
        check.SetAction(pr =>
        {
            var path = pr.GetValue(file)!;
            if (!File.Exists(path))
            {
                Console.Error.WriteLine($"{path}: no such file");
                return 2;
            }
            var isLenient = pr.GetValue(lenient);
            var result = FortiConfig.ParseFile(path, isLenient);
            if (!result.Ok)
            {
                foreach (var e in result.Errors) Console.Error.WriteLine(e);
                Console.Error.WriteLine($"{path}: {result.Errors.Count} error(s); nothing applied");
                if (!isLenient && result.Errors.Any(e => e.Message.StartsWith("unknown section", StringComparison.Ordinal) || e.Message.StartsWith("unknown setting", StringComparison.Ordinal)))
                    Console.Error.WriteLine($"{path}: a whole FortiOS backup? --lenient keeps what this lab does not emulate");
                return 1;
            }
            Console.Out.Write(result.Value!.Summary());
            if (result.Value.NotEmulatedReport() is { } notEmulated) Console.Out.WriteLine(notEmulated);
            Console.Out.WriteLine($"{path}: OK");
            return 0;
        });
        return new Command("config", "work with FortiOS configuration files") { check };
    }

    private static Command ScenarioCommand()
    {
        var name = new Argument<string>("name") { Description = "a shipped scenario, e.g. seed (default seed)", Arity = ArgumentArity.ZeroOrOne };
        var topology = new Option<string>("--topology") { Description = "the lab's topology file (YAML: units, segments, heartbeat, routers, clients, servers), or a shipped name", HelpName = "FILE" };
        var embedded = new Option<bool>("--embedded") { Description = "run every unit as an ActorSystem in this process (required for now)" };
        var script = new Option<string>("--script") { Description = "script file, one step a line; - or none reads steps from stdin" };
        var fast = new Option<bool>("--fast-timers") { Description = "hello-holddown 5, hb-lost-threshold 6 on every unit: a lost peer detected in 1.2 s, a lone unit primary after 5 s" };
        var seed = new Option<long>("--seed") { Description = "the seed `impair` steps draw losses, duplicates and jitter from (default 1): the same seed replays them", DefaultValueFactory = _ => 1 };
        var run = new Command("run", "start the scenario's units and run a script of CLI commands, kills, link changes, impairments and expectations")
            { name, topology, embedded, script, fast, seed };
        run.SetAction(async (pr, ct) => await Guard(() => Scenario.ScenarioRunCommand.RunAsync(
            new(pr.GetValue(name) ?? Scenario.EmbeddedScenarioDriver.Scenario, pr.GetValue(embedded), pr.GetValue(script), pr.GetValue(fast),
                pr.GetValue(name) is not null && pr.GetValue(topology) is not null
                    ? throw new UsageException("give a scenario name or --topology FILE, not both")
                    : pr.GetValue(topology), pr.GetValue(seed)),
            new(Console.In, !Console.IsInputRedirected, Console.Out, Console.Error), ct)));
        return new Command("scenario", "run a shipped scenario") { run };
    }

    private static Command DrillCmd()
    {
        // The words are counted by the drill itself, so that a usage error exits 2 with one clear line.
        var words = new Argument<string[]>("drill")
        {
            Description = "[SCENARIO] DRILL: the scenario (default seed) and the drill: "
                          + string.Join(", ", Drills.DrillCatalog.Names) + ", or all; or chaos (random faults, --seed/--run); or, not in all (26-50 s each, "
                          + "run alone, e.g. drill seed heartbeat-loss --fast-timers, drill fgsp-standalone fgsp-dpd-flush): "
                          + string.Join(", ", Drills.DrillCatalog.OwnRunners.Select(d => d.Name)),
            Arity = ArgumentArity.ZeroOrMore,
        };
        var mode = new Option<string>("--mode") { Description = "embedded (every unit in this process) or docker (the topology's container lab, from the checkout: the seed's docker-compose.yml, another topology's generated as `lab up` does; images by .ci/docker-setup)", DefaultValueFactory = _ => "embedded", HelpName = "embedded|docker" };
        var rate = new Option<double?>("--rate") { Description = "PC1's echo requests per second through the tunnel (default 1000; 100 with --client strongswan, ping -i 0.01)" };
        var client = new Option<string>("--client") { Description = "with --mode docker: fortigate (our CLIENT1 and PC1) or strongswan (a real strongSwan, compose profile strongswan, pinging from its LAN side)", DefaultValueFactory = _ => Drills.DrillCommand.FortiGateClient, HelpName = "fortigate|strongswan" };
        var suite = new Option<string>("--suite") { Description = "with --client strongswan: the proposal family strongSwan dials with and every unit's vpn1 is given ("
                                                                 + string.Join(", ", Drills.StrongSwanSuite.Known.Select(s => s.Name)) + "; default the seed's aes128-sha1-modp1024)", HelpName = "NAME" };
        var runs = new Option<int>("--runs") { Description = "runs of each drill, each on a fresh lab", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--out") { Description = $"folder for DRILL-N.md, .json and .svg (default {Drills.DrillCommand.DefaultOut}/)" };
        var fast = new Option<bool>("--fast-timers") { Description = "hb-lost-threshold 6 on every unit: FGCP detects a lost peer in 1.2 s instead of 4 s" };
        var hb10 = new Option<bool>("--hb-10ms") { Description = "10 ms heartbeats on every unit (hb-interval-in-milliseconds 10ms, hb-interval 1, hb-lost-threshold 5): FGCP detects a lost peer in 50 ms" };
        var seed = new Option<long?>("--seed") { Description = "chaos: the seed the runs' faults derive from (run r's from (seed, r) alone); heartbeat-loss, flapping-uplink: the seed of their losses and flap times; random and printed when not given" };
        var run = new Option<int?>("--run") { Description = "chaos: replay only this run of --seed" };
        var topology = new Option<string>("--topology") { Description = "the lab's topology file instead of a shipped scenario's (embedded, or --mode docker: its generated container lab); the drills name roles (owner, its FGCP peer, another FGSP member), a drill whose role the lab lacks is not applicable", HelpName = "FILE" };
        var clients = new Option<int?>("--clients") { Description = "dial this many clients (the topology's first client entry as `count: N`: CLIENT1, CLIENT1-2, … each on its own WAN address and LAN, placed by the DC router's flow hash); every tunnel is counted per owner before the faults and after each phase (embedded)", HelpName = "N" };
        var cmd = new Command("drill", "run a failover drill with traffic and measure it: detection, role change, traffic gap, loss, SAs, roles; "
                                       + "writes a Markdown report, a JSON file and an SVG timeline per run; exit 1 when an expectation fails")
            { words, mode, client, suite, rate, runs, output, fast, hb10, seed, run, topology, clients };
        cmd.Action = new UsageErrorsExit2(async (pr, ct) => await Guard(() => Drills.DrillCommand.RunAsync(
            new(pr.GetValue(words)!, pr.GetValue(mode)!,
                pr.GetValue(rate) ?? (pr.GetValue(client) == Drills.DrillCommand.StrongSwanClient ? Drills.DrillCommand.DefaultStrongSwanRate : Drills.DrillCommand.DefaultRate),
                pr.GetValue(runs), pr.GetValue(output), pr.GetValue(fast), pr.GetValue(client)!, pr.GetValue(seed), pr.GetValue(run), pr.GetValue(topology),
                pr.GetValue(hb10), pr.GetValue(suite), pr.GetValue(clients)),
            Console.Out, Console.Error, ct)));
        return cmd;
    }

    /// <summary>
    /// A command action that takes over the command's parse errors (a value that is not a number, an unknown option):
    /// each is printed on one line and the exit code is 2, a usage error, rather than System.CommandLine's help and 1.
    /// </summary>
    private sealed class UsageErrorsExit2(Func<ParseResult, CancellationToken, Task<int>> run) : System.CommandLine.Invocation.AsynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override async Task<int> InvokeAsync(ParseResult parseResult, CancellationToken cancellationToken = default)
        {
            if (parseResult.Errors.Count == 0) return await run(parseResult, cancellationToken);
            foreach (var error in parseResult.Errors) await Console.Error.WriteLineAsync($"clusteractors: {error.Message}");
            return 2;
        }
    }

    private static async Task<int> Guard(Func<Task<int>> run)
    {
        try
        {
            return await run();
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"clusteractors: {e.Message}");
            return 2;
        }
        catch (TopologyInvalidException e)
        {
            foreach (var error in e.Errors) Console.Error.WriteLine(error);
            Console.Error.WriteLine($"clusteractors: {e.Message}");
            return 2;
        }
        catch (DockerLab.LabToolMissingException e)
        {
            Console.Error.WriteLine($"clusteractors: {e.Message}");
            return 1;
        }
        catch (DockerLab.DockerLabUnsupportedException e)
        {
            foreach (var problem in e.Problems) Console.Error.WriteLine($"{e.Message.Split(':')[0]}: {problem}");
            Console.Error.WriteLine($"clusteractors: {e.Message}");
            return 2;
        }
        catch (ConfigInvalidException e)
        {
            foreach (var error in e.Errors) Console.Error.WriteLine(error);
            Console.Error.WriteLine($"clusteractors: {e.Message}; the unit was not started");
            return 1;
        }
    }
}
