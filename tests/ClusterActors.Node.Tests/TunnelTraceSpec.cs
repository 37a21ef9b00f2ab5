using Akka.Actor;
using Akka.Configuration;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Tests;

/// <summary>
/// The opt-in trace the SA sync benchmark reads (`sa-sync --processes [--failover]`): a tunnel becoming present, and a
/// tunnel changing owner on the unit (a failover's claims), each a line with its Stopwatch timestamp; nothing started
/// without the key.
/// </summary>
public sealed class TunnelTraceSpec : IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"clusteractors-trace-{Guid.NewGuid():N}.txt");

    public void Dispose() => File.Delete(_file);

    [Fact]
    public async Task Present_and_owner_lines_are_written_with_their_timestamps()
    {
        using var system = ActorSystem.Create("trace", ConfigurationFactory.ParseString($"""
            akka.actor.provider = cluster
            akka.remote.dot-netty.tcp.hostname = 127.0.0.1
            akka.remote.dot-netty.tcp.port = 0
            akka.loglevel = WARNING
            {TunnelTrace.ConfigKey} = "{_file}"
            """));
        TunnelTrace.StartIfConfigured(system);
        await Task.Delay(300); // subscribed in PreStart
        system.EventStream.Publish(new TunnelPresent("FGVM02TM22000002", "vpn1/1/2", false, 111));
        system.EventStream.Publish(new TunnelOwnerChanged("FGVM02TM22000002", "vpn1/1/2", "FGVM02TM22000002", 2, 222));

        var deadline = DateTime.UtcNow.AddSeconds(5);
        string[] lines = [];
        while (DateTime.UtcNow < deadline)
        {
            lines = File.Exists(_file) ? File.ReadAllLines(_file) : [];
            if (lines.Any(l => l.StartsWith("# owner ", StringComparison.Ordinal))) break;
            await Task.Delay(100);
        }
        Assert.Contains("FGVM02TM22000002 vpn1/1/2 false 111", lines);
        Assert.Contains("# owner FGVM02TM22000002 vpn1/1/2 FGVM02TM22000002 2 222", lines);
    }
}
