using ClusterActors.Actors.Cli;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.History;

namespace ClusterActors.Actors.Tests.Cli;

/// <summary>Our `diagnose sys ha status` against the scenario document's, line by line, for the same cluster state.</summary>
public sealed class HaDiagnosticsSpec
{
    /// <summary>DC2_VM1's output in the scenario document (captured after the reboot drill: VM2 primary, VM1 priority 200).</summary>
    private const string Seed = """
        HA information
        Statistics
                traffic.local = s:0 p:439253 b:89121494
                traffic.total = s:0 p:440309 b:89242174
                activity.ha_id_changes = 2
                activity.fdb  = c:0 q:0

        Model=80006, Mode=2 Group=1 Debug=0
        nvcluster=1, ses_pickup=1, delay=0

        [Debug_Zone HA information]
        HA group member information: is_manage_primary=1.
        FGVM02TM22000002:      Primary, serialno_prio=0, usr_priority=100, hostname=DC2_VM2
        FGVM02TM22000001:    Secondary, serialno_prio=1, usr_priority=200, hostname=DC2_VM1

        [Kernel HA information]
        vcluster 1, state=work, primary_ip=169.254.0.1, primary_id=0
        FGVM02TM22000002:      Primary, ha_prio/o_ha_prio=0/0
        FGVM02TM22000001:    Secondary, ha_prio/o_ha_prio=1/1
        """;

    private static HaConfig ClusterOneHa()
    {
        var parsed = FortiConfig.Parse("""
            config system ha
                set group-id 1
                set group-name "DC2_VM12"
                set mode a-p
                set password ********
                set hbdev "port4" 50
                set session-pickup enable
                set upgrade-mode simultaneous
                set override disable
                set priority 200
            end
            """);
        Assert.True(parsed.Ok, parsed.ToString());
        return parsed.Value!.Ha;
    }

    private static HaStatusSnapshot SeedState(HaRole self, HaRole peer)
    {
        var now = DateTimeOffset.UtcNow;
        var vm2 = new HaMember("FGVM02TM22000002", "DC2_VM2", HaRole.Primary, 100, 0, 0, 0, TimeSpan.FromHours(1), now, true, self == HaRole.Primary);
        var vm1 = new HaMember("FGVM02TM22000001", "DC2_VM1", HaRole.Secondary, 200, 1, 1, 1, TimeSpan.FromMinutes(5), now, true, self == HaRole.Secondary);
        return new HaStatusSnapshot("FGVM02TM22000001", "DC2_VM1", ClusterOneHa(), HaState.Work, self, "FGVM02TM22000002", [vm2, vm1],
            TimeSpan.FromMinutes(5), now, null, 2,
            [("port4", true, new HbdevCounters(219626, 44560747, 219627, 44560747, 0))]);
    }

    [Fact]
    public void Diagnose_sys_ha_status_matches_the_scenario_layout_line_by_line()
    {
        var ours = HaDiagnostics.DiagnoseStatus(SeedState(HaRole.Secondary, HaRole.Primary)).TrimEnd('\n').Split('\n');
        var seed = Seed.Split('\n');
        Assert.Equal(seed.Length, ours.Length);
        for (var i = 0; i < seed.Length; i++)
        {
            if (seed[i].Contains("traffic.")) Assert.Matches(@"^        traffic\.(local|total) = s:0 p:\d+ b:\d+$", ours[i]);
            else if (seed[i].Contains("is_manage_primary")) Assert.Equal("HA group member information: is_manage_primary=0.", ours[i]); // seed erratum: it was a secondary
            else Assert.Equal(seed[i], ours[i]);
        }
    }

    [Fact]
    public void The_primary_prints_is_manage_primary_1()
    {
        var s = SeedState(HaRole.Primary, HaRole.Secondary) with { Serial = "FGVM02TM22000002", Hostname = "DC2_VM2" };
        Assert.Contains("is_manage_primary=1.", HaDiagnostics.DiagnoseStatus(s));
    }

    [Fact]
    public void Get_system_ha_status_lists_members_with_cluster_and_operating_indexes()
    {
        var history = new[] { new HaHistoryEntry(DateTimeOffset.UtcNow, "FGVM02TM22000002 is selected as the primary because its serial number is larger than peer member FGVM02TM22000001.") };
        var text = HaDiagnostics.GetStatus(SeedState(HaRole.Secondary, HaRole.Primary), history);
        Assert.Contains("Mode: HA A-P", text);
        Assert.Contains("Group Name: DC2_VM12", text);
        Assert.Contains("Group ID: 1", text);
        Assert.Contains("Primary selected using:", text);
        Assert.Contains("vcluster-1: FGVM02TM22000002 is selected as the primary because its serial number is larger", text);
        Assert.Contains("Primary     : DC2_VM2         , FGVM02TM22000002, HA cluster index = 0", text);
        Assert.Contains("Secondary   : DC2_VM1         , FGVM02TM22000001, HA cluster index = 1", text);
        Assert.Contains("Primary: FGVM02TM22000002, HA operating index = 0", text);
        Assert.Contains("Secondary: FGVM02TM22000001, HA operating index = 1", text);
        Assert.DoesNotContain("********", text);
    }

    [Fact]
    public void History_read_lists_newest_first_with_timestamps()
    {
        var t0 = new DateTimeOffset(2026, 11, 27, 6, 0, 0, TimeSpan.Zero);
        var text = HaDiagnostics.HistoryRead([new HaHistoryEntry(t0, "hatalk started"), new HaHistoryEntry(t0.AddSeconds(5), "new member 'FGVM02TM22000002' joins the cluster")]);
        var lines = text.TrimEnd('\n').Split('\n');
        Assert.Equal("<0> HA event", lines[0]);
        Assert.Equal("    <2026-11-27 06:00:05> vcluster-1: new member 'FGVM02TM22000002' joins the cluster", lines[1]);
        Assert.Equal("<1> HA event", lines[2]);
        Assert.Equal("    <2026-11-27 06:00:00> vcluster-1: hatalk started", lines[3]);
    }
}
