using System.Collections.Concurrent;
using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Node.Tests.LabHarness.Fabric;

public class InMemoryFabricSpec
{
    private static readonly IPAddress A = IPAddress.Parse("10.0.0.1");
    private static readonly IPAddress B = IPAddress.Parse("10.0.0.2");
    private static readonly IPAddress Vip = IPAddress.Parse("10.0.0.254");
    private static readonly byte[] Packet = IcmpEcho.Request(7, 1, [9, 9]).InIpv4(A, B).ToBytes();

    /// <summary>Records what a port receives.</summary>
    private sealed class Sink
    {
        public readonly ConcurrentQueue<(IPacketPort Port, byte[] Bytes, int Thread)> Got = new();
        public readonly ConcurrentQueue<bool> Carrier = new();
        public int Count => Got.Count;
        public void On(IPacketPort port, byte[] bytes) => Got.Enqueue((port, bytes, Environment.CurrentManagedThreadId));
        public IPacketPort Watch(IPacketPort port)
        {
            port.CarrierChanged += (_, up) => Carrier.Enqueue(up);
            return port;
        }
    }

    private static InterfaceAddress[] Addr(params string[] cidrs) => cidrs.Select(InterfaceAddress.Parse).ToArray();

    /// <summary>hostA eth0 and hostB eth0 on segment "lan", hostC eth0 on "other" holding B's address too.</summary>
    private static InMemoryFabric TwoHosts()
    {
        var f = new InMemoryFabric();
        f.Cable("hostA", "eth0", "lan");
        f.Cable("hostB", "eth0", "lan");
        f.Cable("hostC", "eth0", "other");
        return f;
    }

    [Fact]
    public void Send_delivers_to_the_port_holding_the_next_hop_synchronously_on_the_senders_thread()
    {
        var f = TwoHosts();
        var sinkA = new Sink();
        var sinkB = new Sink();
        var a = f.Host("hostA").Open("eth0", Addr("10.0.0.1/24"), sinkA.On);
        var b = f.Host("hostB").Open("eth0", Addr("10.0.0.2/24"), sinkB.On);

        Assert.True(a.Send(B, Packet));

        var (port, bytes, thread) = Assert.Single(sinkB.Got);
        Assert.Same(b, port); // the callback gets the receiving port
        Assert.Same(Packet, bytes);
        Assert.Equal(Environment.CurrentManagedThreadId, thread);
        Assert.Empty(sinkA.Got);
        Assert.Equal(new LinkCounters("lan", 1, 0, 0), f.Counters("lan"));
        Assert.Same(f.Host("hostA"), f.Host("hostA"));
    }

    [Fact]
    public void Send_returns_false_when_nobody_on_the_link_holds_the_next_hop_and_never_crosses_segments()
    {
        var f = TwoHosts();
        var sinkC = new Sink();
        var a = f.Host("hostA").Open("eth0", Addr("10.0.0.1/24"), (_, _) => { });
        f.Host("hostC").Open("eth0", Addr("10.0.0.2/24"), sinkC.On); // B's address, but on another segment

        Assert.False(a.Send(B, Packet));
        Assert.False(a.Send(A, Packet)); // the sender's own address: nobody else answers

        Assert.Empty(sinkC.Got);
        Assert.Equal(new LinkCounters("lan", 0, 2, 0), f.Counters("lan"));
        Assert.Equal(new LinkCounters("other", 0, 0, 0), f.Counters("other"));
    }

    [Fact]
    public void Opening_an_interface_without_a_cable_fails_with_a_message_naming_host_interface_and_the_fix()
    {
        var f = TwoHosts();

        var ex = Assert.Throws<InvalidOperationException>(() => f.Host("hostA").Open("eth1", Addr("10.0.1.1/24"), (_, _) => { }));
        Assert.Contains("hostA", ex.Message);
        Assert.Contains("'eth1'", ex.Message);
        Assert.Contains("fabric.Cable(\"hostA\", \"eth1\"", ex.Message);
        Assert.Contains("cabled on eth0", ex.Message);

        var none = Assert.Throws<InvalidOperationException>(() => f.Host("ghost").Open("eth0", Addr("10.0.0.9/24"), (_, _) => { }));
        Assert.Contains("no cabled interface at all", none.Message);
    }

    [Fact]
    public void An_interface_is_open_once_and_cabled_once()
    {
        var f = TwoHosts();
        f.Host("hostA").Open("eth0", Addr("10.0.0.1/24"), (_, _) => { });

        var twice = Assert.Throws<InvalidOperationException>(() => f.Host("hostA").Open("eth0", Addr("10.0.0.1/24"), (_, _) => { }));
        Assert.Contains("already open", twice.Message);
        Assert.Throws<InvalidOperationException>(() => f.Cable("hostA", "eth0", "other"));
        Assert.Throws<ArgumentException>(() => f.SetCable("hostA", "eth7", false));
    }

