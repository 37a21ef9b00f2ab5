using System.Diagnostics;
using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.Hosting.Kernel;
using ClusterActors.Protocol.Packets;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Kernel;

/// <summary>
/// <see cref="KernelPacketIo"/> on real Linux networking: two hosts, each a KernelPacketIo in a network namespace of
/// its own, cabled with a veth pair. Needs root (CI runs as root) and the tools of .ci/test-prerequisites; each spec
/// fails at once, naming the tool and its package, when one it uses is missing (<see cref="RequiredTool"/>).
/// </summary>
[Collection("kernel-io")]
public sealed class KernelPacketIoSpec(ITestOutputHelper output) : IDisposable
{
    private readonly NetnsLab _lab = new();
    private readonly List<KernelPacketIo> _hosts = new();

    private KernelPacketIo Host(string ns, bool answeringOnOpen = true)
    {
        var io = new KernelPacketIo(new KernelPacketIoOptions { Namespace = ns, AnsweringOnOpen = answeringOnOpen, Log = Log });
        _hosts.Add(io);
        return io;
    }

    private void Log(string line)
    {
        try { output.WriteLine(line); } catch (InvalidOperationException) { /* after the test */ }
    }

    public void Dispose()
    {
        try
        {
            foreach (var h in _hosts) h.Dispose();
        }
        finally
        {
            _lab.Dispose();
        }
    }

    private static InterfaceAddress[] At(string cidr) => [InterfaceAddress.Parse(cidr)];

    [Fact]
    public void A_packet_sent_to_a_neighbour_arrives_whole_on_its_callback_and_a_ping_round_trips()
    {
        RequiredTool.Check("ip", "nft");
        var (nsA, nsB) = (_lab.Namespace(), _lab.Namespace());
        _lab.Cable(nsA, "port2", nsB, "port2");
        var inboxA = new Inbox();
        var a = Host(nsA).Open("port2", At("10.77.1.1/24"), inboxA.Handler);
        var received = new Inbox();
        IPacketPort? b = null;
        var hostB = Host(nsB);
        hostB.PrepareNamespace(["port2"]); // B answers echo itself: its kernel must not answer as well
        b = hostB.Open("port2", At("10.77.1.2/24"), (port, bytes) =>
        {
            received.Handler(port, bytes);
            if (IcmpEcho.TryReply(bytes, out var reply)) port.Send(IPAddress.Parse("10.77.1.1"), reply);
        });
        Assert.Contains("10.77.1.1/24", NetnsLab.Addresses(nsA, "port2")); // answering on open puts the address on the interface

        var request = Packets.EchoRequest("10.77.1.1", "10.77.1.2", 1);
        var sw = Stopwatch.StartNew();
        Assert.True(a.Send(IPAddress.Parse("10.77.1.2"), request), "the first send resolves the neighbour and goes out");
        output.WriteLine($"first send: {sw.Elapsed.TotalMilliseconds:0.0} ms (B's gratuitous ARP on open may have taught A already)");
        Assert.Equal(request, received.Next(TimeSpan.FromSeconds(2))); // the whole IPv4 packet, no Ethernet header, no padding
        var firstReply = inboxA.Next(TimeSpan.FromSeconds(2), p => Packets.IsEcho(p, IcmpEchoType.Reply, 1));
        if (firstReply is null) output.WriteLine(_hosts[0].Describe() + hostB.Describe());
        Assert.NotNull(firstReply);

        // Round trips through both kernels' AF_PACKET paths, one at a time.
        var rtts = new List<double>();
        for (ushort seq = 2; seq < 202; seq++)
        {
            sw.Restart();
            Assert.True(a.Send(IPAddress.Parse("10.77.1.2"), Packets.EchoRequest("10.77.1.1", "10.77.1.2", seq)));
            Assert.NotNull(inboxA.Next(TimeSpan.FromSeconds(1), p => Packets.IsEcho(p, IcmpEchoType.Reply, seq)));
            rtts.Add(sw.Elapsed.TotalMilliseconds);
        }
        rtts.Sort();
        output.WriteLine($"200 pings through two KernelPacketIo hosts: rtt min {rtts[0]:0.000} / p50 {rtts[100]:0.000} / p99 {rtts[197]:0.000} / max {rtts[^1]:0.000} ms");
        Assert.Equal(0, inboxA.Count); // one reply per request: B's kernel did not answer too
        Assert.Equal(201, ((KernelPacketPort)b).Counters.Received);

        // A next hop nobody answers for: false after the bounded wait, then false at once while it is held down.
        sw.Restart();
        Assert.False(a.Send(IPAddress.Parse("10.77.1.99"), Packets.EchoRequest("10.77.1.1", "10.77.1.99", 1)));
        var firstMiss = sw.Elapsed;
        sw.Restart();
        Assert.False(a.Send(IPAddress.Parse("10.77.1.99"), Packets.EchoRequest("10.77.1.1", "10.77.1.99", 2)));
        output.WriteLine($"unresolved next hop: {firstMiss.TotalMilliseconds:0} ms, then {sw.Elapsed.TotalMilliseconds:0.0} ms");
        Assert.InRange(firstMiss.TotalMilliseconds, 90, 400);
        Assert.True(sw.Elapsed < TimeSpan.FromMilliseconds(20));
        Assert.Equal(2, ((KernelPacketPort)a).Counters.Unresolved);
        output.WriteLine(_hosts[0].Describe() + hostB.Describe());
    }

