using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// Runs a drill report's tshark command (as printed: `sh -c "COMMAND -T fields …"`) and holds its ESP to the issue's
/// acceptance: more than <c>atLeast</c> packets, every ICV good, echo requests and replies decrypted inside.
/// </summary>
internal static class TsharkEsp
{
    public static void EveryPacketDecrypts(string command, int atLeast, ITestOutputHelper output, string capture = "wan")
    {
        var run = ClusterActors.Node.Hosting.Kernel.SystemCommand.Run("sh", ["-c", command + " -T fields -e esp.spi -e esp.icv_good -e icmp.type"]);
        Assert.True(run.Ok, run.Error);
        var esp = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).Where(f => f[0].Length > 0).ToList();
        output.WriteLine($"tshark: {esp.Count} ESP packets in the {capture} capture");
        Assert.True(esp.Count > atLeast, $"only {esp.Count} ESP packets in the {capture} capture");
        Assert.All(esp, f => Assert.Equal("1", f[1])); // every ICV good
        Assert.Contains(esp, f => f[2] == "8"); // echo requests decrypted
        Assert.Contains(esp, f => f[2] == "0"); // and replies
    }
}
