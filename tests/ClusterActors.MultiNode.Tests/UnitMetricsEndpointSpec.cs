using System.Net;
using System.Net.Sockets;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Hosting.Metrics;
using ClusterActors.Protocol.Fgcp;
using Xunit.Abstractions;

namespace ClusterActors.MultiNode.Tests;

/// <summary>
/// Each unit's Prometheus endpoint over real HTTP, as `curl http://HOST:PORT/metrics` sees it: cluster 1 (DC2_VM1
/// primary, DC2_VM2 secondary) in one process, each unit on its own listener and registry; the client dials in to
/// DC2_VM1; DC2_VM1 is killed and DC2_VM2's role gauge and sync-primary tunnel gauge move with the failover.
/// </summary>
[Collection("multi-node")]
public sealed class UnitMetricsEndpointSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Timers = "config system ha\nset hb-lost-threshold 6\nset hello-holddown 5\nend";
    private readonly LoopbackLab _lab = new() { Metrics = true };
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _lab.DisposeAsync();
    }

    private Uri Url(string unit) => new($"http://{_lab.MetricsOf(unit)}/metrics");

    private async Task<IReadOnlyList<MetricSample>> Curl(string unit) => PrometheusText.Parse(await _http.GetStringAsync(Url(unit)));

    private async Task<bool> Shows(string unit, string name, double value, params string[] labels) =>
        PrometheusText.Value(await Curl(unit), name, labels) == value;

    [Fact]
    public async Task The_role_and_tunnel_gauges_of_each_unit_follow_a_failover_on_its_own_endpoint()
    {
        _lab.Define([("DC2_VM1", LoopbackLab.ScenarioConfig("DC2_VM1", Timers)), ("DC2_VM2", LoopbackLab.ScenarioConfig("DC2_VM2", Timers))]);
        await _lab.Start("DC2_VM1");
        await _lab.Start("DC2_VM2");
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && await _lab.IsRole("DC2_VM2", HaRole.Secondary)
                                                 && _lab.AkkaMembersUp("DC2_VM2") == 2, TimeSpan.FromSeconds(30), "cluster 1 formed, DC2_VM1 primary");

        await LoopbackLab.Eventually(async () => await Shows("DC2_VM1", "fortigate_ha_role", 1, "role=primary")
                                                 && await Shows("DC2_VM2", "fortigate_ha_role", 1, "role=secondary"),
            TimeSpan.FromSeconds(5), "each endpoint shows its own unit's role");
        var vm1 = await Curl("DC2_VM1");
        Assert.All(vm1, s => Assert.Equal("DC2_VM1", s.Labels["unit"]));
        Assert.Equal(0, PrometheusText.Value(vm1, "fortigate_ha_role", "role=secondary"));
        Assert.Equal(1, PrometheusText.Value(vm1, "fortigate_ha_members_seen"));
        Assert.True(PrometheusText.Value(vm1, "fortigate_ha_heartbeats_sent_total", "hbdev=port4") > 0, "DC2_VM1 counts the heartbeats it sent");
        Assert.True(PrometheusText.Value(vm1, "fortigate_ha_heartbeats_received_total", "hbdev=port4") > 0, "DC2_VM1 counts the heartbeats it heard");
        Assert.True(PrometheusText.Value(vm1, "fortigate_ha_elections_total") >= 1);

        // A datagram that is no heartbeat on DC2_VM2's hbdev: dropped, and counted by its cause.
        using (var junk = new UdpClient(AddressFamily.InterNetwork))
            await junk.SendAsync("not a heartbeat"u8.ToArray(), _lab.OptionsOf("DC2_VM2").Hbdevs[0].Bind);
        await LoopbackLab.Eventually(() => Shows("DC2_VM2", "fortigate_ha_heartbeats_dropped_total", 1, "cause=not_fgcp"),
            TimeSpan.FromSeconds(5), "DC2_VM2 counts the junk datagram as dropped (not_fgcp)");

        await _lab.Dial("DC2_VM1");
        await LoopbackLab.Eventually(async () => await Shows("DC2_VM1", "fortigate_ipsec_tunnels", 1, "role=sync-primary")
                                                 && await Shows("DC2_VM2", "fortigate_ipsec_tunnels", 1, "role=standby"),
            TimeSpan.FromSeconds(5), "DC2_VM1 owns the tunnel, DC2_VM2 holds it as standby");
        var vm2 = await Curl("DC2_VM2");
        Assert.Equal(1, PrometheusText.Value(await Curl("DC2_VM1"), "fortigate_ike_negotiations_total", "result=established"));
        Assert.Equal(0, PrometheusText.Value(vm2, "fortigate_ipsec_tunnels", "role=sync-primary"));
        Assert.Equal(1, PrometheusText.Value(vm2, "fortigate_ipsec_sa_sync_lag_seconds_count"));
        Assert.Equal(0, PrometheusText.Value(vm2, "fortigate_ha_failovers_total"));
        output.WriteLine($"curl {Url("DC2_VM2")} (before the failover):\n{Sample(await _http.GetStringAsync(Url("DC2_VM2")))}");

        await _lab.Kill("DC2_VM1");
        var took = await LoopbackLab.Eventually(async () => await Shows("DC2_VM2", "fortigate_ha_role", 1, "role=primary")
                                                            && await Shows("DC2_VM2", "fortigate_ipsec_tunnels", 1, "role=sync-primary"),
            TimeSpan.FromSeconds(15), "DC2_VM2's endpoint shows it primary and sync-primary for the tunnel");
        output.WriteLine($"DC2_VM2's endpoint showed the failover {took.TotalMilliseconds:0} ms after the kill");
        var after = await Curl("DC2_VM2");
        Assert.Equal(0, PrometheusText.Value(after, "fortigate_ha_role", "role=secondary"));
        Assert.Equal(0, PrometheusText.Value(after, "fortigate_ipsec_tunnels", "role=standby"));
        Assert.Equal(1, PrometheusText.Value(after, "fortigate_ha_failovers_total"));
        Assert.Equal(1, PrometheusText.Value(after, "fortigate_ha_members_lost_total"));
        Assert.Equal(0, PrometheusText.Value(after, "fortigate_ha_members_seen"));
        output.WriteLine($"curl {Url("DC2_VM2")} (after DC2_VM1 was killed):\n{Sample(await _http.GetStringAsync(Url("DC2_VM2")))}");

        // A killed unit is a power cut: its endpoint is gone with it.
        await Assert.ThrowsAsync<HttpRequestException>(() => _http.GetStringAsync(Url("DC2_VM1")));
    }

    /// <summary>The HA and tunnel lines of a scrape, for the test's output.</summary>
    private static string Sample(string text) =>
        string.Join("\n", text.Split('\n').Where(l => l.StartsWith("fortigate_ha_role", StringComparison.Ordinal)
                                                      || l.StartsWith("fortigate_ipsec_tunnels", StringComparison.Ordinal)
                                                      || l.StartsWith("fortigate_ha_failovers", StringComparison.Ordinal)));
}
