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
/// (1) Over real UDP on loopback: one unit (primary alone) with its IKE socket; a flooder sends IKE_SA_INIT at the given
///     rate from many sources (64 sockets on 127.0.x.y, ephemeral ports; none of them answers a cookie), every other one
///     with a 60 KB Vendor ID; an honest client on 127.0.0.1 dials N times meanwhile. Prints its dial times, what the
///     flooder sent, and what the socket and the admission dropped.
/// (2) FGCP failover of cluster 1 (kill DC2_VM1) with and without the same flood on DC2_VM2 (in process): time to
///     DC2_VM2 primary and to the tunnel's DPD answered by it.
/// </summary>
internal static class IkeFlood
{
    private static readonly IPAddress Lb1 = IPAddress.Parse("192.168.202.35");

    public static async Task<int> Run(int rate, int dials, int failovers)
    {
        Console.WriteLine($"IKE flood: {rate} IKE_SA_INIT/s from 64 spoofed 127.0.x.y sources (half of them with a 60 KB Vendor ID), honest dials meanwhile");
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}");
        await HonestDials(rate, dials);
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

    private static async Task HonestDials(int rate, int dials)
    {
        var root = Path.Combine(Path.GetTempPath(), "ike-flood-bench-" + Guid.NewGuid().ToString("N")[..8]);
        var config = LoopbackLab.ScenarioConfig("DC2_VM1", "config system ha\nset hello-holddown 5\nend");
        var akka = new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeTcpPort());
        var ike = new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeUdpPort());
        var options = new UnitOptions("DC2_VM1", config, config.SerialNumber!, root, akka, new IPEndPoint(IPAddress.Loopback, 0),
            [new HbdevWiring("port4", new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeUdpPort()), [])], [UnitHost.AkkaAddress(akka)], []) { Ike = ike };
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
            Console.WriteLine($"(1) one unit, IKE on {ike}; baseline without flood:");
            var baseline = await DialMany(ike, psk, Math.Min(dials, 5));
            Print("    honest dial, no flood", baseline);

            using var stop = new CancellationTokenSource();
            var flood = UdpFlood(ike, rate, TimeSpan.FromSeconds(60), stop.Token);
            await Task.Delay(1000);
            var under = await DialMany(ike, psk, dials);
            stop.Cancel();
            var (sent, seconds) = await flood;
            Print($"    honest dial, flood {sent / seconds:0}/s", under);
            var status = await host.System.ActorSelection("/user/fortigate/ike-vpn1").Ask<IkeAdmissionStatus>(GetIkeAdmissionStatus.Instance, TimeSpan.FromSeconds(10));
            Console.WriteLine($"    flooder sent {sent} IKE_SA_INIT in {seconds:0.0} s; socket dropped {host.Ike!.DroppedOversized} oversized, " +
                              $"{host.Ike.DroppedInFlight} beyond {IkeUdpListener.MaxInFlight} in flight");
            Console.WriteLine($"    admission: {status.Counters}");
            Console.WriteLine($"    managed heap after: {GC.GetTotalMemory(true) / 1024.0 / 1024.0:0.0} MiB");
        }
        finally
        {
            await host.KillAsync();
            try { Directory.Delete(root, true); } catch (IOException) { }
        }
    }

    private static void Print(string what, List<double> ms)
    {
        ms.Sort();
        if (ms.Count == 0)
        {
            Console.WriteLine($"{what}: no dial completed");
            return;
        }
        Console.WriteLine($"{what}: median {ms[ms.Count / 2]:0} ms, max {ms[^1]:0} ms, min {ms[0]:0} ms over {ms.Count} dials");
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
    private static Task<long> ActorFlood(IActorRef unit, int rate, TimeSpan atMost, CancellationToken stop)
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
            return sent;
        }, TaskCreationOptions.LongRunning);
    }

    private static async Task Failovers(int rate, int runs)
    {
        const string timers = "config system ha\nset hb-interval 2\nset hb-lost-threshold 6\nset hello-holddown 5\nend";
        Console.WriteLine($"(2) FGCP failover of cluster 1 (hb-interval 2 x hb-lost-threshold 6 = 1200 ms), {runs} kills each, alternating:");
        var results = new Dictionary<bool, List<(double Primary, double Dpd)>> { [false] = [], [true] = [] };
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
            using var stop = new CancellationTokenSource();
            var flood = flooded ? ActorFlood(lab.Units["DC2_VM2"].Unit, rate, TimeSpan.FromSeconds(20), stop.Token) : Task.FromResult(0L);
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
            await flood;
            results[flooded].Add((primaryAt, dpdAt));
            Console.Write(flooded ? 'F' : '.');
        }
        Console.WriteLine();
        foreach (var (flooded, list) in results)
        {
            static string Stats(IEnumerable<double> xs)
            {
                var s = xs.Where(x => !double.IsNaN(x)).OrderBy(x => x).ToList();
                return s.Count == 0 ? "none" : $"median {s[s.Count / 2]:0} ms, max {s[^1]:0} ms, min {s[0]:0} ms";
            }
            Console.WriteLine($"    {(flooded ? $"flood {rate}/s on DC2_VM2" : "no flood")}: kill -> DC2_VM2 primary {Stats(list.Select(r => r.Primary))}; " +
                              $"kill -> tunnel DPD answered by DC2_VM2 {Stats(list.Select(r => r.Dpd))} ({list.Count(r => double.IsNaN(r.Dpd))} never)");
        }
    }
}
