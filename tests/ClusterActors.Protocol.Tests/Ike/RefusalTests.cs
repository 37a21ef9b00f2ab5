using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using static ClusterActors.Protocol.Tests.Ike.IkeTestKit;

namespace ClusterActors.Protocol.Tests.Ike;

public class RefusalTests
{
    private sealed record Attempt(IkeOutput AtGateway, IkeOutput? AtClient, IkeResponder Responder, IkeInitiator Initiator);

    /// <summary>Runs as far as the gateway lets it: IKE_SA_INIT, then IKE_AUTH if the first step produced an SA.</summary>
    private static Attempt Try(IkeGatewaySettings gw, IkeInitiatorSettings cl)
    {
        var responder = new IkeResponder(gw, new SeededRandom(5));
        var client = new IkeInitiator(cl, Gateway, new SeededRandom(6));
        var r1 = responder.Handle(Client, client.Start());
        var c1 = client.Handle(Single(r1));
        if (client.Phase != IkeInitiatorPhase.AuthSent) return new Attempt(r1, c1, responder, client);
        var r2 = responder.Handle(Client, Single(c1));
        var c2 = r2.Replies.Count == 1 ? client.Handle(r2.Replies[0]) : null;
        return new Attempt(r2, c2, responder, client);
    }

    private static void AssertNothingEstablished(Attempt a)
    {
        Assert.Empty(a.Responder.Sas);
        Assert.Equal(0, a.Responder.HalfOpenCount);
        Assert.DoesNotContain(a.AtGateway.Events, e => e is IkeSaEstablished);
        Assert.Null(a.Initiator.Sa);
        Assert.Equal(IkeInitiatorPhase.Failed, a.Initiator.Phase);
    }

    [Fact]
    public void Wrong_psk_is_authentication_failed_and_creates_nothing()
    {
        var a = Try(GatewaySettings(), ClientSettings() with { Psk = "not-the-psk" });
        var refused = Assert.IsType<IkeRefused>(Assert.Single(a.AtGateway.Events));
        Assert.Equal(RefusalKind.WrongPsk, refused.Kind);
        Assert.Contains("pre-shared key", refused.Reason);
        Assert.Contains("Nokia_Peer", refused.Reason);
        var atClient = Assert.IsType<IkeRefused>(Assert.Single(a.AtClient!.Events));
        Assert.Equal(RefusalKind.AuthenticationFailed, atClient.Kind);
        Assert.Contains("AuthenticationFailed", atClient.Reason);
        AssertNothingEstablished(a);
    }

    [Fact]
    public void Client_refuses_a_gateway_whose_auth_does_not_verify()
    {
        // A gateway that knows the SA keys but not the PSK: re-encrypt its genuine answer with one AUTH byte changed.
        var responder = new IkeResponder(GatewaySettings(), new SeededRandom(5));
        var client = new IkeInitiator(ClientSettings(), Gateway, new SeededRandom(6));
        var auth = Single(client.Handle(Single(responder.Handle(Client, client.Start()))));
        var r = responder.Handle(Client, auth);
        var sa = Assert.IsType<IkeSaEstablished>(Assert.Single(r.Events)).Sa;
        var (first, plain) = RawIke.DecryptSk(Single(r), sa.Keys.SkEr, sa.Keys.SkAr);
        var idrLen = RawIke.U16(plain, 2);
        plain[idrLen + 8] ^= 0x01; // first byte of the AUTH data
        var forged = RawIke.EncryptSk(Single(r), first, plain, sa.Keys.SkEr, sa.Keys.SkAr);

        var outcome = client.Handle(forged);
        Assert.Equal(RefusalKind.WrongPsk, Assert.IsType<IkeRefused>(Assert.Single(outcome.Events)).Kind);
        Assert.Null(client.Sa);
        Assert.Equal(IkeInitiatorPhase.Failed, client.Phase);
    }

    [Fact]
    public void Wrong_peer_id_is_refused()
    {
        var a = Try(GatewaySettings(), ClientSettings() with { LocalId = "Other_Peer" });
        var refused = Assert.IsType<IkeRefused>(Assert.Single(a.AtGateway.Events));
        Assert.Equal(RefusalKind.PeerIdMismatch, refused.Kind);
        Assert.Contains("Other_Peer", refused.Reason);
        Assert.Equal(RefusalKind.AuthenticationFailed, Assert.IsType<IkeRefused>(Assert.Single(a.AtClient!.Events)).Kind);
        AssertNothingEstablished(a);
    }

    [Fact]
    public void Peer_id_of_the_wrong_type_is_refused_even_with_the_same_text()
    {
        var a = Try(GatewaySettings(), ClientSettings() with { LocalIdType = IdType.Rfc822Addr });
        Assert.Equal(RefusalKind.PeerIdMismatch, Assert.IsType<IkeRefused>(Assert.Single(a.AtGateway.Events)).Kind);
        AssertNothingEstablished(a);
    }

    [Fact]
    public void Proposal_mismatch_is_no_proposal_chosen_in_clear()
    {
        var a = Try(GatewaySettings(), ClientSettings() with { Proposals = ["aes256-sha256"] });
        var refused = Assert.IsType<IkeRefused>(Assert.Single(a.AtGateway.Events));
        Assert.Equal(RefusalKind.NoProposalChosen, refused.Kind);
        Assert.Contains("aes128-sha1", refused.Reason);
        var reply = IkeCodec.Decode(Single(a.AtGateway));
        Assert.Equal(0ul, reply.Header.SpiR);
        Assert.Equal(NotifyType.NoProposalChosen, Assert.IsType<NotifyPayload>(Assert.Single(reply.Payloads)).NotifyType);
        Assert.Equal(RefusalKind.NoProposalChosen, Assert.IsType<IkeRefused>(Assert.Single(a.AtClient!.Events)).Kind);
        AssertNothingEstablished(a);
    }

