using ClusterActors.Actors.DataPlane;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Actors.Tests.DataPlane;

/// <summary>
/// Issue 14 item 5: the impairment model (netem's knobs) as a pure decision with a seeded Random and a FakeTimeProvider,
/// no actor system. The lab's in-memory fabric carrying its decisions out is specified next to the fabric
/// (tests/ClusterActors.Node.Tests/LabHarness/Fabric/NetemOnFabricSpec.cs).
/// </summary>
public class NetemModelSpec
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    private static ImpairmentSpec Parse(string text)
    {
        var ok = ImpairmentSpec.TryParse(text.Split(' ', StringSplitOptions.RemoveEmptyEntries), out var spec, out var bad, out var message, out _);
        Assert.True(ok, $"'{text}': word {bad}: {message}");
        return spec;
    }

    public static TheoryData<string, string, string> Accepted => new()
    {
        // script words                                      netem's arguments                                  the script's own words back
        { "delay 50ms", "delay 50ms", "delay 50ms" },
        { "delay 50ms jitter 10ms", "delay 50ms 10ms", "delay 50ms jitter 10ms" },
        { "jitter 10ms", "delay 0ms 10ms", "jitter 10ms" },
        { "loss 5%", "loss 5%", "loss 5%" },
        { "loss 0.5% duplicate 1%", "loss 0.5% duplicate 1%", "loss 0.5% duplicate 1%" },
        { "rate 10mbit", "rate 10mbit", "rate 10mbit" },
        { "rate 512kbit delay 1.5ms", "delay 1500us rate 512kbit", "delay 1500us rate 512kbit" },
        { "delay 1s loss 100%", "delay 1000ms loss 100%", "delay 1000ms loss 100%" },
        { "delay 200us", "delay 200us", "delay 200us" },
    };

    [Theory]
    [MemberData(nameof(Accepted))]
    public void The_knobs_parse_to_netems_arguments(string words, string netem, string back)
    {
        var spec = Parse(words);
        Assert.Equal(netem, spec.NetemArguments);
        Assert.Equal(back, spec.ToString());
        Assert.Equal(spec, Parse(spec.ToString())); // what is printed reads back
    }

    public static TheoryData<string, int, string> Refused => new()
    {
        // words                       bad word  message
        { "", 0, "missing impairment" },
        { "delay", 1, "missing value after 'delay'" },
        { "delay 50", 1, "bad delay" },           // tc would read a bare number as microseconds: refused, not guessed
        { "delay 61s", 1, "bad delay" },
        { "loss 5", 1, "bad loss" },
        { "loss 101%", 1, "bad loss" },
        { "duplicate -1%", 1, "bad duplicate" },
        { "rate 10mbps", 1, "bad rate" },
        { "rate 0mbit", 1, "bad rate" },
        { "delay 5ms corrupt 1%", 2, "unknown impairment" },
        { "loss 1% loss 2%", 2, "'loss' given twice" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Bad_knobs_are_refused_with_the_word_that_is_wrong(string words, int badWord, string message)
    {
        Assert.False(ImpairmentSpec.TryParse(words.Split(' ', StringSplitOptions.RemoveEmptyEntries), out _, out var bad, out var why, out var expected));
        Assert.Equal(badWord, bad);
        Assert.Equal(message, why);
        Assert.NotEmpty(expected);
    }

    [Fact]
    public void The_container_lab_gets_tc_qdisc_replace_root_netem_and_clear_deletes_the_root_qdisc()
    {
        var spec = Parse("delay 50ms jitter 10ms loss 5% duplicate 1% rate 10mbit");
        Assert.Equal("qdisc replace dev port4 root netem delay 50ms 10ms loss 5% duplicate 1% rate 10mbit", string.Join(" ", spec.TcArguments("port4")));
        Assert.Equal("qdisc del dev port2 root", string.Join(" ", ImpairmentSpec.TcClearArguments("port2")));
    }

    private static NetemModel Model(string words, int seed, FakeTimeProvider clock) => new(Parse(words), new Random(seed), clock);

    [Fact]
    public void Loss_100_percent_drops_every_packet_and_counts_it_as_loss()
    {
        var clock = new FakeTimeProvider(T0);
        var m = Model("loss 100%", 1, clock);
        for (var i = 0; i < 100; i++)
            Assert.Equal(ImpairmentDropCause.Loss, m.Decide(100).Dropped);
        Assert.Equal((100L, 100L, 0), (m.Offered, m.Lost, m.Queued));
    }

    [Fact]
    public void The_same_seed_gives_the_same_decisions_and_the_loss_rate_is_the_one_asked_for()
    {
        var clock = new FakeTimeProvider(T0);
        string Run(int seed)
        {
            var m = Model("loss 30% delay 10ms jitter 5ms", seed, clock);
            return string.Join(",", Enumerable.Range(0, 10_000).Select(_ =>
            {
                var v = m.Decide(100);
                if (!v.IsDropped) m.Released();
                return v.IsDropped ? "x" : (v.At[0] - T0).Ticks.ToString();
            }));
        }
        Assert.Equal(Run(7), Run(7));
        Assert.NotEqual(Run(7), Run(8));
        var lost = Run(7).Split(',').Count(s => s == "x");
        Assert.InRange(lost, 2_800, 3_200);
    }

    [Fact]
    public void Delay_with_jitter_stays_within_delay_plus_or_minus_jitter_and_without_a_rate_it_reorders()
    {
        var clock = new FakeTimeProvider(T0);
        var m = Model("delay 50ms jitter 10ms", 3, clock);
        var times = new List<DateTimeOffset>();
        for (var i = 0; i < 1000; i++)
        {
            times.Add(Assert.Single(m.Decide(100).At));
            clock.Advance(TimeSpan.FromMilliseconds(1)); // 1 ms apart, jitter ±10 ms: netem reorders
        }
        for (var i = 0; i < times.Count; i++)
            Assert.InRange((times[i] - T0 - TimeSpan.FromMilliseconds(i)).TotalMilliseconds, 40, 60);
        Assert.Contains(Enumerable.Range(1, times.Count - 1), i => times[i] < times[i - 1]);
    }

    [Fact]
    public void With_a_rate_packets_leave_one_transmission_time_apart_and_never_reorder()
    {
        var clock = new FakeTimeProvider(T0);
        var m = Model("rate 10mbit", 1, clock);
        // 1250 bytes at 10 Mbit/s: 1 ms each on the wire; three offered at once leave at +1, +2, +3 ms.
        var at = Enumerable.Range(0, 3).Select(_ => Assert.Single(m.Decide(1250).At) - T0).ToList();
        Assert.Equal([TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(3)], at);

        var jittered = Model("delay 50ms jitter 10ms rate 10mbit", 3, clock);
        var times = new List<DateTimeOffset>();
        for (var i = 0; i < 1000; i++)
        {
            times.Add(Assert.Single(jittered.Decide(100).At));
            clock.Advance(TimeSpan.FromMilliseconds(1));
        }
        Assert.DoesNotContain(Enumerable.Range(1, times.Count - 1), i => times[i] < times[i - 1]);
    }

    [Fact]
    public void Duplicate_100_percent_sends_two_copies_and_a_lost_duplicated_packet_still_leaves_once_as_in_netem()
    {
        var clock = new FakeTimeProvider(T0);
        var m = Model("duplicate 100%", 1, clock);
        Assert.Equal(2, m.Decide(100).At.Count);
        Assert.Equal(1, m.Duplicated);

        var both = Model("duplicate 100% loss 100%", 1, clock);
        for (var i = 0; i < 10; i++) Assert.Single(both.Decide(100).At); // count 2, loss takes one: netem_enqueue's arithmetic
        Assert.Equal(0, both.Lost);
    }

    [Fact]
    public void The_queue_holds_netems_default_limit_of_1000_packets_then_drops_for_limit()
    {
        var clock = new FakeTimeProvider(T0);
        var m = Model("delay 1s", 1, clock);
        for (var i = 0; i < ImpairmentSpec.Limit; i++) Assert.False(m.Decide(100).IsDropped);
        Assert.Equal(ImpairmentDropCause.Limit, m.Decide(100).Dropped);
        m.Released();
        Assert.False(m.Decide(100).IsDropped);
        Assert.Equal(1, m.OverLimit);
    }

    [Fact]
    public void The_egress_releases_a_delayed_packet_when_its_time_comes_in_send_time_order_and_flushes_the_rest_when_cleared()
    {
        var clock = new FakeTimeProvider(T0);
        var released = new List<int>();
        var egress = new ImpairedEgress<int>(Parse("delay 50ms"), new Random(1), clock, released.Add);
        egress.Send(1, 100);
        clock.Advance(TimeSpan.FromMilliseconds(10));
        egress.Send(2, 100);
        clock.Advance(TimeSpan.FromMilliseconds(39));
        Assert.Empty(released);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal([1], released);
        clock.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal([1, 2], released);

        egress.Send(3, 100);
        egress.Dispose();
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([1, 2], released);
        Assert.Equal(1, egress.Counters.Flushed);
    }
}
