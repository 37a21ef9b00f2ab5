using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Ike;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// The strongSwan client of the container lab (`drill … --mode docker --client strongswan`), its pure parts: ping's
/// output into the drills' report, `swanctl --list-sas`, the option's rules, the units' NAT-T change and the gap bound.
/// The lab itself runs under docker (src/Node/lab/strongswan/README.md).
/// </summary>
public sealed class StrongSwanDrillSpec
{
    private static string Reply(double at, int seq, double ms, bool dup = false) =>
        FormattableString.Invariant($"[{at:0.000000}] 64 bytes from 10.10.101.2: icmp_seq={seq} ttl=63 time={ms:0.###} ms") + (dup ? " (DUP!)" : "");

    private static string NoAnswer(double at, int seq) => FormattableString.Invariant($"[{at:0.000000}] no answer yet for icmp_seq={seq}");

    [Fact]
    public void A_ping_run_through_a_failover_gives_sent_answered_lost_and_the_gap_between_answered_replies()
    {
        // 10 ms interval: 1..5 answered (1 ms RTT), 6..405 unanswered (4 s), 406..410 answered again.
        var log = new PingLog(10);
        log.Add("PING 10.10.101.2 (10.10.101.2) from 10.10.1.1 : 56(84) bytes of data.");
        const double t0 = 1_800_000_000.0;
        for (var seq = 1; seq <= 410; seq++)
        {
            var sent = t0 + (seq - 1) * 0.01;
            if (seq is <= 5 or > 405) log.Add(Reply(sent + 0.001, seq, 1));
            else log.Add(NoAnswer(sent + 0.01, seq));
        }
        Assert.Equal(new TrafficProgress(410, 10), log.Progress());
        log.Add("");
        log.Add("--- 10.10.101.2 ping statistics ---");
        log.Add("410 packets transmitted, 10 received, 97.561% packet loss, time 4093ms");
        Assert.Equal((410L, 10L), log.Totals);

        var (report, inFlight) = log.Report(TimeSpan.FromMilliseconds(200));
        Assert.Equal(0, inFlight);
        Assert.Equal(410, report.Sent);
        Assert.Equal(10, report.Answered);
        Assert.Equal(400, report.Lost);
        // Reply 5 at 41 ms, reply 406 at 4051 ms: 4010 ms without a reply.
        Assert.Equal(4010, report.LongestGap.TotalMilliseconds, 3);
        Assert.Equal(41, report.LongestGapAt.TotalMilliseconds, 3);
        Assert.Equal(1, report.RttMax!.Value.TotalMilliseconds, 3);
    }

    [Fact]
    public void Requests_still_in_flight_at_the_stop_are_left_out_but_a_trailing_outage_counts_as_lost()
    {
        var stoppedInFlight = new PingLog(10);
        for (var seq = 1; seq <= 100; seq++) stoppedInFlight.Add(Reply(1000 + seq * 0.01 + 0.002, seq, 2));
        stoppedInFlight.Add("102 packets transmitted, 100 received, 1.96078% packet loss, time 1010ms");
        var (report, inFlight) = stoppedInFlight.Report(TimeSpan.FromMilliseconds(200));
        Assert.Equal(2, inFlight);
        Assert.Equal(100, report.Sent);
        Assert.Equal(0, report.Lost);

        var outage = new PingLog(10);
        for (var seq = 1; seq <= 10; seq++) outage.Add(Reply(1000 + seq * 0.01 + 0.002, seq, 2));
        outage.Add("60 packets transmitted, 10 received, 83.3333% packet loss, time 600ms");
        (report, inFlight) = outage.Report(TimeSpan.FromMilliseconds(200));
        Assert.Equal(0, inFlight);
        Assert.Equal(60, report.Sent);
        Assert.Equal(50, report.Lost);
    }

    [Fact]
    public void Duplicates_are_counted_once_and_sequence_numbers_wrap_at_65536()
    {
        var log = new PingLog(10);
        log.Add(Reply(10.000, 65535, 1));
        log.Add(Reply(10.010, 0, 1));
        log.Add(Reply(10.011, 0, 1, dup: true));
        log.Add(Reply(10.020, 1, 1));
        Assert.Equal(new TrafficProgress(65537, 3), log.Progress());
        var (report, _) = log.Report(TimeSpan.FromMilliseconds(200));
        Assert.Equal(1, report.Duplicates);
    }

