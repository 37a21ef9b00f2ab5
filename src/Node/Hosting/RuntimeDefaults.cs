namespace ClusterActors.Node.Hosting;

/// <summary>
/// Process-wide settings that cannot be written in the runtimeconfig or HOCON because the library reads them from the
/// environment, applied first thing in Program (src/Node/README.md, "Idle footprint"). A value the operator put in the
/// environment wins.
/// </summary>
public static class RuntimeDefaults
{
    /// <summary>DotNetty's pooled allocator (Akka remoting's buffers) reads its chunk size from this variable.</summary>
    public const string NettyMaxOrder = "io.netty.allocator.maxOrder";

    /// <summary>
    /// 1 MiB chunks (8 KiB pages &lt;&lt; 7) instead of DotNetty's 16 MiB (&lt;&lt; 11). The allocator makes one chunk per
    /// arena and one arena per core at the first remote message: 2 × 16 MiB of byte arrays on this 2-core machine, 32 of
    /// an idle unit's 38 MiB of managed heap (dotnet-gcdump), and pages that stay resident once traffic has touched them.
    /// A remote frame is at most `maximum-frame-size` (128,000 bytes), far below 1 MiB, so every buffer still comes
    /// from the pool.
    /// </summary>
    public const string NettyMaxOrderValue = "7";

    public static void Apply()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(NettyMaxOrder)))
            Environment.SetEnvironmentVariable(NettyMaxOrder, NettyMaxOrderValue);
    }
}
