using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.DistributedData;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ipsec;
using Xunit.Abstractions;

namespace ClusterActors.MultiNode.Tests;

/// <summary>
/// FGSP `config system standalone-cluster` / `set encryption enable` / `set psksecret` between two FGCP clusters
/// (DC2_VM1 alone as cluster 1, DC2_VM3 alone as cluster 2), both holding lab certificates in one Akka cluster: with
/// the same psksecret the client's tunnel reaches the peer cluster; with another psksecret the peer never holds it,
/// never sees its keys in clear (not pushed, not in Distributed Data), and says why in `diagnose sys ha standalone-peers`.
/// </summary>
[Collection("multi-node")]
public sealed class FgspEncryptionSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Timers = "config system ha\nset hb-lost-threshold 6\nset hello-holddown 5\nend";
    private readonly LoopbackLab _lab = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private static string Fgsp(string psksecret) =>
        $"config system standalone-cluster\nset encryption enable\nset psksecret \"{psksecret}\"\nend";

    private async Task StartPeers(string vm1Psk, string vm3Psk)
    {
        _lab.Define([
            ("DC2_VM1", LoopbackLab.ScenarioConfig("DC2_VM1", Timers + "\n" + Fgsp(vm1Psk))),
            ("DC2_VM3", LoopbackLab.ScenarioConfig("DC2_VM3", Timers + "\n" + Fgsp(vm3Psk))),
        ]);
        await _lab.Start("DC2_VM1");
        await _lab.Start("DC2_VM3");
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && await _lab.IsRole("DC2_VM3", HaRole.Primary)
                                                 && _lab.AkkaMembersUp("DC2_VM1") == 2 && _lab.AkkaMembersUp("DC2_VM3") == 2,
            TimeSpan.FromSeconds(30), "two single-unit FGCP clusters, one Akka cluster of two");
    }

    private async Task<string> Cli(string unit, string command) => (await _lab.Units[unit].CliAsync(command)).Output;

    /// <summary>The clear Distributed Data dictionary of tunnel records as this unit's replica holds it.</summary>
    private static Task<IReadOnlyCollection<TunnelRecord>> ClearReplica(UnitHost host) => Replicas.Clear(host);

    private static Task<IReadOnlyCollection<ClusterActors.Protocol.Fgsp.SealedTunnelRecord>> SealedReplica(UnitHost host) => Replicas.Sealed(host);

    [Fact]
    public async Task With_the_same_psksecret_the_tunnel_reaches_the_peer_cluster_sealed()
    {
        await StartPeers("lab-fgsp-psk", "lab-fgsp-psk");
        var established = await _lab.Dial("DC2_VM1");

        await LoopbackLab.Eventually(async () => (await Cli("DC2_VM3", "diagnose vpn tunnel list")).Contains("name=vpn1_1 "),
            TimeSpan.FromSeconds(5), "DC2_VM3 holds vpn1_1");
        var list = await Cli("DC2_VM3", "diagnose vpn tunnel list");
        Assert.Contains("role=standby", list);
        Assert.Equal(established.Child.OutboundSpi.ToString("x8"), Regex.Match(list, @"dec: spi=(\w+)").Groups[1].Value);

        var peers = await Cli("DC2_VM3", "diagnose sys ha standalone-peers");
        output.WriteLine(peers);
        Assert.Contains("FGSP sync: encryption=enable, psksecret=set", peers);
        Assert.DoesNotContain("dropped", peers);
        // Sealed, not clear: Distributed Data carries it to DC2_VM3 only in the sealed dictionary, never in the clear one.
        await LoopbackLab.Eventually(async () => (await SealedReplica(_lab.Units["DC2_VM3"])).Count == 1,
            TimeSpan.FromSeconds(10), "the sealed record reaches DC2_VM3's replica by gossip");
        Assert.Empty(await ClearReplica(_lab.Units["DC2_VM3"]));
    }

    [Fact]
    public async Task With_another_psksecret_the_peer_never_holds_the_tunnel_nor_sees_its_keys()
    {
        await StartPeers("lab-fgsp-psk", "not-the-same-psk");
        var established = await _lab.Dial("DC2_VM1");
        Assert.Contains("role=sync-primary", await Cli("DC2_VM1", "diagnose vpn tunnel list"));

        // The push and the Distributed Data entry both reach DC2_VM3 and are refused there by cause.
        await LoopbackLab.Eventually(async () => (await Cli("DC2_VM3", "diagnose sys ha standalone-peers")).Contains("dropped seal-mismatch="),
            TimeSpan.FromSeconds(5), "DC2_VM3 counts the records it could not open");
        await Task.Delay(3000); // several gossip rounds: Distributed Data has had its chance too
        var peers = await Cli("DC2_VM3", "diagnose sys ha standalone-peers");
        output.WriteLine(peers);
        Assert.Contains("FGSP sync: encryption=enable, psksecret=set", peers);
        Assert.DoesNotContain("name=vpn1_", await Cli("DC2_VM3", "diagnose vpn tunnel list"));
        Assert.Empty(await ClearReplica(_lab.Units["DC2_VM3"]));
        Assert.Equal(established.Child.OutboundSpi.ToString("x8"),
            Regex.Match(await Cli("DC2_VM1", "diagnose vpn tunnel list"), @"dec: spi=(\w+)").Groups[1].Value);
    }
}
