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

    /// <summary>False while the unit does not answer yet (still starting), instead of failing the poll.</summary>
    private async Task<bool> IsRoleOrNotYet(string unit, HaRole role)
    {
        try
        {
            return await _lab.IsRole(unit, role);
        }
        catch (AskTimeoutException)
        {
            return false;
        }
    }

    private static string Role(string list) => Regex.Match(list, @"role=(\S+)").Groups[1].Value;

    private async Task<string> TunnelList(string unit) => (await _lab.Units[unit].CliAsync("diagnose vpn tunnel list")).Output;

    /// <summary>The record as <paramref name="unit"/> holds it in Distributed Data.</summary>
    private static TunnelRecord RecordOn(UnitHost host) => Replicas.Single(host);

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

    /// <summary>
    /// The unit started second dials the first, which is already Up alone and never dials back: the only connection
    /// between them is the second's outbound one. The second must still know the first by the certificate the first
    /// proved as TLS server (Akka names that peer "ssl.tcp://…", without "akka."; read as a socket, it bound nothing,
    /// and every record and config sync from the primary was refused as unauthenticated).
    /// </summary>
    [Fact]
    public async Task A_unit_knows_the_unit_it_dialled_by_the_certificate_that_unit_proved()
    {
        _lab.Define(Cluster1.Select(u => (u, LoopbackLab.ScenarioConfig(u, Timers))).ToList());
        await _lab.Start("DC2_VM1");
        var vm1 = _lab.Units["DC2_VM1"];
        // Asked only once DC2_VM1 is Up: a unit starting cold on a loaded machine may take over 5 s to answer its first ask.
        await LoopbackLab.Eventually(async () => Akka.Cluster.Cluster.Get(vm1.System).SelfMember.Status == MemberStatus.Up
                                                 && await IsRoleOrNotYet("DC2_VM1", HaRole.Primary),
            TimeSpan.FromSeconds(30), "DC2_VM1 Up alone and FGCP primary");
        await _lab.Start("DC2_VM2");
        var vm2 = _lab.Units["DC2_VM2"];
        await LoopbackLab.Eventually(() => Task.FromResult(_lab.AkkaMembersUp("DC2_VM2") == 2), TimeSpan.FromSeconds(30), "DC2_VM2 joined");
        await LoopbackLab.Eventually(() => Task.FromResult(UnitIdentities.Of(vm2.System).SerialOf(vm1.Address) == vm1.Options.Serial),
            TimeSpan.FromSeconds(5), "DC2_VM2 knows DC2_VM1 by its certificate");
        // And so what DC2_VM1 syncs is applied: its tunnel reaches DC2_VM2 as standby.
        await DialAndSync();
        Assert.Equal(0, UnitIdentities.Of(vm2.System).Refusals.Count("tunnel-record"));
    }

    /// <summary>Holds for the whole of <paramref name="during"/>: checked every 100 ms.</summary>
    private static async Task Throughout(Func<Task<bool>> condition, TimeSpan during, string what)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (sw.Elapsed < during)
        {
            Assert.True(await condition(), $"after {sw.ElapsedMilliseconds} ms: {what}");
            await Task.Delay(100);
        }
    }

    private async Task DialAndSync()
    {
        await _lab.Dial("DC2_VM1");
        await LoopbackLab.Eventually(async () => Role(await TunnelList("DC2_VM1")) == "sync-primary" && Role(await TunnelList("DC2_VM2")) == "standby",
            TimeSpan.FromSeconds(10), "vpn1_1 owned by DC2_VM1, standby on DC2_VM2");
    }

    [Fact]
    public async Task An_actor_system_without_a_lab_certificate_cannot_join_the_cluster_or_push_a_tunnel_record()
    {
        await Start(Cluster1);
        await DialAndSync();
        var vm1 = _lab.Units["DC2_VM1"];
        var vm2 = _lab.Units["DC2_VM2"];
        var record = RecordOn(vm1);
        // What an outsider would push: the tunnel deleted, in its own name and in the owner's.
        var forged = new[] { record with { Deleted = true, Generation = record.Generation + 5 },
                             TunnelOwnership_Claim(record, "FGVM02TM22000099") };

        // 1. A plain-TCP ActorSystem (no TLS at all), as a process without any certificate would be.
        var plainPort = LoopbackLab.FreeTcpPort();
        var plain = ActorSystem.Create(UnitHost.SystemName, ConfigurationFactory.ParseString($$"""
            akka.actor.provider = cluster
            akka.loglevel = OFF
            akka.stdout-loglevel = OFF
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = {{plainPort}} }
            """).WithFallback(Hocon.Load("serialization.conf")));
        _outsiders.Add(plain);
        var asPlain = new Address("akka.tcp", UnitHost.SystemName, "127.0.0.1", vm1.Options.Akka.Port);
        Akka.Cluster.Cluster.Get(plain).Join(asPlain);
        foreach (var f in forged)
        {
            plain.ActorSelection($"{asPlain}/user/fortigate/phase1-vpn1").Tell(f);
            plain.ActorSelection($"{new Address("akka.tcp", UnitHost.SystemName, "127.0.0.1", vm2.Options.Akka.Port)}/user/fortigate/phase1-vpn1").Tell(f);
        }

        // 2. A full unit whose certificate names DC2_VM2 but comes from another CA (a copied identity, no lab key).
        var rogueCa = LabCertificateAuthority.Create("rogue CA");
        var impostorOptions = _lab.OptionsOf("DC2_VM2") with
        {
            Akka = new IPEndPoint(IPAddress.Loopback, LoopbackLab.FreeTcpPort()),
            DataDir = Path.Combine(Path.GetTempPath(), "clusteractors-impostor-" + Guid.NewGuid().ToString("N")[..8]),
            Hbdevs = [],
            Contacts = [UnitHost.AkkaAddress(vm1.Options.Akka)],
            Tls = rogueCa.For("DC2_VM2", vm2.Options.Serial)
        };
        var impostor = await UnitHost.StartAsync(impostorOptions, extraHocon: "akka.loglevel = OFF\nakka.stdout-loglevel = OFF");
        _hosts.Add(impostor);
        Akka.Cluster.Cluster.Get(impostor.System).Join(vm1.Address);
        foreach (var f in forged)
        {
            Phase1Of(impostor.System, "DC2_VM1").Tell(f);
            Phase1Of(impostor.System, "DC2_VM2").Tell(f);
        }

        await Throughout(async () =>
                _lab.AkkaMembersUp("DC2_VM1") == 2 && _lab.AkkaMembersUp("DC2_VM2") == 2
                && Akka.Cluster.Cluster.Get(vm1.System).State.Members.All(m => m.Address == vm1.Address || m.Address == vm2.Address)
                // An outsider may found a cluster of its own (its bootstrap does, alone); it never gets into the lab's.
                && Akka.Cluster.Cluster.Get(impostor.System).State.Members.All(m => m.Address == impostor.Address)
                && Akka.Cluster.Cluster.Get(plain).State.Members.All(m => m.Address.Port == plainPort)
                && Role(await TunnelList("DC2_VM1")) == "sync-primary" && Role(await TunnelList("DC2_VM2")) == "standby",
            TimeSpan.FromSeconds(8), "no outsider became a member, and vpn1_1 is still DC2_VM1's on both units");
        Assert.Equal(record.OwnerSerial, RecordOn(vm2).OwnerSerial);
        Assert.False(RecordOn(vm2).Deleted);
        output.WriteLine($"members of DC2_VM1's cluster: {string.Join(", ", Akka.Cluster.Cluster.Get(vm1.System).State.Members.Select(m => m.Address))}");
    }

    private static TunnelRecord TunnelOwnership_Claim(TunnelRecord r, string serial) =>
        ClusterActors.Actors.Ipsec.TunnelOwnership.Claim(r, serial, 2) with { Deleted = true };

    [Fact]
    public async Task A_unit_with_a_lab_certificate_cannot_overwrite_or_delete_a_tunnel_it_does_not_own()
    {
        await Start(All);
        await DialAndSync();
        var vm1 = _lab.Units["DC2_VM1"];
        var vm3 = _lab.Units["DC2_VM3"];
        var record = RecordOn(vm1);
        var vm3Serial = vm3.Options.Serial;
        var attacks = new[]
        {
            record with { Deleted = true, Generation = record.Generation + 5 },                                  // in the owner's name
            ClusterActors.Actors.Ipsec.TunnelOwnership.Claim(record, vm3Serial, 2) with { Deleted = true },   // claim and delete
            ClusterActors.Actors.Ipsec.TunnelOwnership.Claim(record, vm3Serial, 2) with                        // claim with its own keys
                { Child = record.Child with { OutboundSpi = 0x0badf00d } },
        };
        foreach (var a in attacks)
        {
            // Sent from one of DC2_VM3's actors, so the receivers authenticate it as DC2_VM3.
            Phase1Of(vm3.System, "DC2_VM1").Tell(a, vm3.Unit);
            Phase1Of(vm3.System, "DC2_VM2").Tell(a, vm3.Unit);
        }
        // Through Distributed Data too: DC2_VM3 writes the owner's record deleted into its replica, signed with its own
        // lab key (what any lab unit can do); gossip carries it.
        var replicator = Akka.DistributedData.DistributedData.Get(vm3.System).Replicator;
        var deleted = record with { Deleted = true, Generation = record.Generation + 7 };
        var signed = Protocol.Ipsec.TunnelRecordSignature.Wrap(deleted, UnitIdentities.Of(vm3.System).RecordSigner, vm3Serial);
        replicator.Tell(Akka.DistributedData.Dsl.Update(Replicas.KeyOf(Replicas.ClearDataKey, record.Key), Akka.DistributedData.LWWDictionary<string, SignedTunnelRecord>.Empty,
            Akka.DistributedData.WriteLocal.Instance,
            d => d.SetItem(Akka.Cluster.Cluster.Get(vm3.System), record.Key, signed, (_, _) => ClusterActors.Actors.Ipsec.TunnelOwnership.Clock(deleted))));

        await Throughout(async () => Role(await TunnelList("DC2_VM1")) == "sync-primary" && Role(await TunnelList("DC2_VM2")) == "standby",
            TimeSpan.FromSeconds(5), "vpn1_1 still owned by DC2_VM1 and held as standby by DC2_VM2");
        Assert.True(UnitIdentities.Of(vm1.System).Refusals.Count("tunnel-record") >= 1, "DC2_VM1 counted the refused records");
        Assert.True(UnitIdentities.Of(_lab.Units["DC2_VM2"].System).Refusals.Count("tunnel-record") >= 1, "DC2_VM2 counted the refused records");

        // A claim by the ownership rule (traffic for the tunnel now reaches DC2_VM3) is the product, and still accepted.
        Phase1Of(vm3.System, "DC2_VM1").Tell(ClusterActors.Actors.Ipsec.TunnelOwnership.Claim(record, vm3Serial, 2), vm3.Unit);
        await LoopbackLab.Eventually(async () => Role(await TunnelList("DC2_VM1")) == "standby", TimeSpan.FromSeconds(5),
            "DC2_VM1 steps down for DC2_VM3's rightful claim");
    }

    private const string Dpd7 = "config vpn ipsec phase1-interface\n    edit \"vpn1\"\n        set dpd-retryinterval 7\n    next\nend";

    private async Task<bool> HasDpd7(string unit) =>
        (await _lab.Units[unit].CliAsync("show vpn ipsec phase1-interface")).Output.Contains("dpd-retryinterval 7");

    [Fact]
    public async Task Config_sync_from_a_unit_that_is_not_the_primary_of_the_receivers_cluster_is_dropped()
    {
        await Start(All);
        var vm1 = _lab.Units["DC2_VM1"];
        var vm3 = _lab.Units["DC2_VM3"];
        var forgedConfig = LoopbackLab.ScenarioConfig("DC2_VM1", Dpd7).ToText();
        // DC2_VM3 (cluster 2's primary) pushes a config to DC2_VM2 in DC2_VM1's name.
        var fgcpOfVm2 = vm3.System.ActorSelection($"{_lab.Units["DC2_VM2"].Address}/user/fortigate/fgcp/fgcp");
        fgcpOfVm2.Tell(new FgcpConfigSynced(vm1.Options.Serial, "00000000000000000000000000000000", forgedConfig), vm3.Unit);
        // And forwards a change to DC2_VM1 in DC2_VM2's name.
        vm3.System.ActorSelection($"{vm1.Address}/user/fortigate/fgcp/fgcp").Tell(new FgcpConfigChangeForwarded(_lab.Units["DC2_VM2"].Options.Serial, Dpd7), vm3.Unit);

        await Throughout(async () => !await HasDpd7("DC2_VM2") && !await HasDpd7("DC2_VM1"), TimeSpan.FromSeconds(4),
            "neither the forged sync nor the forged forward was applied");
        Assert.True(UnitIdentities.Of(_lab.Units["DC2_VM2"].System).Refusals.Count("config-sync") >= 1);
        Assert.True(UnitIdentities.Of(vm1.System).Refusals.Count("forwarded-change") >= 1);

        // The same forward from DC2_VM2 itself, a member of DC2_VM1's cluster, is applied (and synced back to DC2_VM2).
        _lab.Units["DC2_VM2"].System.ActorSelection($"{vm1.Address}/user/fortigate/fgcp/fgcp")
            .Tell(new FgcpConfigChangeForwarded(_lab.Units["DC2_VM2"].Options.Serial, Dpd7), _lab.Units["DC2_VM2"].Unit);
        await LoopbackLab.Eventually(async () => await HasDpd7("DC2_VM1") && await HasDpd7("DC2_VM2"), TimeSpan.FromSeconds(10),
            "a forward from a member of the cluster is applied and synced");
    }

    /// <summary>Collects <see cref="ClusterActors.Actors.Ipsec.TunnelPresent"/> events of one unit.</summary>
    private sealed class PresentProbe : ReceiveActor
    {
        public static readonly System.Collections.Concurrent.ConcurrentQueue<ClusterActors.Actors.Ipsec.TunnelPresent> Seen = new();

        public PresentProbe()
        {
            Receive<ClusterActors.Actors.Ipsec.TunnelPresent>(p => Seen.Enqueue(p));
            Context.System.EventStream.Subscribe(Self, typeof(ClusterActors.Actors.Ipsec.TunnelPresent));
        }
    }

    /// <summary>
    /// What TLS costs SA sync: from the owner holding a new tunnel to its standby holding the copy (same process, one
    /// Stopwatch), over 20 dials, with TLS and with --insecure-akka. Reported, bounded loosely (the figure is in the README).
    /// </summary>
    [Fact]
    public async Task SA_sync_latency_with_and_without_TLS()
    {
        var results = new List<string>();
        foreach (var insecure in new[] { false, true })
        {
            await using var lab = new LoopbackLab { ExtraHocon = "akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING", InsecureAkka = insecure };
            lab.Define(Cluster1.Select(u => (u, LoopbackLab.ScenarioConfig(u, Timers))).ToList());
            foreach (var u in Cluster1) await lab.Start(u);
            await LoopbackLab.Eventually(async () => await lab.IsRole("DC2_VM1", HaRole.Primary) && lab.AkkaMembersUp("DC2_VM2") == 2,
                TimeSpan.FromSeconds(30), "cluster 1 formed");
            PresentProbe.Seen.Clear();
            foreach (var u in Cluster1) lab.Units[u].System.ActorOf(Props.Create(() => new PresentProbe()));
            await Task.Delay(300);
            for (var i = 0; i < 20; i++) await lab.Dial("DC2_VM1");
            await LoopbackLab.Eventually(() => Task.FromResult(PresentProbe.Seen.Count(p => !p.Owned) >= 20), TimeSpan.FromSeconds(10), "20 standby copies");
            var owned = PresentProbe.Seen.Where(p => p.Owned).ToDictionary(p => p.Key, p => p.Timestamp);
            var ms = PresentProbe.Seen.Where(p => !p.Owned && owned.ContainsKey(p.Key))
                .Select(p => System.Diagnostics.Stopwatch.GetElapsedTime(owned[p.Key], p.Timestamp).TotalMilliseconds).Order().ToList();
            var line = $"{(insecure ? "plain TCP" : "mutual TLS")}: SA sync owner -> standby over {ms.Count} tunnels: median {ms[ms.Count / 2]:0.00} ms, max {ms[^1]:0.00} ms";
            results.Add(line);
            output.WriteLine(line);
            Assert.True(ms[ms.Count / 2] < 500, line);
        }
    }
}
