using ClusterActors.Protocol.Topology;

namespace ClusterActors.Protocol.Tests.Topology;

/// <summary>
/// `lab graph`: the seed drawn as Mermaid and DOT. The golden files (golden/seed.mmd, golden/seed.dot) are the reviewed
/// drawings; the structural checks say what must hold whatever the layout: the FGCP clusters (derived from group-id) sit
/// inside the FGSP peering (derived from standalone-cluster), every cable is one edge with its port and address.
/// </summary>
public class TopologyGraphTests
{
    private static string Golden(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "tests", "ClusterActors.Protocol.Tests", "Topology", "golden", name);
            if (File.Exists(path)) return File.ReadAllText(path);
        }
        throw new FileNotFoundException($"golden file {name} not found above {AppContext.BaseDirectory}");
    }

    [Fact]
    public void The_seed_as_mermaid_is_the_reviewed_drawing()
    {
        Assert.Equal(Golden("seed.mmd"), TopologyGraph.Render(TopologyFileTests.Seed(), GraphFormat.Mermaid));
    }

    [Fact]
    public void The_seed_as_dot_is_the_reviewed_drawing()
    {
        Assert.Equal(Golden("seed.dot"), TopologyGraph.Render(TopologyFileTests.Seed(), GraphFormat.Dot));
    }

    [Fact]
    public void Mermaid_nests_the_derived_FGCP_clusters_inside_the_FGSP_peering_and_draws_every_cable_once()
    {
        var t = TopologyFileTests.Seed();
        var lines = TopologyGraph.Render(t, GraphFormat.Mermaid).Split('\n');
        int Line(string start) => Array.FindIndex(lines, l => l.TrimStart().StartsWith(start, StringComparison.Ordinal));
        var fgsp = Line("subgraph fgsp[\"FGSP standalone-group-id 2, sync over fgsp\"]");
        var c1 = Line("subgraph fgcp_1[\"FGCP DC2_VM12 (group-id 1)\"]");
        var c2 = Line("subgraph fgcp_2[\"FGCP DC2_VM34 (group-id 2)\"]");
        Assert.True(fgsp >= 0 && c1 > fgsp && c2 > c1, string.Join('\n', lines));
        Assert.True(Line("unit_DC2_VM1[") > c1 && Line("unit_DC2_VM1[") < c2);
        Assert.True(Line("unit_DC2_VM4[") > c2);
        foreach (var w in t.Wires)
            Assert.Single(lines, l => l.Contains($"_{w.Host.Replace('-', '_')} ---|\"{w.Interface} {w.Address}\"| seg_{w.Segment.Replace('-', '_')}"));
        Assert.Equal(4, lines.Count(l => l.Contains("-.-|\"port4\"| hb_")));
        Assert.Equal(lines.Count(l => l.TrimStart().StartsWith("subgraph ")), lines.Count(l => l.Trim() == "end"));
    }

    [Fact]
    public void Dot_is_balanced_and_draws_every_cable_once_with_roles_when_given()
    {
        var t = TopologyFileTests.Seed();
        var dot = TopologyGraph.Render(t, GraphFormat.Dot, new Dictionary<string, string> { ["DC2_VM1"] = "primary" });
        Assert.Equal(dot.Count(c => c == '{'), dot.Count(c => c == '}'));
        Assert.Contains("\"unit:DC2_VM1\" [shape=box, style=filled, fillcolor=\"#e8f0ff\", label=\"DC2_VM1\\nFGVM02TM22000001\\nprimary\"];", dot);
        foreach (var w in t.Wires)
            Assert.Single(dot.Split('\n'), l => l.Contains($":{w.Host}\" -- \"seg:{w.Segment}\" [label=\"{w.Interface}\\n{w.Address}\"]"));
        Assert.Contains("subgraph \"cluster_fgsp\"", dot);
    }
}
