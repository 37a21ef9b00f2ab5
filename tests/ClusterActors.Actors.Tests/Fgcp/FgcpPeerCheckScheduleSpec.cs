using ClusterActors.Actors.Cli;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Actors.Tests.Fgcp;

/// <summary>
/// When FGCP's peer check runs (<see cref="FgcpPeerTable.CheckTimer"/>): at the first peer's hb-lost deadline, not on a
/// fixed tick. Driven as FgcpActor drives it (a one-shot timer started with whatever CheckTimer returns, heartbeats in
/// between) on a <see cref="FakeTimeProvider"/>, no actor system. At `hb-interval-in-milliseconds 10ms`, hb-interval 1,
/// hb-lost-threshold 5 the hb-lost window is 50 ms: with the old fixed 25 ms check a silent peer was declared lost up to
/// 75 ms after its last heartbeat, half a window late.
/// </summary>
public sealed class FgcpPeerCheckScheduleSpec
{
    private const string Vm1 = "FGVM02TM22000001";
    private const string Vm2 = "FGVM02TM22000002";
    private const string Checksum = "0123456789abcdef0123456789abcdef";

    private static HaConfig Ha(int hbInterval, int threshold, string unit, int priority) => FortiConfig.Parse($$"""
        config system ha
            set group-id 1
            set group-name "DC2_VM12"
            set mode a-p
            set password secret
            set hbdev "port4" 50
            set hb-interval-in-milliseconds {{unit}}
            set hb-interval {{hbInterval}}
            set hb-lost-threshold {{threshold}}
            set hello-holddown 5
            set priority {{priority}}
        end
        """).Value!.Ha;

