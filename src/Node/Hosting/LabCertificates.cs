using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ClusterActors.Actors.Unit;

namespace ClusterActors.Node.Hosting;

/// <summary>
/// The lab's certificate authority and the one certificate per unit that Akka remoting's mutual TLS presents
/// (`clusteractors certs create`, the embedded lab and the specs). ECDSA P-256, made with .NET's CertificateRequest: no
/// openssl. A unit certificate's subject names the unit: CN = unit name, serialNumber = its FortiGate serial, which is
/// what authorization maps an Akka member to (<see cref="UnitIdentities"/>).
/// </summary>
public sealed class LabCertificateAuthority
{
    public const string CaFile = "ca.crt";

    /// <summary>The CA certificate with its private key (only while issuing).</summary>
    public X509Certificate2 Certificate { get; }

    private LabCertificateAuthority(X509Certificate2 certificate) => Certificate = certificate;

    public static LabCertificateAuthority Create(string name = "ClusterActors lab CA", TimeSpan? validFor = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        return new LabCertificateAuthority(request.CreateSelfSigned(now.AddMinutes(-5), now + (validFor ?? TimeSpan.FromDays(825))));
    }

    /// <summary>A unit's certificate (with its private key), valid for TLS client and server authentication.</summary>
    public X509Certificate2 Issue(string unitName, string serial, TimeSpan? validFor = null)
    {
        if (!SerialNumbers.IsValid(serial)) throw new UsageException($"'{serial}' is not a FortiGate serial number (e.g. FGVM02TM22000001)");
        if (unitName.Length == 0 || unitName.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')))
            throw new UsageException($"'{unitName}': a unit name is letters, digits, '_', '-' or '.'");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(unitName);
        subject.Add("2.5.4.5", serial, UniversalTagNumber.PrintableString); // serialNumber
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false)); // serverAuth, clientAuth
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(unitName.ToLowerInvariant().Replace('_', '-'));
        request.CertificateExtensions.Add(san.Build());
        var now = DateTimeOffset.UtcNow;
        var notAfter = now + (validFor ?? TimeSpan.FromDays(397));
        if (notAfter > Certificate.NotAfter) notAfter = Certificate.NotAfter;
        var serialBytes = RandomNumberGenerator.GetBytes(16);
        serialBytes[0] &= 0x7f;
        using var issued = request.Create(Certificate, now.AddMinutes(-5), notAfter, serialBytes);
        using var withKey = issued.CopyWithPrivateKey(key);
        // Through PKCS#12 so the key is one SslStream can use as a server on every platform (not an ephemeral handle).
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable);
    }

    private static readonly Lazy<LabCertificateAuthority> SpecCa = new(() => Create("ClusterActors spec CA"));

    /// <summary>A certificate from one CA shared by this process, for specs that start a single unit themselves.</summary>
    public static AkkaTls ForSpecs(string unitName, string serial) => SpecCa.Value.For(unitName, serial);

    /// <summary>The lab's material for one unit, in memory (the embedded lab and the specs).</summary>
    public AkkaTls For(string unitName, string serial) =>
        new(X509CertificateLoader.LoadCertificate(Certificate.RawData), Issue(unitName, serial));

    /// <summary>Writes ca.crt and, per unit, NAME.crt and NAME.key (PKCS#8 PEM, mode 0600) into <paramref name="dir"/>.</summary>
    public void WriteTo(string dir, IEnumerable<(string Unit, string Serial)> units)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, CaFile), Certificate.ExportCertificatePem() + "\n");
        foreach (var (unit, serial) in units)
        {
            using var cert = Issue(unit, serial);
            File.WriteAllText(Path.Combine(dir, unit + ".crt"), cert.ExportCertificatePem() + "\n");
            var keyPath = Path.Combine(dir, unit + ".key");
            File.WriteAllText(keyPath, cert.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem() + "\n");
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}

/// <summary>What one unit needs for Akka's mutual TLS: the lab CA it trusts and its own certificate with key.</summary>
public sealed record AkkaTls(X509Certificate2 Ca, X509Certificate2 Certificate)
{
    /// <summary>DIR/ca.crt, DIR/UNIT.crt and DIR/UNIT.key (what `clusteractors certs create --out DIR` writes).</summary>
    public static AkkaTls Load(string dir, string unitName)
    {
        var ca = Path.Combine(dir, LabCertificateAuthority.CaFile);
        var crt = Path.Combine(dir, unitName + ".crt");
        var key = Path.Combine(dir, unitName + ".key");
        foreach (var f in new[] { ca, crt, key })
            if (!File.Exists(f))
                throw new UsageException($"Akka TLS: no {f} (make the lab's certificates with `clusteractors certs create --out {dir} --units {unitName}`)");
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(crt, key);
            var certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null, X509KeyStorageFlags.Exportable);
            return new AkkaTls(X509CertificateLoader.LoadCertificateFromFile(ca), certificate);
        }
        catch (CryptographicException e)
        {
            throw new UsageException($"Akka TLS: cannot read {crt} / {key}: {e.Message}");
        }
    }

    /// <summary>The unit this certificate names (CN and serialNumber), or null when it names none.</summary>
    public static UnitIdentity? IdentityOf(X509Certificate2 certificate)
    {
        string? cn = null, serial = null;
        foreach (var rdn in certificate.SubjectName.EnumerateRelativeDistinguishedNames())
        {
            var oid = rdn.GetSingleElementType().Value;
            if (oid == "2.5.4.3") cn = rdn.GetSingleElementValue();
            else if (oid == "2.5.4.5") serial = rdn.GetSingleElementValue();
        }
        return cn is { Length: > 0 } && serial is not null && SerialNumbers.IsValid(serial) ? new UnitIdentity(cn, serial) : null;
    }

    /// <summary>
    /// The peer's certificate is accepted only when it chains to the lab CA alone (the system's trust store plays no
    /// part), is valid now, is for TLS client and server authentication, and names a unit. Returns that unit, or null
    /// with <paramref name="why"/>.
    /// </summary>
    public UnitIdentity? Verify(X509Certificate2? peer, out string why)
    {
        if (peer is null)
        {
            why = "no certificate";
            return null;
        }
        // One rule for "a lab unit's certificate", shared with the verifier of signed Distributed Data entries.
        if (!Protocol.Ipsec.LabCertificateTrust.Check(Ca, peer, out why)) return null;
        var unit = IdentityOf(peer);
        why = unit is null ? "its subject names no unit (CN and serialNumber)" : "";
        return unit;
    }
}
