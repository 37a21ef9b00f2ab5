using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using Akka.Actor;
using ClusterActors.Protocol.Ike;

namespace ClusterActors.Actors.Ipsec;

/// <summary>What an IKE debug line says happened (src/Actors/Cli/README.md, "diagnose debug application ike").</summary>
public enum IkeDebugKind
{
    /// <summary>An IKE message reached the phase1's front (its header: exchange, SPIs, message id, length).</summary>
    Received,

    /// <summary>The unit answered one.</summary>
    Sent,

    /// <summary>IKE_AUTH completed: the IKE SA exists.</summary>
    Established,

    /// <summary>A policy said no (no proposal, bad PSK, peer id …); <see cref="IkeDebugObserved.Detail"/> says which.</summary>
    Refused,

    /// <summary>Not answered (malformed, flood protection, half-open expired …); the detail says why.</summary>
    Dropped,
}

/// <summary>
/// One IKE event of a unit's phase1, published on the unit's event stream by <see cref="IkeFrontActor"/> for an
/// operator's `diagnose debug application ike`; nobody formats or keeps it unless a console is reading
/// (<see cref="IkeDebugActor"/>).
/// </summary>
public sealed record IkeDebugObserved(string Serial, string Phase1, IkeDebugKind Kind, IPAddress Peer, int PeerPort, int LocalPort,
    DateTimeOffset At)
{
    /// <summary>For Received/Sent: the message's IKE header (null when shorter than a header).</summary>
    public IkeDebugHeader? Header { get; init; }

    /// <summary>For Established: the SA's SPIs; for Refused/Dropped: why.</summary>
    public string? Detail { get; init; }

    /// <summary>The unit's address on the phase1's interface (from the config), for Sent; null when it has none.</summary>
    public string? LocalAddress { get; init; }
}

/// <summary>The fields of an IKE header a debug line prints.</summary>
public sealed record IkeDebugHeader(ulong SpiI, ulong SpiR, ExchangeType Exchange, bool IsResponse, uint MessageId, int Length)
{
    /// <summary>The header of <paramref name="datagram"/>, or null when it is shorter than one (junk is printed as its length only).</summary>
    public static IkeDebugHeader? Of(byte[] datagram)
    {
        if (datagram.Length < IkeHeader.Size) return null;
        var d = datagram.AsSpan();
        return new IkeDebugHeader(BinaryPrimitives.ReadUInt64BigEndian(d), BinaryPrimitives.ReadUInt64BigEndian(d[8..]), (ExchangeType)d[18],
            ((IkeFlags)d[19] & IkeFlags.Response) != 0, BinaryPrimitives.ReadUInt32BigEndian(d[20..]), datagram.Length);
    }
}

/// <summary>
/// `diagnose vpn ike log-filter`: which events a console prints. Null fields match everything; <see cref="Name"/> matches
/// the phase1 (`vpn1`) and its dialup instances (`vpn1_3`), <see cref="DstAddr4"/> the peer's address.
/// </summary>
public sealed record IkeDebugFilter(string? Name = null, IPAddress? DstAddr4 = null)
{
    public static readonly IkeDebugFilter None = new();

    public bool Matches(IkeDebugObserved e) =>
        (Name is null || e.Phase1 == Name || e.Phase1.StartsWith(Name + "_", StringComparison.Ordinal))
        && (DstAddr4 is null || DstAddr4.Equals(e.Peer));
}

/// <summary>
/// FortiOS's IKE debug line for an event (`ike 0:vpn1: …`), as a pure function. The line shapes and which of them are
/// sourced are in src/Actors/Cli/README.md; `0` is the VDOM index (this lab has one VDOM, root).
/// </summary>
public static class IkeDebugFormat
{
    /// <summary>FortiOS's names of the IKEv2 exchanges in its debug lines.</summary>
    public static string ExchangeName(ExchangeType t) => t switch
    {
        ExchangeType.IkeSaInit => "SA_INIT",
        ExchangeType.IkeAuth => "AUTH",
        ExchangeType.CreateChildSa => "CREATE_CHILD",
        ExchangeType.Informational => "INFORMATIONAL",
        _ => ((int)t).ToString(CultureInfo.InvariantCulture),
    };

    public static string Line(IkeDebugObserved e)
    {
        var peer = $"{e.Peer}:{e.PeerPort.ToString(CultureInfo.InvariantCulture)}";
        return e.Kind switch
        {
            IkeDebugKind.Received when e.Header is { } h =>
                $"ike 0: IKEv2 exchange={ExchangeName(h.Exchange)} id={Id(h)} len={h.Length.ToString(CultureInfo.InvariantCulture)}",
            IkeDebugKind.Received => $"ike 0: comes {peer}, too short for an IKE header",
            IkeDebugKind.Sent when e.Header is { } h =>
                $"ike 0:{e.Phase1}: sent IKE msg ({ExchangeName(h.Exchange)}{(h.IsResponse ? "_RESPONSE" : "")}): {e.LocalAddress ?? "0.0.0.0"}:{e.LocalPort.ToString(CultureInfo.InvariantCulture)}->{peer}, len={h.Length.ToString(CultureInfo.InvariantCulture)}, vrf=0, id={Id(h)}",
            IkeDebugKind.Sent => $"ike 0:{e.Phase1}: sent IKE msg: {e.LocalAddress ?? "0.0.0.0"}:{e.LocalPort.ToString(CultureInfo.InvariantCulture)}->{peer}",
            IkeDebugKind.Established => $"ike 0:{e.Phase1}: established IKE SA {e.Detail}",
            IkeDebugKind.Refused => $"ike 0:{e.Phase1}: negotiation failure from {peer}: {e.Detail}",
            IkeDebugKind.Dropped => $"ike 0:{e.Phase1}: dropped from {peer}: {e.Detail}",
            _ => $"ike 0:{e.Phase1}: {e.Kind}",
        };
    }

