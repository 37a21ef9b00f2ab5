using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Tests;

/// <summary>The rule of <see cref="AkkaShutdownGuard"/>: which of Akka's shutdown requests a unit refuses.</summary>
public sealed class AkkaShutdownGuardSpec
{
    [Theory]
    [InlineData(AkkaShutdownGuard.TlsHandshakeFailure, false, true)]  // a peer closed mid-handshake: keep running
    [InlineData(AkkaShutdownGuard.TlsHandshakeFailure, true, false)]  // the host is stopping the unit anyway
    [InlineData("Akka.Actor.CoordinatedShutdown+ClrExitReason", false, false)]  // SIGTERM: stop
    [InlineData("Akka.Actor.CoordinatedShutdown+ActorSystemTerminateReason", false, false)]
    [InlineData("Akka.Cluster.CoordinatedShutdownLeave+LeaveReq", false, false)]
    [InlineData(null, false, false)]
    public void Refuses_only_the_shutdown_after_a_failed_outbound_TLS_handshake_while_the_host_is_not_stopping(string? reason, bool hostStopping, bool refused) =>
        Assert.Equal(refused, AkkaShutdownGuard.Refuses(reason, hostStopping));

    [Fact]
    public void The_reason_it_matches_is_the_one_Akka_Remote_defines()
    {
        var type = typeof(Akka.Remote.RemoteSettings).Assembly.GetType(AkkaShutdownGuard.TlsHandshakeFailure);
        Assert.NotNull(type); // an Akka upgrade that renames it must fail here, not silently stop refusing
        Assert.True(typeof(Akka.Actor.CoordinatedShutdown.Reason).IsAssignableFrom(type));
    }
}
