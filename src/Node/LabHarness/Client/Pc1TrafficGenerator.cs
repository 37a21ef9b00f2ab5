using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.LabHarness.Client;

/// <summary>PC1 of the scenario: one interface on the client's LAN, default gateway the client FortiGate's port2.</summary>
public sealed record Pc1Settings
{
    public string Interface { get; init; } = "eth0";
    public InterfaceAddress Address { get; init; } = InterfaceAddress.Parse("10.10.1.2/24");
    public IPAddress Gateway { get; init; } = IPAddress.Parse("10.10.1.1");
}

/// <summary>One echo run: what to ping, how fast, for how long. A run always ends by itself (duration, and count if given).</summary>
public sealed record EchoRunOptions
{
    /// <summary>The scenario's Server behind the gateways.</summary>
    public IPAddress Target { get; init; } = IPAddress.Parse("10.10.101.2");
    public double RatePps { get; init; } = 1000;
    /// <summary>ICMP data bytes (56: the 84-byte packets of a default ping). The first 8 carry the run's request number.</summary>
    public int PayloadBytes { get; init; } = IcmpEcho.DefaultDataLength;
    /// <summary>
    /// Sending lasts this long: ⌈Duration × rate⌉ requests, fewer if <see cref="Count"/> is lower or <see cref="EchoRun.Stop"/> comes first.
    /// </summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);
    public long? Count { get; init; }
    /// <summary>How long replies are still awaited after sending stops; a request unanswered by then is lost.</summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>ICMP identifier for the whole run; null picks a random one.</summary>
    public ushort? Identifier { get; init; }
    /// <summary>Sequence number of the first request (ping starts at 1); it wraps at 65536, the run's own count does not.</summary>
    public ushort FirstSequence { get; init; } = 1;
}

/// <summary>
/// PC1's traffic: ICMP echo requests to the Server at a steady rate, and the record of which got answered, when.
/// One run at a time; each run paces itself on a dedicated thread that always ends by itself.
/// </summary>
public sealed class Pc1TrafficGenerator : IDisposable
{
    private readonly Pc1Settings _settings;
    private readonly IPacketPort _port;
    private readonly object _sync = new();
    private EchoRun? _current;
    private bool _disposed;

    /// <summary>Opens <see cref="Pc1Settings.Interface"/> on <paramref name="io"/>.</summary>
    public Pc1TrafficGenerator(IPacketIo io, Pc1Settings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(io);
        _settings = settings ?? new Pc1Settings();
        _port = io.Open(_settings.Interface, [_settings.Address], (_, p) => OnPacket(p));
    }

    public Pc1Settings Settings => _settings;
    public IPacketPort Port => _port;

    /// <summary>The latest run, running or finished.</summary>
    public EchoRun? Current
    {
        get { lock (_sync) return _current; }
    }

    /// <summary>Starts a run; its <see cref="EchoRun.Completion"/> gives the report after the grace period.</summary>
    /// <exception cref="InvalidOperationException">The previous run has not completed.</exception>
    public EchoRun Start(EchoRunOptions? options = null)
    {
        options ??= new EchoRunOptions();
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_current is { Completion.IsCompleted: false })
                throw new InvalidOperationException("an echo run is still in progress");
            var nextHop = AddressMath.OnSubnet(options.Target, _settings.Address) ? options.Target : _settings.Gateway;
            _current = new EchoRun(options, _port, _settings.Address.Address, nextHop);
            _current.Begin();
            return _current;
        }
    }

    /// <summary>A whole run: <paramref name="stop"/> ends the sending early (the report still waits the grace period).</summary>
    public async Task<EchoReport> RunAsync(EchoRunOptions? options = null, CancellationToken stop = default)
    {
        var run = Start(options);
        using (stop.Register(run.Stop))
            return await run.Completion.ConfigureAwait(false);
    }

    private void OnPacket(byte[] bytes)
    {
        if (!Ipv4Packet.TryParse(bytes, out var packet, out _) || packet.Protocol != Ipv4Packet.ProtocolIcmp
            || !packet.Destination.Equals(_settings.Address.Address) || !IcmpEcho.TryParse(packet.Payload, out var echo))
            return;
        if (echo.Type == IcmpEchoType.Request)
        {
            if (_port is null)
                return; // still inside Open, in the constructor
            // A host answers pings; the Server may check PC1 the other way round.
            if (IcmpEcho.TryReply(packet, out var reply))
                _port.Send(AddressMath.OnSubnet(packet.Source, _settings.Address) ? packet.Source : _settings.Gateway, reply.ToBytes());
            return;
        }
        EchoRun? run;
        lock (_sync) run = _current;
        run?.OnReply(packet, echo);
    }

    /// <summary>Ends any run at once (no grace period), waits for its thread, closes the interface.</summary>
    public void Dispose()
    {
        EchoRun? run;
        lock (_sync)
        {
            if (_disposed)
                return;
            _disposed = true;
            run = _current;
        }
        run?.Abort();
        _port.Dispose();
    }
}

