using System.Text.Json;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using ClusterActors.Node.Drills;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>The three files of a run, rendered from a synthetic result.</summary>
public sealed class DrillReportSpec
{
    [Fact]
    public void The_json_has_stable_snake_case_fields_with_the_measurements_in_milliseconds()
    {
        using var doc = JsonDocument.Parse(JsonReport.Render(DrillSamples.Passing()));
        var root = doc.RootElement;
        Assert.Equal("verdict", root.EnumerateObject().First().Name);
        Assert.Equal("pass", root.GetProperty("verdict").GetString());
        foreach (var field in new[]
                 {
                     "drill", "title", "summary", "run", "scenario", "mode", "started_at", "duration_s", "rate_pps", "fast_timers", "timers",
                     "config_changes", "expected_dialed_via", "dialed_via", "dial_next_hop", "dialed_dec_spi", "dialed_enc_spi", "setup", "phases",
                     "roles", "anti_replay_drops", "icv_failures", "timeline", "events", "notes", "error", "checks",
                 })
            Assert.True(root.TryGetProperty(field, out _), $"no field {field}");
        Assert.Equal(1200, root.GetProperty("timers").GetProperty("fgcp_detection_ms").GetDouble());
        Assert.Equal(1500, root.GetProperty("timers").GetProperty("router_detection_ms").GetDouble());

        var phase = root.GetProperty("phases")[0];
        Assert.Equal("kill DC2_VM1", phase.GetProperty("fault").GetString());
        Assert.Equal(1000, phase.GetProperty("fault_at_ms").GetDouble());
        Assert.Equal(1150, phase.GetProperty("detection_ms").GetDouble());
        Assert.Equal(1400, phase.GetProperty("detection_bound_ms").GetDouble());
        Assert.Equal(1160, phase.GetProperty("role_change_ms").GetDouble());
        Assert.Equal(1190, phase.GetProperty("longest_gap_ms").GetDouble());
        Assert.Equal(1200, phase.GetProperty("lost").GetInt64());
        Assert.Equal(1400, phase.GetProperty("loss_bound").GetInt64());
        Assert.Equal("reused", phase.GetProperty("sa").GetString());
        Assert.Equal(1500, phase.GetProperty("forwarded").GetProperty("DC2_VM2").GetInt64());

        var role = root.GetProperty("roles")[1];
        Assert.Equal(["unit", "expected_ha", "actual_ha", "expected_tunnel", "actual_tunnel", "ok"], role.EnumerateObject().Select(p => p.Name));
        Assert.Equal("DC2_VM2", role.GetProperty("unit").GetString());
        Assert.True(role.GetProperty("ok").GetBoolean());

        var timeline = root.GetProperty("timeline");
        Assert.Equal(100, timeline.GetProperty("interval_ms").GetDouble());
        Assert.Equal(4, timeline.GetProperty("at_ms").GetArrayLength());
        Assert.Equal(100, timeline.GetProperty("forwarded").GetProperty("DC2_VM2")[3].GetInt64());
        Assert.Equal(4, timeline.GetProperty("answered").GetArrayLength());

        var check = root.GetProperty("checks")[0];
        Assert.Equal(["phase", "what", "measured", "expected", "ok"], check.EnumerateObject().Select(p => p.Name));
        Assert.Contains(root.GetProperty("events").EnumerateArray(), e => e.GetProperty("kind").GetString() == "fault" && e.GetProperty("at_ms").GetDouble() == 1000);
        // People read it too: no \u escapes for ≤ or ✓.
        Assert.Contains("≤ 1400", JsonReport.Render(DrillSamples.Passing()));
    }