    [Fact]
    public async Task A_silent_port_leaves_its_address_off_the_interface_and_answering_announces_it_with_a_gratuitous_arp()
    {
        RequiredTool.Check("ip", "nft");
        var (nsUnit, nsRouter) = (_lab.Namespace(), _lab.Namespace());
        _lab.Cable(nsUnit, "port2", nsRouter, "leg");
        var unitInbox = new Inbox();
        var unitIo = Host(nsUnit, answeringOnOpen: false);
        unitIo.PrepareNamespace(["port2"]);
        var unit = (KernelPacketPort)unitIo.Open("port2", At("10.77.2.254/24"), unitInbox.Handler);
        var router = (KernelPacketPort)Host(nsRouter).Open("leg", At("10.77.2.1/24"), new Inbox().Handler);
        var cluster = IPAddress.Parse("10.77.2.254");
        var probe = Packets.EchoRequest("10.77.2.1", "10.77.2.254", 1);

        Assert.Empty(NetnsLab.Addresses(nsUnit, "port2"));
        Assert.False(router.Send(cluster, probe), "nobody answers ARP for the address of a silent port");
        Assert.Null(router.NeighbourMac(cluster));

        var requestsBefore = router.Counters.ArpRequestsSent;
        unit.Answering = true;
        Assert.Contains("10.77.2.254/24", NetnsLab.Addresses(nsUnit, "port2"));
        var heard = await Packets.Eventually(() => router.Counters.GratuitousArpsSeen > 0 && unit.Mac.Equals(router.NeighbourMac(cluster)),
            TimeSpan.FromSeconds(2), "the router hears the unit's gratuitous ARP");
        output.WriteLine($"gratuitous ARP heard {heard.TotalMilliseconds:0} ms after Answering = true; unit port2 is {KernelPacketPort.FormatMac(unit.Mac)}");
        Assert.Equal(requestsBefore, router.Counters.ArpRequestsSent); // learned from the announcement, not by asking
        Assert.True(router.Send(cluster, probe));
        Assert.Equal(probe, unitInbox.Next(TimeSpan.FromSeconds(2)));

        // A per-unit address on the same port, added after the cluster's: it stays when the cluster's goes.
        NetnsLab.Ip(nsUnit, "addr", "add", "10.77.2.253/24", "dev", "port2");
        unit.Answering = false;
        Assert.Equal(["10.77.2.253/24"], NetnsLab.Addresses(nsUnit, "port2"));
        // A neighbour that still has the old entry sends to the unit's MAC: a silent port does not take it.
        Assert.True(router.Send(cluster, probe));
        await Packets.Eventually(() => unit.Counters.IgnoredSilent == 1, TimeSpan.FromSeconds(2), "the silent port drops it");
        Assert.Null(unitInbox.Next(TimeSpan.FromMilliseconds(100)));
        // A fresh neighbour on the link asks by ARP and gets no answer: the kernel no longer holds the address.
        using var fresh = new KernelPacketIo(new KernelPacketIoOptions { Namespace = nsRouter, Log = Log });
        var freshLeg = (KernelPacketPort)fresh.Open("leg", At("10.77.2.1/24"), new Inbox().Handler);
        Assert.False(freshLeg.Send(cluster, probe));
        Assert.Equal(1, freshLeg.Counters.ArpRequestsSent);

        unit.Answering = true;
        await Packets.Eventually(() => freshLeg.NeighbourMac(cluster) is not null, TimeSpan.FromSeconds(2), "announced again");
        output.WriteLine(unit.Describe() + router.Describe() + freshLeg.Describe());
        // Each announcement is two gratuitous ARPs 500 ms apart; going silent cancelled the first one's second.
        await Packets.Eventually(() => unit.Counters.GratuitousArpsSent == 3, TimeSpan.FromSeconds(2), "the second announcement's two gratuitous ARPs");
    }

