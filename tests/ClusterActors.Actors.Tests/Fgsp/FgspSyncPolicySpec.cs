using ClusterActors.Actors.Fgsp;
using ClusterActors.Actors.Tests.Ipsec;
using ClusterActors.Actors.Unit;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgsp;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Serialization;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Actors.Tests.Fgsp;

/// <summary>
/// The accept decision for FGSP sync between FGCP clusters (standalone-cluster `encryption` + `psksecret`), on
/// synthetic settings, serials and records, no actor system: what goes sealed, what is refused and why, and that
/// inside one FGCP cluster the settings do not apply.
/// </summary>
public sealed class FgspSyncPolicySpec
{
    private const string Vm1 = "FGVM02TM22000001", Vm3 = "FGVM02TM22000003";
    private static readonly FgspSyncSettings On = new(true, FgspSyncKey.Derive("lab-fgsp-psk", 1));
    private static readonly FgspSyncSettings OnOtherSecret = new(true, FgspSyncKey.Derive("another-psk", 1));
    private static readonly FgspSyncSettings OnNoSecret = new(true, null);
    private static readonly FgspSyncSettings Off = FgspSyncSettings.Disabled;

    /// <summary>A synthetic record the strict tunnel codec accepts (real-looking SPIs, port 500): sealing carries its wire form.</summary>
    private static TunnelRecord Owned(string owner)
    {
        var r = TunnelOwnershipSpec.Record(owner);
        r = r with { Ike = r.Ike with { SpiI = 0x1122334455667788, SpiR = 0x8877665544332211, LastResponseId = null }, RemotePort = 500 };
        r = r with { Key = TunnelRecord.KeyOf(r.Phase1, r.Ike.SpiI, r.Ike.SpiR) };
        WireCodecs.Decode("ipsec.tunnel.v2", WireCodecs.Encode(r)); // throws with the reason if the fixture is not a valid record
        return r;
    }

    [Fact]
    public void Sealed_only_to_another_FGCP_cluster_with_encryption_enable_and_withheld_without_a_psksecret()
    {
        Assert.Equal(FgspSendForm.Sealed, FgspSyncPolicy.SendForm(On, targetInOwnCluster: false));
        Assert.Equal(FgspSendForm.Clear, FgspSyncPolicy.SendForm(On, targetInOwnCluster: true));
        Assert.Equal(FgspSendForm.Clear, FgspSyncPolicy.SendForm(Off, targetInOwnCluster: false));
        Assert.Equal(FgspSendForm.Withheld, FgspSyncPolicy.SendForm(OnNoSecret, targetInOwnCluster: false));
        Assert.Equal(FgspSendForm.Clear, FgspSyncPolicy.SendForm(OnNoSecret, targetInOwnCluster: true));
    }

    [Fact]
    public void A_clear_record_from_another_cluster_is_refused_under_encryption_and_accepted_from_the_own_cluster()
    {
        Assert.Equal(FgspSyncRefusal.NotSealed, FgspSyncPolicy.AcceptClear(On, Vm3, senderInOwnCluster: false));
        Assert.Equal(FgspSyncRefusal.None, FgspSyncPolicy.AcceptClear(On, Vm3, senderInOwnCluster: true));
        Assert.Equal(FgspSyncRefusal.None, FgspSyncPolicy.AcceptClear(Off, Vm3, senderInOwnCluster: false));
        // Left to SyncAuthorization.TunnelRecord, which refuses an unauthenticated sender (counted as tunnel-record).
        Assert.Equal(FgspSyncRefusal.None, FgspSyncPolicy.AcceptClear(Off, null, senderInOwnCluster: false));
        Assert.NotNull(ClusterActors.Actors.Unit.SyncAuthorization.TunnelRecord(Owned(Vm1), null, null));
    }

