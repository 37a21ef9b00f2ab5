using System.Diagnostics;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Fgcp;

// On-demand benchmarks; they print figures and are never part of the test run.
//   dotnet run -c Release --project tests/ClusterActors.Benchmarks -- fgcp-detection [--kills 20]
var what = args.FirstOrDefault() ?? "fgcp-detection";
var kills = args.SkipWhile(a => a != "--kills").Skip(1).Select(int.Parse).FirstOrDefault(20);

switch (what)
{
    case "fgcp-detection":
        Console.WriteLine($"FGCP failure detection: time from killing the primary to the secondary working as primary, {kills} kills per setting");
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}");
        foreach (var (interval, threshold) in new[] { (2, 6), (1, 3) })
            await FgcpDetection.Run(interval, threshold, kills);
        return 0;
    default:
        Console.Error.WriteLine($"unknown benchmark '{what}' (known: fgcp-detection)");
        return 2;
}

internal static class FgcpDetection
{
    public static async Task Run(int hbInterval, int threshold, int kills)
    {
        var change = $"config system ha\nset hb-interval {hbInterval}\nset hb-lost-threshold {threshold}\nset hello-holddown 5\nend";
        var expected = hbInterval * 100 * threshold;
        var samples = new List<double>();
        for (var i = 0; i < kills; i++)
        {
            // Killing units makes remoting log every refused reconnect; the figures are what this prints.
            await using var lab = new LoopbackLab { ExtraHocon = "akka.loglevel = OFF\nakka.stdout-loglevel = OFF" };
            lab.Define([("DC2_VM1", LoopbackLab.ScenarioConfig("DC2_VM1", change)), ("DC2_VM2", LoopbackLab.ScenarioConfig("DC2_VM2", change))]);
            await Task.WhenAll(lab.Start("DC2_VM1"), lab.Start("DC2_VM2"));
            await LoopbackLab.Eventually(async () => (await lab.Status("DC2_VM1")).Members.Count == 2 && await lab.IsRole("DC2_VM2", HaRole.Primary),
                TimeSpan.FromSeconds(15), "cluster formed");
            // Let a few heartbeats pass so the kill lands at a random phase of the heartbeat cycle.
            await Task.Delay(500 + Random.Shared.Next(0, hbInterval * 100));
            var sw = Stopwatch.StartNew();
            await lab.Kill("DC2_VM2");
            while (!await lab.IsRole("DC2_VM1", HaRole.Primary) || (await lab.Status("DC2_VM1")).Members.Count != 1)
            {
                if (sw.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("no failover within 30 s");
                await Task.Delay(5);
            }
            samples.Add(sw.Elapsed.TotalMilliseconds);
            Console.Write('.');
        }
        samples.Sort();
        var median = samples.Count % 2 == 1 ? samples[samples.Count / 2] : (samples[samples.Count / 2 - 1] + samples[samples.Count / 2]) / 2;
        Console.WriteLine();
        Console.WriteLine($"hb-interval {hbInterval} ({hbInterval * 100} ms) x hb-lost-threshold {threshold} = {expected} ms: " +
                          $"median {median:0} ms, max {samples[^1]:0} ms, min {samples[0]:0} ms over {samples.Count} kills " +
                          $"(median/expected {median / expected:0.00})");
    }
}
