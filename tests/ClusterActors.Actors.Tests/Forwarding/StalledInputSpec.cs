using ClusterActors.Actors.Forwarding;
using ClusterActors.Protocol.Config;

namespace ClusterActors.Actors.Tests.Forwarding;

/// <summary>
/// The rule for frames that waited in a unit's input while it was stalled (chaos drill: SIGSTOP of the owner, whose
/// queued frames it answered on SIGCONT from its stale outbound counter; CLIENT1 dropped 1,203–1,282 as replays).
/// </summary>
public sealed class StalledInputSpec
{
    /// <summary>hb-interval 2 (200 ms) × hb-lost-threshold 6: the peers fail over after 1.2 s; tolerance 600 ms.</summary>
    private static HaConfig Ha(string mode = "a-p") => FortiConfig.Parse($$"""
        config system ha
            set group-id 1
            set group-name "DC2_VM12"
            set mode {{mode}}
            set hbdev "port4" 50
            set hb-interval 2
            set hb-lost-threshold 6
        end
        """).Value!.Ha;

    [Fact]
    public void A_frame_that_waited_through_a_stall_longer_than_half_the_hb_lost_window_is_stale()
    {
        var ha = Ha();
        Assert.Equal(TimeSpan.FromMilliseconds(600), StalledInput.Tolerance(ha));
        // Frames queued during a 2.3 s freeze, before the peer took over at 1.2 s: at SIGCONT they have waited >= 1.1 s.
        Assert.True(StalledInput.IsStale(TimeSpan.FromMilliseconds(1100), ha));
        Assert.True(StalledInput.IsStale(TimeSpan.FromMilliseconds(601), ha));
    }

    [Fact]
    public void A_frame_handled_within_the_tolerance_is_forwarded_as_usual()
    {
        var ha = Ha();
        Assert.False(StalledInput.IsStale(TimeSpan.Zero, ha));
        Assert.False(StalledInput.IsStale(TimeSpan.FromMilliseconds(50), ha)); // a busy unit, not a stalled one
        Assert.False(StalledInput.IsStale(TimeSpan.FromMilliseconds(600), ha));
    }

    [Fact]
    public void A_standalone_unit_has_nobody_to_fail_over_to_and_forwards_what_waited()
    {
        Assert.False(StalledInput.IsStale(TimeSpan.FromSeconds(5), Ha(mode: "standalone")));
    }
}
