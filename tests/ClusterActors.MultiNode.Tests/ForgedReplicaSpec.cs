using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Actors.Unit;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ipsec;
using Xunit.Abstractions;

namespace ClusterActors.MultiNode.Tests;

/// <summary>
/// A unit that holds a lab certificate crafts Distributed Data entries by hand: <c>LWWDictionary.SetItem(node, …)</c>
/// names any member as the entry's writer (its register's UpdatedBy), with any clock. Since entries are signed by their
/// writer's lab key (src/Actors/Ipsec/README.md, "Signed Distributed Data entries"), naming the owner, or the receiving
/// unit itself, buys nothing: the writer is whoever signed. Three units, real TLS on loopback, in one process.
/// </summary>
[Collection("multi-node")]
public sealed class ForgedReplicaSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Timers = "config system ha\nset hb-lost-threshold 6\nset hello-holddown 5\nend";
    private static readonly string[] Units = ["DC2_VM1", "DC2_VM2", "DC2_VM3"];
    private readonly LoopbackLab _lab = new() { ExtraHocon = "akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING" };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    private static string Role(string list) => Regex.Match(list, @"role=(\S+)").Groups[1].Value;

    private async Task<string> RoleOn(string unit) => Role((await _lab.Units[unit].CliAsync("diagnose vpn tunnel list")).Output);

    /// <summary>The records the unit's phase1 holds (what it applied), not what its replica holds.</summary>
    private async Task<IReadOnlyList<TunnelRecord>> Applied(string unit) =>
        (await _lab.Units[unit].System.ActorSelection("/user/fortigate/phase1-vpn1").Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(5))).Records;

    private long Refused(string unit, string kind) => UnitIdentities.Of(_lab.Units[unit].System).Refusals.Count(kind);

    [Fact]
    public async Task An_entry_forged_in_the_owner_s_or_the_receiver_s_name_changes_no_tunnel_on_any_unit_and_the_owner_s_updates_still_apply()
    {
        _lab.Define(Units.Select(u => (u, LoopbackLab.ScenarioConfig(u, Timers))).ToList());
        foreach (var u in Units) await _lab.Start(u);
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && Units.All(u => _lab.AkkaMembersUp(u) == Units.Length),
            TimeSpan.FromSeconds(30), "one Akka cluster of three, DC2_VM1 FGCP primary");
        await _lab.Dial("DC2_VM1");
        await LoopbackLab.Eventually(async () => await RoleOn("DC2_VM1") == "sync-primary" && await RoleOn("DC2_VM2") == "standby"
                                                 && await RoleOn("DC2_VM3") == "standby",
            TimeSpan.FromSeconds(10), "vpn1_1 owned by DC2_VM1, standby on DC2_VM2 and DC2_VM3");
        var (vm1, vm2, vm3) = (_lab.Units["DC2_VM1"], _lab.Units["DC2_VM2"], _lab.Units["DC2_VM3"]);
        var genuine = (await Applied("DC2_VM1")).Single();
        // The owner's own entry, for its certificate (public: it travels with every entry the owner writes).
        await LoopbackLab.Eventually(async () => (await Replicas.Entries(vm3, Replicas.ClearDataKey)).ContainsKey(genuine.Key), TimeSpan.FromSeconds(10),
            "the owner's signed entry reached DC2_VM3's replica");
        var ownersEntry = (await Replicas.Entries(vm3, Replicas.ClearDataKey))[genuine.Key];
        Assert.Equal(vm1.Options.Serial, ownersEntry.SignerSerial);

        var attacker = UnitIdentities.Of(vm3.System).RecordSigner!;
        var owner = Cluster.Get(vm1.System).SelfUniqueAddress;
        var receiver = Cluster.Get(vm2.System).SelfUniqueAddress;
        var deleted = genuine with { Deleted = true, Generation = genuine.Generation + 5 };
        var otherKeys = genuine with { Generation = genuine.Generation + 5, Child = genuine.Child with { InboundSpi = 0x0badf00d, OutboundSpi = 0x0badf00e } };
        // A claim in DC2_VM2's name, in the rule's form: accepted from DC2_VM2, so only DC2_VM2 may write it.
        var claimForVm2 = TunnelOwnership.Claim(genuine, vm2.Options.Serial, genuine.OwnerFgcpGroup);
        SignedTunnelRecord Unsigned(TunnelRecord r) => TunnelRecordSignature.Wrap(r, null, r.OwnerSerial);
        SignedTunnelRecord ByAttacker(TunnelRecord r) => TunnelRecordSignature.Wrap(r, attacker, attacker.Serial);
        var attacks = new (string What, UniqueAddress Writer, SignedTunnelRecord Entry, string Kind)[]
        {
            ("deleted, unsigned, writer = the owner (and the receiver DC2_VM1)", owner, Unsigned(deleted), "dd-signature unsigned"),
            ("deleted, signed by DC2_VM3 naming the owner as signer, writer = the owner", owner,
                ByAttacker(deleted) with { SignerSerial = genuine.OwnerSerial }, "dd-signature signer-mismatch"),
            ("deleted, the owner's certificate with DC2_VM3's signature, writer = the owner", owner,
                ByAttacker(deleted) with { SignerSerial = genuine.OwnerSerial, SignerCertificate = ownersEntry.SignerCertificate }, "dd-signature bad-signature"),
            ("other keys, signed by DC2_VM3 as itself, writer = the owner", owner, ByAttacker(otherKeys), "tunnel-record"),
            ("a claim in DC2_VM2's name, unsigned, writer = the receiver DC2_VM2", receiver, Unsigned(claimForVm2), "dd-signature unsigned"),
            ("a claim in DC2_VM2's name, signed by DC2_VM3 naming DC2_VM2, writer = the receiver DC2_VM2", receiver,
                ByAttacker(claimForVm2) with { SignerSerial = vm2.Options.Serial }, "dd-signature signer-mismatch"),
        };
        var replicator = DistributedData.Get(vm3.System).Replicator;
        var clock = TunnelOwnership.Clock(genuine with { Generation = genuine.Generation + 100 });
        // Units whose tunnel is no longer the owner's as it was: owner, deletion, generation or CHILD SA changed.
        async Task<List<string>> Changed()
        {
            var changed = new List<string>();
            foreach (var u in Units)
            {
                var held = (await Applied(u)).SingleOrDefault();
                if (held is null || held.OwnerSerial != genuine.OwnerSerial || held.Deleted || held.Generation != genuine.Generation
                    || held.Child.InboundSpi != genuine.Child.InboundSpi || held.Child.OutboundSpi != genuine.Child.OutboundSpi)
                    changed.Add($"{u} holds {(held is null ? "nothing" : $"owner {held.OwnerSerial}, deleted {held.Deleted}, generation {held.Generation}, spi {held.Child.InboundSpi:x8}")}");
            }
            return changed;
        }

        foreach (var (what, writer, entry, kind) in attacks)
        {
            var before = Units.ToDictionary(u => u, u => Refused(u, kind));
            var at = ++clock; // each forged entry replaces the one before on every replica
            replicator.Tell(Dsl.Update(Replicas.KeyOf(Replicas.ClearDataKey, genuine.Key), LWWDictionary<string, SignedTunnelRecord>.Empty, WriteLocal.Instance,
                d => d.SetItem(writer, genuine.Key, entry, (_, _) => at)));
            // Until every unit counted it, or any unit let it change the tunnel: whichever comes first is then asserted.
            await LoopbackLab.Eventually(async () => Units.All(u => Refused(u, kind) > before[u]) || (await Changed()).Count > 0, TimeSpan.FromSeconds(15),
                $"every unit refused it, or one applied it: {what}");
            Assert.True((await Changed()).Count == 0, $"after \"{what}\": {string.Join("; ", await Changed())}");
            Assert.All(Units, u => Assert.True(Refused(u, kind) > before[u], $"{u} counted {kind}: {what}"));
            Assert.Equal("sync-primary", await RoleOn("DC2_VM1"));
            Assert.Equal("standby", await RoleOn("DC2_VM2"));
            Assert.Equal("standby", await RoleOn("DC2_VM3"));
            output.WriteLine($"refused on every unit as {kind}: {what}");
        }

        // Shown to the operator with FGSP's refusals (a lab addition, printed only once something was dropped).
        var peers = (await vm2.CliAsync("diagnose sys ha standalone-peers")).Output;
        output.WriteLine(peers);
        Assert.Matches(@"dropped dd-signature:unsigned=\d+", peers);
        Assert.Matches(@"dropped dd-signature:signer-mismatch=\d+", peers);
        Assert.Matches(@"dropped dd-signature:bad-signature=\d+", peers);

        // The owner's own update still reaches every unit (pushed; its Distributed Data entry stays masked by the forged
        // entry's higher clock until a higher one, README "what remains").
        vm1.System.ActorSelection("/user/fortigate/phase1-vpn1").Tell(new SyncTunnelSequence(genuine.Key, 0x4242, 0x4000, genuine.Child.OutboundSpi));
        // Read back as the owner wrote it; the owner's instance may sync its own counter right after (it never goes below
        // what it sent), so what every unit must reach is this sync sequence or a later one of the same owner.
        TunnelRecord? update = null;
        await LoopbackLab.Eventually(async () => (update = (await Applied("DC2_VM1")).Single()).SyncSeq > genuine.SyncSeq, TimeSpan.FromSeconds(5),
            "the owner wrote its update");
        await LoopbackLab.Eventually(async () =>
        {
            foreach (var u in Units)
                if ((await Applied(u)).Single() is not { Deleted: false } r || r.OwnerSerial != genuine.OwnerSerial || r.SyncSeq < update!.SyncSeq) return false;
            return true;
        }, TimeSpan.FromSeconds(10), "the owner's update applied on every unit");

        // Another CRDT under the key (any lab unit can write one; what reaches the phase1 is the Replicator's Changed):
        // ignored, not cast: a cast throws, and the phase1 restarts (its instances stopped and made again).
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Akka.Event.Error>();
        var probe = vm2.System.ActorOf(Props.Create(() => new ErrorProbe(errors)));
        vm2.System.EventStream.Subscribe(probe, typeof(Akka.Event.Error));
        var phase1OnVm2 = vm2.System.ActorSelection("/user/fortigate/phase1-vpn1");
        var shardKey = Replicas.KeyOf(Replicas.ClearDataKey, genuine.Key);
        phase1OnVm2.Tell(new Changed(shardKey, GCounter.Empty));
        phase1OnVm2.Tell(new Changed(new LWWDictionaryKey<string, TunnelRecord>(shardKey.Id), LWWDictionary<string, TunnelRecord>.Empty));
        await Task.Delay(1000);
        var held = (await Applied("DC2_VM2")).SingleOrDefault();
        Assert.True(held is { Deleted: false } && held.OwnerSerial == genuine.OwnerSerial && held.SyncSeq >= update!.SyncSeq,
            $"DC2_VM2 still holds vpn1_1 as it was: {(held is null ? "nothing" : $"owner {held.OwnerSerial}, sync {held.SyncSeq}")}");
        Assert.Equal("standby", await RoleOn("DC2_VM2"));
        Assert.DoesNotContain(errors, e => e.LogSource.Contains("phase1-vpn1")); // no exception, so no restart
    }

    /// <summary>
    /// With `set fgsp-sync disable` a phase1's records replicate only under its FGCP cluster's own key
    /// (<c>ipsec-vpn1@fgcp-1</c>), and used to reach the FGCP peer through Distributed Data alone. DC2_VM3, a lab unit of
    /// the other cluster, writes a refused entry for the tunnel under that key with a higher clock, which masks the
    /// owner's later entries on every replica. The owner's next update must still reach its FGCP peer DC2_VM2: pushed
    /// to the members of its own cluster, known by their certificates (<see cref="FgspSync.PushesTo"/>). Without that
    /// push DC2_VM2 never saw the update.
    /// </summary>
    [Fact]
    public async Task With_fgsp_sync_disabled_a_masked_entry_does_not_keep_the_owners_update_from_its_FGCP_peer()
    {
        const string noFgspSync = "config vpn ipsec phase1-interface\nedit \"vpn1\"\nset fgsp-sync disable\nnext\nend";
        _lab.Define(Units.Select(u => (u, LoopbackLab.ScenarioConfig(u, Timers + "\n" + noFgspSync))).ToList());
        foreach (var u in Units) await _lab.Start(u);
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && Units.All(u => _lab.AkkaMembersUp(u) == Units.Length),
            TimeSpan.FromSeconds(30), "one Akka cluster of three, DC2_VM1 FGCP primary");
        await _lab.Dial("DC2_VM1");
        await LoopbackLab.Eventually(async () => await RoleOn("DC2_VM1") == "sync-primary" && await RoleOn("DC2_VM2") == "standby",
            TimeSpan.FromSeconds(10), "vpn1_1 owned by DC2_VM1, standby on its FGCP peer DC2_VM2");
        Assert.Empty(await Applied("DC2_VM3")); // another FGSP member: fgsp-sync disable keeps it out
        var (vm1, vm3) = (_lab.Units["DC2_VM1"], _lab.Units["DC2_VM3"]);
        var genuine = (await Applied("DC2_VM1")).Single();
        var clusterDataKey = FgspSync.DataKey("vpn1", false, genuine.OwnerFgcpGroup, vm1.Options.Serial);
        var clusterKey = Replicas.KeyOf(clusterDataKey, genuine.Key);

        // The forged entry: unsigned, in the owner's name, far ahead of any clock the owner will write in this spec.
        var forged = TunnelRecordSignature.Wrap(genuine with { Deleted = true, Generation = genuine.Generation + 100 }, null, genuine.OwnerSerial);
        var at = TunnelOwnership.Clock(genuine with { Generation = genuine.Generation + 100 });
        var owner = Cluster.Get(vm1.System).SelfUniqueAddress;
        DistributedData.Get(vm3.System).Replicator.Tell(Dsl.Update(clusterKey, LWWDictionary<string, SignedTunnelRecord>.Empty, WriteLocal.Instance,
            d => d.SetItem(owner, genuine.Key, forged, (_, _) => at)));
        await LoopbackLab.Eventually(() => Task.FromResult(Refused("DC2_VM2", "dd-signature unsigned") > 0), TimeSpan.FromSeconds(15),
            "DC2_VM2 refused the forged entry");
        Assert.Equal("standby", await RoleOn("DC2_VM2"));

        vm1.System.ActorSelection("/user/fortigate/phase1-vpn1").Tell(new SyncTunnelSequence(genuine.Key, 0x4242, 0x4000, genuine.Child.OutboundSpi));
        TunnelRecord? update = null;
        await LoopbackLab.Eventually(async () => (update = (await Applied("DC2_VM1")).Single()).SyncSeq > genuine.SyncSeq, TimeSpan.FromSeconds(5),
            "the owner wrote its update");
        var masked = (await Replicas.Entries(_lab.Units["DC2_VM2"], clusterDataKey))[genuine.Key];
        Assert.False(masked.IsSigned, "DC2_VM2's replica holds the forged entry: Distributed Data alone would not carry the update");
        await LoopbackLab.Eventually(async () => (await Applied("DC2_VM2")).Single() is { Deleted: false } r && r.OwnerSerial == genuine.OwnerSerial
                                                 && r.SyncSeq >= update!.SyncSeq,
            TimeSpan.FromSeconds(10), "the owner's update applied on its FGCP peer");
        Assert.Empty(await Applied("DC2_VM3"));
    }

    private sealed class ErrorProbe : ReceiveActor
    {
        public ErrorProbe(System.Collections.Concurrent.ConcurrentQueue<Akka.Event.Error> seen) => Receive<Akka.Event.Error>(seen.Enqueue);
    }
}
