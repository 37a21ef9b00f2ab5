using Akka.Actor;
using Akka.Event;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.History;

namespace ClusterActors.Actors.UnitConfig;

/// <summary>Apply CLI statements (`config system ha` / `set priority 200` / `end`) to the running unit.</summary>
public sealed record ApplyConfigScript(string Script, string Source);

/// <summary>The primary's configuration arrived by FGCP sync: take its synced parts, keep this unit's own.</summary>
public sealed record ApplySyncedConfig(string FromSerial, string ConfigText);

public sealed record ConfigApplied(bool Ok, IReadOnlyList<ConfigError> Errors, ConfigDocument Config);

public sealed record GetUnitConfig
{
    public static readonly GetUnitConfig Instance = new();
}

/// <summary>Sent to the parent once the journal has been replayed, and after every change.</summary>
public sealed record UnitConfigReady(ConfigDocument Config);

/// <summary>
/// Holds the unit's running configuration: the file it started from plus every change journaled since, replayed
/// in order at start, so CLI changes outlive a restart as on FortiOS. A change is journaled before it is
/// acknowledged, and a change that does not apply cleanly is not applied at all.
/// </summary>
public sealed class UnitConfigActor : ReceiveActor, IWithUnboundedStash
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _journal;
    private ConfigDocument _config;

    public IStash Stash { get; set; } = null!;

    public UnitConfigActor(ConfigDocument fileConfig, IActorRef journal)
    {
        _config = fileConfig;
        _journal = journal;
        Receive<JournaledConfig>(OnReplay);
        ReceiveAny(_ => Stash.Stash());
    }

    public static Props Props(ConfigDocument fileConfig, IActorRef journal) =>
        Akka.Actor.Props.Create(() => new UnitConfigActor(fileConfig, journal));

    protected override void PreStart() => _journal.Tell(new ReadJournaledConfig());

    private void OnReplay(JournaledConfig journaled)
    {
        foreach (var change in journaled.Changes)
        {
            if (change.Source == FgcpConfigSync.SyncSource)
            {
                // The primary's full text, as it was synced: applied as sync applies it, keeping what FGCP never
                // synchronises (hostname, ha priority/override), not as a script typed on this unit.
                var synced = FortiConfig.Parse(change.Script, $"journaled ha-sync #{change.Sequence}");
                if (synced.Ok) _config = _config.WithSyncedFrom(synced.Value!);
                else _log.Error("journaled config sync #{0} no longer parses and is skipped: {1}", change.Sequence, string.Join("; ", synced.Errors));
                continue;
            }
            var result = _config.Apply(change.Script, change.Source);
            if (result.Ok) _config = result.Value!;
            else _log.Error("journaled change #{0} ({1}) no longer applies and is skipped: {2}", change.Sequence, change.Source,
                string.Join("; ", result.Errors));
        }
        Context.Parent.Tell(new UnitConfigReady(_config));
        Become(Running);
        Stash.UnstashAll();
    }

    private void Running()
    {
        Receive<ApplyConfigScript>(cmd =>
        {
            var result = _config.Apply(cmd.Script, cmd.Source);
            if (result.Ok) Commit(result.Value!, cmd.Script, cmd.Source, cmd.Script, Sender);
            else Sender.Tell(new ConfigApplied(false, result.Errors, _config));
        });
        Receive<ApplySyncedConfig>(sync =>
        {
            var parsed = FortiConfig.Parse(sync.ConfigText, $"ha-sync from {sync.FromSerial}");
            if (!parsed.Ok)
            {
                _log.Error("config sync from {0} rejected: {1}", sync.FromSerial, string.Join("; ", parsed.Errors));
                return;
            }
            // Journaled as the primary's full text so a secondary restarted while alone still has the synced settings.
            Commit(_config.WithSyncedFrom(parsed.Value!), null, FgcpConfigSync.SyncSource, sync.ConfigText, ActorRefs.Nobody);
        });
        Receive<GetUnitConfig>(_ => Sender.Tell(_config));
    }

    private sealed record Committed(ConfigDocument Config, string? Script, string Source, IActorRef ReplyTo);

    private sealed record CommitFailed(Exception Cause, IActorRef ReplyTo);

    /// <summary>One change at a time: the next is stashed until this one is journaled, so none is built on a stale config.</summary>
    private void Commit(ConfigDocument next, string? script, string source, string journalScript, IActorRef replyTo)
    {
        _journal.Ask<ConfigChangeAccepted>(new JournalConfigChange(source, journalScript), TimeSpan.FromSeconds(10))
            .PipeTo(Self, success: _ => new Committed(next, script, source, replyTo), failure: e => new CommitFailed(e, replyTo));
        Become(() =>
        {
            Receive<Committed>(c =>
            {
                var syncedChanged = FgcpConfigSync.Checksum(_config) != FgcpConfigSync.Checksum(c.Config);
                _config = c.Config;
                Context.Parent.Tell(new UnitConfigChanged(_config, c.Script, syncedChanged, c.Source));
                c.ReplyTo.Tell(new ConfigApplied(true, [], _config));
                Become(Running);
                Stash.UnstashAll();
            });
            Receive<CommitFailed>(f =>
            {
                _log.Error(f.Cause, "config change could not be journaled; it is not applied");
                f.ReplyTo.Tell(new ConfigApplied(false,
                    [new ConfigError("<journal>", 0, 0, "", $"change not saved: {f.Cause.Message}")], _config));
                Become(Running);
                Stash.UnstashAll();
            });
            ReceiveAny(_ => Stash.Stash());
        });
    }
}
