using System.Net;
using System.Text.RegularExpressions;
using ClusterActors.Actors.Cli;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Tests.Cli;

/// <summary>
/// Our `diagnose vpn tunnel list` and `diagnose sys ha standalone-peers` against the scenario document's outputs
/// (fgcp-over-fgsp-per-tunnel-failover.txt), line by line and field by field, for states equal to the seed's.
/// `now` is chosen so every countdown (expire, ilast/olast, the standby "never" value) equals the seed's exactly.
/// </summary>
public sealed class VpnDiagnosticsSpec
{
    // ------------------------------------------------------------------ seed outputs, verbatim (indentation removed)

    /// <summary>DC2_VM1, sync-primary, before any failover.</summary>
    private const string SeedVm1Before = """
        list all ipsec tunnel in vd 0
        ------------------------------------------------------
        name=vpn1_1 ver=2 serial=4 192.168.202.35:0->192.168.7.2:0 tun_id=192.168.7.2 tun_id6=::10.0.0.4 dst_mtu=1500 dpd-link=on weight=1
        bound_if=6 lgwy=static/1 tun=intf/0 mode=dial_inst/3 encap=none/8840 options[2288]=npu rgwy-chg frag-rfc  run_state=0 role=sync-primary accept_traffic=1 overlay_id=0

        parent=vpn1 index=1
        proxyid_num=1 child_num=0 refcnt=5 ilast=41 olast=41 ad=/0
        stat: rxp=0 txp=0 rxb=0 txb=0
        dpd: mode=on-idle on=1 idle=60000ms retry=3 count=0 seqno=156
        natt: mode=none draft=0 interval=0 remote_port=0
        fec: egress=0 ingress=0
        proxyid=vpn1 proto=0 sa=1 ref=2 serial=1
          src: 0:0.0.0.0-255.255.255.255:0
          dst: 0:10.10.1.0-10.10.1.255:0
          SA:  ref=3 options=602 type=00 soft=0 mtu=1438 expire=1424/0B replaywin=2048
               seqno=1 esn=0 replaywin_lastseq=00000000 qat=0 rekey=0 hash_search_len=1
          life: type=01 bytes=0/0 timeout=10791/10800
          dec: spi=37f426a1 esp=aes key=16 3671c9303b6295fc73b11765811bdf96
               ah=sha1 key=20 41b98cb541dc9c76311ddec4b23584ee35d31915
          enc: spi=10aa4d3a esp=aes key=16 cc8529ee16de6e4ac42b0ce506d7cdd1
               ah=sha1 key=20 0c2d9edd0fdbe45942cf718ac2ebb4d59c2760c6
          dec:pkts/bytes=0/0, enc:pkts/bytes=0/0
          npu_flag=00 npu_rgwy=192.168.7.2 npu_lgwy=192.168.202.35 npu_selid=1c dec_npuid=0 enc_npuid=0
        """;