    /// <summary>The router's kernel ARP entry for <paramref name="address"/> on <paramref name="dev"/> (`ip neigh`), or "".</summary>
    private static string Neigh(string ns, string address, string dev) => NetnsLab.Ip(ns, "neigh", "show", address, "dev", dev).Trim();

    private static bool Ping(string ns, string address)
    {
        var r = SystemCommand.Run("ip", ["netns", "exec", ns, RequiredTool.Path("ping"), "-c", "1", "-W", "1", address]);
        return r.Ok;
    }

    [Fact]
    public async Task A_port_that_already_answers_sends_gratuitous_arps_again_when_told_and_the_neighbours_arp_cache_takes_its_mac()
    {
        RequiredTool.Check("ip", "sysctl", "ping");
        // Cluster 1 on one switch (a bridge in the router's namespace): DC2_VM1 and DC2_VM2 both hold 10.77.8.254, the
        // router is a Linux stack with its own ARP cache, accepting gratuitous ARPs as a DC router does.
        var (nsVm1, nsVm2, nsRouter) = (_lab.Namespace(), _lab.Namespace(), _lab.Namespace());
        _lab.Cable(nsVm1, "port2", nsRouter, "sw1");
        _lab.Cable(nsVm2, "port2", nsRouter, "sw2");
        NetnsLab.Ip(nsRouter, "link", "add", "br0", "type", "bridge");
        NetnsLab.Ip(nsRouter, "link", "set", "sw1", "master", "br0");
        NetnsLab.Ip(nsRouter, "link", "set", "sw2", "master", "br0");
        NetnsLab.Ip(nsRouter, "link", "set", "br0", "up");
        NetnsLab.Ip(nsRouter, "addr", "add", "10.77.8.1/24", "dev", "br0");
        var accept = SystemCommand.Run("ip", ["netns", "exec", nsRouter, "sysctl", "-qw", "net.ipv4.conf.br0.arp_accept=1"]);
        Assert.True(accept.Ok, accept.ToString());
        const string cluster = "10.77.8.254";
        KernelPacketIo Unit(string ns)
        {
            var io = new KernelPacketIo(new KernelPacketIoOptions
            {
                Namespace = ns, Log = Log, GratuitousArps = 2, GratuitousArpInterval = TimeSpan.FromMilliseconds(100),
            });
            _hosts.Add(io);
            return io;
        }
        string Mac(KernelPacketPort p) => KernelPacketPort.FormatMac(p.Mac);

        // DC2_VM1 is primary and answers: the router learns its MAC from the gratuitous ARPs.
        var vm1 = (KernelPacketPort)Unit(nsVm1).Open("port2", At($"{cluster}/24"), new Inbox().Handler);
        await Packets.Eventually(() => Neigh(nsRouter, cluster, "br0").Contains(Mac(vm1)), TimeSpan.FromSeconds(3), "the router learns DC2_VM1");
        await Packets.Eventually(() => vm1.Counters.GratuitousArpsSent == 2, TimeSpan.FromSeconds(2), "DC2_VM1's two gratuitous ARPs");

        // Split brain: DC2_VM2 answers too and announces last; the router moves the address to it.
        var vm2 = (KernelPacketPort)Unit(nsVm2).Open("port2", At($"{cluster}/24"), new Inbox().Handler);
        await Packets.Eventually(() => Neigh(nsRouter, cluster, "br0").Contains(Mac(vm2)), TimeSpan.FromSeconds(3), "the router learns DC2_VM2");
        await Packets.Eventually(() => vm2.Counters.GratuitousArpsSent == 2, TimeSpan.FromSeconds(2), "DC2_VM2's two gratuitous ARPs");

        // The heal: DC2_VM2 becomes secondary and goes silent; DC2_VM1 answered all along, so nothing moves the router back.
        vm2.Answering = false;
        await Task.Delay(500);
        Assert.Contains(Mac(vm2), Neigh(nsRouter, cluster, "br0"));
        Assert.Equal(2, vm1.Counters.GratuitousArpsSent);
        var silentBefore = vm2.Counters.IgnoredSilent;
        Assert.False(Ping(nsRouter, cluster), "the router's ping goes to DC2_VM2's MAC, which no longer holds the address");
        await Packets.Eventually(() => vm2.Counters.IgnoredSilent > silentBefore, TimeSpan.FromSeconds(2), "DC2_VM2 saw the ping and dropped it");

        // FGCP kept DC2_VM1 primary through the negotiation: it announces again.
        Assert.True(vm1.Answering);
        vm1.Reannounce();
        var moved = await Packets.Eventually(() => Neigh(nsRouter, cluster, "br0").Contains(Mac(vm1)), TimeSpan.FromSeconds(3),
            "the router's ARP cache holds DC2_VM1's MAC again");
        await Packets.Eventually(() => vm1.Counters.GratuitousArpsSent == 4, TimeSpan.FromSeconds(2), "two more gratuitous ARPs");
        output.WriteLine($"router: {Neigh(nsRouter, cluster, "br0")} {moved.TotalMilliseconds:0} ms after Reannounce; DC2_VM1 {Mac(vm1)}, DC2_VM2 {Mac(vm2)}");
        Assert.True(Ping(nsRouter, cluster), "the router reaches the cluster address on DC2_VM1 again");

        // A silent port announces nothing when told to.
        vm2.Reannounce();
        await Task.Delay(300);
        Assert.Equal(2, vm2.Counters.GratuitousArpsSent);
        Assert.Contains(Mac(vm1), Neigh(nsRouter, cluster, "br0"));
        output.WriteLine(vm1.Describe() + vm2.Describe());
    }

