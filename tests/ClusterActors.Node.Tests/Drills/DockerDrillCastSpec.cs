using System.Net;
using System.Text.RegularExpressions;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// The docker drill lab's cast, read from the topology (<see cref="DockerDrillCast"/>): for the seed exactly what the lab
/// hard-coded before (and what the shipped src/Node/lab/units/*.hocon say), for fgsp-standalone its own four standalone
/// units, lb1 192.168.202.31 and one unit behind each next hop.
/// </summary>
public sealed class DockerDrillCastSpec
{
    private static readonly string Root = DockerDrillLab.FindRoot();

    [Fact]
    public void The_seed_cast_is_what_the_docker_drill_lab_hard_coded()
    {
        var cast = DockerDrillCast.From(Scenarios.Topology("seed"));

        Assert.Equal(["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"], cast.Units);
        Assert.Equal(Scenarios.Units("seed"), cast.Units);
        foreach (var (unit, n) in cast.Units.Select((u, i) => (u, i + 1)))
        {
            Assert.Equal(unit.ToLowerInvariant(), cast.Container(unit));
            Assert.Equal(new IPEndPoint(IPAddress.Parse($"172.31.99.1{n}"), 8022), cast.Admin[unit]);
            Assert.Equal($"172.31.2.1{n}", cast.AkkaAddress[unit]);
        }
        Assert.Equal(["DC2_VM1+DC2_VM2", "DC2_VM3+DC2_VM4"], cast.Clusters.Select(c => string.Join("+", c)));
        Assert.Equal("dc_router", cast.RouterContainer);
        Assert.Equal("wan", cast.RouterClientLeg);
        Assert.Equal("192.168.202.35", cast.EcmpDestination);
        Assert.Equal(["192.168.129.254=DC2_VM1+DC2_VM2", "192.168.130.254=DC2_VM3+DC2_VM4"],
            cast.HopUnits.Select(h => $"{h.Key}={string.Join("+", h.Value)}"));
        Assert.Equal("client", cast.ClientContainer);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("172.31.99.2"), 8023), cast.ClientControl);
        Assert.Equal("192.168.7.2", cast.ClientWanAddress);
        Assert.Equal(["dc_router", "server", "client"], cast.Companions);
        // host-bridges.sh's default list is the seed's: the cast names the same bridges.
        var script = File.ReadAllText(Path.Combine(Root, "src/Node/lab/host-bridges.sh"));
        var defaults = Regex.Match(script, @"(?m)^BRIDGES=\(([^)]*)\)").Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(defaults.Order(StringComparer.Ordinal), cast.Bridges.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_seed_cast_matches_the_shipped_units_wiring()
    {
        var cast = DockerDrillCast.From(Scenarios.Topology("seed"));
        foreach (var unit in cast.Units)
        {
            var hocon = File.ReadAllText(Path.Combine(Root, "src/Node/lab/units", unit + ".hocon"));
            Assert.Equal(cast.Admin[unit].ToString(), Regex.Match(hocon, "(?m)^\\s*admin = \"([^\"]+)\"").Groups[1].Value);
            Assert.Equal(cast.AkkaAddress[unit] + ":2552", Regex.Match(hocon, "(?m)^\\s*akka = \"([^\"]+)\"").Groups[1].Value);
        }
    }

    [Fact]
    public void The_fgsp_standalone_cast_has_four_standalone_units_one_behind_each_next_hop()
    {
        var cast = DockerDrillCast.From(Scenarios.Topology("fgsp-standalone"));

        Assert.Equal(["DC1_VM1", "DC1_VM2", "DC1_VM3", "DC1_VM4"], cast.Units);
        Assert.Equal(["dc1_vm1", "dc1_vm2", "dc1_vm3", "dc1_vm4"], cast.Units.Select(cast.Container));
        Assert.Equal(["172.31.1.11", "172.31.1.12", "172.31.1.13", "172.31.1.14"], cast.Units.Select(u => cast.AkkaAddress[u]));
        Assert.Equal(["172.31.99.11:8022", "172.31.99.12:8022", "172.31.99.13:8022", "172.31.99.14:8022"], cast.Units.Select(u => cast.Admin[u].ToString()));
        // No FGCP: each unit is a group of its own, so the lab waits for four primaries of one, not one cluster of four.
        Assert.Equal(["DC1_VM1", "DC1_VM2", "DC1_VM3", "DC1_VM4"], cast.Clusters.Select(c => string.Join("+", c)));
        Assert.Equal("192.168.202.31", cast.EcmpDestination);
        Assert.Equal("wan", cast.RouterClientLeg);
        Assert.Equal(["192.168.125.254=DC1_VM1", "192.168.126.254=DC1_VM2", "192.168.127.254=DC1_VM3", "192.168.128.254=DC1_VM4"],
            cast.HopUnits.Select(h => $"{h.Key}={string.Join("+", h.Value)}"));
        Assert.Equal(["dc_router", "server", "client"], cast.Companions);
        Assert.Contains("ca-vm4-port2", cast.Bridges);
        Assert.Contains("ca-fgsp", cast.Bridges);
        Assert.DoesNotContain("ca-mgmt", cast.Bridges);
    }

    [Fact]
    public void The_seed_override_is_byte_for_byte_the_one_the_lab_wrote_before()
    {
        var cast = DockerDrillCast.From(Scenarios.Topology("seed"));
        var text = DockerDrillLab.Override(cast, "/tmp/d/units", new ProbeOptions(TimeSpan.FromMilliseconds(100), 45));
        Assert.Equal(
            "version: \"2.4\"\nservices:\n"
            + "  dc2_vm1:\n    volumes: [\"/tmp/d/units:/etc/clusteractors:ro\", \"dc2_vm1-data:/var/lib/clusteractors\"]\n"
            + "  dc2_vm2:\n    volumes: [\"/tmp/d/units:/etc/clusteractors:ro\", \"dc2_vm2-data:/var/lib/clusteractors\"]\n"
            + "  dc2_vm3:\n    volumes: [\"/tmp/d/units:/etc/clusteractors:ro\", \"dc2_vm3-data:/var/lib/clusteractors\"]\n"
            + "  dc2_vm4:\n    volumes: [\"/tmp/d/units:/etc/clusteractors:ro\", \"dc2_vm4-data:/var/lib/clusteractors\"]\n"
            + "  dc_router:\n    environment:\n      LAB_PROBE_MISSES: \"45\"\n      LAB_PROBE_INTERVAL: \"100ms\"\n",
            text);
    }

    [Fact]
    public void Only_the_shipped_seed_runs_the_root_compose_file()
    {
        Assert.True(DockerDrillLab.IsShippedSeed(Scenarios.Topology("seed")));
        Assert.False(DockerDrillLab.IsShippedSeed(Scenarios.Topology("fgsp-standalone")));
        // A copy of the seed elsewhere is a topology of its own: its lab is generated, not the repository's file.
        var dir = Directory.CreateTempSubdirectory("clusteractors-seed-copy-").FullName;
        try
        {
            foreach (var f in Directory.GetFiles(Scenarios.Directory("seed"))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            Assert.False(DockerDrillLab.IsShippedSeed(Scenarios.Topology(Path.Combine(dir, "topology.yml"))));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public async Task A_docker_drill_without_docker_fails_in_one_line_naming_its_package()
    {
        var e = await Assert.ThrowsAsync<ClusterActors.Node.DockerLab.LabToolMissingException>(() => DockerDrillLab.Preflight(CancellationToken.None, _ => null));
        Assert.Equal("docker (Debian package docker.io) is not installed: --mode docker runs the lab in containers (.ci/docker-setup installs it)", e.Message);
        e = await Assert.ThrowsAsync<ClusterActors.Node.DockerLab.LabToolMissingException>(
            () => DockerDrillLab.Preflight(CancellationToken.None, name => name == "docker" ? "/usr/bin/docker" : null));
        Assert.StartsWith("docker-compose (Debian package docker-compose) is not installed", e.Message);
    }

    [Fact]
    public async Task The_strongswan_client_is_the_seed_container_labs_only()
    {
        var e = await Assert.ThrowsAsync<UsageException>(() => DrillCommand.RunAsync(
            new DrillCommand.Request(["fgsp-standalone", "all"], Mode: "docker", Client: DrillCommand.StrongSwanClient), TextWriter.Null, TextWriter.Null,
            CancellationToken.None));
        Assert.Equal("--client strongswan runs in the seed's container lab only, not fgsp-standalone", e.Message);
    }
}
