using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using ClusterActors.Actors.Unit;

namespace ClusterActors.Node.Hosting;

/// <summary>
/// The unit's admin endpoint: one FortiOS CLI command (or a `config … end` script) per TCP connection.
/// The client writes the command and closes its sending side; the unit answers with a status line
/// ("exit N") followed by the FortiOS output, then closes. Loopback or a lab-only network: there is no login.
/// </summary>
public sealed class AdminServer : IDisposable
{
    private readonly TcpListener _listener;
    /// <summary>The unit's current actor: a new one after the host restarts the ActorSystem to rejoin Akka.</summary>
    private readonly Func<IActorRef> _unit;
    private readonly CancellationTokenSource _stop = new();

    private AdminServer(TcpListener listener, Func<IActorRef> unit)
    {
        _listener = listener;
        _unit = unit;
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    public static AdminServer Start(IPEndPoint endPoint, IActorRef unit) => Start(endPoint, () => unit);

    public static AdminServer Start(IPEndPoint endPoint, Func<IActorRef> unit)
    {
        var listener = new TcpListener(endPoint);
        try
        {
            listener.Start();
        }
        catch (SocketException e)
        {
            throw new UsageException($"admin endpoint {endPoint}: {e.Message}");
        }
        var server = new AdminServer(listener, unit);
        _ = server.AcceptLoop();
        return server;
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (SocketException) { continue; }
            catch (ObjectDisposedException) { return; }
            _ = Serve(client);
        }
    }

    private async Task Serve(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                using var reader = new StreamReader(stream, Encoding.UTF8, leaveOpen: true);
                var command = await reader.ReadToEndAsync(_stop.Token).WaitAsync(TimeSpan.FromSeconds(30));
                CliResult result;
                try
                {
                    result = await _unit().Ask<CliResult>(new RunCli(command), TimeSpan.FromSeconds(15));
                }
                catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
                {
                    result = new CliResult("the unit did not answer in time\n", 1);
                }
                var bytes = Encoding.UTF8.GetBytes($"exit {result.ExitCode}\n{result.Output}");
                await stream.WriteAsync(bytes, _stop.Token);
            }
            catch (Exception) { /* the client went away; nothing to answer */ }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}

/// <summary>The client side of the admin endpoint, used by `clusteractors cli` and the tests.</summary>
public static class AdminClient
{
    public static async Task<CliResult> RunAsync(IPEndPoint node, string command, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        using var client = new TcpClient();
        await client.ConnectAsync(node, cts.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(command), cts.Token);
        client.Client.Shutdown(SocketShutdown.Send);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var status = await reader.ReadLineAsync(cts.Token) ?? throw new IOException("the unit closed the connection without answering");
        if (!status.StartsWith("exit ", StringComparison.Ordinal) || !int.TryParse(status[5..], out var code))
            throw new IOException($"unexpected answer from the unit: '{status}'");
        var output = await reader.ReadToEndAsync(cts.Token);
        return new CliResult(output, code);
    }
}
