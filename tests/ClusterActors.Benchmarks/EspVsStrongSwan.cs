using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ClusterActors.Benchmarks;

/// <summary>
/// Issue 13 goal 7: ESP throughput through one established tunnel, our userspace data plane against strongSwan's, in
/// alternating rounds. Two identical chains (<see cref="VsssLab"/>): in each, strongSwan's charon in the client
/// namespace is the dialup client (the lab's swanctl.conf, aes256-sha256-modp2048 / ESP aes256-sha256, ESP in UDP
/// 4500), the same on both sides; the responder is DC2_VM1 as a `clusteractors node` process (packets = kernel) or
/// charon. This kernel has no ESP in xfrm, so strongSwan's side is its userspace ESP, kernel-libipsec, what the issue's
/// goal 3 names; the line "kernel ESP in xfrm" says which. Traffic: UDP datagrams whose IPv4 packet is 100 or 1,400 B,
/// sent as fast as one socket sends them for --seconds from PC1 (10.10.1.2) to the Server (10.10.101.2), the responder
/// decrypting ("up"), and back from the Server to PC1, the responder encrypting ("down"); counted where they arrive.
/// The client charon carries the other half of the ESP work on both sides, so the responder's own CPU per packet
/// delivered (its pid's user + system time) is the figure that tells the two responders apart; pps and Mbit/s
/// delivered are printed with it.
/// </summary>
internal static class EspVsStrongSwan
{
    private static readonly int[] Sizes = [100, 1400];
    private static readonly IPAddress Pc1 = IPAddress.Parse("10.10.1.2");
    private static readonly IPAddress Server = IPAddress.Parse("10.10.101.2");
    private const int Port = 9000;

    private const string UnitChange = """
        config system ha
        set hello-holddown 5
        end
        config vpn ipsec phase1-interface
        edit "vpn1"
        set nattraversal enable
        set proposal aes256-sha256
        set dhgrp 14
        next
        end
        config vpn ipsec phase2-interface
        edit "vpn1"
        set proposal aes256-sha256
        next
        end
        """;

    private const string CharonClient = """
        # The lab's strongSwan client (src/Node/lab/strongswan/swanctl.conf) with the benchmark's proposal.
        connections {
          vpn1 {
            version = 2
            local_addrs = 192.168.7.2
            remote_addrs = 192.168.202.35
            proposals = aes256-sha256-modp2048
            encap = yes
            dpd_delay = 0
            local {
              auth = psk
              id = Nokia_Peer
            }
            remote {
              auth = psk
              id = 192.168.202.35
            }
            children {
              lan {
                local_ts = 10.10.1.0/24
                remote_ts = 10.10.101.0/24
                esp_proposals = aes256-sha256
                start_action = none
              }
            }
          }
        }
        secrets {
          ike-vpn1 {
            id-1 = Nokia_Peer
            secret = scenario-psk
          }
        }
        """;

    private const string CharonResponder = """
        # strongSwan as the gateway: DC2_VM1's vpn1 in strongSwan's words.
        connections {
          vpn1 {
            version = 2
            local_addrs = 192.168.202.35
            proposals = aes256-sha256-modp2048
            encap = yes
            dpd_delay = 0
            mobike = no
            local {
              auth = psk
              id = 192.168.202.35
            }
            remote {
              auth = psk
              id = Nokia_Peer
            }
            children {
              lan {
                # As DC2_VM1's phase2 (selectors 0.0.0.0/0), narrowed to what the client proposes.
                local_ts = 0.0.0.0/0
                remote_ts = 10.10.1.0/24
                esp_proposals = aes256-sha256
                start_action = none
              }
            }
          }
        }
        secrets {
          ike-vpn1 {
            id-1 = Nokia_Peer
            secret = scenario-psk
          }
        }
        """;

    private sealed record Measurement(Side Side, int Round, int Size, bool Up, long Sent, long Delivered, double Seconds, double ResponderCpuMs, double ClientCpuMs,
        double DrainSeconds)
    {
        public double Pps => Delivered / Seconds;
        public double Mbits => Pps * Size * 8 / 1e6;
        public double ResponderUsPerPacket => Delivered == 0 ? double.NaN : ResponderCpuMs * 1000 / Delivered;
        public double ClientUsPerPacket => Delivered == 0 ? double.NaN : ClientCpuMs * 1000 / Delivered;
        public string Key => $"{Size,5} B {(Up ? "PC1->Server (responder decrypts)" : "Server->PC1 (responder encrypts)")}";
    }

