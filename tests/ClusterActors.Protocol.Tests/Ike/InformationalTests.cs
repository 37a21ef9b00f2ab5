using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using static ClusterActors.Protocol.Tests.Ike.IkeTestKit;
using static ClusterActors.Protocol.Tests.Ike.RawIke;

namespace ClusterActors.Protocol.Tests.Ike;

/// <summary>DPD, retransmission, SA sync to another member, Delete and CHILD SA rekey.</summary>
public class InformationalTests
{
    [Fact]
    public void Dpd_round_trip_uses_the_next_message_ids()
    {
        var run = Handshake();
        var sa = run.AtGateway.Sa;
        var probe = run.Initiator.Dpd();
        Assert.Equal(37, probe[18]);            // INFORMATIONAL
        Assert.Equal(0x08, probe[19]);
        Assert.Equal(2u, U32(probe, 20));
        Assert.Empty(DecryptSk(probe, sa.Keys.SkEi, sa.Keys.SkAi).Plain); // empty: a liveness check

        var o = run.Responder.Handle(Client, probe);
        var answer = Single(o);
        Assert.Equal(0x20, answer[19]);
        Assert.Equal(2u, U32(answer, 20));
        Assert.Empty(DecryptSk(answer, sa.Keys.SkEr, sa.Keys.SkAr).Plain);
        var answered = Assert.IsType<IkeDpdAnswered>(Assert.Single(o.Events));
        Assert.Equal(3u, answered.Sa.ExpectedPeerRequestId);
        Assert.Equal(answer, answered.Sa.LastResponse);

        var c = run.Initiator.Handle(answer);
        Assert.Equal(3u, Assert.IsType<IkeDpdConfirmed>(Assert.Single(c.Events)).Sa.NextRequestId);
        Assert.Null(run.Initiator.Retransmit());
        Assert.IsType<IkeDropped>(Assert.Single(run.Initiator.Handle(answer).Events)); // no request outstanding any more
    }

    [Fact]
    public void Retransmitted_request_gets_the_cached_response_not_a_new_one()
    {
        var run = Handshake();
        var probe = run.Initiator.Dpd();
        var first = Single(run.Responder.Handle(Client, probe));
        Assert.Equal(probe, run.Initiator.Retransmit());
        var again = run.Responder.Handle(Client, run.Initiator.Retransmit()!);
        Assert.Equal(first, Single(again));
        Assert.Equal(2u, Assert.IsType<IkeRetransmitted>(Assert.Single(again.Events)).MessageId);
        Assert.Equal(3u, run.Responder.Export(run.AtGateway.Sa.SpiR)!.ExpectedPeerRequestId);

        // The IKE_AUTH request (#1) is now outside the window.
        var old = run.Responder.Handle(Client, run.AuthRequest);
        Assert.Empty(old.Replies);
        Assert.Contains("window", Assert.IsType<IkeDropped>(Assert.Single(old.Events)).Reason);
    }

    [Fact]
    public void Retransmitted_ike_auth_gets_the_cached_ike_auth_response()
    {
        var run = Handshake();
        var again = run.Responder.Handle(Client, run.AuthRequest);
        Assert.Equal(run.AuthResponse, Single(again));
        Assert.IsType<IkeRetransmitted>(Assert.Single(again.Events));
        Assert.Single(run.Responder.Sas);
    }

    [Fact]
    public void Forged_retransmission_is_not_answered()
    {
        var run = Handshake();
        var probe = run.Initiator.Dpd();
        run.Responder.Handle(Client, probe);
        var forged = (byte[])probe.Clone();
        forged[^1] ^= 1;
        var o = run.Responder.Handle(Client, forged);
        Assert.Empty(o.Replies);
        Assert.Contains("integrity", Assert.IsType<IkeDropped>(Assert.Single(o.Events)).Reason);
    }

