using System.Diagnostics;
using System.Net;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Actors.Tests.Client;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Tests.LabHarness.Client;

/// <summary>PC1 against a stand-in for its gateway (10.10.1.1) that answers echo requests itself, with knobs for loss and duplicates.</summary>
public sealed class Pc1TrafficGeneratorSpec
{
    private sealed class EchoGateway : IDisposable
    {
        private readonly IPacketPort _port;

        public EchoGateway(TestLink lan) =>
            _port = new TestHostIo("gw", new Dictionary<string, TestLink> { ["port2"] = lan })
                .Open("port2", [InterfaceAddress.Parse("10.10.1.1/24")], (_, p) => OnPacket(p));

        /// <summary>Request number n (from the ICMP data) → drop the request.</summary>
        public Func<long, bool> Lose { get; set; } = _ => false;

        /// <summary>Request number n → send its reply twice.</summary>
        public Func<long, bool> Duplicate { get; set; } = _ => false;

        /// <summary>Called with request number n after it was handled (on the sender's thread).</summary>
        public Action<long> After { get; set; } = _ => { };

        /// <summary>Echo requests seen, as parsed.</summary>
        public List<IcmpEcho> Requests { get; } = [];

        public void Send(byte[] packet) => _port.Send(IPAddress.Parse("10.10.1.2"), packet);

        private void OnPacket(byte[] bytes)
        {
            var request = ClientLab.Parse(bytes);
            Assert.True(IcmpEcho.TryParse(request.Payload, out var echo));
            long n;
            lock (Requests)
            {
                Requests.Add(echo);
                n = Requests.Count - 1;
            }
            if (!Lose(n) && IcmpEcho.TryReply(request, out var reply))
            {
                Send(reply.ToBytes());
                if (Duplicate(n))
                    Send(reply.ToBytes());
            }
            After(n);
        }

        public void Dispose() => _port.Dispose();
    }

    private static (TestLink Lan, EchoGateway Gateway, Pc1TrafficGenerator Pc1) Lab()
    {
        var lan = new TestLink("lan");
        var gateway = new EchoGateway(lan);
        var pc1 = new Pc1TrafficGenerator(new TestHostIo("pc1", new Dictionary<string, TestLink> { ["eth0"] = lan }));
        return (lan, gateway, pc1);
    }

    /// <summary>A late tick catches up at most MaxCatchUp; a stall moves the schedule instead of bursting its backlog.</summary>
    [Fact]
    public void A_late_tick_catches_up_a_few_ms_and_a_stall_moves_the_schedule_instead_of_bursting()
    {
        // 1000 pps, 100 requests of catch-up. On time: request 500 is due at 0.5 s.
        Assert.Equal((501L, TimeSpan.Zero), EchoRun.Pace(TimeSpan.FromMilliseconds(500), 1000, 500, long.MaxValue, 100));
        // 80 ms late: caught up.
        Assert.Equal((581L, TimeSpan.Zero), EchoRun.Pace(TimeSpan.FromMilliseconds(580), 1000, 500, long.MaxValue, 100));
        // 900 ms stalled: 100 go out, the other 801 requests' time is given up (801 ms later on the schedule).
        var (due, shift) = EchoRun.Pace(TimeSpan.FromMilliseconds(1400), 1000, 500, long.MaxValue, 100);
        Assert.Equal(600, due);
        Assert.Equal(801, shift.TotalMilliseconds, 3);
        // On the moved schedule the next tick is on time: nothing more is due at once.
        Assert.Equal((601L, TimeSpan.Zero), EchoRun.Pace(TimeSpan.FromMilliseconds(1401) - shift, 1000, 600, long.MaxValue, 100));
        // The total caps it, as before.
        Assert.Equal((505L, TimeSpan.Zero), EchoRun.Pace(TimeSpan.FromMilliseconds(1400), 1000, 500, 505, 100));
    }

