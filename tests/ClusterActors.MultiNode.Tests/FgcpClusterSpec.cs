using Akka.Cluster;
using ClusterActors.Actors.UnitConfig;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Protocol.Fgcp;
using Akka.Actor;
using ClusterActors.Node.Hosting;
using Xunit.Abstractions;

namespace ClusterActors.MultiNode.Tests;

/// <summary>
/// FGCP between real ActorSystems in one process: formation, failover timing, split brain on a cut heartbeat,
/// mismatched clusters, returning units and config sync. Timers are shortened with the CLI, as an engineer would
/// for a failover test: hb-interval 2 (200 ms) x hb-lost-threshold 6 = 1.2 s detection.
/// </summary>
[Collection("multi-node")]
public sealed class FgcpClusterSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private const string FastTimers = """
        config system ha
            set hb-interval 2
            set hb-lost-threshold 6
            set hello-holddown 5
        end
        """;

    private readonly LoopbackLab _lab = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private static (string, Protocol.Config.ConfigDocument) Unit(string name, string? extra = null) =>
        (name, LoopbackLab.ScenarioConfig(name, FastTimers + "\n" + (extra ?? "")));

    private async Task StartCluster1(string? vm1Extra = null, string? vm2Extra = null)
    {
        // Both units are cabled to one heartbeat segment, whatever their configs say.
        _lab.Define([Unit("DC2_VM1", vm1Extra), Unit("DC2_VM2", vm2Extra)], _ => "cluster-1");
        await Task.WhenAll(_lab.Start("DC2_VM1"), _lab.Start("DC2_VM2"));
    }

    private async Task<(string Primary, string Secondary)> Formed()
    {
        await LoopbackLab.Eventually(async () =>
        {
            var a = await _lab.Status("DC2_VM1");
            var b = await _lab.Status("DC2_VM2");
            return a.State == HaState.Work && b.State == HaState.Work && a.Members.Count == 2 && b.Members.Count == 2
                   && a.PrimarySerial == b.PrimarySerial && a.Role != b.Role;
        }, TimeSpan.FromSeconds(10), "DC2_VM1 and DC2_VM2 form one cluster with one primary");
        return await _lab.IsRole("DC2_VM1", HaRole.Primary) ? ("DC2_VM1", "DC2_VM2") : ("DC2_VM2", "DC2_VM1");
    }

    [Fact]
    public async Task Two_units_form_cluster_1_with_the_shipped_priority_200_unit_DC2_VM1_as_primary()
    {
        await StartCluster1();
        var (primary, secondary) = await Formed();
        // Override disabled and an uptime gap far below the 300 s margin: priority decides, DC2_VM1's 200 (the
        // document's usr_priority=200) over DC2_VM2's 100, before the serial number is looked at.
        Assert.Equal("DC2_VM1", primary);
        Assert.Equal("DC2_VM2", secondary);

        var diag = await _lab.Units["DC2_VM1"].CliAsync("diagnose sys ha status");
        output.WriteLine(diag.Output);
        Assert.Equal(0, diag.ExitCode);
        Assert.Contains("Model=80006, Mode=2 Group=1 Debug=0", diag.Output);
        // serialno_prio ranks the serials (the higher first) whatever the roles; the heartbeat IP follows it.
        Assert.Contains("FGVM02TM22000001:      Primary, serialno_prio=1, usr_priority=200, hostname=DC2_VM1", diag.Output);
        Assert.Contains("FGVM02TM22000002:    Secondary, serialno_prio=0, usr_priority=100, hostname=DC2_VM2", diag.Output);
        Assert.Contains("vcluster 1, state=work, primary_ip=169.254.0.2, primary_id=1", diag.Output);

        var history = await _lab.Units["DC2_VM2"].CliAsync("diagnose sys ha history read");
        Assert.Contains("FGVM02TM22000001 is selected as the primary because its priority is larger than peer member FGVM02TM22000002", history.Output);
        Assert.Contains("new member 'FGVM02TM22000001' joins the cluster", history.Output);
    }

    [Fact]
    public async Task With_equal_priorities_the_higher_serial_is_primary()
    {
        // DC2_VM1 given the document's HA block as printed (priority 100, as DC2_VM2): the serial number decides.
        await StartCluster1(vm1Extra: "config system ha\nset priority 100\nend");
        var (primary, secondary) = await Formed();
        Assert.Equal("DC2_VM2", primary);
        Assert.Equal("DC2_VM1", secondary);

        var diag = await _lab.Units["DC2_VM1"].CliAsync("diagnose sys ha status");
        output.WriteLine(diag.Output);
        Assert.Contains("FGVM02TM22000002:      Primary, serialno_prio=0, usr_priority=100, hostname=DC2_VM2", diag.Output);
        Assert.Contains("FGVM02TM22000001:    Secondary, serialno_prio=1, usr_priority=100, hostname=DC2_VM1", diag.Output);
        Assert.Contains("vcluster 1, state=work, primary_ip=169.254.0.1, primary_id=0", diag.Output);

        var history = await _lab.Units["DC2_VM1"].CliAsync("diagnose sys ha history read");
        Assert.Contains("FGVM02TM22000002 is selected as the primary because its serial number is larger than peer member FGVM02TM22000001", history.Output);
        Assert.Contains("new member 'FGVM02TM22000002' joins the cluster", history.Output);
    }

    [Fact]
    public async Task Stopping_the_primary_makes_the_secondary_primary_within_detection_time_plus_one_interval()
    {
        await StartCluster1();
        var (primary, secondary) = await Formed();
        var bound = TimeSpan.FromMilliseconds(200 * 6 + 200);

        await _lab.Kill(primary);
        var took = await LoopbackLab.Eventually(() => _lab.IsRole(secondary, HaRole.Primary), TimeSpan.FromSeconds(5),
            $"{secondary} becomes primary after {primary} stops");
        output.WriteLine($"failover took {took.TotalMilliseconds:0} ms (bound {bound.TotalMilliseconds} ms)");
        Assert.True(took <= bound, $"failover took {took.TotalMilliseconds:0} ms, more than {bound.TotalMilliseconds} ms");

        var status = await _lab.Status(secondary);
        Assert.Single(status.Members);
        var history = await _lab.Units[secondary].CliAsync("diagnose sys ha history read");
        Assert.Contains("is lost: no heartbeat for 1200ms", history.Output);
        Assert.Contains("because it's the only member in the cluster", history.Output);
    }

    [Fact]
    public async Task Cutting_only_the_heartbeat_link_gives_two_primaries_and_healing_it_gives_one()
    {
        await StartCluster1();
        await Formed();
        await LoopbackLab.Eventually(() => Task.FromResult(
                Cluster.Get(_lab.Units["DC2_VM1"].System).State.Members.Count(m => m.Status == MemberStatus.Up) == 2),
            TimeSpan.FromSeconds(15), "both units are Up in the Akka cluster");

        // A blackhole in the heartbeat segment: neither unit's FGCP is told, heartbeats just stop arriving.
        _lab.Units["DC2_VM1"].Hbdevs["port4"].SetUp(false);
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && await _lab.IsRole("DC2_VM2", HaRole.Primary),
            TimeSpan.FromSeconds(5), "split brain: both units primary");

        // The Akka link was never cut: the units still see each other there, which FGCP ignores by design.
        var akka = Cluster.Get(_lab.Units["DC2_VM1"].System).State;
        Assert.Equal(2, akka.Members.Count);
        Assert.Empty(akka.Unreachable);

        _lab.Units["DC2_VM1"].Hbdevs["port4"].SetUp(true);
        await LoopbackLab.Eventually(async () =>
        {
            var a = await _lab.Status("DC2_VM1");
            var b = await _lab.Status("DC2_VM2");
            return a.Role != b.Role && a.PrimarySerial == b.PrimarySerial && a.Members.Count == 2;
        }, TimeSpan.FromSeconds(5), "healed: one primary again");
        // Uptimes within the margin: priority decides the renegotiation, DC2_VM1's 200.
        Assert.True(await _lab.IsRole("DC2_VM1", HaRole.Primary));
    }

    /// <summary>Heartbeats in clear: the receiver reads the sender's group and password proof and names the mismatch.</summary>
    private const string InClear = "config system ha\nset authentication disable\nset encryption disable\nend\n";

    [Theory]
    [InlineData(InClear + "config system ha\nset password \"other-password\"\nend", InClear, "password mismatch")]
    [InlineData(InClear + "config system ha\nset group-name \"dc2_vm12\"\nend", InClear, "group-name mismatch (peer \"DC2_VM12\", local \"dc2_vm12\")")]
    [InlineData(InClear + "config system ha\nset group-id 3\nend", InClear, "group-id mismatch (peer 1, local 3)")]
    // The shipped units authenticate (and encrypt) their heartbeats with keys from the password and group, so another
    // password fails the HMAC, checked first, and that is what the history says.
    [InlineData("config system ha\nset password \"other-password\"\nend", null,
        "hbdev port4: heartbeat dropped (auth_failed): authentication failed (HMAC mismatch): modified, or another password or group")]
    public async Task A_mismatch_gives_no_cluster_and_each_unit_says_why(string vm1Change, string? vm2Change, string reason)
    {
        await StartCluster1(vm1Extra: vm1Change, vm2Extra: vm2Change);
        // Alone, a unit waits hello-holddown (5 s here) before it works as primary.
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && await _lab.IsRole("DC2_VM2", HaRole.Primary),
            TimeSpan.FromSeconds(9), "both units primary alone");
        Assert.Single((await _lab.Status("DC2_VM1")).Members);
        Assert.Single((await _lab.Status("DC2_VM2")).Members);
        var history = await _lab.Units["DC2_VM1"].CliAsync("diagnose sys ha history read");
        Assert.True(history.Output.Contains(reason, StringComparison.Ordinal), $"expected \"{reason}\" in DC2_VM1's history:\n{history.Output}");
        Assert.Contains("is selected as the primary because it's the only member in the cluster", history.Output);
    }

    [Fact]
    public async Task A_returning_unit_with_override_disabled_joins_as_secondary_once_the_survivor_has_more_uptime_than_the_margin()
    {
        const string margin = "config system ha\nset ha-uptime-diff-margin 1\nend";
        await StartCluster1(margin, margin);
        var (primary, secondary) = await Formed();
        await _lab.Kill(primary);
        await LoopbackLab.Eventually(() => _lab.IsRole(secondary, HaRole.Primary), TimeSpan.FromSeconds(5), "failover");
        await Task.Delay(1500); // the survivor's HA uptime now exceeds the 1 s margin over the returning unit's zero

        await _lab.Start(primary);
        await LoopbackLab.Eventually(async () => await _lab.IsRole(primary, HaRole.Secondary) && (await _lab.Status(primary)).Members.Count == 2,
            TimeSpan.FromSeconds(8), $"{primary} returns as secondary");
        Assert.True(await _lab.IsRole(secondary, HaRole.Primary));
        var history = await _lab.Units[secondary].CliAsync("diagnose sys ha history read");
        Assert.Contains($"is selected as the primary because its uptime is larger than peer member", history.Output);
    }

    [Fact]
    public async Task A_returning_unit_with_override_enabled_and_higher_priority_takes_over()
    {
        const string vm1 = "config system ha\nset override enable\nset priority 200\nend";
        const string vm2 = "config system ha\nset override enable\nend";
        await StartCluster1(vm1, vm2);
        var (primary, _) = await Formed();
        Assert.Equal("DC2_VM1", primary); // priority beats serial under override

        await _lab.Kill("DC2_VM1");
        await LoopbackLab.Eventually(() => _lab.IsRole("DC2_VM2", HaRole.Primary), TimeSpan.FromSeconds(5), "failover to DC2_VM2");
        await Task.Delay(500);
        await _lab.Start("DC2_VM1");
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && await _lab.IsRole("DC2_VM2", HaRole.Secondary),
            TimeSpan.FromSeconds(8), "DC2_VM1 pre-empts on return");
        var history = await _lab.Units["DC2_VM2"].CliAsync("diagnose sys ha history read");
        Assert.Contains("FGVM02TM22000001 is selected as the primary because its override priority is larger than peer member FGVM02TM22000002", history.Output);
    }

    [Fact]
    public async Task The_primary_syncs_synced_settings_but_not_per_unit_ones()
    {
        await StartCluster1();
        var (primary, secondary) = await Formed();
        var change = await _lab.Units[primary].CliAsync("config system ha\nset hb-lost-threshold 7\nset priority 150\nend");
        Assert.Equal(0, change.ExitCode);

        await LoopbackLab.Eventually(async () =>
                (await _lab.Units[secondary].CliAsync("show full-configuration system ha")).Output.Contains("set hb-lost-threshold 7"),
            TimeSpan.FromSeconds(5), "hb-lost-threshold synced to the secondary");
        var secondaryHa = (await _lab.Units[secondary].CliAsync("show full-configuration system ha")).Output;
        Assert.Contains("set priority 100", secondaryHa); // per-unit: stays the secondary's own
        Assert.DoesNotContain("fgcp-DC2_VM12", secondaryHa); // the password is only ever printed as ENC

        // A change typed on the secondary to a synced key is forwarded, so the primary keeps it too.
        Assert.Equal(0, (await _lab.Units[secondary].CliAsync("config system ha\nset hello-holddown 30\nend")).ExitCode);
        await LoopbackLab.Eventually(async () =>
                (await _lab.Units[primary].CliAsync("show full-configuration system ha")).Output.Contains("set hello-holddown 30"),
            TimeSpan.FromSeconds(5), "secondary's change reaches the primary");
        await Task.Delay(1000);
        Assert.Contains("set hello-holddown 30", (await _lab.Units[secondary].CliAsync("show full-configuration system ha")).Output);
    }

    [Fact]
    public async Task Pulling_a_monitored_cable_on_the_primary_hands_over_to_the_secondary()
    {
        const string monitor = "config system ha\nset monitor \"port2\"\nend";
        await StartCluster1(monitor, monitor);
        var (primary, secondary) = await Formed();

        await _lab.Units[primary].Unit.Ask<Akka.Done>(new SetLinkState("port2", false), TimeSpan.FromSeconds(5));
        await LoopbackLab.Eventually(async () => await _lab.IsRole(secondary, HaRole.Primary) && await _lab.IsRole(primary, HaRole.Secondary),
            TimeSpan.FromSeconds(3), "the unit with more monitored interfaces up becomes primary");
        var history = await _lab.Units[primary].CliAsync("diagnose sys ha history read");
        Assert.Contains("monitored interface port2 link status changed: 1->0", history.Output);
        Assert.Contains("because it has more monitored interfaces up than peer member", history.Output);
    }

    [Fact]
    public async Task Pulling_the_heartbeat_cable_is_recorded_and_splits_the_cluster()
    {
        await StartCluster1();
        var (primary, secondary) = await Formed();
        await _lab.Units[secondary].Unit.Ask<Akka.Done>(new SetLinkState("port4", false), TimeSpan.FromSeconds(5));
        await LoopbackLab.Eventually(async () => await _lab.IsRole(secondary, HaRole.Primary) && await _lab.IsRole(primary, HaRole.Primary),
            TimeSpan.FromSeconds(3), "both primary");
        Assert.Contains("hbdev port4 link status changed: 1->0", (await _lab.Units[secondary].CliAsync("diagnose sys ha history read")).Output);

        await _lab.Units[secondary].Unit.Ask<Akka.Done>(new SetLinkState("port4", true), TimeSpan.FromSeconds(5));
        await LoopbackLab.Eventually(async () => (await _lab.Status(primary)).Members.Count == 2 && await _lab.IsRole(secondary, HaRole.Secondary),
            TimeSpan.FromSeconds(3), "one primary again once the cable is back");
        Assert.Contains("hbdev port4 link status changed: 0->1", (await _lab.Units[secondary].CliAsync("diagnose sys ha history read")).Output);
    }
}
