using ClusterActors.Actors.Telemetry;
using System.Buffers.Binary;
using System.Net;
using Akka.Actor;
using Akka.Event;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;

namespace ClusterActors.Actors.Ipsec;

/// <summary>
/// An IKE SA that completed IKE_AUTH at the <see cref="IkeFrontActor"/>: the phase1 actor takes it over (resumes it
/// in its gateway, creates the tunnel, syncs it). <paramref name="Datagram"/> is the IKE_AUTH it came with.
/// </summary>
/// <param name="Reply">The IKE_AUTH response: the phase1 actor answers <paramref name="ReplyTo"/> with it once the tunnel
/// exists (<see cref="RelayIkeReplies"/>), not this actor before.</param>
public sealed record IkeSaAdopted(IkeSaEstablished Established, IkeDatagram Datagram, IkeReplies? Reply = null, IActorRef? ReplyTo = null);

/// <summary>Asks the front for its admission counters.</summary>
public sealed record GetIkeAdmissionStatus
{
    public static readonly GetIkeAdmissionStatus Instance = new();
}

public sealed record IkeAdmissionStatus(string Phase1, IkeAdmissionCounters Counters, bool CookiesRequired)
{
    /// <summary>IKE_SA_INITs whose DH is running or queued on the workers.</summary>
    public int DhInFlight { get; init; }

    /// <summary>DHs computed off the front since it started.</summary>
    public long DhComputed { get; init; }
}

/// <summary>
/// Where the IKE fronts' DHs run: the shared thread pool, at most <c>concurrency</c> at once (one per core by default,
/// as FortiOS's <c>dh-multiprocess</c> spreads DH over worker processes), so DH work is parallel across cores and never
/// on an actor's thread, and a burst cannot take every pool thread from the actors' dispatcher.
/// </summary>
public sealed class IkeDhWorkers
{
    public static readonly IkeDhWorkers Shared = new(TaskScheduler.Default, Environment.ProcessorCount);

    private readonly TaskScheduler _scheduler;

    /// <param name="pool">Where the work runs (a spec passes one it controls).</param>
    public IkeDhWorkers(TaskScheduler pool, int concurrency)
    {
        _scheduler = new ConcurrentExclusiveSchedulerPair(pool, Math.Max(1, concurrency)).ConcurrentScheduler;
        Concurrency = Math.Max(1, concurrency);
    }

    public int Concurrency { get; }

    public Task<IkeInitWork> Run(IkeInitWork work) =>
        Task.Factory.StartNew(() =>
        {
            work.Compute();
            return work;
        }, CancellationToken.None, TaskCreationOptions.DenyChildAttach, _scheduler);
}

/// <summary>
/// The front of one dialup phase1's IKE: every datagram for it arrives here first. IKE_SA_INIT (admission: size caps,
/// COOKIE, half-open limits, the DH) and the IKE_AUTH of a half-open SA are answered here; everything of an
/// established SA goes on to the <see cref="IpsecPhase1Actor"/>, which also runs role changes and SA sync, so an
/// IKE_SA_INIT flood never sits in its mailbox nor costs it a DH (README "Admission under flood"). The decisions are
/// <see cref="IkeAdmission"/>'s and <see cref="IkeResponder"/>'s; this actor carries their effects.
/// </summary>
public sealed class IkeFrontActor : ReceiveActor, IWithTimers
{
    private sealed record ExpireTick
    {
        public static readonly ExpireTick Instance = new();
    }

    /// <summary>A DH came back from the workers; <paramref name="Responder"/> is the one that began it (a config change replaces it).</summary>
    private sealed record DhDone(IkeInitWork Work, IkeDatagram Datagram, IActorRef ReplyTo, IkeResponder Responder, bool Failed);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _serial;
    private readonly string _phase1Name;
    private readonly IActorRef _phase1;
    private readonly TimeProvider _time;
    private readonly IkeAdmission _admission;
    private readonly IkeDhWorkers _workers;
    private IkeResponder _responder;
    private long _dhComputed;
    private string _signature;
    private bool _isPrimary;
    private string? _localAddress;

    /// <summary>A console reads IKE debug on this unit (<see cref="IkeDebugListening"/>): only then are debug events built.</summary>
    private bool _debugListening;

    public ITimerScheduler Timers { get; set; } = null!;