    /// <summary>DC2_VM2/3/4 before failover: standby copies. Only ilast/olast and expire differ between them.</summary>
    private const string SeedStandbyBefore = """
        list all ipsec tunnel in vd 0
        ------------------------------------------------------
        name=vpn1_1 ver=2 serial=4 192.168.202.35:0->192.168.7.2:0 tun_id=192.168.7.2 tun_id6=::10.0.0.4 dst_mtu=0 dpd-link=on weight=1
        bound_if=6 lgwy=static/1 tun=intf/0 mode=dial_inst/3 encap=none/8712 options[2208]=npu frag-rfc  run_state=0 role=standby accept_traffic=1 overlay_id=0

        parent=vpn1 index=1
        proxyid_num=1 child_num=0 refcnt=5 ilast={NEVER} olast={NEVER} ad=/0
        stat: rxp=0 txp=0 rxb=0 txb=0
        dpd: mode=on-idle on=1 idle=60000ms retry=3 count=0 seqno=0
        natt: mode=none draft=0 interval=0 remote_port=0
        fec: egress=0 ingress=0
        proxyid=vpn1 proto=0 sa=1 ref=2 serial=1
          src: 0:0.0.0.0-255.255.255.255:0
          dst: 0:10.10.1.0-10.10.1.255:0
          SA:  ref=3 options=602 type=00 soft=0 mtu=1280 expire={EXPIRE}/0B replaywin=2048
               seqno=10000001 esn=0 replaywin_lastseq=00000000 qat=0 rekey=0 hash_search_len=1
          life: type=01 bytes=0/0 timeout=10791/10800
          dec: spi=37f426a1 esp=aes key=16 3671c9303b6295fc73b11765811bdf96
               ah=sha1 key=20 41b98cb541dc9c76311ddec4b23584ee35d31915
          enc: spi=10aa4d3a esp=aes key=16 cc8529ee16de6e4ac42b0ce506d7cdd1
               ah=sha1 key=20 0c2d9edd0fdbe45942cf718ac2ebb4d59c2760c6
          dec:pkts/bytes=0/0, enc:pkts/bytes=0/0
          npu_flag=00 npu_rgwy=192.168.7.2 npu_lgwy=192.168.202.35 npu_selid=1c dec_npuid=0 enc_npuid=0
        """;

    /// <summary>DC2_VM2 after the FGCP failover (VM1 rebooted): new CHILD SA, rgwy-chg, traffic flowing.</summary>
    private const string SeedVm2AfterFgcp = """
        list all ipsec tunnel in vd 0
        ------------------------------------------------------
        name=vpn1_1 ver=2 serial=4 192.168.202.35:0->192.168.7.2:0 tun_id=192.168.7.2 tun_id6=::10.0.0.4 dst_mtu=1500 dpd-link=on weight=1
        bound_if=6 lgwy=static/1 tun=intf/0 mode=dial_inst/3 encap=none/8840 options[2288]=npu rgwy-chg frag-rfc  run_state=0 role=sync-primary accept_traffic=1 overlay_id=0

        parent=vpn1 index=1
        proxyid_num=1 child_num=0 refcnt=5 ilast=0 olast=0 ad=/0
        stat: rxp=58 txp=31 rxb=4872 txb=2604
        dpd: mode=on-idle on=1 idle=60000ms retry=3 count=0 seqno=169
        natt: mode=none draft=0 interval=0 remote_port=0
        fec: egress=0 ingress=0
        proxyid=vpn1 proto=0 sa=1 ref=3 serial=3
          src: 0:0.0.0.0-255.255.255.255:0
          dst: 0:10.10.1.0-10.10.1.255:0
          SA:  ref=3 options=602 type=00 soft=0 mtu=1438 expire=10730/0B replaywin=2048
               seqno=20 esn=0 replaywin_lastseq=0000003b qat=0 rekey=0 hash_search_len=1
          life: type=01 bytes=0/0 timeout=10790/10800
          dec: spi=37f426c1 esp=aes key=16 ef61b49078b6ab3e00a4d3a048d779f5
               ah=sha1 key=20 ee2e8de9c522d89b6481c37faa73a7bb54163645
          enc: spi=10aa4d58 esp=aes key=16 4cb95f12657ca8e269b9f8a25f9b19c1
               ah=sha1 key=20 326744c4e5b4a0758397725464593d94ba9390dc
          dec:pkts/bytes=116/9744, enc:pkts/bytes=62/7316
          npu_flag=00 npu_rgwy=192.168.7.2 npu_lgwy=192.168.202.35 npu_selid=1e dec_npuid=0 enc_npuid=0
        """;

