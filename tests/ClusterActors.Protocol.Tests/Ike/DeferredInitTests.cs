using System.Net;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using Microsoft.Extensions.Time.Testing;
using static ClusterActors.Protocol.Tests.Ike.IkeTestKit;

namespace ClusterActors.Protocol.Tests.Ike;

/// <summary>
/// IKE_SA_INIT with its DH cut out (<see cref="IkeResponder.Begin"/> → <see cref="IkeInitWork.Compute"/> anywhere →
/// <see cref="IkeResponder.Complete"/>), so the owner of the responder never runs a DH (src/Actors/Ipsec/README.md,
/// "Where the work runs"). The pending INIT counts as half-open, a retransmission is not computed twice, and an INIT
/// abandoned meanwhile answers nothing.
/// </summary>
public class DeferredInitTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 2, 0, 0, TimeSpan.Zero));

    private (IkeResponder Responder, IkeAdmission Admission) NewGateway(IkeAdmissionSettings? settings = null)
    {
        var admission = new IkeAdmission(settings ?? new IkeAdmissionSettings { CookieThreshold = 1000 }, _time, new SeededRandom(77));
        return (new IkeResponder(GatewaySettings(), new SeededRandom(7), admission), admission);
    }

    private static IkeInitiator NewClient(int seed) => new(ClientSettings(), Gateway, new SeededRandom(seed));

    private static IPEndPoint At(IPAddress a) => new(a, 500);

    [Fact]
    public void Begin_does_no_DH_the_work_computes_elsewhere_and_the_tunnel_comes_up_after_Complete()
    {
        var (gw, admission) = NewGateway();
        var client = NewClient(1);
        var begun = gw.Begin(At(Client), 500, client.Start(), out var work);
        Assert.Empty(begun.Replies);
        Assert.NotNull(work);
        Assert.False(work.Computed);
        Assert.Equal(1, gw.PendingInits);
        Assert.Equal(1, admission.HalfOpen); // counted from Begin: limits hold for INITs still computing
        Assert.True(gw.IsHalfOpen(work.SpiR));

        // On another thread, as the IKE front's worker pool runs it.
        Task.Run(work.Compute).Wait(TimeSpan.FromSeconds(10));
        Assert.True(work.Computed);
        var answer = Single(gw.Complete(work));
        Assert.Equal(0, gw.PendingInits);
        var auth = Single(client.Handle(answer));
        var r = gw.Handle(At(Client), 500, auth);
        Assert.IsType<IkeSaEstablished>(Assert.Single(r.Events));
        Assert.IsType<IkeSaEstablished>(Assert.Single(client.Handle(Single(r)).Events));
        Assert.Equal(0, admission.HalfOpen);
    }

    [Fact]
    public void Handle_gives_the_same_bytes_as_Begin_Compute_Complete()
    {
        var init = NewClient(3).Start();
        var (inline, _) = NewGateway();
        var (deferred, _) = NewGateway();
        var once = Single(inline.Handle(At(Client), 500, init));
        deferred.Begin(At(Client), 500, init, out var work);
        work!.Compute();
        Assert.Equal(once, Single(deferred.Complete(work)));
    }

    [Fact]
    public void A_retransmission_while_computing_is_not_computed_again_and_is_answered_once_done()
    {
        var (gw, _) = NewGateway();
        var init = NewClient(4).Start();
        gw.Begin(At(Client), 500, init, out var work);
        var again = gw.Begin(At(Client), 500, init, out var second);
        Assert.Null(second);
        Assert.Empty(again.Replies);
        Assert.IsType<IkeDropped>(Assert.Single(again.Events));
        work!.Compute();
        var answer = Single(gw.Complete(work));
        // After it is done the retransmission gets the same answer, without a DH.
        Assert.Equal(answer, Single(gw.Begin(At(Client), 500, init, out var third)));
        Assert.Null(third);
    }

    [Fact]
    public void An_init_that_expired_was_forgotten_or_was_superseded_while_computing_answers_nothing()
    {
        var (gw, admission) = NewGateway();
        gw.Begin(At(Client), 500, NewClient(5).Start(), out var expired);
        _time.Advance(admission.Settings.HalfOpenTimeout + TimeSpan.FromSeconds(1));
        Assert.Equal([expired!.SpiR], gw.ExpireHalfOpen());
        expired.Compute();
        Assert.Empty(gw.Complete(expired).Replies);

        gw.Begin(At(Client), 500, NewClient(6).Start(), out var forgotten);
        Assert.True(gw.Forget(forgotten!.SpiR));
        forgotten.Compute();
        Assert.Empty(gw.Complete(forgotten).Replies);

        // The same initiator SPI with a new request (it started over): the old computation is abandoned.
        var client = NewClient(7);
        var first = client.Start();
        gw.Begin(At(Client), 500, first, out var old);
        var m = IkeCodec.Decode(first);
        var changed = IkeCodec.Encode(m.Header, [new NotifyPayload((NotifyType)40001, [1]), .. m.Payloads]);
        gw.Begin(At(Client), 500, changed, out var fresh);
        Assert.NotNull(fresh);
        old!.Compute();
        Assert.Empty(gw.Complete(old).Replies);
        fresh!.Compute();
        Assert.Single(gw.Complete(fresh).Replies);
        Assert.Equal(1, admission.HalfOpen);
        Assert.Equal(0, gw.PendingInits);
    }

    [Fact]
    public void Pending_inits_count_against_the_embryonic_limit()
    {
        var (gw, admission) = NewGateway(new IkeAdmissionSettings { CookieThreshold = 1000, EmbryonicLimit = 2 });
        gw.Begin(At(IPAddress.Parse("198.18.0.1")), 500, NewClient(8).Start(), out var a);
        gw.Begin(At(IPAddress.Parse("198.18.0.2")), 500, NewClient(9).Start(), out var b);
        var third = gw.Begin(At(IPAddress.Parse("198.18.0.3")), 500, NewClient(10).Start(), out var c);
        Assert.NotNull(a);
        Assert.NotNull(b);
        Assert.Null(c);
        Assert.Equal(IkeDropCause.EmbryonicLimit, Assert.IsType<IkeDropped>(Assert.Single(third.Events)).Cause);
        Assert.Equal(2, admission.HalfOpen);
    }
}
