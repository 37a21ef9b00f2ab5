using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// `set fgsp-sync disable` and standalone FGSP members (Fortinet's "FGSP per-tunnel failover for IPsec": DC1_VM1..4,
/// no FGCP, DC1_VM4 with fgsp-sync disabled): the rules on synthetic records, then a phase1 actor fed what its peers push.
/// </summary>
public sealed class FgspSyncSpec() : TestKit(ConfigurationFactory.ParseString("""
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp.hostname = 127.0.0.1
    akka.remote.dot-netty.tcp.port = 0
    akka.loglevel = WARNING
    """))
{
    private const string Vm1 = "FGVM02TM22000201", Vm3 = "FGVM02TM22000203", Vm4 = "FGVM02TM22000204";
    private const int None = TunnelOwnership.NoFgcpCluster;

    /// <summary>fgsp-sync, this unit's FGCP cluster, the record's owner and its cluster → refused?</summary>
    public static TheoryData<bool, int, string, int, bool> Records => new()
    {
        { true, None, Vm1, None, false },   // enabled: every FGSP member's records are taken
        { true, 1, Vm1, 2, false },
        { false, None, Vm1, None, true },   // DC1_VM4: another standalone member's record is refused
        { false, None, Vm4, None, false },  // … its own (a previous incarnation's) is not
        { false, 1, Vm1, 2, true },         // a cluster with fgsp-sync disabled refuses another cluster's
        { false, 1, Vm1, 1, false },        // … and takes its own FGCP cluster's: FGCP syncs SAs whatever fgsp-sync says
    };

    [Theory]
    [MemberData(nameof(Records))]
    public void A_phase1_with_fgsp_sync_disabled_takes_only_its_own_and_its_FGCP_clusters_records(bool sync, int cluster, string owner, int ownerCluster, bool refused)
    {
        var record = TunnelOwnershipSpec.Record(owner: owner, group: ownerCluster);
        Assert.Equal(refused, FgspSync.Refuses(record, sync, cluster, Vm4) is not null);
    }

    [Fact]
    public void Standalone_units_are_nobodys_FGCP_cluster_and_fgsp_sync_disabled_replicates_under_its_own_key()
    {
        var standalone = FortiConfig.Parse("config system ha\n    set group-id 0\nend\n").Value!;
        var clustered = FortiConfig.Parse("config system ha\n    set group-id 0\n    set mode a-p\nend\n").Value!;
        Assert.Equal(None, FgspSync.ClusterOf(standalone.Ha));
        Assert.Equal(0, FgspSync.ClusterOf(clustered.Ha));
        // Two standalone primaries with group-id 0: neither takes the other's tunnel as its cluster's.
        Assert.False(TunnelOwnership.TakenOverOnFgcpFailover(TunnelOwnershipSpec.Record(owner: Vm1, group: None), Vm3, None));
        Assert.True(TunnelOwnership.TakenOverOnFgcpFailover(TunnelOwnershipSpec.Record(owner: Vm1, group: 0), Vm3, 0));
        Assert.Equal("ipsec-vpn1", FgspSync.DataKey("vpn1", true, None, Vm1));
        Assert.Equal("ipsec-vpn1", FgspSync.DataKey("vpn1", true, 2, Vm1));
        Assert.Equal($"ipsec-vpn1@unit-{Vm4}", FgspSync.DataKey("vpn1", false, None, Vm4));
        Assert.Equal("ipsec-vpn1@fgcp-2", FgspSync.DataKey("vpn1", false, 2, Vm1));
        Assert.False(FgspSync.Pushes(false));
        Assert.True(FgspSync.Pushes(true));
        // Pushes per member: every member with fgsp-sync enabled; disabled, only the own FGCP cluster's (by certificate).
        Assert.True(FgspSync.PushesTo(fgspSync: true, targetInOwnFgcpCluster: false));
        Assert.True(FgspSync.PushesTo(fgspSync: false, targetInOwnFgcpCluster: true));
        Assert.False(FgspSync.PushesTo(fgspSync: false, targetInOwnFgcpCluster: false));
    }

    [Fact]
    public void A_records_shard_is_the_same_on_every_unit_and_run_and_spreads_the_keys()
    {
        // Pinned: every unit must put a record under the same key, so the shard may not depend on the process
        // (string.GetHashCode is seeded per process). FNV-1a over the key's UTF-16 code units, mod 4,096.
        Assert.Equal(FgspSync.ShardOf(TunnelRecord.KeyOf("vpn1", 1, 2)), FgspSync.ShardOf(new string(TunnelRecord.KeyOf("vpn1", 1, 2).ToCharArray())));
        Assert.Equal(0x044, FgspSync.ShardOf("a")); // computed by hand from the FNV-1a constants (0x2b24d044)
        Assert.Equal(0x53f, FgspSync.ShardOf(TunnelRecord.KeyOf("vpn1", 1, 2))); // 0xda88453f
        Assert.Equal("ipsec-vpn1/00a", FgspSync.ShardKey("ipsec-vpn1", 10));
        Assert.Equal("ipsec-vpn1/fff", FgspSync.ShardKey("ipsec-vpn1", FgspSync.DataShards - 1));
        var counts = new int[FgspSync.DataShards];
        for (var i = 0; i < 100 * FgspSync.DataShards; i++) counts[FgspSync.ShardOf(TunnelRecord.KeyOf("vpn1", (ulong)i * 0x9E3779B97F4A7C15, (ulong)i))]++;
        Assert.All(counts, c => Assert.InRange(c, 50, 150)); // 100 expected per shard
    }

    private static ConfigDocument Standalone(string fgspSync) => FortiConfig.Parse(
        Phase1SpecConfig.Dialup.Replace("    set mode a-p\n", "").Replace("set group-id 1", "set group-id 0")
            .Replace("set nattraversal disable", $"set nattraversal disable\n        set fgsp-sync {fgspSync}")).Value!;

    /// <summary>DC1_VM4 (fgsp-sync disable, standalone): DC1_VM1's record pushed to it is dropped, it never lists the tunnel.</summary>
    [Fact]
    public async Task A_standalone_peer_with_fgsp_sync_disabled_never_holds_another_members_tunnel()
    {
        var config = Standalone("disable");
        Assert.False(config.Phase1.Single().FgspSync);
        var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Vm4, config, config.Phase1.Single()));
        phase1.Tell(new HaRoleChanged(Vm4, HaRole.Primary, Vm4));
        phase1.Tell(Keyed(TunnelOwnershipSpec.Record(owner: Vm1, group: None)));
        await Task.Delay(300);
        Assert.Empty((await phase1.Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(3))).Records);
    }

    /// <summary>DC1_VM3 (fgsp-sync enable, standalone, its own primary): DC1_VM1's record is held as standby, not claimed.</summary>
    [Fact]
    public async Task A_standalone_peer_holds_another_standalone_members_tunnel_as_standby_and_does_not_take_it()
    {
        var config = Standalone("enable");
        var phase1 = Sys.ActorOf(IpsecPhase1Actor.Props(Vm3, config, config.Phase1.Single()));
        phase1.Tell(new HaRoleChanged(Vm3, HaRole.Primary, Vm3));
        // FortiOS's default group-id 0 on every standalone unit: DC1_VM1's record carrying it (as a unit that read group-id
        // as its cluster wrote it), then one carrying no cluster (as it writes now). Neither is DC1_VM3's cluster's.
        phase1.Tell(Keyed(TunnelOwnershipSpec.Record(owner: Vm1, group: 0)));
        phase1.Tell(Keyed(TunnelOwnershipSpec.Record(owner: Vm1, group: None)) with { SyncSeq = 2 });
        await Task.Delay(300);
        var held = Assert.Single((await phase1.Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(3))).Records);
        Assert.Equal((Vm1, 1L), (held.OwnerSerial, held.Generation));
    }

    /// <summary>Under its IKE SA's own key, as SyncAuthorization requires of sync input.</summary>
    private static TunnelRecord Keyed(TunnelRecord r) => r with { Key = TunnelRecord.KeyOf(r.Phase1, r.Ike.SpiI, r.Ike.SpiR) };
}
