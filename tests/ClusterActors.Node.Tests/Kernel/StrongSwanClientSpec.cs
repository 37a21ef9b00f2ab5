using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Node.Hosting.Kernel;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Kernel;

/// <summary>
/// Interop with a real IKEv2 implementation (issue 5, point 3): strongSwan's charon (kernel-libipsec, ESP in UDP 4500)
/// dials in to DC2_VM1's real unit on kernel interfaces, and a ping from the client's LAN address reaches the Server
/// through the tunnel. Namespaces: client (strongSwan, 192.168.7.2, LAN 10.10.1.1) — router (192.168.7.1,
/// 192.168.129.1, forwarding) — unit (port2 192.168.129.254, lb1 192.168.202.35, port3 172.31.129.254) — server
/// (172.31.129.1 and 10.10.101.2). The configs are src/Node/lab/strongswan/*.conf. Fails (never skips) without
/// strongSwan: .ci/test-prerequisites installs charon-systemd, strongswan-swanctl and libcharon-extra-plugins.
/// </summary>
[Collection("kernel-io")]
public sealed class StrongSwanClientSpec(ITestOutputHelper output)
{
    private const string Charon = RequiredTool.Charon;
    private readonly ConcurrentQueue<string> _charonLog = new();

    private void Log(string line)
    {
        try { output.WriteLine(line); } catch (InvalidOperationException) { /* after the test */ }
    }

    [Fact]
    public Task A_strongSwan_client_dials_in_with_NAT_T_and_its_LAN_pings_the_Server_through_the_unit() =>
        DialInAndPing(null);

    /// <summary>
    /// Issue 12 item 6: each family of proposals against strongSwan. The unit's vpn1 is configured with the FortiOS
    /// keywords and group, charon with its own names for the same algorithms; the tunnel comes up with them (checked in
    /// charon's own SA listing), pings pass, and a CHILD SA rekey keeps them.
    /// </summary>
    [Theory]
    [InlineData("aes256-sha256", "14", "aes256-sha256", "aes256-sha256-modp2048", "aes256-sha256", "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048", "AES_CBC-256/HMAC_SHA2_256_128")]
    [InlineData("aes128gcm-prfsha256", "19", "aes128gcm", "aes128gcm16-prfsha256-ecp256", "aes128gcm16-ecp256", "AES_GCM_16-128/PRF_HMAC_SHA2_256/ECP_256", "AES_GCM_16-128", "19")]
    [InlineData("aes256gcm-prfsha384", "20", "aes256gcm", "aes256gcm16-prfsha384-ecp384", "aes256gcm16", "AES_GCM_16-256/PRF_HMAC_SHA2_384/ECP_384", "AES_GCM_16-256")]
    [InlineData("chacha20poly1305-prfsha512", "21", "chacha20poly1305", "chacha20poly1305-prfsha512-ecp521", "chacha20poly1305", "CHACHA20_POLY1305/PRF_HMAC_SHA2_512/ECP_521", "CHACHA20_POLY1305")]
    [InlineData("aes192-sha512", "16", "aes128-sha384", "aes192-sha512-modp4096", "aes128-sha384", "AES_CBC-192/HMAC_SHA2_512_256/PRF_HMAC_SHA2_512/MODP_4096", "AES_CBC-128/HMAC_SHA2_384_192")]
    [InlineData("aes128-sha384 aes256-sha1", "5 15", "aes256-sha1", "aes256-sha1-modp3072", "aes256-sha1", "AES_CBC-256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_3072", "AES_CBC-256/HMAC_SHA1_96")]
    public Task A_strongSwan_client_dials_in_with_each_proposal_family_and_pings_through_the_unit(
        string phase1Proposal, string dhgrp, string phase2Proposal, string swanIke, string swanEsp, string ikeListed, string espListed, string? pfsGroup = null) =>
        DialInAndPing(new Proposals(phase1Proposal, dhgrp, phase2Proposal, swanIke, swanEsp, ikeListed, espListed, pfsGroup));