    /// <summary>A router and two units holding the cluster's address 10.0.0.254 on one segment; VM2 opened (announced) last.</summary>
    private static (InMemoryFabric Fabric, IPacketPort Router, IPacketPort Vm1, IPacketPort Vm2, Sink S1, Sink S2) ClusterOnOneSegment()
    {
        var f = new InMemoryFabric();
        f.Cable("router", "c1", "seg");
        f.Cable("VM1", "port2", "seg");
        f.Cable("VM2", "port2", "seg");
        var s1 = new Sink();
        var s2 = new Sink();
        var router = f.Host("router").Open("c1", Addr("10.0.0.1/24"), (_, _) => { });
        var vm1 = f.Host("VM1").Open("port2", Addr("10.0.0.254/24"), s1.On);
        var vm2 = f.Host("VM2").Open("port2", Addr("10.0.0.254/24"), s2.On);
        return (f, router, vm1, vm2, s1, s2);
    }

    [Fact]
    public void A_silent_port_does_not_receive_and_the_newest_answering_port_wins_the_address()
    {
        var (f, router, vm1, vm2, s1, s2) = ClusterOnOneSegment();
        vm2.Answering = false; // the secondary holds the address but stays silent
        Assert.True(vm1.Answering);
        Assert.False(vm2.Answering);

        Assert.True(router.Send(Vip, Packet));
        Assert.Equal((1, 0), (s1.Count, s2.Count));

        vm2.Answering = true; // split brain: both answer, the newest GARP wins
        Assert.True(router.Send(Vip, Packet));
        Assert.Equal((1, 1), (s1.Count, s2.Count));

        vm1.Answering = false; // re-announcing needs a false → true transition; VM2 keeps it either way
        vm1.Answering = true;
        Assert.True(router.Send(Vip, Packet));
        Assert.Equal((2, 1), (s1.Count, s2.Count));

        vm1.Answering = false; // the newest withdraws: the other answering port takes the address again
        Assert.True(router.Send(Vip, Packet));
        Assert.Equal((2, 2), (s1.Count, s2.Count));

        vm2.Answering = false; // nobody answers
        Assert.False(router.Send(Vip, Packet));
        Assert.Equal((2, 2), (s1.Count, s2.Count));
        Assert.Equal(1, f.Counters("seg").NoAnswer);
    }

    [Fact]
    public void Reannouncing_makes_an_answering_port_the_newest_again_and_does_nothing_for_a_silent_or_unplugged_one()
    {
        var (f, router, vm1, vm2, s1, s2) = ClusterOnOneSegment(); // split brain: VM2 announced last
        long Announcements(string host) => f.Wiring.Single(w => w.Host == host).Announcements;
        Assert.Equal((1, 1), (Announcements("VM1"), Announcements("VM2")));
        Assert.True(router.Send(Vip, Packet));
        Assert.Equal((0, 1), (s1.Count, s2.Count));

        vm1.Reannounce(); // VM1 stayed primary through the heal: it announces without an Answering change
        Assert.Equal(2, Announcements("VM1"));
        Assert.True(router.Send(Vip, Packet));
        Assert.Equal((1, 1), (s1.Count, s2.Count));

        vm2.Answering = false;
        vm2.Reannounce(); // a silent port announces nothing
        Assert.Equal(1, Announcements("VM2"));
        vm2.Answering = true; // newest again
        f.SetCable("VM1", "port2", false);
        vm1.Reannounce(); // no carrier: nothing goes out, and plugging back in announces as before
        Assert.Equal(2, Announcements("VM1"));
        f.SetCable("VM1", "port2", true);
        Assert.Equal(3, Announcements("VM1"));
        Assert.True(router.Send(Vip, Packet));
        Assert.Equal((2, 1), (s1.Count, s2.Count));
    }

    [Fact]
    public void A_cable_opened_silent_stays_silent_until_the_port_answers()
    {
        var f = new InMemoryFabric();
        f.Cable("router", "c1", "seg");
        f.Cable("VM2", "port2", "seg", answeringOnOpen: false);
        var sink = new Sink();
        var router = f.Host("router").Open("c1", Addr("10.0.0.1/24"), (_, _) => { });
        var vm2 = f.Host("VM2").Open("port2", Addr("10.0.0.254/24"), sink.On);

        Assert.False(vm2.Answering);
        Assert.False(router.Send(Vip, Packet));
        vm2.Answering = true;
        Assert.True(router.Send(Vip, Packet));
        Assert.Equal(1, sink.Count);
    }

