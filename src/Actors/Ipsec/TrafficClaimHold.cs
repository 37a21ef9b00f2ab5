namespace ClusterActors.Actors.Ipsec;

/// <summary>
/// A traffic claim's outbound hold, as a pure rule (README "The hand-off of a traffic claim"; FortiOS documents nothing,
/// our choice). A standby that claims a tunnel by the client's traffic sends from the previous owner's synced number +
/// 2^28, above all it sent; but a frame the previous owner encrypts after the claimer's first one (a reply the DC core
/// still routed to it) reaches the client left of its window and is dropped as too old, a drop no numbering avoids
/// (container flapping-uplink, CI trial 13 of the fourteenth session: one; in passing runs the old owner's last frame
/// left 3–10 ms before the new owner's first). So the claimer holds what it would encrypt, in order, until the previous
/// owner says it encrypts nothing more on the tunnel (<see cref="Protocol.Ipsec.TunnelReleased"/>, from the serial the
/// claim took the tunnel from, at a generation past the one it held), or until <see cref="MaxWait"/> (the actor's
/// timer: an old owner that cannot answer). Nothing is dropped while waiting except past <see cref="MaxHeld"/> frames.
/// </summary>
/// <typeparam name="T">What is held: a frame to encrypt and whom to answer.</typeparam>
public sealed class TrafficClaimHold<T>
{
    /// <summary>How long a claimer waits for the release: the old owner's answer takes two Akka hops (a few ms in the
    /// container lab); an old owner still sending after this would have to receive replies for that long after the
    /// client moved, which only the DC core's last few do.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(50);

    /// <summary>Frames held at most (50 ms at 10,000 pps); more are dropped and counted.</summary>
    public const int MaxHeld = 512;

    private readonly Queue<T> _held = new();
    private long _heldGeneration;

    /// <summary>The serial whose release ends the hold; null while not holding.</summary>
    public string? WaitingFor { get; private set; }

    public bool IsHolding => WaitingFor is not null;

    /// <summary>Frames dropped because the hold was full or cancelled (<see cref="Cancel"/>).</summary>
    public long Dropped { get; private set; }

    /// <summary>The claim is made: hold until <paramref name="previousOwner"/> releases a generation past
    /// <paramref name="generation"/> (the record's the claim was made from). A hold already running keeps its frames.</summary>
    public void Start(string previousOwner, long generation)
    {
        WaitingFor = previousOwner;
        _heldGeneration = generation;
    }

    /// <summary>Holds <paramref name="item"/>; false when not holding (send it now) or when full (dropped, counted).</summary>
    public bool TryHold(T item, out bool dropped)
    {
        dropped = false;
        if (!IsHolding) return false;
        if (_held.Count >= MaxHeld)
        {
            Dropped++;
            dropped = true;
            return true;
        }
        _held.Enqueue(item);
        return true;
    }

    /// <summary>A release arrived: the held frames to send now, oldest first, when it is the awaited owner's at a newer
    /// generation; empty (and still holding) otherwise.</summary>
    public IReadOnlyList<T> Released(string fromSerial, long generation) =>
        IsHolding && fromSerial == WaitingFor && generation > _heldGeneration ? End() : [];

    /// <summary>The wait is over (<see cref="MaxWait"/>): the held frames to send now, oldest first.</summary>
    public IReadOnlyList<T> Expired() => End();

    /// <summary>The claim is void (refused, or another unit's record won): the held frames are dropped and counted.</summary>
    public void Cancel()
    {
        Dropped += _held.Count;
        _held.Clear();
        WaitingFor = null;
    }

    private IReadOnlyList<T> End()
    {
        var items = _held.ToArray();
        _held.Clear();
        WaitingFor = null;
        return items;
    }
}
