using System.Net;
using System.Net.Sockets;

namespace ClusterActors.Node.Tests.Storage;

/// <summary>
/// A loopback TCP relay between a unit and the shared PostgreSQL, that a spec "stops" (closes its port and every
/// relayed connection, as a stopped server does) and "starts" again on the same port, without touching the server
/// other specs use.
/// </summary>
public sealed class TcpProxy : IDisposable
{
    private readonly IPEndPoint _target;
    private readonly List<TcpClient> _open = new();
    private TcpListener? _listener;
    private CancellationTokenSource? _running;

    public TcpProxy(IPEndPoint target, int port)
    {
        _target = target;
        Port = port;
    }

    public int Port { get; }

    public void Start()
    {
        if (_listener is not null) return;
        _running = new CancellationTokenSource();
        _listener = new TcpListener(IPAddress.Loopback, Port);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start();
        var listener = _listener;
        var cancel = _running.Token;
        _ = Task.Run(async () =>
        {
            while (!cancel.IsCancellationRequested)
            {
                TcpClient client;
                try { client = await listener.AcceptTcpClientAsync(cancel); }
                catch (Exception) { return; }
                var upstream = new TcpClient();
                try { await upstream.ConnectAsync(_target, cancel); }
                catch (Exception) { client.Dispose(); upstream.Dispose(); continue; }
                lock (_open) { _open.Add(client); _open.Add(upstream); }
                _ = Pump(client, upstream, cancel);
                _ = Pump(upstream, client, cancel);
            }
        }, cancel);
    }

    /// <summary>As a server going down: the port refuses, every open connection is reset.</summary>
    public void Stop()
    {
        _running?.Cancel();
        _listener?.Stop();
        _listener = null;
        lock (_open)
        {
            foreach (var c in _open)
            {
                try { c.Client.LingerState = new LingerOption(true, 0); } catch (Exception) { }
                c.Dispose();
            }
            _open.Clear();
        }
    }

    private static async Task Pump(TcpClient from, TcpClient to, CancellationToken cancel)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            var input = from.GetStream();
            var output = to.GetStream();
            int n;
            while ((n = await input.ReadAsync(buffer, cancel)) > 0) await output.WriteAsync(buffer.AsMemory(0, n), cancel);
        }
        catch (Exception) { }
        finally
        {
            from.Dispose();
            to.Dispose();
        }
    }

    public void Dispose() => Stop();
}