    private static string Id(IkeDebugHeader h) =>
        $"{h.SpiI:x16}/{h.SpiR:x16}:{h.MessageId:x8}";
}

/// <summary>
/// The unit's last IKE debug events, bounded: a ring of <see cref="Capacity"/> events numbered from 0; a reader that
/// falls behind is told how many it missed instead of the ring growing (a flood of IKE cannot flood a console).
/// </summary>
public sealed class IkeDebugRing(int capacity)
{
    private readonly IkeDebugObserved[] _ring = new IkeDebugObserved[capacity];

    public int Capacity => _ring.Length;

    /// <summary>The number the next event will get (= how many were ever added).</summary>
    public long Next { get; private set; }

    public void Add(IkeDebugObserved e) => _ring[Next++ % _ring.Length] = e;

    /// <summary>
    /// The lines of the events from <paramref name="cursor"/> on that pass <paramref name="filter"/>, at most
    /// <paramref name="max"/> events looked at; the cursor to read from next, and how many events were lost before it
    /// (overwritten before this reader came).
    /// </summary>
    public (IReadOnlyList<string> Lines, long Next, long Missed) Read(long cursor, IkeDebugFilter filter, int max)
    {
        var oldest = Math.Max(0, Next - _ring.Length);
        var missed = Math.Max(0, oldest - cursor);
        var from = Math.Max(cursor, oldest);
        var to = Math.Min(Next, from + max);
        var lines = new List<string>();
        for (var i = from; i < to; i++)
        {
            var e = _ring[i % _ring.Length];
            if (filter.Matches(e)) lines.Add(IkeDebugFormat.Line(e));
        }
        return (lines, to, missed);
    }
}

/// <summary>
/// Published by <see cref="IkeDebugActor"/> when a console starts or stops reading (and again every
/// <see cref="IkeDebugActor.IdleAfter"/> while one reads, for fronts started since): the IKE fronts build debug events
/// only while <paramref name="Listening"/>, so an IKE flood with no console costs nothing more.
/// </summary>
public sealed record IkeDebugListening(string Serial, bool Listening);

/// <summary>A console's poll: the IKE debug lines from <paramref name="Cursor"/> on (-1: none yet, start from now).</summary>
public sealed record ReadIkeDebug(long Cursor, IkeDebugFilter Filter);

public sealed record IkeDebugLines(IReadOnlyList<string> Lines, long Next, long Missed);

/// <summary>
/// Keeps the unit's IKE debug events for consoles that run `diagnose debug application ike`. It listens on the event
/// stream only while a console reads (a read in the last <see cref="IdleAfter"/>) and tells the fronts so
/// (<see cref="IkeDebugListening"/>); otherwise it holds nothing and the fronts build no events.
/// </summary>
public sealed class IkeDebugActor : ReceiveActor, IWithTimers
{
    public const int RingCapacity = 1000;

    /// <summary>At most this many events are looked at per read: a console's screen is not scrolled by thousands at once.</summary>
    public const int MaxPerRead = 200;

    public static readonly TimeSpan IdleAfter = TimeSpan.FromSeconds(10);

    private sealed record IdleCheck
    {
        public static readonly IdleCheck Instance = new();
    }

    private readonly string _serial;
    private readonly TimeProvider _time;
    private IkeDebugRing? _ring;
    private DateTimeOffset _lastRead;

    public ITimerScheduler Timers { get; set; } = null!;

    public IkeDebugActor(string serial, TimeProvider? time)
    {
        _serial = serial;
        _time = time ?? TimeProvider.System;
        Receive<IkeDebugObserved>(e =>
        {
            if (e.Serial == _serial) _ring?.Add(e);
        });
        Receive<ReadIkeDebug>(OnRead);
        Receive<IdleCheck>(_ =>
        {
            if (_ring is null) return;
            if (_time.GetUtcNow() - _lastRead < IdleAfter)
            {
                Context.System.EventStream.Publish(new IkeDebugListening(_serial, true));
                return;
            }
            Context.System.EventStream.Unsubscribe(Self, typeof(IkeDebugObserved));
            Context.System.EventStream.Publish(new IkeDebugListening(_serial, false));
            _ring = null;
            Timers.Cancel("idle");
        });
    }

    public static Props Props(string serial, TimeProvider? time = null) => Akka.Actor.Props.Create(() => new IkeDebugActor(serial, time));

    private void OnRead(ReadIkeDebug read)
    {
        _lastRead = _time.GetUtcNow();
        if (_ring is null)
        {
            _ring = new IkeDebugRing(RingCapacity);
            Context.System.EventStream.Subscribe(Self, typeof(IkeDebugObserved));
            Context.System.EventStream.Publish(new IkeDebugListening(_serial, true));
            Timers.StartPeriodicTimer("idle", IdleCheck.Instance, IdleAfter);
        }
        // A first read (or one from before the ring was restarted) starts from now.
        if (read.Cursor < 0 || read.Cursor > _ring.Next)
        {
            Sender.Tell(new IkeDebugLines([], _ring.Next, 0));
            return;
        }
        var (lines, next, missed) = _ring.Read(read.Cursor, read.Filter, MaxPerRead);
        Sender.Tell(new IkeDebugLines(lines, next, missed));
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        if (_ring is not null) Context.System.EventStream.Publish(new IkeDebugListening(_serial, false));
    }
}
