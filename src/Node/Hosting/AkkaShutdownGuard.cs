using Akka;
using Akka.Actor;

namespace ClusterActors.Node.Hosting;

/// <summary>
/// Which of Akka's own shutdown requests a unit refuses. Akka 1.5.73 runs <see cref="CoordinatedShutdown"/> (and so
/// terminates the unit's whole ActorSystem) when any outbound TLS handshake fails (<c>TcpHandlers.UserEventTriggered</c>,
/// reason <c>TlsHandshakeFailureReason</c>). A handshake also fails when the peer merely closed the connection in the
/// middle of it, because that peer was itself stopping or restarting: seen in <c>AkkaRejoinSpec</c> under load, where
/// DC2_VM3 and DC2_VM4 dialed DC2_VM1 while DC2_VM1 restarted as a new incarnation, and both went down with it. A
/// FortiGate never powers off because a neighbour did, so the unit refuses that request and keeps running: the failed
/// association is retried as any other, and a peer without a lab certificate still never gets in (the handshake that
/// authenticates is unchanged). Every other reason (the host's own stop, the CLR's exit) runs as before.
/// </summary>
public static class AkkaShutdownGuard
{
    /// <summary>The task's name in the first phase of <see cref="CoordinatedShutdown"/>.</summary>
    public const string TaskName = "refuse-shutdown-on-outbound-tls-handshake-failure";

    /// <summary>Akka's reason for the shutdown it orders after a failed outbound TLS handshake (internal in Akka.Remote).</summary>
    public const string TlsHandshakeFailure = "Akka.Remote.Transport.DotNetty.TlsHandshakeFailureReason";

    /// <summary>The rule: refuse Akka's shutdown after a failed outbound TLS handshake, unless the host is stopping the unit.</summary>
    /// <param name="reasonType">The full type name of the shutdown's reason; null when none is known.</param>
    /// <param name="hostStopping">The host itself is stopping the unit (a shutdown then must run whatever its reason).</param>
    public static bool Refuses(string? reasonType, bool hostStopping) => !hostStopping && reasonType == TlsHandshakeFailure;

    /// <summary>
    /// Installs the rule as a task of CoordinatedShutdown's first phase, <c>before-service-unbind</c>, whose
    /// <c>recover = off</c> (hocon/cluster.conf) makes a failed task stop the run before any later phase: nothing is
    /// unbound, no cluster leave, no termination. CoordinatedShutdown runs only once per ActorSystem, so after a
    /// refusal the host stops the system itself (<see cref="UnitHost.DisposeAsync"/>).
    /// </summary>
    public static void Install(ActorSystem system, Func<bool> hostStopping, Action<string> refused)
    {
        var shutdown = CoordinatedShutdown.Get(system);
        shutdown.AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, TaskName, () =>
        {
            var reason = shutdown.ShutdownReason;
            if (!Refuses(reason?.GetType().FullName, hostStopping())) return Task.FromResult(Done.Instance);
            var why = reason?.ToString() ?? "unknown";
            refused(why);
            return Task.FromException<Done>(new InvalidOperationException($"unit keeps running: Akka asked to stop it after a failed outbound TLS handshake ({why})"));
        });
    }

    /// <summary>Whether this system's CoordinatedShutdown has already been spent on a refused request.</summary>
    public static bool Refused(ActorSystem system) => Refuses(CoordinatedShutdown.Get(system).ShutdownReason?.GetType().FullName, hostStopping: false);
}
