using Akka.Actor;
using Akka.Event;
using ClusterActors.Actors.Cli;
using ClusterActors.Actors.UnitConfig;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Fgsp;
using ClusterActors.Actors.Persistence;
using ClusterActors.Protocol.Config;

namespace ClusterActors.Actors.Unit;

/// <summary>Everything one FortiGate unit is started with; the host builds it from the config file and HOCON.</summary>
public sealed record UnitSettings(
    string Serial,
    ConfigDocument FileConfig,
    Func<ConfigDocument, IReadOnlyDictionary<string, IHbdevLink>> HbdevLinks);

/// <summary>Run one FortiOS CLI command (or a `config … end` script) on the unit.</summary>
public sealed record RunCli(string Command);

public sealed record CliResult(string Output, int ExitCode);

/// <summary>
/// The root of one FortiGate's actor tree: its journals, its running configuration, FGCP, and (next) FGSP and
/// the IPsec phase1 with one actor per dialup tunnel. CLI commands enter here.
/// </summary>
public sealed class FortiGateUnit : ReceiveActor, IWithUnboundedStash
{
    public const string Name = "fortigate";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly UnitSettings _settings;
    private IActorRef _history = ActorRefs.Nobody;
    private IActorRef _config = ActorRefs.Nobody;
    private IActorRef _fgcp = ActorRefs.Nobody;
    private IActorRef _fgsp = ActorRefs.Nobody;
    private ConfigDocument _running;

    public IStash Stash { get; set; } = null!;

    public FortiGateUnit(UnitSettings settings)
    {
        _settings = settings;
        _running = settings.FileConfig;
        Receive<UnitConfigReady>(ready =>
        {
            _running = ready.Config;
            // FGSP first: it learns the FGCP role from the event stream and must not miss the first election.
            _fgsp = Context.ActorOf(FgspActor.Props(_settings.Serial, _running), "fgsp");
            _fgcp = Context.ActorOf(FgcpActor.Props(_settings.Serial, _running, _settings.HbdevLinks(_running), _history, _config), "fgcp");
            _log.Info("unit {0} ({1}) up", _settings.Serial, _running.Global.Hostname);
            Become(Running);
            Stash.UnstashAll();
        });
        ReceiveAny(_ => Stash.Stash());
    }

    public static Props Props(UnitSettings settings) => Akka.Actor.Props.Create(() => new FortiGateUnit(settings));

    protected override void PreStart()
    {
        _history = Context.ActorOf(HaHistoryJournal.Props(_settings.Serial), "ha-history");
        var journal = Context.ActorOf(ConfigJournal.Props(_settings.Serial), "config-journal");
        _config = Context.ActorOf(UnitConfigActor.Props(_settings.FileConfig, journal), "config");
    }

    private void Running()
    {
        Receive<UnitConfigChanged>(changed =>
        {
            _running = changed.Config;
            _fgcp.Forward(changed);
            _fgsp.Tell(changed);
        });
        Receive<SetLinkState>(link => _fgcp.Forward(link));
        Receive<RunCli>(cli =>
        {
            var units = new CliTargets(_settings.Serial, _config, _fgcp, _history, _fgsp);
            FortiOsCli.Run(cli.Command, units).PipeTo(Sender);
        });
        Receive<GetHaStatus>(q => _fgcp.Forward(q));
        Receive<GetFgspStatus>(q => _fgsp.Forward(q));
    }
}
