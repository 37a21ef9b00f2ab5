using ClusterActors.Actors.Cli;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;

namespace ClusterActors.Actors.Tests.Cli;

/// <summary>
/// `diagnose sys ha checksum show|cluster`: figures from the configuration a unit holds, equal for two members whose synced
/// part is the same (per-unit keys differ), different in the part that differs; FortiOS's layout, pure.
/// </summary>
public sealed class HaChecksumSpec
{
    private static ConfigDocument Unit(string hostname, int priority, string psk = "scenario-psk", string port2 = "192.168.129.1 255.255.255.0")
    {
        var parsed = FortiConfig.Parse($$"""
            config system global
                set hostname "{{hostname}}"
            end
            config system interface
                edit "port2"
                    set vdom "root"
                    set ip {{port2}}
                    set type physical
                next
                edit "port4"
                    set vdom "root"
                    set type physical
                next
            end
            config system ha
                set group-id 1
                set group-name "DC2_VM12"
                set mode a-p
                set hbdev "port4" 50
                set priority {{priority}}
            end
            config vpn ipsec phase1-interface
                edit "vpn1"
                    set type dynamic
                    set interface "port2"
                    set ike-version 2
                    set peertype one
                    set peerid "Nokia_Peer"
                    set net-device disable
                    set proposal aes128-sha1
                    set psksecret "{{psk}}"
                next
            end
            """);
        Assert.True(parsed.Ok, parsed.ToString());
        return parsed.Value!;
    }

    /// <summary>What FGCP sync makes of a secondary: the primary's synced part (secrets as the primary's ENC text), its own per-unit keys.</summary>
    private static ConfigDocument Synced(ConfigDocument secondary, ConfigDocument primary) => secondary.WithSyncedFrom(primary);

    private static ConfigDocument Changed(ConfigDocument doc, string script)
    {
        var applied = doc.Apply(script);
        Assert.True(applied.Ok, applied.ToString());
        return applied.Value!;
    }

    [Fact]
    public void Two_members_with_the_same_synced_config_have_the_same_figures_though_hostname_and_priority_differ()
    {
        var primary = Unit("DC2_VM1", 200);
        var secondary = Synced(Unit("DC2_VM2", 128), primary);
        Assert.Equal("DC2_VM2", secondary.Global.Hostname);
        Assert.Equal(HaChecksums.Of(primary), HaChecksums.Of(secondary));
    }

    [Fact]
    public void A_vpn_change_moves_root_and_all_and_a_system_change_moves_global_and_all()
    {
        var primary = Unit("DC2_VM1", 200);
        var synced = HaChecksums.Of(Synced(Unit("DC2_VM2", 128), primary));

        var vpn = HaChecksums.Of(Changed(primary, "config vpn ipsec phase1-interface\n    edit \"vpn1\"\n        set dpd-retryinterval 30\n    next\nend\n"));
        Assert.Equal(synced.Global, vpn.Global);
        Assert.NotEqual(synced.Root, vpn.Root);
        Assert.NotEqual(synced.All, vpn.All);

        var system = HaChecksums.Of(Changed(primary, "config system interface\n    edit \"port2\"\n        set ip 192.168.129.9 255.255.255.0\n    next\nend\n"));
        Assert.NotEqual(synced.Global, system.Global);
        Assert.Equal(synced.Root, system.Root);
        Assert.NotEqual(synced.All, system.All);
        foreach (var hex in new[] { synced.Global, synced.Root, synced.All }) Assert.Matches("^[0-9a-f]{32}$", hex);
    }

    private static readonly HaConfigChecksums Sums = new(
        "7e06790265a9eae3685873c233d016f1", "432cee2cf1b3b213ff37345e8611dcbf", "0b16f2e4e289eba1bf8f159be14e3bf2");

    [Fact]
    public void Show_prints_FortiOS_layout_with_debugzone_and_checksum_blocks()
    {
        // FortiGate 7000F handbook 7.0.15 "Viewing more details about HA cluster synchronization" (its mgmt-vdom line aside:
        // this lab has only root), the 6.0 handbook's space after each byte.
        Assert.Equal("""
            is_manage_primary()=1, is_root_primary()=1
            debugzone
            global: 7e 06 79 02 65 a9 ea e3 68 58 73 c2 33 d0 16 f1 
            root: 43 2c ee 2c f1 b3 b2 13 ff 37 34 5e 86 11 dc bf 
            all: 0b 16 f2 e4 e2 89 eb a1 bf 8f 15 9b e1 4e 3b f2 

            checksum
            global: 7e 06 79 02 65 a9 ea e3 68 58 73 c2 33 d0 16 f1 
            root: 43 2c ee 2c f1 b3 b2 13 ff 37 34 5e 86 11 dc bf 
            all: 0b 16 f2 e4 e2 89 eb a1 bf 8f 15 9b e1 4e 3b f2 


            """.ReplaceLineEndings("\n"), HaDiagnostics.ChecksumShow(true, Sums));
        Assert.StartsWith("is_manage_primary()=0, is_root_primary()=0\n", HaDiagnostics.ChecksumShow(false, Sums));
    }

    [Fact]
    public void Cluster_prints_every_member_by_cluster_index_and_says_when_a_peer_sent_none()
    {
        var ha = FortiConfig.Parse("config system ha\n    set group-id 1\n    set mode a-p\nend\n").Value!.Ha;
        HaMember M(string serial, HaRole role, int index) =>
            new(serial, serial[^1..], role, 128, index, index, index, TimeSpan.Zero, DateTimeOffset.UnixEpoch, true, index == 1);
        var other = Sums with { Root = "00000000000000000000000000000000" };
        var s = new HaStatusSnapshot("FGVM02TM22000001", "DC2_VM1", ha, HaState.Work, HaRole.Secondary, "FGVM02TM22000002",
            [M("FGVM02TM22000001", HaRole.Secondary, 1), M("FGVM02TM22000002", HaRole.Primary, 0)], TimeSpan.Zero, null, null, 0, [])
        {
            Checksums = new Dictionary<string, HaConfigChecksums?> { ["FGVM02TM22000001"] = Sums, ["FGVM02TM22000002"] = other },
        };
        var text = HaDiagnostics.ChecksumCluster(s);
        Assert.Equal(
            "================== FGVM02TM22000002 ==================\n" + HaDiagnostics.ChecksumShow(true, other)
            + "================== FGVM02TM22000001 ==================\n" + HaDiagnostics.ChecksumShow(false, Sums), text);

        var silent = HaDiagnostics.ChecksumCluster(s with { Checksums = new Dictionary<string, HaConfigChecksums?> { ["FGVM02TM22000001"] = Sums } });
        Assert.Contains("================== FGVM02TM22000002 ==================\nno checksums: its heartbeats carry none\n", silent);
    }
}
