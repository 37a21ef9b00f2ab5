using System.Net;
using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using ClusterActors.Actors.Unit;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ipsec;
using Xunit.Abstractions;

namespace ClusterActors.MultiNode.Tests;

/// <summary>
/// Akka remoting between units runs mutual TLS with the lab CA's certificates, and on top of it each sync message is
/// accepted only from the unit entitled to send it (src/Node/Hosting/README.md, "Secured Akka"). Several ActorSystems
/// in one process, real TLS on loopback.
/// </summary>
[Collection("multi-node")]
public sealed class AkkaTlsSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Timers = "config system ha\nset hb-lost-threshold 6\nset hello-holddown 5\nend";
    private readonly LoopbackLab _lab = new() { ExtraHocon = "akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING" };
    private readonly List<ActorSystem> _outsiders = new();
    private readonly List<UnitHost> _hosts = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var s in _outsiders) await s.Terminate();
        foreach (var h in _hosts) await h.KillAsync();
        await _lab.DisposeAsync();
    }

    private static readonly string[] Cluster1 = ["DC2_VM1", "DC2_VM2"];
    private static readonly string[] All = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];

    private async Task Start(string[] units)
    {
        _lab.Define(units.Select(u => (u, LoopbackLab.ScenarioConfig(u, Timers))).ToList());
        foreach (var u in units) await _lab.Start(u);
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && units.All(u => _lab.AkkaMembersUp(u) == units.Length),
            TimeSpan.FromSeconds(30), $"one Akka cluster of {units.Length}, DC2_VM1 FGCP primary");
    }

    private static string Role(string list) => Regex.Match(list, @"role=(\S+)").Groups[1].Value;

    private async Task<string> TunnelList(string unit) => (await _lab.Units[unit].CliAsync("diagnose vpn tunnel list")).Output;

    /// <summary>The record as <paramref name="unit"/> holds it in Distributed Data.</summary>
    private static TunnelRecord RecordOn(UnitHost host)
    {
        var replicator = Akka.DistributedData.DistributedData.Get(host.System).Replicator;
        var key = new Akka.DistributedData.LWWDictionaryKey<string, TunnelRecord>("ipsec-vpn1");
        var response = replicator.Ask<Akka.DistributedData.GetSuccess>(Akka.DistributedData.Dsl.Get(key, Akka.DistributedData.ReadLocal.Instance),
            TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
        return response.Get(key).Entries.Values.Single();
    }

    private ActorSelection Phase1Of(ActorSystem from, string unit) =>
        from.ActorSelection($"{_lab.Units[unit].Address}/user/fortigate/phase1-vpn1");

    [Fact]
    public async Task Units_with_lab_certificates_form_the_cluster_over_TLS_and_know_each_other_by_certificate()
    {
        await Start(Cluster1);
        var vm1 = _lab.Units["DC2_VM1"];
        Assert.Contains("ssl.tcp", vm1.Address.Protocol);
        var vm2 = _lab.Units["DC2_VM2"];
        await LoopbackLab.Eventually(() => Task.FromResult(UnitIdentities.Of(vm1.System).SerialOf(vm2.Address) == vm2.Options.Serial
                                                          && UnitIdentities.Of(vm2.System).SerialOf(vm1.Address) == vm1.Options.Serial),
            TimeSpan.FromSeconds(5), "each unit knows the other by its certificate");
        Assert.Equal(UnitIdentities.KeyOf(vm2.Address), UnitIdentities.Of(vm1.System).AddressOf(vm2.Options.Serial));
    }
}