    private const string ListSas = """
        vpn1: #1, ESTABLISHED, IKEv2, 9951779a4b077062_i* 5edabde24023998f_r
          local  'Nokia_Peer' @ 192.168.7.4[4500]
          remote '192.168.202.35' @ 192.168.202.35[4500]
          AES_CBC-128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024
          established 8s ago, rekeying in 13130s
          lan: #1, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_CBC-128/HMAC_SHA1_96
            installed 8s ago, rekeying in 3407s, expires in 3952s
            in  0154400d,  19572 bytes,   233 packets,     1s ago
            out 1ad262b7,  19572 bytes,   233 packets,     0s ago
            local  10.10.1.0/24
            remote 10.10.101.0/24
        """;

    [Fact]
    public void Swanctl_list_sas_gives_the_ike_and_child_sa()
    {
        var sas = StrongSwanLabClient.ParseListSas(ListSas);
        Assert.Equal(new SwanSas(1, "ESTABLISHED", "9951779a4b077062", "5edabde24023998f", 1, "INSTALLED", 0x0154400d, 0x1ad262b7), sas);
        Assert.True(sas!.Up);
        Assert.Null(StrongSwanLabClient.ParseListSas("no SAs\n"));
        Assert.False(StrongSwanLabClient.ParseListSas("vpn1: #2, CONNECTING, IKEv2, 1111111111111111_i* 0000000000000000_r\n")!.Up);
    }

    [Fact]
    public void Comparing_the_sas_after_a_failover_with_the_dialed_ones_says_whether_strongswan_renegotiated()
    {
        var dialed = StrongSwanLabClient.ParseListSas(ListSas)!;
        Assert.Contains("no re-negotiation", StrongSwanLabClient.Compare(dialed, dialed));
        Assert.Contains("new CHILD SA", StrongSwanLabClient.Compare(dialed, dialed with { ChildIn = 1 }));
        Assert.Contains("new IKE SA", StrongSwanLabClient.Compare(dialed, dialed with { IkeId = 2, IkeResponderSpi = "00000000000000aa" }));
    }

    [Fact]
    public void Charon_events_leave_out_the_config_dump()
    {
        var log = "11:16:07 16[CFG]    rekey_time = 3600\n11:16:09 05[IKE] sending DPD request\n11:16:09 05[ENC] generating INFORMATIONAL request 2 [ ]\n"
                  + "11:16:09 05[NET] sending packet: from 192.168.7.4[4500] to 192.168.202.35[4500] (76 bytes)\n";
        Assert.Equal(["11:16:09 05[IKE] sending DPD request", "11:16:09 05[ENC] generating INFORMATIONAL request 2 [ ]"],
            StrongSwanLabClient.CharonEvents(log));
    }

    [Fact]
    public async Task The_strongswan_client_runs_in_docker_mode_only_and_the_client_is_checked()
    {
        static Task<int> Run(DrillCommand.Request r) => DrillCommand.RunAsync(r, TextWriter.Null, TextWriter.Null, CancellationToken.None,
            (_, _) => throw new InvalidOperationException("no lab expected"));
        var embedded = await Assert.ThrowsAsync<UsageException>(() => Run(new(["fgcp-failover"], Client: DrillCommand.StrongSwanClient)));
        Assert.Contains("--mode docker", embedded.Message);
        var unknown = await Assert.ThrowsAsync<UsageException>(() => Run(new(["fgcp-failover"], Mode: "docker", Client: "racoon")));
        Assert.Contains("--client is fortigate or strongswan", unknown.Message);
    }

    [Fact]
    public async Task A_suite_needs_the_strongswan_client_and_a_known_name()
    {
        static Task<int> Run(DrillCommand.Request r) => DrillCommand.RunAsync(r, TextWriter.Null, TextWriter.Null, CancellationToken.None,
            (_, _) => throw new InvalidOperationException("no lab expected"));
        var ours = await Assert.ThrowsAsync<UsageException>(() => Run(new(["fgcp-failover"], Mode: "docker", Suite: "aes256-sha256-modp2048")));
        Assert.Contains("add --client strongswan", ours.Message);
        var unknown = await Assert.ThrowsAsync<UsageException>(() =>
            Run(new(["fgcp-failover"], Mode: "docker", Client: DrillCommand.StrongSwanClient, Suite: "3des-md5-modp768")));
        Assert.Contains("unknown --suite '3des-md5-modp768' (known: aes256-sha256-modp2048, aes128gcm16-prfsha256-ecp256;", unknown.Message);
    }

