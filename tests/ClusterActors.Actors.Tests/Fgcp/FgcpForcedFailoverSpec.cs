using ClusterActors.Actors.Fgcp;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Actors.Tests.Fgcp;

/// <summary>
/// <c>execute ha failover set 1</c> / <c>unset 1</c> on two pure peer tables that hear each other's heartbeats (no actor
/// system, <see cref="FakeTimeProvider"/>): the flagged primary steps down and its peer takes over on both sides, the
/// history says why in FortiOS's words, the flag outlives the peer's loss and return (Fortinet KB 196696), and unset
/// renegotiates with the usual rules.
/// </summary>
public sealed class FgcpForcedFailoverSpec
{
    private const string Vm1 = "FGVM02TM22000001";
    private const string Vm2 = "FGVM02TM22000002";
    private const string Checksum = "0123456789abcdef0123456789abcdef";

    private static HaConfig Ha(int priority) => FortiConfig.Parse($$"""
        config system ha
            set group-id 1
            set group-name "DC2_VM12"
            set mode a-p
            set password secret
            set hbdev "port4" 50
            set hb-interval 2
            set hb-lost-threshold 5
            set hello-holddown 5
            set ha-uptime-diff-margin 1
            set priority {{priority}}
        end
        """).Value!.Ha;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 8, 0, 0, TimeSpan.Zero));
    private long _sequence;

    private FgcpPeerTable Unit(string serial, int priority)
    {
        var t = new FgcpPeerTable(serial, Ha(priority), 0, _time) { SyncedChecksum = Checksum };
        t.Start();
        return t;
    }

    private FgcpHeartbeat Of(FgcpPeerTable t, int priority) => new(
        t.Serial, t.Serial == Vm1 ? "DC2_VM1" : "DC2_VM2", 1, "DC2_VM12", t.PasswordProof, priority, false, (long)t.Uptime.TotalMilliseconds,
        t.MonitorUp, t.State, t.Role, t.State == HaState.Work ? t.PrimarySerial : null, ++_sequence, 1, [], Checksum)
    {
        ExeFailOver = t.ExeFailOver,
    };

    /// <summary>One heartbeat each way; what each table decided.</summary>
    private (FgcpOutput Vm1, FgcpOutput Vm2) Exchange(FgcpPeerTable vm1, FgcpPeerTable vm2)
    {
        var toVm2 = Of(vm1, 200);
        var toVm1 = Of(vm2, 128);
        return (vm1.Heard(toVm1, "port4"), vm2.Heard(toVm2, "port4"));
    }

    private (FgcpPeerTable Vm1, FgcpPeerTable Vm2) FormedCluster()
    {
        var vm1 = Unit(Vm1, 200);
        var vm2 = Unit(Vm2, 128);
        for (var i = 0; i < 3; i++) Exchange(vm1, vm2);
        Assert.Equal((HaRole.Primary, HaRole.Secondary), (vm1.Role, vm2.Role));
        _time.Advance(TimeSpan.FromSeconds(30));
        return (vm1, vm2);
    }

    [Fact]
    public void Set_on_the_primary_makes_it_secondary_and_the_peer_primary_on_both_units()
    {
        var (vm1, vm2) = FormedCluster();

        var set = vm1.SetExeFailOver(true);
        Assert.True(vm1.ExeFailOver);
        Assert.Equal((HaRole.Secondary, Vm2), (vm1.Role, vm1.PrimarySerial));
        Assert.Equal(
            ["EXE_FAIL_OVER flag set by administrator (execute ha failover set 1)",
             $"{Vm2} is selected as the primary because it has EXE_FAIL_OVER flag set.",
             $"unit {Vm1} changes state: primary -> secondary"],
            set.History);
        Assert.Contains(new FgcpRoleSettled(HaRole.Secondary, Vm2), set.Effects);

        // The peer learns the flag from the next heartbeat and renegotiates with it.
        var (_, heard) = Exchange(vm1, vm2);
        Assert.Equal((HaRole.Primary, Vm2), (vm2.Role, vm2.PrimarySerial));
        Assert.Contains($"{Vm2} is selected as the primary because it has EXE_FAIL_OVER flag set.", heard.History);
        Assert.Contains(new FgcpRoleSettled(HaRole.Primary, Vm2), heard.Effects);
        Assert.Equal([Vm2, Vm1], vm2.OperatingOrder);

        // Steady: further heartbeats change nothing.
        for (var i = 0; i < 5; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(200));
            var (a, b) = Exchange(vm1, vm2);
            Assert.DoesNotContain(a.Effects.Concat(b.Effects), e => e is FgcpNegotiated);
        }
        Assert.Equal((HaRole.Secondary, HaRole.Primary), (vm1.Role, vm2.Role));
    }

    [Fact]
    public void Unset_renegotiates_with_the_usual_rules_so_the_higher_priority_unit_fails_back_within_the_margin()
    {
        var (vm1, vm2) = FormedCluster();
        vm1.SetExeFailOver(true);
        Exchange(vm1, vm2);
        Assert.Equal(HaRole.Primary, vm2.Role);

        var unset = vm1.SetExeFailOver(false);
        Assert.False(vm1.ExeFailOver);
        Assert.Equal("EXE_FAIL_OVER flag cleared by administrator (execute ha failover unset 1)", unset.History[0]);
        // Same start, so the uptime gap is within ha-uptime-diff-margin: priority 200 decides, as before the set.
        Assert.Equal((HaRole.Primary, Vm1), (vm1.Role, vm1.PrimarySerial));
        var (_, heard) = Exchange(vm1, vm2);
        Assert.Equal((HaRole.Secondary, Vm1), (vm2.Role, vm2.PrimarySerial));
        Assert.Contains($"{Vm1} is selected as the primary because its priority is larger than peer member {Vm2}.", heard.History);
    }

    [Fact]
    public void The_flag_survives_the_peers_loss_and_the_returning_peer_takes_the_primary_role_again()
    {
        var (vm1, vm2) = FormedCluster();
        vm1.SetExeFailOver(true);
        Exchange(vm1, vm2);

        // DC2_VM2 dies: DC2_VM1, flagged, is the only member and works as primary (KB 196696: "A will take over").
        _time.Advance(TimeSpan.FromSeconds(2));
        vm1.Tick();
        Assert.Equal((HaRole.Primary, Vm1), (vm1.Role, vm1.PrimarySerial));
        Assert.True(vm1.ExeFailOver);

        // It comes back (a new table: rebooted, uptime 0): it takes the primary role again, the flag still outranks uptime.
        var returned = Unit(Vm2, 128);
        for (var i = 0; i < 3; i++) Exchange(vm1, returned);
        Assert.Equal((HaRole.Secondary, Vm2), (vm1.Role, vm1.PrimarySerial));
        Assert.Equal(HaRole.Primary, returned.Role);
    }

    [Fact]
    public void Setting_what_is_set_changes_nothing_and_a_standalone_unit_has_no_flag()
    {
        var (vm1, _) = FormedCluster();
        vm1.SetExeFailOver(true);
        Assert.Same(FgcpOutput.Nothing, vm1.SetExeFailOver(true));

        var alone = new FgcpPeerTable(Vm1, FortiConfig.Parse("config system ha\n    set mode standalone\nend\n").Value!.Ha, 0, _time);
        alone.Start();
        Assert.Same(FgcpOutput.Nothing, alone.SetExeFailOver(true));
        Assert.False(alone.ExeFailOver);
    }
}
