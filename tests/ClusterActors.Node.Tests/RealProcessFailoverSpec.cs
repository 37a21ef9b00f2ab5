using System.Diagnostics;
using System.Net;
using ClusterActors.Protocol.Config;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests;

/// <summary>
/// Two `clusteractors node` OS processes on loopback, as a user starts them: kill -9 of the primary and the
/// survivor's `diagnose sys ha status` must say Primary within hb-interval x hb-lost-threshold + 500 ms;
/// the killed unit restarted on the same data returns as Secondary with its HA history intact.
/// </summary>
[Collection("real-processes")]
public sealed class RealProcessFailoverSpec(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "clusteractors-proc-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly List<UnitProcess> _processes = new();

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            output.WriteLine($"--- log of {p.Admin}:\n{p.Log}");
            p.Dispose();
        }
        try { Directory.Delete(_dir, true); } catch { /* best effort */ }
    }

    internal static int FreeTcpPort()
    {
        using var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    internal static int FreeUdpPort()
    {
        using var u = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)u.Client.LocalEndPoint!).Port;
    }

    /// <summary>Writes each unit's config file (the scenario's, with test timers) and its wiring HOCON.</summary>
    private (UnitProcess Vm1, UnitProcess Vm2) Define(string change)
    {
        Directory.CreateDirectory(_dir);
        string[] units = ["DC2_VM1", "DC2_VM2"];
        var akka = units.ToDictionary(u => u, _ => FreeTcpPort());
        var admin = units.ToDictionary(u => u, _ => FreeTcpPort());
        var hb = units.ToDictionary(u => u, _ => FreeUdpPort());
        var result = new List<UnitProcess>();
        foreach (var unit in units)
        {
            var scenario = FortiConfig.ParseFile(Path.Combine(AppContext.BaseDirectory, "scenarios", "seed", unit + ".conf"));
            Assert.True(scenario.Ok);
            var changed = scenario.Value!.Apply(change, "spec");
            Assert.True(changed.Ok, string.Join("\n", changed.Errors));
            var configFile = Path.Combine(_dir, unit + ".conf");
            File.WriteAllText(configFile, changed.Value!.ToText());
            var other = units.Single(u => u != unit);
            var wiring = Path.Combine(_dir, unit + ".hocon");
            File.WriteAllText(wiring, $$"""
                clusteractors.unit {
                  akka = "127.0.0.1:{{akka[unit]}}"
                  admin = "127.0.0.1:{{admin[unit]}}"
                  contacts = ["akka.tcp://fortigate@127.0.0.1:{{akka[other]}}"]
                  hbdev.port4 { bind = "127.0.0.1:{{hb[unit]}}", peers = ["127.0.0.1:{{hb[other]}}"] }
                }
                """);
            var p = new UnitProcess($"node --config \"{configFile}\" --hocon \"{wiring}\" --data \"{Path.Combine(_dir, unit)}\"",
                new IPEndPoint(IPAddress.Loopback, admin[unit]));
            _processes.Add(p);
            result.Add(p);
        }
        return (result[0], result[1]);
    }

    private static async Task<TimeSpan> Until(Func<Task<bool>> condition, TimeSpan within, string what)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < within)
        {
            if (await condition()) return sw.Elapsed;
            await Task.Delay(20);
        }
        Assert.Fail($"not within {within.TotalSeconds:0.0} s: {what}");
        return sw.Elapsed;
    }

    private static async Task<bool> SaysPrimary(UnitProcess unit, string serial, int members)
    {
        var r = await unit.TryCli("diagnose sys ha status", 1000);
        return r is { ExitCode: 0 } && r.Output.Contains($"{serial}:      Primary")
               && r.Output.Split('\n').Count(l => l.Contains("serialno_prio=")) == members;
    }

    [Fact]
    public async Task Kill_9_of_the_primary_and_restart_of_it()
    {
        // ha-uptime-diff-margin 1: the survivor's uptime exceeds the returning unit's by more than the margin,
        // so it stays primary (FortiOS: no pre-emption with override disabled once the gap exceeds the margin).
        var (vm1, vm2) = Define("config system ha\nset hb-interval 2\nset hb-lost-threshold 6\nset hello-holddown 5\nset ha-uptime-diff-margin 1\nend");
        vm1.Start();
        vm2.Start();
        await Until(() => SaysPrimary(vm1, "FGVM02TM22000002", 2), TimeSpan.FromSeconds(40), "DC2_VM2 is primary of a two-unit cluster");
        await Until(() => SaysPrimary(vm2, "FGVM02TM22000002", 2), TimeSpan.FromSeconds(5), "DC2_VM2 agrees");

        var bound = TimeSpan.FromMilliseconds(200 * 6 + 500);
        vm2.Kill9();
        var took = await Until(() => SaysPrimary(vm1, "FGVM02TM22000001", 1), TimeSpan.FromSeconds(10), "DC2_VM1 says Primary after kill -9 of DC2_VM2");
        output.WriteLine($"kill -9 to survivor Primary: {took.TotalMilliseconds:0} ms (bound {bound.TotalMilliseconds} ms)");
        Assert.True(took <= bound, $"took {took.TotalMilliseconds:0} ms, bound {bound.TotalMilliseconds} ms");

        var before = (await vm2.TryCli("diagnose sys ha history read"))?.Output;
        Assert.Null(before); // it is dead
        await Task.Delay(1500);
        vm2.Start();
        await Until(async () =>
        {
            var r = await vm2.TryCli("diagnose sys ha status", 1000);
            return r is { ExitCode: 0 } && r.Output.Contains("FGVM02TM22000002:    Secondary") && r.Output.Contains("FGVM02TM22000001:      Primary");
        }, TimeSpan.FromSeconds(30), "DC2_VM2 returns as Secondary");

        // History written before the kill -9 is still there after the restart.
        var history = await vm2.TryCli("diagnose sys ha history read");
        Assert.NotNull(history);
        Assert.Contains("FGVM02TM22000002 is selected as the primary because its serial number is larger than peer member FGVM02TM22000001", history!.Output);
        Assert.Contains("new member 'FGVM02TM22000001' joins the cluster", history.Output);
    }
}
