using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgsp;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Fgsp;

/// <summary>
/// This unit's `config system standalone-cluster` as FGSP sync protection uses it: <c>encryption</c> and the key its
/// <c>psksecret</c> derives (null when psksecret is unset). FortiOS's default is <c>encryption disable</c>.
/// </summary>
public sealed record FgspSyncSettings(bool Encryption, FgspSyncKey? Key)
{
    public static readonly FgspSyncSettings Disabled = new(false, null);

    public static FgspSyncSettings From(StandaloneClusterConfig config) =>
        new(config.Encryption, config.PskSecret?.Clear is { Length: > 0 } psk ? FgspSyncKey.Derive(psk, config.StandaloneGroupId) : null);
}

/// <summary>How a record goes to one unit.</summary>
public enum FgspSendForm
{
    /// <summary>As a plain <see cref="TunnelRecord"/> (over the Akka TLS): inside the own FGCP cluster, or encryption disable.</summary>
    Clear,
    /// <summary>As a <see cref="SealedTunnelRecord"/>: to a unit of another FGCP cluster with encryption enable.</summary>
    Sealed,
    /// <summary>Not sent: encryption enable without a psksecret, so it can be neither sealed nor sent in clear.</summary>
    Withheld,
}

/// <summary>Why FGSP sync input was dropped; each is counted under its <see cref="FgspSyncPolicy.Cause"/>.</summary>
public enum FgspSyncRefusal
{
    None,
    NotAuthenticated,
    /// <summary>Encryption enable here, a unit of another FGCP cluster sent a record in clear: its encryption is disable.</summary>
    NotSealed,
    /// <summary>Encryption disable here, a unit of another FGCP cluster sent a sealed record: its encryption is enable.</summary>
    SealedButDisabled,
    /// <summary>A sealed record reached a unit without a psksecret.</summary>
    NoPskSecret,
    /// <summary>The seal did not verify: the sender's psksecret differs, or the record was changed on the way.</summary>
    SealMismatch,
    /// <summary>The sealed record names another sender than the one its connection (or Distributed Data writer) proved.</summary>
    SenderMismatch,
    Malformed,
    RecordMismatch,
}

/// <summary>
/// The accept decision for FGSP sync (tunnel records) between FGCP clusters, as pure functions: the settings, who sent
/// it (its TLS-proved serial) and whether that unit is in this unit's own FGCP cluster. Inside one FGCP cluster the
/// FGSP settings do not apply (FGCP syncs its own cluster; its config, psksecret included, is the same on both units),
/// so clear records from an own-cluster unit are always accepted here and left to <c>SyncAuthorization</c>.
/// </summary>
public static class FgspSyncPolicy
{
    public static FgspSendForm SendForm(FgspSyncSettings settings, bool targetInOwnCluster) =>
        !settings.Encryption || targetInOwnCluster ? FgspSendForm.Clear
        : settings.Key is null ? FgspSendForm.Withheld
        : FgspSendForm.Sealed;

    /// <summary>A plain tunnel record (pushed, or a Distributed Data entry by its writer).</summary>
    /// <remarks>An unauthenticated sender passes here: <c>SyncAuthorization.TunnelRecord</c>, next, refuses it and counts it
    /// as a refused tunnel record, as before FGSP encryption existed.</remarks>
    public static FgspSyncRefusal AcceptClear(FgspSyncSettings settings, string? sender, bool senderInOwnCluster)
    {
        if (sender is null) return FgspSyncRefusal.None;
        if (senderInOwnCluster || !settings.Encryption) return FgspSyncRefusal.None;
        return FgspSyncRefusal.NotSealed;
    }

    /// <summary>A sealed tunnel record: the record inside when accepted, else null and why. Never throws.</summary>
    public static TunnelRecord? AcceptSealed(FgspSyncSettings settings, SealedTunnelRecord sealedRecord, string? sender, bool senderInOwnCluster,
        out FgspSyncRefusal refusal)
    {
        if (sender is null)
        {
            refusal = FgspSyncRefusal.NotAuthenticated;
            return null;
        }
        if (sealedRecord?.SenderSerial != sender)
        {
            refusal = sealedRecord?.SenderSerial is null ? FgspSyncRefusal.Malformed : FgspSyncRefusal.SenderMismatch;
            return null;
        }
        if (!settings.Encryption && !senderInOwnCluster)
        {
            refusal = FgspSyncRefusal.SealedButDisabled;
            return null;
        }
        if (settings.Key is null)
        {
            refusal = FgspSyncRefusal.NoPskSecret;
            return null;
        }
        var record = FgspSyncSeal.Open(sealedRecord, settings.Key, out var failure);
        refusal = failure switch
        {
            FgspOpenFailure.None => FgspSyncRefusal.None,
            FgspOpenFailure.SealMismatch => FgspSyncRefusal.SealMismatch,
            FgspOpenFailure.RecordMismatch => FgspSyncRefusal.RecordMismatch,
            _ => FgspSyncRefusal.Malformed,
        };
        return record;
    }

    /// <summary>The counter name of a refusal (`diagnose sys ha standalone-peers`, <c>SyncRefusals</c> kind "fgsp-sync CAUSE").</summary>
    public static string Cause(FgspSyncRefusal refusal) => refusal switch
    {
        FgspSyncRefusal.NotAuthenticated => "not-authenticated",
        FgspSyncRefusal.NotSealed => "not-sealed",
        FgspSyncRefusal.SealedButDisabled => "sealed-encryption-disabled",
        FgspSyncRefusal.NoPskSecret => "no-psksecret",
        FgspSyncRefusal.SealMismatch => "seal-mismatch",
        FgspSyncRefusal.SenderMismatch => "sender-mismatch",
        FgspSyncRefusal.Malformed => "malformed",
        FgspSyncRefusal.RecordMismatch => "record-mismatch",
        _ => "none",
    };

    /// <summary>The log line's reason: mismatched settings are named as such, never thrown.</summary>
    public static string Explain(FgspSyncRefusal refusal) => refusal switch
    {
        FgspSyncRefusal.NotAuthenticated => "sender not authenticated",
        FgspSyncRefusal.NotSealed => "sent in clear, but this unit has standalone-cluster encryption enable (settings mismatch: the peer's is disable)",
        FgspSyncRefusal.SealedButDisabled => "sealed, but this unit has standalone-cluster encryption disable (settings mismatch: the peer's is enable)",
        FgspSyncRefusal.NoPskSecret => "sealed, but this unit has no standalone-cluster psksecret",
        FgspSyncRefusal.SealMismatch => "seal does not verify (standalone-cluster psksecret differs from the peer's, or the record was modified)",
        FgspSyncRefusal.SenderMismatch => "sealed record names another sender than the one its connection proved",
        FgspSyncRefusal.Malformed => "malformed sealed record",
        FgspSyncRefusal.RecordMismatch => "sealed record's contents disagree with its labels",
        _ => "accepted",
    };

    public const string RefusalKindPrefix = "fgsp-sync ";
}