    /// <summary>A light run sleeps until its next request is due (the other clients' PCs, one thread each at 10 pps); a
    /// 1,000 pps run still ticks every ms; never more than 100 ms, never less than 1.</summary>
    [Fact]
    public void The_sender_sleeps_until_its_next_request_is_due_between_1_and_100_ms()
    {
        // 10 pps: request 5 is due at 500 ms; just after request 4 went out at 400 ms, sleep ~100 ms.
        Assert.Equal(99, EchoRun.NextWait(TimeSpan.FromMilliseconds(401), 10, 5));
        Assert.Equal(40, EchoRun.NextWait(TimeSpan.FromMilliseconds(460), 10, 5));
        // 1,000 pps: at most 1 ms; a tick already late also sleeps the 1 ms floor.
        Assert.Equal(1, EchoRun.NextWait(TimeSpan.FromMilliseconds(500.2), 1000, 501));
        Assert.Equal(1, EchoRun.NextWait(TimeSpan.FromMilliseconds(700), 1000, 501));
        // 1 pps: capped at 100 ms, so a stop or the duration's end is seen soon.
        Assert.Equal(100, EchoRun.NextWait(TimeSpan.FromMilliseconds(10), 1, 1));
    }

    [Fact]
    public async Task A_10_pps_run_wakes_up_about_once_a_request_not_every_ms()
    {
        var (_, gateway, pc1) = Lab();
        using (gateway)
        using (pc1)
        {
            var run = pc1.Start(new EchoRunOptions { RatePps = 10, Duration = TimeSpan.FromSeconds(1), Grace = TimeSpan.Zero });
            var report = await run.Completion.WaitAsync(TimeSpan.FromSeconds(5));
            Assert.Equal(10, report.Sent);
            // Every ms, as before, would be ~1,000 ticks (fewer on a busy machine, never near 100).
            Assert.InRange(run.Ticks, 1, 100);
        }
    }

    [Fact]
    public async Task A_run_sends_real_echo_requests_to_the_Server_via_the_gateway_and_stops_by_count()
    {
        var (lan, gateway, pc1) = Lab();
        using (gateway)
        using (pc1)
        {
            var run = pc1.Start(new EchoRunOptions { Count = 50, Identifier = 0x1234, Grace = TimeSpan.FromMilliseconds(50) });
            var report = await run.Completion.WaitAsync(TimeSpan.FromSeconds(2));

            Assert.Equal((50, 50, 0, 0), (report.Sent, report.Answered, report.Lost, report.Duplicates));
            Assert.False(run.IsSending);
            var first = lan.Captured[0];
            Assert.Equal(("pc1/eth0", IPAddress.Parse("10.10.1.1")), (first.From, first.NextHop));
            var ip = ClientLab.Parse(first.Bytes);
            Assert.Equal((IPAddress.Parse("10.10.1.2"), IPAddress.Parse("10.10.101.2"), (byte)1, 84), (ip.Source, ip.Destination, ip.Protocol, ip.TotalLength));
            Assert.All(gateway.Requests, e => Assert.Equal((IcmpEchoType.Request, (ushort)0x1234, 56), (e.Type, e.Identifier, e.Data.Length)));
            Assert.Equal(Enumerable.Range(1, 50).Select(i => (ushort)i), gateway.Requests.Select(e => e.Sequence));
        }
    }

