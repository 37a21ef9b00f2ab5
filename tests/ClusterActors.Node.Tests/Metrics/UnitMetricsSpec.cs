using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Telemetry;
using ClusterActors.Node.Hosting.Metrics;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Node.Tests.Metrics;

/// <summary>
/// How a unit's events and counters become Prometheus series (src/Node/Hosting/Metrics/README.md): synthetic events in,
/// the exposition text a scrape gets out, read back with <see cref="PrometheusText"/>. No actor system, no listener.
/// </summary>
public sealed class UnitMetricsSpec
{
    private const string Vm1 = "FGVM02TM22000001", Vm2 = "FGVM02TM22000002";

    private static async Task<IReadOnlyList<MetricSample>> Scrape(UnitMetrics m) => PrometheusText.Parse(await m.ExportAsync());

    private static double? V(IReadOnlyList<MetricSample> s, string name, params string[] labels) => PrometheusText.Value(s, name, labels);

    [Fact]
    public async Task A_unit_starts_in_hello_with_no_role_and_no_tunnel()
    {
        using var m = new UnitMetrics("DC2_VM1", Vm1, new UnitCounters());
        var s = await Scrape(m);
        Assert.Equal(1, V(s, "fortigate_ha_state", "state=hello", "unit=DC2_VM1", $"serial={Vm1}"));
        Assert.Equal(0, V(s, "fortigate_ha_state", "state=work"));
        Assert.Equal(0, V(s, "fortigate_ha_role", "role=primary"));
        Assert.Equal(0, V(s, "fortigate_ha_role", "role=secondary"));
        Assert.Equal(0, V(s, "fortigate_ipsec_tunnels", "role=sync-primary"));
        Assert.Equal(0, V(s, "fortigate_ipsec_tunnels", "role=standby"));
        Assert.Equal(1, V(s, "clusteractors_unit_incarnations"));
    }

    [Fact]
    public async Task The_role_gauge_follows_FGCP_and_a_move_of_the_primary_counts_one_failover()
    {
        using var m = new UnitMetrics("DC2_VM2", Vm2, new UnitCounters());
        m.Observe(new HaElectionObserved(Vm2, "cluster formed", Vm1));
        m.Observe(new HaRoleObserved(Vm2, HaState.Work, HaRole.Secondary, Vm1));
        m.Observe(new HaMembersObserved(Vm2, 1));
        var formed = await Scrape(m);
        Assert.Equal((0, 1, 1, 0), (V(formed, "fortigate_ha_role", "role=primary"), V(formed, "fortigate_ha_role", "role=secondary"),
            V(formed, "fortigate_ha_state", "state=work"), V(formed, "fortigate_ha_state", "state=hello")));
        Assert.Equal(1, V(formed, "fortigate_ha_members_seen"));
        // The first primary a unit sees is no failover.
        Assert.Equal(0, V(formed, "fortigate_ha_failovers_total"));

        // The same primary confirmed by another election: still none.
        m.Observe(new HaElectionObserved(Vm2, "member FGVM02TM22000003 joined", Vm1));
        m.Observe(new HaRoleObserved(Vm2, HaState.Work, HaRole.Secondary, Vm1));
        Assert.Equal(0, V(await Scrape(m), "fortigate_ha_failovers_total"));

        m.Observe(new HaMemberLostObserved(Vm2, Vm1));
        m.Observe(new HaMembersObserved(Vm2, 0));
        m.Observe(new HaElectionObserved(Vm2, "member lost", Vm2));
        m.Observe(new HaRoleObserved(Vm2, HaState.Work, HaRole.Primary, Vm2));
        var after = await Scrape(m);
        Assert.Equal((1, 0), (V(after, "fortigate_ha_role", "role=primary"), V(after, "fortigate_ha_role", "role=secondary")));
        Assert.Equal(1, V(after, "fortigate_ha_failovers_total"));
        Assert.Equal(1, V(after, "fortigate_ha_members_lost_total"));
        Assert.Equal(3, V(after, "fortigate_ha_elections_total"));
        Assert.Equal(0, V(after, "fortigate_ha_members_seen"));
    }

