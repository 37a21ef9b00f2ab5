using Akka.Actor;
using Akka.Event;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Persistence;
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
public sealed class UnitConfigActor : ReceiveActor, IWithUnboundedStash, IWithTimers
{
    /// <summary>
    /// How long a change waits for the journal to confirm it: less than the CLI's own 5 s, so the operator gets this
    /// actor's definite "not applied" instead of "did not answer in time".
    /// </summary>
    public static readonly TimeSpan JournalTimeout = TimeSpan.FromSeconds(4);

    /// <summary>How long the start waits for one reading of the journal before asking again (a cold replay on a busy machine is slow).</summary>
    public static readonly TimeSpan ReplayTimeout = TimeSpan.FromSeconds(10);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _journal;
    private readonly StorageBackoff _backoff;
    private readonly RateLimitedLog _replayLog = new(TimeSpan.FromSeconds(30), TimeProvider.System);
    private ConfigDocument _config;
    private readonly PrivateDataKey? _unitKey;
    private int _replayFailures;

    public IStash Stash { get; set; } = null!;
    public ITimerScheduler Timers { get; set; } = null!;

    public UnitConfigActor(ConfigDocument fileConfig, IActorRef journal, StorageBackoff? backoff = null, PrivateDataKey? unitKey = null)
    {
        _config = fileConfig;
        _unitKey = unitKey;
        _journal = journal;
        _backoff = backoff ?? StorageBackoff.Default;
        Receive<JournaledConfig>(OnReplay);
        Receive<ReplayFailed>(f =>
        {
            // The journal is down or restarting (JournalSupervisor): ask again with backoff, saying so at a limited rate.
            var delay = _backoff.Delay(_replayFailures++);
            if (_replayLog.Allow(out var suppressed))
                _log.Warning("config journal not readable yet ({0}); the unit waits for it, next try in {1:0.#} s{2}",
                    f.Cause.Message, delay.TotalSeconds, suppressed > 0 ? $" ({suppressed} similar not logged)" : "");
            Timers.StartSingleTimer(ReadJournal.Instance, ReadJournal.Instance, delay);
        });
        Receive<ReadJournal>(_ => RequestReplay());
        // Nothing is built on a config that is not yet known; refused rather than stashed without bound.
        Receive<ApplyConfigScript>(_ => Sender.Tell(new ConfigApplied(false,
            [new ConfigError("<journal>", 0, 0, "", "change not applied: the unit is still reading its config journal")], _config)));
        ReceiveAny(_ => Stash.Stash());
    }

    /// <param name="unitKey">The unit's private data key: what it journals ENC values under once `set
    /// private-data-encryption enable` is on (and reads back, as well as the product key).</param>
    public static Props Props(ConfigDocument fileConfig, IActorRef journal, StorageBackoff? backoff = null, PrivateDataKey? unitKey = null) =>
        Akka.Actor.Props.Create(() => new UnitConfigActor(fileConfig, journal, backoff, unitKey));

    protected override void PreStart() => RequestReplay();

    private sealed record ReplayFailed(Exception Cause);

    private sealed record ReadJournal
    {
        public static readonly ReadJournal Instance = new();
    }

    private void RequestReplay() =>
        _journal.Ask<JournaledConfig>(new ReadJournaledConfig(), ReplayTimeout)
            .PipeTo(Self, failure: e => new ReplayFailed(e));

    private void OnReplay(JournaledConfig journaled)
    {
        foreach (var change in journaled.Changes)
        {
            if (change.Source == FgcpConfigSync.SyncSource)
            {
                // The primary's full text, as it was synced: applied as sync applies it, keeping what FGCP never
                // synchronises (hostname, ha priority/override), not as a script typed on this unit.
                // A lenient unit's primary sends what it keeps without emulating; read it the way this unit reads its own.
                var synced = FortiConfig.Parse(change.Script, $"journaled ha-sync #{change.Sequence}", _unitKey, _config.Lenient);
                if (synced.Ok) _config = _config.WithSyncedFrom(synced.Value!);
                else _log.Error("journaled config sync #{0} no longer parses and is skipped: {1}", change.Sequence, string.Join("; ", synced.Errors));
                continue;
            }
            var result = _config.Apply(change.Script, change.Source, _unitKey);
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
            var result = _config.Apply(cmd.Script, cmd.Source, _unitKey, out var secrets);
            if (!result.Ok)
            {
                Sender.Tell(new ConfigApplied(false, result.Errors, _config));
                return;
            }
            // Never a typed secret in the journal: each as ENC under the key the resulting config writes with (the
            // unit's own with private-data-encryption). What other units get (a change forwarded to the primary)
            // carries them as product-key ENC, which any unit reads.
            var journaled = secrets.Rewrite(result.Value!.EncKey(_unitKey));
            Commit(result.Value!, secrets.Rewrite(PrivateDataKey.Product), cmd.Source, journaled, Sender);
        });
        Receive<ApplySyncedConfig>(sync =>
        {
            var parsed = FortiConfig.Parse(sync.ConfigText, $"ha-sync from {sync.FromSerial}", lenient: _config.Lenient);
            if (!parsed.Ok)
            {
                _log.Error("config sync from {0} rejected: {1}", sync.FromSerial, string.Join("; ", parsed.Errors));
                return;
            }
            // Journaled as the primary's full text so a secondary restarted while alone still has the synced settings,
            // its secrets as ENC under this unit's key when private-data-encryption is on here (the primary sends them
            // under the product key, the only one both read).
            var next = _config.WithSyncedFrom(parsed.Value!);
            Commit(next, null, FgcpConfigSync.SyncSource, parsed.Value!.ToText(next.EncKey(_unitKey)), ActorRefs.Nobody);
        });
        Receive<GetUnitConfig>(_ => Sender.Tell(_config));
    }

    private sealed record Committed(ConfigDocument Config, string? Script, string Source, IActorRef ReplyTo);

    private sealed record CommitFailed(Exception Cause, string Source, IActorRef ReplyTo);

    private readonly RateLimitedLog _commitLog = new(TimeSpan.FromSeconds(30), TimeProvider.System);

    /// <summary>One change at a time: the next is stashed until this one is journaled, so none is built on a stale config.</summary>
    private void Commit(ConfigDocument next, string? script, string source, string journalScript, IActorRef replyTo)
    {
        _journal.Ask<ConfigChangeAccepted>(new JournalConfigChange(source, journalScript), JournalTimeout)
            .PipeTo(Self, success: _ => new Committed(next, script, source, replyTo), failure: e => new CommitFailed(e, source, replyTo));
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
                // Refused, not lost silently: the caller (the CLI) is told, and the running config stays as it was.
                var why = f.Cause is AskTimeoutException ? $"the config journal did not confirm it within {JournalTimeout.TotalSeconds:0} s" : f.Cause.Message;
                if (_commitLog.Allow(out var suppressed))
                    _log.Error("config change from {0} could not be journaled and is not applied: {1}{2}", f.Source, why,
                        suppressed > 0 ? $" ({suppressed} similar not logged)" : "");
                f.ReplyTo.Tell(new ConfigApplied(false,
                    [new ConfigError("<journal>", 0, 0, "", $"change not applied: {why}")], _config));
                Become(Running);
                Stash.UnstashAll();
            });
            ReceiveAny(_ => Stash.Stash());
        });
    }
}
