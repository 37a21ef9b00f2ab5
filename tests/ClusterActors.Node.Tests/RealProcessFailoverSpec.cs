using System.Diagnostics;
using System.Net;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Config;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests;

/// <summary>
/// Two `clusteractors node` OS processes on loopback, as a user starts them: kill -9 of the primary and the
/// survivor's `diagnose sys ha status` must say Primary within hb-interval x hb-lost-threshold + 500 ms;
/// the killed unit restarted on the same data returns as Secondary with its HA history intact.
/// </summary>
[Collection(RealProcessesCollection.Name)]
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

    internal static int FreeTcpPort() => LoopbackLab.FreeTcpPort();

    internal static int FreeUdpPort() => LoopbackLab.FreeUdpPort();

    internal readonly Dictionary<string, int> IkePorts = new();

    internal (UnitProcess Vm1, UnitProcess Vm2) Define(string change)
    {
        Directory.CreateDirectory(_dir);
        string[] units = ["DC2_VM1", "DC2_VM2"];
        var akka = units.ToDictionary(u => u, _ => FreeTcpPort());
        var admin = units.ToDictionary(u => u, _ => FreeTcpPort());
        var hb = units.ToDictionary(u => u, _ => FreeUdpPort());
        // Akka's mutual TLS: a CA and a certificate per unit, as `clusteractors certs create` writes them.
        var certs = Path.Combine(_dir, "certs");
        LabCertificateAuthority.Create().WriteTo(certs, units.Select(u => (u, LoopbackLab.ScenarioConfig(u).SerialNumber!)));
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
                  ike = "127.0.0.1:{{IkePorts[unit] = FreeUdpPort()}}"
                  certs = "{{certs}}"
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

    private static async Task<string?> PrimaryOfTwo(UnitProcess unit)
    {
        var r = await unit.TryCli("diagnose sys ha status", 1000);
        if (r is not { ExitCode: 0 } || r.Output.Split('\n').Count(l => l.Contains("serialno_prio=")) != 2) return null;
        var line = r.Output.Split('\n').FirstOrDefault(l => l.Contains(":      Primary, serialno_prio="));
        return line?[..16];
    }

    private static async Task<bool> SaysPrimaryAlone(UnitProcess unit, string serial)
    {
        var r = await unit.TryCli("diagnose sys ha status", 1000);
        return r is { ExitCode: 0 } && r.Output.Contains($"{serial}:      Primary")
               && r.Output.Split('\n').Count(l => l.Contains("serialno_prio=")) == 1;
    }

    [Fact]
    public async Task Kill_9_of_the_primary_and_restart_of_it()
    {
        // ha-uptime-diff-margin 1: once the survivor has run a second longer than the restarted unit, its uptime
        // wins, so the returning unit joins as secondary (override disabled: no pre-emption past the margin).
        var (vm1, vm2) = Define("config system ha\nset hb-interval 2\nset hb-lost-threshold 6\nset hello-holddown 5\nset ha-uptime-diff-margin 1\nend");
        vm1.Start();
        vm2.Start();
        string? primarySerial = null;
        await Until(async () => (primarySerial = await PrimaryOfTwo(vm1)) is not null && await PrimaryOfTwo(vm2) == primarySerial,
            TimeSpan.FromSeconds(40), "a two-unit cluster with one primary both units agree on");
        var (victim, survivor) = primarySerial == "FGVM02TM22000002" ? (vm2, vm1) : (vm1, vm2);
        var survivorSerial = primarySerial == "FGVM02TM22000002" ? "FGVM02TM22000001" : "FGVM02TM22000002";
        var historyBefore = (await victim.TryCli("diagnose sys ha history read"))!.Output;
        var linesBefore = historyBefore.Split('\n').Where(l => l.Contains("vcluster-1:")).ToList();
        Assert.NotEmpty(linesBefore);

        var bound = TimeSpan.FromMilliseconds(200 * 6 + 500);
        victim.Kill9();
        var took = await Until(() => SaysPrimaryAlone(survivor, survivorSerial), TimeSpan.FromSeconds(10), "the survivor says Primary after kill -9 of the primary");
        output.WriteLine($"kill -9 to survivor Primary: {took.TotalMilliseconds:0} ms (bound {bound.TotalMilliseconds} ms)");
        Assert.True(took <= bound, $"took {took.TotalMilliseconds:0} ms, bound {bound.TotalMilliseconds} ms");
        Assert.Null(await victim.TryCli("diagnose sys ha status")); // it is dead

        await Task.Delay(1500);
        victim.Start();
        await Until(async () =>
        {
            var r = await victim.TryCli("diagnose sys ha status", 1000);
            return r is { ExitCode: 0 } && r.Output.Contains($"{primarySerial}:    Secondary") && r.Output.Contains($"{survivorSerial}:      Primary");
        }, TimeSpan.FromSeconds(30), "the killed unit returns as Secondary");

        // Every history line written before the kill -9 is still there after the restart.
        var historyAfter = (await victim.TryCli("diagnose sys ha history read"))!.Output;
        foreach (var line in linesBefore) Assert.Contains(line.Trim(), historyAfter);
        Assert.Contains($"{survivorSerial} is selected as the primary because its uptime is larger than peer member {primarySerial}", historyAfter);
    }
}