    [Fact]
    public void New_owner_resumed_from_synced_state_answers_dpd_without_ike_sa_init()
    {
        var run = Handshake();
        var spiR = run.AtGateway.Sa.SpiR;
        var probe2 = run.Initiator.Dpd();
        var firstAnswer = Single(run.Responder.Handle(Client, probe2));
        run.Initiator.Handle(firstAnswer);

        // What the owner pushes to the other members (FGSP fgsp-sync); the record is all that crosses.
        var synced = run.Responder.Export(spiR)!;
        var newOwner = new IkeResponder(GatewaySettings(), new SeededRandom(777));
        newOwner.Resume(synced);

        // A late retransmission of #2 reaches the new owner: it answers with the old owner's bytes.
        var replay = newOwner.Handle(Client, probe2);
        Assert.Equal(firstAnswer, Single(replay));
        Assert.IsType<IkeRetransmitted>(Assert.Single(replay.Events));

        var p3 = run.Initiator.Dpd();

        var o = newOwner.Handle(Client, p3);
        var answered = Assert.IsType<IkeDpdAnswered>(Assert.Single(o.Events));
        Assert.Equal(3u, U32(Single(o), 20));
        Assert.Equal(4u, answered.Sa.ExpectedPeerRequestId);
        Assert.IsType<IkeDpdConfirmed>(Assert.Single(run.Initiator.Handle(Single(o)).Events));

        // The new owner's own probes start at its synced request ID (0: the gateway had sent none).
        var gwProbe = newOwner.CreateDpd(spiR);
        Assert.Equal(0u, U32(gwProbe, 20));
        Assert.Equal(0x00, gwProbe[19]);        // neither I (we are the original responder) nor R
        var clientAnswer = run.Initiator.Handle(gwProbe);
        Assert.IsType<IkeDpdAnswered>(Assert.Single(clientAnswer.Events));
        Assert.IsType<IkeDpdConfirmed>(Assert.Single(newOwner.Handle(Client, Single(clientAnswer)).Events));
        Assert.Equal(1u, U32(newOwner.CreateDpd(spiR), 20));
        Assert.Equal(2u, newOwner.Export(spiR)!.NextRequestId);

        // Child SA keys survive the move unchanged (FGSP takeover keeps SPIs).
        Assert.Equal(run.AtGateway.Child.InboundSpi, Assert.Single(newOwner.Export(spiR)!.Children).InboundSpi);
    }

    [Fact]
    public void Standby_with_stale_message_ids_drops_the_next_request()
    {
        var run = Handshake();
        var stale = run.Responder.Export(run.AtGateway.Sa.SpiR)!;   // synced right after IKE_AUTH
        run.Initiator.Handle(Single(run.Responder.Handle(Client, run.Initiator.Dpd())));
        var standby = new IkeResponder(GatewaySettings(), new SeededRandom(5));
        standby.Resume(stale);
        var o = standby.Handle(Client, run.Initiator.Dpd()); // #3, standby expects #2
        Assert.Empty(o.Replies);
        Assert.Contains("expecting #2", Assert.IsType<IkeDropped>(Assert.Single(o.Events)).Reason);
    }

    [Fact]
    public void Delete_of_a_child_sa_is_answered_with_the_paired_spi()
    {
        var run = Handshake();
        var sa = run.AtGateway.Sa;
        var del = run.Initiator.DeleteChild(run.AtClient.Child.InboundSpi);
        var o = run.Responder.Handle(Client, del);
        var reply = Single(o);
        var (first, plain) = DecryptSk(reply, sa.Keys.SkEr, sa.Keys.SkAr);
        var d = Assert.Single(Walk(plain, 0, plain.Length, first));
        Assert.Equal(42, d.Type);
        Assert.Equal(3, d.Body[0]);             // ESP
        Assert.Equal(4, d.Body[1]);
        Assert.Equal(1, U16(d.Body, 2));
        Assert.Equal(run.AtGateway.Child.InboundSpi, U32(d.Body, 4));
        Assert.Equal(run.AtGateway.Child, Assert.IsType<ChildSaDeleted>(Assert.Single(o.Events)).Child);
        Assert.Empty(run.Responder.Export(sa.SpiR)!.Children);
        Assert.IsType<ChildSaDeleted>(Assert.Single(run.Initiator.Handle(reply).Events));
        Assert.Null(run.Initiator.Child);
    }

    [Fact]
    public void Client_delete_of_the_ike_sa_removes_it_from_the_gateway()
    {
        var run = Handshake();
        var o = run.Responder.Handle(Client, run.Initiator.DeleteIkeSa());
        Assert.IsType<IkeSaDeleted>(Assert.Single(o.Events));
        Assert.Empty(run.Responder.Sas);
        Assert.IsType<IkeSaDeleted>(Assert.Single(run.Initiator.Handle(Single(o)).Events));
        Assert.Equal(IkeInitiatorPhase.Deleted, run.Initiator.Phase);
    }

