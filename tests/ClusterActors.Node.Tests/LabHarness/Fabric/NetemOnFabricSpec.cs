using System.Collections.Concurrent;
using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.LabHarness.Fabric;
using ClusterActors.Protocol.Packets;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Node.Tests.LabHarness.Fabric;

/// <summary>
/// Issue 14 item 5, the second half: the in-memory fabric carrying out the impairment model's decisions (the model itself,
/// netem's knobs as a pure decision, is specified in the Actors' NetemModelSpec, next to the model the hbdev also uses).
/// </summary>
public class NetemOnFabricSpec
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    private static ImpairmentSpec Parse(string text)
    {
        var ok = ImpairmentSpec.TryParse(text.Split(' ', StringSplitOptions.RemoveEmptyEntries), out var spec, out var bad, out var message, out _);
        Assert.True(ok, $"'{text}': word {bad}: {message}");
        return spec;
    }

    private static readonly IPAddress B = IPAddress.Parse("10.0.0.2");
    private static readonly byte[] Packet = IcmpEcho.Request(7, 1, [9, 9]).InIpv4(IPAddress.Parse("10.0.0.1"), B).ToBytes();

    private static (InMemoryFabric Fabric, IPacketPort A, ConcurrentQueue<byte[]> AtB) Lan(FakeTimeProvider clock)
    {
        var f = new InMemoryFabric(clock);
        f.Cable("hostA", "eth0", "lan");
        f.Cable("hostB", "eth0", "lan");
        var got = new ConcurrentQueue<byte[]>();
        var a = f.Host("hostA").Open("eth0", [InterfaceAddress.Parse("10.0.0.1/24")], (_, _) => { });
        f.Host("hostB").Open("eth0", [InterfaceAddress.Parse("10.0.0.2/24")], (_, bytes) => got.Enqueue(bytes));
        return (f, a, got);
    }

    [Fact]
    public void An_impaired_port_loses_what_netem_loses_counted_by_cause_on_its_link_and_clear_restores_delivery()
    {
        var clock = new FakeTimeProvider(T0);
        var (f, a, atB) = Lan(clock);
        f.Impair("hostA", "eth0", ImpairmentSpec.Loss(100), NetemModel.RandomFor(42, "hostA", "eth0"));
        for (var i = 0; i < 5; i++) a.Send(B, Packet);
        Assert.Empty(atB);
        Assert.Equal(new LinkCounters("lan", 0, 0, 0, ImpairedLoss: 5), f.Counters("lan"));
        Assert.Contains("impaired loss 5", f.Describe());
        Assert.Contains("egress netem loss 100%: offered 5, dropped loss 5", f.Describe());

        f.Impair("hostA", "eth0", null);
        a.Send(B, Packet);
        Assert.Single(atB);
        Assert.Equal(5, f.Counters("lan").ImpairedLoss); // the cleared impairment's drops stay counted
        Assert.Equal(5, f.Impairment("hostA", "eth0")!.Lost);
    }

    [Fact]
    public void An_impaired_port_delays_by_the_injected_clock_and_what_was_in_flight_when_the_sender_lost_carrier_is_lost()
    {
        var clock = new FakeTimeProvider(T0);
        var (f, a, atB) = Lan(clock);
        f.Impair("hostA", "eth0", Parse("delay 20ms"), new Random(1));
        Assert.True(a.Send(B, Packet));
        Assert.Empty(atB);
        clock.Advance(TimeSpan.FromMilliseconds(20));
        Assert.Equal(Packet, Assert.Single(atB)); // a copy with the same bytes
        Assert.Equal(1, f.Counters("lan").Delivered);

        a.Send(B, Packet);
        f.SetCable("hostA", "eth0", false);
        clock.Advance(TimeSpan.FromMilliseconds(20));
        Assert.Single(atB);
        Assert.Equal(1, f.Counters("lan").NoCarrier);
    }
}