    /// <summary>Each suite's lines give every unit's vpn1 the FortiOS names of charon's algorithms, and the config takes them
    /// (it refuses a proposal the emulator cannot run).</summary>
    [Theory]
    [InlineData("aes256-sha256-modp2048", "aes256-sha256", 14, "aes256-sha256")]
    [InlineData("aes128gcm16-prfsha256-ecp256", "aes128gcm-prfsha256", 19, "aes128gcm")]
    public void A_suite_gives_every_units_vpn1_the_same_algorithms(string name, string phase1, int group, string phase2)
    {
        var suite = StrongSwanSuite.Named(name);
        var changes = DrillCommand.Changes(DrillCatalog.Select("fgcp-failover")[0], fastTimers: false, DrillCommand.StrongSwanClient, suite: suite);
        Assert.Equal(Scenarios.Units("seed"), changes.Keys.Order(StringComparer.Ordinal));
        foreach (var (unit, change) in changes)
        {
            var config = LoopbackLab.ScenarioConfig(unit, change);
            var vpn1 = Assert.Single(config.Phase1);
            Assert.Equal(phase1, string.Join(" ", vpn1.Proposal));
            Assert.Equal([group], vpn1.DhGroups);
            Assert.Equal(phase2, string.Join(" ", Assert.Single(config.Phase2).Proposal)); // ScenarioConfig refuses what IKE cannot run
        }
    }

    [Fact]
    public void A_dial_that_fell_back_to_other_algorithms_is_named()
    {
        var gcm = StrongSwanSuite.Named("aes128gcm16-prfsha256-ecp256");
        const string listed = """
            vpn1: #1, ESTABLISHED, IKEv2, 9951779a4b077062_i* 5edabde24023998f_r
              AES_GCM_16-128/PRF_HMAC_SHA2_256/ECP_256
              lan: #1, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_GCM_16-128
            """;
        Assert.Null(gcm.Mismatch(listed));
        Assert.Equal("the IKE SA is not AES_GCM_16-128/PRF_HMAC_SHA2_256/ECP_256", gcm.Mismatch(ListSas));
        Assert.Equal("the CHILD SA is not AES_GCM_16-128", gcm.Mismatch(listed.Replace("ESP:AES_GCM_16-128", "ESP:AES_CBC-128/HMAC_SHA1_96")));
    }

    [Fact]
    public void Strongswan_drills_enable_nat_traversal_on_every_unit()
    {
        var drill = DrillCatalog.Select("fgcp-failover")[0];
        var changes = DrillCommand.Changes(drill, fastTimers: false, DrillCommand.StrongSwanClient);
        Assert.All(changes.Values, c => Assert.Contains("set nattraversal enable", c));
        Assert.DoesNotContain(DrillCommand.Changes(drill, fastTimers: false).Values, c => c.Contains("nattraversal", StringComparison.Ordinal));
        var unit = LoopbackLab.ScenarioConfig("DC2_VM2", changes["DC2_VM2"]);
        Assert.Equal(NatTraversal.Enable, Assert.Single(unit.Phase1).NatTraversal);
        Assert.Equal(NatTraversal.Disable, Assert.Single(LoopbackLab.ScenarioConfig("DC2_VM2").Phase1).NatTraversal);
    }

    [Fact]
    public void With_a_gap_bound_the_longest_gap_is_a_check_of_its_own()
    {
        Assert.Equal(4300, DrillBounds.WindowMs(LossBoundKind.Fgcp, DrillSamples.Fast with { HbLostThreshold = 20, ExtraSlackMs = 100 }));
        var within = DrillSamples.Passing() with { Phases = [DrillSamples.Phase() with { GapBoundMs = 1_400 }] };
        Assert.Contains(DrillVerdict.Checks(within), c => c.What.StartsWith("traffic gap", StringComparison.Ordinal) && c.Ok == true && c.Expected == "≤ 1400 ms");
        var above = DrillSamples.Passing() with { Phases = [DrillSamples.Phase() with { GapBoundMs = 1_400, LongestGapMs = 1_450 }] };
        Assert.Contains(DrillVerdict.Checks(above), c => c.What.StartsWith("traffic gap", StringComparison.Ordinal) && c.Ok == false);
        Assert.Contains(DrillVerdict.Checks(DrillSamples.Passing()), c => c.What.StartsWith("traffic gap", StringComparison.Ordinal) && c.Ok == null);
    }
}