    /// <summary>DC2_VM3 after the FGSP failover (cluster 1 gone): same SPIs, no rgwy-chg, seqno = synced + 2^28 + txp.</summary>
    private const string SeedVm3AfterFgsp = """
        list all ipsec tunnel in vd 0
        ------------------------------------------------------
        name=vpn1_1 ver=2 serial=4 192.168.202.35:0->192.168.7.2:0 tun_id=192.168.7.2 tun_id6=::10.0.0.4 dst_mtu=1500 dpd-link=on weight=1
        bound_if=6 lgwy=static/1 tun=intf/0 mode=dial_inst/3 encap=none/8712 options[2208]=npu frag-rfc  run_state=0 role=sync-primary accept_traffic=1 overlay_id=0

        parent=vpn1 index=1
        proxyid_num=1 child_num=0 refcnt=5 ilast=0 olast=0 ad=/0
        stat: rxp=53 txp=53 rxb=4452 txb=4452
        dpd: mode=on-idle on=1 idle=60000ms retry=3 count=0 seqno=0
        natt: mode=none draft=0 interval=0 remote_port=0
        fec: egress=0 ingress=0
        proxyid=vpn1 proto=0 sa=1 ref=3 serial=3
          src: 0:0.0.0.0-255.255.255.255:0
          dst: 0:10.10.1.0-10.10.1.255:0
          SA:  ref=3 options=602 type=00 soft=0 mtu=1438 expire=10347/0B replaywin=2048
               seqno=10000155 esn=0 replaywin_lastseq=000001b0 qat=0 rekey=0 hash_search_len=1
          life: type=01 bytes=0/0 timeout=10790/10800
          dec: spi=37f426c1 esp=aes key=16 ef61b49078b6ab3e00a4d3a048d779f5
               ah=sha1 key=20 ee2e8de9c522d89b6481c37faa73a7bb54163645
          enc: spi=10aa4d58 esp=aes key=16 4cb95f12657ca8e269b9f8a25f9b19c1
               ah=sha1 key=20 326744c4e5b4a0758397725464593d94ba9390dc
          dec:pkts/bytes=88/7392, enc:pkts/bytes=88/10384
          npu_flag=00 npu_rgwy=192.168.7.2 npu_lgwy=192.168.202.35 npu_selid=1e dec_npuid=0 enc_npuid=0
        """;

    private const string SeedPeersVm1 = """
        Group=2, ID=1
        Detected-peers=1
        Kernel standalone-peers: num=1.
        peer0: vfid=0, peerip:port = 172.31.2.2:708, standalone_id=2
                session-type: send=3, recv=4
                 packet-type: send=0, recv=0
        Kernel standalone dev_base:
                standalone_id=0:
                standalone_id=1:
                        phyindex=0: mac=00:0c:29:fc:a3:17, linkfail=1
                        phyindex=1: mac=00:0c:29:fc:a3:21, linkfail=1
                        phyindex=2: mac=00:0c:29:fc:a3:2b, linkfail=1
                        phyindex=3: mac=00:0c:29:fc:a3:35, linkfail=1
                        phyindex=4: mac=00:0c:29:fc:a3:3f, linkfail=1
                        phyindex=5: mac=00:0c:29:fc:a3:49, linkfail=1
                        phyindex=6: mac=00:0c:29:fc:a3:53, linkfail=1
                        phyindex=7: mac=00:0c:29:fc:a3:5d, linkfail=1
                        phyindex=8: mac=00:0c:29:fc:a3:67, linkfail=1
                        phyindex=9: mac=00:0c:29:fc:a3:71, linkfail=1
                standalone_id=2:
                        phyindex=0: mac=00:09:0f:09:02:00, linkfail=1
                        phyindex=1: mac=00:09:0f:09:02:01, linkfail=1
                        phyindex=2: mac=00:09:0f:09:02:02, linkfail=1
                        phyindex=3: mac=00:09:0f:09:02:03, linkfail=1
                        phyindex=4: mac=00:09:0f:09:02:04, linkfail=1
                        phyindex=5: mac=00:09:0f:09:02:05, linkfail=1
                        phyindex=6: mac=00:09:0f:09:02:06, linkfail=1
                        phyindex=7: mac=00:09:0f:09:02:07, linkfail=1
                        phyindex=8: mac=00:09:0f:09:02:08, linkfail=1
                        phyindex=9: mac=00:09:0f:09:02:09, linkfail=1
                standalone_id=3:
                ...
                standalone_id=15:
        """;