    [Fact]
    public async Task Carrier_follows_the_far_end_of_the_cable_and_admin_state()
    {
        RequiredTool.Check("ip");
        var (nsA, nsB) = (_lab.Namespace(), _lab.Namespace());
        _lab.Cable(nsA, "port3", nsB, "peer");
        var a = Host(nsA).Open("port3", At("10.77.3.1/24"), new Inbox().Handler);
        var events = new List<bool>();
        a.CarrierChanged += (_, up) => { lock (events) events.Add(up); };
        Assert.True(a.IsUp);
        Assert.True(a.AdminUp);

        NetnsLab.Ip(nsB, "link", "set", "peer", "down");
        var down = await Packets.Eventually(() => !a.IsUp, TimeSpan.FromSeconds(2), "carrier lost when the peer goes down");
        Assert.True(a.AdminUp);
        Assert.False(a.Send(IPAddress.Parse("10.77.3.2"), Packets.EchoRequest("10.77.3.1", "10.77.3.2", 1)));
        NetnsLab.Ip(nsB, "link", "set", "peer", "up");
        var up = await Packets.Eventually(() => a.IsUp, TimeSpan.FromSeconds(2), "carrier back");
        output.WriteLine($"carrier loss seen after {down.TotalMilliseconds:0} ms, carrier back after {up.TotalMilliseconds:0} ms (polled every 100 ms)");

        var children = SystemCommand.ProcessesStarted;
        a.AdminUp = false; // `set status down`
        Assert.Equal(children, SystemCommand.ProcessesStarted); // an ioctl on the port's socket, no `ip` process
        Assert.False(a.AdminUp);
        Assert.False(a.IsUp);
        Assert.Contains("state DOWN", NetnsLab.Ip(nsA, "link", "show", "port3"));
        a.AdminUp = true;
        await Packets.Eventually(() => a.IsUp, TimeSpan.FromSeconds(2), "up again after admin up");
        await Task.Delay(150);
        lock (events) Assert.Equal([false, true, false, true], events);
    }

