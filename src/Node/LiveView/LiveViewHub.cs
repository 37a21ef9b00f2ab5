using System.Text;
using System.Threading.Channels;
using ClusterActors.Node.Drills;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.LiveView;

/// <summary>
/// The live view's lab and what it has seen (src/Node/LiveView/README.md). It brings the topology's embedded lab up (the
/// drill's configs: hello-holddown 5), dials CLIENT1 and runs PC1's echo traffic, then polls every unit each
/// <see cref="PollInterval"/> (FGCP role, tunnels, forwarded packets; the DC router's next hops), turns what changed
/// into events (<see cref="LiveViewModel.Changes"/>) and hands snapshots and events to every page that listens. A drill
/// runs on a fresh lab of its own, as `clusteractors drill` does, which then stays up as the view's lab.
/// </summary>
public sealed class LiveViewHub : IAsyncDisposable
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>Events kept for a page that connects later (and for one that reconnects with Last-Event-ID).</summary>
    public const int HistoryKept = 500;

    /// <summary>Frames queued for one page: a page that does not read loses its oldest frames, never the lab its pace.</summary>
    public const int FramesQueued = 1000;

    private readonly LabTopology _topology;
    private readonly DrillCast _cast;
    private readonly IReadOnlyList<RoleDrill> _roleDrills;
    private readonly double _rate;
    private readonly string? _reportsDir;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _gate = new();
    private readonly List<LiveEvent> _history = new();
    private readonly List<Channel<string>> _pages = new();
    private long _seq;
    private ObservedDrillLab? _lab;
    private string _state = "starting";
    private string? _drill;
    private LabSnapshot? _last;
    private Task _starting = Task.CompletedTask, _polling = Task.CompletedTask, _drilling = Task.CompletedTask;

    /// <param name="rate">PC1's echo rate between drills (packets a second), so each unit's forwarding rate shows.</param>
    /// <param name="reportsDir">Where each drill's reports are written (as `drill --out`); null: none written.</param>
    /// <param name="mode">embedded (every unit in this process) or docker (the topology's container lab, one container per
    /// host, driven as `drill --mode docker` drives it).</param>
    public LiveViewHub(LabTopology topology, double rate = 100, string? reportsDir = null, TimeProvider? time = null, string mode = "embedded")
    {
        if (mode is not ("embedded" or "docker")) throw new ArgumentException($"mode is embedded or docker, not '{mode}'", nameof(mode));
        Mode = mode;
        _topology = topology;
        _cast = DrillCast.Resolve(topology);
        _rate = rate;
        _reportsDir = reportsDir;
        _time = time ?? TimeProvider.System;
        _roleDrills = DrillCatalog.SelectRoles("all").Where(d => d.NotApplicable(_cast) is null).ToList();
        Drills = _roleDrills.Select(d => new DrillButton(d.Name, d.Title)).ToList();
    }

    public LabTopology Topology => _topology;

    /// <summary>embedded or docker: which lab the view brings up, and each drill's fresh lab.</summary>
    public string Mode { get; }

    /// <summary>The catalog's drills this topology has the roles for: one button each.</summary>
    public IReadOnlyList<DrillButton> Drills { get; }

    public LabSnapshot? Snapshot
    {
        get { lock (_gate) return _last; }
    }

    public IReadOnlyList<LiveEvent> History
    {
        get { lock (_gate) return _history.ToList(); }
    }

    /// <summary>Brings the lab up in the background and starts polling; the page is served meanwhile and shows it coming up.</summary>
    public void Start()
    {
        _polling = Task.Run(() => PollLoop(_stop.Token));
        _starting = Task.Run(() => BringUp(_stop.Token));
    }

    /// <summary>Completes once the first lab is up (or failed to come up: the events say why).</summary>
    public Task Started => _starting;

    /// <summary>Completes when the drill last started has ended.</summary>
    public Task DrillDone
    {
        get { lock (_gate) return _drilling; }
    }

    private ObservedDrillLab NewLab(IReadOnlyDictionary<string, string> changes) =>
        new(Mode == "docker"
                ? new DockerDrillLab(changes, new EventWriter(line => Publish("lab", null, line)), DrillCommand.FortiGateClient, _topology, null)
                : new EmbeddedDrillLab(changes, _topology),
            (kind, unit, text) => Publish(kind, unit, text));

    private async Task BringUp(CancellationToken ct)
    {
        try
        {
            var changes = _topology.UnitNames.ToDictionary(u => u, _ => DrillCatalog.HelloHolddown);
            var lab = NewLab(changes);
            lock (_gate) _lab = lab;
            Publish("lab", null, Mode == "docker"
                ? $"lab {_topology.Name}: starting its container lab ({_topology.Units.Count} unit containers)"
                : $"lab {_topology.Name}: starting {_topology.Units.Count} units in this process");
            Publish("lab", null, "lab up: " + await lab.Up(_cast.Primaries, ct));
            await DialAndSend(lab, ct);
            SetState("up", null);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            Publish("lab", null, $"the lab did not come up: {e.Message}");
            SetState("failed", null);
        }
    }

    private async Task DialAndSend(IDrillLab lab, CancellationToken ct)
    {
        var dial = await lab.Dial(ct);
        Publish("lab", null, $"CLIENT1 dialed via next hop {dial.NextHop} ({string.Join("+", dial.NextHopUnits)})");
        lab.TrafficStart(_rate);
        Publish("lab", null, $"PC1 sends {_rate:0} echo requests a second to the Server through the tunnel");
    }

    public enum DrillStart
    {
        Started,
        Unknown,
        Busy,
    }

    /// <summary>Starts <paramref name="name"/> on a fresh lab unless the lab is still coming up or a drill runs.</summary>
    public DrillStart StartDrill(string name, out string why)
    {
        var roleDrill = _roleDrills.FirstOrDefault(d => d.Name == name);
        if (roleDrill is null)
        {
            why = $"no drill '{name}' for {_topology.Name} (drills: {string.Join(", ", Drills.Select(d => d.Name))})";
            return DrillStart.Unknown;
        }
        lock (_gate)
        {
            if (!_starting.IsCompleted || !_drilling.IsCompleted)
            {
                why = _drill is { } d ? $"drill {d} is running: one at a time" : "the lab is still coming up";
                return DrillStart.Busy;
            }
            _state = "drill";
            _drill = name;
            _drilling = Task.Run(() => RunDrill(roleDrill.Bind(_cast), _stop.Token));
        }
        why = "";
        return DrillStart.Started;
    }

    private async Task RunDrill(DrillDefinition drill, CancellationToken ct)
    {
        var progress = new EventWriter(line => Publish("drill", null, $"{drill.Name}: {line}"));
        try
        {
            Publish("drill", null, $"{drill.Name}: {drill.Title}; on a fresh lab, as `clusteractors drill` runs it");
            ObservedDrillLab? old;
            lock (_gate)
            {
                old = _lab;
                _lab = null;
            }
            if (old is not null) await old.DisposeAsync(); // PC1's run stops with it
            var changes = DrillCommand.Changes(drill, fastTimers: false, units: _topology.UnitNames);
            var lab = NewLab(changes);
            lock (_gate) _lab = lab;
            var settings = new DrillSettings(_topology.Name, DrillCommand.DefaultRate, FastTimers: false);
            var result = await new DrillRunner(lab, progress).RunAsync(drill, settings, 1, DrillCommand.Describe(changes), ct);
            progress.Flush();
            if (_reportsDir is not null)
            {
                var dir = DrillCommand.InvocationFolder(_reportsDir, drill.Name, _time.GetUtcNow());
                result = DrillCommand.WithPackets(result, lab.SavePackets(dir, DrillCommand.Stem(result)));
                foreach (var path in DrillCommand.Write(result, dir)) Publish("drill", null, $"{drill.Name}: wrote {path}");
            }
            var failed = result.Checks.Where(x => x.Ok == false).ToList();
            Publish("drill", null, result.Passed
                ? $"{drill.Name}: PASS"
                : $"{drill.Name}: FAIL ({(result.Error ?? string.Join("; ", failed.Select(f => $"{f.Phase}: {f.What}: {f.Measured}, expected {f.Expected}")))})");
            // The lab stays as the drill left it; PC1 sends again so the page shows who forwards now.
            if (result.Error is null)
            {
                lab.TrafficStart(_rate);
                Publish("lab", null, $"PC1 sends {_rate:0} echo requests a second again");
            }
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            Publish("drill", null, $"{drill.Name}: stopped: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            SetState("up", null);
        }
    }

    private void SetState(string state, string? drill)
    {
        lock (_gate)
        {
            _state = state;
            _drill = drill;
        }
    }

    // ------------------------------------------------------------------------------------------------------------------

    private async Task PollLoop(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(PollInterval, _time);
        try
        {
            do
            {
                LabSnapshot snapshot;
                try
                {
                    snapshot = await Poll();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    continue; // the lab is being replaced under the poll: the next one reads the new lab
                }
                IReadOnlyList<LiveEvent> changes;
                lock (_gate)
                {
                    changes = LiveViewModel.Changes(_last, snapshot);
                    _last = snapshot;
                }
                foreach (var e in changes) Publish(e);
                Broadcast(LiveViewModel.Frame(snapshot));
            } while (await timer.WaitForNextTickAsync(ct));
        }
        catch (OperationCanceledException)
        {
            // the view stops
        }
    }

    private async Task<LabSnapshot> Poll()
    {
        ObservedDrillLab? lab;
        string state;
        string? drill;
        LabSnapshot? last;
        lock (_gate)
        {
            lab = _lab;
            state = _state;
            drill = _drill;
            last = _last;
        }
        var at = _time.GetUtcNow();
        var units = _topology.UnitNames;
        if (lab is null)
            return new LabSnapshot(at, _topology.Name, state, drill, units.Select(u => new UnitLive(u, LiveViewModel.Silent, null, null, null)).ToList(), []);
        var has = await Task.WhenAll(units.Select(lab.Ha));
        var tunnels = await Task.WhenAll(units.Select(lab.Tunnels));
        var forwarded = await lab.TunnelForwarded();
        var since = last is null ? TimeSpan.Zero : at - last.At;
        var rows = units.Select((u, i) => LiveViewModel.Unit(u, has[i], tunnels[i], forwarded.TryGetValue(u, out var f) ? f : null,
            last?.Units.FirstOrDefault(x => x.Unit == u), since)).ToList();
        var hops = lab.RouterNextHops().Select(h => new NextHopLive(h.Address, h.Units, h.Alive)).ToList();
        return new LabSnapshot(at, _topology.Name, state, drill, rows, hops);
    }

    // ------------------------------------------------------------------------------------------------------------------

    /// <summary>Adds an event to the list every page shows (kinds: <see cref="LiveEvent.Kind"/>).</summary>
    public void Publish(string kind, string? unit, string text) => Publish(new LiveEvent(0, _time.GetUtcNow(), kind, unit, text));

    private void Publish(LiveEvent e)
    {
        lock (_gate)
        {
            e = e with { Seq = ++_seq };
            _history.Add(e);
            if (_history.Count > HistoryKept) _history.RemoveAt(0);
            var frame = LiveViewModel.Frame(e);
            foreach (var page in _pages) page.Writer.TryWrite(frame);
        }
    }

    private void Broadcast(string frame)
    {
        lock (_gate)
            foreach (var page in _pages) page.Writer.TryWrite(frame);
    }

    /// <summary>
    /// A page's stream: the last snapshot and the events after <paramref name="lastEventId"/> (all kept, when null) first,
    /// then every frame as it is made, until the page is disposed. Frames are whole server-sent events.
    /// </summary>
    public Subscription Subscribe(long? lastEventId)
    {
        var channel = Channel.CreateBounded<string>(new BoundedChannelOptions(FramesQueued) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        lock (_gate)
        {
            if (_last is not null) channel.Writer.TryWrite(LiveViewModel.Frame(_last));
            foreach (var e in _history.Where(e => lastEventId is null || e.Seq > lastEventId)) channel.Writer.TryWrite(LiveViewModel.Frame(e));
            _pages.Add(channel);
        }
        return new Subscription(channel.Reader, () =>
        {
            lock (_gate) _pages.Remove(channel);
            channel.Writer.TryComplete();
        });
    }

    public sealed class Subscription(ChannelReader<string> frames, Action end) : IDisposable
    {
        public ChannelReader<string> Frames => frames;
        public void Dispose() => end();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try { await Task.WhenAll(_starting, _polling, DrillDone); } catch (OperationCanceledException) { /* stopping */ }
        ObservedDrillLab? lab;
        lock (_gate)
        {
            lab = _lab;
            _lab = null;
            foreach (var page in _pages) page.Writer.TryComplete();
            _pages.Clear();
        }
        if (lab is not null) await lab.DisposeAsync();
        _stop.Dispose();
    }

    /// <summary>A drill's progress, which DrillRunner writes as text, turned into one event per line.</summary>
    private sealed class EventWriter(Action<string> line) : TextWriter
    {
        private readonly StringBuilder _partial = new();
        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            lock (_partial)
            {
                if (value == '\n') Emit();
                else if (value != '\r') _partial.Append(value);
            }
        }

        public override void Write(string? value)
        {
            foreach (var ch in value ?? "") Write(ch);
        }

        public override Task WriteAsync(string? value)
        {
            Write(value);
            return Task.CompletedTask;
        }

        public override Task WriteLineAsync(string? value)
        {
            Write(value);
            Write('\n');
            return Task.CompletedTask;
        }

        public override Task FlushAsync() => Task.CompletedTask;

        public override void Flush()
        {
            lock (_partial)
                if (_partial.Length > 0) Emit();
        }

        private void Emit()
        {
            var text = _partial.ToString().Trim();
            _partial.Clear();
            if (text.Length > 0) line(text);
        }
    }
}

/// <summary>A drill the page offers: its catalog name (the POST's) and title.</summary>
public sealed record DrillButton(string Name, string Title);