    private const string SeedPeersVm3 = """
        Group=2, ID=2
        Detected-peers=1
        Kernel standalone-peers: num=1.
        peer0: vfid=0, peerip:port = 172.31.2.1:708, standalone_id=1
                session-type: send=2, recv=6
                 packet-type: send=0, recv=0
        Kernel standalone dev_base:
                standalone_id=0:
                standalone_id=1:
                        phyindex=0: mac=00:09:0f:09:01:00, linkfail=1
                        phyindex=1: mac=00:09:0f:09:01:01, linkfail=1
                        phyindex=2: mac=00:09:0f:09:01:02, linkfail=1
                        phyindex=3: mac=00:09:0f:09:01:03, linkfail=1
                        phyindex=4: mac=00:09:0f:09:01:04, linkfail=1
                        phyindex=5: mac=00:09:0f:09:01:05, linkfail=1
                        phyindex=6: mac=00:09:0f:09:01:06, linkfail=1
                        phyindex=7: mac=00:09:0f:09:01:07, linkfail=1
                        phyindex=8: mac=00:09:0f:09:01:08, linkfail=1
                        phyindex=9: mac=00:09:0f:09:01:09, linkfail=1
                standalone_id=2:
                        phyindex=0: mac=00:0c:29:bb:77:af, linkfail=1
                        phyindex=1: mac=00:0c:29:bb:77:b9, linkfail=1
                        phyindex=2: mac=00:0c:29:bb:77:c3, linkfail=1
                        phyindex=3: mac=00:0c:29:bb:77:cd, linkfail=1
                        phyindex=4: mac=00:0c:29:bb:77:d7, linkfail=1
                        phyindex=5: mac=00:0c:29:bb:77:e1, linkfail=1
                        phyindex=6: mac=00:0c:29:bb:77:eb, linkfail=1
                        phyindex=7: mac=00:0c:29:bb:77:f5, linkfail=1
                        phyindex=8: mac=00:0c:29:bb:77:ff, linkfail=1
                        phyindex=9: mac=00:0c:29:bb:77:09, linkfail=1
                standalone_id=3:
                ...
                standalone_id=15:
        """;

    // ------------------------------------------------------------------ seed states

    private static readonly DateTimeOffset Now = new(2026, 11, 27, 7, 0, 0, TimeSpan.Zero);

    private static readonly IPAddress Lb1 = IPAddress.Parse("192.168.202.35");
    private static readonly IPAddress Client1 = IPAddress.Parse("192.168.7.2");
    private static readonly TrafficSelector ClientNet = new(0, IPAddress.Parse("10.10.1.0"), IPAddress.Parse("10.10.1.255"), 0);

    private static byte[] Hex(string s) => Convert.FromHexString(s);

    /// <summary>The CHILD SA IKE negotiated with client 1 on DC2_VM1 (proxyid serial 1).</summary>
    private static ChildSaState FirstSa(DateTimeOffset established, int mtu, uint seq, uint lastSeq) => new(
        1,
        new SaDirection(0x37f426a1, Hex("3671c9303b6295fc73b11765811bdf96"), Hex("41b98cb541dc9c76311ddec4b23584ee35d31915"), 0, 0),
        new SaDirection(0x10aa4d3a, Hex("cc8529ee16de6e4ac42b0ce506d7cdd1"), Hex("0c2d9edd0fdbe45942cf718ac2ebb4d59c2760c6"), 0, 0),
        seq, lastSeq, 2048, established, 10800, mtu);