    public IkeFrontActor(string serial, ConfigDocument config, Phase1Interface phase1, IActorRef phase1Actor, IkeAdmissionSettings? settings,
        TimeProvider? time, IkeDhWorkers? workers = null)
    {
        _workers = workers ?? IkeDhWorkers.Shared;
        _serial = serial;
        _phase1Name = phase1.Name;
        _phase1 = phase1Actor;
        _time = time ?? TimeProvider.System;
        // `config system ike` / `set embryonic-limit` is the total; the other numbers are the unit's (README).
        _admission = new IkeAdmission((settings ?? new IkeAdmissionSettings()) with { EmbryonicLimit = config.Ike.EmbryonicLimit }, _time);
        _responder = Responder(config, phase1);
        _signature = IpsecPhase1Actor.Signature(config, phase1.Name);
        _localAddress = LocalAddress(config, phase1);

        Receive<IkeDatagram>(OnIke);
        Receive<HaRoleChanged>(r =>
        {
            if (r.Serial == _serial) _isPrimary = r.Role == HaRole.Primary;
        });
        Receive<UnitConfigChanged>(OnConfigChanged);
        Receive<IkeDebugListening>(l =>
        {
            if (l.Serial == _serial) _debugListening = l.Listening;
        });
        Receive<ExpireTick>(_ =>
        {
            foreach (var spiR in _responder.ExpireHalfOpen())
                Refusal(IkeDropCause.HalfOpenExpired, $"half-open IKE SA {spiR:x16} expired without IKE_AUTH");
            WatchHalfOpen();
        });
        Receive<DhDone>(OnDhDone);
        Receive<GetIkeAdmissionStatus>(_ => Sender.Tell(new IkeAdmissionStatus(_phase1Name, _admission.Counters, _admission.CookiesRequired)
        {
            DhInFlight = _responder.PendingInits, DhComputed = _dhComputed,
        }));
    }

    public static Props Props(string serial, ConfigDocument config, Phase1Interface phase1, IActorRef phase1Actor,
        IkeAdmissionSettings? settings = null, TimeProvider? time = null, IkeDhWorkers? workers = null) =>
        Akka.Actor.Props.Create(() => new IkeFrontActor(serial, config, phase1, phase1Actor, settings, time, workers));

    /// <summary>
    /// Half-open SAs are looked at once a second for their timeout, but only while there are any: a front with none
    /// (every idle unit) does not wake for it (src/Node/README.md, "Idle footprint").
    /// </summary>
    private void WatchHalfOpen()
    {
        var any = _admission.HalfOpen > 0 || _responder.PendingInits > 0;
        if (!any) Timers.Cancel("expire");
        else if (!Timers.IsTimerActive("expire")) Timers.StartPeriodicTimer("expire", ExpireTick.Instance, TimeSpan.FromSeconds(1));
    }

    private IkeResponder Responder(ConfigDocument config, Phase1Interface phase1) =>
        new(IpsecPhase1Actor.GatewaySettings(config, phase1), admission: _admission);

    /// <summary>New attempts follow a changed phase1 at once; half-open SAs of the old settings are dropped with it.</summary>
    private void OnConfigChanged(UnitConfigChanged changed)
    {
        if (changed.Config.Ike.EmbryonicLimit != _admission.Settings.EmbryonicLimit)
            _admission.Reconfigure(_admission.Settings with { EmbryonicLimit = changed.Config.Ike.EmbryonicLimit });
        var phase1 = changed.Config.Phase1.FirstOrDefault(p => p.Name == _phase1Name);
        if (phase1 is null) return;
        _localAddress = LocalAddress(changed.Config, phase1);
        var signature = IpsecPhase1Actor.Signature(changed.Config, phase1.Name);
        if (signature == _signature) return;
        _signature = signature;
        foreach (var spiR in _responder.HalfOpenSpis) _responder.Forget(spiR);
        _responder = Responder(changed.Config, phase1);
    }

    private static string? LocalAddress(ConfigDocument config, Phase1Interface phase1) =>
        config.Interfaces.FirstOrDefault(i => i.Name == phase1.Interface)?.Ip is { Length: > 0 } ip && ip != "0.0.0.0" ? ip : null;

