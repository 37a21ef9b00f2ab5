using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ClusterActors.Node.DockerLab;
using ClusterActors.Node.Drills;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Metrics;

/// <summary>
/// The compose lab's `observability` profile (issue 14 item 4: "Prometheus in the lab scrapes all units"): the seed's
/// four units and Prometheus from the root docker-compose.yml, images built offline first. Prometheus must see all four
/// targets up, one working primary per FGCP cluster, DC2_VM2 primary once DC2_VM1 is killed, and its failover-time
/// rule must count the seconds cluster DC2_VM12 had no primary (and none for DC2_VM34). Needs docker, docker-compose
/// and a running engine: a missing one fails the spec, never a skip. One container lab per machine (fixed names and
/// bridges): trait Lab=docker, as the docker drills.
/// </summary>
[Trait("Lab", "docker")]
[Collection(DockerLabCollection.Name)]
public sealed class ObservabilityProfileSpec(ITestOutputHelper output)
{
    private const string Project = "clusteractors-observability";
    private static readonly string[] Services = ["dc2_vm1", "dc2_vm2", "dc2_vm3", "dc2_vm4", "prometheus"];
    private static readonly Dictionary<string, string> Profile = new() { ["COMPOSE_PROFILES"] = "observability" };
    private static readonly string Api = $"http://{DockerLabPlan.From(Hosting.Scenarios.Topology("seed")).Prometheus.Address}:{DockerLabPlan.PrometheusPort}";

    [Fact]
    public async Task Prometheus_scrapes_every_unit_and_its_rules_measure_a_failover()
    {
        var (_, compose, root) = await DockerLabSpecs.Prepare();

        string[] File(params string[] args) => ["-p", Project, "-f", Path.Combine(root, "docker-compose.yml"), .. args];
        // A lab left behind by a run that died (same container names) goes first.
        await DockerDrillLab.Run(compose, File("down", "-t", "1", "-v"), TimeSpan.FromMinutes(2), check: false, root, Profile);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        try
        {
            await DockerDrillLab.Run(compose, File(["up", "-d", .. Services]), TimeSpan.FromMinutes(3), check: true, root, Profile);

            var up = await Until(http, "up", r => r.Count == 4 && r.All(s => s.Value == 1), TimeSpan.FromSeconds(90));
            Assert.Equal(["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"], up.Keys.Order());
            await Until(http, "fortigate:cluster_primaries", r => r.Count == 2 && r.Values.All(v => v == 1), TimeSpan.FromSeconds(90), by: "cluster");
            var primaries = await Until(http, "fortigate_ha_role{role=\"primary\"} == 1", r => r.Count == 2, TimeSpan.FromSeconds(30));
            Assert.Equal(["DC2_VM1", "DC2_VM3"], primaries.Keys.Order());

            // The rule's window holds the lab's start too (each cluster is without a primary until its election): the
            // failover is what it adds from here.
            await Task.Delay(TimeSpan.FromSeconds(2));
            var before = await Until(http, "fortigate:cluster_seconds_without_primary:5m", r => r.Count == 2, TimeSpan.FromSeconds(30), by: "cluster");
            var killed = Stopwatch.StartNew();
            await DockerDrillLab.Run("docker", ["kill", "dc2_vm1"], TimeSpan.FromSeconds(30), check: true);
            await Until(http, "fortigate_ha_role{role=\"primary\",unit=\"DC2_VM2\"} == 1 and on (instance) fortigate_ha_state{state=\"work\"} == 1",
                r => r.Count == 1, TimeSpan.FromSeconds(45));
            output.WriteLine($"DC2_VM2 primary in Prometheus {killed.Elapsed.TotalSeconds:0.0} s after the kill");
            var without = await Until(http, "fortigate:cluster_seconds_without_primary:5m", r => r.GetValueOrDefault("DC2_VM12") >= before["DC2_VM12"] + 1,
                TimeSpan.FromSeconds(30), by: "cluster");
            var failover = without["DC2_VM12"] - before["DC2_VM12"];
            output.WriteLine($"fortigate:cluster_seconds_without_primary:5m before the kill {string.Join(", ", before.Select(kv => $"{kv.Key} {kv.Value}"))}, "
                             + $"after {string.Join(", ", without.Select(kv => $"{kv.Key} {kv.Value}"))}: the failover {failover} s");
            Assert.True(failover <= killed.Elapsed.TotalSeconds + 1, $"{failover} s without a primary, more than since the kill");
            Assert.Equal(before["DC2_VM34"], without["DC2_VM34"]);
        }
        finally
        {
            var (_, logs) = await DockerDrillLab.Run("docker", ["logs", "--tail", "20", "clusteractors_prometheus"], TimeSpan.FromSeconds(30), check: false);
            output.WriteLine("prometheus:\n" + logs);
            await DockerDrillLab.Run(compose, File("down", "-t", "1", "-v"), TimeSpan.FromMinutes(2), check: false, root, Profile);
        }
    }

    /// <summary>Queries Prometheus every 500 ms until the result (value per <paramref name="by"/> label) satisfies
    /// <paramref name="done"/>; fails with the last result otherwise.</summary>
    private async Task<Dictionary<string, double>> Until(HttpClient http, string query, Func<Dictionary<string, double>, bool> done, TimeSpan within,
        string by = "unit")
    {
        var sw = Stopwatch.StartNew();
        var last = new Dictionary<string, double>();
        string? error = null;
        while (sw.Elapsed < within)
        {
            try
            {
                using var doc = JsonDocument.Parse(await http.GetStringAsync($"{Api}/api/v1/query?query={Uri.EscapeDataString(query)}"));
                last = doc.RootElement.GetProperty("data").GetProperty("result").EnumerateArray().ToDictionary(
                    r => r.GetProperty("metric").TryGetProperty(by, out var l) ? l.GetString()! : "?",
                    r => double.Parse(r.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture));
                error = null;
                if (done(last)) return last;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
            {
                error = e.Message; // Prometheus not up yet
            }
            await Task.Delay(500);
        }
        throw new TimeoutException($"{query}: not as expected within {within.TotalSeconds:0} s; last {string.Join(", ", last.Select(kv => $"{kv.Key}={kv.Value}"))}"
                                   + (error is null ? "" : $" ({error})"));
    }
}
