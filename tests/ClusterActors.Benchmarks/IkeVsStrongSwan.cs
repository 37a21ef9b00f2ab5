using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ClusterActors.Benchmarks;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;

/// <summary>
/// Issue 13 goal 7: IKEv2 tunnel establishment (IKE_SA_INIT + IKE_AUTH until the responder's IKE_AUTH answer, which
/// carries the CHILD SA it has installed) against our responder and strongSwan's, alternating rounds in one run.
/// The load is ours on both sides: this process's IkeInitiator (the benchmark's dialer, as ike-flood and the issue's
/// table use), from the client namespace of each chain (<see cref="VsssLab"/>), one fresh UDP socket per tunnel, PSK,
/// peer ID Nokia_Peer, starting on UDP 4500 with NAT-T forced (strongSwan's kernel-libipsec only does UDP-encapsulated
/// ESP, and the unit runs vpn1 with nattraversal enable). Chosen over charon as the initiator because it is the same
/// bytes to both responders and gives each tunnel's own latency; its CPU is not in the responder figures.
/// Responders: DC2_VM1 as a `clusteractors node` process (packets = kernel: IKE through the unit's own data plane, as in
/// the docker lab) and charon (charon-systemd, openssl + gmp plugins, kernel-libipsec, unique = never so that it keeps
/// every tunnel as the unit does, no DPD on either). Tunnels stay up: round k on each side starts with the same
/// number of tunnels already held. Per round: tunnels/s, latency median and p95, responder CPU per tunnel (its pid's
/// user + system time over the round / tunnels), responder RSS; per suite the medians and ours/theirs.
/// </summary>
internal static class IkeVsStrongSwan
{
    private static readonly IPAddress Lb1 = IPAddress.Parse("192.168.202.35");
    private static readonly IPAddress ClientWan = IPAddress.Parse("192.168.7.2");

    /// <summary>One proposal, in the three dialects: our initiator, FortiOS (the unit) and strongSwan (charon).</summary>
    private sealed record Suite(string Name, string Phase1, int Dh, string Phase2);

    private static readonly Suite[] Suites =
    [
        // The issue's table was measured with this one (the benchmark dialer's aes128-sha1-modp1024).
        new("modp1024 aes128-sha1", "aes128-sha1", 2, "aes128-sha1"),
        new("modp2048 aes256-sha256", "aes256-sha256", 14, "aes256-sha256"),
        new("ecp256 aes128gcm16", "aes128gcm-prfsha256", 19, "aes128gcm"),
    ];

    private const string UnitChange = """
        config system ha
        set hello-holddown 5
        end
        config vpn ipsec phase1-interface
        edit "vpn1"
        set nattraversal enable
        set dpd disable
        set proposal aes128-sha1 aes256-sha256 aes128gcm-prfsha256
        set dhgrp 2 14 19
        next
        end
        config vpn ipsec phase2-interface
        edit "vpn1"
        set proposal aes128-sha1 aes256-sha256 aes128gcm
        next
        end
        """;

