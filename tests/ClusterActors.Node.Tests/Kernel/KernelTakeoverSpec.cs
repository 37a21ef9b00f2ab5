using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.Hosting.Kernel;
using ClusterActors.Protocol.Packets;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Kernel;

/// <summary>
/// A new FGCP primary's takeover on real interfaces: its ports put the cluster's addresses on their interfaces and
/// announce them the moment the role changes (what <c>ForwardingActor</c> does on <c>HaRoleChanged</c>: Answering on
/// every port). The DC router declares a next hop dead after (misses + 1) probe intervals, a bound only 200–300 ms
/// above FGCP's detection; a takeover that forked one `ip` per address answered the router's probes 256–481 ms late
/// in the docker lab and the router withdrew a cluster that was only failing over. Here the takeover is netlink in
/// this process, measured, and starts no child process.
/// </summary>
[Collection("kernel-io")]
public sealed class KernelTakeoverSpec(ITestOutputHelper output) : IDisposable
{
    /// <summary>The DC router's probe interval: the takeover, from role change to the neighbour hearing it, fits in one.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromMilliseconds(100);

    private readonly NetnsLab _lab = new();
    private readonly List<KernelPacketIo> _hosts = new();
    private readonly ConcurrentQueue<string> _lines = new();

    private KernelPacketIo Host(string ns, bool answeringOnOpen)
    {
        var io = new KernelPacketIo(new KernelPacketIoOptions { Namespace = ns, AnsweringOnOpen = answeringOnOpen, Log = Log });
        _hosts.Add(io);
        return io;
    }