/// <summary>One run of echo requests: live progress, <see cref="Stop"/>, and the report in <see cref="Completion"/>.</summary>
public sealed class EchoRun
{
    private const int RequestNumberBytes = 8;

    private readonly IPacketPort _port;
    private readonly IPAddress _source;
    private readonly IPAddress _nextHop;
    private readonly Thread _thread;
    private long _startTimestamp; // Stopwatch timestamp of the sending thread's start
    private readonly ManualResetEventSlim _stop = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly TaskCompletionSource _sendingDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly object _sync = new();
    // Per request n (the run's own never-wrapping number): send time and first reply time, in TimeSpan ticks since the
    // run began; -1 = no reply yet.
    private readonly List<long> _sentAt;
    private readonly List<long> _replyAt;
    private long _duplicates;
    private long _unmatched;
    private long _sendFailures;
    private bool _frozen;

    internal EchoRun(EchoRunOptions options, IPacketPort port, IPAddress source, IPAddress nextHop)
    {
        if (!(options.RatePps > 0) || double.IsInfinity(options.RatePps))
            throw new ArgumentOutOfRangeException(nameof(options), "RatePps must be positive and finite.");
        if (options.PayloadBytes < 0 || options.PayloadBytes > 65_000)
            throw new ArgumentOutOfRangeException(nameof(options), "PayloadBytes must be in [0, 65000].");
        if (options.Duration <= TimeSpan.Zero || options.Grace < TimeSpan.Zero || options.Count < 0)
            throw new ArgumentOutOfRangeException(nameof(options), "Duration must be positive, Grace and Count not negative.");
        Options = options;
        Identifier = options.Identifier ?? (ushort)Random.Shared.Next(1, 0x10000);
        _port = port;
        _source = source;
        _nextHop = nextHop;
        long expected = (long)Math.Min(options.Count ?? long.MaxValue, options.RatePps * options.Duration.TotalSeconds + 1);
        _sentAt = new List<long>((int)Math.Clamp(expected, 16, 1 << 20));
        _replyAt = new List<long>(_sentAt.Capacity);
        _thread = new Thread(SendLoop) { IsBackground = true, Name = $"pc1-echo-{Identifier:x4}" };
        Completion = CompleteAsync();
    }

    public EchoRunOptions Options { get; }
    public ushort Identifier { get; }

    /// <summary>The report, once sending has ended and the grace period has passed (at once after an abort).</summary>
    public Task<EchoReport> Completion { get; }

    /// <summary>The sending thread is alive.</summary>
    public bool IsSending => _thread.IsAlive;

    /// <summary>Set when sending ended on an exception from the interface (the report covers what was sent until then).</summary>
    public Exception? Error { get; private set; }

    public long Sent
    {
        get { lock (_sync) return _sentAt.Count; }
    }

    public long Answered
    {
        get
        {
            lock (_sync)
            {
                long n = 0;
                foreach (var r in _replyAt)
                    if (r >= 0) n++;
                return n;
            }
        }
    }

    /// <summary>The <see cref="Stopwatch"/> timestamp the run's clock counts from (0 before its thread starts).</summary>
    public long StartTimestamp => Volatile.Read(ref _startTimestamp);

    /// <summary>Each request so far: its send time and its first reply's (null: none yet), since <see cref="StartTimestamp"/>.</summary>
    public (TimeSpan Sent, TimeSpan? Reply)[] Requests()
    {
        lock (_sync)
        {
            var all = new (TimeSpan, TimeSpan?)[_sentAt.Count];
            for (var i = 0; i < all.Length; i++)
                all[i] = (TimeSpan.FromTicks(_sentAt[i]), _replyAt[i] >= 0 ? TimeSpan.FromTicks(_replyAt[i]) : null);
            return all;
        }
    }

