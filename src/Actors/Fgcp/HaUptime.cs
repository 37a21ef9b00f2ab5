namespace ClusterActors.Actors.Fgcp;

/// <summary>
/// When this unit's HA uptime started, as a <see cref="TimeProvider"/> timestamp. Owned by the host, like the hbdev
/// sockets, and handed to every FGCP actor it starts: a FGCP actor restarted by its supervisor (or a unit whose
/// ActorSystem is started again to rejoin Akka) keeps counting from the same start, so it does not enter the next
/// election with an uptime of 0 and lose to a peer it should beat by the uptime margin. Only what FortiOS resets HA
/// uptime for resets it: a monitored interface failing, `diagnose sys ha reset-uptime`, the process starting.
/// One actor uses it at a time; a 64-bit field is read and written atomically.
/// </summary>
public sealed class HaUptime(TimeProvider clock)
{
    private long _start = clock.GetTimestamp();

    public TimeProvider Clock => clock;

    public long Start => Interlocked.Read(ref _start);

    public TimeSpan Elapsed => clock.GetElapsedTime(Start);

    public void Reset() => Interlocked.Exchange(ref _start, clock.GetTimestamp());
}
