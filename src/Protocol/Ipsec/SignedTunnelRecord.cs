using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ClusterActors.Protocol.Serialization;

namespace ClusterActors.Protocol.Ipsec;

/// <summary>
/// A Distributed Data entry of SA sync as its writer signed it (src/Actors/Ipsec/README.md, "Signed Distributed Data
/// entries"). <see cref="Payload"/> is the wire form of what is replicated: a tunnel record (<c>ipsec.tunnel.v2</c>) in
/// the clear dictionary, a sealed one (<c>fgsp.sealed-tunnel.v1</c>) in the sealed dictionary. The writer signs, with
/// the ECDSA P-256 key of its lab certificate, the version label, its serial, the payload's manifest and the payload
/// bytes exactly as carried (<see cref="TunnelRecordSignature.SignedBytes"/>), so a verifier never re-encodes anything.
/// Its certificate (DER) travels with the entry: a unit must verify an entry whose writer it never connected to
/// (a late joiner, a writer that died). Unsigned (<c>--insecure-akka</c>): empty certificate and signature.
/// </summary>
public sealed record SignedTunnelRecord(
    string SignerSerial,
    string PayloadManifest,
    byte[] Payload,
    byte[] SignerCertificate,
    byte[] Signature) : IWireMessage
{
    public bool IsSigned => SignerCertificate is { Length: > 0 } && Signature is { Length: > 0 };
}

/// <summary>Why an entry's signature was not accepted; <see cref="None"/> when it was. Named as counted (<c>dd-signature CAUSE</c>).</summary>
public enum RecordSignatureFailure
{
    None,
    /// <summary>No certificate or no signature (a writer without a lab key: <c>--insecure-akka</c>, or a forger).</summary>
    Unsigned,
    /// <summary>Fields a signer cannot have produced: a certificate that does not parse, an empty serial or payload.</summary>
    Malformed,
    /// <summary>The certificate does not chain to this unit's lab CA (another CA, expired, not a unit certificate).</summary>
    NotLabCertificate,
    /// <summary>The certificate is a lab unit's, but not the unit <see cref="SignedTunnelRecord.SignerSerial"/> names.</summary>
    SignerMismatch,
    /// <summary>The signature does not verify under the certificate's key over these bytes: tampered, or another key.</summary>
    BadSignature,
}

/// <summary>A unit's own lab certificate with its private key: what signs its Distributed Data entries.</summary>
public sealed class TunnelRecordSigner
{
    private readonly ECDsa _key;
    public string Serial { get; }
    public byte[] Certificate { get; }

    public TunnelRecordSigner(X509Certificate2 certificateWithKey)
    {
        _key = certificateWithKey.GetECDsaPrivateKey() ?? throw new ArgumentException("the certificate has no ECDSA private key");
        Serial = LabCertificateTrust.SubjectOf(certificateWithKey).Serial
                 ?? throw new ArgumentException("the certificate names no unit serial (serialNumber)");
        Certificate = certificateWithKey.RawData;
    }

    /// <summary>IEEE P1363 (r‖s, 64 bytes for P-256) over SHA-256: fixed length, no DER to parse on the verifying side.</summary>
    internal byte[] Sign(byte[] data) => _key.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
}

/// <summary>
/// The lab CA a unit trusts, as a check of certificates carried in signed entries. A certificate is a lab unit's when
/// it chains to this CA alone (the system store plays no part), is valid now, is for TLS client and server
/// authentication and names a serial: the same rule Akka's TLS applies to a peer (<see cref="Check"/> is that rule for
/// both). Each distinct certificate is chain-checked once; the verdict is cached by its SHA-256 (bounded), because a
/// chain build costs far more than an ECDSA verify and every entry of one writer carries the same certificate.
/// </summary>
public sealed class LabCertificateTrust(X509Certificate2 ca)
{
    public const int MaxCached = 1024;
    private readonly ConcurrentDictionary<string, (string? Serial, string Why, ECDsa? PublicKey)> _verdicts = new();

    public X509Certificate2 Ca { get; } = ca;

    /// <summary>
    /// The serial the certificate (DER) names when it is a lab unit's, with its public key (shared and cached: used
    /// under a lock on it, never disposed by the caller); null and why not otherwise. Never throws.
    /// </summary>
    public string? SerialOf(byte[] der, out string why, out ECDsa? key)
    {
        key = null;
        var id = Convert.ToHexString(SHA256.HashData(der));
        if (!_verdicts.TryGetValue(id, out var verdict))
        {
            verdict = Judge(der);
            if (_verdicts.Count >= MaxCached) _verdicts.Clear();
            _verdicts[id] = verdict;
        }
        why = verdict.Why;
        if (verdict.Serial is null || verdict.PublicKey is null) return null;
        key = verdict.PublicKey;
        return verdict.Serial;
    }

    private (string? Serial, string Why, ECDsa? PublicKey) Judge(byte[] der)
    {
        X509Certificate2 cert;
        try
        {
            cert = X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException e)
        {
            return (null, "malformed: " + e.Message, null);
        }
        using (cert)
        {
            if (!Check(Ca, cert, out var why)) return (null, why, null);
            var serial = SubjectOf(cert).Serial;
            if (serial is not { Length: > 0 }) return (null, "its subject names no unit serial", null);
            try
            {
                // Imported once per certificate: importing a key costs about as much as a verify.
                var key = cert.GetECDsaPublicKey();
                return key is null ? (null, "its key is not ECDSA", null) : (serial, "", key);
            }
            catch (CryptographicException e)
            {
                return (null, "its key is unreadable: " + e.Message, null);
            }
        }
    }

