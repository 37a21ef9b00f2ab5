using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Commands;

public static class NodeRunner
{
    /// <summary>Runs the unit until Ctrl+C / SIGTERM, then leaves the cluster cleanly.</summary>
    /// <param name="extraHocon">HOCON over the unit's own (json logs: Akka's logger into Serilog).</param>
    /// <param name="systemBuilt">Called with each ActorSystem right after it is built, before the unit's actors (json logs: HA events).</param>
    public static async Task<int> RunAsync(UnitOptions options, CancellationToken cancel, string? extraHocon = null, Action<Akka.Actor.ActorSystem>? systemBuilt = null)
    {
        // Reported once, before the unit starts: the not-emulated paths of a --lenient config (none otherwise).
        if (options.Config.NotEmulatedReport() is { } notEmulated) Console.Error.WriteLine($"{options.UnitName}: {notEmulated}");
        using var kernel = options.Packets == "kernel" ? KernelIo(options) : null;
        UnitHost host;
        try
        {
            host = await UnitHost.StartAsync(options, extraHocon: extraHocon, packets: kernel, cancel: cancel, systemBuilt: systemBuilt);
        }
        catch (Actors.Persistence.StorageUnusableException e)
        {
            // One line naming the database, and a non-zero exit: a unit on an unreadable journal would be a zombie.
            Console.Error.WriteLine($"clusteractors: {e.Message}");
            return 3;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return 0; // Ctrl+C while waiting for the database
        }
        Console.Out.WriteLine($"{options.Config.Global.Hostname} ({options.Serial}) up: admin {host.Admin.EndPoint}, akka {host.Address}, data {options.DataDir}"
                              + (host.Metrics?.Endpoint is { } metrics ? $", metrics http://{metrics}/metrics" : ""));
        Console.Out.Flush();
        var stopped = new TaskCompletionSource();
        using var reg = cancel.Register(() => stopped.TrySetResult());
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            stopped.TrySetResult();
        });
        // Not the ActorSystem's end: the host starts a new one to rejoin Akka (Hosting/README.md, "Safety net (b)").
        await Task.WhenAny(stopped.Task, host.WhenStopped);
        await host.DisposeAsync();
        return 0;
    }

    /// <summary>
    /// The container's interfaces as the unit's ports: they come up silent (FGCP makes the primary answer), and the
    /// namespace is prepared so that the kernel leaves ICMP echo, IKE and ESP on the unit's addresses to the unit.
    /// </summary>
    private static Hosting.Kernel.KernelPacketIo KernelIo(UnitOptions options)
    {
        var io = new Hosting.Kernel.KernelPacketIo(new Hosting.Kernel.KernelPacketIoOptions
        {
            AnsweringOnOpen = false,
            // Frames the kernel queued while this process was stopped are not forwarded on SIGCONT: the rule the
            // forwarding plane applies to its own input (StalledInput), on the kernel's arrival time.
            StaleAfter = options.Config.Ha.Mode == ClusterActors.Protocol.Config.HaMode.Standalone
                ? null : ClusterActors.Actors.Forwarding.StalledInput.Tolerance(options.Config.Ha),
            Log = line => Console.Error.WriteLine($"{options.UnitName} packets: {line}")
        });
        var ports = options.Config.Interfaces.Where(i => i.Type != "loopback" && i.Ip is not ("" or "0.0.0.0")).Select(i => i.Name).ToList();
        io.PrepareNamespace(ports);
        return io;
    }
}
