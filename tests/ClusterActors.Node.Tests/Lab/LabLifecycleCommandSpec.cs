using ClusterActors.Node.DockerLab;

namespace ClusterActors.Node.Tests.Lab;

/// <summary>
/// `clusteractors lab compose|up|down|status` as a user runs them: usage errors exit 2 with one line, a topology the
/// container lab cannot lay lists every reason, the generated lab's files, a missing docker named with its package,
/// and the embedded lab's status on a hand-written topology of three FGSP members.
/// </summary>
public sealed class LabLifecycleCommandSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-lab-lifecycle-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void A_wrong_mode_or_an_embedded_down_is_a_usage_error()
    {
        var (exit, stdout, stderr) = CommandLineSpec.Run("lab up --mode vm");
        Assert.Equal((2, "", "clusteractors: --mode is embedded or docker, not 'vm'\n"), (exit, stdout, stderr));
        (exit, _, stderr) = CommandLineSpec.Run("lab down");
        Assert.Equal(2, exit);
        Assert.StartsWith("clusteractors: an embedded lab lives in its `lab up` process", stderr);
        (exit, _, stderr) = CommandLineSpec.Run("lab status --mode docker --topology lab2");
        Assert.Equal(2, exit);
        Assert.StartsWith("clusteractors: unknown scenario 'lab2' (known: fgsp-standalone, seed)", stderr);
        (exit, _, stderr) = CommandLineSpec.Run("lab up --mode");
        Assert.Equal(2, exit);
        Assert.StartsWith("clusteractors: ", stderr);
    }

    [Fact]
    public void Lab_compose_prints_or_writes_the_generated_lab()
    {
        var topology = Path.Combine(_dir, "topology.yml");
        ThreeMembers.Write(_dir);
        var (exit, stdout, stderr) = CommandLineSpec.Run($"lab compose --topology \"{topology}\"");
        Assert.True(exit == 0, stderr);
        Assert.Contains("\n  dc2_vm5:\n", stdout);
        Assert.Contains("      LAB_REVERSE: \"acore=172.31.129.254 bcore=172.31.130.254 ccore=172.31.131.254\"\n", stdout);
        var file = Path.Combine(_dir, "out.yml");
        (exit, stdout, stderr) = CommandLineSpec.Run($"lab compose --topology \"{topology}\" --out \"{file}\"");
        Assert.True(exit == 0, stderr);
        Assert.Equal($"{file}: the container lab of topology three (4 units, 11 networks)\n", stdout);
        Assert.Contains("\n  dc2_vm5:\n", File.ReadAllText(file));
    }

    [Fact]
    public void A_topology_the_container_lab_cannot_lay_prints_every_reason_and_exits_2()
    {
        ThreeMembers.Write(_dir, t => t.Replace("pcs: { PC1: 10.10.1.2/24 }", "pcs: { PC1: 10.10.1.2/24, PC2: 10.10.1.3/24 }"));
        var (exit, stdout, stderr) = CommandLineSpec.Run($"lab compose --topology \"{Path.Combine(_dir, "topology.yml")}\"");
        Assert.Equal((2, ""), (exit, stdout));
        Assert.Equal("three: client CLIENT1: the container lab puts one PC behind a client, not 2\n"
                     + "clusteractors: three: 1 problem(s) for the container lab; nothing generated\n", stderr);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Up_writes_the_lab_under_artifacts_labs_and_names_a_missing_docker_with_its_package()
    {
        var topology = ThreeMembers.Write(_dir);
        var root = Path.Combine(_dir, "root");
        var lab = new DockerLabLifecycle(topology, root, TextWriter.Null, locate: _ => null);
        Assert.Equal(Path.Combine(root, "artifacts", "labs", "three"), lab.Dir);
        var e = await Assert.ThrowsAsync<LabToolMissingException>(() => lab.Up(CancellationToken.None));
        Assert.StartsWith("docker (Debian package docker.io) is not installed", e.Message);
        Assert.False(Directory.Exists(lab.Dir)); // nothing written before the tools are there

        lab.WriteFiles();
        var compose = File.ReadAllText(lab.ComposeFilePath);
        Assert.Contains("volumes: [\"./units:/etc/clusteractors:ro\", \"./certs:/etc/clusteractors-certs:ro\", \"dc2_vm5-data:/var/lib/clusteractors\"]", compose);
        Assert.Contains($"volumes: [\"{_dir}:/etc/clusteractors-topology:ro\"]", compose);
        var hocon = File.ReadAllText(Path.Combine(lab.Dir, "units", "DC2_VM1.hocon"));
        Assert.Contains("hbdev.port4 { bind = \"172.31.41.11:7000\", peers = [\"172.31.41.12:7000\"] }", hocon);
        Assert.DoesNotContain("hbdev", File.ReadAllText(Path.Combine(lab.Dir, "units", "DC2_VM5.hocon")));
        Assert.Contains("#serialno=FGVM02TM22000005", File.ReadAllText(Path.Combine(lab.Dir, "units", "DC2_VM5.conf")));
        foreach (var f in new[] { "ca.crt", "DC2_VM1.crt", "DC2_VM5.crt", "DC2_VM5.key" })
            Assert.True(File.Exists(Path.Combine(lab.Dir, "certs", f)), f);
        Assert.True(File.GetUnixFileMode(Path.Combine(lab.Dir, "certs", "DC2_VM5.key")).HasFlag(UnixFileMode.OtherRead));
    }

    [Fact]
    public void Embedded_status_brings_three_FGSP_members_up_and_prints_their_roles()
    {
        ThreeMembers.Write(_dir);
        var (exit, stdout, stderr) = CommandLineSpec.Run($"lab status --topology \"{Path.Combine(_dir, "topology.yml")}\"", timeoutMs: 120_000);
        Assert.True(exit == 0, stdout + stderr);
        Assert.Matches(@"(?m)^DC2_VM1\s+running\s+DC2_VM12 \(group-id 1\)\s+primary \(2 members\)\s+DC2_VM12 \(member-id 1\)\s+none$", stdout);
        Assert.Matches(@"(?m)^DC2_VM2\s+running\s+DC2_VM12 \(group-id 1\)\s+secondary \(2 members\)", stdout);
        Assert.Matches(@"(?m)^DC2_VM3\s+running\s+standalone\s+primary\s+DC2_VM3 \(member-id 2\)\s+none$", stdout);
        Assert.Matches(@"(?m)^DC2_VM5\s+running\s+standalone\s+primary\s+DC2_VM5 \(member-id 3\)\s+none$", stdout);
        Assert.Matches(@"(?m)^DC2_VM5\s+c-port2\s+192\.168\.131\.0/24\s+port2\s+192\.168\.131\.254$", stdout);
    }
}