    [Fact]
    public async Task The_rate_holds_and_the_duration_bounds_the_run()
    {
        var (_, gateway, pc1) = Lab();
        using (gateway)
        using (pc1)
        {
            var clock = Stopwatch.StartNew();
            var report = await pc1.RunAsync(new EchoRunOptions { RatePps = 200, Duration = TimeSpan.FromMilliseconds(500), Grace = TimeSpan.FromMilliseconds(100) })
                .WaitAsync(TimeSpan.FromSeconds(10));

            // Exactly ⌈0.5 s × 200⌉, request n not before n / 200 s: the last one (99) at 0.495 s or later.
            Assert.Equal((100, 100), (report.Sent, report.Answered));
            Assert.True(report.SendingTime >= TimeSpan.FromMilliseconds(494), report.Format());
            Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(590), $"{clock.Elapsed}: duration and grace both waited");
        }
    }

    [Fact]
    public async Task Loss_and_duplicates_are_counted_per_request()
    {
        var (_, gateway, pc1) = Lab();
        using (gateway)
        using (pc1)
        {
            gateway.Lose = n => n % 7 == 3;
            gateway.Duplicate = n => n % 10 == 0;

            var report = await pc1.RunAsync(new EchoRunOptions { Count = 70, Grace = TimeSpan.FromMilliseconds(50) });

            // Lost: 3, 10, 17, …, 66 (10 requests). Duplicated: 0, 20, 30, 40, 50, 60 (10 was lost).
            Assert.Equal((70, 60, 10, 6), (report.Sent, report.Answered, report.Lost, report.Duplicates));
        }
    }

    [Fact]
    public async Task Sequence_numbers_wrap_at_65536_and_every_reply_still_finds_its_request()
    {
        var (_, gateway, pc1) = Lab();
        using (gateway)
        using (pc1)
        {
            var report = await pc1.RunAsync(new EchoRunOptions { Count = 20, FirstSequence = 65530, Grace = TimeSpan.FromMilliseconds(50) });
            Assert.Equal(20, report.Answered);
            Assert.Equal(new ushort[] { 65534, 65535, 0, 1 }, gateway.Requests.Skip(4).Take(4).Select(e => e.Sequence));

            // Without room for the request number in the data, the sequence alone is matched (latest request wins).
            gateway.Requests.Clear();
            gateway.Lose = n => n == 7;
            var small = await pc1.RunAsync(new EchoRunOptions { Count = 20, FirstSequence = 65530, PayloadBytes = 4, Grace = TimeSpan.FromMilliseconds(50) });
            Assert.Equal((19, 1), (small.Answered, small.Lost));
        }
    }

    [Fact]
    public async Task Replies_that_match_no_request_are_unmatched_and_other_identifiers_are_ignored()
    {
        var (_, gateway, pc1) = Lab();
        using (gateway)
        using (pc1)
        {
            gateway.Lose = _ => true;
            var server = IPAddress.Parse("10.10.101.2");
            var pc = IPAddress.Parse("10.10.1.2");
            // While the run is still on: after its last request, three replies that are not plain answers.
            gateway.After = n =>
            {
                if (n != 4)
                    return;
                gateway.Send(new IcmpEcho(IcmpEchoType.Reply, 0x77, 1000, new byte[56]).InIpv4(server, pc).ToBytes()); // sequence never sent
                gateway.Send(new IcmpEcho(IcmpEchoType.Reply, 0x78, 1, new byte[56]).InIpv4(server, pc).ToBytes());   // someone else's ping
                var data = new byte[56];
                data[7] = 2; // request number 2 carries sequence 3
                gateway.Send(new IcmpEcho(IcmpEchoType.Reply, 0x77, 3, data).InIpv4(server, pc).ToBytes());
            };
            var run = pc1.Start(new EchoRunOptions { Count = 5, Identifier = 0x77, Grace = TimeSpan.FromMilliseconds(50) });

            var report = await run.Completion;
            Assert.Equal((5, 1, 4, 1), (report.Sent, report.Answered, report.Lost, report.Unmatched));
        }
    }

    [Fact]
    public async Task Stop_ends_sending_at_once_and_the_report_follows_after_the_grace_period()
    {
        var (_, gateway, pc1) = Lab();
        using (gateway)
        using (pc1)
        {
            var run = pc1.Start(new EchoRunOptions { RatePps = 100, Duration = TimeSpan.FromSeconds(30), Grace = TimeSpan.FromMilliseconds(100) });
            await ClientLab.Eventually(() => run.Sent >= 5, TimeSpan.FromSeconds(5), "5 requests");

            run.Stop();
            var report = await run.Completion.WaitAsync(TimeSpan.FromSeconds(3));

            Assert.False(run.IsSending);
            Assert.InRange(report.Sent, 5, 2999); // well before the 3,000 of the whole 30 s
            Assert.Equal(report.Sent, report.Answered);
        }
    }

    [Fact]
    public async Task One_run_at_a_time_and_a_new_one_after_completion()
    {
        var (_, gateway, pc1) = Lab();
        using (gateway)
        using (pc1)
        {
            var first = pc1.Start(new EchoRunOptions { RatePps = 100, Duration = TimeSpan.FromSeconds(30), Grace = TimeSpan.Zero });
            Assert.Throws<InvalidOperationException>(() => pc1.Start());
            first.Stop();
            await first.Completion.WaitAsync(TimeSpan.FromSeconds(3));

            var second = await pc1.RunAsync(new EchoRunOptions { Count = 3, Grace = TimeSpan.Zero });
            Assert.Equal(3, second.Answered);
        }
    }

    [Fact]
    public async Task Cancelling_RunAsync_stops_sending_and_still_returns_the_report()
    {
        var (_, gateway, pc1) = Lab();
        using (gateway)
        using (pc1)
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
            var report = await pc1.RunAsync(new EchoRunOptions { RatePps = 100, Duration = TimeSpan.FromSeconds(30), Grace = TimeSpan.Zero }, stop.Token)
                .WaitAsync(TimeSpan.FromSeconds(5));
            Assert.InRange(report.Sent, 1, 2999);
            Assert.Equal(0, report.Lost);
        }
    }

    [Fact]
    public async Task Disposing_the_generator_mid_run_leaves_no_thread_behind()
    {
        var (_, gateway, pc1) = Lab();
        using (gateway)
        {
            var run = pc1.Start(new EchoRunOptions { RatePps = 100, Duration = TimeSpan.FromSeconds(30), Grace = TimeSpan.FromSeconds(30) });
            Assert.True(run.IsSending);

            pc1.Dispose();

            Assert.False(run.IsSending);
            // An aborted run reports without waiting its 30 s grace period.
            await run.Completion.WaitAsync(TimeSpan.FromSeconds(3));
            Assert.False(pc1.Port.IsUp);
        }
    }

    [Fact]
    public async Task With_no_answers_everything_is_lost_and_the_gap_is_the_whole_run()
    {
        var (_, gateway, pc1) = Lab();
        using (gateway)
        using (pc1)
        {
            gateway.Lose = _ => true;
            var report = await pc1.RunAsync(new EchoRunOptions { Count = 10, Grace = TimeSpan.FromMilliseconds(50) });
            Assert.Equal((10, 0, 10), (report.Sent, report.Answered, report.Lost));
            Assert.Equal(report.SendingTime, report.LongestGap);
            Assert.Equal(TimeSpan.Zero, report.LongestGapAt);
        }
    }

    [Fact]
    public async Task PC1_answers_pings_addressed_to_it()
    {
        var (lan, gateway, pc1) = Lab();
        using (gateway)
        using (pc1)
        {
            gateway.Send(IcmpEcho.Request(9, 1, new byte[8]).InIpv4(IPAddress.Parse("10.10.101.2"), IPAddress.Parse("10.10.1.2")).ToBytes());
            await Task.Yield();
            var reply = lan.Captured.Single(p => p.From == "pc1/eth0");
            var ip = ClientLab.Parse(reply.Bytes);
            Assert.Equal(IPAddress.Parse("10.10.101.2"), ip.Destination);
            Assert.True(IcmpEcho.TryParse(ip.Payload, out var echo) && echo.Type == IcmpEchoType.Reply);
        }
    }
}
