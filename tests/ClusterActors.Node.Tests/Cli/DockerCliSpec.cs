using System.Diagnostics;
using System.Text.RegularExpressions;
using ClusterActors.Node.DockerLab;
using ClusterActors.Node.Drills;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Cli;

/// <summary>
/// `docker exec -it dc2_vm1 cli` (issue 14 item 1): the console of a unit of the container lab, typed into a real
/// terminal (tmux): the prompt, an HA command, and `execute ha manage` landing on DC2_VM2's prompt through the
/// members the compose file gives the `cli` script (LAB_MEMBERS). Cluster 1 of the root docker-compose.yml, images
/// built offline first. Needs docker, docker-compose, a running engine and tmux: a missing one fails the spec.
/// </summary>
[Trait("Lab", "docker")]
[Collection(DockerLabCollection.Name)]
public sealed class DockerCliSpec(ITestOutputHelper output) : IDisposable
{
    private const string Project = "clusteractors-console";
    private readonly TmuxSession _tmux = new();

    public void Dispose() => _tmux.Dispose();

    [Fact]
    public async Task The_console_of_a_container_unit_hops_to_its_FGCP_peer()
    {
        RequiredTool.Check("tmux");
        var (docker, compose, root) = await DockerLabSpecs.Prepare();
        string[] File(params string[] args) => ["-p", Project, "-f", Path.Combine(root, "docker-compose.yml"), .. args];
        await DockerDrillLab.Run(compose, File("down", "-t", "1", "-v"), TimeSpan.FromMinutes(2), check: false, root);
        try
        {
            await DockerDrillLab.Run(compose, File("up", "-d", "dc2_vm1", "dc2_vm2"), TimeSpan.FromMinutes(3), check: true, root);
            // Cluster 1 formed: DC2_VM2 in DC2_VM1's HA table with its cluster index.
            var sw = Stopwatch.StartNew();
            var index = "";
            while (index.Length == 0)
            {
                Assert.True(sw.Elapsed < TimeSpan.FromSeconds(90), "cluster 1 did not list DC2_VM2 within 90 s");
                var (_, status) = await DockerDrillLab.Run(docker, ["exec", "dc2_vm1", "cli", "get", "system", "ha", "status"], TimeSpan.FromSeconds(30), check: false);
                index = Regex.Match(status, @"DC2_VM2 +, \S+, HA cluster index = (\d)").Groups[1].Value;
                if (index.Length == 0) await Task.Delay(500);
            }

            _tmux.Start($"{docker} exec -it dc2_vm1 cli");
            await _tmux.Until(s => TmuxSession.LastLine(s) == "DC2_VM1 #", "the prompt DC2_VM1 #", 30);
            _tmux.Type("get system ha status", "Enter");
            var screen = await _tmux.Until(s => s.Contains("HA Health Status") && TmuxSession.LastLine(s) == "DC2_VM1 #", "get system ha status, then the prompt");
            Assert.Contains("DC2_VM1 # get system ha status", screen);
            _tmux.Type($"execute ha manage {index} admin", "Enter");
            await _tmux.Until(s => TmuxSession.LastLine(s) == "DC2_VM2 #", "execute ha manage landing on DC2_VM2's prompt");
            _tmux.Type("get system status", "Enter");
            screen = await _tmux.Until(s => s.Contains("Hostname: DC2_VM2") && TmuxSession.LastLine(s) == "DC2_VM2 #", "get system status answered by DC2_VM2");
            output.WriteLine(screen);
            _tmux.Type("exit", "Enter");
        }
        finally
        {
            await DockerDrillLab.Run(compose, File("down", "-t", "1", "-v"), TimeSpan.FromMinutes(2), check: false, root);
        }
    }
}
