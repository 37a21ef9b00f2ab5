using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Scenario;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;

/// <summary>
/// The traffic gap of the scenario's two drills (issue 4, point 8), as tests/ClusterActors.MultiNode.Tests/DataPlaneDrillSpec
/// runs them: four units as ActorSystems with real Akka remoting, the in-memory packet fabric, CLIENT1 dialed over it and
/// PC1 pinging the Server at a steady rate.
/// (a) DC2_VM1 forwards and dies; FGCP makes DC2_VM2 primary and it takes the tunnel and the traffic.
/// (b) DC2_VM2's port2 goes down; the DC router withdraws cluster 1 and DC2_VM3 takes the tunnel on its traffic.
/// Per drill: PC1's longest interval without a reply (<see cref="EchoReport.LongestGap"/>) and its lost requests.
/// A fresh lab per run; runs alternate between the timer settings so both see the same machine load.
/// </summary>
internal static class DrillGaps
{
    private static readonly string[] Units = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];

    private sealed record Setting(string Name, string Change)
    {
        public List<(EchoReport A, EchoReport B)> Runs { get; } = new();
        public List<string> Failures { get; } = new();
    }

    public static async Task<int> Run(int runs, double rate, TimeSpan budget)
    {
        Setting[] settings =
        [
            // The seed configs set no HA timers: the VM defaults (hb-interval 2, hb-lost-threshold 20) apply. Only
            // hello-holddown is lowered (default 20 s) so the clusters form quickly; it plays no part in failover.
            new("scenario timers (seed configs: VM defaults hb-interval 2, hb-lost-threshold 20; hello-holddown 5 for quick formation)",
                "config system ha\nset hello-holddown 5\nend"),
            new("hb-interval 1 / hb-lost-threshold 3 (hello-holddown 5)",
                "config system ha\nset hb-interval 1\nset hb-lost-threshold 3\nset hello-holddown 5\nend"),
        ];
        Console.WriteLine($"Data-plane drills: PC1 -> Server echo at {rate:0} pps through CLIENT1's tunnel, {runs} runs per timer setting, fresh lab per run, settings alternating");
        Console.WriteLine($"machine: {Machine.Line()}, {Environment.OSVersion}, .NET {Environment.Version}");
        var wall = Stopwatch.StartNew();
        var done = 0;
        for (var run = 1; run <= runs; run++)
        {
            foreach (var setting in settings)
            {
                if (wall.Elapsed > budget)
                {
                    Console.WriteLine($"time budget of {budget.TotalMinutes:0} min used up after {done} runs: stopping early");
                    goto report;
                }
                var label = setting == settings[0] ? "scenario" : "hb 1x3";
                var load = Machine.Line();
                var sw = Stopwatch.StartNew();
                try
                {
                    // Every wait inside is bounded; this bound only guards against one that is not.
                    var (a, b) = await RunOnce(setting, rate).WaitAsync(TimeSpan.FromMinutes(4));
                    setting.Runs.Add((a, b));
                    Console.WriteLine($"  run {run,2} {label,-8}: (a) gap {Ms(a.LongestGap),5} ms, lost {a.Lost,5} | (b) gap {Ms(b.LongestGap),5} ms, lost {b.Lost,5}" +
                                      $" | {sw.Elapsed.TotalSeconds:0} s [{load}]");
                }
                catch (Exception e)
                {
                    setting.Failures.Add($"run {run}: {e.GetType().Name}: {e.Message}");
                    Console.WriteLine($"  run {run,2} {label,-8}: FAILED after {sw.Elapsed.TotalSeconds:0} s: {e.GetType().Name}: {e.Message} [{load}]");
                }
                done++;
            }
        }

        report:
        Console.WriteLine($"all runs in {wall.Elapsed.TotalMinutes:0.0} min; machine now: {Machine.Line()}");
        foreach (var setting in settings) Report(setting, rate);
        return settings.All(s => s.Runs.Count > 0) ? 0 : 1;
    }

    private static Dictionary<string, ConfigDocument> Configs(Setting setting) =>
        Units.ToDictionary(u => u, u => LoopbackLab.ScenarioConfig(u, setting.Change));

    private static TimeSpan RouterDetection(ProbeOptions probe) => probe.Interval * (probe.MissedProbes + 1);

    private static void Report(Setting setting, double rate)
    {
        var configs = Configs(setting);
        var ha = configs["DC2_VM1"].Ha;
        var fgcp = ha.LostAfter;
        var probe = EmbeddedScenarioDriver.RouterProbeAbove(configs.Values);
        var router = RouterDetection(probe);
        Console.WriteLine();
        Console.WriteLine($"{setting.Name}: {setting.Runs.Count} runs" + (setting.Failures.Count > 0 ? $", {setting.Failures.Count} failed" : ""));
        Console.WriteLine($"  FGCP detection: hb-interval {ha.HbInterval} ({ha.HeartbeatInterval.TotalMilliseconds:0} ms) x hb-lost-threshold {ha.HbLostThreshold} = {fgcp.TotalMilliseconds:0} ms");
        Console.WriteLine($"  DC router probe: every {probe.Interval.TotalMilliseconds:0} ms, dead after {probe.MissedProbes} missed " +
                          $"(declares a next hop dead at most {router.TotalMilliseconds:0} ms after it stops answering)");
        foreach (var f in setting.Failures) Console.WriteLine($"  failed {f}");
        if (setting.Runs.Count == 0) return;
        Drill("(a) FGCP failover, DC2_VM1 killed -> DC2_VM2", setting.Runs.Select(r => r.A).ToList(), fgcp, "FGCP detection");
        Drill("(b) DC2_VM2 port2 down, router -> DC2_VM3  ", setting.Runs.Select(r => r.B).ToList(), router, "router detection");
        if (setting.Runs.Any(r => r.A.Duplicates + r.B.Duplicates + r.A.Unmatched + r.B.Unmatched > 0))
            Console.WriteLine($"  note: duplicates {setting.Runs.Sum(r => r.A.Duplicates + r.B.Duplicates)}, unmatched {setting.Runs.Sum(r => r.A.Unmatched + r.B.Unmatched)} over all runs");

        void Drill(string name, List<EchoReport> reports, TimeSpan detection, string against)
        {
            var gaps = reports.Select(r => r.LongestGap.TotalMilliseconds).ToList();
            var lost = reports.Select(r => (double)r.Lost).ToList();
            var gapMedian = Machine.Median(gaps);
            var d = detection.TotalMilliseconds;
            Console.WriteLine($"  {name}: gap median {gapMedian:0} ms, max {gaps.Max():0} ms; lost median {Machine.Median(lost):0}, max {lost.Max():0} " +
                              $"(at {rate:0} pps); gap/{against} ({d:0} ms) median {gapMedian / d:0.00}, max {gaps.Max() / d:0.00}");
        }
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture);

    private static async Task<(EchoReport A, EchoReport B)> RunOnce(Setting setting, double rate)
    {
        var configs = Configs(setting);
        var probe = EmbeddedScenarioDriver.RouterProbeAbove(configs.Values);
        var fgcp = configs["DC2_VM1"].Ha.LostAfter;
        var router = RouterDetection(probe);
        var holddown = configs.Values.Max(c => c.Ha.HelloHolddown);
        var second = (long)Math.Ceiling(rate);
        // Long enough never to end on its own before Stop: the slower drill waits for detection plus a second of traffic.
        var echo = new EchoRunOptions { RatePps = rate, Duration = TimeSpan.FromSeconds(60) + fgcp + router };

        // Killing units makes remoting log every refused reconnect; the figures are what this prints.
        await using var lab = new LoopbackLab { ExtraHocon = "akka.loglevel = OFF\nakka.stdout-loglevel = OFF" };
        lab.Define(Units.Select(u => (u, configs[u])).ToList());
        lab.UsePacketFabric(new ScenarioFabricOptions { Probe = probe });
        foreach (var u in Units) await lab.Start(u);
        await LoopbackLab.Eventually(async () => await lab.IsRole("DC2_VM1", HaRole.Primary) && await lab.IsRole("DC2_VM3", HaRole.Primary)
                                                 && (await lab.Status("DC2_VM2")).Members.Count == 2 && (await lab.Status("DC2_VM4")).Members.Count == 2,
            TimeSpan.FromSeconds(holddown + 30), "both FGCP clusters formed, DC2_VM1 and DC2_VM3 primary");
        await LoopbackLab.Eventually(() => Task.FromResult(Units.All(u => lab.AkkaMembersUp(u) == 4)), TimeSpan.FromSeconds(30), "one Akka cluster of four");

        using (var dialing = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            await lab.DialOverFabric(cancel: dialing.Token);
        await LoopbackLab.Eventually(async () => (await TunnelList(lab, "DC2_VM1")).Contains("role=sync-primary"),
            TimeSpan.FromSeconds(10), "the DC router sent CLIENT1 to cluster 1: DC2_VM1 sync-primary");
        var pc1 = lab.Pc1!;

        // ---- drill (a): traffic through DC2_VM1, which dies; FGCP moves the tunnel and the traffic to DC2_VM2.
        var runA = pc1.Start(echo);
        EchoReport a;
        try
        {
            await ForwardsThrough(lab, "DC2_VM1", second, TimeSpan.FromSeconds(10), "echo traffic flows through DC2_VM1");
            await lab.Kill("DC2_VM1");
            await ForwardsThrough(lab, "DC2_VM2", second, fgcp + TimeSpan.FromSeconds(15), "echo traffic resumes through DC2_VM2");
        }
        finally
        {
            runA.Stop();
            a = await runA.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        }

        // ---- drill (b): DC2_VM2's uplink goes down; the router withdraws cluster 1 and DC2_VM3 takes the tunnel.
        var runB = pc1.Start(echo);
        EchoReport b;
        try
        {
            await ForwardsThrough(lab, "DC2_VM2", second / 2, TimeSpan.FromSeconds(10), "echo traffic flows through DC2_VM2");
            lab.SetCable("DC2_VM2", "port2", false);
            await ForwardsThrough(lab, "DC2_VM3", second, router + TimeSpan.FromSeconds(15), "echo traffic resumes through DC2_VM3");
        }
        finally
        {
            runB.Stop();
            b = await runB.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        }
        return (a, b);
    }

    private static async Task<string> TunnelList(LoopbackLab lab, string unit) =>
        (await lab.Units[unit].CliAsync("diagnose vpn tunnel list")).Output;

    private static async Task<long> TunnelForwarded(LoopbackLab lab, string unit) =>
        (await lab.Units[unit].Unit.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(5))).TunnelIn;

    /// <summary>Waits until <paramref name="unit"/> has forwarded <paramref name="packets"/> more tunnel packets than it had.</summary>
    private static async Task ForwardsThrough(LoopbackLab lab, string unit, long packets, TimeSpan within, string what)
    {
        var before = await TunnelForwarded(lab, unit);
        await LoopbackLab.Eventually(async () => await TunnelForwarded(lab, unit) - before >= packets, within, what);
    }
}
