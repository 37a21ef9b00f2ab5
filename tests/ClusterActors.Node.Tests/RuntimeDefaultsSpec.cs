using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Tests;

/// <summary>
/// RuntimeDefaults: DotNetty's allocator chunk size for a unit process (src/Node/README.md, "Idle footprint"), set from
/// Program before Akka starts, unless the operator's environment already says.
/// </summary>
public sealed class RuntimeDefaultsSpec
{
    [Fact]
    public void Sets_1_MiB_netty_chunks_when_the_environment_says_nothing_and_keeps_the_operators_value()
    {
        var before = Environment.GetEnvironmentVariable(RuntimeDefaults.NettyMaxOrder);
        try
        {
            Environment.SetEnvironmentVariable(RuntimeDefaults.NettyMaxOrder, null);
            RuntimeDefaults.Apply();
            Assert.Equal("7", Environment.GetEnvironmentVariable(RuntimeDefaults.NettyMaxOrder));

            Environment.SetEnvironmentVariable(RuntimeDefaults.NettyMaxOrder, "11");
            RuntimeDefaults.Apply();
            Assert.Equal("11", Environment.GetEnvironmentVariable(RuntimeDefaults.NettyMaxOrder));
        }
        finally
        {
            Environment.SetEnvironmentVariable(RuntimeDefaults.NettyMaxOrder, before);
        }
    }
}
