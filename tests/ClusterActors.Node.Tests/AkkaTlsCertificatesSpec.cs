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

/// <summary>
/// How the certificate validator reads the peer Akka.Remote 1.5.73 names: the strings below are the ones its DotNetty
/// transport really passed in the multi-node host (outbound: the address dialled, without "akka."; inbound: the socket).
/// </summary>
public sealed class TlsPeerSpec
{
    [Theory]
    [InlineData("ssl.tcp://fortigate@127.0.0.1:22545", "127.0.0.1:22545")]
    [InlineData("akka.ssl.tcp://fortigate@127.0.0.1:22545", "127.0.0.1:22545")]
    [InlineData("unitid.ssl.tcp://fortigate@dc2-vm1:2552", "dc2-vm1:2552")]
    [InlineData("ssl.tcp://fortigate@[::1]:2552/user/x", "[::1]:2552")]
    public void An_outbound_peer_is_the_address_dialled_keyed_as_an_Akka_address(string remotePeer, string hostPort)
    {
        Assert.Equal(new TlsPeer.Dialled(hostPort), TlsPeer.Of(remotePeer));
        // The key the actors look a sender up by, for the same address as Akka writes it above the adapters.
        Assert.Equal(hostPort, Actors.Unit.UnitIdentities.KeyOf(Akka.Actor.Address.Parse("akka.unitid." + remotePeer[remotePeer.IndexOf("ssl.tcp", StringComparison.Ordinal)..])));
    }

    [Theory]
    [InlineData("[::ffff:127.0.0.1]:41882", "127.0.0.1:41882")]
    [InlineData("127.0.0.1:41882", "127.0.0.1:41882")]
    [InlineData("[::1]:41882", "::1:41882")]
    public void An_inbound_peer_is_the_client_socket(string remotePeer, string key) =>
        Assert.Equal(new TlsPeer.Socket(key), TlsPeer.Of(remotePeer));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("unknown")]
    [InlineData("ssl.tcp://fortigate@127.0.0.1")]
    [InlineData("ssl.tcp://127.0.0.1:2552")]
    [InlineData("ssl.tcp://fortigate@127.0.0.1:0")]
    [InlineData("ssl.tcp://fortigate@127.0.0.1:70000")]
    [InlineData("ssl.tcp://fortigate@::1:2552")]
    [InlineData("://fortigate@127.0.0.1:2552")]
    public void Anything_else_names_no_peer(string? remotePeer) => Assert.Null(TlsPeer.Of(remotePeer));

    [Fact]
    public void Never_throws_on_any_string() =>
        CsCheck.Gen.String.Sample(s => { _ = TlsPeer.Of(s); _ = UnitIdentityAdapter.PeerHost(s); }, iter: 20_000);
}