    /// <summary>
    /// An event for `diagnose debug application ike` consoles (<see cref="IkeDebugActor"/>), built and published only
    /// while one reads.
    /// </summary>
    private void Debug(IkeDebugKind kind, IkeDatagram d, byte[]? message = null, string? detail = null)
    {
        if (!_debugListening) return;
        Context.System.EventStream.Publish(new IkeDebugObserved(_serial, _phase1Name, kind, d.From, d.FromPort, d.LocalPort, _time.GetUtcNow())
        {
            Header = message is null ? null : IkeDebugHeader.Of(message),
            Detail = detail,
            LocalAddress = _localAddress,
        });
    }

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(IkeDebugListening));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);

    private void OnIke(IkeDatagram d)
    {
        if (!_isPrimary)
        {
            // Only the FGCP primary answers on the cluster's addresses; a secondary never sees this traffic on FortiOS.
            Sender.Tell(new IkeReplies([], "not the FGCP primary") { Tag = d.Tag });
            return;
        }
        Debug(IkeDebugKind.Received, d, d.Data);
        if (!Here(d.Data))
        {
            // An established SA's traffic: the phase1 actor's, once it passed the size caps.
            if (_admission.Screen(d.Data) is { } cause)
            {
                Refusal(cause, $"{d.Data.Length} bytes from {d.From}:{d.FromPort}");
                // No refusal text: the caller (ForwardingActor) would log every datagram of a flood; the lines are ours.
                Sender.Tell(new IkeReplies([], null) { Tag = d.Tag });
                return;
            }
            _phase1.Forward(d);
            return;
        }
        var output = _responder.Begin(new IPEndPoint(d.From, d.FromPort), d.LocalPort, d.Data, out var work);
        WatchHalfOpen();
        if (work is not null)
        {
            // The DH goes to the workers: this actor goes on answering (cookies, drops, IKE_AUTH) meanwhile. The SA's
            // next message cannot come before its answer, and a retransmission meanwhile is dropped by Begin, so the
            // SA's order holds; the answer is sent from DhDone.
            var replyTo = Sender;
            var responder = _responder;
            _workers.Run(work).PipeTo(Self, success: w => new DhDone(w, d, replyTo, responder, false),
                failure: _ => new DhDone(work, d, replyTo, responder, true));
            return;
        }
        Deliver(output, d, Sender);
    }

    private void OnDhDone(DhDone done)
    {
        if (done.Failed || !ReferenceEquals(done.Responder, _responder) || !_isPrimary)
        {
            // Config changed (its half-open SAs went with the old responder), role lost, or the DH threw: no answer,
            // the client retransmits and starts afresh.
            done.Responder.Forget(done.Work.SpiR);
            done.ReplyTo.Tell(new IkeReplies([], null) { Tag = done.Datagram.Tag });
            return;
        }
        _dhComputed++;
        Deliver(_responder.Complete(done.Work), done.Datagram, done.ReplyTo);
    }

    /// <summary>The effects of one answered datagram: hand-overs, rate-limited refusal lines, and the replies to <paramref name="replyTo"/>.</summary>
    private void Deliver(IkeOutput output, IkeDatagram d, IActorRef replyTo)
    {
        string? refused = null;
        IkeSaEstablished? established = null;
        foreach (var e in output.Events)
        {
            switch (e)
            {
                case IkeSaEstablished est:
                    UnitCounters.Of(Context.System).IkeNegotiation("established");
                    Debug(IkeDebugKind.Established, d, detail: $"{est.Sa.SpiI:x16}/{est.Sa.SpiR:x16}");
                    _responder.Forget(est.Sa.SpiR);
                    established = est;
                    break;
                case IkeRefused r:
                    refused = r.Reason;
                    Debug(IkeDebugKind.Refused, d, detail: r.Reason);
                    UnitCounters.Of(Context.System).IkeNegotiation("refused", r.Kind.ToString());
                    RefusalLine(r.Kind.ToString(), $"IKE from {d.From}:{d.FromPort} refused ({r.Kind}): {r.Reason}; no tunnel created");
                    break;
                case IkeDropped { Cause: { } cause } dropped:
                    UnitCounters.Of(Context.System).IkeNegotiation("dropped", cause.ToString());
                    Debug(IkeDebugKind.Dropped, d, detail: $"{cause}: {dropped.Reason}");
                    // Counted and logged here, rate-limited; not passed on as a refusal the caller would log per datagram.
                    if (cause != IkeDropCause.CookieRequired) Refusal(cause, dropped.Reason);
                    break;
            }
        }
        foreach (var reply in output.Replies) Debug(IkeDebugKind.Sent, d, reply);
        var replies = new IkeReplies(output.Replies, refused) { Tag = d.Tag };
        if (established is null)
        {
            replyTo.Tell(replies);
            return;
        }
        // The IKE_AUTH response goes with the hand-over: the phase1 actor answers once the tunnel exists and its path is
        // on its way to the forwarding plane ahead of the answer, as a responder installs its CHILD SA before it answers.
        // Answered from here, the client had its SA while the unit had none yet: on a loaded machine 159 of PC1's first
        // 200 echoes were lost as of no known SPI (IkeFloodFailoverSpec, stop 21's trial). Told before any later message
        // of the client reaches the phase1 actor: this actor forwards those after it.
        _phase1.Tell(new IkeSaAdopted(established, d, replies, replyTo));
    }

    /// <summary>IKE_SA_INIT requests and messages of the half-open SAs held here; decided from the header alone.</summary>
    private bool Here(byte[] d)
    {
        if (d.Length < IkeHeader.Size) return true; // junk: dropped and counted here, the phase1 never sees it
        if ((ExchangeType)d[18] == ExchangeType.IkeSaInit && ((IkeFlags)d[19] & IkeFlags.Response) == 0) return true;
        var spiR = BinaryPrimitives.ReadUInt64BigEndian(d.AsSpan(8));
        return _responder.IsHalfOpen(spiR);
    }

    private void Refusal(IkeDropCause cause, string detail) => RefusalLine(cause.ToString(), $"IKE dropped ({cause}): {detail}");

    /// <summary>At most one line per kind of refusal per interval, with the count of those not written (IkeAdmission.RefusalLog).</summary>
    private void RefusalLine(string kind, string line)
    {
        if (_admission.RefusalLog(kind, line) is not { } log) return;
        _log.Warning("{0}: {1}{2}", _phase1Name, log.Detail, log.Suppressed > 0 ? $" ({log.Suppressed} more like it not logged)" : "");
    }
}