    private void Log(string line)
    {
        _lines.Enqueue(line);
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

    private static InterfaceAddress[] At(params string[] cidrs) => cidrs.Select(InterfaceAddress.Parse).ToArray();

    [Fact]
    public void A_role_change_puts_every_address_on_by_netlink_and_the_neighbour_hears_the_gratuitous_arp_within_a_probe_interval_with_no_child_process()
    {
        RequiredTool.Check("ip", "nft");
        var (nsUnit, nsRouter) = (_lab.Namespace(), _lab.Namespace());
        _lab.Cable(nsUnit, "port2", nsRouter, "leg2");
        _lab.Cable(nsUnit, "port3", nsRouter, "leg3");
        var unitIo = Host(nsUnit, answeringOnOpen: false);
        unitIo.PrepareNamespace(["port2", "port3"]);
        // port2 holds the cluster's address and a second one (a secondary address of the same subnet), port3 one.
        var port2 = (KernelPacketPort)unitIo.Open("port2", At("10.77.20.254/24", "10.77.20.250/24"), new Inbox().Handler);
        var port3 = (KernelPacketPort)unitIo.Open("port3", At("10.77.30.254/24"), new Inbox().Handler);
        NetnsLab.Ip(nsUnit, "addr", "add", "10.77.20.2/24", "dev", "port2"); // the unit's own address: it stays throughout
        var routerIo = Host(nsRouter, answeringOnOpen: true);
        var leg2 = (KernelPacketPort)routerIo.Open("leg2", At("10.77.20.1/24"), new Inbox().Handler);
        var leg3 = (KernelPacketPort)routerIo.Open("leg3", At("10.77.30.1/24"), new Inbox().Handler);
        Assert.Equal(["10.77.20.2/24"], NetnsLab.Addresses(nsUnit, "port2"));
        Assert.Empty(NetnsLab.Addresses(nsUnit, "port3"));

        var children = SystemCommand.ProcessesStarted;
        var (seen2, seen3) = (leg2.Counters.GratuitousArpsSeen, leg3.Counters.GratuitousArpsSeen);
        var sw = Stopwatch.StartNew();
        port2.Answering = true; // the role change, as ForwardingActor makes it: every port in turn
        port3.Answering = true;
        var setters = sw.Elapsed;
        var childrenDuring = SystemCommand.ProcessesStarted - children;
        TimeSpan? heard = null;
        while (sw.Elapsed < TimeSpan.FromSeconds(2))
        {
            if (leg2.Counters.GratuitousArpsSeen >= seen2 + 2 && leg3.Counters.GratuitousArpsSeen >= seen3 + 1)
            {
                heard = sw.Elapsed;
                break;
            }
            Thread.Sleep(1);
        }
        output.WriteLine($"role change: setters returned after {setters.TotalMilliseconds:0.000} ms; gratuitous ARPs for all three addresses heard by the router after "
                         + $"{heard?.TotalMilliseconds.ToString("0.000") ?? "never"} ms; port2 {port2.LastTakeover}; port3 {port3.LastTakeover}");

        Assert.Equal(0, childrenDuring); // no `ip` (nor anything else) forked on the failover path
        Assert.NotNull(heard);
        Assert.True(heard <= Bound, $"gratuitous ARPs heard {heard?.TotalMilliseconds:0} ms after the role change, bound {Bound.TotalMilliseconds:0} ms");
        Assert.Equal(["10.77.20.2/24", "10.77.20.254/24", "10.77.20.250/24"], NetnsLab.Addresses(nsUnit, "port2"));
        Assert.Equal(["10.77.30.254/24"], NetnsLab.Addresses(nsUnit, "port3"));
        foreach (var a in new[] { "10.77.20.254", "10.77.20.250" })
            Assert.Equal(port2.Mac, leg2.NeighbourMac(IPAddress.Parse(a)));
        Assert.Equal(port3.Mac, leg3.NeighbourMac(IPAddress.Parse("10.77.30.254")));
        // The takeover is a measured figure, logged per port.
        Assert.Equal(new { Answering = true, Changed = 2, Addresses = 2 }, new { port2.LastTakeover!.Answering, port2.LastTakeover.Changed, port2.LastTakeover.Addresses });
        Assert.NotNull(port2.LastTakeover.FirstGratuitousArpAfter);
        Assert.True(port2.LastTakeover.AddressesTook <= port2.LastTakeover.FirstGratuitousArpAfter);
        Assert.Contains(_lines, l => l.Contains("port2: takeover: 2 of 2 address(es) added by netlink in") && l.Contains("first gratuitous ARP sent"));
        Assert.Empty(unitIo.Problems);

        // Becoming secondary takes the cluster's addresses off, again without a child process; the unit's own stays.
        children = SystemCommand.ProcessesStarted;
        port2.Answering = false;
        port3.Answering = false;
        Assert.Equal(0, SystemCommand.ProcessesStarted - children);
        Assert.Equal(["10.77.20.2/24"], NetnsLab.Addresses(nsUnit, "port2"));
        Assert.Empty(NetnsLab.Addresses(nsUnit, "port3"));
        Assert.Equal(new { Answering = false, Changed = 1 }, new { port3.LastTakeover!.Answering, port3.LastTakeover.Changed });
        Assert.Empty(unitIo.Problems);
    }

    [Fact]
    public void An_address_already_on_the_interface_is_taken_over_as_it_is_and_stays_when_the_port_goes()
    {
        RequiredTool.Check("ip", "nft");
        var (nsUnit, nsPeer) = (_lab.Namespace(), _lab.Namespace());
        _lab.Cable(nsUnit, "port2", nsPeer, "leg");
        var unitIo = Host(nsUnit, answeringOnOpen: false);
        var port = (KernelPacketPort)unitIo.Open("port2", At("10.77.21.254/24", "10.77.21.250/24"), new Inbox().Handler);
        NetnsLab.Ip(nsUnit, "addr", "add", "10.77.21.254/24", "dev", "port2"); // configured by the lab itself (EEXIST to the port)

        port.Answering = true;
        Assert.Equal(1, port.LastTakeover!.Changed); // only the one it added
        Assert.Empty(unitIo.Problems);               // EEXIST is "already there", not a failure
        Assert.Equal(["10.77.21.254/24", "10.77.21.250/24"], NetnsLab.Addresses(nsUnit, "port2"));

        port.Dispose(); // a killed unit: takes back what it added, leaves what the lab put there
        Assert.Equal(["10.77.21.254/24"], NetnsLab.Addresses(nsUnit, "port2"));
        Assert.Empty(unitIo.Problems);
    }

    /// <summary>
    /// The docker lab's 100 ms after a takeover: once port5 answered, frames for the unit's own per-unit address on
    /// that segment (held by the kernel for Akka/FGSP) reached the unit too; its forwarding plane sent them back out of
    /// port5, asked ARP for its own address and blocked ~100 ms. Here the unit's handler forwards every packet for the
    /// connected subnet out of the port, as the forwarding actor does. lb1's address sits on a dummy interface of the
    /// same namespace (the lab's lab-net does the same) and stays the unit's: the unit answers IKE there, the kernel does not.
    /// </summary>
    [Fact]
    public void On_an_answering_port_a_packet_for_the_units_own_per_unit_address_is_left_to_the_kernel_and_forwarding_stays_responsive()
    {
        RequiredTool.Check("ip", "nft");
        var (nsUnit, nsPeer) = (_lab.Namespace(), _lab.Namespace());
        _lab.Cable(nsUnit, "port5", nsPeer, "leg");
        NetnsLab.Ip(nsUnit, "addr", "add", "10.77.25.12/24", "dev", "port5"); // the unit's own (Akka/FGSP) address: the kernel's
        try
        {
            NetnsLab.Ip(nsUnit, "link", "add", "lb1", "type", "dummy");
        }
        catch (InvalidOperationException)
        {
            NetnsLab.Ip(nsUnit, "link", "add", "lb1", "type", "ifb"); // no dummy module: lab-net's fallback
        }
        NetnsLab.Ip(nsUnit, "addr", "add", "10.77.26.35/32", "dev", "lb1"); // lb1: the unit's, on another interface
        NetnsLab.Ip(nsUnit, "link", "set", "lb1", "up");
        var unitIo = Host(nsUnit, answeringOnOpen: false);
        var delivered = new ConcurrentQueue<(string Destination, TimeSpan Handled)>();
        var connected = Ipv4Prefix.Parse("10.77.25.0/24");
        KernelPacketPort? port5 = null;
        port5 = (KernelPacketPort)unitIo.Open("port5", At("10.77.25.254/24"), (from, bytes) =>
        {
            // The forwarding plane: a packet for the connected subnet goes out of the same port to its destination.
            var sw = Stopwatch.StartNew();
            Assert.True(Ipv4Packet.TryParse(bytes, out var p, out _));
            if (connected.Contains(p.Destination) && !p.Destination.Equals(IPAddress.Parse("10.77.25.254"))) port5!.Send(p.Destination, bytes);
            delivered.Enqueue((p.Destination.ToString(), sw.Elapsed));
        });
        var peerIo = Host(nsPeer, answeringOnOpen: true);
        var peerInbox = new Inbox();
        var leg = (KernelPacketPort)peerIo.Open("leg", At("10.77.25.1/24"), peerInbox.Handler);
        port5.Answering = true; // the takeover
        Assert.Equal("10.77.25.12", port5.KernelHeld.ToString());
        var arpsBefore = port5.Counters.ArpRequestsSent;

        // A frame for the unit's own address arrives on the answering port, then one for lb1, then one for the cluster's address.
        var sw = Stopwatch.StartNew();
        Assert.True(leg.Send(IPAddress.Parse("10.77.25.12"), Packets.EchoRequest("10.77.25.1", "10.77.25.12", 1)));
        Assert.True(leg.Send(IPAddress.Parse("10.77.25.254"), Packets.EchoRequest("10.77.25.1", "10.77.26.35", 2)));
        Assert.True(leg.Send(IPAddress.Parse("10.77.25.254"), Packets.EchoRequest("10.77.25.1", "10.77.25.254", 3)));
        TimeSpan? clusterDelivered = null;
        while (sw.Elapsed < TimeSpan.FromSeconds(2) && clusterDelivered is null)
        {
            if (delivered.Any(d => d.Destination == "10.77.25.254")) clusterDelivered = sw.Elapsed;
            else Thread.Sleep(1);
        }
        // The kernel answers its own address's echo (left to it, not lost).
        var kernelReply = peerInbox.Next(TimeSpan.FromSeconds(2), p => p.Source.Equals(IPAddress.Parse("10.77.25.12")));
        output.WriteLine($"delivered to the unit: {string.Join("; ", delivered.Select(d => $"{d.Destination} handled in {d.Handled.TotalMilliseconds:0.0} ms"))}; "
                         + $"the cluster's packet after {clusterDelivered?.TotalMilliseconds.ToString("0.0") ?? "never"} ms; port5 {port5.Counters}");

        Assert.DoesNotContain(delivered, d => d.Destination == "10.77.25.12"); // never the unit's
        Assert.Contains(delivered, d => d.Destination == "10.77.26.35");       // lb1's is the unit's
        Assert.Equal(1, port5.Counters.LeftToKernel);
        Assert.Equal(arpsBefore, port5.Counters.ArpRequestsSent);             // no ARP for its own address
        Assert.Null(port5.NeighbourMac(IPAddress.Parse("10.77.25.12")));
        Assert.NotNull(clusterDelivered);
        Assert.True(clusterDelivered < TimeSpan.FromMilliseconds(50),
            $"the cluster's packet reached the unit {clusterDelivered?.TotalMilliseconds:0} ms after it was sent (the forwarding plane waited on ARP)");
        Assert.NotNull(kernelReply);
        Assert.Empty(unitIo.Problems);
    }
}
