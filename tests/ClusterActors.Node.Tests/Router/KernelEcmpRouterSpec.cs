using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.Router;

namespace ClusterActors.Node.Tests.Router;

/// <summary>The container lab's router role with `ip` and ping replaced by fakes: which routes it writes, and when.</summary>
public sealed class KernelEcmpRouterSpec
{
    private static readonly IPAddress C1 = IPAddress.Parse("192.168.129.254");
    private static readonly IPAddress C2 = IPAddress.Parse("192.168.130.254");

    [Fact]
    public void The_ip_commands_for_two_one_and_no_live_next_hops()
    {
        Assert.Equal("route replace 192.168.202.35/32 nexthop via 192.168.129.254 weight 1 nexthop via 192.168.130.254 weight 1",
            string.Join(' ', IpRoute.Replace("192.168.202.35/32", [C1, C2])));
        Assert.Equal("route replace 192.168.202.35/32 via 192.168.130.254", string.Join(' ', IpRoute.Replace("192.168.202.35/32", [C2])));
        Assert.Equal("route replace unreachable 192.168.202.35/32", string.Join(' ', IpRoute.Replace("192.168.202.35/32", [])));
    }

    [Fact]
    public async Task A_next_hop_that_stops_answering_leaves_the_route_and_comes_back_when_it_answers()
    {
        var commands = new List<string>();
        var c1Answers = true;
        var log = new List<string>();
        using var router = new KernelEcmpRouter(new KernelEcmpRoute("192.168.202.35/32", [C1, C2], new ProbeOptions(TimeSpan.FromMilliseconds(20), 3)),
            line => { lock (log) log.Add(line); },
            ip: args => { lock (commands) commands.Add(string.Join(' ', args)); return Task.FromResult((0, "")); },
            ping: (hop, _) => Task.FromResult(!hop.Equals(C1) || Volatile.Read(ref c1Answers)));
        await router.StartAsync();
        await Task.Delay(200);
        lock (commands) Assert.Equal(["route replace 192.168.202.35/32 nexthop via 192.168.129.254 weight 1 nexthop via 192.168.130.254 weight 1"], commands);

        Volatile.Write(ref c1Answers, false);
        await Until(() => { lock (commands) return commands.Count == 2; }, "cluster 1 withdrawn");
        lock (commands) Assert.Equal("route replace 192.168.202.35/32 via 192.168.130.254", commands[1]);
        Assert.Contains("dead ", router.Describe());

        Volatile.Write(ref c1Answers, true);
        await Until(() => { lock (commands) return commands.Count == 3; }, "cluster 1 restored");
        lock (commands) Assert.Equal(commands[0], commands[2]);
        lock (log) Assert.Contains(log, l => l.EndsWith("192.168.129.254 dead after 3 missed probes"));
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what);
            await Task.Delay(10);
        }
    }
}
