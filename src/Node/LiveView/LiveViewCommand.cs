using System.Net;
using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.LiveView;

/// <summary>
/// `clusteractors lab view [--topology FILE|NAME] [--mode embedded|docker] [--listen 127.0.0.1:8080] [--rate PPS] [--out DIR]`:
/// the topology's lab (embedded in this process, or its container lab) and one web page that shows it live
/// (src/Node/LiveView/README.md). Runs until Ctrl-C or SIGTERM; the lab goes down with it.
/// </summary>
public static class LiveViewCommand
{
    public const string DefaultListen = "127.0.0.1:8080";

    public sealed record Request(string? Topology, string Listen = DefaultListen, double Rate = 100, string? Out = Drills.DrillCommand.DefaultOut,
        string Mode = "embedded");

    public static async Task<int> RunAsync(Request request, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        var listen = Endpoints.Parse(request.Listen, "--listen");
        if (!(request.Rate is > 0 and <= 20_000)) throw new UsageException("--rate is packets per second, from 1 to 20000");
        if (request.Mode is not ("embedded" or "docker")) throw new UsageException($"--mode is embedded or docker, not '{request.Mode}'");
        var topology = Scenarios.Topology(request.Topology ?? Commands.LabCommand.DefaultTopology);
        if (request.Mode == "docker")
        {
            // As `drill --mode docker`: the topology must lay out as a container lab, and docker and the images must be there.
            Drills.DockerDrillCast.From(topology);
            await Drills.DockerDrillLab.Preflight(ct);
        }
        string svg;
        try
        {
            svg = TopologySvg.Render(topology);
        }
        catch (MissingSystemToolException e)
        {
            await stderr.WriteLineAsync($"clusteractors: {e.Message}");
            return 1;
        }
        if (!IPAddress.IsLoopback(listen.Address))
            await stderr.WriteLineAsync($"clusteractors: warning: --listen {listen} is not loopback: anyone who reaches it sees the lab and can start drills");
        await using var hub = new LiveViewHub(topology, request.Rate, request.Out, mode: request.Mode);
        LiveViewServer server;
        try
        {
            server = await LiveViewServer.StartAsync(hub, listen, svg, ct);
        }
        catch (IOException e)
        {
            await stderr.WriteLineAsync($"clusteractors: cannot listen on {listen}: {e.Message}");
            return 2;
        }
        await using (server)
        {
            hub.Start();
            await stdout.WriteLineAsync($"lab view of {topology.Name} ({request.Mode}): {server.Address} (Ctrl-C or SIGTERM stops the view and its lab)");
            await stdout.FlushAsync();
            var stop = new TaskCompletionSource();
            using var ctrlC = ct.Register(() => stop.TrySetResult());
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
            {
                ctx.Cancel = true; // stop the lab first, then exit 0
                stop.TrySetResult();
            });
            await stop.Task;
        }
        await stdout.WriteLineAsync("lab view stopped");
        return 0;
    }
}
