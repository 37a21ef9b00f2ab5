using ClusterActors.Actors.Fgcp;
using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Scenario;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>The lab methods the chaos drill added: SIGSTOP/SIGCONT of one embedded unit, and the synced-config checksum.</summary>
[Collection(RealProcessesCollection.Name)]
public sealed class ChaosLabSpec(ITestOutputHelper output)
{
    [Fact]
    public async Task A_frozen_embedded_unit_goes_silent_its_peer_takes_over_and_after_SIGCONT_the_cluster_has_one_primary()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var changes = DrillCommand.Changes(ChaosCommand.Definition, fastTimers: true);
        await using var lab = new EmbeddedDrillLab(changes);
        output.WriteLine(await lab.Up(DrillCatalog.Preferred, cts.Token));
        // Just formed, a secondary may still be taking its primary's config: wait for the sync (the chaos drill reads
        // checksums once a run has settled).
        var sums = new Dictionary<string, string?>();
        await LoopbackLab.Eventually(async () =>
        {
            foreach (var unit in lab.Units) sums[unit] = await lab.ConfigChecksum(unit);
            return sums["DC2_VM1"] == sums["DC2_VM2"] && sums["DC2_VM3"] == sums["DC2_VM4"];
        }, TimeSpan.FromSeconds(10), "the synced-config checksums equal within each cluster");
        output.WriteLine(string.Join(", ", sums.Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.All(sums.Values, Assert.NotNull);
        Assert.Equal(sums["DC2_VM1"], sums["DC2_VM2"]);
        Assert.Equal(sums["DC2_VM3"], sums["DC2_VM4"]);
        Assert.NotEqual(sums["DC2_VM1"], sums["DC2_VM3"]);

        var frozenAt = System.Diagnostics.Stopwatch.StartNew();
        await lab.Freeze("DC2_VM1", frozen: true);
        Assert.Null(await lab.Ha("DC2_VM1"));
        Assert.Null(await lab.Tunnels("DC2_VM1"));
        Assert.Null(await lab.ConfigChecksum("DC2_VM1"));
        // Frozen, DC2_VM1 sends no heartbeat: DC2_VM2 declares it lost after hb-interval × hb-lost-threshold (1.2 s).
        var took = await LoopbackLab.Eventually(async () => await lab.Ha("DC2_VM2") is { Working: true, Primary: true }, TimeSpan.FromSeconds(5),
            "DC2_VM2 primary while DC2_VM1 is frozen");
        output.WriteLine($"DC2_VM2 primary after {took.TotalMilliseconds:0} ms");
        // Counted from DC2_VM1's last heartbeat, up to one hb-interval before the freeze.
        Assert.InRange(frozenAt.Elapsed.TotalMilliseconds, lab.Timers.FgcpDetectionMs - lab.Timers.HbIntervalMs, 10_000);
        await Assert.ThrowsAsync<InvalidOperationException>(() => lab.Freeze("DC2_VM1", frozen: true));

        await lab.Freeze("DC2_VM1", frozen: false);
        await LoopbackLab.Eventually(async () =>
        {
            var a = await lab.Ha("DC2_VM1");
            var b = await lab.Ha("DC2_VM2");
            return a is { Working: true, Members: 2 } && b is { Working: true, Members: 2 } && a.Primary != b.Primary;
        }, TimeSpan.FromSeconds(10), "one primary in cluster 1 after SIGCONT");
        Assert.NotNull(await lab.Tunnels("DC2_VM1"));
    }

    [Fact]
    public void The_docker_labs_checksum_of_show_full_configuration_is_the_units_own()
    {
        var config = LoopbackLab.ScenarioConfig("DC2_VM1", EmbeddedScenarioDriver.FastTimers);
        Assert.Equal(FgcpConfigSync.Checksum(config), DockerDrillLab.ChecksumOfShown(config.Show("", full: true), "DC2_VM1"));
        Assert.StartsWith("unparsable: ", DockerDrillLab.ChecksumOfShown("config system ha\n    set nosuch 1\n", "DC2_VM1"));
    }

    /// <summary>The docker lab's Akka cut is one nft line: nft itself must accept it (`nft -c`, check only, nothing
    /// applied). The first docker run failed on `} chain` without a `;`.</summary>
    [Fact]
    public async Task The_docker_labs_akka_cut_script_is_valid_nft()
    {
        if (!File.Exists("/usr/sbin/nft") && !File.Exists("/sbin/nft"))
            Assert.Fail("nft is missing: install the Debian package nftables");
        foreach (var script in new[] { DockerDrillLab.AkkaCutScript("clusteractors_akka_cut_spec", "172.31.2.11", cut: true) })
        {
            var start = new System.Diagnostics.ProcessStartInfo("nft") { RedirectStandardError = true, RedirectStandardOutput = true };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(script);
            using var nft = System.Diagnostics.Process.Start(start)!;
            var text = await nft.StandardError.ReadToEndAsync();
            await nft.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
            Assert.True(nft.ExitCode == 0, $"nft -c refused: {text}");
        }
        Assert.Equal("delete table inet clusteractors_akka_cut_spec", DockerDrillLab.AkkaCutScript("clusteractors_akka_cut_spec", "172.31.2.11", cut: false));
    }
}