    [Fact]
    public void Dh_group_not_allowed_at_all_is_no_proposal_chosen()
    {
        var a = Try(GatewaySettings(2), ClientSettings(14));
        Assert.Equal(RefusalKind.NoProposalChosen, Assert.IsType<IkeRefused>(Assert.Single(a.AtGateway.Events)).Kind);
        AssertNothingEstablished(a);
    }

    [Fact]
    public void Phase2_proposal_mismatch_refuses_at_ike_auth()
    {
        var a = Try(GatewaySettings(), ClientSettings() with { ChildProposals = ["aes256-sha1"] });
        Assert.Equal(RefusalKind.NoProposalChosen, Assert.IsType<IkeRefused>(Assert.Single(a.AtGateway.Events)).Kind);
        AssertNothingEstablished(a);
    }

    [Fact]
    public void Selectors_outside_phase2_are_ts_unacceptable()
    {
        var a = Try(GatewaySettings() with { RemoteSelector = TrafficSelector.FromCidr("10.20.0.0/16") }, ClientSettings());
        Assert.Equal(RefusalKind.TsUnacceptable, Assert.IsType<IkeRefused>(Assert.Single(a.AtGateway.Events)).Kind);
        Assert.Equal(RefusalKind.TsUnacceptable, Assert.IsType<IkeRefused>(Assert.Single(a.AtClient!.Events)).Kind);
        AssertNothingEstablished(a);
    }

    [Fact]
    public void Selectors_are_narrowed_to_phase2()
    {
        var gw = GatewaySettings() with { LocalSelector = TrafficSelector.FromCidr("172.16.0.0/12"), RemoteSelector = TrafficSelector.FromCidr("10.10.0.0/16") };
        var run = Handshake(gw);
        Assert.Equal([TrafficSelector.FromCidr("10.10.1.0/24")], run.AtGateway.Ts.Initiator);
        Assert.Equal([TrafficSelector.FromCidr("172.16.0.0/12")], run.AtGateway.Ts.Responder);
        Assert.Equal(run.AtGateway.Ts.Responder, run.AtClient.Ts.Responder);
    }

    [Fact]
    public void Wrong_ke_group_gets_invalid_ke_then_the_retry_succeeds()
    {
        var responder = new IkeResponder(GatewaySettings(2), new SeededRandom(5));
        var client = new IkeInitiator(ClientSettings(14, 2), Gateway, new SeededRandom(6));
        var first = client.Start();
        Assert.Equal(14, client.KeGroup);
        var r1 = responder.Handle(Client, first);
        var refused = Assert.IsType<IkeRefused>(Assert.Single(r1.Events));
        Assert.Equal(RefusalKind.InvalidKePayload, refused.Kind);
        var notify = Assert.IsType<NotifyPayload>(Assert.Single(IkeCodec.Decode(Single(r1)).Payloads));
        Assert.Equal(NotifyType.InvalidKePayload, notify.NotifyType);
        Assert.Equal(new byte[] { 0, 2 }, notify.Data);
        Assert.Equal(0, responder.HalfOpenCount);

        var c1 = client.Handle(Single(r1));
        Assert.Equal(2, Assert.IsType<IkeRetrying>(Assert.Single(c1.Events)).DhGroup);
        var retry = Single(c1);
        Assert.Equal(IkeCodec.Decode(first).Header.SpiI, IkeCodec.Decode(retry).Header.SpiI);
        var auth = Single(client.Handle(Single(responder.Handle(Client, retry))));
        var done = responder.Handle(Client, auth);
        Assert.Equal(2, Assert.IsType<IkeSaEstablished>(Assert.Single(done.Events)).Sa.DhGroup);
        Assert.IsType<IkeSaEstablished>(Assert.Single(client.Handle(Single(done)).Events));
    }

    [Fact]
    public void Retransmitted_ike_sa_init_gets_the_same_answer_and_one_half_open_sa()
    {
        var responder = new IkeResponder(GatewaySettings(), new SeededRandom(5));
        var client = new IkeInitiator(ClientSettings(), Gateway, new SeededRandom(6));
        var init = client.Start();
        var a = Single(responder.Handle(Client, init));
        var again = responder.Handle(Client, client.Retransmit()!);
        Assert.Equal(a, Single(again));
        Assert.IsType<IkeRetransmitted>(Assert.Single(again.Events));
        Assert.Equal(1, responder.HalfOpenCount);
    }

    [Fact]
    public void Unknown_spi_and_stray_responses_are_dropped()
    {
        var run = Handshake();
        var other = Handshake(seed: 99);
        var o = run.Responder.Handle(Client, other.Initiator.Dpd());
        Assert.Empty(o.Replies);
        Assert.IsType<IkeDropped>(Assert.Single(o.Events));
        // A response the gateway never asked for.
        var stray = run.Responder.Handle(Client, run.AuthResponse);
        Assert.Empty(stray.Replies);
        Assert.IsType<IkeDropped>(Assert.Single(stray.Events));
    }
}