    [Fact]
    public void Pulling_a_cable_takes_the_carrier_of_that_port_only_and_plugging_it_back_restores_it()
    {
        var f = TwoHosts();
        var sinkA = new Sink();
        var sinkB = new Sink();
        var a = sinkA.Watch(f.Host("hostA").Open("eth0", Addr("10.0.0.1/24"), sinkA.On));
        var b = sinkB.Watch(f.Host("hostB").Open("eth0", Addr("10.0.0.2/24"), sinkB.On));

        f.SetCable("hostB", "eth0", plugged: false);

        Assert.False(b.IsUp);
        Assert.True(b.AdminUp);
        Assert.True(a.IsUp);
        Assert.Equal([false], sinkB.Carrier);
        Assert.Empty(sinkA.Carrier);
        Assert.False(f.IsPlugged("hostB", "eth0"));
        Assert.False(a.Send(B, Packet)); // the receiver has no carrier
        Assert.False(b.Send(A, Packet)); // nor can it send
        Assert.Empty(sinkA.Got);
        Assert.Empty(sinkB.Got);
        Assert.Equal(new LinkCounters("lan", 0, 1, 1), f.Counters("lan"));

        f.SetCable("hostB", "eth0", plugged: false); // no change, no event
        f.SetCable("hostB", "eth0", plugged: true);

        Assert.True(b.IsUp);
        Assert.Equal([false, true], sinkB.Carrier);
        Assert.True(a.Send(B, Packet));
        Assert.True(b.Send(A, Packet));
        Assert.Equal((1, 1), (sinkA.Count, sinkB.Count));
    }

    [Fact]
    public void Admin_down_acts_like_a_pulled_cable_and_carrier_is_plugged_and_admin_up()
    {
        var f = TwoHosts();
        var sinkA = new Sink();
        var sinkB = new Sink();
        var a = sinkA.Watch(f.Host("hostA").Open("eth0", Addr("10.0.0.1/24"), sinkA.On));
        var b = sinkB.Watch(f.Host("hostB").Open("eth0", Addr("10.0.0.2/24"), sinkB.On));

        b.AdminUp = false;
        Assert.False(b.IsUp);
        Assert.False(a.Send(B, Packet));
        Assert.False(b.Send(A, Packet));

        f.SetCable("hostB", "eth0", false); // pulled while admin down: already down, no event
        b.AdminUp = true;                    // admin up with the cable out: still down
        Assert.False(b.IsUp);
        f.SetCable("hostB", "eth0", true);
        Assert.True(b.IsUp);

        Assert.Equal([false, true], sinkB.Carrier);
        Assert.Empty(sinkA.Carrier);
        Assert.True(a.Send(B, Packet));
        Assert.Equal(1, sinkB.Count);
    }

    [Fact]
    public void A_port_regaining_carrier_while_answering_announces_itself_again()
    {
        var (f, router, _, _, s1, s2) = ClusterOnOneSegment(); // VM2 newest: wins

        f.SetCable("VM1", "port2", false);
        f.SetCable("VM1", "port2", true); // link up while answering: a GARP, VM1 is now the newest

        Assert.True(router.Send(Vip, Packet));
        Assert.Equal((1, 0), (s1.Count, s2.Count));
    }

    [Fact]
    public void A_disposed_port_detaches_and_the_interface_can_be_opened_again_with_the_cables_state()
    {
        var f = TwoHosts();
        var sinkB1 = new Sink();
        var sinkB2 = new Sink();
        var a = f.Host("hostA").Open("eth0", Addr("10.0.0.1/24"), (_, _) => { });
        var b1 = f.Host("hostB").Open("eth0", Addr("10.0.0.2/24"), sinkB1.On);

        b1.Dispose();
        b1.Dispose(); // idempotent
        Assert.False(b1.IsUp);
        Assert.False(b1.Send(A, Packet));
        Assert.False(a.Send(B, Packet));
        Assert.Null(f.OpenPort("hostB", "eth0"));

        f.SetCable("hostB", "eth0", false); // pulled while the unit is down
        var b2 = f.Host("hostB").Open("eth0", Addr("10.0.0.2/24"), sinkB2.On);
        Assert.Same(b2, f.OpenPort("hostB", "eth0"));
        Assert.False(b2.IsUp); // the restarted unit finds the cable still out
        f.SetCable("hostB", "eth0", true);

        Assert.True(a.Send(B, Packet));
        Assert.Empty(sinkB1.Got);
        Assert.Single(sinkB2.Got);
        b1.AdminUp = false; // a stale handle changes nothing
        Assert.True(b2.IsUp);
    }

