using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using ClusterActors.Node.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Node.Tests;

/// <summary>
/// The out-of-band cluster probe (src/Node/Hosting/README.md, "Two clusters that downed each other"): only a datagram
/// signed with a lab certificate is read; a certificate from another CA, a changed byte, a truncated or random datagram
/// is dropped (never thrown); the socket answers a request only to the address it claims and was sent from, and takes
/// an answer only to a probe it sent, from the address it asked.
/// </summary>
public sealed class ClusterProbeDatagramSpec
{
    private static string Serial() => "FGVM02TM" + Random.Shared.NextInt64(10_000_000, 99_999_999);

    private static readonly AkkaTls Vm1 = LabCertificateAuthority.ForSpecs("DC2_VM1", Serial());
    private static readonly AkkaTls Vm3 = LabCertificateAuthority.ForSpecs("DC2_VM3", Serial());
    private static readonly AkkaTls Outsider = LabCertificateAuthority.Create("another CA").For("DC2_VM3", Serial());

    private static (Actors.Unit.UnitIdentity? Unit, string Why) ByLabCa(System.Security.Cryptography.X509Certificates.X509Certificate2 c)
    {
        var unit = Vm1.Verify(c, out var why);
        return (unit, why);
    }

    private static byte[] SignedAnswer(AkkaTls by, params string[] members)
    {
        using var key = by.Certificate.GetECDsaPrivateKey()!;
        return ClusterProbeDatagram.Seal(new ClusterProbeAnswer(new byte[16], "akka.tcp://fortigate@127.0.0.1:1", "akka.tcp://fortigate@127.0.0.1:3",
            true, "akka.tcp://fortigate@127.0.0.1:3#7", members), by.Certificate, key);
    }

    [Fact]
    public void A_datagram_signed_with_a_lab_certificate_opens_with_its_signer()
    {
        var opened = ClusterProbeDatagram.Open(SignedAnswer(Vm3, "akka.tcp://fortigate@127.0.0.1:3#7", "akka.tcp://fortigate@127.0.0.1:4#9"), ByLabCa, out var why);
        Assert.True(opened is not null, why);
        Assert.Equal("DC2_VM3", opened!.Signer.Name);
        var answer = Assert.IsType<ClusterProbeAnswer>(opened.Message);
        Assert.Equal(["akka.tcp://fortigate@127.0.0.1:3#7", "akka.tcp://fortigate@127.0.0.1:4#9"], answer.Members);
        Assert.True(answer.IsMember);
    }

    [Fact]
    public void A_certificate_from_another_CA_a_changed_byte_truncation_or_noise_is_dropped_never_thrown()
    {
        Assert.Null(ClusterProbeDatagram.Open(SignedAnswer(Outsider, "akka.tcp://fortigate@127.0.0.1:3#7"), ByLabCa, out var why));
        Assert.StartsWith("certificate refused", why);

        var good = SignedAnswer(Vm3, "akka.tcp://fortigate@127.0.0.1:3#7");
        // Every single byte flipped: nothing opens (the signature covers all of it, the certificate included).
        for (var i = 0; i < good.Length; i++)
        {
            var bad = (byte[])good.Clone();
            bad[i] ^= 0x01;
            Assert.Null(ClusterProbeDatagram.Open(bad, ByLabCa, out _));
        }
        for (var n = 0; n < good.Length; n++) Assert.Null(ClusterProbeDatagram.Open(good.AsSpan(0, n), ByLabCa, out _));
        Assert.Null(ClusterProbeDatagram.Open([.. good, 0], ByLabCa, out why));
        var random = new Random(10);
        for (var i = 0; i < 2000; i++)
        {
            var noise = new byte[random.Next(0, 600)];
            random.NextBytes(noise);
            if (i % 2 == 0 && noise.Length >= 5) "CAP1"u8.CopyTo(noise);
            if (i % 4 == 0 && noise.Length >= 5) noise[4] = (byte)(1 + i % 2);
            Assert.Null(ClusterProbeDatagram.Open(noise, ByLabCa, out _));
        }
    }

    private static IPEndPoint Free() => new(IPAddress.Loopback, LoopbackLab.FreeUdpPort());

    private static string Akka(IPEndPoint ep) => $"akka.unitid.ssl.tcp://fortigate@{ep.Address}:{ep.Port}";

    [Fact]
    public async Task Two_sockets_answer_each_other_and_drop_what_was_not_asked_or_claims_another_address()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var a = Free();
        var b = Free();
        var members = new[] { Akka(b) + "#5", "akka.unitid.ssl.tcp://fortigate@127.0.0.1:9#6" };
        using var vm1 = ClusterProbeSocket.Start(a, Vm1, () => new ClusterProbeSelf(Akka(a), true, Akka(a) + "#1", [Akka(a) + "#1"]), time, out var why1)!;
        using var vm3 = ClusterProbeSocket.Start(b, Vm3, () => new ClusterProbeSelf(Akka(b), true, Akka(b) + "#5", members), time, out var why3)!;
        Assert.True(vm1 is not null && vm3 is not null, why1 + why3);
        var heard = new TaskCompletionSource<ContactView>(TaskCreationOptions.RunContinuationsAsynchronously);
        vm1.Attach(v => heard.TrySetResult(v));

        vm1.Ask(Akka(a), Akka(b));
        var view = await heard.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Akka(b), view.Address);
        Assert.True(view.IsMember);
        Assert.Equal(members, view.Members);

        // An answer to no probe of ours (a replay of a signed answer) is dropped.
        using (var udp = new UdpClient(b.AddressFamily))
            await udp.SendAsync(SignedAnswer(Vm3, members), a);
        // A signed request claiming another address than the one it comes from gets no answer.
        using (var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0)))
        {
            using var key = Vm1.Certificate.GetECDsaPrivateKey()!;
            await udp.SendAsync(ClusterProbeDatagram.Seal(new ClusterProbeRequest(new byte[16], Akka(a), Akka(b)), Vm1.Certificate, key), b);
            // A request signed by another CA's certificate neither.
            using var outsiderKey = Outsider.Certificate.GetECDsaPrivateKey()!;
            var self = (IPEndPoint)udp.Client.LocalEndPoint!;
            await udp.SendAsync(ClusterProbeDatagram.Seal(new ClusterProbeRequest(new byte[16], Akka(self), Akka(b)), Outsider.Certificate, outsiderKey), b);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await udp.ReceiveAsync(wait.Token));
        }
        await LoopbackLab.Eventually(() => Task.FromResult(vm1.Dropped.GetValueOrDefault("answer to no probe of ours") == 1
                                                          && vm3.Dropped.GetValueOrDefault("request from another address than it claims") == 1
                                                          && vm3.Dropped.GetValueOrDefault("certificate refused") == 1),
            TimeSpan.FromSeconds(5), "each bad datagram dropped and counted");
        Assert.Equal(1, vm1.Accepted);

        // The lab's cut of the path drops the probe too.
        vm1.SetBlocked(b, true);
        time.Advance(TimeSpan.FromSeconds(1));
        vm1.Ask(Akka(a), Akka(b));
        await Task.Delay(500);
        Assert.Equal(1, vm1.Accepted);
    }
}
