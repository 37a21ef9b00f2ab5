using ClusterActors.Protocol.Ipsec;
using ClusterActors.Node.DockerLab;
using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.Tests.Lab;

/// <summary>
/// `lab status` from synthetic observations, no lab: when a lab counts as formed, and the two tables (units with their
/// HA and tunnel roles, addresses with the cluster addresses the primary holds).
/// </summary>
public sealed class LabStatusSpec
{
    private static readonly LabTopology Seed = Scenarios.Topology(Path.Combine(DockerDrillLab.FindRoot(), "src/Node/scenarios/seed/topology.yml"));

    private static Dictionary<string, HaView?> Formed() => new()
    {
        ["DC2_VM1"] = new HaView("DC2_VM1", true, true, "DC2_VM1", 2),
        ["DC2_VM2"] = new HaView("DC2_VM2", true, false, "DC2_VM1", 2),
        ["DC2_VM3"] = new HaView("DC2_VM3", true, true, "DC2_VM3", 2),
        ["DC2_VM4"] = new HaView("DC2_VM4", true, false, "DC2_VM3", 2),
    };

    [Fact]
    public void A_lab_is_formed_when_every_unit_answers_and_each_cluster_works_with_one_primary()
    {
        Assert.Null(LabStatus.NotFormed(Seed, Formed()));

        var silent = Formed();
        silent["DC2_VM4"] = null;
        Assert.Equal("DC2_VM4 silent", LabStatus.NotFormed(Seed, silent));

        var hello = Formed();
        hello["DC2_VM2"] = new HaView("DC2_VM2", false, false, "", 1);
        Assert.Equal("DC2_VM12 not formed (DC2_VM1 primary (2 members), DC2_VM2 hello)", LabStatus.NotFormed(Seed, hello));

        var split = Formed();
        split["DC2_VM4"] = new HaView("DC2_VM4", true, true, "DC2_VM4", 2);
        Assert.Equal("DC2_VM34 has 2 primaries", LabStatus.NotFormed(Seed, split));

        var alone = Formed();
        alone["DC2_VM3"] = new HaView("DC2_VM3", true, true, "DC2_VM3", 1);
        Assert.StartsWith("DC2_VM34 not formed", LabStatus.NotFormed(Seed, alone));
    }

    [Fact]
    public void Status_lists_roles_and_tunnels_per_unit_and_the_addresses_per_host_and_network()
    {
        var plan = DockerLabPlan.From(Seed);
        var ha = Formed();
        ha["DC2_VM4"] = null;
        TunnelView Tunnel(TunnelRole role) => new("vpn1_1", role, 0x1234, 0x5678);
        var units = new[]
        {
            new UnitObservation("DC2_VM1", "running (dc2_vm1)", ha["DC2_VM1"], [Tunnel(TunnelRole.SyncPrimary)]),
            new UnitObservation("DC2_VM2", "running (dc2_vm2)", ha["DC2_VM2"], [Tunnel(TunnelRole.Standby)]),
            new UnitObservation("DC2_VM3", "running (dc2_vm3)", ha["DC2_VM3"], []),
            new UnitObservation("DC2_VM4", "exited (dc2_vm4)", null, null),
        };
        var text = LabStatus.Render(Seed, "lab seed (docker)", units, LabStatus.Addresses(plan, ha), [("dc_router", "running")]);
        var lines = text.Split('\n');
        Assert.Equal("lab seed (docker)", lines[0]);
        Assert.Matches(@"^UNIT\s+STATE\s+FGCP CLUSTER\s+HA ROLE\s+FGSP MEMBER\s+TUNNELS$", lines[2]);
        Assert.Matches(@"^DC2_VM1\s+running \(dc2_vm1\)\s+DC2_VM12 \(group-id 1\)\s+primary \(2 members\)\s+DC2_VM12 \(member-id 1\)\s+vpn1_1 sync-primary$", lines[3]);
        Assert.Matches(@"^DC2_VM2\s+.*secondary \(2 members\)\s+.*vpn1_1 standby$", lines[4]);
        Assert.Matches(@"^DC2_VM3\s+.*primary \(2 members\)\s+DC2_VM34 \(member-id 2\)\s+none$", lines[5]);
        Assert.Matches(@"^DC2_VM4\s+exited \(dc2_vm4\)\s+DC2_VM34 \(group-id 2\)\s+\?\s+DC2_VM34 \(member-id 2\)\s+\?$", lines[6]);
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^dc_router\s+running$"));
        // The unit's own address, then the cluster's on the same port: held by the primary, not by the secondary.
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^dc2_vm1\s+c1_port2\s+192\.168\.129\.0/24\s+port2\s+192\.168\.129\.11\s+own$"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^dc2_vm1\s+c1_port2\s+192\.168\.129\.0/24\s+port2\s+192\.168\.129\.254\s+cluster DC2_VM12, held \(primary\)$"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^dc2_vm2\s+c1_port2\s+.*192\.168\.129\.254\s+cluster DC2_VM12, not held$"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^dc2_vm1\s+c1_hb\s+172\.31\.41\.0/24\s+port4\s+172\.31\.41\.11\s+own$"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^dc2_vm1\s+-\s+192\.168\.202\.35/32\s+lb1\s+192\.168\.202\.35\s+loopback$"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^dc_router\s+c2_port3\s+172\.31\.130\.0/24\s+c2core\s+172\.31\.130\.1$"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^client\s+mgmt\s+172\.31\.99\.0/24\s+mgmt\s+172\.31\.99\.2$"));
        // Each host's rows together: dc2_vm1's are consecutive.
        var vm1 = lines.Select((l, i) => (l, i)).Where(x => x.l.StartsWith("dc2_vm1 ", StringComparison.Ordinal)).Select(x => x.i).ToList();
        Assert.Equal(Enumerable.Range(vm1[0], vm1.Count), vm1);
    }

    [Fact]
    public void Lab_up_names_every_container_that_does_not_run()
    {
        Assert.Null(LabStatus.NotRunning([("dc_router", "running"), ("client", "running"), ("server", "running")]));
        Assert.Equal("dc_router exited (docker logs dc_router); client absent (docker logs client)",
            LabStatus.NotRunning([("dc_router", "exited"), ("client", "absent"), ("server", "running")]));
    }
}