    [Fact]
    public void A_callback_may_send_onward_and_change_port_state_without_deadlocking()
    {
        var f = new InMemoryFabric();
        f.Cable("h1", "eth0", "s1");
        f.Cable("r", "in", "s1");
        f.Cable("r", "out", "s2");
        f.Cable("h2", "eth0", "s2");
        var sink = new Sink();
        IPacketPort? outPort = null;
        var h1 = f.Host("h1").Open("eth0", Addr("10.0.1.2/24"), (_, _) => { });
        var inPort = f.Host("r").Open("in", Addr("10.0.1.1/24"), (port, bytes) =>
        {
            Assert.True(outPort!.Send(IPAddress.Parse("10.0.2.2"), bytes)); // forward from inside the callback
            port.AdminUp = false;                                           // and flap our own port
            port.AdminUp = true;
        });
        outPort = f.Host("r").Open("out", Addr("10.0.2.1/24"), (_, _) => { });
        var h2 = f.Host("h2").Open("eth0", Addr("10.0.2.2/24"), sink.On);

        Assert.True(h1.Send(IPAddress.Parse("10.0.1.1"), Packet));

        Assert.Single(sink.Got);
        Assert.True(inPort.IsUp);
    }

    [Fact]
    public async Task Concurrent_senders_lose_nothing_while_ports_flap_and_the_counters_add_up()
    {
        var f = new InMemoryFabric();
        f.Cable("VM1", "port2", "seg");
        f.Cable("VM2", "port2", "seg");
        for (int i = 0; i < 4; i++)
            f.Cable($"client{i}", "eth0", "seg");
        long received = 0;
        f.Host("VM1").Open("port2", Addr("10.0.0.254/24"), (_, _) => Interlocked.Increment(ref received));
        var vm2 = f.Host("VM2").Open("port2", Addr("10.0.0.254/24"), (_, _) => Interlocked.Increment(ref received));
        var clients = Enumerable.Range(0, 4).Select(i => f.Host($"client{i}").Open("eth0", Addr($"10.0.0.{10 + i}/24"), (_, _) => { })).ToArray();
        const int perSender = 5_000;
        long accepted = 0;
        using var stop = new CancellationTokenSource();

        long flaps = 0;
        var flapper = Task.Factory.StartNew(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                vm2.Answering = !vm2.Answering;
                vm2.AdminUp = !vm2.AdminUp;
                Interlocked.Increment(ref flaps);
            }
        }, TaskCreationOptions.LongRunning);
        SpinWait.SpinUntil(() => Interlocked.Read(ref flaps) > 0, TimeSpan.FromSeconds(5)); // senders start into a flapping link
        Parallel.ForEach(clients, new ParallelOptions { MaxDegreeOfParallelism = 4 }, c =>
        {
            for (int i = 0; i < perSender; i++)
                if (c.Send(Vip, Packet))
                    Interlocked.Increment(ref accepted);
        });
        stop.Cancel();
        await flapper;

        // VM1 always answers, so every send finds a receiver whatever VM2 is doing.
        Assert.Equal(4L * perSender, accepted);
        Assert.Equal(accepted, Interlocked.Read(ref received));
        Assert.Equal(new LinkCounters("seg", accepted, 0, 0), f.Counters("seg"));
        Assert.True(Interlocked.Read(ref flaps) > 1);
    }

    [Fact]
    public void The_tap_sees_each_delivery_and_the_wiring_and_describe_show_the_live_state()
    {
        var f = TwoHosts();
        var taps = new List<string>();
        f.Delivered += (segment, from, to, _) => taps.Add($"{segment}: {from} -> {to}");
        var a = f.Host("hostA").Open("eth0", Addr("10.0.0.1/24"), (_, _) => { });
        f.Host("hostB").Open("eth0", Addr("10.0.0.2/24"), (_, _) => { }).Answering = false;
        f.SetCable("hostC", "eth0", false);
        Assert.False(a.Send(B, Packet));
        f.OpenPort("hostB", "eth0")!.Answering = true;
        Assert.True(a.Send(B, Packet));

        Assert.Equal(["lan: hostA eth0 -> hostB eth0"], taps);
        Assert.Equal(["lan", "other"], f.Segments);
        var wiring = f.Wiring;
        Assert.Equal(3, wiring.Count);
        Assert.Equal(new[] { "hostA", "hostB", "hostC" }, wiring.Select(w => w.Host));
        Assert.True(wiring[0] is { Segment: "lan", Open: true, IsUp: true, Answering: true });
        Assert.True(wiring[2] is { Segment: "other", Open: false, Plugged: false, IsUp: false });
        var text = f.Describe();
        Assert.Contains("segment lan  delivered 1, no answer 1, no carrier 0", text);
        Assert.Contains("hostA eth0", text);
        Assert.Contains("10.0.0.1/24", text);
        Assert.Contains("up answering", text);
        Assert.Contains("not open, cable pulled", text);
    }
}
