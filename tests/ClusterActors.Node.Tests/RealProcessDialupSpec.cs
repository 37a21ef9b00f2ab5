using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests;

/// <summary>
/// `clusteractors client` dials cluster 1 over real UDP, as a user runs it: the primary owns vpn1_1
/// (sync-primary) and the secondary process holds the same SAs as standby; a wrong PSK gets no tunnel.
/// </summary>
[Collection(RealProcessesCollection.Name)]
public sealed class RealProcessDialupSpec(ITestOutputHelper output) : IDisposable
{
    private readonly RealProcessFailoverSpec _units = new(output);
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-client-").FullName;

    public void Dispose()
    {
        _units.Dispose();
        Directory.Delete(_dir, true);
    }

    private static string ClientConfig => Path.Combine(AppContext.BaseDirectory, "scenarios", "seed", "CLIENT1.conf");

    [Fact]
    public async Task The_client_dials_the_primary_and_both_units_hold_the_tunnel()
    {
        var (vm1, vm2) = _units.Define("config system ha\nset hb-lost-threshold 6\nset hello-holddown 5\nend");
        vm1.Start();
        vm2.Start();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        // DC2_VM1 primary by its shipped priority 200.
        while ((await vm2.TryCli("diagnose sys ha status", 1000))?.Output.Contains("FGVM02TM22000001:      Primary") != true
               || (await vm1.TryCli("diagnose sys ha status", 1000))?.Output.Contains("FGVM02TM22000002:    Secondary") != true)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(40), "cluster 1 did not form");
            await Task.Delay(100);
        }

        var wrongPsk = Path.Combine(_dir, "wrong.conf");
        await File.WriteAllTextAsync(wrongPsk, (await File.ReadAllTextAsync(ClientConfig)).Replace("\"scenario-psk\"", "\"not-the-psk\""));
        var (refusedExit, refusedOut, _) = CommandLineSpec.Run($"client --config \"{wrongPsk}\" --gateway 127.0.0.1:{_units.IkePorts["DC2_VM1"]} --once --timeout 4");
        output.WriteLine(refusedOut);
        Assert.Equal(1, refusedExit);
        Assert.Contains("no tunnel", refusedOut);

        var (exit, stdout, stderr) = CommandLineSpec.Run($"client --config \"{ClientConfig}\" --gateway 127.0.0.1:{_units.IkePorts["DC2_VM1"]} --once");
        output.WriteLine(stdout + stderr);
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("to_dc2: IKEv2 SA up with 192.168.202.35", stdout);
        var clientOut = Regex.Match(stdout, @"out spi (\w{8})").Groups[1].Value;

        string primaryList = "", standbyList = "";
        sw.Restart();
        while (!(primaryList.Contains("role=sync-primary") && standbyList.Contains("role=standby")))
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"tunnel not on both units:\n{primaryList}\n{standbyList}");
            await Task.Delay(100);
            primaryList = (await vm1.TryCli("diagnose vpn tunnel list"))?.Output ?? "";
            standbyList = (await vm2.TryCli("diagnose vpn tunnel list"))?.Output ?? "";
        }
        // The gateway decrypts with the SPI the client sends to, on both units, and the standby's seqno is jumped.
        Assert.Contains($"dec: spi={clientOut}", primaryList);
        Assert.Contains($"dec: spi={clientOut}", standbyList);
        Assert.Contains("seqno=10000001", standbyList);
        Assert.DoesNotContain("name=vpn1_2", primaryList); // the refused attempt created nothing
    }
}