    /// <summary>The CHILD SA after the FGCP failover (proxyid serial 3), with per-SA counters.</summary>
    private static ChildSaState SecondSa(DateTimeOffset established, int mtu, uint seq, uint lastSeq,
        (long p, long b) dec, (long p, long b) enc) => new(
        3,
        new SaDirection(0x37f426c1, Hex("ef61b49078b6ab3e00a4d3a048d779f5"), Hex("ee2e8de9c522d89b6481c37faa73a7bb54163645"), dec.p, dec.b),
        new SaDirection(0x10aa4d58, Hex("4cb95f12657ca8e269b9f8a25f9b19c1"), Hex("326744c4e5b4a0758397725464593d94ba9390dc"), enc.p, enc.b),
        seq, lastSeq, 2048, established, 10800, mtu);

    private static DialupTunnelState Vpn1_1(TunnelRole role, int dstMtu, bool rgwyChg, ChildSaState sa, uint dpdSeqno,
        TunnelCounters stat, DateTimeOffset? lastRx, DateTimeOffset? lastTx) => new(
        "vpn1_1", "vpn1", 1, 4, Lb1, 0, Client1, 0, dstMtu, 6, role, true, rgwyChg, "vpn1",
        TrafficSelector.Any, ClientNet, sa,
        new DpdState("on-idle", true, 60000, 3, 0, dpdSeqno),
        new NattState("none", 0, 0, 0),
        stat, lastRx, lastTx);

    private static readonly TunnelCounters Zero = new(0, 0, 0, 0);

    /// <summary>The SA was installed with timeout 10791; expire = 10791 − seconds since installation.</summary>
    private static DateTimeOffset InstalledFor(int installed, int expire) => Now - TimeSpan.FromSeconds(installed - expire);

    /// <summary>Boot time that makes the kernel's "never" idle value (jiffies/HZ with last = 0) equal <paramref name="never"/>.</summary>
    private static DateTimeOffset BootedFor(long never)
    {
        var uptimeJiffies = never * 100 - ((1L << 32) - 300 * 100);
        return Now - TimeSpan.FromTicks(uptimeJiffies * (TimeSpan.TicksPerSecond / 100));
    }

    private static DialupTunnelState Vm1Before() => Vpn1_1(TunnelRole.SyncPrimary, 1500, true,
        FirstSa(InstalledFor(10791, 1424), 1438, 0x1, 0), 0x156, Zero, Now.AddSeconds(-41), Now.AddSeconds(-41));

    private static DialupTunnelState StandbyBefore(int expire) => Vpn1_1(TunnelRole.Standby, 0, false,
        FirstSa(InstalledFor(10791, expire), 1280, 0x10000001, 0), 0, Zero, null, null);

    private static DialupTunnelState Vm2AfterFgcp() => Vpn1_1(TunnelRole.SyncPrimary, 1500, true,
        SecondSa(InstalledFor(10790, 10730), 1438, 0x20, 0x3b, (116, 9744), (62, 7316)), 0x169,
        new TunnelCounters(58, 31, 4872, 2604), Now, Now);

    private static DialupTunnelState Vm3AfterFgsp() => Vpn1_1(TunnelRole.SyncPrimary, 1500, false,
        SecondSa(InstalledFor(10790, 10347), 1438, 0x10000155, 0x1b0, (88, 7392), (88, 10384)), 0,
        new TunnelCounters(53, 53, 4452, 4452), Now, Now);

    // ------------------------------------------------------------------ diff helper

    /// <summary>Line by line; on a difference, names the first differing space-separated field.</summary>
    private static void AssertSameAsSeed(string seed, string ours)
    {
        var s = seed.Split('\n');
        var o = ours.TrimEnd('\n').Split('\n');
        for (var i = 0; i < Math.Min(s.Length, o.Length); i++)
        {
            if (s[i] == o[i]) continue;
            var sf = s[i].Split(' ');
            var of = o[i].Split(' ');
            var k = 0;
            while (k < Math.Min(sf.Length, of.Length) && sf[k] == of[k]) k++;
            Assert.Fail($"line {i + 1}, field {k + 1}: seed '{(k < sf.Length ? sf[k] : "<end>")}' ours '{(k < of.Length ? of[k] : "<end>")}'\n seed: {s[i]}\n ours: {o[i]}");
        }
        Assert.Equal(s.Length, o.Length);
    }