    public static async Task<int> Run(double seconds, int rounds)
    {
        Console.WriteLine($"ESP vs strongSwan: one tunnel each, aes256-sha256 (ESP in UDP 4500), {seconds:0.#} s per measurement, {rounds} rounds per side, alternating ours/theirs");
        Console.WriteLine($"machine: {Machine.Line()}, {Environment.OSVersion}, .NET {Environment.Version}");
        if (VsssLab.MissingTools() is { } missing)
        {
            Console.Error.WriteLine($"esp-vs-strongswan: {missing}");
            return 1;
        }
        using var lab = new VsssLab();
        Console.WriteLine($"kernel ESP in xfrm: {lab.KernelXfrmEsp()}; strongSwan runs kernel-libipsec (its userspace ESP)");
        var total = Stopwatch.StartNew();
        var ours = lab.BuildChain(responderForwards: false);
        var theirs = lab.BuildChain(responderForwards: true);
        var unit = await OurResponder.Start(lab, ours.Responder, UnitChange, TimeSpan.FromSeconds(90));
        // kernel-libipsec installs a CHILD SA's policy only with a route through its TUN device, and that route only with
        // an address of the gateway's own inside the local selector (the Server's 10.10.101.0/24): without one charon
        // refuses the CHILD SA (TS_UNACCEPTABLE). 10.10.101.254/32 on lo gives it one; DC2_VM1 routes by the tunnel.
        VsssLab.Sh(theirs.Responder, "ip addr add 10.10.101.254/32 dev lo");
        var gateway = await lab.StartCharon("charon-responder", theirs.Responder, CharonResponder, installRoutes: true);
        var clientOurs = await lab.StartCharon("charon-client-ours", ours.Client, CharonClient, installRoutes: true);
        var clientTheirs = await lab.StartCharon("charon-client-theirs", theirs.Client, CharonClient, installRoutes: true);
        try
        {
            foreach (var client in new[] { clientOurs, clientTheirs })
                client.Swanctl("--initiate", "--child", "lan", "--timeout", "20");
            Console.WriteLine($"tunnels up after {total.Elapsed.TotalSeconds:0} s: ours DC2_VM1 pid {unit.Pid}, theirs charon pid {gateway.Daemon.Pid}");
            var results = new List<Measurement>();
            // Warm-up, not counted: JIT of the unit's data plane, ARP, routes; and a check that both chains carry traffic.
            foreach (var (side, chain, responder, client) in new[] { (Side.Ours, ours, unit, clientOurs), (Side.Theirs, theirs, gateway.Daemon, clientTheirs) })
                foreach (var up in new[] { true, false })
                {
                    var warm = Measure(side, 0, chain, responder, client.Daemon, 1400, up, TimeSpan.FromSeconds(1));
                    if (warm.Delivered == 0)
                        throw new InvalidOperationException($"{side}: nothing crossed the tunnel {(up ? "PC1->Server" : "Server->PC1")}\n{responder.Tail()}\n{client.Daemon.Tail()}");
                }
            foreach (var (round, side) in SideBySide.Schedule(rounds))
            {
                var (chain, responder, client) = side == Side.Ours ? (ours, unit, clientOurs) : (theirs, gateway.Daemon, clientTheirs);
                foreach (var size in Sizes)
                    foreach (var up in new[] { true, false })
                    {
                        var m = Measure(side, round, chain, responder, client.Daemon, size, up, TimeSpan.FromSeconds(seconds));
                        results.Add(m);
                        Console.WriteLine($"  round {round} {(side == Side.Ours ? "ours  " : "theirs")} {m.Key}: {m.Pps,8:#,0} pps {m.Mbits,7:0.0} Mbit/s delivered " +
                                          $"({m.Sent / m.Seconds:#,0} pps sent, {100.0 * (m.Sent - m.Delivered) / Math.Max(1, m.Sent):0}% lost), " +
                                          $"responder CPU {m.ResponderUsPerPacket,6:0.0} µs/packet, client charon {m.ClientUsPerPacket,6:0.0} µs/packet, last datagram {m.DrainSeconds:0.0} s after the sender stopped [{Machine.Line()}]");
                        if (responder.Exited) throw new InvalidOperationException($"{side} responder exited\n{responder.Tail()}");
                    }
            }
            Console.WriteLine("medians over the rounds, ours/theirs:");
            foreach (var group in results.GroupBy(m => m.Key))
            {
                var pps = SideBySide.Compare(group.Select(m => (m.Side, m.Pps)));
                var mbits = SideBySide.Compare(group.Select(m => (m.Side, m.Mbits)));
                var cpu = SideBySide.Compare(group.Select(m => (m.Side, m.ResponderUsPerPacket)));
                Console.WriteLine($"  {group.Key}: ours {pps.Ours:#,0} pps {mbits.Ours:0.0} Mbit/s, theirs {pps.Theirs:#,0} pps {mbits.Theirs:0.0} Mbit/s, " +
                                  $"ratio {SideBySide.FormatRatio(pps.Ratio)} (higher is better); responder CPU ours {cpu.Ours:0.0} µs, theirs {cpu.Theirs:0.0} µs per packet, " +
                                  $"ratio {SideBySide.FormatRatio(cpu.Ratio)} (lower is better)");
            }
            Console.WriteLine($"whole run {total.Elapsed.TotalSeconds:0} s; RSS ours {unit.Rss() / 1048576.0:0} MiB, theirs {gateway.Daemon.Rss() / 1048576.0:0} MiB");
            return 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"esp-vs-strongswan failed: {e.Message}\n{unit.Tail()}\n{gateway.Daemon.Tail()}");
            return 1;
        }
    }

    /// <summary>
    /// One measurement: a receiver socket where the datagrams arrive, a sender sending as fast as it can; 0.3 s to get
    /// going, then <paramref name="length"/> counted. Bounded by time (and the sender by count).
    /// </summary>
    private static Measurement Measure(Side side, int round, Chain chain, Daemon responder, Daemon client, int size, bool up, TimeSpan length)
    {
        var (fromNs, from, toNs, to) = up ? (chain.Pc1, Pc1, chain.Server, Server) : (chain.Server, Server, chain.Pc1, Pc1);
        using var receiver = VsssLab.UdpSocket(toNs, new IPEndPoint(to, Port));
        using var sender = VsssLab.UdpSocket(fromNs, new IPEndPoint(from, 0));
        receiver.ReceiveBufferSize = 8 << 20;
        receiver.ReceiveTimeout = 100;
        var payload = new byte[size - 28]; // IPv4 20 + UDP 8: the inner packet is `size` bytes
        var destination = new IPEndPoint(to, Port);
        long sent = 0, delivered = 0, lastArrival = Stopwatch.GetTimestamp();
        bool stop = false, stopReceiving = false;
        var receiving = new Thread(() =>
        {
            var buffer = new byte[2048];
            while (!Volatile.Read(ref stopReceiving))
            {
                try
                {
                    var n = receiver.Receive(buffer);
                    Interlocked.Exchange(ref lastArrival, Stopwatch.GetTimestamp());
                    if (n == payload.Length) Interlocked.Increment(ref delivered);
                }
                catch (SocketException) { /* timeout: look at the flag */ }
            }
        }) { IsBackground = true, Name = "esp-vs-strongswan receiver" };
        var sending = new Thread(() =>
        {
            var sw = Stopwatch.StartNew();
            var limit = length + TimeSpan.FromSeconds(2);
            while (!Volatile.Read(ref stop) && sw.Elapsed < limit && sent < 100_000_000)
            {
                try
                {
                    sender.SendTo(payload, destination);
                    Interlocked.Increment(ref sent);
                }
                catch (SocketException) { /* a full queue: that datagram is lost, as on a wire */ }
            }
        }) { IsBackground = true, Name = "esp-vs-strongswan sender" };
        receiving.Start();
        sending.Start();
        Thread.Sleep(300);
        var (s0, d0, r0, c0) = (Interlocked.Read(ref sent), Interlocked.Read(ref delivered), responder.Cpu(), client.Cpu());
        var sw = Stopwatch.StartNew();
        Thread.Sleep(length);
        var (s1, d1, r1, c1) = (Interlocked.Read(ref sent), Interlocked.Read(ref delivered), responder.Cpu(), client.Cpu());
        var elapsed = sw.Elapsed.TotalSeconds;
        Volatile.Write(ref stop, true);
        sending.Join();
        // What is still queued in the chain (sockets, TUN, the responder's own queues) arrives before the next measurement
        // starts, or its datagrams would not be counted there: wait for 0.5 s without arrival, at most 20 s. How long that
        // took after the sender stopped is printed: a responder that buffers instead of dropping shows it here.
        var drain = Stopwatch.StartNew();
        while (drain.Elapsed < TimeSpan.FromSeconds(20) && Stopwatch.GetElapsedTime(Interlocked.Read(ref lastArrival)) < TimeSpan.FromMilliseconds(500))
            Thread.Sleep(50);
        var drained = Math.Max(0, drain.Elapsed.TotalSeconds - 0.5);
        Volatile.Write(ref stopReceiving, true);
        receiving.Join();
        return new Measurement(side, round, size, up, s1 - s0, d1 - d0, elapsed, (r1 - r0).TotalMilliseconds, (c1 - c0).TotalMilliseconds, drained);
    }
}
