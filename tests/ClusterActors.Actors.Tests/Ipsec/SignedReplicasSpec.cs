using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Unit;
using ClusterActors.Protocol.Fgsp;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// Distributed Data entries of SA sync are signed by their writer's lab key, and the writer handed to
/// <see cref="SyncAuthorization"/> is the verified signer (src/Actors/Ipsec/README.md, "Signed Distributed Data
/// entries"). Synthetic certificates and records, no actor system.
/// </summary>
public sealed class SignedReplicasSpec
{
    private const string Vm1 = "FGVM02TM22000001", Vm2 = "FGVM02TM22000002", Vm3 = "FGVM02TM22000003";

    /// <summary>A CA and unit certificates as LabCertificateAuthority makes them (ECDSA P-256, serialNumber = serial).</summary>
    internal sealed class Ca
    {
        public X509Certificate2 Certificate { get; }

        public Ca(string name = "spec lab CA")
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest(new X500DistinguishedName($"CN={name}"), key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
            var now = DateTimeOffset.UtcNow;
            Certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(30));
        }

        public X509Certificate2 Issue(string unit, string serial)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var subject = new X500DistinguishedNameBuilder();
            subject.AddCommonName(unit);
            subject.Add("2.5.4.5", serial, System.Formats.Asn1.UniversalTagNumber.PrintableString);
            var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
            var now = DateTimeOffset.UtcNow;
            using var issued = request.Create(Certificate, now.AddMinutes(-5), now.AddDays(10), RandomNumberGenerator.GetBytes(8));
            return issued.CopyWithPrivateKey(key);
        }

        public LabCertificateTrust Trust() => new(X509CertificateLoader.LoadCertificate(Certificate.RawData));
    }

    private static readonly Ca Lab = new();
    private static readonly TunnelRecordSigner Signer1 = new(Lab.Issue("DC2_VM1", Vm1));
    private static readonly TunnelRecordSigner Signer3 = new(Lab.Issue("DC2_VM3", Vm3));
    private static readonly string Clear = SignedReplicas.ClearManifest;

    private static TunnelRecord Owned(string owner, long generation = 3)
    {
        var r = TunnelOwnershipSpec.Record(owner, generation: generation);
        // Wire-valid (the synthetic record has a last response ID without its bytes, which the codec refuses).
        return r with { Key = TunnelRecord.KeyOf(r.Phase1, r.Ike.SpiI, r.Ike.SpiR), Ike = r.Ike with { LastResponse = new byte[28] } };
    }

    /// <summary>The whole decision an enforcing unit takes on a clear entry: the signer, then SyncAuthorization with it.</summary>
    private static string? Refusal(SignedTunnelRecord entry, TunnelRecord? known, LabCertificateTrust? trust = null)
    {
        var opened = SignedReplicas.Open(((TunnelRecord)Decode(entry)).Key, entry, Clear, enforcing: true, trust ?? Lab.Trust());
        if (!opened.Accepted) return opened.Cause;
        return SyncAuthorization.TunnelRecord((TunnelRecord)opened.Payload!, known, opened.Writer) is null ? null : "tunnel-record";
    }

    private static object Decode(SignedTunnelRecord e) => Protocol.Serialization.WireCodecs.Decode(e.PayloadManifest, e.Payload);

    [Fact]
    public void The_owner_s_signed_entry_is_accepted_and_attributed_to_the_owner()
    {
        var record = Owned(Vm1);
        var entry = new SignedReplicas(true, null, Signer1).Wrap(record);
        var opened = SignedReplicas.Open(record.Key, entry, Clear, enforcing: true, Lab.Trust());
        Assert.True(opened.Accepted, opened.Why);
        Assert.Equal(Vm1, opened.Writer);
        Assert.Equal(Protocol.Serialization.WireCodecs.Encode(record), Protocol.Serialization.WireCodecs.Encode(opened.Payload!));
        Assert.Null(Refusal(new SignedReplicas(true, null, Signer1).Wrap(record with { Deleted = true, SyncSeq = 9 }), record));
        // A claim by the ownership rule, signed by the claimer, is accepted like a push from it.
        Assert.Null(Refusal(new SignedReplicas(true, null, Signer3).Wrap(TunnelOwnership.Claim(record, Vm3, 2)), record));
    }

    [Fact]
    public void Any_flipped_byte_of_payload_signature_or_signed_serial_is_refused()
    {
        var record = Owned(Vm1);
        var entry = new SignedReplicas(true, null, Signer1).Wrap(record);
        for (var i = 0; i < entry.Payload.Length; i++)
        {
            var payload = (byte[])entry.Payload.Clone();
            payload[i] ^= 0x01;
            var opened = SignedReplicas.Open(record.Key, entry with { Payload = payload }, Clear, true, Lab.Trust());
            Assert.Equal("bad-signature", opened.Cause);
        }
        for (var i = 0; i < entry.Signature.Length; i++)
        {
            var signature = (byte[])entry.Signature.Clone();
            signature[i] ^= 0x80;
            Assert.Equal("bad-signature", SignedReplicas.Open(record.Key, entry with { Signature = signature }, Clear, true, Lab.Trust()).Cause);
        }
        Assert.Equal("bad-signature", SignedReplicas.Open(record.Key, entry with { Signature = entry.Signature[..^1] }, Clear, true, Lab.Trust()).Cause);
        // The manifest is signed too: the same bytes cannot be passed off as another payload kind.
        Assert.NotNull(SignedReplicas.Open(record.Key, entry with { PayloadManifest = SignedReplicas.SealedManifest }, SignedReplicas.SealedManifest, true, Lab.Trust()).Cause);
    }

    [Fact]
    public void A_forged_record_of_the_owner_s_tunnel_is_refused_whatever_signer_it_names()
    {
        var known = Owned(Vm1);
        var deleted = known with { Deleted = true, Generation = known.Generation + 5 };
        // DC2_VM3 signs with its own key and names itself: the signature holds, the owner does not.
        Assert.Equal("tunnel-record", Refusal(new SignedReplicas(true, null, Signer3).Wrap(deleted), known));
        // … and with other keys in a claim's form: still not a claim by the rule.
        var takeover = TunnelOwnership.Claim(known, Vm3, 2) with { Child = known.Child with { OutboundSpi = 0x0badf00d } };
        Assert.Equal("tunnel-record", Refusal(new SignedReplicas(true, null, Signer3).Wrap(takeover), known));
        // Names the owner as signer, signed with its own key and certificate: its certificate is not the owner's.
        var own = new SignedReplicas(true, null, Signer3).Wrap(deleted);
        Assert.Equal("signer-mismatch", Refusal(own with { SignerSerial = Vm1 }, known));
        // The owner's certificate (public: every entry of the owner carries it) with DC2_VM3's signature.
        var ownersCertificate = new SignedReplicas(true, null, Signer1).Wrap(known).SignerCertificate;
        Assert.Equal("bad-signature", Refusal(own with { SignerSerial = Vm1, SignerCertificate = ownersCertificate }, known));
    }

    [Fact]
    public void An_unsigned_entry_or_one_signed_under_another_CA_is_refused()
    {
        var known = Owned(Vm1);
        var update = known with { SyncSeq = 9 };
        Assert.Equal("unsigned", Refusal(new SignedReplicas(true, null, null).Wrap(update), known));
        Assert.Equal("unsigned", Refusal(new SignedReplicas(true, null, Signer1).Wrap(update) with { Signature = [] }, known));
        // A certificate naming the owner, from a CA this unit does not trust, signs perfectly well.
        var rogue = new TunnelRecordSigner(new Ca("rogue CA").Issue("DC2_VM1", Vm1));
        Assert.Equal("not-lab-certificate", Refusal(new SignedReplicas(true, null, rogue).Wrap(update), known));
        // Junk where the certificate goes: refused, not thrown.
        Assert.Equal("malformed", Refusal(new SignedReplicas(true, null, Signer1).Wrap(update) with { SignerCertificate = [1, 2, 3] }, known));
        // An enforcing unit without a lab CA accepts nothing (fails closed).
        Assert.Equal("no-lab-ca", SignedReplicas.Open(known.Key, new SignedReplicas(true, null, Signer1).Wrap(update), Clear, true, null).Cause);
    }

    [Fact]
    public void A_genuine_entry_under_another_tunnel_s_key_or_of_the_wrong_kind_is_refused()
    {
        var record = Owned(Vm1);
        var entry = new SignedReplicas(true, null, Signer1).Wrap(record);
        Assert.Equal("key-mismatch", SignedReplicas.Open("vpn1/other", entry, Clear, true, Lab.Trust()).Cause);
        Assert.Equal("wrong-payload", SignedReplicas.Open(record.Key, entry, SignedReplicas.SealedManifest, true, Lab.Trust()).Cause);
    }

    [Fact]
    public void A_sealed_entry_is_signed_outside_the_seal_and_its_writer_is_the_signer()
    {
        var record = Owned(Vm1);
        var key = FgspSyncKey.Derive("lab-psk", 1);
        var sealedRecord = FgspSyncSeal.Seal(record, Vm1, key);
        var entry = new SignedReplicas(true, null, Signer1).Wrap(sealedRecord);
        var opened = SignedReplicas.Open(record.Key, entry, SignedReplicas.SealedManifest, true, Lab.Trust());
        Assert.True(opened.Accepted, opened.Why);
        Assert.Equal(Vm1, opened.Writer);
        Assert.Equal(Protocol.Serialization.WireCodecs.Encode(record), Protocol.Serialization.WireCodecs.Encode(FgspSyncSeal.Open((SealedTunnelRecord)opened.Payload!, key, out _)!));
        // A unit of the same standalone group (it holds the psksecret) seals in the owner's name and signs with its own key:
        // the writer is then DC2_VM3, which FgspSyncPolicy refuses as sender-mismatch against the sealed SenderSerial.
        var forged = new SignedReplicas(true, null, Signer3).Wrap(FgspSyncSeal.Seal(record with { Deleted = true, Generation = 9 }, Vm1, key));
        var forgedOpened = SignedReplicas.Open(record.Key, forged, SignedReplicas.SealedManifest, true, Lab.Trust());
        Assert.Equal(Vm3, forgedOpened.Writer);
        Assert.Equal(Vm1, ((SealedTunnelRecord)forgedOpened.Payload!).SenderSerial);
        Assert.Equal("bad-signature", SignedReplicas.Open(record.Key, forged with { SignerSerial = Vm1, SignerCertificate = entry.SignerCertificate },
            SignedReplicas.SealedManifest, true, Lab.Trust()).Cause);
    }

    [Fact]
    public void Insecure_akka_writes_unsigned_and_takes_the_serial_the_record_names()
    {
        var record = Owned(Vm2);
        var entry = new SignedReplicas(false, null, null).Wrap(record);
        Assert.False(entry.IsSigned);
        var opened = SignedReplicas.Open(record.Key, entry, Clear, enforcing: false, trust: null);
        Assert.True(opened.Accepted);
        Assert.Equal(Vm2, opened.Writer);
    }

    [Fact]
    public void An_unchanged_entry_is_verified_once_and_a_refused_one_counted_once()
    {
        var record = Owned(Vm1);
        var replicas = new SignedReplicas(true, Lab.Trust(), Signer1);
        var entry = replicas.Wrap(record);
        Assert.True(replicas.Open(record.Key, entry, Clear, out var fresh).Accepted);
        Assert.True(fresh);
        // The same bytes arriving again as another object (gossip deserialises a fresh copy).
        var copy = (SignedTunnelRecord)Protocol.Serialization.WireCodecs.Decode("ipsec.signed-tunnel.v1", Protocol.Serialization.WireCodecs.Encode(entry));
        Assert.True(replicas.Open(record.Key, copy, Clear, out fresh).Accepted);
        Assert.False(fresh);
        // A different entry under the same key is verified again: a forger cannot ride on a cached verdict.
        var tampered = entry with { Payload = Protocol.Serialization.WireCodecs.Encode(record with { Deleted = true }) };
        Assert.Equal("bad-signature", replicas.Open(record.Key, tampered, Clear, out fresh).Cause);
        Assert.True(fresh);
        replicas.Open(record.Key, tampered, Clear, out fresh);
        Assert.False(fresh);
        // Forgetting another shard's entries leaves this one's; its own shard, emptied, forgets it.
        var shard = FgspSync.ShardOf(record.Key);
        replicas.Retain(Clear, (shard + 1) % FgspSync.DataShards, []);
        Assert.Equal(1, replicas.Cached);
        replicas.Retain(Clear, shard, []);
        Assert.Equal(0, replicas.Cached);
    }

    [Fact]
    public void An_entry_read_under_another_shard_than_its_keys_is_refused_once_and_the_same_entry_under_its_own_is_accepted()
    {
        var record = Owned(Vm1);
        var replicas = new SignedReplicas(true, Lab.Trust(), Signer1);
        var entry = replicas.Wrap(record);
        var own = FgspSync.ShardOf(record.Key);
        var other = (own + 7) % FgspSync.DataShards;
        Assert.Equal("wrong-shard", replicas.Open(record.Key, entry, Clear, out var fresh, other).Cause);
        Assert.True(fresh);
        Assert.Equal("wrong-shard", replicas.Open(record.Key, entry, Clear, out fresh, other).Cause);
        Assert.False(fresh); // counted once, as any refused entry
        Assert.True(replicas.Open(record.Key, entry, Clear, out fresh, own).Accepted);
        Assert.True(replicas.Open(record.Key, entry, Clear, out _).Accepted); // from a message: its key's shard
    }

    [Fact]
    public void The_codec_round_trips_and_truncated_bytes_are_refused_not_thrown_past_the_codec()
    {
        var entry = new SignedReplicas(true, null, Signer1).Wrap(Owned(Vm1));
        var bytes = Protocol.Serialization.WireCodecs.Encode(entry);
        var back = (SignedTunnelRecord)Protocol.Serialization.WireCodecs.Decode("ipsec.signed-tunnel.v1", bytes);
        Assert.Equal(entry.Payload, back.Payload);
        Assert.Equal(entry.Signature, back.Signature);
        for (var n = 0; n < bytes.Length; n += 7)
            Assert.Throws<Protocol.Serialization.WireFormatException>(() => Protocol.Serialization.WireCodecs.Decode("ipsec.signed-tunnel.v1", bytes[..n]));
    }
}