    // ------------------------------------------------------------------ tunnel list

    [Fact]
    public void Vm1_sync_primary_before_failover_matches_the_seed_exactly()
    {
        var ours = VpnDiagnostics.TunnelList([new TunnelListEntry(Vm1Before(), SaInstalledTimeout: 10791)], Now);
        AssertSameAsSeed(SeedVm1Before, ours);
    }

    [Theory]
    [InlineData("DC2_VM2", 42975898L, 1325)]
    [InlineData("DC2_VM3", 42975982L, 1215)]
    [InlineData("DC2_VM4", 42975768L, 1433)]
    public void Standby_copies_before_failover_match_the_seed_exactly(string unit, long never, int expire)
    {
        _ = unit;
        var seed = SeedStandbyBefore.Replace("{NEVER}", never.ToString()).Replace("{EXPIRE}", expire.ToString());
        var ours = VpnDiagnostics.TunnelList([new TunnelListEntry(StandbyBefore(expire), SaInstalledTimeout: 10791)], Now, bootedAt: BootedFor(never));
        AssertSameAsSeed(seed, ours);
    }

    [Fact]
    public void Vm2_after_fgcp_failover_matches_the_seed_exactly_with_default_timeout_and_selid()
    {
        // No TunnelListEntry extras: keylife − 10 = 10790 and selid 0x1b + serial 3 = 1e are the defaults.
        var ours = VpnDiagnostics.TunnelList([Vm2AfterFgcp()], Now);
        AssertSameAsSeed(SeedVm2AfterFgcp, ours);
    }

    [Fact]
    public void Vm3_after_fgsp_failover_matches_the_seed_exactly()
    {
        var ours = VpnDiagnostics.TunnelList([Vm3AfterFgsp()], Now);
        AssertSameAsSeed(SeedVm3AfterFgsp, ours);
    }

    [Fact]
    public void Time_dependent_fields_keep_the_seed_format_at_any_time_and_count_the_right_way()
    {
        var booted = BootedFor(42975898);
        var states = new List<DialupTunnelState> { Vm2AfterFgcp(), StandbyBefore(1325) };
        var at = VpnDiagnostics.TunnelList(states, Now, bootedAt: booted).Split('\n');
        var later = VpnDiagnostics.TunnelList(states, Now.AddSeconds(100.7), bootedAt: booted).Split('\n');

        static long[] Numbers(string[] lines, string pattern) =>
            lines.Select(l => Regex.Match(l, pattern)).Where(m => m.Success).Select(m => long.Parse(m.Groups[1].Value)).ToArray();

        foreach (var lines in new[] { at, later })
        {
            Assert.All(lines.Where(l => l.Contains("ilast=")), l => Assert.Matches(@"^proxyid_num=1 child_num=0 refcnt=5 ilast=\d+ olast=\d+ ad=/0$", l));
            Assert.All(lines.Where(l => l.Contains("expire=")), l => Assert.Matches(@"^  SA:  ref=3 options=602 type=00 soft=0 mtu=\d+ expire=\d+/0B replaywin=\d+$", l));
            Assert.All(lines.Where(l => l.Contains("timeout=")), l => Assert.Matches(@"^  life: type=01 bytes=0/0 timeout=\d+/\d+$", l));
        }
        // expire counts down, idle (seen and never-seen alike) counts up, the installed timeout does not move.
        Assert.Equal(Numbers(at, @"expire=(\d+)/").Select(x => x - 100), Numbers(later, @"expire=(\d+)/"));
        Assert.Equal(Numbers(at, @"ilast=(\d+)").Select(x => x + 100), Numbers(later, @"ilast=(\d+)"));
        Assert.Equal(Numbers(at, @"timeout=(\d+)/"), Numbers(later, @"timeout=(\d+)/"));
        Assert.Equal([0L, 42975898L], Numbers(at, @"olast=(\d+)"));
    }

