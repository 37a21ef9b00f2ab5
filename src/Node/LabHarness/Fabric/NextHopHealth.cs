namespace ClusterActors.Node.LabHarness.Fabric;

/// <summary>What one event did to a next hop's liveness.</summary>
public enum HealthChange
{
    None = 0,
    WentDown,
    WentUp,
}

/// <summary>
/// The liveness of one ECMP next hop, driven by ICMP echo probes, pure (no timer, no I/O, time passed in): the router
/// calls <see cref="ProbeDue"/> once per probe interval just before sending a probe, and <see cref="Answered"/> when an
/// echo reply for one of this next hop's probes comes back. A probe still unanswered when the next one is due is a
/// miss; <c>missedProbesToDead</c> consecutive misses take the next hop out of the route, the first answer puts it
/// back. Losing carrier on the router's own leg takes it out at once (a connected route going away). Not thread-safe:
/// the router serialises calls per route.
/// </summary>
public sealed class NextHopHealth
{
    /// <summary>Replies to probes this far behind the newest still count (a late reply still proves the peer alive).</summary>
    public const int AcceptedReplyWindow = 16;

    public NextHopHealth(int missedProbesToDead, bool initiallyAlive = true)
    {
        if (missedProbesToDead < 1)
            throw new ArgumentOutOfRangeException(nameof(missedProbesToDead), missedProbesToDead, "At least one missed probe is needed to declare a next hop dead.");
        MissedProbesToDead = missedProbesToDead;
        Alive = initiallyAlive;
    }

    public int MissedProbesToDead { get; }
    public bool Alive { get; private set; }
    /// <summary>Misses since the last answer.</summary>
    public int ConsecutiveMissed { get; private set; }
    public long ProbesSent { get; private set; }
    public long ProbesAnswered { get; private set; }
    public long ProbesMissed { get; private set; }
    /// <summary>When the next hop last went down (the caller's clock), while it is down.</summary>
    public TimeSpan? DownSince { get; private set; }
    /// <summary>When it last changed state either way (the caller's clock); null before the first change.</summary>
    public TimeSpan? LastChange { get; private set; }
    /// <summary>The sequence number of the newest probe (<see cref="ProbeDue"/> advances it).</summary>
    public ushort Sequence { get; private set; }
    /// <summary>Whether the newest probe is still unanswered.</summary>
    public bool Outstanding { get; private set; }

    /// <summary>
    /// A probe is due: counts the previous probe as missed if it is still unanswered, then registers a new probe
    /// (sequence <see cref="Sequence"/>, to be sent by the caller).
    /// </summary>
    public HealthChange ProbeDue(TimeSpan now)
    {
        var change = HealthChange.None;
        if (Outstanding)
        {
            ProbesMissed++;
            ConsecutiveMissed++;
            if (Alive && ConsecutiveMissed >= MissedProbesToDead)
                change = GoDown(now);
        }
        Sequence++;
        ProbesSent++;
        Outstanding = true;
        return change;
    }

    /// <summary>An echo reply with <paramref name="sequence"/> arrived: restores the next hop if it was down.</summary>
    public HealthChange Answered(ushort sequence, TimeSpan now)
    {
        if (ProbesSent == 0 || (ushort)(Sequence - sequence) >= AcceptedReplyWindow)
            return HealthChange.None; // not one of ours, or far too old
        if (sequence == Sequence)
        {
            if (!Outstanding)
                return HealthChange.None; // duplicate
            Outstanding = false;
        }
        ProbesAnswered++;
        ConsecutiveMissed = 0;
        if (Alive)
            return HealthChange.None;
        Alive = true;
        DownSince = null;
        LastChange = now;
        return HealthChange.WentUp;
    }

    /// <summary>The router's leg towards this next hop lost carrier: down now, without waiting for probes.</summary>
    public HealthChange CarrierLost(TimeSpan now) => Alive ? GoDown(now) : HealthChange.None;

    /// <summary>Forces the state (static routes without probing follow their leg's carrier through this).</summary>
    public HealthChange Set(bool alive, TimeSpan now)
    {
        if (alive == Alive)
            return HealthChange.None;
        if (!alive)
            return GoDown(now);
        Alive = true;
        DownSince = null;
        LastChange = now;
        ConsecutiveMissed = 0;
        return HealthChange.WentUp;
    }

    private HealthChange GoDown(TimeSpan now)
    {
        Alive = false;
        DownSince = now;
        LastChange = now;
        return HealthChange.WentDown;
    }
}