    /// <summary>Stops sending now; replies are still awaited for the grace period.</summary>
    public void Stop() => _stop.Set();

    /// <summary>The report of what has happened so far (the longest gap's window ends at the last request sent).</summary>
    public EchoReport Snapshot()
    {
        lock (_sync)
        {
            var sent = new TimeSpan[_sentAt.Count];
            var replies = new TimeSpan?[_sentAt.Count];
            for (int i = 0; i < sent.Length; i++)
            {
                sent[i] = TimeSpan.FromTicks(_sentAt[i]);
                replies[i] = _replyAt[i] >= 0 ? TimeSpan.FromTicks(_replyAt[i]) : null;
            }
            return EchoStatistics.Compute(sent, replies, _duplicates) with
            {
                Unmatched = _unmatched, SendFailures = _sendFailures, SenderStalled = TimeSpan.FromTicks(Interlocked.Read(ref _stalledTicks)),
            };
        }
    }

    internal void Begin() => _thread.Start();

    /// <summary>Time since sending began; replies only arrive after a send, so never before the start.</summary>
    private TimeSpan Elapsed => Stopwatch.GetElapsedTime(Volatile.Read(ref _startTimestamp));

    internal void Abort()
    {
        _abort.Cancel();
        _stop.Set();
        if (Thread.CurrentThread != _thread)
            _thread.Join();
    }

    /// <summary>
    /// Paces by catch-up: request n is due at n / rate from the moment the thread starts; each tick sends every request
    /// due so far, then waits ~1 ms (Sleep's granularity), so the average rate holds when a tick comes a little late.
    /// A catch-up is at most <see cref="MaxCatchUp"/> of requests (<see cref="Pace"/>): a thread starved longer moves its
    /// schedule later by the rest, as ping does, rather than sending the backlog in one burst. On a loaded machine a
    /// burst of 1,613 requests in 539 ms went into a dead owner's path (CI-like load, fgsp-owner-killed): more lost than
    /// rate × outage, the drill's loss bound, though the outage itself kept to it. <see cref="EchoReport.SenderStalled"/>
    /// says how far the schedule moved. A run sends exactly min(Count, ⌈Duration × rate⌉) requests: those still due
    /// when the duration is over go out at once rather than being skipped, so totals do not depend on load.
    /// </summary>
    private void SendLoop()
    {
        try
        {
            // The clock starts here, not in Start: a thread that is scheduled late must not begin with a burst.
            Volatile.Write(ref _startTimestamp, Stopwatch.GetTimestamp());
            var rate = Options.RatePps;
            long total = Math.Min(Options.Count ?? long.MaxValue, (long)Math.Ceiling(Options.Duration.TotalSeconds * rate - 1e-9));
            var maxBurst = Math.Max(1, (long)Math.Ceiling(MaxCatchUp.TotalSeconds * rate));
            var data = new byte[Options.PayloadBytes];
            for (int i = RequestNumberBytes; i < data.Length; i++)
                data[i] = (byte)i; // ping's filler pattern after the timestamp-sized header
            long n = 0;
            while (!_stop.IsSet && n < total)
            {
                var now = Elapsed;
                long due;
                if (now >= Options.Duration) due = total;
                else
                {
                    (due, var shift) = Pace(now - TimeSpan.FromTicks(Interlocked.Read(ref _stalledTicks)), rate, n, total, maxBurst);
                    Interlocked.Add(ref _stalledTicks, shift.Ticks);
                }
                for (; n < due && !_stop.IsSet; n++)
                    SendOne(n, data);
                Interlocked.Increment(ref _ticks);
                if (n < total)
                    _stop.Wait(NextWait(Elapsed - TimeSpan.FromTicks(Interlocked.Read(ref _stalledTicks)), rate, n));
            }
        }
        catch (Exception e)
        {
            Error = e;
        }
        finally
        {
            _sendingDone.TrySetResult();
        }
    }