    [Fact]
    public void Expire_stops_at_zero_and_an_empty_list_prints_only_the_header()
    {
        var old = Vm3AfterFgsp() with { Sa = Vm3AfterFgsp().Sa with { EstablishedAt = Now.AddDays(-1) } };
        Assert.Contains(" expire=0/0B ", VpnDiagnostics.TunnelList([old], Now));
        Assert.Equal("list all ipsec tunnel in vd 3\n", VpnDiagnostics.TunnelList(Array.Empty<DialupTunnelState>(), Now, vdom: 3));
    }

    [Fact]
    public void Several_tunnels_each_get_a_dashed_block()
    {
        var two = VpnDiagnostics.TunnelList([Vm3AfterFgsp(), Vm3AfterFgsp() with { Name = "vpn1_2", Index = 2, Serial = 5 }], Now);
        Assert.Equal(2, two.Split('\n').Count(l => l == new string('-', 54)));
        Assert.Contains("name=vpn1_2 ver=2 serial=5 ", two);
        Assert.Contains("tun_id6=::10.0.0.5 ", two);
        Assert.Contains("parent=vpn1 index=2\n", two);
    }

    [Fact]
    public void Nat_traversal_prints_the_ports_and_the_natt_line()
    {
        var natted = Vm3AfterFgsp() with
        {
            LocalPort = 4500, RemotePort = 64916, Natt = new NattState("keepalive", 0, 10, 4500),
        };
        var lines = VpnDiagnostics.TunnelList([natted], Now).Split('\n');
        Assert.StartsWith("name=vpn1_1 ver=2 serial=4 192.168.202.35:4500->192.168.7.2:64916 tun_id=192.168.7.2 ", lines[2]);
        Assert.Equal("natt: mode=keepalive draft=0 interval=10 remote_port=4500", lines[9]);
        Assert.Contains(" encap=none/8712 options[2208]=npu frag-rfc  run_state=0 ", lines[3]);
        // Without NAT-T the ports print 0 even if the state carries the IKE port.
        var plain = VpnDiagnostics.TunnelList([Vm3AfterFgsp() with { LocalPort = 500, RemotePort = 500 }], Now);
        Assert.Contains(" 192.168.202.35:0->192.168.7.2:0 ", plain);
    }

    [Fact]
    public void Other_algorithms_are_named_by_key_length_and_primary_role_prints()
    {
        var sa = Vm3AfterFgsp().Sa;
        var aes256sha256 = sa with { Dec = sa.Dec with { EncKey = new byte[32], AuthKey = new byte[32] } };
        var text = VpnDiagnostics.TunnelList([Vm3AfterFgsp() with { Sa = aes256sha256, Role = TunnelRole.Primary }], Now);
        Assert.Contains($"  dec: spi=37f426c1 esp=aes key=32 {new string('0', 64)}\n       ah=sha256 key=32 {new string('0', 64)}\n", text);
        Assert.Contains(" role=primary accept_traffic=1 ", text);
    }

    [Theory]
    [InlineData(4, "::10.0.0.4")]
    [InlineData(255, "::10.0.0.255")]
    [InlineData(300, "::10.0.1.44")]
    public void Tun_id6_is_10_0_0_0_plus_serial(int serial, string expected) => Assert.Equal(expected, VpnDiagnostics.TunId6(serial));

    // ------------------------------------------------------------------ standalone-peers

    private static FgspPeersStatus Vm1Peers() => new(2, 1,
        [new FgspPeerLine(0, IPAddress.Parse("172.31.2.2"), 708, 2, 3, 4, 0, 0)],
        [new FgspDevBase(1, VpnDiagnostics.PhysicalMacs(0xfca317, 10)), new FgspDevBase(2, VpnDiagnostics.FgcpVirtualMacs(2, 10))]);