    [Fact]
    public void A_sealed_record_opens_only_with_the_same_psksecret_and_from_the_sender_it_names()
    {
        var record = Owned(Vm1);
        var sealedRecord = FgspSyncSeal.Seal(record, Vm1, On.Key!);

        var opened = FgspSyncPolicy.AcceptSealed(On with { Key = FgspSyncKey.Derive("lab-fgsp-psk", 1) }, sealedRecord, Vm1, false, out var ok);
        Assert.Equal(FgspSyncRefusal.None, ok);
        Assert.Equal(WireCodecs.Encode(record), WireCodecs.Encode(Assert.IsType<TunnelRecord>(opened)));

        Assert.Null(FgspSyncPolicy.AcceptSealed(OnOtherSecret, sealedRecord, Vm1, false, out var wrong));
        Assert.Equal(FgspSyncRefusal.SealMismatch, wrong);
        Assert.Null(FgspSyncPolicy.AcceptSealed(On, sealedRecord, Vm3, false, out var relayed));
        Assert.Equal(FgspSyncRefusal.SenderMismatch, relayed);
        Assert.Null(FgspSyncPolicy.AcceptSealed(On, sealedRecord, null, false, out var anonymous));
        Assert.Equal(FgspSyncRefusal.NotAuthenticated, anonymous);
        Assert.Null(FgspSyncPolicy.AcceptSealed(OnNoSecret, sealedRecord, Vm1, false, out var noSecret));
        Assert.Equal(FgspSyncRefusal.NoPskSecret, noSecret);
    }

    /// <summary>Mismatched settings between peers are a counted, explained refusal; the own cluster is not FGSP's business.</summary>
    [Fact]
    public void Mismatched_encryption_settings_are_reported_as_such()
    {
        var sealedRecord = FgspSyncSeal.Seal(Owned(Vm1), Vm1, On.Key!);
        var withSecretButOff = new FgspSyncSettings(false, On.Key);
        Assert.Null(FgspSyncPolicy.AcceptSealed(withSecretButOff, sealedRecord, Vm1, senderInOwnCluster: false, out var refusal));
        Assert.Equal(FgspSyncRefusal.SealedButDisabled, refusal);
        Assert.Contains("settings mismatch", FgspSyncPolicy.Explain(refusal));
        Assert.Contains("settings mismatch", FgspSyncPolicy.Explain(FgspSyncRefusal.NotSealed));
        Assert.NotNull(FgspSyncPolicy.AcceptSealed(withSecretButOff, sealedRecord, Vm1, senderInOwnCluster: true, out var own));
        Assert.Equal(FgspSyncRefusal.None, own);
    }

    [Fact]
    public void Settings_come_from_the_standalone_cluster_config()
    {
        var doc = FortiConfig.Parse("config system standalone-cluster\nset standalone-group-id 1\nset encryption enable\nset psksecret lab-fgsp-psk\nend\n", "t");
        Assert.True(doc.Ok, string.Join("\n", doc.Errors));
        var settings = FgspSyncSettings.From(doc.Value!.StandaloneCluster);
        Assert.True(settings.Encryption);
        var sealedRecord = FgspSyncSeal.Seal(Owned(Vm1), Vm1, settings.Key!);
        Assert.NotNull(FgspSyncPolicy.AcceptSealed(On, sealedRecord, Vm1, false, out _));
        Assert.False(FgspSyncSettings.From(FortiConfig.Parse("", "t").Value!.StandaloneCluster).Encryption); // FortiOS default: disable
    }

    /// <summary>Counted by cause; logged once per sender a minute whatever the cause (FakeTimeProvider).</summary>
    [Fact]
    public void Refusals_are_counted_by_cause_and_logged_once_per_sender_per_minute()
    {
        var time = new FakeTimeProvider();
        var refusals = new SyncRefusals(time);
        string Kind(FgspSyncRefusal r) => FgspSyncPolicy.RefusalKindPrefix + FgspSyncPolicy.Cause(r);
        Assert.True(refusals.Refused(Kind(FgspSyncRefusal.SealMismatch), Vm3, out _, logKey: "fgsp-sync|" + Vm3));
        Assert.False(refusals.Refused(Kind(FgspSyncRefusal.NotSealed), Vm3, out _, logKey: "fgsp-sync|" + Vm3));
        Assert.False(refusals.Refused(Kind(FgspSyncRefusal.SealMismatch), Vm3, out _, logKey: "fgsp-sync|" + Vm3));
        Assert.True(refusals.Refused(Kind(FgspSyncRefusal.SealMismatch), Vm1, out _, logKey: "fgsp-sync|" + Vm1));
        time.Advance(TimeSpan.FromSeconds(61));
        Assert.True(refusals.Refused(Kind(FgspSyncRefusal.SealMismatch), Vm3, out var suppressed, logKey: "fgsp-sync|" + Vm3));
        Assert.Equal(2, suppressed);
        Assert.Equal(4, refusals.Count("fgsp-sync seal-mismatch"));
        Assert.Equal(1, refusals.Count("fgsp-sync not-sealed"));
    }
}
