using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Commands;

public static class NodeRunner
{
    /// <summary>Runs the unit until Ctrl+C / SIGTERM, then leaves the cluster cleanly.</summary>
    public static async Task<int> RunAsync(UnitOptions options, CancellationToken cancel)
    {
        var host = await UnitHost.StartAsync(options);
        Console.Out.WriteLine($"{options.Config.Global.Hostname} ({options.Serial}) up: admin {host.Admin.EndPoint}, akka {host.Address}, data {options.DataDir}");
        Console.Out.Flush();
        var stopped = new TaskCompletionSource();
        using var reg = cancel.Register(() => stopped.TrySetResult());
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            stopped.TrySetResult();
        });
        await Task.WhenAny(stopped.Task, host.System.WhenTerminated);
        await host.DisposeAsync();
        return 0;
    }
}
