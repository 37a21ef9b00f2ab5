using System.Diagnostics;
using System.Text.Json;
using ClusterActors.Node.Drills;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// `clusteractors drill seed fgcp-failover|fgsp-failover --clients 6 --fast-timers` on the real embedded lab (issue 12,
/// "Many clients"): six FortiGate clients on their own WAN addresses and LANs, spread over both FGCP clusters by the DC
/// router's flow hash (seed 1), every tunnel counted per owner before the faults and after the phase, and each count
/// held to the router's rule by <see cref="TunnelCensus"/>.
/// </summary>
[Collection(RealProcessesCollection.Name)]
public sealed class ManyClientsDrillSpec(ITestOutputHelper output) : IDisposable
{
    private const int Clients = 6;
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-drill-clients-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private async Task<(string Stdout, JsonElement Report)> Run(string drill)
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var sw = Stopwatch.StartNew();
        int exit;
        try
        {
            exit = await DrillCommand.RunAsync(new DrillCommand.Request(["seed", drill], Out: _dir, FastTimers: true, Clients: Clients), stdout, stderr, cts.Token);
        }
        finally
        {
            output.WriteLine($"{sw.Elapsed.TotalSeconds:0.0} s\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}");
        }
        var reports = Assert.Single(Directory.GetDirectories(_dir));
        var md = Path.Combine(reports, $"{drill}-1.md");
        if (File.Exists(md)) output.WriteLine(await File.ReadAllTextAsync(md));
        ExitAssert.Zero(exit, stdout.ToString(), stderr.ToString());
        Assert.Equal("", stderr.ToString());
        Assert.Contains("\n## Clients\n", await File.ReadAllTextAsync(md));
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(reports, $"{drill}-1.json")));
        return (stdout.ToString(), json.RootElement.Clone());
    }

    private static Dictionary<string, int> PerOwner(JsonElement census) =>
        census.GetProperty("per_owner").EnumerateArray().ToDictionary(o => o.GetProperty("unit").GetString()!, o => o.GetProperty("tunnels").GetInt32());

    [Fact]
    public async Task Fgcp_failover_moves_every_tunnel_of_the_killed_owner_to_its_peer_and_leaves_the_others()
    {
        var (stdout, report) = await Run("fgcp-failover");
        Assert.Contains($"  {Clients} clients dialed; the DC router placed them: ", stdout);
        Assert.Equal("pass", report.GetProperty("verdict").GetString());
        Assert.Equal(Clients, report.GetProperty("clients").GetArrayLength());
        var censuses = report.GetProperty("censuses").EnumerateArray().ToList();
        Assert.Equal(2, censuses.Count);
        Assert.All(censuses, c => Assert.True(c.GetProperty("holds").GetBoolean(), c.ToString()));

        var before = PerOwner(censuses[0]);
        var after = PerOwner(censuses[1]);
        Assert.Equal(Clients, before.Values.Sum());
        Assert.Equal(Clients, after.Values.Sum());
        // The hash spreads the six over both clusters: the failover moves some tunnels and must leave others alone.
        Assert.True(before["DC2_VM1"] > 0 && before["DC2_VM3"] > 0, string.Join(", ", before));
        Assert.False(after.ContainsKey("DC2_VM1"), "DC2_VM1 was killed: it answers no census");
        Assert.Equal(before["DC2_VM1"], after["DC2_VM2"]);
        Assert.Equal(before["DC2_VM3"], after["DC2_VM3"]);
        Assert.Matches(@"  tunnels per owner after phase 1 \(kill DC2_VM1\): DC2_VM2 \d, DC2_VM3 \d \(6 clients; ", stdout);
        // Per tunnel, from each other client's own probe: the killed owner's tunnels (CLIENT1's apart, the drill's own
        // measurement) moved and are back; the other cluster's stayed and lost nothing.
        var back = Assert.Single(report.GetProperty("recoveries").EnumerateArray());
        Assert.Equal(before["DC2_VM1"] - 1, back.GetProperty("moved").GetInt32());
        Assert.Equal(back.GetProperty("moved").GetInt32(), back.GetProperty("back").GetInt32());
        Assert.Equal(before["DC2_VM3"], back.GetProperty("stayed").GetInt32());
        Assert.Equal(0, back.GetProperty("stayed_losing").GetInt32());
        Assert.True(back.GetProperty("first_ms").GetDouble() <= back.GetProperty("median_ms").GetDouble());
        Assert.True(back.GetProperty("median_ms").GetDouble() <= back.GetProperty("last_ms").GetDouble());
        Assert.Matches(@"  tunnels back after phase 1 \(kill DC2_VM1\): \d of \d moved; first \d+ ms, median \d+ ms, last \d+ ms after the fault", stdout);
    }

    [Fact]
    public async Task Fgsp_failover_brings_every_tunnel_to_the_other_member_by_each_clients_own_traffic()
    {
        var (_, report) = await Run("fgsp-failover");
        Assert.Equal("pass", report.GetProperty("verdict").GetString());
        var censuses = report.GetProperty("censuses").EnumerateArray().ToList();
        Assert.All(censuses, c => Assert.True(c.GetProperty("holds").GetBoolean(), c.ToString()));
        var after = PerOwner(censuses[^1]);
        // Cluster 1 lost (DC2_VM1 killed, DC2_VM2's uplink shut): the router sends every client to DC2_VM3, which takes
        // each tunnel on that client's first packet; the other clients' PCs send theirs at 10 pps.
        Assert.Equal(Clients, after["DC2_VM3"]);
        Assert.True(report.GetProperty("others_traffic").GetProperty("answered").GetInt64() > 0);
        // Every phase moves tunnels here (cluster 1's owner killed, then its last uplink shut): each moved one is back.
        var backs = report.GetProperty("recoveries").EnumerateArray().ToList();
        Assert.Equal(censuses.Count - 1, backs.Count);
        Assert.All(backs.Where(b => b.GetProperty("moved").GetInt32() > 0),
            b => Assert.Equal(b.GetProperty("moved").GetInt32(), b.GetProperty("back").GetInt32()));
    }
}
