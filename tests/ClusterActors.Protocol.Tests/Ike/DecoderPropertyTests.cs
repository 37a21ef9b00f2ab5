using System.Net;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using CsCheck;
using Microsoft.Extensions.Time.Testing;
using static ClusterActors.Protocol.Tests.Ike.IkeTestKit;

namespace ClusterActors.Protocol.Tests.Ike;

/// <summary>
/// Property-based fuzzing (CsCheck, shrinking to a minimal failing datagram) of the IKE decoder and of the gateway in
/// front of it: whatever arrives, the decoder throws nothing but <see cref="IkeFormatException"/>, and the gateway
/// with its admission never throws and accounts for every datagram it does not answer.
/// </summary>
public class DecoderPropertyTests
{
    private static readonly byte[] ValidInit = new IkeInitiator(ClientSettings(), Gateway, new SeededRandom(3)).Start();

    /// <summary>Random bytes; some with a plausible IKEv2 header so the payload chain gets exercised too.</summary>
    private static readonly Gen<byte[]> AnyDatagram = Gen.OneOf(
        Gen.Byte.Array[0, 700],
        Gen.Select(Gen.Byte.Array[0, 600], Gen.Byte, Gen.Byte, (body, next, exchange) =>
        {
            var d = new byte[28 + body.Length];
            body.CopyTo(d, 28);
            d[16] = next;
            d[17] = 0x20;
            d[18] = exchange;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(d.AsSpan(24), (uint)d.Length);
            return d;
        }));

    /// <summary>A genuine IKE_SA_INIT with a few bytes changed, cut or added.</summary>
    private static readonly Gen<byte[]> MutatedInit =
        Gen.Select(Gen.Int[0, ValidInit.Length - 1].Array[1, 6], Gen.Byte.Array[6], Gen.Int[0, ValidInit.Length], Gen.Byte.Array[0, 40],
            byte[] (positions, values, cut, tail) =>
            {
                var d = (byte[])ValidInit.Clone();
                for (var i = 0; i < positions.Length; i++) d[positions[i]] = values[i % values.Length];
                return [.. d[..cut], .. tail];
            });

    [Fact]
    public void The_decoder_throws_nothing_but_format_errors()
    {
        Gen.OneOf(AnyDatagram, MutatedInit).Sample(d =>
        {
            try
            {
                IkeCodec.Decode(d);
            }
            catch (IkeFormatException)
            {
            }
        }, iter: 20_000);
    }

    [Fact]
    public void The_gateway_never_throws_and_every_unanswered_datagram_is_a_counted_drop()
    {
        var time = new FakeTimeProvider();
        var admission = new IkeAdmission(new IkeAdmissionSettings { CookieThreshold = 4 }, time, new SeededRandom(9));
        var gw = new IkeResponder(GatewaySettings(), new SeededRandom(10), admission);
        var peer = new IPEndPoint(Client, 500);
        Gen.OneOf(AnyDatagram, MutatedInit).Sample(d =>
        {
            var before = Total(admission.Counters);
            var output = gw.Handle(peer, 500, d);
            var counted = Total(admission.Counters) > before;
            // Answered (a real INIT, a cookie, an error notify), or dropped with a counter or a stated reason.
            Assert.True(output.Replies.Count > 0 || counted || output.Events.Any(e => e is IkeDropped or IkeRefused),
                $"{d.Length} bytes neither answered nor accounted for");
            if (output.Events.OfType<IkeRefused>().Any(r => r.Kind == RefusalKind.Malformed) && output.Replies.Count == 0)
                Assert.True(counted, "a datagram that did not decode was not counted");
            Assert.True(admission.HalfOpen <= admission.Settings.EmbryonicLimit);
            time.Advance(TimeSpan.FromMilliseconds(50));
        }, iter: 5_000, threads: 1);
    }

    private static long Total(IkeAdmissionCounters c) => c.Drops.Sum() + c.Admitted;
}
