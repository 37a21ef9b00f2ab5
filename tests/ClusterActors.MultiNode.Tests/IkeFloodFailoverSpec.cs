using System.Diagnostics;
using System.Net;
using Akka.Actor;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Unit;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using Xunit.Abstractions;

namespace ClusterActors.MultiNode.Tests;

/// <summary>
/// An IKE_SA_INIT flood (10,000/s from spoofed 127.x sources that never answer a cookie) against cluster 1 while an
/// FGCP failover runs: the new primary takes the tunnel over and answers its client's DPD within the failover bound,
/// and an honest client still dials in under a second (README "Admission under flood").
/// </summary>
[Collection("multi-node")]
public sealed class IkeFloodFailoverSpec(ITestOutputHelper output) : IAsyncLifetime
{
    // hb-interval 2 (200 ms) x hb-lost-threshold 6: 1,200 ms to detect the dead primary.
    private const string Timers = "config system ha\nset hb-interval 2\nset hb-lost-threshold 6\nset hello-holddown 5\nend";
    private static readonly TimeSpan Detection = TimeSpan.FromMilliseconds(1200);
    private readonly LoopbackLab _lab = new() { ExtraHocon = "akka.loglevel = ERROR" };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private async Task StartCluster1()
    {
        _lab.Define([("DC2_VM1", LoopbackLab.ScenarioConfig("DC2_VM1", Timers)), ("DC2_VM2", LoopbackLab.ScenarioConfig("DC2_VM2", Timers))]);
        await _lab.Start("DC2_VM1");
        await _lab.Start("DC2_VM2");
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && _lab.AkkaMembersUp("DC2_VM2") == 2,
            TimeSpan.FromSeconds(20), "cluster formed");
    }

    /// <summary>
    /// IKE_SA_INITs at <paramref name="perSecond"/> to <paramref name="unit"/>'s local gateway, each from another
    /// 127.x address and port, until <paramref name="stop"/> or <paramref name="atMost"/>; how many were sent.
    /// </summary>
    private Task<long> Flood(string unit, int perSecond, TimeSpan atMost, CancellationToken stop)
    {
        var target = _lab.Units[unit].Unit;
        var gateway = IPAddress.Parse("192.168.202.35");
        var settings = DialupClient.ScenarioSettings("x");
        var inits = Enumerable.Range(0, 64).Select(_ => new IkeInitiator(settings, gateway).Start()).ToArray();
        return Task.Factory.StartNew(() =>
        {
            var sw = Stopwatch.StartNew();
            long sent = 0;
            while (!stop.IsCancellationRequested && sw.Elapsed < atMost)
            {
                // Paced in 5 ms slices: the rate holds whatever the scheduler does with this thread.
                var due = (long)(sw.Elapsed.TotalSeconds * perSecond);
                for (; sent < due; sent++)
                    target.Tell(new DeliverIke(gateway, new IkeDatagram(new IPAddress([127, (byte)(sent >> 16), (byte)(sent >> 8), (byte)sent]),
                        1024 + (int)(sent % 60000), inits[sent % inits.Length])), ActorRefs.Nobody);
                Thread.Sleep(5);
            }
            return sent;
        }, TaskCreationOptions.LongRunning);
    }

    [Fact]
    public async Task During_an_init_flood_the_new_primary_answers_the_tunnels_DPD_within_the_failover_bound()
    {
        await StartCluster1();
        var client = await _lab.DialClient("DC2_VM1");
        await LoopbackLab.Eventually(async () => (await _lab.Units["DC2_VM2"].CliAsync("diagnose vpn tunnel list")).Output.Contains("name=vpn1_1 "),
            TimeSpan.FromSeconds(5), "DC2_VM2 holds vpn1_1 as standby");

        using var stop = new CancellationTokenSource();
        var flood = Flood("DC2_VM2", 10_000, TimeSpan.FromSeconds(20), stop.Token);
        await Task.Delay(500); // the flood is on before the failover starts
        // How long the machine stood still from here (a sleeping thread's late wake-ups: the drills' MachineStalls), and
        // how late DC2_VM2's own timers ran (printed only: that lateness is what a flood on the unit's actors would cause).
        using var stalls = ClusterActors.Node.Drills.MachineStalls.Watch();
        using var lag = ClusterActors.Actors.Telemetry.UnitTimerLag.Watch(_lab.Units["DC2_VM2"].System);
        var sw = Stopwatch.StartNew();
        await _lab.Kill("DC2_VM1");

        // The client's DPD, resent unchanged every 200 ms until the new primary answers it (RFC 7296 §2.1).
        var initiator = client.Initiator!;
        var dpd = initiator.Dpd();
        TimeSpan answered = TimeSpan.Zero;
        while (sw.Elapsed < TimeSpan.FromSeconds(15))
        {
            var ask = _lab.Units["DC2_VM2"].Unit.Ask<IkeReplies>(new DeliverIke(IPAddress.Parse("192.168.202.35"),
                new IkeDatagram(LoopbackLab.ClientAddress, 500, initiator.Retransmit() ?? dpd)), TimeSpan.FromMilliseconds(200));
            try
            {
                var replies = await ask;
                if (replies.Datagrams.Count > 0 && initiator.Handle(replies.Datagrams[0]).Events.Any(e => e is IkeDpdConfirmed))
                {
                    answered = sw.Elapsed;
                    break;
                }
                await Task.Delay(50); // not the primary yet
            }
            catch (AskTimeoutException)
            {
            }
        }
        stop.Cancel();
        var sent = await flood;
        var status = await _lab.Units["DC2_VM2"].System.ActorSelection("/user/fortigate/ike-vpn1")
            .Ask<IkeAdmissionStatus>(GetIkeAdmissionStatus.Instance, TimeSpan.FromSeconds(10));
        var stood = stalls.Late;
        output.WriteLine($"flood: {sent} IKE_SA_INIT in {sw.Elapsed.TotalSeconds:0.0} s; DPD answered by the new primary {answered.TotalMilliseconds:0} ms after the kill");
        output.WriteLine($"DC2_VM2 admission: {status.Counters}");
        output.WriteLine($"the machine stood still {stood.TotalMilliseconds:0} ms in all; DC2_VM2's timers ran {lag.Late.TotalMilliseconds:0} ms late");

        Assert.True(answered > TimeSpan.Zero, "the new primary never answered the tunnel's DPD during the flood");
        // The failover bound: detection plus the 500 ms the acceptance allows, plus 1 s for two shared cores, plus what
        // the whole machine stood still (a CI trial answered after 4,344 ms, its lateness not measured then), as the
        // drills add it (src/Node/Drills/README.md, "A loaded machine"). A flood that starved DC2_VM2's actors while
        // the machine ran is not in it, and still fails.
        var bound = Detection + TimeSpan.FromMilliseconds(1500) + stood;
        Assert.True(answered < bound,
            $"DPD answered only {answered.TotalMilliseconds:0} ms after the kill (bound {bound.TotalMilliseconds:0} ms "
            + $"with {stood.TotalMilliseconds:0} ms the machine stood still; DC2_VM2's timers ran {lag.Late.TotalMilliseconds:0} ms late; {sent} IKE_SA_INIT sent)");
        Assert.True(status.Counters.HalfOpen <= new IkeAdmissionSettings().CookieThreshold, status.Counters.ToString());
    }

    [Fact]
    public async Task Client1_over_the_packet_fabric_answers_the_gateways_COOKIE_and_its_tunnel_carries_traffic()
    {
        await using var lab = new LoopbackLab { ExtraHocon = "akka.loglevel = ERROR", IkeAdmission = new IkeAdmissionSettings { CookieThreshold = 0 } };
        lab.Define([("DC2_VM1", LoopbackLab.ScenarioConfig("DC2_VM1", Timers)), ("DC2_VM2", LoopbackLab.ScenarioConfig("DC2_VM2", Timers))]);
        lab.UsePacketFabric();
        await lab.Start("DC2_VM1");
        await lab.Start("DC2_VM2");
        await LoopbackLab.Eventually(async () => await lab.IsRole("DC2_VM1", HaRole.Primary) && lab.AkkaMembersUp("DC2_VM2") == 2,
            TimeSpan.FromSeconds(30), "cluster 1 formed");

        var client = await lab.DialOverFabric();
        using var stall = StallDrops.Watch(lab, "DC2_VM1");
        var report = await lab.Pc1!.RunAsync(new ClusterActors.Node.LabHarness.Client.EchoRunOptions { RatePps = 200, Duration = TimeSpan.FromSeconds(1) });
        // 2 lost at most, more only while DC2_VM1 measurably stood still (StallDrops).
        var verdict = await stall.Judge(ownLoss: 2, ratePps: 200);
        output.WriteLine($"{report.Format()}; {verdict}");
        Assert.True(report.Lost <= verdict.Allowed, $"{report.Format()}; {verdict}");
        var status = await lab.Units["DC2_VM1"].System.ActorSelection("/user/fortigate/ike-vpn1")
            .Ask<IkeAdmissionStatus>(GetIkeAdmissionStatus.Instance, TimeSpan.FromSeconds(10));
        output.WriteLine($"DC2_VM1 admission: {status.Counters}; client: {client.Counters}");
        Assert.True(status.Counters[IkeDropCause.CookieRequired] >= 1, status.Counters.ToString());
        Assert.Equal(1, status.Counters.CookiesAccepted);
    }

    [Fact]
    public async Task During_an_init_flood_an_honest_client_dials_in_under_a_second()
    {
        await StartCluster1();
        using var stop = new CancellationTokenSource();
        var flood = Flood("DC2_VM1", 10_000, TimeSpan.FromSeconds(20), stop.Token);
        await Task.Delay(1000);
        var times = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var sw = Stopwatch.StartNew();
            await _lab.Dial("DC2_VM1");
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        stop.Cancel();
        var sent = await flood;
        output.WriteLine($"flood: {sent} IKE_SA_INIT; honest dials: {string.Join(", ", times.Select(t => $"{t:0} ms"))}");
        Assert.All(times, t => Assert.True(t < 1000, $"a dial took {t:0} ms"));
    }
}
