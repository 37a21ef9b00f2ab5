using System.Net;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Node.Router;

namespace ClusterActors.Node.Tests.Router;

/// <summary>The container lab's router role with `ip` and ping replaced by fakes: which flows it places where, and which lines it writes when.</summary>
public sealed class KernelPlacementRouterSpec
{
    private static readonly IPAddress C1 = IPAddress.Parse("192.168.129.254");
    private static readonly IPAddress C2 = IPAddress.Parse("192.168.130.254");
    private const string Lb1 = "192.168.202.35/32";

    private static PlacementRoute Route(int misses = 3, int intervalMs = 20) =>
        new(Lb1, [C1, C2], new ProbeOptions(TimeSpan.FromMilliseconds(intervalMs), misses), ["192.168.7.0/24"], PlacementRoute.DefaultHashSeed);

    [Fact]
    public void Every_host_of_the_client_prefix_is_one_flow_with_its_own_table()
    {
        var flows = FlowPlacement.Flows(Route());
        Assert.Equal(254, flows.Count);
        Assert.Equal("192.168.7.1", flows[0].From);
        Assert.Equal("192.168.7.254", flows[^1].From);
        Assert.All(flows, f => Assert.Equal("192.168.202.35", f.To));
        Assert.Equal(Enumerable.Range(FlowPlacement.FirstTable, 254), flows.Select(f => f.Table));
        var install = FlowPlacement.Install(Lb1, flows);
        Assert.Equal("route replace unreachable 192.168.202.35/32", install[0]);
        Assert.Contains($"rule add from 192.168.7.2/32 to 192.168.202.35/32 lookup {FlowPlacement.FirstTable + 1} priority {FlowPlacement.RulePriority}", install);
    }

    [Fact]
    public void Each_flow_takes_the_embedded_routers_choice_and_no_route_is_multipath()
    {
        var route = Route();
        var flows = FlowPlacement.Flows(route);
        var (lines, choices) = FlowPlacement.Place(flows, route.NextHops, 0b11, route.HashSeed, applied: null);
        Assert.Equal(flows.Count, lines.Count);
        Assert.DoesNotContain(lines, l => l.Contains("nexthop", StringComparison.Ordinal));
        for (int i = 0; i < flows.Count; i++)
        {
            var expected = EcmpSelection.Choose(IPAddress.Parse(flows[i].From), IPAddress.Parse(flows[i].To), [C1, C2], PlacementRoute.DefaultHashSeed);
            Assert.Equal(expected, route.NextHops[choices[i]]);
            Assert.Equal($"route replace 192.168.202.35/32 via {expected} table {flows[i].Table}", lines[i]);
        }
        // Both clusters carry flows (a rule that sent everything one way would not be ECMP).
        Assert.InRange(choices.Count(c => c == 0), 90, 164);
        // The shipped scenario: CLIENT1 (192.168.7.2) and the strongSwan container (192.168.7.3) land on cluster 1.
        Assert.Equal(0, choices[flows.ToList().FindIndex(f => f.From == "192.168.7.2")]);
        Assert.Equal(0, choices[flows.ToList().FindIndex(f => f.From == "192.168.7.3")]);
    }

    [Fact]
    public void A_withdrawn_next_hop_moves_exactly_its_own_flows_and_they_come_back()
    {
        var route = Route();
        var flows = FlowPlacement.Flows(route);
        var (_, both) = FlowPlacement.Place(flows, route.NextHops, 0b11, route.HashSeed, null);
        var (down, onlyC2) = FlowPlacement.Place(flows, route.NextHops, 0b10, route.HashSeed, both);
        Assert.Equal(both.Count(c => c == 0), down.Count);
        Assert.All(onlyC2, c => Assert.Equal(1, c));
        Assert.All(down, l => Assert.Contains("via 192.168.130.254", l));
        var (back, again) = FlowPlacement.Place(flows, route.NextHops, 0b11, route.HashSeed, onlyC2);
        Assert.Equal(both, again);
        Assert.Equal(down.Count, back.Count);
        var (none, _) = FlowPlacement.Place(flows, route.NextHops, 0, route.HashSeed, both);
        Assert.Equal(flows.Count, none.Count);
        Assert.All(none, l => Assert.StartsWith("route replace unreachable 192.168.202.35/32 table ", l));
    }

    [Fact]
    public void Client_prefixes_too_large_to_place_are_refused()
    {
        Assert.Throws<ArgumentException>(() => FlowPlacement.Flows(Route() with { Clients = ["10.0.0.0/8"] }));
        Assert.Throws<ArgumentException>(() => FlowPlacement.Flows(Route() with { Clients = ["10.0.0.0/19"] }));
        Assert.Equal(4094, FlowPlacement.Flows(Route() with { Clients = ["10.0.0.0/20"] }).Count);
    }