    [Fact]
    public async Task Tunnel_gauges_count_each_instance_once_by_its_role_here_and_forget_it_when_deleted()
    {
        using var m = new UnitMetrics("DC2_VM2", Vm2, new UnitCounters());
        m.Observe(new TunnelRoleObserved(Vm2, "vpn1", "vpn1/a", TunnelRole.Standby, TimeSpan.FromMilliseconds(3)));
        m.Observe(new TunnelRoleObserved(Vm2, "vpn1", "vpn1/b", TunnelRole.Standby));
        var synced = await Scrape(m);
        Assert.Equal((0, 2, 2), (V(synced, "fortigate_ipsec_tunnels", "role=sync-primary"), V(synced, "fortigate_ipsec_tunnels", "role=standby"),
            V(synced, "fortigate_ike_sas")));
        // One lag observed (the first sync of a), in the 5 ms bucket and above, not in the 2.5 ms one.
        Assert.Equal(1, V(synced, "fortigate_ipsec_sa_sync_lag_seconds_count"));
        Assert.Equal(0, V(synced, "fortigate_ipsec_sa_sync_lag_seconds_bucket", "le=0.0025"));
        Assert.Equal(1, V(synced, "fortigate_ipsec_sa_sync_lag_seconds_bucket", "le=0.005"));

        m.Observe(new TunnelRoleObserved(Vm2, "vpn1", "vpn1/a", TunnelRole.SyncPrimary));
        m.Observe(new TunnelRoleObserved(Vm2, "vpn1", "vpn1/b", null));
        var taken = await Scrape(m);
        Assert.Equal((1, 0, 1), (V(taken, "fortigate_ipsec_tunnels", "role=sync-primary"), V(taken, "fortigate_ipsec_tunnels", "role=standby"),
            V(taken, "fortigate_ike_sas")));

        // A new ActorSystem tells again every tunnel it holds: the old set is let go.
        m.NewIncarnation(2);
        var restarted = await Scrape(m);
        Assert.Equal((0, 2), (V(restarted, "fortigate_ipsec_tunnels", "role=sync-primary"), V(restarted, "clusteractors_unit_incarnations")));
    }

    [Fact]
    public async Task Counters_kept_on_the_data_path_are_read_at_each_scrape_with_their_causes_as_labels()
    {
        var counters = new UnitCounters();
        var hbdev = new HbdevCounters(TxPackets: 40, TxBytes: 4000, RxPackets: 38, RxBytes: 3800, RxDropped: 1);
        using var m = new UnitMetrics("DC2_VM1", Vm1, counters, () => [("port4", hbdev)]);
        counters.EspReceived(120);
        counters.EspReceived(80);
        counters.EspSent(150);
        counters.ForwardingDropped("esp while not primary");
        counters.EspDropped("esp while not primary");
        counters.EspDropped(DialupTunnelActor.EspDropCause(EspDropReason.BadIcv));
        counters.HeartbeatDropped(HeartbeatDropCause.NotFgcp, 2);
        counters.IkeNegotiation("established");
        counters.IkeNegotiation("dropped", "HalfOpenExpired");
        var s = await Scrape(m);
        Assert.Equal((2, 200, 1, 150), (V(s, "fortigate_esp_packets_total", "direction=in"), V(s, "fortigate_esp_bytes_total", "direction=in"),
            V(s, "fortigate_esp_packets_total", "direction=out"), V(s, "fortigate_esp_bytes_total", "direction=out")));
        Assert.Equal(1, V(s, "fortigate_esp_drops_total", "cause=esp_while_not_primary"));
        Assert.Equal(1, V(s, "fortigate_esp_drops_total", "cause=sa_bad_icv"));
        Assert.Equal(1, V(s, "fortigate_forwarding_drops_total", "cause=esp_while_not_primary"));
        Assert.Equal(2, V(s, "fortigate_ha_heartbeats_dropped_total", "cause=not_fgcp"));
        Assert.Equal((40, 38), (V(s, "fortigate_ha_heartbeats_sent_total", "hbdev=port4"), V(s, "fortigate_ha_heartbeats_received_total", "hbdev=port4")));
        Assert.Equal(1, V(s, "fortigate_ike_negotiations_total", "result=established", "cause="));
        Assert.Equal(1, V(s, "fortigate_ike_negotiations_total", "result=dropped", "cause=half_open_expired"));

        // The next scrape carries on from there: counters only grow.
        counters.EspReceived(100);
        hbdev = hbdev with { TxPackets = 45 };
        var next = await Scrape(m);
        Assert.Equal((3, 45), (V(next, "fortigate_esp_packets_total", "direction=in"), V(next, "fortigate_ha_heartbeats_sent_total", "hbdev=port4")));
    }