    /// <summary>CPU time (utime + stime, clock ticks) of this process's threads whose name starts with <paramref name="prefix"/>.</summary>
    private static long ThreadTicks(string prefix)
    {
        long ticks = 0;
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                if (!File.ReadAllText(Path.Combine(task, "comm")).StartsWith(prefix, StringComparison.Ordinal)) continue;
                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks += long.Parse(fields[11]) + long.Parse(fields[12]); // utime, stime (fields 14 and 15 of stat)
            }
            catch (IOException) { /* the thread ended */ }
        }
        return ticks;
    }

    [Fact]
    public async Task A_port_whose_interface_went_down_waits_for_it_and_does_not_spin_on_the_pending_error()
    {
        // `set status down` leaves ENETDOWN pending on the port's sockets; polling for reads alone returned at once,
        // forever: two threads at 100 % (DC2_VM2 after fgsp-failover, the docker lab's load at 120).
        RequiredTool.Check("ip");
        var (nsA, nsB) = (_lab.Namespace(), _lab.Namespace());
        _lab.Cable(nsA, "pspin", nsB, "peer");
        var inbox = new Inbox();
        var a = Host(nsA).Open("pspin", At("10.77.6.1/24"), inbox.Handler);
        a.AdminUp = false;
        await Task.Delay(300);
        var before = ThreadTicks("kernel-io pspin");
        await Task.Delay(1000);
        var spent = ThreadTicks("kernel-io pspin") - before;
        output.WriteLine($"receive threads of a down port: {spent} ticks of CPU in 1 s; {_hosts[0].Describe()}");
        Assert.True(spent < 20, $"the down port's receive threads used {spent} clock ticks in 1 s (a spin uses ~200)");
        Assert.True(((KernelPacketPort)a).Counters.SocketErrors > 0, "the pending ENETDOWN was read");

        a.AdminUp = true; // and it receives again once up
        var b = Host(nsB).Open("peer", At("10.77.6.2/24"), new Inbox().Handler);
        await Packets.Eventually(() => a.IsUp && b.IsUp, TimeSpan.FromSeconds(2), "both ends up");
        Assert.True(b.Send(IPAddress.Parse("10.77.6.1"), Packets.EchoRequest("10.77.6.2", "10.77.6.1", 7)));
        Assert.NotNull(inbox.Next(TimeSpan.FromSeconds(2), p => Packets.IsEcho(p, IcmpEchoType.Request, 7)));
    }

    [Fact]
    public async Task A_frame_that_waited_in_the_socket_longer_than_StaleAfter_is_dropped_and_a_fresh_one_delivered()
    {
        // The receive thread held up (as a SIGSTOP'd unit is) while frames queue in the kernel: on release they are
        // older than StaleAfter by the kernel's timestamp, so they are counted, not delivered; the managed stamp a
        // forwarding plane takes on delivery would call them new.
        RequiredTool.Check("ip");
        var (nsA, nsB) = (_lab.Namespace(), _lab.Namespace());
        _lab.Cable(nsA, "port2", nsB, "port2");
        var io = new KernelPacketIo(new KernelPacketIoOptions { Namespace = nsA, StaleAfter = TimeSpan.FromMilliseconds(200), Log = Log });
        _hosts.Add(io);
        var delivered = new Inbox();
        using var release = new ManualResetEventSlim();
        var first = true;
        var a = io.Open("port2", At("10.77.7.1/24"), (port, bytes) =>
        {
            if (first) { first = false; release.Wait(TimeSpan.FromSeconds(5)); } // stuck, as a stopped process
            delivered.Handler(port, bytes);
        });
        var b = Host(nsB).Open("port2", At("10.77.7.2/24"), new Inbox().Handler);
        await Packets.Eventually(() => a.IsUp && b.IsUp, TimeSpan.FromSeconds(2), "both ends up");
        var to = IPAddress.Parse("10.77.7.1");
        Assert.True(b.Send(to, Packets.EchoRequest("10.77.7.2", "10.77.7.1", 1)));
        await Task.Delay(100);
        for (ushort seq = 2; seq <= 6; seq++) Assert.True(b.Send(to, Packets.EchoRequest("10.77.7.2", "10.77.7.1", seq)));
        await Task.Delay(500); // they wait in the socket, past StaleAfter
        release.Set();
        Assert.NotNull(delivered.Next(TimeSpan.FromSeconds(2), p => Packets.IsEcho(p, IcmpEchoType.Request, 1)));
        Assert.True(b.Send(to, Packets.EchoRequest("10.77.7.2", "10.77.7.1", 7)));
        Assert.NotNull(delivered.Next(TimeSpan.FromSeconds(2), p => Packets.IsEcho(p, IcmpEchoType.Request, 7)));
        var counters = ((KernelPacketPort)a).Counters;
        output.WriteLine(io.Describe());
        Assert.Equal(0, delivered.Count); // 2..6 never delivered (7 was taken above, right after 1)
        Assert.Equal(5, counters.StaleQueued);
    }

    [Theory]
    [InlineData(NamespaceFirewall.Nftables)]
    [InlineData(NamespaceFirewall.Iptables)]
    public void After_PrepareNamespace_the_kernel_leaves_echo_ike_and_esp_to_the_unit_and_does_not_forward(NamespaceFirewall firewall)
    {
        RequiredTool.Check("ip", "sysctl", firewall == NamespaceFirewall.Iptables ? "iptables" : "nft");
        var (nsPeer, nsUnit) = (_lab.Namespace(), _lab.Namespace());
        _lab.Cable(nsPeer, "port2", nsUnit, "port2");
        var peerInbox = new Inbox();
        var peer = Host(nsPeer).Open("port2", At("10.77.4.1/24"), peerInbox.Handler);
        var unitInbox = new Inbox();
        var unitIo = Host(nsUnit);
        unitIo.Open("port2", At("10.77.4.254/24"), unitInbox.Handler); // the unit gets it but does not answer here
        var unit = IPAddress.Parse("10.77.4.254");
        // A new namespace inherits ip_forward from the host: 1 wherever Docker runs (the reason to prepare), 0 on a fresh
        // machine. Set as a Docker host hands it down, so the spec proves PrepareNamespace turns it off on any machine.
        Assert.True(SystemCommand.Run("ip", ["netns", "exec", nsUnit, "sysctl", "-qw", "net.ipv4.ip_forward=1"]).Ok);
        Assert.Equal("1", NetnsLab.Read(nsUnit, "/proc/sys/net/ipv4/ip_forward"));

        // Unprepared, the kernel answers the echo the unit is meant to answer.
        Assert.True(peer.Send(unit, Packets.EchoRequest("10.77.4.1", "10.77.4.254", 1)));
        Assert.NotNull(unitInbox.Next(TimeSpan.FromSeconds(1)));
        Assert.NotNull(peerInbox.Next(TimeSpan.FromSeconds(1), p => Packets.IsEcho(p, IcmpEchoType.Reply, 1)));

        var prepared = unitIo.PrepareNamespace(["port2", "port3"], firewall);
        output.WriteLine(prepared.ToString());
        Assert.Equal("0", NetnsLab.Read(nsUnit, "/proc/sys/net/ipv4/ip_forward"));
        Assert.Equal("1", NetnsLab.Read(nsUnit, "/proc/sys/net/ipv4/conf/all/arp_ignore"));
        unitIo.PrepareNamespace(["port2", "port3"], firewall); // idempotent

        peerInbox.Clear();
        Assert.True(peer.Send(unit, Packets.EchoRequest("10.77.4.1", "10.77.4.254", 2)));
        Assert.True(peer.Send(unit, Packets.Udp("10.77.4.1", "10.77.4.254", 500)));
        Assert.True(peer.Send(unit, Packets.Udp("10.77.4.1", "10.77.4.254", 4500)));
        Assert.True(peer.Send(unit, Packets.Esp("10.77.4.1", "10.77.4.254")));
        for (var i = 0; i < 4; i++) Assert.NotNull(unitInbox.Next(TimeSpan.FromSeconds(1))); // the unit still gets all of it
        Assert.Null(peerInbox.Next(TimeSpan.FromMilliseconds(400))); // no echo reply, no port or protocol unreachable

        // The kernel is still there for everything else: UDP to a closed port gets its port unreachable.
        Assert.True(peer.Send(unit, Packets.Udp("10.77.4.1", "10.77.4.254", 7777)));
        var unreachable = peerInbox.Next(TimeSpan.FromSeconds(1));
        Assert.NotNull(unreachable);
        Assert.True(Ipv4Packet.TryParse(unreachable, out var icmp, out _));
        Assert.Equal((Ipv4Packet.ProtocolIcmp, (byte)3, (byte)3), (icmp.Protocol, icmp.Payload[0], icmp.Payload[1]));
    }

    [Fact]
    public void The_entrypoint_script_prepares_a_namespace_as_PrepareNamespace_does()
    {
        RequiredTool.Check("ip", "nft");
        var ns = _lab.Namespace();
        var script = NamespacePreparation.Script(["port2", "port3", "port5"]);
        output.WriteLine(script);
        var r = SystemCommand.Run("ip", ["netns", "exec", ns, "sh", "-c", script]);
        Assert.True(r.Ok, r.ToString());
        Assert.Equal("0", NetnsLab.Read(ns, "/proc/sys/net/ipv4/ip_forward"));
        Assert.Equal("2", NetnsLab.Read(ns, "/proc/sys/net/ipv4/conf/all/arp_announce"));
        var table = SystemCommand.InNamespace(ns, "nft", ["list", "table", "ip", NamespacePreparation.NftTable]);
        Assert.True(table.Ok, table.ToString());
        Assert.Contains("icmp type echo-request drop", table.Output);
        Assert.Contains("udp dport { 500, 4500 } drop", table.Output);
    }

    [Fact]
    public void A_udp_packet_from_a_linux_stack_arrives_with_the_checksum_that_offload_left_out()
    {
        RequiredTool.Check("ip");
        var (nsStack, nsHost) = (_lab.Namespace(), _lab.Namespace());
        _lab.Cable(nsStack, "eth0", nsHost, "port3");
        NetnsLab.Ip(nsStack, "addr", "add", "10.77.5.1/24", "dev", "eth0");
        var inbox = new Inbox();
        var port = (KernelPacketPort)Host(nsHost).Open("port3", At("10.77.5.2/24"), inbox.Handler);

        // The kernel's own UDP socket sends it; veth leaves the checksum to an offload that never happens.
        var sent = SystemCommand.Run("ip", ["netns", "exec", nsStack, "bash", "-c", "echo checksum-me > /dev/udp/10.77.5.2/5000"]);
        Assert.True(sent.Ok, sent.ToString());
        var bytes = inbox.Next(TimeSpan.FromSeconds(2), p => p.Protocol == Ipv4Packet.ProtocolUdp);
        Assert.NotNull(bytes);
        Assert.True(Ipv4Packet.TryParse(bytes, out var packet, out _));
        Assert.True(UdpPacket.TryParse(packet, out var datagram), "the checksum verifies");
        Assert.Equal("checksum-me\n", System.Text.Encoding.ASCII.GetString(datagram.Payload));
        Assert.Equal(1, port.Counters.ChecksumsCompleted);
    }

    [Fact]
    public void A_ports_receive_buffer_is_what_it_asked_for_even_above_the_hosts_rmem_max()
    {
        RequiredTool.Check("ip");
        var ns = _lab.Namespace();
        _lab.Cable(ns, "port3", _lab.Namespace(), "eth0");
        // rmem_max is the host's and cannot be lowered from a namespace: ask for twice it instead, which SO_RCVBUF would cap.
        var rmemMax = int.Parse(File.ReadAllText("/proc/sys/net/core/rmem_max").Trim());
        var asked = Math.Min(2 * rmemMax, 256 << 20);
        var io = new KernelPacketIo(new KernelPacketIoOptions { Namespace = ns, ReceiveBuffer = asked, Log = Log });
        _hosts.Add(io);
        var port = (KernelPacketPort)io.Open("port3", At("10.77.6.2/24"), (_, _) => { });
        output.WriteLine($"rmem_max {rmemMax}, asked {asked}, got {port.ReceiveBufferBytes}");
        // The kernel doubles what it grants (bookkeeping); capped, it would be 2 x rmem_max = asked.
        Assert.True(port.ReceiveBufferBytes >= 2 * asked, $"receive buffer {port.ReceiveBufferBytes} B, asked {asked} B: capped at rmem_max {rmemMax}");
    }
}
