using System.Net;
using System.Net.Sockets;
using ClusterActors.Node.Hosting;
using Xunit.Abstractions;

namespace ClusterActors.MultiNode.Tests;

/// <summary>
/// A peer that closes the connection in the middle of this unit's outbound TLS handshake (what a unit that is stopping
/// or restarting does to a dial) must not stop this unit. Akka 1.5.73 runs CoordinatedShutdown on any failed outbound
/// handshake; <see cref="AkkaShutdownGuard"/> refuses that request. Seen for real in <c>AkkaRejoinSpec</c> under load:
/// DC2_VM3 and DC2_VM4 dialed DC2_VM1 while it restarted, and both ActorSystems terminated.
/// </summary>
[Collection("multi-node")]
public sealed class OutboundTlsHandshakeFailureSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly LoopbackLab _lab = new() { ExtraHocon = "akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING" };
    private readonly List<UnitHost> _hosts = new();
    private TcpListener? _closer;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _closer?.Stop();
        foreach (var h in _hosts) await h.DisposeAsync();
        await _lab.DisposeAsync();
    }

    [Fact]
    public async Task A_contact_that_closes_in_the_middle_of_the_TLS_handshake_does_not_stop_the_unit()
    {
        // The fault: a configured contact that accepts the TCP connection, reads the ClientHello and closes.
        _closer = new TcpListener(IPAddress.Loopback, 0);
        _closer.Start();
        var closerEndpoint = (IPEndPoint)_closer.LocalEndpoint;
        var closed = 0;
        _ = Task.Run(async () =>
        {
            while (true)
            {
                TcpClient client;
                try { client = await _closer.AcceptTcpClientAsync(); }
                catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException) { return; }
                using (client)
                {
                    try { await client.GetStream().ReadAsync(new byte[512]).AsTask().WaitAsync(TimeSpan.FromSeconds(2)); }
                    catch (Exception e) when (e is IOException or TimeoutException or SocketException) { }
                }
                Interlocked.Increment(ref closed);
            }
        });

        _lab.Define([("DC2_VM1", LoopbackLab.ScenarioConfig("DC2_VM1", ClusterActors.Node.Scenario.EmbeddedScenarioDriver.FastTimers))]);
        var options = _lab.OptionsOf("DC2_VM1");
        var unit = await UnitHost.StartAsync(options with { Contacts = [.. options.Contacts, UnitHost.AkkaAddress(closerEndpoint)] },
            extraHocon: "akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING");
        _hosts.Add(unit);

        await LoopbackLab.Eventually(() => Task.FromResult(Volatile.Read(ref closed) >= 1), TimeSpan.FromSeconds(20),
            "the unit dialed the contact and the contact closed in the middle of the TLS handshake");
        // Akka's shutdown terminates the system within its phases' first seconds; meanwhile the unit dials again.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(unit.System.WhenTerminated.IsCompleted, "the unit's ActorSystem terminated after a failed outbound TLS handshake");
        Assert.True(unit.RefusedShutdowns >= 1, "Akka never asked to stop the unit: the fault was not injected");
        Assert.True(Volatile.Read(ref closed) >= 2, "the unit stopped dialing its contact after the first failed handshake");
        var status = await unit.CliAsync("get system status");
        Assert.Contains("Serial-Number: " + options.Serial, status.Output);
        Assert.Equal(1, unit.Incarnations);
        output.WriteLine($"handshakes closed by the contact: {Volatile.Read(ref closed)}; shutdown requests refused: {unit.RefusedShutdowns}");
    }
}
