using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ClusterActors.Node.Hosting;
using CsCheck;

namespace ClusterActors.Node.Tests;

/// <summary>The lab's certificates for Akka's mutual TLS and what a unit accepts, without an actor system.</summary>
public sealed class AkkaTlsCertificatesSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-certs-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private const string Vm1 = "FGVM02TM22000001";

    [Fact]
    public void Certs_written_by_certs_create_load_and_name_their_unit()
    {
        LabCertificateAuthority.Create().WriteTo(_dir, [("DC2_VM1", Vm1), ("DC2_VM2", "FGVM02TM22000002")]);
        var vm1 = AkkaTls.Load(_dir, "DC2_VM1");
        var vm2 = AkkaTls.Load(_dir, "DC2_VM2");
        Assert.True(vm1.Certificate.HasPrivateKey);
        Assert.Equal(new Actors.Unit.UnitIdentity("DC2_VM2", "FGVM02TM22000002"), vm1.Verify(vm2.Certificate, out _));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, "DC2_VM1.key")));
    }

    [Fact]
    public void A_certificate_from_another_CA_or_naming_no_unit_is_refused()
    {
        var lab = LabCertificateAuthority.Create().For("DC2_VM1", Vm1);
        var rogue = LabCertificateAuthority.Create("rogue").For("DC2_VM1", Vm1);
        Assert.Null(lab.Verify(rogue.Certificate, out var why));
        Assert.Contains("lab CA", why);
        Assert.Null(lab.Verify(null, out _));
        // Self-signed with the right names: still not the lab CA's.
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var self = new CertificateRequest($"CN=DC2_VM1, SERIALNUMBER={Vm1}", key, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(1));
        Assert.Null(lab.Verify(self, out _));
    }

    [Fact]
    public async Task A_unit_without_a_certificate_does_not_start_and_says_what_to_give()
    {
        var config = LoopbackLab.ScenarioConfig("DC2_VM1");
        var options = new UnitOptions("DC2_VM1", config, Vm1, Path.Combine(_dir, "data"), new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeTcpPort()),
            new IPEndPoint(IPAddress.Loopback, 0), [], [], []);
        var refused = await Assert.ThrowsAsync<UsageException>(() => UnitHost.StartAsync(options));
        Assert.Contains("--certs DIR", refused.Message);
        Assert.Contains("--insecure-akka", refused.Message);
        Assert.DoesNotContain('\n', refused.Message);
        // A certificate for another unit is refused as well.
        var other = await Assert.ThrowsAsync<UsageException>(() => UnitHost.StartAsync(options with { Tls = LabCertificateAuthority.ForSpecs("DC2_VM3", "FGVM02TM22000003") }));
        Assert.Contains("not serial " + Vm1, other.Message);
        Assert.False(Directory.Exists(Path.Combine(_dir, "data")), "nothing was started");
    }

    [Fact]
    public void The_Akka_handshake_reader_never_throws_and_reads_a_real_origin()
    {
        // AkkaProtocolMessage{instruction{commandType=ASSOCIATE, handshakeInfo{origin{system, hostname, port}}}}
        byte[] Len(int tag, byte[] body) => [(byte)(tag << 3 | 2), (byte)body.Length, .. body];
        var origin = Len(1, "fortigate"u8.ToArray()).Concat(Len(2, "127.0.0.1"u8.ToArray())).Concat(new byte[] { 3 << 3, 0xc4, 0x13 }).ToArray();
        var pdu = Len(2, [1 << 3, 1, .. Len(2, Len(1, origin))]);
        Assert.Equal(("127.0.0.1:2500", "fortigate"), AkkaHandshake.Origin(pdu));
        Gen.Byte.Array[0, 300].Sample(bytes => { _ = AkkaHandshake.Origin(bytes); }, iter: 20_000);
        Gen.Select(Gen.Int[0, pdu.Length - 1], Gen.Byte).Sample((at, b) =>
        {
            var mutated = (byte[])pdu.Clone();
            mutated[at] = b;
            _ = AkkaHandshake.Origin(mutated);
            _ = AkkaHandshake.Origin(mutated[..at]);
        }, iter: 20_000);
    }
}