    /// <summary>The 10 ms heartbeats: 10 ms × 5 = 50 ms.</summary>
    private static HaConfig Ha10Ms(int priority = 100) => Ha(1, 5, "10ms", priority);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 8, 0, 0, TimeSpan.Zero));
    private long _sequence;

    private FgcpHeartbeat Hb(HaConfig ha, string serial = Vm1, int priority = 200, HaState state = HaState.Work, HaRole role = HaRole.Primary) =>
        new(serial, "DC2_VM1", 1, "DC2_VM12", FgcpPeerTable.ComputePasswordProof(ha), priority, false, 0, 0,
            state, role, state == HaState.Work ? serial : null, ++_sequence, 1, [], Checksum);

    /// <summary>
    /// FgcpActor's loop on fake time: its own heartbeat timer (every hb-interval, <see cref="FgcpPeerTable.HeartbeatDue"/>),
    /// the peer's heartbeats (every <paramref name="every"/> until <paramref name="silentFrom"/>) and the checks CheckTimer
    /// schedules, in time order, for <paramref name="duration"/>. Returns when the peer was declared lost (time since the
    /// start) and how many checks ran.
    /// </summary>
    private (TimeSpan? LostAt, int Checks) Run(FgcpPeerTable t, HaConfig ha, TimeSpan every, TimeSpan silentFrom, TimeSpan duration)
    {
        var start = _time.GetUtcNow();
        TimeSpan Now() => _time.GetUtcNow() - start;
        TimeSpan? checkAt = null;
        var nextHb = TimeSpan.Zero;
        var nextBeat = ha.HeartbeatInterval / 2; // this unit's own heartbeats, half a period off the peer's
        var checks = 0;
        void Schedule()
        {
            if (t.CheckTimer() is { } delay) checkAt = Now() + delay;
        }
        Schedule();
        while (true)
        {
            var hbDue = nextHb < silentFrom ? nextHb : TimeSpan.MaxValue;
            var next = new[] { checkAt ?? TimeSpan.MaxValue, hbDue, nextBeat }.Min();
            if (next > duration) return (null, checks);
            _time.Advance(next - Now());
            if (checkAt == next)
            {
                checkAt = null;
                checks++;
                t.Tick();
                if (!t.Peers.ContainsKey(Vm1)) return (Now(), checks);
            }
            else if (hbDue == next)
            {
                t.Heard(Hb(ha), "port4");
                nextHb += every;
            }
            else
            {
                t.HeartbeatDue();
                nextBeat += ha.HeartbeatInterval;
            }
            Schedule();
        }
    }

    /// <summary>A secondary that has formed with its primary (heard twice), on fake time now.</summary>
    private FgcpPeerTable Secondary(HaConfig ha)
    {
        var t = new FgcpPeerTable(Vm2, ha, 0, _time) { SyncedChecksum = Checksum };
        t.Start();
        t.Heard(Hb(ha, state: HaState.Hello, role: HaRole.Secondary), "port4");
        t.Heard(Hb(ha, state: HaState.Hello, role: HaRole.Secondary), "port4");
        Assert.Equal((HaState.Work, HaRole.Secondary, Vm1), (t.State, t.Role, t.PrimarySerial));
        return t;
    }

    [Fact]
    public void At_10ms_heartbeats_a_silent_primary_is_lost_within_the_hb_lost_window_plus_one_heartbeat()
    {
        var ha = Ha10Ms();
        Assert.Equal(TimeSpan.FromMilliseconds(50), ha.LostAfter);
        // The primary's last heartbeats come at every phase against the checks: whatever the phase, the same bound.
        for (var lastAtMs = 300; lastAtMs < 310; lastAtMs++)
        {
            var t = Secondary(ha);
            _time.Advance(TimeSpan.FromMilliseconds(lastAtMs % 10 + 1)); // shifts the heartbeats against the check schedule
            var silentFrom = TimeSpan.FromMilliseconds(300) + TimeSpan.FromMilliseconds(1);
            var (lostAt, _) = Run(t, ha, TimeSpan.FromMilliseconds(10), silentFrom, TimeSpan.FromSeconds(1));
            Assert.NotNull(lostAt);
            var afterLastHeartbeat = lostAt.Value - TimeSpan.FromMilliseconds(300);
            Assert.True(afterLastHeartbeat > ha.LostAfter, $"lost {afterLastHeartbeat.TotalMilliseconds} ms after the last heartbeat: not before the window ends");
            Assert.True(afterLastHeartbeat <= ha.LostAfter + ha.HeartbeatInterval,
                $"lost {afterLastHeartbeat.TotalMilliseconds} ms after the last heartbeat; bound hb-interval × hb-lost-threshold + one heartbeat = {(ha.LostAfter + ha.HeartbeatInterval).TotalMilliseconds} ms");
            Assert.Equal((HaRole.Primary, Vm2), (t.Role, t.PrimarySerial));
        }
    }

    [Fact]
    public void A_primary_heard_every_10ms_is_never_lost_and_checked_about_once_per_hb_lost_window()
    {
        var ha = Ha10Ms();
        var t = Secondary(ha);
        var (lostAt, checks) = Run(t, ha, TimeSpan.FromMilliseconds(10), TimeSpan.MaxValue, TimeSpan.FromSeconds(10));
        Assert.Null(lostAt);
        Assert.Equal(0, t.Stalls);
        // A check 41–51 ms after the last one (the deadline moves with each heartbeat): 196–244 in 10 s, not 400 at 25 ms.
        Assert.InRange(checks, 10_000 / 51, 10_000 / 41 + 1);
    }

    /// <summary>Issue 13 goal 1 (idle costs nothing): at the VM defaults the check runs once per 4 s window, not 40 times a second.</summary>
    [Fact]
    public void An_idle_pair_at_the_VM_defaults_checks_once_per_hb_lost_window()
    {
        var ha = Ha(2, 20, "100ms", 100);
        var t = Secondary(ha);
        var (lostAt, checks) = Run(t, ha, ha.HeartbeatInterval, TimeSpan.MaxValue, TimeSpan.FromSeconds(60));
        Assert.Null(lostAt);
        Assert.InRange(checks, 14, 16); // at 4,001 ms, 8,001 ms, …: 14 in the first 60 s
    }

    [Fact]
    public void The_check_due_moves_earlier_when_a_peer_joins_a_unit_waiting_out_hello_holddown()
    {
        var ha = Ha10Ms();
        var t = new FgcpPeerTable(Vm2, ha, 0, _time) { SyncedChecksum = Checksum };
        t.Start();
        Assert.Equal(TimeSpan.FromSeconds(5), t.CheckTimer()); // alone: nothing before hello-holddown ends
        Assert.Null(t.CheckTimer()); // the scheduled check stands
        _time.Advance(TimeSpan.FromMilliseconds(100));
        t.Heard(Hb(ha, state: HaState.Hello, role: HaRole.Secondary), "port4");
        Assert.Equal(ha.LostAfter + FgcpPeerTable.LossCheckMargin, t.CheckTimer()); // the newcomer's window ends first
        _time.Advance(TimeSpan.FromMilliseconds(10));
        t.Heard(Hb(ha, state: HaState.Hello, role: HaRole.Secondary), "port4");
        Assert.Null(t.CheckTimer()); // a later deadline: the check already scheduled runs and reschedules
        Assert.Equal(TimeSpan.FromMilliseconds(41), t.CheckTimer(timerLost: true)); // a new actor restarts the one scheduled
    }

    /// <summary>
    /// The stall rule (README, "A unit that stalls") on the scheduled check: its owner's timers wake it every hb-interval, so
    /// a longer gap is this unit's own stall, noticed by whichever timer runs first after it.
    /// </summary>
    [Fact]
    public void A_check_or_heartbeat_timer_run_after_a_stall_declares_no_peer_lost()
    {
        var ha = Ha10Ms();
        var t = Secondary(ha);
        Assert.Same(FgcpOutput.Nothing, t.HeartbeatDue());
        Assert.Equal(TimeSpan.FromMilliseconds(51), t.CheckTimer());
        _time.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Same(FgcpOutput.Nothing, t.HeartbeatDue());
        _time.Advance(TimeSpan.FromMilliseconds(441)); // frozen: the check due at 51 ms runs at 451 ms
        var resumed = t.Tick();
        Assert.True(t.Peers.ContainsKey(Vm1));
        Assert.Equal(["peer check ran 431ms late: this unit was stalled; its peers get a fresh hb-lost window of 50ms from now"], resumed.History);
        Assert.Equal((HaRole.Secondary, Vm1, 1L), (t.Role, t.PrimarySerial, t.Stalls));

        // Frozen again; this time the heartbeat timer runs first after it, and the overdue check after that judges nothing.
        Assert.Equal(TimeSpan.FromMilliseconds(51), t.CheckTimer());
        _time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.Equal(["heartbeat timer ran 190ms late: this unit was stalled; its peers get a fresh hb-lost window of 50ms from now"], t.HeartbeatDue().History);
        Assert.Same(FgcpOutput.Nothing, t.Tick());
        Assert.True(t.Peers.ContainsKey(Vm1));
        Assert.Equal(2L, t.Stalls);

        // Late by exactly the tolerance (hb-interval + 25 ms since the last timer): an ordinary check, the silent peer is lost.
        Assert.Equal(TimeSpan.FromMilliseconds(51), t.CheckTimer());
        for (var i = 0; i < 4; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(10));
            Assert.Same(FgcpOutput.Nothing, t.HeartbeatDue());
        }
        _time.Advance(TimeSpan.FromMilliseconds(35));
        Assert.Contains(t.Tick().History, l => l.StartsWith("member 'FGVM02TM22000001' is lost: no heartbeat for 50ms"));
        Assert.Equal(2L, t.Stalls);
    }

    /// <summary>The handover bridge seals heartbeats for a parked table; that is not this unit running (FgcpHandover).</summary>
    [Fact]
    public void Sealing_alone_does_not_hide_a_stall()
    {
        var ha = Ha10Ms();
        var t = Secondary(ha);
        Assert.Same(FgcpOutput.Nothing, t.HeartbeatDue());
        for (var i = 0; i < 100; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(10));
            t.Seal(Hb(ha, serial: Vm2));
        }
        Assert.Single(t.HeartbeatDue().History, l => l.StartsWith("heartbeat timer ran 990ms late"));
        Assert.True(t.Peers.ContainsKey(Vm1));
    }

    [Fact]
    public void A_standalone_unit_schedules_no_check()
    {
        var ha = Ha10Ms() with { Mode = HaMode.Standalone };
        var t = new FgcpPeerTable(Vm2, ha, 0, _time);
        t.Start();
        Assert.Null(t.CheckTimer());
    }
}

/// <summary>The heartbeat timer's punctuality in `HaStatusSnapshot` (read by the hb-soak benchmark).</summary>
public sealed class HeartbeatTimerStatsSpec
{
    [Theory]
    [InlineData(-3, 0)]
    [InlineData(0, 0)]
    [InlineData(5, 0)]
    [InlineData(5.1, 1)]
    [InlineData(25, 2)]
    [InlineData(40, 3)]
    [InlineData(100, 4)]
    [InlineData(101, 5)]
    public void Lateness_falls_in_its_bucket(double ms, int bucket) =>
        Assert.Equal(bucket, HeartbeatTimerStats.Bucket(TimeSpan.FromMilliseconds(ms)));

    /// <summary>Static initialization order: None reads BucketEdgesMs (declared after it, None threw TypeInitializationException).</summary>
    [Fact]
    public void A_unit_that_never_beat_has_an_empty_count_per_bucket() =>
        Assert.Equal(new long[HeartbeatTimerStats.BucketEdgesMs.Count + 1], HeartbeatTimerStats.None.LateBuckets);
}
