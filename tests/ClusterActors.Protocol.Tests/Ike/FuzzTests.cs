using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using static ClusterActors.Protocol.Tests.Ike.IkeTestKit;

namespace ClusterActors.Protocol.Tests.Ike;

/// <summary>
/// Hundreds of damaged datagrams: the decoder may only throw <see cref="IkeFormatException"/>, and the exchanges
/// must never throw at all, never establish anything from a damaged message, and say why they ignored it.
/// </summary>
public class FuzzTests
{
    private static byte[] Mutate(byte[] valid, Random r, out string how)
    {
        var b = (byte[])valid.Clone();
        switch (r.Next(6))
        {
            case 0:
                var n = r.Next(valid.Length);
                how = $"truncated to {n}";
                return b[..n];
            case 1:
                var i = r.Next(b.Length);
                b[i] ^= (byte)(1 + r.Next(255));
                how = $"byte {i} flipped";
                return b;
            case 2:
                // Payload and substructure length fields are the classic overflow targets.
                var at = 28 + r.Next(Math.Max(1, b.Length - 29));
                b[at] = r.Next(2) == 0 ? (byte)0xFF : (byte)0x00;
                if (at + 1 < b.Length) b[at + 1] = (byte)r.Next(256);
                how = $"bytes {at}.. overwritten";
                return b;
            case 3:
                var extra = new byte[1 + r.Next(40)];
                r.NextBytes(extra);
                how = $"{extra.Length} bytes appended";
                return [.. b, .. extra];
            case 4:
                var from = r.Next(b.Length);
                var len = 1 + r.Next(Math.Min(16, b.Length - from));
                how = $"bytes {from}+{len} removed";
                return [.. b[..from], .. b[(from + len)..]];
            default:
                for (var k = 0; k < 4; k++) b[r.Next(b.Length)] = (byte)r.Next(256);
                how = "four random bytes";
                return b;
        }
    }

    private static void DecoderOnlyThrowsFormatErrors(byte[] d, string how)
    {
        try { IkeCodec.Decode(d); }
        catch (IkeFormatException) { }
        catch (Exception e) { Assert.Fail($"{how}: decoder threw {e.GetType().Name}: {e.Message}"); }
    }

    private static IkeOutput NoThrow(Func<IkeOutput> f, string how)
    {
        try { return f(); }
        catch (Exception e) { Assert.Fail($"{how}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}"); throw; }
    }

    [Fact]
    public void Damaged_ike_sa_init_requests()
    {
        var valid = new IkeInitiator(ClientSettings(), Gateway, new SeededRandom(1)).Start();
        var r = new Random(42);
        for (var i = 0; i < 300; i++)
        {
            var d = Mutate(valid, r, out var how);
            DecoderOnlyThrowsFormatErrors(d, how);
            var o = NoThrow(() => new IkeResponder(GatewaySettings(), new SeededRandom(i)).Handle(Client, d), how);
            Assert.DoesNotContain(o.Events, e => e is IkeSaEstablished);
            if (d.Length < valid.Length && valid.AsSpan().StartsWith(d))
                Assert.Equal(RefusalKind.Malformed, Assert.IsType<IkeRefused>(Assert.Single(o.Events)).Kind);
        }
    }

    [Fact]
    public void Damaged_ike_auth_requests_are_dropped_or_refused()
    {
        var template = Handshake();
        var r = new Random(43);
        for (var i = 0; i < 200; i++)
        {
            var d = Mutate(template.AuthRequest, r, out var how);
            DecoderOnlyThrowsFormatErrors(d, how);
            var responder = new IkeResponder(GatewaySettings(), new SeededRandom(1));
            var client = new IkeInitiator(ClientSettings(), Gateway, new SeededRandom(1001));
            client.Handle(Single(responder.Handle(Client, client.Start())));
            var o = NoThrow(() => responder.Handle(Client, d), how);
            if (d.AsSpan().SequenceEqual(template.AuthRequest)) continue;
            Assert.Empty(o.Replies);
            Assert.IsAssignableFrom<IkeEvent>(Assert.Single(o.Events, e => e is IkeDropped or IkeRefused));
            Assert.Empty(responder.Sas);
        }
    }

    [Fact]
    public void Authentic_ike_auth_with_damaged_inner_payloads_never_crashes_the_gateway()
    {
        var template = Handshake();
        var sa = template.AtGateway.Sa;
        var (first, plain) = RawIke.DecryptSk(template.AuthRequest, sa.Keys.SkEi, sa.Keys.SkAi);
        var r = new Random(44);
        var outcomes = new HashSet<string>();
        for (var i = 0; i < 300; i++)
        {
            var inner = Mutate(plain, r, out var how);
            var firstInner = r.Next(8) == 0 ? (byte)r.Next(256) : first;
            var d = RawIke.EncryptSk(template.AuthRequest, firstInner, inner, sa.Keys.SkEi, sa.Keys.SkAi);
            var responder = new IkeResponder(GatewaySettings(), new SeededRandom(1));
            var client = new IkeInitiator(ClientSettings(), Gateway, new SeededRandom(1001));
            client.Handle(Single(responder.Handle(Client, client.Start())));
            var o = NoThrow(() => responder.Handle(Client, d), how);
            foreach (var e in o.Events) outcomes.Add(e is IkeRefused f ? f.Kind.ToString() : e.GetType().Name);
            // A damaged inside can still be a valid request (e.g. a changed nonce-free byte in TS ports); otherwise it
            // must be refused with an answer the client can read.
            if (o.Events.Any(e => e is IkeSaEstablished)) continue;
            Assert.Contains(o.Events, e => e is IkeRefused or IkeDropped);
            Assert.Empty(responder.Sas);
        }
        Assert.Contains(RefusalKind.Malformed.ToString(), outcomes);
    }

    [Fact]
    public void Damaged_gateway_answers_do_not_break_the_client()
    {
        var template = Handshake();
        var r = new Random(45);
        for (var i = 0; i < 200; i++)
        {
            var useAuth = i % 2 == 1;
            var d = Mutate(useAuth ? template.AuthResponse : template.InitResponse, r, out var how);
            DecoderOnlyThrowsFormatErrors(d, how);
            var client = new IkeInitiator(ClientSettings(), Gateway, new SeededRandom(1001));
            client.Start();
            if (useAuth) client.Handle(template.InitResponse);
            var o = NoThrow(() => client.Handle(d), how);
            if (useAuth) Assert.DoesNotContain(o.Events, e => e is IkeSaEstablished);
        }
    }

    [Fact]
    public void Garbage_of_every_short_length_is_a_format_error()
    {
        var r = new Random(46);
        var responder = new IkeResponder(GatewaySettings(), new SeededRandom(1));
        for (var n = 0; n < 120; n++)
        {
            var d = new byte[n];
            r.NextBytes(d);
            if (n >= 28) { d[17] = 0x20; d[24] = 0; d[25] = 0; d[26] = (byte)(n >> 8); d[27] = (byte)n; }
            DecoderOnlyThrowsFormatErrors(d, $"{n} random bytes");
            var o = NoThrow(() => responder.Handle(Client, d), $"{n} random bytes");
            Assert.Contains(o.Events, e => e is IkeRefused or IkeDropped);
        }
        Assert.Throws<IkeFormatException>(() => IkeCodec.Decode(new byte[10]));
    }
}
