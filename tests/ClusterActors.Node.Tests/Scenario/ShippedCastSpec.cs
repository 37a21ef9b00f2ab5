using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Config;

namespace ClusterActors.Node.Tests.Scenario;

/// <summary>
/// The cast lives in the shipped configs, the same in every lab: DC2_VM1 and DC2_VM3 carry the document's
/// usr_priority=200, DC2_VM2 and DC2_VM4 keep 100, override disabled everywhere (the document's HA blocks). The docker
/// lab's unit configs are the seed's with a comment added, and must stay so: a drift would give the two labs two casts.
/// </summary>
public sealed class ShippedCastSpec
{
    public static TheoryData<string, int> Priorities => new() { { "DC2_VM1", 200 }, { "DC2_VM2", 100 }, { "DC2_VM3", 200 }, { "DC2_VM4", 100 } };

    [Theory]
    [MemberData(nameof(Priorities))]
    public void The_seed_carries_the_documents_priorities(string unit, int priority)
    {
        var config = LoopbackLab.ScenarioConfig(unit);
        Assert.Equal(priority, config.Ha.Priority);
        Assert.False(config.Ha.Override);
        Assert.Equal(priority == 200, DrillCatalog.Preferred.Contains(unit));
    }

    [Theory]
    [MemberData(nameof(Priorities))]
    public void The_docker_labs_unit_config_is_the_seeds(string unit, int priority)
    {
        var root = DockerDrillLab.FindRoot();
        var seed = Parse(Path.Combine(root, "src/Node/scenarios/seed", unit + ".conf"));
        var lab = Parse(Path.Combine(root, "src/Node/lab/units", unit + ".conf"));
        Assert.Equal(priority, lab.Ha.Priority);
        Assert.Equal(seed.SerialNumber, lab.SerialNumber);
        // Line for line, comments aside (ToText would not do: it prints secrets as ENC with a fresh salt each time).
        Assert.Equal(Statements(Path.Combine(root, "src/Node/scenarios/seed", unit + ".conf")), Statements(Path.Combine(root, "src/Node/lab/units", unit + ".conf")));
    }

    /// <summary>The file's lines without comments (`# …`); the `#config-version=` and `#serialno=` headers stay.</summary>
    private static List<string> Statements(string path) =>
        File.ReadAllLines(path).Where(l => !l.TrimStart().StartsWith("# ", StringComparison.Ordinal) && l.TrimStart() != "#").ToList();

    private static ConfigDocument Parse(string path)
    {
        var r = FortiConfig.ParseFile(path);
        Assert.True(r.Ok, $"{path}: {string.Join("; ", r.Errors)}");
        return r.Value!;
    }
}