    [Fact]
    public void Gateway_delete_of_the_ike_sa_ends_it_on_the_client()
    {
        var run = Handshake();
        var spiR = run.AtGateway.Sa.SpiR;
        var c = run.Initiator.Handle(run.Responder.CreateDeleteIkeSa(spiR));
        Assert.IsType<IkeSaDeleted>(Assert.Single(c.Events));
        Assert.Equal(IkeInitiatorPhase.Deleted, run.Initiator.Phase);
        Assert.IsType<IkeSaDeleted>(Assert.Single(run.Responder.Handle(Client, Single(c)).Events));
        Assert.Empty(run.Responder.Sas);
    }

    [Fact]
    public void Child_sa_rekey_without_pfs_gives_fresh_spis_and_keys_on_both_sides()
    {
        var run = Handshake();
        var sa = run.AtGateway.Sa;
        var request = run.Initiator.RekeyChild();
        Assert.Equal(36, request[18]);
        Assert.Equal(2u, U32(request, 20));
        var o = run.Responder.Handle(Client, request);
        var atGw = Assert.IsType<ChildSaRekeyed>(Assert.Single(o.Events));
        Assert.Equal(run.AtGateway.Child, atGw.Old);
        var atClient = Assert.IsType<ChildSaRekeyed>(Assert.Single(run.Initiator.Handle(Single(o)).Events));

        Assert.Equal(atClient.New.OutboundSpi, atGw.New.InboundSpi);
        Assert.Equal(atClient.New.InboundSpi, atGw.New.OutboundSpi);
        Assert.Equal(atClient.New.OutboundEncKey, atGw.New.InboundEncKey);
        Assert.Equal(atClient.New.InboundAuthKey, atGw.New.OutboundAuthKey);
        Assert.NotEqual(run.AtGateway.Child.InboundSpi, atGw.New.InboundSpi);
        Assert.NotEqual(run.AtGateway.Child.InboundEncKey, atGw.New.InboundEncKey);

        // KEYMAT = prf+(SK_d, Ni | Nr) with the rekey's own nonces, read from the decrypted exchange.
        var (f1, p1) = DecryptSk(request, sa.Keys.SkEi, sa.Keys.SkAi);
        var reqPayloads = Walk(p1, 0, p1.Length, f1);
        Assert.Equal(16393, U16(reqPayloads[0].Body, 2)); // REKEY_SA
        Assert.Equal(run.AtClient.Child.InboundSpi, U32(reqPayloads[0].Body, 4));
        var ni = reqPayloads.Single(x => x.Type == 40).Body;
        var (f2, p2) = DecryptSk(Single(o), sa.Keys.SkEr, sa.Keys.SkAr);
        var nr = Walk(p2, 0, p2.Length, f2).Single(x => x.Type == 40).Body;
        var keymat = PrfPlusSha1(sa.Keys.SkD, ni.Concat(nr).ToArray(), 72);
        Assert.Equal(keymat[0..16], atGw.New.InboundEncKey);
        Assert.Equal(keymat[52..72], atGw.New.OutboundAuthKey);

        // The client then deletes the old pair; only the new one remains on both sides.
        var del = run.Responder.Handle(Client, run.Initiator.DeleteChild(run.AtClient.Child.InboundSpi));
        run.Initiator.Handle(Single(del));
        Assert.Equal(atGw.New, Assert.Single(run.Responder.Export(sa.SpiR)!.Children));
        Assert.Equal(atClient.New, run.Initiator.Child);
    }