    [Fact]
    public async Task Two_units_in_one_process_each_export_only_their_own_series()
    {
        using var vm1 = new UnitMetrics("DC2_VM1", Vm1, new UnitCounters());
        using var vm2 = new UnitMetrics("DC2_VM2", Vm2, new UnitCounters());
        vm1.Observe(new HaRoleObserved(Vm1, HaState.Work, HaRole.Primary, Vm1));
        vm2.Observe(new HaRoleObserved(Vm2, HaState.Work, HaRole.Secondary, Vm1));
        var s1 = await Scrape(vm1);
        var s2 = await Scrape(vm2);
        Assert.All(s1, x => Assert.True(x.Has("unit=DC2_VM1", $"serial={Vm1}"), $"{x.Name} on DC2_VM1's endpoint is not labelled DC2_VM1"));
        Assert.All(s2, x => Assert.True(x.Has("unit=DC2_VM2", $"serial={Vm2}"), $"{x.Name} on DC2_VM2's endpoint is not labelled DC2_VM2"));
        Assert.Equal((1, 0), (V(s1, "fortigate_ha_role", "role=primary"), V(s2, "fortigate_ha_role", "role=primary")));
    }

    [Theory]
    [InlineData("esp while not primary", "esp_while_not_primary")]
    [InlineData("HalfOpenExpired", "half_open_expired")]
    [InlineData("next-hop unreachable", "next_hop_unreachable")]
    [InlineData("", "")]
    public void Causes_become_snake_case_label_values(string cause, string label) => Assert.Equal(label, UnitMetrics.Label(cause));

    [Fact]
    public void The_exposition_reader_takes_labels_values_and_skips_what_is_no_sample()
    {
        var samples = PrometheusText.Parse("""
            # HELP fortigate_ha_role 1 for the role
            # TYPE fortigate_ha_role gauge
            fortigate_ha_role{unit="DC2_VM1",serial="FGVM02TM22000001",role="primary"} 1
            fortigate_ipsec_sa_sync_lag_seconds_bucket{le="+Inf"} 3
            odd{a="x \"quoted\" y"} 2.5e-3 1700000000000
            not a sample at all
            fortigate_ha_elections_total 4
            """);
        Assert.Equal(4, samples.Count);
        Assert.Equal(1, PrometheusText.Value(samples, "fortigate_ha_role", "role=primary", "unit=DC2_VM1"));
        Assert.Null(PrometheusText.Value(samples, "fortigate_ha_role", "role=secondary"));
        Assert.Equal(3, PrometheusText.Value(samples, "fortigate_ipsec_sa_sync_lag_seconds_bucket", "le=+Inf"));
        Assert.Equal(0.0025, PrometheusText.Value(samples, "odd", "a=x \"quoted\" y"));
        Assert.Equal(4, PrometheusText.Value(samples, "fortigate_ha_elections_total"));
    }
}
