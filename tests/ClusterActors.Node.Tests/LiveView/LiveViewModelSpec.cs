using System.Text.Json;
using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.LiveView;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Node.Tests.LiveView;

/// <summary>
/// What the live page reads, without a lab: a unit's row from the lab's answers, the rate between two polls, the events
/// between two snapshots, the JSON names the page's script uses, the server-sent-event frames, and the page itself.
/// </summary>
public sealed class LiveViewModelSpec
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 6, 14, 0, 0, TimeSpan.Zero);

    private static UnitLive U(string unit, string ha, string? tunnelRole = null, long? forwarded = 0) =>
        new(unit, ha, tunnelRole is null ? [] : [new TunnelLive("vpn1_1", tunnelRole)], null, forwarded);

    private static LabSnapshot S(double seconds, IReadOnlyList<UnitLive> units, bool hop1Alive = true) =>
        new(T0.AddSeconds(seconds), "seed", "up", null, units,
            [new NextHopLive("192.168.129.254", ["DC2_VM1", "DC2_VM2"], hop1Alive), new NextHopLive("192.168.130.254", ["DC2_VM3", "DC2_VM4"], true)]);

    private static readonly IReadOnlyList<UnitLive> Before =
        [U("DC2_VM1", "primary", "sync-primary"), U("DC2_VM2", "secondary", "standby"), U("DC2_VM3", "primary", "standby"), U("DC2_VM4", "secondary", "standby")];

    [Theory]
    [InlineData(true, true, "primary")]
    [InlineData(true, false, "secondary")]
    [InlineData(false, false, "hello")]
    [InlineData(false, true, "hello")]
    public void The_ha_word_is_the_units_fgcp_role_and_hello_until_it_works(bool working, bool primary, string word) =>
        Assert.Equal(word, LiveViewModel.HaWord(new HaView("DC2_VM1", working, primary, "DC2_VM1", 2)));

    [Fact]
    public void A_unit_that_does_not_answer_is_silent_with_no_tunnels_and_no_rate()
    {
        var row = LiveViewModel.Unit("DC2_VM1", null, null, null, U("DC2_VM1", "primary", "sync-primary", 500), TimeSpan.FromMilliseconds(500));
        Assert.Equal(new UnitLive("DC2_VM1", "silent", null, null, null), row);
    }

    [Fact]
    public void A_units_row_carries_its_tunnels_in_fortios_words_and_its_rate_since_the_last_poll()
    {
        var row = LiveViewModel.Unit("DC2_VM2", new HaView("DC2_VM2", true, true, "DC2_VM2", 1),
            [new TunnelView("vpn1_1", TunnelRole.SyncPrimary, 0x1234, 0x5678)], 1_150, U("DC2_VM2", "secondary", "standby", 1_100), TimeSpan.FromMilliseconds(500));
        Assert.Equal("primary", row.Ha);
        Assert.Equal([new TunnelLive("vpn1_1", "sync-primary")], row.Tunnels!);
        Assert.Equal(100.0, row.Pps);
        Assert.Equal(1_150, row.Forwarded);
    }

    [Theory]
    [InlineData(100L, 150L, 500, 100.0)]
    [InlineData(100L, 100L, 500, 0.0)]
    [InlineData(null, 150L, 500, null)] // first poll, or the unit was silent
    [InlineData(100L, null, 500, null)] // silent now
    [InlineData(900L, 20L, 500, null)] // the counter went back: started again, or a drill's fresh lab
    [InlineData(100L, 150L, 0, null)] // no time passed
    public void The_rate_is_measured_on_one_counter_only(long? before, long? now, int ms, double? pps) =>
        Assert.Equal(pps, LiveViewModel.Rate(before, now, TimeSpan.FromMilliseconds(ms)));

    [Fact]
    public void The_first_snapshot_is_the_starting_picture_not_a_change()
    {
        Assert.Empty(LiveViewModel.Changes(null, S(0, Before)));
        Assert.Empty(LiveViewModel.Changes(S(0, Before), S(0.5, Before)));
    }

    [Fact]
    public void A_killed_owner_then_its_peers_takeover_are_reported_as_role_and_tunnel_events_naming_the_new_owner()
    {
        var killed = S(1, [U("DC2_VM1", "silent", forwarded: null) with { Tunnels = null }, Before[1], Before[2], Before[3]]);
        var atKill = LiveViewModel.Changes(S(0, Before), killed);
        Assert.Equal(["role DC2_VM1: primary → silent", "tunnel vpn1_1: sync-primary DC2_VM1 → none"], atKill.Select(e => $"{e.Kind} {e.Text}"));
        Assert.Null(atKill[1].Owner);

        var takenOver = S(4, [killed.Units[0], U("DC2_VM2", "primary", "sync-primary"), Before[2], Before[3]]);
        var after = LiveViewModel.Changes(killed, takenOver);
        Assert.Equal(["role DC2_VM2: secondary → primary", "tunnel vpn1_1: sync-primary none → DC2_VM2"], after.Select(e => $"{e.Kind} {e.Text}"));
        Assert.Equal("DC2_VM2", after[0].Unit);
        Assert.Equal("DC2_VM2", after[1].Owner);
        Assert.All(after, e => Assert.Equal(takenOver.At, e.At));
    }

    [Fact]
    public void Two_units_holding_a_tunnel_as_sync_primary_at_once_are_named_both_and_no_single_owner()
    {
        var split = S(1, [Before[0], U("DC2_VM2", "primary", "sync-primary"), Before[2], Before[3]]);
        var e = Assert.Single(LiveViewModel.Changes(S(0, Before), split), x => x.Kind == "tunnel");
        Assert.Equal("vpn1_1: sync-primary DC2_VM1 → DC2_VM1+DC2_VM2", e.Text);
        Assert.Null(e.Owner);
    }

    [Fact]
    public void The_dc_router_counting_a_next_hop_dead_or_alive_again_is_an_event()
    {
        var dead = LiveViewModel.Changes(S(0, Before), S(1, Before, hop1Alive: false));
        Assert.Equal("nexthop DC router: next hop 192.168.129.254 (DC2_VM1+DC2_VM2) dead", Assert.Single(dead).Kind + " " + dead[0].Text);
        var alive = LiveViewModel.Changes(S(1, Before, hop1Alive: false), S(2, Before));
        Assert.EndsWith("(DC2_VM1+DC2_VM2) alive", Assert.Single(alive).Text);
    }

    [Fact]
    public void The_snapshot_json_has_the_names_the_pages_script_reads()
    {
        var snapshot = S(0, [U("DC2_VM1", "primary", "sync-primary", 1835) with { Pps = 100.1 }, U("DC2_VM2", "silent", forwarded: null) with { Tunnels = null }])
            with { Drill = "fgcp-failover", Lab = "drill" };
        var json = LiveViewModel.ToJson(snapshot);
        Assert.Equal(
            """{"at":"2026-12-06T14:00:00+00:00","topology":"seed","lab":"drill","drill":"fgcp-failover","units":[""" +
            """{"unit":"DC2_VM1","ha":"primary","tunnels":[{"name":"vpn1_1","role":"sync-primary"}],"pps":100.1,"forwarded":1835},""" +
            """{"unit":"DC2_VM2","ha":"silent","tunnels":null,"pps":null,"forwarded":null}],"nextHops":""" +
            """[{"address":"192.168.129.254","units":["DC2_VM1","DC2_VM2"],"alive":true},{"address":"192.168.130.254","units":["DC2_VM3","DC2_VM4"],"alive":true}]}""",
            json);
        var back = LiveViewModel.SnapshotFromJson(json)!;
        Assert.Equal(snapshot.Units[0] with { Tunnels = null }, back.Units[0] with { Tunnels = null });
        Assert.Equal(snapshot.Units[0].Tunnels, back.Units[0].Tunnels);
    }

    [Fact]
    public void An_event_is_one_server_sent_event_with_its_sequence_as_id()
    {
        var e = new LiveEvent(7, T0, "tunnel", "DC2_VM2", "vpn1_1: sync-primary none → DC2_VM2", "DC2_VM2");
        Assert.Equal(
            "id: 7\nevent: event\ndata: " +
            """{"seq":7,"at":"2026-12-06T14:00:00+00:00","kind":"tunnel","unit":"DC2_VM2","text":"vpn1_1: sync-primary none → DC2_VM2","owner":"DC2_VM2"}""" + "\n\n",
            LiveViewModel.Frame(e));
        Assert.Equal(e, LiveViewModel.EventFromJson(LiveViewModel.ToJson(e)));
        Assert.StartsWith("event: snapshot\ndata: {", LiveViewModel.Frame(S(0, Before)));
        // A data line ends at a newline: JSON that had one would cut the event in two.
        Assert.Throws<ArgumentException>(() => LiveViewModel.Frame("event", "{\n}"));
    }

    [Theory]
    [InlineData("12", 12L)]
    [InlineData("0", 0L)]
    [InlineData("", null)]
    [InlineData("-1", null)]
    [InlineData("12abc", null)]
    [InlineData(" 12", null)]
    [InlineData("99999999999999999999999", null)]
    public void A_reconnecting_pages_last_event_id_is_read_and_anything_else_is_ignored(string text, long? after) =>
        Assert.Equal(after, LiveViewServer.AfterOf(text));

    [Fact]
    public void The_page_is_self_contained_and_escapes_what_the_topology_file_says()
    {
        var dir = Directory.CreateTempSubdirectory("clusteractors-live-view-").FullName;
        try
        {
            foreach (var f in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "scenarios", "seed")))
                File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            var yml = Path.Combine(dir, "topology.yml");
            var text = File.ReadAllText(yml);
            var description = text.Split('\n').First(l => l.StartsWith("description:", StringComparison.Ordinal));
            File.WriteAllText(yml, text.Replace(description, "description: \"x </script><script>alert(1)</script> y\""));
            var hub = new LiveViewHub(Scenarios.Topology(yml));
            var page = LiveViewPage.Render(hub, "<svg id=\"drawn\"></svg>");

            Assert.Contains("x &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; y", page);
            Assert.DoesNotContain("<script>alert", page);
            Assert.Contains("<svg id=\"drawn\"></svg>", page);
            // Nothing is fetched from elsewhere: no external script, style, image or font.
            Assert.DoesNotMatch("(src|href)\\s*=", page);
            Assert.DoesNotContain("http://", page);
            Assert.DoesNotContain("https://", page);
            Assert.DoesNotContain("@import", page);
            // The page starts from the drills the topology has roles for.
            var init = page[(page.IndexOf("id=\"init\">", StringComparison.Ordinal) + "id=\"init\">".Length)..];
            init = init[..init.IndexOf("</script>", StringComparison.Ordinal)];
            using var doc = JsonDocument.Parse(init);
            Assert.Contains("fgcp-failover", doc.RootElement.GetProperty("drills").EnumerateArray().Select(d => d.GetProperty("name").GetString()));
            Assert.Equal(LiveViewPage.DrillHeader, doc.RootElement.GetProperty("drillHeader").GetString());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void The_topology_svg_is_lab_graphs_dot_with_room_for_each_units_live_lines()
    {
        var t = Scenarios.Topology("seed");
        var dot = TopologySvg.Dot(t);
        Assert.StartsWith(ClusterActors.Protocol.Topology.TopologyGraph.Render(t, ClusterActors.Protocol.Topology.GraphFormat.Dot).Split('\n')[0], dot);
        foreach (var unit in t.UnitNames) Assert.Contains($"\"unit:{unit}\"", dot);
        Assert.Equal(4, dot.Split("secondary · vpn1_1 sync-primary\\n00000 pps").Length - 1);
        Assert.Equal("<svg width=\"8pt\"></svg>", TopologySvg.Inline("<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<!-- graphviz -->\n<svg width=\"8pt\"></svg>\n"));
    }
}
