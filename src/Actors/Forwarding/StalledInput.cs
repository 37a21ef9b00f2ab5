using ClusterActors.Protocol.Config;

namespace ClusterActors.Actors.Forwarding;

/// <summary>
/// Frames that waited in a unit's input while the unit itself did not run (SIGSTOP, a hang): pure rule, README
/// "A unit that stalls". A frame handled more than half the hb-lost window after it arrived belongs to a time when this
/// unit's peers may already have declared it lost and taken its tunnels over (they do so after the whole window), so
/// forwarding it could send ESP from a counter the new owner has passed: the client drops it as a replay. Such a frame
/// is dropped and counted ("stale after stall"), as an overflowed receive ring would lose it; what arrives after the
/// unit runs again is judged by FGCP and the tunnel records as usual.
/// </summary>
public static class StalledInput
{
    /// <summary>How long a frame may wait in the unit's input: half the hb-lost window (the FGCP stall tolerance).</summary>
    public static TimeSpan Tolerance(HaConfig ha) => ha.LostAfter / 2;

    /// <summary>How long a frame may wait before it is stale: <see cref="Tolerance"/>, or zero (never stale) for a
    /// standalone unit, which has no peer to fail over to.</summary>
    public static TimeSpan StaleAfter(HaConfig ha) => ha.Mode == HaMode.Standalone ? TimeSpan.Zero : Tolerance(ha);

    /// <summary>True when the frame waited longer than <see cref="StaleAfter"/>.</summary>
    public static bool IsStale(TimeSpan waited, HaConfig ha) => IsStale(waited, StaleAfter(ha));

    /// <summary>True when <paramref name="staleAfter"/> is set (not zero) and the frame waited longer.</summary>
    public static bool IsStale(TimeSpan waited, TimeSpan staleAfter) => staleAfter > TimeSpan.Zero && waited > staleAfter;
}