    [Fact]
    public void The_svg_is_well_formed_with_one_series_per_unit_markers_at_the_fault_and_role_change_and_a_legend()
    {
        var svg = SvgTimeline.Render(DrillSamples.Passing());
        var doc = XDocument.Parse(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        var series = doc.Descendants(ns + "polyline").Where(p => p.Attribute("data-unit") is not null).Select(p => p.Attribute("data-unit")!.Value).ToList();
        Assert.Equal(DrillSamples.Units, series);
        Assert.Single(doc.Descendants(ns + "polyline"), p => p.Attribute("data-series")?.Value == "PC1 answered");
        var markers = doc.Descendants(ns + "line").Where(l => l.Attribute("class")?.Value.StartsWith("marker ") == true).ToList();
        Assert.Equal(["marker fault", "marker detection", "marker role-change"], markers.Select(m => m.Attribute("class")!.Value));
        // The fault at 1.0 s and the role change at 2.16 s sit where the x axis says: the plot spans 64..936 px over 0..2.5 s here.
        var x = markers.Select(m => double.Parse(m.Attribute("x1")!.Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(64 + 872 / 2.5, x[0], 0.1);
        Assert.Equal(64 + 872 * 2.16 / 2.5, x[2], 0.1);
        Assert.Contains("kill DC2_VM1 (1.000 s)", svg);
        Assert.Contains("DC2_VM2 sync-primary (2.160 s)", svg);
        Assert.Contains(">0 s<", svg);
        Assert.Contains(">2.5 s<", svg);
        Assert.Contains("time since the tunnel came up (s)", svg);
        Assert.Contains("packets per 100 ms", svg);
        foreach (var unit in DrillSamples.Units) Assert.Contains($">{unit}</text>", svg);
        Assert.Contains(">fault</text>", svg);
        Assert.Contains(">role change</text>", svg);
    }

    [Fact]
    public void The_svg_draws_each_interval_as_a_step_at_its_packet_count()
    {
        var svg = XDocument.Parse(SvgTimeline.Render(DrillSamples.Passing()));
        var vm2 = svg.Descendants().First(e => e.Attribute("data-unit")?.Value == "DC2_VM2").Attribute("points")!.Value.Split(' ');
        // Four intervals, two points each; DC2_VM2 forwards nothing until the last one.
        Assert.Equal(8, vm2.Length);
        Assert.Equal(vm2[0].Split(',')[1], vm2[5].Split(',')[1]);
        Assert.NotEqual(vm2[5].Split(',')[1], vm2[6].Split(',')[1]);
    }

    [Fact]
    public void A_late_sample_is_drawn_per_nominal_interval_not_as_a_spike()
    {
        var tl = new Timeline(100, ["a"], [100, 250, 300], new Dictionary<string, IReadOnlyList<long>> { ["a"] = [100, 150, 100] }, [0, 0, 0]);
        Assert.Equal([100.0, 100, 200], SvgTimeline.PerInterval(tl, tl.Forwarded["a"]));
    }

    [Fact]
    public void The_markdown_tells_setup_fault_measurements_roles_and_verdict()
    {
        var md = MarkdownReport.Render(DrillSamples.Passing(), "fgcp-failover-1.svg");
        Assert.StartsWith("# Drill fgcp-failover, run 1: PASS\n", md);
        Assert.Contains("## Setup", md);
        Assert.Contains("hb-interval 200 ms × hb-lost-threshold 6 = FGCP detection 1200 ms; hello-holddown 5 s; ha-uptime-diff-margin 300 s (`--fast-timers`)", md);
        Assert.Contains("router detection (14 + 1) × 100 ms = 1500 ms", md);
        Assert.Contains("| 1 | 1.000 s | kill -9 DC2_VM1 |", md);
        Assert.Contains("| 1: kill DC2_VM1 | packets lost | 1200 of 3700 | ≤ 1400 | ✓ |", md);
        Assert.Contains("| 1: kill DC2_VM1 | detection: DC2_VM2 reports itself Primary | 1150 ms | ≤ 1400 ms | ✓ |", md);
        Assert.Contains("(hb-interval 200 ms × hb-lost-threshold 6 + 200 ms) × 1000 pps = 1400", md);
        Assert.Contains("| unit | HA expected | HA actual | tunnel expected | tunnel actual | |", md);
        Assert.Contains("| DC2_VM2 | Primary | Primary | sync-primary | sync-primary | ✓ |", md);
        Assert.Contains("[fgcp-failover-1.svg](fgcp-failover-1.svg)", md);
        Assert.Contains("**PASS**: all", md);
        Assert.Equal(4, Regex.Matches(md, @"^\| DC2_VM\d \|", RegexOptions.Multiline).Count);
    }

    [Fact]
    public void The_markdown_splits_a_phases_loss_between_the_longest_gap_and_the_bursts_elsewhere()
    {
        var phase = DrillSamples.Phase() with
        {
            Lost = 1_310, LostInLongestGap = 1_180, LossBurstCount = 4,
            LossBursts = [new(1_005, 1_180, 1_179, true), new(2_400, 101, 100, false), new(3_600, 1, 0, false), new(3_700, 28, 27, false)],
        };
        var md = MarkdownReport.Render(DrillSamples.Passing() with { Phases = [phase] });
        Assert.Contains("Phase 1 loss: 1310 lost, 1180 while the longest gap lasted, 130 elsewhere in 3 burst(s): 101 from 2.400 s (100 ms), 28 from 3.700 s (27 ms), 1 from 3.600 s (0 ms).", md);

        using var doc = JsonDocument.Parse(JsonReport.Render(DrillSamples.Passing() with { Phases = [phase] }));
        var p = doc.RootElement.GetProperty("phases")[0];
        Assert.Equal(1_180, p.GetProperty("lost_in_longest_gap").GetInt64());
        Assert.Equal(4, p.GetProperty("loss_burst_count").GetInt64());
        Assert.Equal(["at_ms", "count", "lasted_ms", "in_longest_gap"], p.GetProperty("loss_bursts")[1].EnumerateObject().Select(x => x.Name));

        var onlyGap = MarkdownReport.Render(DrillSamples.Passing() with { Phases = [DrillSamples.Phase() with { LostInLongestGap = 1_200 }] });
        Assert.Contains("Phase 1 loss: 1200 lost, 1200 while the longest gap lasted, 0 elsewhere.", onlyGap);
    }

    [Fact]
    public void The_markdown_marks_a_wrong_role_and_lists_what_failed()
    {
        var r = DrillSamples.Passing();
        r = r with { Roles = [.. r.Roles.Select(x => x.Unit == "DC2_VM4" ? x with { ActualHa = "Primary" } : x)] };
        var md = MarkdownReport.Render(r);
        Assert.StartsWith("# Drill fgcp-failover, run 1: FAIL\n", md);
        Assert.Contains("| DC2_VM4 | Secondary | Primary | standby | standby | ✗ |", md);
        Assert.Contains("**FAIL**: 1 of", md);
        Assert.Contains("- afterwards: DC2_VM4 HA / tunnel role: Primary / standby (expected Secondary / standby)", md);
    }

    [Fact]
    public void The_summary_gives_median_and_max_gap_per_drill_and_fault()
    {
        var a = DrillSamples.Passing();
        var b = a with { Run = 2, Phases = [DrillSamples.Phase() with { LongestGapMs = 1300, Lost = 1300 }] };
        var c = a with { Run = 3, Phases = [DrillSamples.Phase() with { LongestGapMs = 1250, Lost = 1500 }] };
        var text = DrillCommand.Summary([a, b, c]);
        Assert.Contains("drill", text);
        Assert.Matches(@"fgcp-failover\s+kill DC2_VM1\s+3\s+2\s+1250 ms\s+1300 ms\s+1300\s+1500\s+1400\s+1150 ms", text);
        Assert.Contains("2 of 3 runs passed", text);
    }
}