    /// <summary>
    /// FortiOS keywords for the unit, charon's for the client, and how `swanctl --list-sas` names the outcome.
    /// <paramref name="PfsGroup"/>: phase2 dhgrp (pfs is FortiOS's default enable) with charon's esp_proposals naming the
    /// same group, so charon's CHILD SA rekey runs a new DH.
    /// </summary>
    public sealed record Proposals(string Phase1, string DhGroups, string Phase2, string SwanIke, string SwanEsp, string IkeListed, string EspListed, string? PfsGroup);

    private async Task DialInAndPing(Proposals? proposals)
    {
        RequiredTool.Check("ip", "sysctl", "ping", "nft", "swanctl", RequiredTool.Charon, RequiredTool.KernelLibipsec);
        using var files = new CharonFiles(proposals?.SwanIke, proposals?.SwanEsp);
        var (work, vici) = (files.Work, files.Vici);

        using var lab = new NetnsLab();
        var (nsPc1, nsClient, nsRouter, nsUnit, nsServer) = (lab.Namespace(), lab.Namespace(), lab.Namespace(), lab.Namespace(), lab.Namespace());
        lab.Cable(nsPc1, "eth0", nsClient, "lan");
        lab.Cable(nsClient, "wan", nsRouter, "r7");
        lab.Cable(nsRouter, "c1", nsUnit, "port2");
        lab.Cable(nsUnit, "port3", nsServer, "s1");
        Sh(nsClient, "ip link set lo up; ip addr add 192.168.7.2/24 dev wan; ip route add default via 192.168.7.1;"
            + " ip addr add 10.10.1.1/24 dev lan; sysctl -qw net.ipv4.ip_forward=1");
        Sh(nsPc1, "ip link set lo up; ip addr add 10.10.1.2/24 dev eth0; ip route add default via 10.10.1.1");
        Sh(nsRouter, "ip link set lo up; ip addr add 192.168.7.1/24 dev r7; ip addr add 192.168.129.1/24 dev c1;"
            + " ip route add 192.168.202.35/32 via 192.168.129.254; sysctl -qw net.ipv4.ip_forward=1");
        Sh(nsServer, "ip link set lo up; ip addr add 172.31.129.1/24 dev s1; ip addr add 10.10.101.2/32 dev lo;"
            + " ip route add default via 172.31.129.254");

        using var unitIo = new KernelPacketIo(new KernelPacketIoOptions { Namespace = nsUnit, AnsweringOnOpen = false, Log = Log });
        Log(unitIo.PrepareNamespace(["port2", "port3", "port5"]).ToString());
        var config = LoopbackLab.ScenarioConfig("DC2_VM1",
            "config system ha\nset hello-holddown 5\nend\nconfig vpn ipsec phase1-interface\nedit \"vpn1\"\nset nattraversal enable\n"
            + (proposals is null ? "" : $"set proposal {proposals.Phase1}\nset dhgrp {proposals.DhGroups}\n") + "next\nend"
            + (proposals is null ? "" : $"\nconfig vpn ipsec phase2-interface\nedit \"vpn1\"\nset proposal {proposals.Phase2}\n"
                + (proposals.PfsGroup is { } pfs ? $"set dhgrp {pfs}\n" : "") + "next\nend"));
        var dataDir = Path.Combine(work, "unit");
        var akka = new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeTcpPort());
        var options = new UnitOptions("DC2_VM1", config, config.SerialNumber!, dataDir, akka, new IPEndPoint(IPAddress.Loopback, 0),
            [new HbdevWiring("port4", new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeUdpPort()), [])], [UnitHost.AkkaAddress(akka)], [])
            { Tls = LabCertificateAuthority.ForSpecs("DC2_VM1", config.SerialNumber!) };
        var host = await UnitHost.StartAsync(options, packets: unitIo);
        Process? charon = null;
        try
        {
            // The unit is primary alone after hello-holddown and answers on port2: the router reaches lb1 through it.
            await Packets.Eventually(() => NetnsLab.Addresses(nsUnit, "port2").Contains("192.168.129.254/24"), TimeSpan.FromSeconds(20),
                "the unit becomes FGCP primary and puts 192.168.129.254 on port2");
            var lb1 = Sh(nsRouter, "ping -c2 -W2 192.168.202.35", check: false);
            Log(lb1.Output);
            Assert.True(lb1.Ok, "the router cannot ping lb1 through the unit: " + lb1 + "\n" + unitIo.Describe() + Sh(nsRouter, "ip neigh; ip route").Output);

            charon = StartCharon(nsClient, work);
            await Packets.Eventually(() => File.Exists(vici), TimeSpan.FromSeconds(15), "charon opens its vici socket");
            var load = Swanctl(nsClient, vici, "--load-all", "--file", Path.Combine(work, "swanctl.conf"));
            Log(load.Output);
            Assert.True(load.Ok, load + "\n" + CharonLog());

            var initiate = Swanctl(nsClient, vici, "--initiate", "--child", "lan", "--timeout", "20");
            Log(initiate.Output);
            Assert.True(initiate.Ok, "swanctl --initiate failed: " + initiate + "\n" + initiate.Output + "\n" + CharonLog());
            var sas = Swanctl(nsClient, vici, "--list-sas");
            Log(sas.Output);
            Assert.Contains("ESTABLISHED", sas.Output);
            Assert.Contains("INSTALLED", sas.Output);
            if (proposals is not null)
            {
                Assert.Contains(proposals.IkeListed, sas.Output);
                Assert.Contains(proposals.EspListed, sas.Output);
            }

            // -w: wait for every reply (up to 5 s). With -W alone, iputils' ping stops two RTTs after its last request
            // (ping(8)), so a last reply a few ms slow on a loaded machine was counted lost: "5 transmitted, 4 received,
            // time 811ms", CI trial of stop 21 (chacha20poly1305) and stop 19's (ecp256).
            var ping = Sh(nsClient, "ping -c 5 -i 0.2 -W 2 -w 5 -I 10.10.1.1 10.10.101.2", check: false);
            Log(ping.Output);
            Assert.True(ping.Ok, "ping from the client's LAN to the Server through the tunnel failed: " + ping + "\n" + ping.Output + "\n" + CharonLog());
            // With -w, -c 5 is "until 5 replies": ping sends on while replies are late and stops at the fifth, so
            // requests still in flight then count as lost ("8 transmitted, 6 received" when the unit paused 646 ms under
            // the full suite, CI trial of stop 22). At least five replies is the rule.
            var received = System.Text.RegularExpressions.Regex.Match(ping.Output, @"(\d+) received");
            Assert.True(received.Success && int.Parse(received.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 5, "fewer than 5 replies: " + ping.Output);
            Assert.Contains("ttl=63", ping.Output); // the Server's 64, one routed hop through the unit
            var fromPc1 = Sh(nsPc1, "ping -c 5 -i 0.2 -W 2 -w 5 10.10.101.2", check: false);
            Log(fromPc1.Output);
            Assert.True(fromPc1.Ok, "ping from PC1 (10.10.1.2, behind the client) to the Server failed: " + fromPc1 + "\n" + fromPc1.Output);
            Log(Swanctl(nsClient, vici, "--list-sas").Output);

            // strongSwan rekeys the CHILD SA (CREATE_CHILD_SA with REKEY_SA, no PFS) and the new SA carries traffic.
            var rekey = Swanctl(nsClient, vici, "--rekey", "--child", "lan");
            Log(rekey.Output);
            Assert.True(rekey.Ok, rekey + "\n" + CharonLog());
            await Task.Delay(1000);
            var afterRekey = Sh(nsPc1, "ping -c 3 -i 0.2 -W 2 -w 5 10.10.101.2", check: false);
            var sasAfterRekey = Swanctl(nsClient, vici, "--list-sas").Output;
            Log(afterRekey.Output + sasAfterRekey);
            Assert.True(afterRekey.Ok, "ping after the CHILD SA rekey failed: " + afterRekey.Output + "\n" + CharonLog());
            if (proposals is not null) Assert.Contains(proposals.EspListed, sasAfterRekey);
            // The rekeyed CHILD SA lists the PFS group it was made with.
            if (proposals?.PfsGroup is not null) Assert.Contains(proposals.IkeListed.Split('/')[^1], sasAfterRekey.Split("lan:")[^1]);

            // And closes the IKE SA with a Delete the unit answers.
            var terminate = Swanctl(nsClient, vici, "--terminate", "--ike", "vpn1", "--timeout", "10");
            Log(terminate.Output);
            Assert.True(terminate.Ok, terminate + "\n" + CharonLog());
        }
        finally
        {
            Log("---- charon ----\n" + CharonLog());
            if (charon is { HasExited: false })
            {
                charon.Kill();
                charon.WaitForExit(5000);
            }
            await host.KillAsync();
        }
    }

    /// <summary>
    /// The capture harness: strongSwan against the pure <see cref="IkeResponder"/> (vpn1 with nattraversal enable,
    /// seeded randomness) on real UDP sockets 500 and 4500 in a namespace. It prints every datagram strongSwan sent as
    /// hex, with the seed: tests/ClusterActors.Protocol.Tests/Ike/StrongSwanInteropTests.cs replays them byte for byte.
    /// </summary>
    [Fact]
    public async Task A_strongSwan_client_establishes_with_the_pure_IKE_responder_on_UDP_sockets()
    {
        RequiredTool.Check("ip", "swanctl", RequiredTool.Charon, RequiredTool.KernelLibipsec);
        using var files = new CharonFiles();
        var (work, vici) = (files.Work, files.Vici);
        using var lab = new NetnsLab();
        var (nsPc1, nsClient, nsGateway) = (lab.Namespace(), lab.Namespace(), lab.Namespace());
        lab.Cable(nsPc1, "eth0", nsClient, "lan"); // charon installs the CHILD SA's route from an address inside local_ts
        lab.Cable(nsClient, "wan", nsGateway, "gw");
        Sh(nsClient, "ip link set lo up; ip addr add 192.168.7.2/24 dev wan; ip route add default via 192.168.7.1; ip addr add 10.10.1.1/24 dev lan");
        Sh(nsGateway, "ip link set lo up; ip addr add 192.168.7.1/24 dev gw; ip addr add 192.168.202.35/32 dev lo");

        const int seed = 5;
        var responder = new IkeResponder(new IkeGatewaySettings("scenario-psk", "Nokia_Peer", ["aes128-sha1"], [2],
            IPAddress.Parse("192.168.202.35"), 90000, 10800) { NatTraversal = NatTraversal.Enable }, new SeededIkeRandom(seed));
        var sockets = InNamespace(nsGateway, () => new[] { IkeUdp.IkePort, IkeUdp.NatTPort }
            .Select(port => new UdpClient(new IPEndPoint(IPAddress.Parse("192.168.202.35"), port))).ToArray());
        var events = new ConcurrentQueue<IkeEvent>();
        using var stop = new CancellationTokenSource();
        var loops = sockets.Select(socket => Task.Run(async () =>
        {
            var localPort = ((IPEndPoint)socket.Client.LocalEndPoint!).Port;
            while (!stop.IsCancellationRequested)
            {
                UdpReceiveResult got;
                try { got = await socket.ReceiveAsync(stop.Token); }
                catch (OperationCanceledException) { return; }
                Log($"strongSwan -> {localPort} from {got.RemoteEndPoint} ({got.Buffer.Length} bytes): {Convert.ToHexString(got.Buffer)}");
                IkeOutput o;
                lock (responder) o = responder.HandleUdp(got.RemoteEndPoint, localPort, got.Buffer);
                foreach (var e in o.Events) { events.Enqueue(e); Log("responder: " + e); }
                foreach (var r in o.Replies) await socket.SendAsync(r, got.RemoteEndPoint);
            }
        })).ToList();
        Process? charon = null;
        try
        {
            charon = StartCharon(nsClient, work);
            await Packets.Eventually(() => File.Exists(vici), TimeSpan.FromSeconds(15), "charon opens its vici socket");
            Assert.True(Swanctl(nsClient, vici, "--load-all", "--file", Path.Combine(work, "swanctl.conf")).Ok, CharonLog());
            var initiate = Swanctl(nsClient, vici, "--initiate", "--child", "lan", "--timeout", "20");
            Log(initiate.Output);
            Assert.True(initiate.Ok, "swanctl --initiate against the pure responder failed: " + initiate + "\n" + CharonLog());
            var established = Assert.Single(events.OfType<IkeSaEstablished>());
            Assert.Equal("Nokia_Peer", established.PeerId);
            Assert.True(established.Sa.UdpEncapsulatedEsp);
            Assert.Equal("10.10.1.0/24 -> 10.10.101.0/24", $"{Cidr(established.Ts.Initiator[0])} -> {Cidr(established.Ts.Responder[0])}");

            var rekey = Swanctl(nsClient, vici, "--rekey", "--child", "lan");
            Assert.True(rekey.Ok, rekey + "\n" + CharonLog());
            await Packets.Eventually(() => events.OfType<ChildSaRekeyed>().Any(), TimeSpan.FromSeconds(5), "the responder rekeys the CHILD SA");
            await Task.Delay(500);

            // The gateway's own CHILD SA rekey (what a unit does before the 2^28 takeover jumps use up the sequence
            // space): strongSwan answers it, then the gateway deletes the old CHILD SA and strongSwan confirms.
            var spiR = established.Sa.SpiR;
            var peer = responder.Export(spiR)!.PeerEndpoint;
            byte[] rekeyRequest;
            lock (responder) rekeyRequest = responder.RekeyChild(spiR);
            await sockets[1].SendAsync(IkeUdp.Frame(rekeyRequest, IkeUdp.NatTPort), peer);
            await Packets.Eventually(() => events.OfType<ChildSaRekeyed>().Any(e => e.RekeyedHere), TimeSpan.FromSeconds(5),
                "strongSwan answers the gateway's CREATE_CHILD_SA: " + CharonLog());
            var ours = events.OfType<ChildSaRekeyed>().Single(e => e.RekeyedHere);
            byte[] deleteOld;
            lock (responder) deleteOld = responder.CreateDeleteChild(spiR, ours.Old!);
            await sockets[1].SendAsync(IkeUdp.Frame(deleteOld, IkeUdp.NatTPort), peer);
            await Packets.Eventually(() => events.OfType<ChildSaDeleted>().Any(d => d.Child.InboundSpi == ours.Old!.InboundSpi), TimeSpan.FromSeconds(5),
                "strongSwan confirms the delete of the rekeyed CHILD SA: " + CharonLog());
            var sas = Swanctl(nsClient, vici, "--list-sas");
            Log(sas.Output);
            Assert.Contains($"{ours.New.OutboundSpi:x8}", sas.Output); // strongSwan's inbound SPI of the gateway's new CHILD SA
            var terminate = Swanctl(nsClient, vici, "--terminate", "--ike", "vpn1", "--timeout", "5");
            Assert.True(terminate.Ok, terminate + "\n" + CharonLog());
            Assert.Single(events.OfType<IkeSaDeleted>());
        }
        finally
        {
            if (charon is { HasExited: false })
            {
                charon.Kill();
                charon.WaitForExit(5000);
            }
            stop.Cancel();
            await Task.WhenAll(loops);
            foreach (var socket in sockets) socket.Dispose();
        }
    }

    /// <summary>
    /// COOKIE interop (RFC 7296 §2.6): the pure responder with an admission whose threshold 0 asks every IKE_SA_INIT for
    /// a cookie; charon answers N(COOKIE) by sending its request again with the cookie first, and the tunnel comes up.
    /// </summary>
    [Fact]
    public async Task A_strongSwan_client_retries_with_the_gateways_COOKIE_and_establishes()
    {
        RequiredTool.Check("ip", "swanctl", RequiredTool.Charon, RequiredTool.KernelLibipsec);
        using var files = new CharonFiles();
        var (work, vici) = (files.Work, files.Vici);
        using var lab = new NetnsLab();
        var (nsPc1, nsClient, nsGateway) = (lab.Namespace(), lab.Namespace(), lab.Namespace());
        lab.Cable(nsPc1, "eth0", nsClient, "lan");
        lab.Cable(nsClient, "wan", nsGateway, "gw");
        Sh(nsClient, "ip link set lo up; ip addr add 192.168.7.2/24 dev wan; ip route add default via 192.168.7.1; ip addr add 10.10.1.1/24 dev lan");
        Sh(nsGateway, "ip link set lo up; ip addr add 192.168.7.1/24 dev gw; ip addr add 192.168.202.35/32 dev lo");

        var admission = new IkeAdmission(new IkeAdmissionSettings { CookieThreshold = 0 }, TimeProvider.System);
        var responder = new IkeResponder(new IkeGatewaySettings("scenario-psk", "Nokia_Peer", ["aes128-sha1"], [2],
            IPAddress.Parse("192.168.202.35"), 90000, 10800) { NatTraversal = NatTraversal.Enable }, admission: admission);
        var sockets = InNamespace(nsGateway, () => new[] { IkeUdp.IkePort, IkeUdp.NatTPort }
            .Select(port => new UdpClient(new IPEndPoint(IPAddress.Parse("192.168.202.35"), port))).ToArray());
        var events = new ConcurrentQueue<IkeEvent>();
        using var stop = new CancellationTokenSource();
        var loops = sockets.Select(socket => Task.Run(async () =>
        {
            var localPort = ((IPEndPoint)socket.Client.LocalEndPoint!).Port;
            while (!stop.IsCancellationRequested)
            {
                UdpReceiveResult got;
                try { got = await socket.ReceiveAsync(stop.Token); }
                catch (OperationCanceledException) { return; }
                IkeOutput o;
                lock (responder) o = responder.HandleUdp(got.RemoteEndPoint, localPort, got.Buffer);
                foreach (var e in o.Events) { events.Enqueue(e); Log("responder: " + e); }
                foreach (var r in o.Replies) await socket.SendAsync(r, got.RemoteEndPoint);
            }
        })).ToList();
        Process? charon = null;
        try
        {
            charon = StartCharon(nsClient, work);
            await Packets.Eventually(() => File.Exists(vici), TimeSpan.FromSeconds(15), "charon opens its vici socket");
            Assert.True(Swanctl(nsClient, vici, "--load-all", "--file", Path.Combine(work, "swanctl.conf")).Ok, CharonLog());
            var initiate = Swanctl(nsClient, vici, "--initiate", "--child", "lan", "--timeout", "20");
            Log(initiate.Output);
            Assert.True(initiate.Ok, "swanctl --initiate with cookies forced failed: " + initiate + "\n" + CharonLog());
            Assert.Equal("Nokia_Peer", Assert.Single(events.OfType<IkeSaEstablished>()).PeerId);
            IkeAdmissionCounters counters;
            lock (responder) counters = admission.Counters;
            Log("admission: " + counters);
            Assert.True(counters[IkeDropCause.CookieRequired] >= 1, counters.ToString());
            Assert.Equal(1, counters.CookiesAccepted);
            Assert.Equal(0, counters[IkeDropCause.CookieInvalid]);
        }
        finally
        {
            Log("---- charon ----\n" + CharonLog());
            if (charon is { HasExited: false })
            {
                charon.Kill();
                charon.WaitForExit(5000);
            }
            stop.Cancel();
            await Task.WhenAll(loops);
            foreach (var socket in sockets) socket.Dispose();
        }
    }

    private static string Cidr(TrafficSelector ts)
    {
        static uint U(IPAddress a) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(a.GetAddressBytes());
        var size = (double)U(ts.EndAddress) - U(ts.StartAddress) + 1;
        return $"{ts.StartAddress}/{32 - (int)Math.Log2(size)}";
    }

    private sealed class SeededIkeRandom(int seed) : IIkeRandom
    {
        private readonly Random _r = new(seed);
        public byte[] Bytes(int n) { var b = new byte[n]; _r.NextBytes(b); return b; }
    }

    private static T InNamespace<T>(string ns, Func<T> work)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var f = File.OpenHandle("/run/netns/" + ns);
                if (setns((int)f.DangerousGetHandle(), 0x40000000 /* CLONE_NEWNET */) != 0)
                    throw new InvalidOperationException($"setns {ns}: errno {Marshal.GetLastPInvokeError()}");
                result = work();
            }
            catch (Exception e) { error = e; }
        });
        thread.Start();
        thread.Join();
        if (error is not null) throw new InvalidOperationException("in namespace " + ns, error);
        return result;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);

    /// <summary>
    /// A temporary directory with the lab's strongswan.conf (its vici socket inside) and swanctl.conf; it goes however
    /// the spec ends, setup failures included.
    /// </summary>
    private sealed class CharonFiles : IDisposable
    {
        public string Work { get; } = Path.Combine(Path.GetTempPath(), "clusteractors-strongswan-" + Guid.NewGuid().ToString("N")[..8]);

        public string Vici => Path.Combine(Work, "charon.vici");

        /// <param name="ike">charon's IKE proposal instead of the lab's aes128-sha1-modp1024.</param>
        /// <param name="esp">charon's ESP proposal instead of the lab's aes128-sha1.</param>
        public CharonFiles(string? ike = null, string? esp = null)
        {
            var labDir = Path.Combine(RepoRoot(), "src", "Node", "lab", "strongswan");
            Directory.CreateDirectory(Work);
            try
            {
                File.WriteAllText(Path.Combine(Work, "strongswan.conf"), File.ReadAllText(Path.Combine(labDir, "strongswan.conf")).Replace("@VICI@", Vici));
                var swanctl = File.ReadAllText(Path.Combine(labDir, "swanctl.conf"));
                if (ike is not null) swanctl = Replaced(swanctl, "proposals = aes128-sha1-modp1024", $"proposals = {ike}");
                if (esp is not null) swanctl = Replaced(swanctl, "esp_proposals = aes128-sha1", $"esp_proposals = {esp}");
                File.WriteAllText(Path.Combine(Work, "swanctl.conf"), swanctl);
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            try { Directory.Delete(Work, true); } catch (IOException) { /* best effort */ }
        }

        /// <summary>The lab file must still say what is replaced: a silent no-op would test the seed proposal instead.</summary>
        private static string Replaced(string text, string what, string with) =>
            text.Contains(what, StringComparison.Ordinal) ? text.Replace(what, with, StringComparison.Ordinal)
                : throw new InvalidOperationException($"swanctl.conf no longer contains '{what}'");
    }

    private string CharonLog() => string.Join("\n", _charonLog);

    private Process StartCharon(string ns, string work)
    {
        var psi = new ProcessStartInfo("ip", ["netns", "exec", ns, Charon])
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
        psi.Environment["STRONGSWAN_CONF"] = Path.Combine(work, "strongswan.conf");
        var p = Process.Start(psi)!;
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) _charonLog.Enqueue(e.Data); };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) _charonLog.Enqueue(e.Data); };
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        return p;
    }

    private static CommandResult Swanctl(string ns, string vici, params string[] args) =>
        SystemCommand.Run("ip", ["netns", "exec", ns, "swanctl", .. args, "--uri", "unix://" + vici]);

    private static CommandResult Sh(string ns, string script, bool check = true)
    {
        var r = SystemCommand.Run("ip", ["netns", "exec", ns, "sh", "-c", script]);
        if (check && !r.Ok) throw new InvalidOperationException(r + "\n" + r.Output);
        return r;
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "ClusterActors.sln"))) return d.FullName;
        throw new InvalidOperationException("the repository root (ClusterActors.sln) is not above " + AppContext.BaseDirectory);
    }
}