    private static FgspPeersStatus Vm3Peers() => new(2, 2,
        [new FgspPeerLine(0, IPAddress.Parse("172.31.2.1"), 708, 1, 2, 6, 0, 0)],
        [new FgspDevBase(1, VpnDiagnostics.FgcpVirtualMacs(1, 10)), new FgspDevBase(2, VpnDiagnostics.PhysicalMacs(0xbb77af, 10))]);

    [Fact]
    public void Standalone_peers_on_vm1_matches_the_seed_exactly() =>
        AssertSameAsSeed(SeedPeersVm1, VpnDiagnostics.StandalonePeers(Vm1Peers()));

    [Fact]
    public void Standalone_peers_on_vm3_matches_the_seed_exactly_including_the_mac_octet_wrap() =>
        AssertSameAsSeed(SeedPeersVm3, VpnDiagnostics.StandalonePeers(Vm3Peers()));

    [Fact]
    public void Without_elision_all_sixteen_member_ids_print()
    {
        var lines = VpnDiagnostics.StandalonePeers(Vm1Peers(), elide: false).TrimEnd('\n').Split('\n');
        Assert.Equal(Enumerable.Range(0, 16).Select(i => $"        standalone_id={i}:"), lines.Where(l => l.StartsWith("        standalone_id=")));
        Assert.DoesNotContain("        ...", lines);
        Assert.Equal("        standalone_id=15:", lines[^1]);
    }

    [Fact]
    public void Elision_only_folds_runs_of_three_or_more_empty_ids()
    {
        // Members 0, 3 and 5: the gaps 1–2 and 4 print in full, 6–15 fold.
        var status = new FgspPeersStatus(7, 0, [], [
            new FgspDevBase(0, ["00:0c:29:00:00:01"]), new FgspDevBase(3, ["00:0c:29:00:00:02"]), new FgspDevBase(5, ["00:0c:29:00:00:03"])],
            DetectedPeers: 0);
        var lines = VpnDiagnostics.StandalonePeers(status).TrimEnd('\n').Split('\n');
        Assert.Equal([
            "Group=7, ID=0", "Detected-peers=0", "Kernel standalone-peers: num=0.", "Kernel standalone dev_base:",
            "        standalone_id=0:", "                phyindex=0: mac=00:0c:29:00:00:01, linkfail=1",
            "        standalone_id=1:", "        standalone_id=2:",
            "        standalone_id=3:", "                phyindex=0: mac=00:0c:29:00:00:02, linkfail=1",
            "        standalone_id=4:",
            "        standalone_id=5:", "                phyindex=0: mac=00:0c:29:00:00:03, linkfail=1",
            "        standalone_id=6:", "        ...", "        standalone_id=15:"], lines);
    }

    [Fact]
    public void Fgcp_virtual_macs_follow_the_group_id_as_in_the_reference()
    {
        Assert.Equal("00:09:0f:09:58:00", VpnDiagnostics.FgcpVirtualMac(88, 0));
        Assert.Equal("00:09:0f:09:02:09", VpnDiagnostics.FgcpVirtualMac(2, 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => VpnDiagnostics.FgcpVirtualMac(256, 0));
    }

    [Fact]
    public void Pseudo_physical_macs_are_stable_per_serial_and_vmware_shaped()
    {
        var a = VpnDiagnostics.PseudoPhysicalMacs("FGVM02TM22000001", 10);
        Assert.Equal(a, VpnDiagnostics.PseudoPhysicalMacs("FGVM02TM22000001", 10));
        Assert.NotEqual(a, VpnDiagnostics.PseudoPhysicalMacs("FGVM02TM22000003", 10));
        Assert.All(a, m => Assert.Matches("^00:0c:29:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$", m));
        Assert.Equal(10, a.Distinct().Count());
    }
}
