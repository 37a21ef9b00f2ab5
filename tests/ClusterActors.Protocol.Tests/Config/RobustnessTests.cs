using ClusterActors.Protocol.Config;
using Xunit;

namespace ClusterActors.Protocol.Tests.Config;

/// <summary>Mangled inputs must produce errors or documents, never exceptions; and a document always round-trips.</summary>
public class RobustnessTests
{
    private static readonly string Seed = string.Join("\n", "#serialno=FGVM02TM22000001", ScenarioConfigTests.Cluster1Ha, ScenarioConfigTests.Vm1Fgsp,
        ScenarioConfigTests.Phase1, ScenarioConfigTests.Phase2);

    public static IEnumerable<object[]> Mutations()
    {
        var lines = Seed.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            yield return [string.Join("\n", lines.Where((_, k) => k != i))];                      // line dropped
            yield return [string.Join("\n", lines.Take(i + 1).Append(lines[i]).Concat(lines.Skip(i + 1)))]; // line doubled
            var cut = lines[i].TrimEnd();
            yield return [string.Join("\n", lines.Take(i).Append(cut[..(cut.Length / 2)]).Concat(lines.Skip(i + 1)))]; // line cut
            yield return [string.Join("\n", lines.Take(i).Append(cut + " \"").Concat(lines.Skip(i + 1)))]; // stray quote
        }
    }

    [Theory]
    [MemberData(nameof(Mutations))]
    public void Mutated_seed_never_throws_and_results_are_consistent(string text)
    {
        var r = FortiConfig.Parse(text, "m.conf");
        if (r.Ok)
        {
            Assert.Empty(r.Errors);
            var again = FortiConfig.Parse(r.Value!.ToText());
            Assert.True(again.Ok, string.Join("\n", again.Errors));
            Assert.Equal(r.Value.ToText(), again.Value!.ToText());
        }
        else
        {
            Assert.Null(r.Value);
            Assert.All(r.Errors, e => Assert.True(e.Line >= 1 && e.Column >= 1 && e.File == "m.conf", e.ToString()));
        }
    }

    [Fact]
    public void Every_section_renders_in_full_and_reparses()
    {
        var doc = FortiConfig.Parse(Seed).Value!;
        foreach (var path in new[] { "system global", "system interface", "system ha", "system standalone-cluster", "vpn ipsec phase1-interface", "vpn ipsec phase2-interface" })
        {
            var full = doc.Show(path, true);
            var r = FortiConfig.Parse(full + (path.StartsWith("vpn ipsec phase2", StringComparison.Ordinal) ? doc.Show("vpn ipsec phase1-interface", false) : ""));
            Assert.True(r.Ok, path + ": " + string.Join("\n", r.Errors));
        }
    }
}