    [Fact]
    public void The_gateway_rekeys_a_child_sa_the_client_answers_and_the_gateway_deletes_the_old_one()
    {
        // FortiOS rekeys the CHILD SA before its sequence space runs out (src/Actors/Ipsec/README.md): the gateway asks.
        var run = Handshake();
        var sa = run.AtGateway.Sa;
        var request = run.Responder.RekeyChild(sa.SpiR);
        Assert.Equal(36, request[18]);          // CREATE_CHILD_SA
        Assert.Equal(0x00, request[19]);        // a request, from the IKE responder
        Assert.Equal(0u, U32(request, 20));     // the gateway's first own request
        var (f1, p1) = DecryptSk(request, sa.Keys.SkEr, sa.Keys.SkAr);
        var reqPayloads = Walk(p1, 0, p1.Length, f1);
        Assert.Equal(16393, U16(reqPayloads[0].Body, 2)); // REKEY_SA naming the SPI the gateway receives on
        Assert.Equal(run.AtGateway.Child.InboundSpi, U32(reqPayloads[0].Body, 4));

        var c = run.Initiator.Handle(request);
        var atClient = Assert.IsType<ChildSaRekeyed>(Assert.Single(c.Events));
        Assert.False(atClient.RekeyedHere);
        Assert.Equal(run.AtClient.Child, atClient.Old);
        var g = run.Responder.Handle(Client, Single(c));
        var atGw = Assert.IsType<ChildSaRekeyed>(Assert.Single(g.Events));
        Assert.True(atGw.RekeyedHere);
        Assert.Equal(run.AtGateway.Child, atGw.Old);
        Assert.Equal((atClient.New.OutboundSpi, atClient.New.InboundSpi), (atGw.New.InboundSpi, atGw.New.OutboundSpi));
        Assert.Equal(atClient.New.OutboundEncKey, atGw.New.InboundEncKey);
        Assert.Equal(atClient.New.InboundAuthKey, atGw.New.OutboundAuthKey);
        Assert.NotEqual(run.AtGateway.Child.OutboundEncKey, atGw.New.OutboundEncKey);
        // KEYMAT = prf+(SK_d, Ni | Nr): Ni is the gateway's here, it initiated the exchange.
        var ni = reqPayloads.Single(x => x.Type == 40).Body;
        var (f2, p2) = DecryptSk(Single(c), sa.Keys.SkEi, sa.Keys.SkAi);
        var nr = Walk(p2, 0, p2.Length, f2).Single(x => x.Type == 40).Body;
        var keymat = PrfPlusSha1(sa.Keys.SkD, ni.Concat(nr).ToArray(), 72);
        Assert.Equal(keymat[0..16], atGw.New.OutboundEncKey);   // initiator → responder keys first: the gateway's outbound
        Assert.Equal(keymat[52..72], atGw.New.InboundAuthKey);

        // The initiator of the rekey deletes the old pair (§2.8); the client's IKE message IDs are untouched.
        var del = run.Initiator.Handle(run.Responder.CreateDeleteChild(sa.SpiR, atGw.Old!));
        Assert.Equal(run.AtClient.Child, Assert.IsType<ChildSaDeleted>(Assert.Single(del.Events)).Child);
        Assert.Equal(run.AtGateway.Child, Assert.IsType<ChildSaDeleted>(Assert.Single(run.Responder.Handle(Client, Single(del)).Events)).Child);
        Assert.Equal(atGw.New, Assert.Single(run.Responder.Export(sa.SpiR)!.Children));
        Assert.Equal(atClient.New, run.Initiator.Child);
        Assert.Equal(2u, run.Responder.Export(sa.SpiR)!.NextRequestId);
        Assert.Equal(2u, run.Initiator.Sa!.NextRequestId);
    }

    [Fact]
    public void A_gateway_rekey_survives_the_owner_resuming_the_state_it_synced_right_after_sending_it()
    {
        // The owner syncs its advanced message ID at once and applies its own record again (Resume): the request stays
        // outstanding and the client's answer is taken, not dropped as matching no request.
        var run = Handshake();
        var spiR = run.AtGateway.Sa.SpiR;
        var request = run.Responder.RekeyChild(spiR);
        var synced = run.Responder.Export(spiR)!;
        Assert.Equal(1u, synced.NextRequestId);
        run.Responder.Resume(synced);
        Assert.Equal(request, run.Responder.PendingRequest(spiR));
        var g = run.Responder.Handle(Client, Single(run.Initiator.Handle(request)));
        Assert.True(Assert.IsType<ChildSaRekeyed>(Assert.Single(g.Events)).RekeyedHere);

        // A unit that resumes the same state fresh (it took the tunnel over) has nothing outstanding.
        var other = new IkeResponder(run.Responder.Settings);
        other.Resume(synced);
        Assert.Null(other.PendingRequest(spiR));
    }

