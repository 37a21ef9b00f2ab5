namespace ClusterActors.Node.Tests;

/// <summary>The specs' tool table and .ci/test-prerequisites (what the README's test command installs) are one list.</summary>
public sealed class RequiredToolSpec
{
    [Fact]
    public void The_tools_the_specs_require_are_the_ones_the_test_prerequisites_script_installs()
    {
        var script = File.ReadAllText(System.IO.Path.Combine(RepoRoot(), ".ci", "test-prerequisites"));
        var start = script.IndexOf("TOOLS='", StringComparison.Ordinal);
        Assert.True(start >= 0, ".ci/test-prerequisites has no TOOLS='…' table");
        var end = script.IndexOf('\'', start + "TOOLS='".Length);
        var table = script[(start + "TOOLS='".Length)..end]
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToDictionary(f => f[0], f => f[1]);
        Assert.Equal(RequiredTool.Packages.OrderBy(p => p.Key), table.OrderBy(p => p.Key));
    }

    [Fact]
    public void A_missing_tool_fails_with_one_line_naming_the_tool_and_its_package()
    {
        var e = Assert.Throws<MissingToolException>(() => RequiredTool.Check(t => t == "ip" ? "/usr/sbin/ip" : null, "ip", "ping", RequiredTool.Charon));
        Assert.Equal("ping (Debian package iputils-ping), /usr/sbin/charon-systemd (Debian package charon-systemd) are not installed: " +
                     "run .ci/test-prerequisites as root (apt-get install iputils-ping charon-systemd)", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        RequiredTool.Check(_ => "/bin/true", "ip", "ping"); // all present: nothing thrown
        Assert.Throws<ArgumentException>(() => RequiredTool.Check(_ => "/bin/true", "not-in-the-table")); // not in the table: a spec bug
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(System.IO.Path.Combine(d.FullName, "ClusterActors.sln"))) return d.FullName;
        throw new InvalidOperationException("the repository root (ClusterActors.sln) is not above " + AppContext.BaseDirectory);
    }
}
