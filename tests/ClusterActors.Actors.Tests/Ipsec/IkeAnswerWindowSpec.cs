using System.Net;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// The front of the IKE packet paths (<see cref="IkeAnswerWindow{TWaiting}"/>) on synthetic datagrams and a
/// <see cref="FakeTimeProvider"/>, no actor system: the window bound, shedding, the answer timeout to the tick.
/// </summary>
public sealed class IkeAnswerWindowSpec
{
    private static readonly byte[] Init =
        new IkeInitiator(new IkeInitiatorSettings("scenario-psk", "Nokia_Peer", ["aes128-sha1"], [2], [TrafficSelector.FromCidr("10.10.1.0/24")],
            [TrafficSelector.Any]), IPAddress.Parse("192.168.129.254")).Start();

    private static IkeWindowVerdict Offer(IkeAnswerWindow<int> window, int peer, out long tag) => window.Offer(Init, peer, out tag);

    [Fact]
    public void Beyond_the_bound_datagrams_are_shed_and_counted_and_an_answer_frees_its_slot()
    {
        var window = new IkeAnswerWindow<int>(new FakeTimeProvider(), capacity: 3);
        var tags = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(IkeWindowVerdict.Admitted, Offer(window, i, out var tag));
            tags.Add(tag);
        }
        Assert.Equal(3, tags.Distinct().Count());
        Assert.Equal(IkeWindowVerdict.Shed, Offer(window, 3, out _));
        Assert.Equal(IkeWindowVerdict.Shed, Offer(window, 4, out _));
        Assert.Equal((3, 2L), (window.InFlight, window.Shed));

        // The answer names where it goes; the same tag again, or one never given, has nowhere to go.
        Assert.True(window.TryAnswer(tags[1], out var peer));
        Assert.Equal(1, peer);
        Assert.False(window.TryAnswer(tags[1], out _));
        Assert.False(window.TryAnswer(999, out _));
        Assert.Equal(IkeWindowVerdict.Admitted, Offer(window, 5, out _));
        Assert.Equal((3, 2L, 1L, 0L), (window.InFlight, window.Shed, window.Answered, window.NotAnswered));
    }

    [Fact]
    public void An_unanswered_slot_is_freed_exactly_when_the_answer_timeout_has_passed_on_the_injected_clock()
    {
        var time = new FakeTimeProvider();
        var timeout = TimeSpan.FromSeconds(10);
        var window = new IkeAnswerWindow<int>(time, capacity: 2, answerTimeout: timeout);
        Assert.Equal(IkeWindowVerdict.Admitted, Offer(window, 0, out var first));
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(IkeWindowVerdict.Admitted, Offer(window, 1, out var second));

        // One tick before the first slot's bound: the window is still full.
        time.Advance(timeout - TimeSpan.FromSeconds(4) - TimeSpan.FromTicks(1));
        Assert.Equal(IkeWindowVerdict.Shed, Offer(window, 2, out _));
        Assert.Equal((2, 0L), (window.InFlight, window.NotAnswered));

        // At the bound: the first slot (only it) is given up and the next datagram takes its place.
        time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(IkeWindowVerdict.Admitted, Offer(window, 3, out _));
        Assert.Equal((2, 1L, 1L), (window.InFlight, window.NotAnswered, window.Shed));

        // Its late answer is ignored; the second, still within its bound, is answered.
        Assert.False(window.TryAnswer(first, out _));
        Assert.True(window.TryAnswer(second, out var peer));
        Assert.Equal(1, peer);

        // Expire alone frees at the bound too (a status read between datagrams).
        time.Advance(timeout - TimeSpan.FromTicks(1));
        Assert.Equal(0, window.Expire());
        time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(1, window.Expire());
        Assert.Equal((0, 2L), (window.InFlight, window.NotAnswered));
    }

    [Fact]
    public void An_oversized_init_is_dropped_before_it_takes_a_slot()
    {
        var window = new IkeAnswerWindow<int>(new FakeTimeProvider(), capacity: 1);
        var m = IkeCodec.Decode(Init);
        var big = IkeCodec.Encode(m.Header, [new VendorIdPayload(new byte[60_000]), .. m.Payloads]);
        Assert.Equal(IkeWindowVerdict.Oversized, window.Offer(big, 0, out _));
        Assert.Equal((0, 1L), (window.InFlight, window.Oversized));
        Assert.Equal(IkeWindowVerdict.Admitted, Offer(window, 1, out _));
    }
}