    /// <summary>
    /// The most a late tick catches up: a loaded machine's ticks (Sleep(1) came back after up to ~70 ms under CPU
    /// burners) are made good, so the rate holds; a stall beyond is not. 10 ms was tried: the rate fell to ~50 pps there.
    /// What a catch-up can add to a loss count, 100 ms at the rate, is half the drills' 200 ms slack.
    /// </summary>
    public static readonly TimeSpan MaxCatchUp = TimeSpan.FromMilliseconds(100);

    private long _stalledTicks;
    private long _ticks;

    /// <summary>How many times the sending thread woke up so far (<see cref="NextWait"/>).</summary>
    public long Ticks => Interlocked.Read(ref _ticks);

    /// <summary>
    /// How long the sending thread sleeps before its next tick: until request <paramref name="sent"/> (the next) is due,
    /// at least 1 ms (Sleep's granularity; a 1,000 pps run ticks every ms as before) and at most 100 ms. A light run
    /// (the other clients' PCs at 10 pps, one thread each) used to wake every ms all the same: 100 clients were 100,000
    /// wake-ups a second on the lab's two cores for 1,000 requests.
    /// </summary>
    public static int NextWait(TimeSpan scheduled, double rate, long sent)
    {
        var untilDue = sent / rate * 1000 - scheduled.TotalMilliseconds;
        return (int)Math.Clamp(Math.Ceiling(untilDue), 1, 100);
    }

    /// <summary>
    /// Which requests are due <paramref name="scheduled"/> into the (possibly moved) schedule, when <paramref name="sent"/>
    /// went already: at most <paramref name="maxBurst"/> more; beyond that the schedule moves later by the rest
    /// (<paramref name="Shift"/>), so the next tick is on time again instead of bursting.
    /// </summary>
    public static (long Due, TimeSpan Shift) Pace(TimeSpan scheduled, double rate, long sent, long total, long maxBurst)
    {
        long due = Math.Min(total, (long)(scheduled.TotalSeconds * rate) + 1);
        if (due - sent <= maxBurst) return (due, TimeSpan.Zero);
        var behind = due - sent - maxBurst; // requests the stall would have burst out: their time is given up
        return (sent + maxBurst, TimeSpan.FromSeconds(behind / rate));
    }

    private void SendOne(long n, byte[] data)
    {
        if (data.Length >= RequestNumberBytes)
            BinaryPrimitives.WriteInt64BigEndian(data, n);
        var request = IcmpEcho.Request(Identifier, (ushort)(Options.FirstSequence + n), data)
            .InIpv4(_source, Options.Target, identification: (ushort)n).ToBytes();
        // Record before sending: on an in-memory link the reply can arrive inside Send.
        lock (_sync)
        {
            _sentAt.Add(Elapsed.Ticks);
            _replyAt.Add(-1);
        }
        if (!_port.Send(_nextHop, request))
            Interlocked.Increment(ref _sendFailures);
    }

    internal void OnReply(Ipv4Packet packet, IcmpEcho echo)
    {
        if (echo.Identifier != Identifier)
            return;
        long now = Elapsed.Ticks;
        lock (_sync)
        {
            if (_frozen)
                return;
            long last = _sentAt.Count - 1;
            long n;
            if (echo.Data.Length >= RequestNumberBytes)
            {
                // The request number travels in the data, so even a very late reply finds its request exactly.
                n = BinaryPrimitives.ReadInt64BigEndian(echo.Data);
                if (n < 0 || n > last || (ushort)(Options.FirstSequence + n) != echo.Sequence)
                    n = -1;
            }
            else
            {
                n = EchoStatistics.RequestNumber(last, Options.FirstSequence, echo.Sequence);
            }
            if (n < 0 || !packet.Source.Equals(Options.Target))
            {
                _unmatched++;
                return;
            }
            if (_replyAt[(int)n] >= 0)
                _duplicates++;
            else
                _replyAt[(int)n] = now;
        }
    }

    private async Task<EchoReport> CompleteAsync()
    {
        await _sendingDone.Task.ConfigureAwait(false);
        _thread.Join(); // it is past its last statement; make "completed" mean "no thread left"
        try
        {
            await Task.Delay(Options.Grace, _abort.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Aborted: report what arrived so far.
        }
        lock (_sync)
            _frozen = true;
        return Snapshot();
    }
}
