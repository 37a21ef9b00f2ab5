using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Unit;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Config;

/// <summary>
/// Issue 11 point 4: the IKE responder under an IKE_SA_INIT flood.
/// (1) Over real UDP on loopback: one unit (primary alone) with its IKE socket; an honest client on 127.0.0.1 dials in
///     alternating rounds without and with a flood (A B A B …, same unit, same process, same machine load), so the two
///     figures and their ratio come from the same load. The flooder sends IKE_SA_INIT at the given rate from many
///     sources (64 sockets on 127.0.x.y, ephemeral ports; none of them answers a cookie), every other one with a 60 KB
///     Vendor ID. Per round and in total: dial times, INIT/s the flooder achieved and the socket read, and what the
///     socket (oversized, shed beyond its window, not answered) and the admission dropped.
/// (2) FGCP failover of cluster 1 (kill DC2_VM1), alternating without and with the same flood rate told to DC2_VM2 (in
///     process, past its socket): time to DC2_VM2 primary and to the tunnel's DPD answered by it, their ratios, the
///     INIT/s achieved and DC2_VM2's admission drops.
/// </summary>
internal static class IkeFlood
{
    private static readonly IPAddress Lb1 = IPAddress.Parse("192.168.202.35");

    public static async Task<int> Run(int rate, int dials, int failovers, int rounds)
    {
        Console.WriteLine($"IKE flood: {rate} IKE_SA_INIT/s from 64 spoofed 127.0.x.y sources (half of them with a 60 KB Vendor ID), honest dials meanwhile");
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}");
        await HonestDials(rate, dials, rounds);
        await Failovers(rate, failovers);
        return 0;
    }

    private static byte[][] Inits(int n, bool withBigVendorIds)
    {
        var settings = DialupClient.ScenarioSettings("x");
        return Enumerable.Range(0, n).Select(i =>
        {
            var init = new IkeInitiator(settings, Lb1).Start();
            if (!withBigVendorIds || i % 2 == 0) return init;
            var m = IkeCodec.Decode(init);
            return IkeCodec.Encode(m.Header, [new VendorIdPayload(new byte[60 * 1024]), .. m.Payloads]);
        }).ToArray();
    }

    /// <summary>What the socket and the admission had counted at one instant; rounds print differences.</summary>
    private sealed record Counts(long Read, long Oversized, long Shed, long NotAnswered, IkeAdmissionCounters Admission)
    {
        public static async Task<Counts> Of(UnitHost host) => new(host.Ike!.Received, host.Ike.DroppedOversized, host.Ike.DroppedInFlight,
            host.Ike.NotAnswered, (await AdmissionOf(host.System)).Counters);

        public string Since(Counts before, double? seconds) =>
            $"socket read {Read - before.Read}{(seconds is { } s ? $" ({(Read - before.Read) / Math.Max(s, 1e-3):0}/s)" : "")}, dropped oversized {Oversized - before.Oversized}, " +
            $"shed beyond {IkeUdpListener.MaxInFlight} in flight {Shed - before.Shed}, not answered {NotAnswered - before.NotAnswered}; " +
            $"admission: {AdmissionDelta(before.Admission, Admission)}";
    }

    private static Task<IkeAdmissionStatus> AdmissionOf(ActorSystem system) =>
        system.ActorSelection("/user/fortigate/ike-vpn1").Ask<IkeAdmissionStatus>(GetIkeAdmissionStatus.Instance, TimeSpan.FromSeconds(10));

    private static string AdmissionDelta(IkeAdmissionCounters before, IkeAdmissionCounters after)
    {
        var drops = Enum.GetValues<IkeDropCause>().Select(c => (c, n: after[c] - before[c])).Where(x => x.n != 0).Select(x => $"{x.c} {x.n}");
        return $"admitted {after.Admitted - before.Admitted}, cookies accepted {after.CookiesAccepted - before.CookiesAccepted}, " +
               $"half-open {after.HalfOpen}; dropped: {string.Join(", ", drops.DefaultIfEmpty("none"))}";
    }

    private static async Task HonestDials(int rate, int dials, int rounds)
    {
        var root = Path.Combine(Path.GetTempPath(), "ike-flood-bench-" + Guid.NewGuid().ToString("N")[..8]);
        var config = LoopbackLab.ScenarioConfig("DC2_VM1", "config system ha\nset hello-holddown 5\nend");
        var akka = new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeTcpPort());
        var ike = new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeUdpPort());
        var options = new UnitOptions("DC2_VM1", config, config.SerialNumber!, root, akka, new IPEndPoint(IPAddress.Loopback, 0),
            [new HbdevWiring("port4", new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeUdpPort()), [])], [UnitHost.AkkaAddress(akka)], [])
        {
            Ike = ike,
            // Akka remoting needs a lab certificate since it is TLS (a unit without one does not start), as LoopbackLab gives its units.
            Tls = LabCertificateAuthority.ForSpecs("DC2_VM1", config.SerialNumber!),
        };
        var host = await UnitHost.StartAsync(options, extraHocon: "akka.loglevel = ERROR\nakka.stdout-loglevel = OFF");
        try
        {
            var primary = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    // Until its config journal is read the unit stashes the question; on a loaded machine that takes a while.
                    if (await host.Unit.Ask<HaStatusSnapshot>(GetHaStatus.Instance, TimeSpan.FromSeconds(5)) is { State: HaState.Work, Role: HaRole.Primary }) break;
                }
                catch (AskTimeoutException) { }
                if (primary.Elapsed > TimeSpan.FromSeconds(90)) throw new TimeoutException("the unit never became primary");
                await Task.Delay(100);
            }
            var psk = config.Phase1.First(p => p.Type == Phase1Type.Dynamic).PskSecret!.Clear;
            var perRound = Math.Max(1, (int)Math.Ceiling(dials / (double)rounds));
            Console.WriteLine($"(1) one unit, IKE on {ike}; {rounds} rounds each without (A) and with (B) the flood, alternating A B A B …, " +
                              $"{perRound} honest dials per round (a B round floods 1 s before its first dial and until its last):");
            // A fresh unit's first dials pay JIT and first-use costs (the last run's "no flood" max 254 ms was that): not counted.
            Print("    warm-up, not counted", await DialMany(ike, psk, 2));
            var times = new Dictionary<bool, List<double>> { [false] = [], [true] = [] };
            long floodSent = 0, floodRead = 0;
            double floodSeconds = 0;
            var start = await Counts.Of(host);
            for (var round = 0; round < 2 * rounds; round++)
            {
                var flooded = round % 2 == 1;
                var before = await Counts.Of(host);
                var sw = Stopwatch.StartNew();
                List<double> dialed;
                string line;
                if (flooded)
                {
                    using var stop = new CancellationTokenSource();
                    var flood = UdpFlood(ike, rate, TimeSpan.FromSeconds(60), stop.Token);
                    await Task.Delay(1000);
                    dialed = await DialMany(ike, psk, perRound);
                    stop.Cancel();
                    var (sent, seconds) = await flood;
                    var after = await Counts.Of(host);
                    floodSent += sent;
                    floodSeconds += seconds;
                    floodRead += after.Read - before.Read;
                    line = $"flooder sent {sent} INIT in {seconds:0.0} s = {sent / seconds:0}/s; {after.Since(before, seconds)}";
                }
                else
                {
                    dialed = await DialMany(ike, psk, perRound);
                    line = (await Counts.Of(host)).Since(before, sw.Elapsed.TotalSeconds);
                }
                times[flooded].AddRange(dialed);
                Print($"    round {round + 1} {(flooded ? "B flood" : "A no flood")}", dialed);
                Console.WriteLine($"        {line}");
                // Each round starts with the socket's window empty: what the last flood left waiting is answered or expires.
                var drain = Stopwatch.StartNew();
                while (host.Ike!.InFlight > 0 && drain.Elapsed < TimeSpan.FromSeconds(15)) await Task.Delay(50);
            }
            Console.WriteLine("    totals (same unit, same process, alternating rounds):");
            var a = Print("    honest dial, no flood (A)", times[false]);
            var b = Print($"    honest dial, flood (B)", times[true]);
            if (a is not null && b is not null)
                Console.WriteLine($"    ratio B/A: median {b.Value.Median / a.Value.Median:0.00}, max {b.Value.Max / a.Value.Max:0.00}");
            Console.WriteLine($"    flood achieved: {floodSent / Math.Max(floodSeconds, 1e-3):0} INIT/s sent ({floodSent} in {floodSeconds:0.0} s), " +
                              $"{floodRead / Math.Max(floodSeconds, 1e-3):0}/s read by the socket (the rest lost in the kernel's socket buffer)");
            var end = await Counts.Of(host);
            Console.WriteLine($"    whole run: {end.Since(start, null)}");
            Console.WriteLine($"    managed heap after: {GC.GetTotalMemory(true) / 1024.0 / 1024.0:0.0} MiB");
        }
        finally
        {
            await host.KillAsync();
            try { Directory.Delete(root, true); } catch (IOException) { }
        }
    }

    private static (double Median, double Max)? Print(string what, List<double> ms)
    {
        var sorted = ms.OrderBy(x => x).ToList();
        if (sorted.Count == 0)
        {
            Console.WriteLine($"{what}: no dial completed");
            return null;
        }
        Console.WriteLine($"{what}: median {sorted[sorted.Count / 2]:0} ms, max {sorted[^1]:0} ms, min {sorted[0]:0} ms over {sorted.Count} dials");
        return (sorted[sorted.Count / 2], sorted[^1]);
    }

    /// <summary>The scenario's client over UDP from 127.0.0.1: each request resent after 250 ms, doubling, 5 tries.</summary>
    private static async Task<List<double>> DialMany(IPEndPoint gateway, string psk, int n)
    {
        var times = new List<double>();
        for (var i = 0; i < n; i++)
        {
            using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
            var client = new DialupClient(DialupClient.ScenarioSettings(psk), Lb1);
            var sw = Stopwatch.StartNew();
            try
            {
                await client.DialAsync(async request =>
                {
                    var wait = TimeSpan.FromMilliseconds(250);
                    for (var attempt = 0; attempt < 5; attempt++, wait *= 2)
                    {
                        await udp.SendAsync(request, gateway);
                        using var timeout = new CancellationTokenSource(wait);
                        try
                        {
                            var answer = await udp.ReceiveAsync(timeout.Token);
                            return [answer.Buffer];
                        }
                        catch (OperationCanceledException) { }
                    }
                    return [];
                });
                times.Add(sw.Elapsed.TotalMilliseconds);
            }
            catch (DialFailedException e)
            {
                Console.WriteLine($"    dial {i + 1} failed after {sw.ElapsedMilliseconds} ms: {e.Message}");
            }
        }
        return times;
    }

    /// <summary>IKE_SA_INIT at <paramref name="rate"/>/s round-robin over 64 sockets bound to 127.0.x.y; nobody reads their answers.</summary>
    private static Task<(long Sent, double Seconds)> UdpFlood(IPEndPoint gateway, int rate, TimeSpan atMost, CancellationToken stop)
    {
        var inits = Inits(64, withBigVendorIds: true);
        var sockets = Enumerable.Range(0, 64).Select(i =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(new IPAddress([127, 0, (byte)(10 + i / 8), (byte)(1 + i % 8)]), 0));
            return s;
        }).ToArray();
        return Task.Factory.StartNew(() =>
        {
            var sw = Stopwatch.StartNew();
            long sent = 0;
            try
            {
                while (!stop.IsCancellationRequested && sw.Elapsed < atMost)
                {
                    var due = (long)(sw.Elapsed.TotalSeconds * rate);
                    for (; sent < due; sent++)
                    {
                        try { sockets[sent % sockets.Length].SendTo(inits[(sent / sockets.Length) % inits.Length], gateway); }
                        catch (SocketException) { /* a full buffer: that datagram is lost, as on a wire */ }
                    }
                    Thread.Sleep(2);
                }
            }
            finally
            {
                foreach (var s in sockets) s.Dispose();
            }
            return (sent, sw.Elapsed.TotalSeconds);
        }, TaskCreationOptions.LongRunning);
    }

    /// <summary>In process: <paramref name="rate"/> IKE_SA_INIT/s to a unit's gateway from 127.x.y.z addresses, as its socket would deliver them.</summary>
    private static Task<(long Sent, double Seconds)> ActorFlood(IActorRef unit, int rate, TimeSpan atMost, CancellationToken stop)
    {
        var inits = Inits(64, withBigVendorIds: false);
        return Task.Factory.StartNew(() =>
        {
            var sw = Stopwatch.StartNew();
            long sent = 0;
            while (!stop.IsCancellationRequested && sw.Elapsed < atMost)
            {
                var due = (long)(sw.Elapsed.TotalSeconds * rate);
                for (; sent < due; sent++)
                    unit.Tell(new DeliverIke(Lb1, new IkeDatagram(new IPAddress([127, (byte)(sent >> 16), (byte)(sent >> 8), (byte)sent]),
                        1024 + (int)(sent % 60000), inits[sent % inits.Length])), ActorRefs.Nobody);
                Thread.Sleep(5);
            }
            return (sent, sw.Elapsed.TotalSeconds);
        }, TaskCreationOptions.LongRunning);
    }

    private static async Task Failovers(int rate, int runs)
    {
        const string timers = "config system ha\nset hb-interval 2\nset hb-lost-threshold 6\nset hello-holddown 5\nend";
        Console.WriteLine($"(2) FGCP failover of cluster 1 (hb-interval 2 x hb-lost-threshold 6 = 1200 ms), {runs} kills each, alternating A B A B … " +
                          "(A no flood, B the flood told to DC2_VM2 from 0.5 s before the kill on):");
        var results = new Dictionary<bool, List<(double Primary, double Dpd)>> { [false] = [], [true] = [] };
        long floodSent = 0;
        double floodSeconds = 0;
        for (var i = 0; i < 2 * runs; i++)
        {
            var flooded = i % 2 == 1;
            await using var lab = new LoopbackLab { ExtraHocon = "akka.loglevel = OFF\nakka.stdout-loglevel = OFF" };
            lab.Define([("DC2_VM1", LoopbackLab.ScenarioConfig("DC2_VM1", timers)), ("DC2_VM2", LoopbackLab.ScenarioConfig("DC2_VM2", timers))]);
            await lab.Start("DC2_VM1");
            await lab.Start("DC2_VM2");
            await LoopbackLab.Eventually(async () => await lab.IsRole("DC2_VM1", HaRole.Primary) && lab.AkkaMembersUp("DC2_VM2") == 2,
                TimeSpan.FromSeconds(30), "cluster formed");
            var client = await lab.DialClient("DC2_VM1");
            await LoopbackLab.Eventually(async () => (await lab.Units["DC2_VM2"].CliAsync("diagnose vpn tunnel list")).Output.Contains("name=vpn1_1 "),
                TimeSpan.FromSeconds(10), "DC2_VM2 holds vpn1_1");
            var admissionBefore = (await AdmissionOf(lab.Units["DC2_VM2"].System)).Counters;
            using var stop = new CancellationTokenSource();
            var flood = flooded ? ActorFlood(lab.Units["DC2_VM2"].Unit, rate, TimeSpan.FromSeconds(20), stop.Token) : Task.FromResult((0L, 0.0));
            await Task.Delay(500 + Random.Shared.Next(0, 200));
            var sw = Stopwatch.StartNew();
            await lab.Kill("DC2_VM1");
            double primaryAt = double.NaN, dpdAt = double.NaN;
            var initiator = client.Initiator!;
            var dpd = initiator.Dpd();
            while (sw.Elapsed < TimeSpan.FromSeconds(15) && double.IsNaN(dpdAt))
            {
                if (double.IsNaN(primaryAt) && await lab.IsRole("DC2_VM2", HaRole.Primary)) primaryAt = sw.Elapsed.TotalMilliseconds;
                try
                {
                    var replies = await lab.Units["DC2_VM2"].Unit.Ask<IkeReplies>(new DeliverIke(Lb1,
                        new IkeDatagram(LoopbackLab.ClientAddress, 500, initiator.Retransmit() ?? dpd)), TimeSpan.FromMilliseconds(200));
                    if (replies.Datagrams.Count > 0 && initiator.Handle(replies.Datagrams[0]).Events.Any(e => e is IkeDpdConfirmed))
                        dpdAt = sw.Elapsed.TotalMilliseconds;
                    else await Task.Delay(20);
                }
                catch (AskTimeoutException) { }
            }
            stop.Cancel();
            var (sent, seconds) = await flood;
            results[flooded].Add((primaryAt, dpdAt));
            var line = $"    run {i + 1} {(flooded ? "B flood" : "A no flood")}: kill -> DC2_VM2 primary {primaryAt:0} ms, -> DPD answered {dpdAt:0} ms";
            if (flooded)
            {
                floodSent += sent;
                floodSeconds += seconds;
                var admission = (await AdmissionOf(lab.Units["DC2_VM2"].System)).Counters;
                line += $"; flood {sent} INIT in {seconds:0.0} s = {sent / Math.Max(seconds, 1e-3):0}/s; DC2_VM2 admission: {AdmissionDelta(admissionBefore, admission)}";
            }
            Console.WriteLine(line);
        }
        static (double Median, double Max)? Of(IEnumerable<double> xs)
        {
            var s = xs.Where(x => !double.IsNaN(x)).OrderBy(x => x).ToList();
            return s.Count == 0 ? null : (s[s.Count / 2], s[^1]);
        }
        static string Stats(IEnumerable<double> xs)
        {
            var s = xs.Where(x => !double.IsNaN(x)).OrderBy(x => x).ToList();
            return s.Count == 0 ? "none" : $"median {s[s.Count / 2]:0} ms, max {s[^1]:0} ms, min {s[0]:0} ms";
        }
        foreach (var (flooded, list) in results)
            Console.WriteLine($"    {(flooded ? $"B flood {rate}/s on DC2_VM2" : "A no flood")}: kill -> DC2_VM2 primary {Stats(list.Select(r => r.Primary))}; " +
                              $"kill -> tunnel DPD answered by DC2_VM2 {Stats(list.Select(r => r.Dpd))} ({list.Count(r => double.IsNaN(r.Dpd))} never)");
        static string Ratio((double Median, double Max)? a, (double Median, double Max)? b) =>
            a is { } x && b is { } y ? $"median {y.Median / x.Median:0.00}, max {y.Max / x.Max:0.00}" : "n/a";
        Console.WriteLine($"    ratio B/A: kill -> primary {Ratio(Of(results[false].Select(r => r.Primary)), Of(results[true].Select(r => r.Primary)))}; " +
                          $"kill -> DPD answered {Ratio(Of(results[false].Select(r => r.Dpd)), Of(results[true].Select(r => r.Dpd)))}");
        if (runs > 0)
            Console.WriteLine($"    flood achieved: {floodSent / Math.Max(floodSeconds, 1e-3):0} INIT/s told to DC2_VM2 ({floodSent} in {floodSeconds:0.0} s)");
    }
}