    [Fact]
    public async Task A_next_hop_that_stops_answering_moves_only_its_flows_and_they_come_back_when_it_answers()
    {
        var batches = new List<IReadOnlyList<string>>();
        var c1Answers = true;
        var log = new List<string>();
        using var router = new KernelPlacementRouter(Route(), line => { lock (log) log.Add(line); },
            ip: lines => { lock (batches) batches.Add(lines); return Task.FromResult((0, "")); },
            ping: (hop, _) => Task.FromResult(!hop.Equals(C1) || Volatile.Read(ref c1Answers)));
        await router.StartAsync();
        await Task.Delay(200);
        int onC1;
        lock (batches)
        {
            Assert.Equal(3, batches.Count); // stale rules removed, rules installed, every flow placed
            Assert.All(batches[0], l => Assert.StartsWith("rule del ", l));
            Assert.Equal(255, batches[1].Count);
            Assert.Equal(254, batches[2].Count);
            onC1 = batches[2].Count(l => l.Contains("via 192.168.129.254"));
            Assert.Contains($"route replace 192.168.202.35/32 via 192.168.129.254 table {FlowPlacement.FirstTable + 1}", batches[2]);
        }

        Volatile.Write(ref c1Answers, false);
        await Until(() => { lock (batches) return batches.Count == 4; }, "cluster 1 withdrawn");
        lock (batches)
        {
            Assert.Equal(onC1, batches[3].Count);
            Assert.All(batches[3], l => Assert.Contains("via 192.168.130.254", l));
        }
        Assert.Contains("dead ", router.Describe());

        Volatile.Write(ref c1Answers, true);
        await Until(() => { lock (batches) return batches.Count == 5; }, "cluster 1 restored");
        lock (batches)
        {
            Assert.Equal(onC1, batches[4].Count);
            Assert.All(batches[4], l => Assert.Contains("via 192.168.129.254", l));
            Assert.DoesNotContain(batches.SelectMany(b => b), l => l.Contains("nexthop", StringComparison.Ordinal));
        }
        lock (log) Assert.Contains(log, l => l.EndsWith("192.168.129.254 dead after 3 missed probes"));
        Assert.Equal([("192.168.129.254", true), ("192.168.130.254", true)], ClusterActors.Node.Drills.DockerDrillLab.ParseRouterStatus(router.Describe()));
    }

    [Fact]
    public async Task A_next_hop_silent_for_a_while_but_never_withdrawn_says_how_long_and_how_much_of_the_margin_it_used()
    {
        var batches = 0;
        var c1Answers = true;
        var log = new List<string>();
        using var router = new KernelPlacementRouter(Route(misses: 20), line => { lock (log) log.Add(line); },
            ip: _ => { Interlocked.Increment(ref batches); return Task.FromResult((0, "")); },
            ping: (hop, _) => Task.FromResult(!hop.Equals(C1) || Volatile.Read(ref c1Answers)));
        await router.StartAsync();
        await Task.Delay(100);
        Volatile.Write(ref c1Answers, false); // an FGCP failover: the old primary gone, the new one not answering yet
        await Task.Delay(150);
        Volatile.Write(ref c1Answers, true);
        await Until(() => { lock (log) return log.Any(l => l.Contains("192.168.129.254 answers after")); }, "the silence logged");
        await Task.Delay(100);
        string line;
        lock (log) line = Assert.Single(log, l => l.Contains(" answers after "));
        var m = System.Text.RegularExpressions.Regex.Match(line, @"192\.168\.129\.254 answers after (\d+) ms without an answer \((\d+) missed probes of the 20 that withdraw it\)$");
        Assert.True(m.Success, line);
        Assert.InRange(int.Parse(m.Groups[1].Value), 140, 1000);
        Assert.InRange(int.Parse(m.Groups[2].Value), KernelPlacementRouter.SilenceWorthLogging, 19);
        Assert.Equal(3, Volatile.Read(ref batches)); // never withdrawn: no rewrite after the first placement
        lock (log) Assert.DoesNotContain(log, l => l.Contains("dead after"));
    }

    [Fact]
    public async Task A_rewrite_the_kernel_refused_is_written_again_at_the_next_change()
    {
        var batches = new List<IReadOnlyList<string>>();
        var c1Answers = true;
        var refuse = false;
        using var router = new KernelPlacementRouter(Route(), _ => { },
            ip: lines =>
            {
                lock (batches) batches.Add(lines);
                return Task.FromResult(Volatile.Read(ref refuse) ? (2, "RTNETLINK answers: Network is unreachable") : (0, ""));
            },
            ping: (hop, _) => Task.FromResult(!hop.Equals(C1) || Volatile.Read(ref c1Answers)));
        await router.StartAsync();
        Volatile.Write(ref refuse, true);
        Volatile.Write(ref c1Answers, false);
        await Until(() => { lock (batches) return batches.Count == 4; }, "withdrawal tried");
        Volatile.Write(ref refuse, false);
        Volatile.Write(ref c1Answers, true);
        // The kernel still holds the all-alive placement: coming back to it needs no line, so no batch is sent.
        await Task.Delay(300);
        lock (batches) Assert.Equal(4, batches.Count);
        Volatile.Write(ref c1Answers, false);
        await Until(() => { lock (batches) return batches.Count == 5; }, "withdrawal written again");
        lock (batches) Assert.Equal(batches[3], batches[4]);
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
