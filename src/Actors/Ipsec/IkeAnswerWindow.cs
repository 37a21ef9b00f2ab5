using ClusterActors.Protocol.Ike;

namespace ClusterActors.Actors.Ipsec;

/// <summary>What <see cref="IkeAnswerWindow{TWaiting}.Offer"/> decided for one IKE datagram from the wire.</summary>
public enum IkeWindowVerdict
{
    /// <summary>Tell it to the unit with the tag given: a slot waits for its <see cref="IkeReplies"/>.</summary>
    Admitted,

    /// <summary>Dropped on a header look (size, payload count, <see cref="IkeAdmission.ScreenOnly"/>): never reaches the unit.</summary>
    Oversized,

    /// <summary>Dropped: the window is full of datagrams the unit has not answered yet (UDP may lose it; a peer retransmits).</summary>
    Shed,
}

/// <summary>
/// The front of a packet path into the unit's IKE (the kernel-packet path's <c>ForwardingActor</c>, the UDP socket's
/// <c>IkeUdpListener</c>): each datagram is screened for size before the unit, then *told* to it with a tag (no Ask, i.e.
/// no temporary actor and timer per datagram), and at most <see cref="Capacity"/> wait for their answer; beyond that a
/// flood is shed and counted instead of queued. A slot whose answer has not come <see cref="AnswerTimeout"/> after it was
/// taken is freed (counted not answered: a restarted gateway, a lost message), so lost answers cannot close the window for
/// good; its late answer then finds no slot and is ignored. Pure and single-threaded: its owner serialises the calls.
/// </summary>
/// <typeparam name="TWaiting">Where a datagram's answer goes (peer and local addresses and ports).</typeparam>
public sealed class IkeAnswerWindow<TWaiting>
{
    /// <summary>Datagrams told to the unit and not answered yet, at most (README "Admission under flood").</summary>
    public const int DefaultCapacity = 1024;

    /// <summary>An answer that has not come after this long is given up (the peer retransmits) and its slot freed.</summary>
    public static readonly TimeSpan DefaultAnswerTimeout = TimeSpan.FromSeconds(10);

    private sealed record Slot(long Tag, TWaiting Waiting, long TakenAt);

    private readonly TimeProvider _time;
    private readonly IkeAdmissionSettings _limits;
    // Slots in the order taken, so the oldest is first: freeing expired ones looks only at those that expired.
    private readonly LinkedList<Slot> _byAge = new();
    private readonly Dictionary<long, LinkedListNode<Slot>> _byTag = new();
    private long _lastTag;

    public IkeAnswerWindow(TimeProvider time, int capacity = DefaultCapacity, TimeSpan? answerTimeout = null, IkeAdmissionSettings? limits = null)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "at least one datagram must be able to wait");
        _time = time;
        Capacity = capacity;
        AnswerTimeout = answerTimeout ?? DefaultAnswerTimeout;
        if (AnswerTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(answerTimeout), AnswerTimeout, "must be positive");
        _limits = limits ?? new IkeAdmissionSettings();
    }

    public int Capacity { get; }

    public TimeSpan AnswerTimeout { get; }

    /// <summary>Datagrams told to the unit whose answer has not come (expired slots included until the next <see cref="Offer"/> or <see cref="Expire"/>).</summary>
    public int InFlight => _byTag.Count;

    /// <summary>Datagrams dropped on the header look (<see cref="IkeWindowVerdict.Oversized"/>).</summary>
    public long Oversized { get; private set; }

    /// <summary>Datagrams dropped because the window was full (<see cref="IkeWindowVerdict.Shed"/>).</summary>
    public long Shed { get; private set; }

    /// <summary>Slots freed because their answer did not come within <see cref="AnswerTimeout"/>.</summary>
    public long NotAnswered { get; private set; }

    /// <summary>Admitted datagrams whose answer came back in time.</summary>
    public long Answered { get; private set; }

    /// <summary>
    /// One datagram from the wire: screened, then admitted with a fresh <paramref name="tag"/> (copy it into the
    /// <see cref="IkeDatagram.Tag"/> told to the unit) or dropped. Expired slots are freed first, so a window full of
    /// unanswered datagrams admits again from the instant the oldest reaches <see cref="AnswerTimeout"/>.
    /// </summary>
    public IkeWindowVerdict Offer(ReadOnlySpan<byte> message, TWaiting waiting, out long tag)
    {
        tag = 0;
        if (IkeAdmission.ScreenOnly(message, _limits) is IkeDropCause.Oversized or IkeDropCause.OversizedInit or IkeDropCause.TooManyPayloads)
        {
            Oversized++;
            return IkeWindowVerdict.Oversized;
        }
        Expire();
        if (_byTag.Count >= Capacity)
        {
            Shed++;
            return IkeWindowVerdict.Shed;
        }
        tag = ++_lastTag;
        _byTag[tag] = _byAge.AddLast(new Slot(tag, waiting, _time.GetTimestamp()));
        return IkeWindowVerdict.Admitted;
    }

    /// <summary>The unit answered the datagram told with <paramref name="tag"/>: where the answer goes, and its slot freed.
    /// False for a tag never given, already answered, or given up (the peer has retransmitted by then).</summary>
    public bool TryAnswer(long tag, out TWaiting waiting)
    {
        if (!_byTag.Remove(tag, out var node))
        {
            waiting = default!;
            return false;
        }
        _byAge.Remove(node);
        Answered++;
        waiting = node.Value.Waiting;
        return true;
    }

    /// <summary>Frees every slot taken <see cref="AnswerTimeout"/> or longer ago; returns how many.</summary>
    public int Expire()
    {
        var freed = 0;
        while (_byAge.First is { } oldest && _time.GetElapsedTime(oldest.Value.TakenAt) >= AnswerTimeout)
        {
            _byAge.RemoveFirst();
            _byTag.Remove(oldest.Value.Tag);
            freed++;
        }
        NotAnswered += freed;
        return freed;
    }
}