    [Fact]
    public void The_client_declines_a_gateway_request_for_an_additional_child_sa()
    {
        var run = Handshake();
        var sa = run.AtGateway.Sa;
        var request = IkeCodec.EncodeProtected(
            new IkeHeader(sa.SpiI, sa.SpiR, PayloadType.None, IkeHeader.Ikev2, ExchangeType.CreateChildSa, IkeFlags.None, 0),
            [
                new SaPayload([new Proposal(1, ProtocolId.Esp, [1, 2, 3, 4], IkeSuite.Aes128Sha1.EspTransforms)]),
                new NoncePayload(new byte[32]),
                new TsPayload(false, [TrafficSelector.FromCidr("10.10.1.0/24")]),
                new TsPayload(true, [TrafficSelector.Any]),
            ],
            new SkKeys(IkeSuite.Aes128Sha1, sa.Keys.SkEr, sa.Keys.SkAr), new SeededRandom(4));
        var c = run.Initiator.Handle(request);
        Assert.IsType<IkeRefused>(Assert.Single(c.Events));
        var (first, plain) = DecryptSk(Single(c), sa.Keys.SkEi, sa.Keys.SkAi);
        Assert.Equal(35, U16(Assert.Single(Walk(plain, 0, plain.Length, first)).Body, 2)); // NO_ADDITIONAL_SAS
        Assert.Equal(run.AtClient.Child, Assert.Single(run.Initiator.Sa!.Children));
    }

    [Fact]
    public void Rekey_asking_for_pfs_is_refused_and_the_ike_sa_stays()
    {
        var run = Handshake();
        var sa = run.AtGateway.Sa;
        var pair = ModpGroup.Group2.NewKeyPair(new SeededRandom(3));
        var request = IkeCodec.EncodeProtected(
            new IkeHeader(sa.SpiI, sa.SpiR, PayloadType.None, IkeHeader.Ikev2, ExchangeType.CreateChildSa, IkeFlags.Initiator, 2),
            [
                new SaPayload([new Proposal(1, ProtocolId.Esp, [1, 2, 3, 4], [.. IkeSuite.Aes128Sha1.EspTransforms, new Transform(TransformType.DhGroup, 2)])]),
                new NoncePayload(new byte[32]),
                new KePayload(2, pair.Public),
                new TsPayload(false, [TrafficSelector.FromCidr("10.10.1.0/24")]),
                new TsPayload(true, [TrafficSelector.Any]),
            ],
            new SkKeys(IkeSuite.Aes128Sha1, sa.Keys.SkEi, sa.Keys.SkAi), new SeededRandom(4));
        var o = run.Responder.Handle(Client, request);
        Assert.Equal(RefusalKind.NoProposalChosen, Assert.IsType<IkeRefused>(Assert.Single(o.Events)).Kind);
        var (first, plain) = DecryptSk(Single(o), sa.Keys.SkEr, sa.Keys.SkAr);
        Assert.Equal(14, U16(Assert.Single(Walk(plain, 0, plain.Length, first)).Body, 2));
        Assert.Single(run.Responder.Sas);
        Assert.Equal(3u, run.Responder.Export(sa.SpiR)!.ExpectedPeerRequestId);
    }

    [Fact]
    public void Rekey_naming_an_unknown_child_is_child_sa_not_found()
    {
        var run = Handshake();
        var sa = run.AtGateway.Sa;
        var request = IkeCodec.EncodeProtected(
            new IkeHeader(sa.SpiI, sa.SpiR, PayloadType.None, IkeHeader.Ikev2, ExchangeType.CreateChildSa, IkeFlags.Initiator, 2),
            [
                new NotifyPayload(ProtocolId.Esp, [9, 9, 9, 9], NotifyType.RekeySa, []),
                new SaPayload([new Proposal(1, ProtocolId.Esp, [1, 2, 3, 4], IkeSuite.Aes128Sha1.EspTransforms)]),
                new NoncePayload(new byte[32]),
                new TsPayload(false, [TrafficSelector.FromCidr("10.10.1.0/24")]),
                new TsPayload(true, [TrafficSelector.Any]),
            ],
            new SkKeys(IkeSuite.Aes128Sha1, sa.Keys.SkEi, sa.Keys.SkAi), new SeededRandom(4));
        var o = run.Responder.Handle(Client, request);
        var (first, plain) = DecryptSk(Single(o), sa.Keys.SkEr, sa.Keys.SkAr);
        Assert.Equal(44, U16(Assert.Single(Walk(plain, 0, plain.Length, first)).Body, 2));
        Assert.IsType<IkeRefused>(Assert.Single(o.Events));
    }
}