    private const string CharonResponder = """
        # strongSwan as the responder: DC2_VM1's vpn1 in strongSwan's words.
        connections {
          vpn1 {
            version = 2
            local_addrs = 192.168.202.35
            proposals = aes128-sha1-modp1024, aes256-sha256-modp2048, aes128gcm16-prfsha256-ecp256
            encap = yes
            dpd_delay = 0
            mobike = no
            unique = never
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
                local_ts = 0.0.0.0/0
                remote_ts = 10.10.1.0/24
                esp_proposals = aes128-sha1, aes256-sha256, aes128gcm16
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

    private sealed record Round(Side Side, int Number, string Suite, int Ok, int Failed, int Retransmits, double Seconds, List<double> LatencyMs,
        double CpuMs, long Rss)
    {
        public double Rate => Ok / Seconds;
        public double CpuPerTunnel => Ok == 0 ? double.NaN : CpuMs / Ok;
    }

    public static async Task<int> Run(int tunnels, int rounds, int concurrency)
    {
        Console.WriteLine($"IKE vs strongSwan: {tunnels} tunnels per round, {rounds} rounds per side and suite, alternating ours/theirs, {concurrency} dials in flight");
        Console.WriteLine($"machine: {Machine.Line()}, {Environment.OSVersion}, .NET {Environment.Version}");
        if (VsssLab.MissingTools() is { } missing)
        {
            Console.Error.WriteLine($"ike-vs-strongswan: {missing}");
            return 1;
        }
        using var lab = new VsssLab();
        Console.WriteLine($"kernel ESP in xfrm: {lab.KernelXfrmEsp()}; strongSwan runs kernel-libipsec (its userspace ESP)");
        var ours = lab.BuildChain(responderForwards: false);
        var theirs = lab.BuildChain(responderForwards: true);
        var total = Stopwatch.StartNew();
        var unit = await OurResponder.Start(lab, ours.Responder, UnitChange, TimeSpan.FromSeconds(90));
        var charon = await lab.StartCharon("charon-responder", theirs.Responder, CharonResponder, installRoutes: false);
        Console.WriteLine($"responders up after {total.Elapsed.TotalSeconds:0} s: ours DC2_VM1 pid {unit.Pid}, theirs charon pid {charon.Daemon.Pid}");

        var all = new List<Round>();
        try
        {
            foreach (var suite in Suites)
            {
                var settings = new IkeInitiatorSettings("scenario-psk", "Nokia_Peer", [suite.Phase1], [suite.Dh],
                    [TrafficSelector.FromCidr("10.10.1.0/24")], [TrafficSelector.Any])
                { ChildProposals = [suite.Phase2], NatTraversal = NatTraversal.Forced };
                Console.WriteLine($"suite {suite.Name} (IKE {suite.Phase1} DH {suite.Dh}, ESP {suite.Phase2}):");
                // The first dials on each side pay JIT and first-use costs: not counted.
                foreach (var (side, chain, daemon) in new[] { (Side.Ours, ours, unit), (Side.Theirs, theirs, charon.Daemon) })
                {
                    var warm = await DialRound(side, 0, suite.Name, chain, daemon, settings, Math.Min(10, tunnels), concurrency);
                    if (warm.Ok == 0) throw new InvalidOperationException($"{side}: no tunnel came up in the warm-up\n{daemon.Tail()}");
                }
                foreach (var (number, side) in SideBySide.Schedule(rounds))
                {
                    var (chain, daemon) = side == Side.Ours ? (ours, unit) : (theirs, charon.Daemon);
                    var round = await DialRound(side, number, suite.Name, chain, daemon, settings, tunnels, concurrency);
                    all.Add(round);
                    Console.WriteLine($"  round {number} {(side == Side.Ours ? "ours  " : "theirs")}: {round.Ok} up, {round.Failed} failed, {round.Retransmits} retransmits, " +
                                      $"{round.Rate,6:0.0} tunnels/s, latency median {SideBySide.Median(round.LatencyMs),6:0.0} ms p95 {SideBySide.Percentile(round.LatencyMs, 0.95),6:0.0} ms, " +
                                      $"responder CPU {round.CpuPerTunnel,5:0.00} ms/tunnel, RSS {round.Rss / 1048576.0:0} MiB [{Machine.Line()}]");
                    if (daemon.Exited) throw new InvalidOperationException($"{side} responder exited\n{daemon.Tail()}");
                }
                var of = all.Where(r => r.Suite == suite.Name).ToList();
                Summary("tunnels/s", of.Select(r => (r.Side, r.Rate)), "0.0", "higher is better");
                Summary("latency median ms", of.Select(r => (r.Side, SideBySide.Median(r.LatencyMs))), "0.0", "lower is better");
                Summary("responder CPU ms per tunnel", of.Select(r => (r.Side, r.CpuPerTunnel)), "0.00", "lower is better");
            }
            Console.WriteLine($"whole run {total.Elapsed.TotalSeconds:0} s; tunnels held at the end: ours {all.Where(r => r.Side == Side.Ours).Sum(r => r.Ok)}+warm-up, " +
                              $"theirs {all.Where(r => r.Side == Side.Theirs).Sum(r => r.Ok)}+warm-up; RSS ours {unit.Rss() / 1048576.0:0} MiB, theirs {charon.Daemon.Rss() / 1048576.0:0} MiB");
            return all.Any(r => r.Failed > 0) ? 1 : 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"ike-vs-strongswan failed: {e.Message}\n{unit.Tail()}\n{charon.Daemon.Tail()}");
            return 1;
        }
    }

    private static void Summary(string what, IEnumerable<(Side Side, double Value)> rounds, string format, string better)
    {
        var (o, t, ratio) = SideBySide.Compare(rounds);
        Console.WriteLine($"  median {what}: ours {o.ToString(format)}, theirs {t.ToString(format)}, ours/theirs {SideBySide.FormatRatio(ratio)} ({better})");
    }

    private static async Task<Round> DialRound(Side side, int number, string suite, Chain chain, Daemon responder, IkeInitiatorSettings settings,
        int tunnels, int concurrency)
    {
        // One socket per tunnel (its own source port), made in the client namespace before the clock starts.
        var sockets = VsssLab.InNamespace(chain.Client, () => Enumerable.Range(0, tunnels).Select(_ =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(ClientWan, 0));
            return s;
        }).ToArray());
        try
        {
            var latencies = new ConcurrentBag<double>();
            int failed = 0, retransmits = 0, next = -1;
            var cpu0 = responder.Cpu();
            var sw = Stopwatch.StartNew();
            // Bounded: every dial gives up after its retransmits (at most 8 exchanges x 14 s), and the round after 120 s.
            using var roundLimit = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            await Task.WhenAll(Enumerable.Range(0, Math.Min(concurrency, tunnels)).Select(_ => Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < tunnels && !roundLimit.IsCancellationRequested)
                {
                    var (ms, resent) = await Dial(sockets[i], settings, roundLimit.Token);
                    Interlocked.Add(ref retransmits, resent);
                    if (ms is { } v) latencies.Add(v);
                    else Interlocked.Increment(ref failed);
                }
            })));
            var seconds = sw.Elapsed.TotalSeconds;
            var cpu = (responder.Cpu() - cpu0).TotalMilliseconds;
            failed += Math.Max(0, tunnels - latencies.Count - failed);
            return new Round(side, number, suite, latencies.Count, failed, retransmits, seconds, latencies.ToList(), cpu, responder.Rss());
        }
        finally
        {
            foreach (var s in sockets) s.Dispose();
        }
    }

    /// <summary>One tunnel: ms until IKE_AUTH's answer established it, or null; and how many requests were sent again.</summary>
    private static async Task<(double? Ms, int Retransmits)> Dial(Socket socket, IkeInitiatorSettings settings, CancellationToken cancel)
    {
        var gateway = new IPEndPoint(Lb1, IkeUdp.NatTPort);
        var initiator = new IkeInitiator(settings, new IPEndPoint(ClientWan, IkeUdp.NatTPort), gateway);
        var buffer = new byte[65536];
        var sw = Stopwatch.StartNew();
        var request = initiator.Frame(initiator.Start());
        var retransmits = 0;
        for (var exchange = 0; exchange < 8; exchange++)
        {
            byte[]? reply = null;
            var wait = TimeSpan.FromSeconds(2);
            for (var attempt = 0; attempt < 3 && reply is null; attempt++, wait *= 2)
            {
                if (attempt > 0) retransmits++;
                if (attempt > 0 && Environment.GetEnvironmentVariable("VSSS_DEBUG") is not null) Console.WriteLine($"    retransmit exchange {exchange} at {sw.ElapsedMilliseconds} ms, port {((IPEndPoint)socket.LocalEndPoint!).Port}");
                try { await socket.SendToAsync(request, SocketFlags.None, gateway, cancel); }
                catch (OperationCanceledException) { return (null, retransmits); }
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                timeout.CancelAfter(wait);
                while (reply is null)
                {
                    SocketReceiveFromResult got;
                    try { got = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), timeout.Token); }
                    catch (OperationCanceledException) { break; }
                    var output = initiator.HandleUdp(IkeUdp.NatTPort, buffer[..got.ReceivedBytes]);
                    foreach (var e in output.Events)
                    {
                        if (e is IkeDropped dropped && Environment.GetEnvironmentVariable("VSSS_DEBUG") is not null) Console.WriteLine($"    dropped: {dropped.Reason}");
                        if (e is IkeSaEstablished) return (sw.Elapsed.TotalMilliseconds, retransmits);
                        if (e is IkeRefused refused)
                        {
                            Console.WriteLine($"    refused: {refused.Reason} ({refused.Kind})");
                            return (null, retransmits);
                        }
                    }
                    if (output.Replies.Count > 0) reply = output.Replies[0];
                }
                if (cancel.IsCancellationRequested) return (null, retransmits);
            }
            if (reply is null) return (null, retransmits);
            request = reply;
        }
        return (null, retransmits);
    }
}
