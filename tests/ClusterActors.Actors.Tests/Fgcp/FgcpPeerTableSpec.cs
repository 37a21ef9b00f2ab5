using ClusterActors.Actors.Cli;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.History;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Actors.Tests.Fgcp;

/// <summary>
/// FGCP's peer table and re-election triggers with synthetic heartbeats and a <see cref="FakeTimeProvider"/>, no actor
/// system (in the style of Akka's SplitBrainResolverSpec): peer seen, peer lost after hb-interval × hb-lost-threshold,
/// hello-holddown, split brain and its heal, and heartbeats that must change nothing (malformed, mismatched, floods).
/// </summary>
public sealed class FgcpPeerTableSpec
{
    private const string Vm1 = "FGVM02TM22000001";
    private const string Vm2 = "FGVM02TM22000002";
    private const string Checksum = "0123456789abcdef0123456789abcdef";

    /// <summary>hb-interval 2 (200 ms) × hb-lost-threshold 5: lost after 1 s; hello-holddown 5 s; margin 1 s.</summary>
    private static HaConfig Ha(int priority = 128, bool overrideOn = false, string password = "secret") => FortiConfig.Parse($$"""
        config system interface
            edit "port2"
            next
        end
        config system ha
            set group-id 1
            set group-name "DC2_VM12"
            set mode a-p
            set password {{password}}
            set hbdev "port4" 50
            set hb-interval 2
            set hb-lost-threshold 5
            set hello-holddown 5
            set ha-uptime-diff-margin 1
            set priority {{priority}}
            set override {{(overrideOn ? "enable" : "disable")}}
            set monitor "port2"
        end
        """).Value!.Ha;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 5, 20, 0, 0, TimeSpan.Zero));
    private long _sequence;

    private FgcpPeerTable Table(string serial = Vm1, HaConfig? ha = null, int monitorUp = 1)
    {
        var table = new FgcpPeerTable(serial, ha ?? Ha(), monitorUp, _time) { SyncedChecksum = Checksum };
        table.Start();
        return table;
    }

    private FgcpHeartbeat Hb(string serial = Vm2, int priority = 128, int monitorUp = 1, long uptimeMs = 0, HaState state = HaState.Hello,
        HaRole role = HaRole.Secondary, HaConfig? ha = null, long incarnation = 1) =>
        new(serial, "DC2_VM2", 1, "DC2_VM12", FgcpPeerTable.ComputePasswordProof(ha ?? Ha()), priority, false, uptimeMs, monitorUp,
            state, role, state == HaState.Work ? serial : null, ++_sequence, incarnation, [], Checksum);

    private static FgcpHeartbeat Of(FgcpPeerTable t) => new(
        t.Serial, "DC2_VM", 1, "DC2_VM12", t.PasswordProof, 128, false, (long)t.Uptime.TotalMilliseconds, t.MonitorUp, t.State, t.Role,
        t.State == HaState.Work ? t.PrimarySerial : null, 1, 1, [], Checksum);

    [Fact]
    public void A_peer_heard_twice_forms_the_cluster_and_the_election_decides()
    {
        var t = Table(ha: Ha(priority: 200));
        var first = t.Heard(Hb(), "port4");
        Assert.Equal(["new member 'FGVM02TM22000002' joins the cluster"], first.History);
        Assert.Equal(HaState.Hello, t.State);
        var second = t.Heard(Hb(), "port4");
        Assert.Equal(HaState.Work, t.State);
        Assert.Equal(HaRole.Primary, t.Role);
        Assert.Contains(second.History, l => l.Contains("its priority is larger than peer member FGVM02TM22000002"));
        Assert.Contains(new FgcpRoleSettled(HaRole.Primary, Vm1), second.Effects);
        Assert.Equal([Vm1, Vm2], t.OperatingOrder);
    }

    [Fact]
    public void Alone_the_unit_waits_hello_holddown_then_works_as_the_only_member()
    {
        var t = Table();
        _time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromMilliseconds(1));
        Assert.Same(FgcpOutput.Nothing, t.Tick());
        Assert.Equal(HaState.Hello, t.State);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        var output = t.Tick();
        Assert.Equal((HaState.Work, HaRole.Primary), (t.State, t.Role));
        Assert.Contains(output.History, l => l.Contains("because it's the only member in the cluster"));
        Assert.Contains(new FgcpNegotiated("hello-holddown expired", $"{Vm1} is selected as the primary because it's the only member in the cluster."), output.Effects);
    }

    /// <summary>The frozen secondary (chaos drill, SIGSTOP DC2_VM2 4.1 s): its overdue check runs before the queued heartbeats.</summary>
    [Fact]
    public void A_check_overdue_because_this_unit_was_stalled_declares_no_peer_lost_and_the_queued_heartbeats_keep_it()
    {
        var check = TimeSpan.FromMilliseconds(25);
        var t = new FgcpPeerTable(Vm2, Ha(priority: 128), 1, _time, check) { SyncedChecksum = Checksum };
        t.Start();
        t.Heard(Hb(serial: Vm1, priority: 200), "port4");
        t.Heard(Hb(serial: Vm1, priority: 200), "port4");
        Assert.Equal((HaState.Work, HaRole.Secondary, Vm1), (t.State, t.Role, t.PrimarySerial));
        for (var i = 0; i < 8; i++)
        {
            _time.Advance(check);
            Assert.Same(FgcpOutput.Nothing, t.Tick());
        }

        // SIGSTOP for 4.1 s: no tick runs, the primary's heartbeats queue unread; on SIGCONT the first queued tick runs first.
        _time.Advance(TimeSpan.FromMilliseconds(4100));
        var resumed = t.Tick();
        Assert.True(t.Peers.ContainsKey(Vm1));
        Assert.Equal((HaRole.Secondary, Vm1), (t.Role, t.PrimarySerial));
        Assert.DoesNotContain(resumed.Effects, e => e is FgcpRoleSettled or FgcpStateChanged);
        Assert.Equal(["peer check ran 4075ms late: this unit was stalled; its peers get a fresh hb-lost window of 1000ms from now"], resumed.History);
        Assert.Equal(1, t.Stalls);

        // The queued heartbeats and ticks follow, all at once: the primary is heard, nothing is renegotiated.
        for (var i = 0; i < 20; i++)
        {
            Assert.DoesNotContain(t.Heard(Hb(serial: Vm1, priority: 200, state: HaState.Work, role: HaRole.Primary), "port4").Effects, e => e is FgcpRoleSettled);
            Assert.Same(FgcpOutput.Nothing, t.Tick());
        }
        Assert.Equal((HaRole.Secondary, Vm1, 1L), (t.Role, t.PrimarySerial, t.Stalls));
    }

    /// <summary>The stall rule defers judgement by one hb-lost window; it does not keep a dead peer alive.</summary>
    [Fact]
    public void After_a_stall_a_peer_that_stays_silent_is_lost_one_hb_lost_window_later()
    {
        var check = TimeSpan.FromMilliseconds(25);
        var t = new FgcpPeerTable(Vm2, Ha(priority: 128), 1, _time, check) { SyncedChecksum = Checksum };
        t.Start();
        t.Heard(Hb(serial: Vm1, priority: 200), "port4");
        t.Heard(Hb(serial: Vm1, priority: 200), "port4");
        _time.Advance(TimeSpan.FromSeconds(3));
        t.Tick();
        Assert.True(t.Peers.ContainsKey(Vm1));
        var lost = FgcpOutput.Nothing;
        for (var elapsed = TimeSpan.Zero; elapsed <= TimeSpan.FromSeconds(1); elapsed += check)
        {
            _time.Advance(check);
            lost = t.Tick();
            if (!t.Peers.ContainsKey(Vm1)) break;
        }
        Assert.False(t.Peers.ContainsKey(Vm1));
        Assert.Contains("member 'FGVM02TM22000001' is lost: no heartbeat for 1000ms (hb-interval 2 x hb-lost-threshold 5)", lost.History);
        Assert.Equal((HaRole.Primary, Vm2), (t.Role, t.PrimarySerial));
    }

    /// <summary>A late tick within the tolerance (half the hb-lost window) is an ordinary tick: loss is judged at face value.</summary>
    [Fact]
    public void A_check_late_by_less_than_half_the_hb_lost_window_still_judges_a_silent_peer_lost()
    {
        var check = TimeSpan.FromMilliseconds(25);
        var t = new FgcpPeerTable(Vm2, Ha(priority: 128), 1, _time, check) { SyncedChecksum = Checksum };
        t.Start();
        t.Heard(Hb(serial: Vm1, priority: 200), "port4");
        t.Heard(Hb(serial: Vm1, priority: 200), "port4");
        for (var i = 0; i < 20; i++) { _time.Advance(TimeSpan.FromMilliseconds(25)); t.Tick(); } // 500 ms of silence
        _time.Advance(TimeSpan.FromMilliseconds(525)); // late by 500 ms, exactly the tolerance
        var output = t.Tick();
        Assert.False(t.Peers.ContainsKey(Vm1));
        Assert.Equal(0, t.Stalls);
        Assert.Contains(output.History, l => l.StartsWith("member 'FGVM02TM22000001' is lost"));
    }

    [Fact]
    public void A_peer_is_lost_after_hb_interval_times_hb_lost_threshold_and_not_a_millisecond_before()
    {
        var t = Table(ha: Ha(priority: 100));
        t.Heard(Hb(priority: 200), "port4");
        t.Heard(Hb(priority: 200), "port4");
        Assert.Equal((HaState.Work, HaRole.Secondary, Vm2), (t.State, t.Role, t.PrimarySerial));

        _time.Advance(TimeSpan.FromSeconds(1)); // 200 ms x 5: exactly the threshold is not yet lost
        Assert.Same(FgcpOutput.Nothing, t.Tick());
        Assert.True(t.Peers.ContainsKey(Vm2));

        _time.Advance(TimeSpan.FromMilliseconds(1));
        var output = t.Tick();
        Assert.False(t.Peers.ContainsKey(Vm2));
        Assert.Equal("member 'FGVM02TM22000002' is lost: no heartbeat for 1000ms (hb-interval 2 x hb-lost-threshold 5)", output.History[0]);
        Assert.Equal((HaRole.Primary, Vm1), (t.Role, t.PrimarySerial));
        Assert.Contains(new FgcpRoleSettled(HaRole.Primary, Vm1), output.Effects);
        Assert.DoesNotContain(output.Effects, e => e is FgcpReannounce); // a lost member announced nothing
        // Counted by the unit's metrics (fortigate_ha_members_lost_total): once, for the member lost.
        Assert.Equal([new FgcpMemberLost(Vm2)], output.Effects.OfType<FgcpMemberLost>());
    }

    [Fact]
    public void A_split_brain_heals_to_one_primary_and_the_primary_that_stayed_announces_again()
    {
        var vm1 = Table(Vm1, Ha(priority: 200));
        var vm2 = Table(Vm2, Ha(priority: 100));
        void Exchange()
        {
            vm1.Heard(Of(vm2), "port4");
            vm2.Heard(Of(vm1), "port4");
        }
        Exchange();
        Exchange();
        Assert.Equal((HaRole.Primary, HaRole.Secondary), (vm1.Role, vm2.Role));

        // The heartbeat link is cut: each loses the other, both work as primary (split brain).
        _time.Advance(TimeSpan.FromMilliseconds(1001));
        vm1.Tick();
        vm2.Tick();
        Assert.Equal((HaRole.Primary, HaRole.Primary), (vm1.Role, vm2.Role));

        // Healed: VM2's heartbeat says it works as primary; VM1 rejoins it as a member working alone. VM2 still answers
        // (it has not heard VM1 yet), so VM1 does not announce yet: the neighbours would move to it while VM2 still forwards.
        var heal1 = vm1.Heard(Of(vm2), "port4");
        Assert.DoesNotContain(heal1.Effects, e => e is FgcpReannounce);
        var heal2 = vm2.Heard(Of(vm1), "port4");
        Assert.Equal((HaRole.Primary, HaRole.Secondary), (vm1.Role, vm2.Role));
        Assert.DoesNotContain(heal2.Effects, e => e is FgcpReannounce);
        Assert.Contains(heal2.History, l => l == $"unit {Vm2} changes state: primary -> secondary");
        // VM2's next heartbeat says it stepped down: now VM1 announces, once.
        var heal3 = vm1.Heard(Of(vm2), "port4");
        Assert.Single(heal3.Effects, e => e is FgcpReannounce);
        Assert.DoesNotContain(vm1.Heard(Of(vm2), "port4").Effects, e => e is FgcpReannounce);
    }

    [Fact]
    public void Two_primaries_the_primary_that_stays_announces_once_the_other_steps_down_or_is_lost()
    {
        var vm1 = Table(Vm1, Ha(priority: 200));
        var vm2 = Table(Vm2, Ha(priority: 100));
        vm1.Heard(Of(vm2), "port4");
        vm2.Heard(Of(vm1), "port4");
        vm1.Heard(Of(vm2), "port4");
        vm2.Heard(Of(vm1), "port4");
        Assert.Equal((HaRole.Primary, HaRole.Secondary), (vm1.Role, vm2.Role));
        // VM1 stalls: VM2 loses it and works as primary; VM1 resumes and reads VM2's heartbeats claiming primary.
        _time.Advance(TimeSpan.FromMilliseconds(1001));
        vm2.Tick();
        Assert.Equal(HaRole.Primary, vm2.Role);
        var twoPrimaries = vm1.Heard(Of(vm2), "port4");
        Assert.Contains(twoPrimaries.Effects, e => e is FgcpNegotiated);
        Assert.DoesNotContain(twoPrimaries.Effects, e => e is FgcpReannounce);
        Assert.DoesNotContain(vm1.Heard(Of(vm2), "port4").Effects, e => e is FgcpReannounce); // still claims primary
        // VM2 never steps down where VM1 hears it (the link broke again): VM1 announces when it loses VM2.
        _time.Advance(TimeSpan.FromMilliseconds(1001));
        var lost = vm1.Tick();
        Assert.Single(lost.Effects, e => e is FgcpReannounce);
        Assert.Equal(HaRole.Primary, vm1.Role);
    }

    [Fact]
    public void Two_primaries_seen_in_steady_state_renegotiate()
    {
        var t = Table(ha: Ha(priority: 200));
        t.Heard(Hb(), "port4");
        t.Heard(Hb(), "port4");
        Assert.Equal(HaRole.Primary, t.Role);
        var output = t.Heard(Hb(state: HaState.Work, role: HaRole.Primary), "port4");
        Assert.Contains(output.Effects, e => e is FgcpNegotiated { Why: "two primaries: FGVM02TM22000002 also works as primary" });
        Assert.Equal(HaRole.Primary, t.Role);
    }

    [Fact]
    public void A_monitored_interface_failure_resets_uptime_and_renegotiates()
    {
        var t = Table(ha: Ha(priority: 200));
        t.Heard(Hb(), "port4");
        t.Heard(Hb(), "port4");
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(TimeSpan.FromSeconds(30), t.Uptime);
        var output = t.LocalChanged(Ha(priority: 200), monitorUp: 0);
        Assert.Equal(TimeSpan.Zero, t.Uptime);
        Assert.Equal((HaRole.Secondary, Vm2), (t.Role, t.PrimarySerial));
        Assert.Contains(output.History, l => l.Contains("more monitored interfaces up than peer member FGVM02TM22000001"));
    }

    [Fact]
    public void With_override_a_priority_change_renegotiates_without_it_nothing_happens()
    {
        var t = Table(ha: Ha(priority: 100));
        t.Heard(Hb(priority: 150), "port4");
        t.Heard(Hb(priority: 150), "port4");
        Assert.Equal(HaRole.Secondary, t.Role);
        Assert.Same(FgcpOutput.Nothing, t.LocalChanged(Ha(priority: 200), 1));
        Assert.Equal(HaRole.Secondary, t.Role);
        var output = t.LocalChanged(Ha(priority: 250, overrideOn: true), 1);
        Assert.Equal(HaRole.Primary, t.Role);
        Assert.Contains(output.History, l => l.Contains("its override priority is larger"));
    }

    /// <summary>Every malformed field reaching the table (an in-process link hands it records, not datagrams).</summary>
    public static TheoryData<string, Func<FgcpHeartbeat, FgcpHeartbeat>, HeartbeatDropCause> Malformed() => new()
    {
        { "priority 256", h => h with { Priority = 256 }, HeartbeatDropCause.BadPriority },
        { "priority -1", h => h with { Priority = -1 }, HeartbeatDropCause.BadPriority },
        { "group-id 4096", h => h with { GroupId = 4096 }, HeartbeatDropCause.BadGroupId },
        { "monitor count -3", h => h with { MonitorUp = -3 }, HeartbeatDropCause.BadMonitorCount },
        { "uptime -1", h => h with { HaUptimeMs = -1 }, HeartbeatDropCause.BadUptime },
        { "uptime long.MaxValue", h => h with { HaUptimeMs = long.MaxValue }, HeartbeatDropCause.BadUptime },
        { "serial with a newline", h => h with { Serial = "FGVM02TM2200\n<7>" }, HeartbeatDropCause.BadSerial },
        { "hostname with a newline", h => h with { Hostname = "x\n    <2026-01-01 00:00:00> vcluster-1: forged" }, HeartbeatDropCause.BadHostname },
        { "hostname too long", h => h with { Hostname = new string('h', 200) }, HeartbeatDropCause.BadHostname },
        { "group-name with a newline", h => h with { GroupName = "DC2_VM12\nforged" }, HeartbeatDropCause.BadGroupName },
        { "password proof short", h => h with { PasswordProof = new byte[3] }, HeartbeatDropCause.BadPasswordProof },
        { "state 200", h => h with { State = (HaState)200 }, HeartbeatDropCause.BadState },
        { "role 200", h => h with { Role = (HaRole)200 }, HeartbeatDropCause.BadRole },
        { "primary serial malformed", h => h with { PrimarySerial = "FG\n" }, HeartbeatDropCause.BadPrimarySerial },
        { "sequence 0", h => h with { Sequence = 0 }, HeartbeatDropCause.BadSequence },
        { "incarnation -1", h => h with { Incarnation = -1 }, HeartbeatDropCause.BadIncarnation },
        { "peer heard with a newline", h => h with { Hears = [new HeardPeer("FG\nforged", 1)] }, HeartbeatDropCause.BadPeerList },
        { "checksum with a newline", h => h with { SyncedConfigChecksum = "0123456789abcdef0123456789abcde\n" }, HeartbeatDropCause.BadChecksum },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void A_malformed_field_is_dropped_and_counted_and_changes_nothing(string field, Func<FgcpHeartbeat, FgcpHeartbeat> spoil, HeartbeatDropCause cause)
    {
        var t = Table(ha: Ha(priority: 200));
        t.Heard(Hb(), "port4");
        t.Heard(Hb(), "port4");
        var (role, order, peer) = (t.Role, t.OperatingOrder, t.Peers[Vm2]);

        var output = t.Heard(spoil(Hb(state: HaState.Work, role: HaRole.Primary)), "port4");

        Assert.True(t.Drops.GetValueOrDefault(cause) == 1, $"{field}: {string.Join(", ", t.Drops)}");
        Assert.Equal((role, order, peer), (t.Role, t.OperatingOrder, t.Peers[Vm2]));
        Assert.Empty(output.Effects);
        var line = Assert.Single(output.History);
        Assert.StartsWith($"hbdev port4: heartbeat dropped ({FgcpHeartbeatValidation.CounterName(cause)}): ", line);
        Assert.DoesNotContain(line, char.IsControl);
    }

    [Fact]
    public void A_heartbeat_with_priority_256_does_not_throw_and_the_election_goes_on()
    {
        var t = Table();
        var output = t.Heard(Hb(priority: 256), "port4");
        Assert.Equal(1, t.Drops[HeartbeatDropCause.BadPriority]);
        Assert.Empty(t.Peers);
        Assert.Equal("hbdev port4: heartbeat dropped (bad_priority): priority 256 is outside 0-255", Assert.Single(output.History));
        _time.Advance(TimeSpan.FromSeconds(5));
        t.Tick();
        Assert.Equal((HaState.Work, HaRole.Primary), (t.State, t.Role));
    }

    [Fact]
    public void Malformed_heartbeats_write_one_line_per_cause_and_interval_and_are_all_counted()
    {
        var t = Table();
        var lines = new List<string>();
        for (var i = 0; i < 600; i++) lines.AddRange(t.Heard(Hb(priority: 300 + i), "port4").History);
        Assert.Single(lines);
        Assert.Equal(600, t.Drops[HeartbeatDropCause.BadPriority]);
        _time.Advance(FgcpPeerTable.RejectReportInterval);
        var next = t.Heard(Hb(priority: 999), "port4").History;
        Assert.EndsWith("(599 more since the last report)", Assert.Single(next));
    }

    [Fact]
    public void Six_hundred_wrong_password_heartbeats_from_one_sender_write_one_history_line()
    {
        var t = Table();
        var lines = new List<string>();
        for (var i = 0; i < 600; i++) lines.AddRange(t.Heard(Hb(ha: Ha(password: "wrong")), "port4").History);
        Assert.Equal(["heartbeat from 'FGVM02TM22000002' on port4 ignored: password mismatch; no cluster is formed with it"], lines);
        Assert.Equal(600, t.Drops[HeartbeatDropCause.PasswordMismatch]);
        Assert.Empty(t.Peers);

        // Once per sender and interval: a minute later the same sender gets one line again, with the count.
        _time.Advance(FgcpPeerTable.RejectReportInterval);
        var later = t.Heard(Hb(ha: Ha(password: "wrong")), "port4").History;
        Assert.Equal("heartbeat from 'FGVM02TM22000002' on port4 ignored: password mismatch; no cluster is formed with it (599 more since the last report)",
            Assert.Single(later));
    }

    [Fact]
    public void Six_hundred_wrong_password_heartbeats_from_six_hundred_senders_leave_the_history_intact()
    {
        var t = Table();
        var lines = new List<string>();
        for (var i = 0; i < 600; i++) lines.AddRange(t.Heard(Hb(serial: $"FGVM02TM22{i + 100:D6}", ha: Ha(password: "wrong")), "port4").History);
        Assert.Equal(FgcpPeerTable.MaxRejectReportsPerInterval, lines.Count);
        Assert.Equal(600, t.Drops[HeartbeatDropCause.PasswordMismatch]);
        _time.Advance(FgcpPeerTable.RejectReportInterval);
        var summary = Assert.Single(t.Tick().History, l => l.Contains("rejected heartbeats"));
        Assert.StartsWith("592 rejected heartbeats in the last 60s got no history line of their own", summary);
    }

    [Fact]
    public void Mismatched_group_name_and_group_id_are_counted_by_cause()
    {
        var t = Table();
        var line1 = t.Heard(Hb() with { GroupName = "OTHER" }, "port4").History;
        var line2 = t.Heard(Hb() with { GroupId = 7 }, "port4").History;
        Assert.Equal(1, t.Drops[HeartbeatDropCause.GroupNameMismatch]);
        Assert.Equal(1, t.Drops[HeartbeatDropCause.GroupIdMismatch]);
        Assert.Contains("group-name mismatch (peer \"OTHER\", local \"DC2_VM12\")", Assert.Single(line1));
        Assert.Contains("group-id mismatch (peer 7, local 1)", Assert.Single(line2));
    }

    [Fact]
    public void Drop_counters_are_printed_by_diagnose_sys_ha_status()
    {
        var t = Table();
        t.Heard(Hb(priority: 256), "port4");
        t.Heard(Hb(ha: Ha(password: "wrong")), "port4");
        t.Heard(Hb(ha: Ha(password: "wrong")), "port4");
        var snapshot = new HaStatusSnapshot(Vm1, "DC2_VM1", Ha(), t.State, t.Role, t.PrimarySerial, [], t.Uptime, null, null, 0, [])
        {
            HeartbeatDrops = t.Drops,
        };
        var text = HaDiagnostics.DiagnoseStatus(snapshot);
        Assert.Contains("        activity.hb_drop.bad_priority = 1\n", text);
        Assert.Contains("        activity.hb_drop.password_mismatch = 2\n", text);
    }

    [Fact]
    public void A_newline_in_a_heartbeat_serial_cannot_forge_a_line_in_the_history()
    {
        var t = Table();
        var forged = "FGVM02TM22000002\n<0> HA event\n    <2026-12-05 20:00:00> vcluster-1: FGVM02TM22000009 is selected as the primary";
        var history = t.Heard(Hb() with { Serial = forged }, "port4").History.Concat(t.Heard(Hb(ha: Ha(password: "x")) with { Serial = forged }, "port4").History);
        var entries = history.Select(l => new HaHistoryEntry(_time.GetUtcNow(), new RecordHaEvent(l).Text)).ToList();
        var read = HaDiagnostics.HistoryRead(entries).TrimEnd('\n').Split('\n');
        Assert.Equal(2 * entries.Count, read.Length);
        Assert.DoesNotContain(read, l => l.Contains("FGVM02TM22000009"));
    }
}