    /// <summary>
    /// True when <paramref name="peer"/> chains to <paramref name="ca"/> alone, is valid now and is for TLS client and
    /// server authentication; otherwise false and why. Never throws (a certificate from the wire may not verify at all).
    /// </summary>
    public static bool Check(X509Certificate2 ca, X509Certificate2 peer, out string why)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck; // the lab CA publishes no CRL
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2"));
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.1"));
        bool built;
        try
        {
            built = chain.Build(peer);
        }
        catch (CryptographicException e)
        {
            // A certificate that parses but that OpenSSL cannot verify (e.g. one flipped bit in its extensions, found by
            // ClusterProbeDatagramSpec): refused, never thrown, it comes from the wire.
            why = "unverifiable: " + e.Message;
            return false;
        }
        if (!built)
        {
            why = "not issued by the lab CA: " + string.Join(", ", chain.ChainStatus.Select(s => s.Status));
            return false;
        }
        if (!chain.ChainElements[^1].Certificate.RawData.AsSpan().SequenceEqual(ca.RawData))
        {
            why = "chains to another root";
            return false;
        }
        why = "";
        return true;
    }

    /// <summary>CN and serialNumber of the subject (either null when absent).</summary>
    public static (string? Name, string? Serial) SubjectOf(X509Certificate2 certificate)
    {
        string? cn = null, serial = null;
        foreach (var rdn in certificate.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            var oid = rdn.GetSingleElementType().Value;
            if (oid == "2.5.4.3") cn = rdn.GetSingleElementValue();
            else if (oid == "2.5.4.5") serial = rdn.GetSingleElementValue();
        }
        return (cn, serial);
    }
}

/// <summary>Signing and verifying entries as pure functions: no actor, no clock (the certificate's validity uses the system's).</summary>
public static class TunnelRecordSignature
{
    public const string Label = "clusteractors dd-record v1";

    /// <summary>Wraps <paramref name="payload"/> (an <see cref="IWireMessage"/> with a codec), signed when a signer is given.</summary>
    public static SignedTunnelRecord Wrap(object payload, TunnelRecordSigner? signer, string unsignedSerial)
    {
        if (!WireCodecs.TryGet(payload.GetType(), out var codec)) throw new ArgumentException($"no wire codec for {payload.GetType().FullName}");
        var bytes = WireCodecs.Encode(payload);
        if (signer is null) return new SignedTunnelRecord(unsignedSerial, codec.Manifest, bytes, [], []);
        var signature = signer.Sign(SignedBytes(signer.Serial, codec.Manifest, bytes));
        return new SignedTunnelRecord(signer.Serial, codec.Manifest, bytes, signer.Certificate, signature);
    }

    /// <summary>Label, signer serial, payload manifest and payload, each length-prefixed: nothing can be moved between fields.</summary>
    public static byte[] SignedBytes(string signerSerial, string manifest, byte[] payload)
    {
        var w = new WireWriter();
        w.Str(Label);
        w.Str(signerSerial);
        w.Str(manifest);
        w.Bytes(payload);
        return w.ToArray();
    }

    /// <summary>
    /// The serial of the lab unit that signed <paramref name="entry"/>, or null and why not. The certificate must be a
    /// lab unit's (<see cref="LabCertificateTrust"/>), name <see cref="SignedTunnelRecord.SignerSerial"/>, and its key
    /// must verify the signature. Never throws.
    /// </summary>
    public static string? Verify(SignedTunnelRecord? entry, LabCertificateTrust trust, out RecordSignatureFailure failure, out string why)
    {
        failure = RecordSignatureFailure.Malformed;
        why = "malformed";
        if (entry is null || entry.SignerSerial is null || entry.PayloadManifest is null || entry.Payload is null) return null;
        if (!entry.IsSigned)
        {
            failure = RecordSignatureFailure.Unsigned;
            why = "not signed";
            return null;
        }
        var serial = trust.SerialOf(entry.SignerCertificate, out var whyNot, out var key);
        if (serial is null)
        {
            failure = whyNot.StartsWith("malformed", StringComparison.Ordinal) ? RecordSignatureFailure.Malformed : RecordSignatureFailure.NotLabCertificate;
            why = "certificate " + whyNot;
            return null;
        }
        {
            if (serial != entry.SignerSerial)
            {
                failure = RecordSignatureFailure.SignerMismatch;
                why = $"names {entry.SignerSerial} as signer, with the certificate of {serial}";
                return null;
            }
            bool valid;
            try
            {
                var data = SignedBytes(entry.SignerSerial, entry.PayloadManifest, entry.Payload);
                // One key instance per certificate, shared by every phase1 actor: ECDsa instances are not documented as
                // thread-safe, so one verify at a time per key (uncontended in practice: a few actors per unit).
                lock (key!) valid = key.VerifyData(data, entry.Signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            }
            catch (CryptographicException)
            {
                valid = false;
            }
            if (!valid)
            {
                failure = RecordSignatureFailure.BadSignature;
                why = $"signature does not verify under {serial}'s key";
                return null;
            }
        }
        failure = RecordSignatureFailure.None;
        why = "";
        return serial;
    }

    /// <summary>The counter and log name of a cause: <c>unsigned</c>, <c>not-lab-certificate</c>, …</summary>
    public static string Name(RecordSignatureFailure f) => f switch
    {
        RecordSignatureFailure.Unsigned => "unsigned",
        RecordSignatureFailure.Malformed => "malformed",
        RecordSignatureFailure.NotLabCertificate => "not-lab-certificate",
        RecordSignatureFailure.SignerMismatch => "signer-mismatch",
        RecordSignatureFailure.BadSignature => "bad-signature",
        _ => "none",
    };
}
