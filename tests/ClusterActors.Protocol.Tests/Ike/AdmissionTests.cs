using System.Net;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using Microsoft.Extensions.Time.Testing;
using static ClusterActors.Protocol.Tests.Ike.IkeTestKit;

namespace ClusterActors.Protocol.Tests.Ike;

/// <summary>
/// The dialup gateway under an IKE_SA_INIT flood (RFC 7296 §2.6, README "Admission under flood"): COOKIE above the
/// half-open threshold, half-open limits per source and in total, expiry, size and payload caps, rate-limited logs.
/// Synthetic time, no sockets, no actors.
/// </summary>
public class AdmissionTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 5, 23, 0, 0, TimeSpan.Zero));

    private (IkeResponder Responder, IkeAdmission Admission) NewGateway(IkeAdmissionSettings settings, int seed = 1)
    {
        var admission = new IkeAdmission(settings, _time, new SeededRandom(seed + 500));
        return (new IkeResponder(GatewaySettings(), new SeededRandom(seed), admission), admission);
    }

    private static IPAddress Source(int i) => new([198, 18, (byte)(i >> 8), (byte)i]);

    private static byte[] InitFrom(int seed) => new IkeInitiator(ClientSettings(), Gateway, new SeededRandom(seed)).Start();

    private static IkeMessage Decode(byte[] d) => IkeCodec.Decode(d);

    /// <summary>The same request with <paramref name="extra"/> payloads put in front (the codec re-chains them).</summary>
    private static byte[] WithPayloads(byte[] init, params IkePayload[] extra)
    {
        var m = Decode(init);
        return IkeCodec.Encode(m.Header, [.. extra, .. m.Payloads]);
    }

    [Fact]
    public void Above_the_threshold_an_init_without_a_cookie_gets_a_cookie_notify_and_leaves_no_state()
    {
        var (gw, admission) = NewGateway(new IkeAdmissionSettings { CookieThreshold = 0 });
        var reply = Decode(Single(gw.Handle(Client, InitFrom(7))));

        Assert.True(reply.Header.IsResponse);
        Assert.Equal(0UL, reply.Header.SpiR);
        var cookie = Assert.Single(reply.Payloads.OfType<NotifyPayload>());
        Assert.Equal(NotifyType.Cookie, cookie.NotifyType);
        Assert.Equal(IkeAdmission.CookieLength, cookie.Data.Length);
        Assert.Null(reply.Find<KePayload>()); // no DH was done
        Assert.Equal(0, gw.HalfOpenCount);
        Assert.Equal(0, admission.HalfOpen);
        Assert.Equal(1, admission.Counters[IkeDropCause.CookieRequired]);
    }

    [Fact]
    public void Below_the_threshold_no_cookie_is_asked()
    {
        var (gw, admission) = NewGateway(new IkeAdmissionSettings { CookieThreshold = 2 });
        Assert.NotNull(Decode(Single(gw.Handle(Source(1), InitFrom(1)))).Find<KePayload>());
        Assert.NotNull(Decode(Single(gw.Handle(Source(2), InitFrom(2)))).Find<KePayload>());
        // two half-open now: the threshold is reached
        var third = Decode(Single(gw.Handle(Source(3), InitFrom(3))));
        Assert.Equal(NotifyType.Cookie, Assert.Single(third.Payloads.OfType<NotifyPayload>()).NotifyType);
        Assert.Equal(2, admission.HalfOpen);
    }

    [Fact]
    public void The_client_retries_with_the_cookie_first_and_the_tunnel_comes_up()
    {
        var (gw, admission) = NewGateway(new IkeAdmissionSettings { CookieThreshold = 0 });
        var client = new IkeInitiator(ClientSettings(), Gateway, new SeededRandom(1001));
        var first = client.Start();
        var cookieReply = Single(gw.Handle(Client, first));
        var retry = client.Handle(cookieReply);
        Assert.IsType<IkeRetrying>(Assert.Single(retry.Events));
        var second = Single(retry);
        var m = Decode(second);
        var firstPayload = Assert.IsType<NotifyPayload>(m.Payloads[0]);
        Assert.Equal(NotifyType.Cookie, firstPayload.NotifyType);
        // Everything else unchanged (§2.6): same SPIi, nonce and KE.
        Assert.Equal(Decode(first).Header.SpiI, m.Header.SpiI);
        Assert.Equal(Decode(first).Find<KePayload>()!.Data, m.Find<KePayload>()!.Data);
        Assert.Equal(Decode(first).Find<NoncePayload>()!.Data, m.Find<NoncePayload>()!.Data);

        var initReply = Single(gw.Handle(Client, second));
        Assert.NotEqual(0UL, Decode(initReply).Header.SpiR);
        Assert.Equal(1, admission.HalfOpen);
        var auth = Single(client.Handle(initReply));
        var done = gw.Handle(Client, auth);
        Assert.IsType<IkeSaEstablished>(Assert.Single(done.Events));
        Assert.IsType<IkeSaEstablished>(Assert.Single(client.Handle(Single(done)).Events));
        Assert.Equal(0, admission.HalfOpen); // established: no longer half-open
        Assert.Equal(1, admission.Counters.CookiesAccepted);
    }

    [Fact]
    public void A_client_follows_a_cookie_at_most_three_times_and_ignores_one_of_an_impossible_size()
    {
        var client = new IkeInitiator(ClientSettings(), Gateway, new SeededRandom(5));
        var init = Decode(client.Start());
        byte[] CookieReply(byte[] data) => IkeCodec.Encode(
            new IkeHeader(init.Header.SpiI, 0, PayloadType.None, IkeHeader.Ikev2, ExchangeType.IkeSaInit, IkeFlags.Response, 0),
            [new NotifyPayload(NotifyType.Cookie, data)]);

        var oversized = client.Handle(CookieReply(new byte[65]));
        Assert.Empty(oversized.Replies);
        Assert.IsType<IkeDropped>(Assert.Single(oversized.Events));
        for (var i = 0; i < IkeInitiator.MaxCookieRetries; i++)
            Assert.IsType<IkeRetrying>(Assert.Single(client.Handle(CookieReply([(byte)i, 1, 2, 3])).Events));
        var gaveUp = client.Handle(CookieReply([9, 9, 9, 9]));
        Assert.Empty(gaveUp.Replies);
        Assert.IsType<IkeRefused>(Assert.Single(gaveUp.Events));
        Assert.Equal(IkeInitiatorPhase.Failed, client.Phase);
    }

    [Fact]
    public void A_forged_cookie_is_dropped_without_state_or_answer()
    {
        var (gw, admission) = NewGateway(new IkeAdmissionSettings { CookieThreshold = 0 });
        var forged = new byte[IkeAdmission.CookieLength];
        new Random(3).NextBytes(forged);
        forged[0] = forged[1] = forged[2] = forged[3] = 0; // even the right secret version
        var output = gw.Handle(Client, WithPayloads(InitFrom(9), new NotifyPayload(NotifyType.Cookie, forged)));

        Assert.Empty(output.Replies);
        Assert.Equal(IkeDropCause.CookieInvalid, Assert.IsType<IkeDropped>(Assert.Single(output.Events)).Cause);
        Assert.Equal(0, gw.HalfOpenCount);
        Assert.Equal(1, admission.Counters[IkeDropCause.CookieInvalid]);
    }

    [Fact]
    public void A_cookie_is_bound_to_the_address_spi_and_nonce_it_was_made_for()
    {
        var (gw, admission) = NewGateway(new IkeAdmissionSettings { CookieThreshold = 0 });
        var init = InitFrom(11);
        var cookie = Decode(Single(gw.Handle(Client, init))).Payloads.OfType<NotifyPayload>().Single().Data;
        var withCookie = WithPayloads(init, new NotifyPayload(NotifyType.Cookie, cookie));

        // Fetched by one address, spent from another: an attacker cannot collect cookies for spoofed sources.
        Assert.Empty(gw.Handle(Source(5), withCookie).Replies);
        // Another SPIi with the same cookie (§2.6: one cookie, one IKE SA).
        Assert.Empty(gw.Handle(Client, WithPayloads(InitFrom(12), new NotifyPayload(NotifyType.Cookie, cookie))).Replies);
        Assert.Equal(2, admission.Counters[IkeDropCause.CookieInvalid]);
        Assert.Equal(0, gw.HalfOpenCount);
        // The right address: admitted.
        Assert.NotNull(Decode(Single(gw.Handle(Client, withCookie))).Find<KePayload>());
    }

    [Fact]
    public void A_cookie_outlives_one_secret_rotation_but_not_two()
    {
        var settings = new IkeAdmissionSettings { CookieThreshold = 0, CookieSecretLifetime = TimeSpan.FromSeconds(60) };
        var admission = new IkeAdmission(settings, _time, new SeededRandom(5));
        var ni = new byte[32];
        var cookie = admission.MakeCookie(Client, 42, ni);
        Assert.True(admission.CookieValid(cookie, Client, 42, ni));
        _time.Advance(TimeSpan.FromSeconds(61)); // rotated once: the previous secret still answers
        Assert.True(admission.CookieValid(cookie, Client, 42, ni));
        _time.Advance(TimeSpan.FromSeconds(61)); // rotated twice: stale
        Assert.False(admission.CookieValid(cookie, Client, 42, ni));
    }

    [Fact]
    public void A_stale_cookie_is_dropped()
    {
        var (gw, admission) = NewGateway(new IkeAdmissionSettings { CookieThreshold = 0, CookieSecretLifetime = TimeSpan.FromSeconds(60) });
        var init = InitFrom(13);
        var cookie = Decode(Single(gw.Handle(Client, init))).Payloads.OfType<NotifyPayload>().Single().Data;
        _time.Advance(TimeSpan.FromSeconds(125));
        var output = gw.Handle(Client, WithPayloads(init, new NotifyPayload(NotifyType.Cookie, cookie)));
        Assert.Empty(output.Replies);
        Assert.Equal(1, admission.Counters[IkeDropCause.CookieInvalid]);
        Assert.Equal(0, gw.HalfOpenCount);
    }

    [Fact]
    public void Half_open_sas_are_limited_per_source_address()
    {
        var (gw, admission) = NewGateway(new IkeAdmissionSettings { CookieThreshold = 1000, HalfOpenPerSource = 2 });
        Assert.Single(gw.Handle(Client, InitFrom(1)).Replies);
        Assert.Single(gw.Handle(new IPEndPoint(Client, 4000), 500, InitFrom(2)).Replies); // same address, other port
        var third = gw.Handle(new IPEndPoint(Client, 4001), 500, InitFrom(3));
        Assert.Empty(third.Replies);
        Assert.Equal(IkeDropCause.PerSourceLimit, Assert.IsType<IkeDropped>(Assert.Single(third.Events)).Cause);
        Assert.Single(gw.Handle(Source(1), InitFrom(4)).Replies); // another address is not affected
        Assert.Equal(3, gw.HalfOpenCount);
        Assert.Equal(2, admission.HalfOpenFrom(Client));
        Assert.Equal(1, admission.Counters[IkeDropCause.PerSourceLimit]);
    }

    [Fact]
    public void Half_open_sas_are_limited_in_total_by_the_embryonic_limit()
    {
        var (gw, admission) = NewGateway(new IkeAdmissionSettings { CookieThreshold = 1000, EmbryonicLimit = 3 });
        for (var i = 0; i < 3; i++) Assert.Single(gw.Handle(Source(i), InitFrom(i)).Replies);
        var fourth = gw.Handle(Source(9), InitFrom(9));
        Assert.Empty(fourth.Replies);
        Assert.Equal(IkeDropCause.EmbryonicLimit, Assert.IsType<IkeDropped>(Assert.Single(fourth.Events)).Cause);
        Assert.Equal(3, gw.HalfOpenCount);
        Assert.Equal(1, admission.Counters[IkeDropCause.EmbryonicLimit]);
    }

    [Fact]
    public void Half_open_sas_expire_after_the_timeout_and_free_their_slots()
    {
        var (gw, admission) = NewGateway(new IkeAdmissionSettings { CookieThreshold = 1000, HalfOpenPerSource = 1, HalfOpenTimeout = TimeSpan.FromSeconds(30) });
        var client = new IkeInitiator(ClientSettings(), Gateway, new SeededRandom(77));
        var auth = Single(client.Handle(Single(gw.Handle(Client, client.Start()))));
        Assert.Single(gw.Handle(Source(1), InitFrom(2)).Replies);
        Assert.Empty(gw.Handle(Client, InitFrom(3)).Replies); // per-source limit of 1

        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(2, gw.ExpireHalfOpen().Count + gw.HalfOpenCount);
        _time.Advance(TimeSpan.FromSeconds(1));

        // Any datagram runs the expiry first; the late IKE_AUTH then finds no SA.
        var late = gw.Handle(Client, auth);
        Assert.Empty(late.Replies);
        Assert.Contains("unknown IKE SA", Assert.IsType<IkeDropped>(Assert.Single(late.Events)).Reason);
        Assert.Equal(0, gw.HalfOpenCount);
        Assert.Equal(0, admission.HalfOpen);
        Assert.Equal(2, admission.Counters[IkeDropCause.HalfOpenExpired]);
        Assert.Single(gw.Handle(Client, InitFrom(4)).Replies); // the source's slot is free again
    }

    [Fact]
    public void An_oversized_datagram_is_dropped_before_it_is_parsed()
    {
        var (gw, admission) = NewGateway(new IkeAdmissionSettings());
        var vendorId = new byte[60 * 1024];
        var big = WithPayloads(InitFrom(1), new VendorIdPayload(vendorId));
        var output = gw.Handle(Client, big);
        Assert.Empty(output.Replies);
        Assert.Equal(IkeDropCause.Oversized, Assert.IsType<IkeDropped>(Assert.Single(output.Events)).Cause);
        // Under the datagram cap but over the IKE_SA_INIT cap (an IKE_AUTH may be that big, an INIT need not be).
        var midsize = WithPayloads(InitFrom(1), new VendorIdPayload(new byte[4000]));
        Assert.Equal(IkeDropCause.OversizedInit, Assert.IsType<IkeDropped>(Assert.Single(gw.Handle(Client, midsize).Events)).Cause);

        // Anything beyond the datagram cap, whatever it claims to be: not even its header is believed. Its body is
        // garbage the decoder would refuse, so a Malformed count would show it had been parsed.
        var junk = new byte[9000];
        new Random(1).NextBytes(junk);
        Assert.Equal(IkeDropCause.Oversized, Assert.IsType<IkeDropped>(Assert.Single(gw.Handle(Client, junk).Events)).Cause);
        Assert.Equal(0, admission.Counters[IkeDropCause.Malformed]);
        Assert.Equal(0, gw.HalfOpenCount);
    }

    [Fact]
    public void A_message_with_too_many_payloads_is_dropped_before_it_is_parsed()
    {
        var (gw, admission) = NewGateway(new IkeAdmissionSettings { MaxPayloads = 32 });
        var many = WithPayloads(InitFrom(1), Enumerable.Range(0, 40).Select(i => (IkePayload)new VendorIdPayload([(byte)i])).ToArray());
        var output = gw.Handle(Client, many);
        Assert.Empty(output.Replies);
        Assert.Equal(IkeDropCause.TooManyPayloads, Assert.IsType<IkeDropped>(Assert.Single(output.Events)).Cause);
        Assert.Equal(1, admission.Counters[IkeDropCause.TooManyPayloads]);
    }

    [Fact]
    public void A_vendor_id_flood_from_spoofed_sources_keeps_state_and_memory_bounded()
    {
        var settings = new IkeAdmissionSettings();
        var (gw, admission) = NewGateway(settings);
        var small = Enumerable.Range(0, 50).Select(InitFrom).ToArray();
        var vendorId = new byte[60 * 1024];
        var big = WithPayloads(small[0], new VendorIdPayload(vendorId));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = GC.GetTotalMemory(true);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < 4000; i++)
        {
            // Every datagram from a new spoofed address and port, as a flooder that never sees the answers would send.
            var from = new IPEndPoint(Source(i), 1024 + i);
            gw.Handle(from, 500, i % 2 == 0 ? big : small[i % small.Length]);
        }
        watch.Stop();
        var after = GC.GetTotalMemory(true);

        // Only the INITs before the cookie threshold made state; everything after was a cookie answer or a drop.
        Assert.Equal(settings.CookieThreshold, gw.HalfOpenCount);
        Assert.Equal(2000, admission.Counters[IkeDropCause.Oversized]);
        Assert.Equal(2000 - settings.CookieThreshold, admission.Counters[IkeDropCause.CookieRequired]);
        Assert.True(after - before < 2 * 1024 * 1024, $"memory grew by {(after - before) / 1024} KiB for 4,000 INITs");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"4,000 INITs took {watch.Elapsed}");
    }

    [Fact]
    public void Refusal_logs_are_rate_limited_per_cause_and_count_what_they_left_out()
    {
        var admission = new IkeAdmission(new IkeAdmissionSettings { RefusalLogInterval = TimeSpan.FromSeconds(10) }, _time);
        Assert.Equal(0, admission.RefusalLog(IkeDropCause.PerSourceLimit, "a")!.Suppressed);
        for (var i = 0; i < 99; i++) Assert.Null(admission.RefusalLog(IkeDropCause.PerSourceLimit, "b"));
        Assert.NotNull(admission.RefusalLog(IkeDropCause.Oversized, "another cause has its own budget"));
        _time.Advance(TimeSpan.FromSeconds(10));
        var next = admission.RefusalLog(IkeDropCause.PerSourceLimit, "c")!;
        Assert.Equal(99, next.Suppressed);
        Assert.Equal("c", next.Detail);
    }

    [Fact]
    public void Without_an_admission_the_responder_behaves_as_before()
    {
        var gw = new IkeResponder(GatewaySettings(), new SeededRandom(1));
        for (var i = 0; i < 20; i++) Assert.NotNull(Decode(Single(gw.Handle(Source(i), InitFrom(i)))).Find<KePayload>());
        Assert.Equal(20, gw.HalfOpenCount);
    }
}
