using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Ike;
using Xunit;

namespace ClusterActors.Protocol.Tests.Config;

/// <summary>Every config block of the FGCP-over-FGSP seed document, copied verbatim (indentation, masked secrets, typos and all).</summary>
public class ScenarioConfigTests
{
    public const string Cluster1Ha = """
            config system ha
                set group-id 1
                set group-name "DC2_VM12"
                set mode a-p
                set password ********
                set hbdev "port4" 50
                set session-pickup enable
                set upgrade-mode simultaneous
                set override disable
                set priority 100
            end
        """;

    public const string Cluster2Ha = """
            config system ha
                set group-id 2
                set group-name "DC2_VM34"
                set mode a-p
                set password ********
                set hbdev "port4" 50
                set session-pickup enable
                set upgrade-mode simultaneou
                set override disable
                set priority 100
            end
        """;

    public const string Vm1Fgsp = """
            config system standalone-cluster
                set standalone-group-id 2
                set group-member-id 1
                config cluster-peer
                    edit 1
                        set peerip 172.31.2.2
                    next
                end
            end
        """;

    public const string Vm3Fgsp = """
            config system standalone-cluster
                set standalone-group-id 2
                set group-member-id 2
                config cluster-peer
                    edit 1
                        set peerip 172.31.2.1
                    next
                end
            end
        """;

    public const string Phase1 = """
              config vpn ipsec phase1-interface
                  edit "vpn1"
                      set type dynamic
                      set interface "port2"
                      set ike-version 2
                      set local-gw 192.168.202.35
                      set keylife 90000
                      set peertype one
                      set net-device disable
                      set proposal aes128-sha1
                      set add-route disable
                      set dpd on-idle
                      set dhgrp 2
                      set fgsp-sync enable
                      set nattraversal disable
                      set peerid "Nokia_Peer"
                      set psksecret ********
                      set dpd-retryinterval 60
                  next
              end
        """;

    public const string Phase2 = """
              config vpn ipsec phase2-interface
                  edit "vpn1"
                      set phase1name "vpn1"
                      set proposal aes128-sha1
                      set keylifeseconds 10800
                  next
              end
        """;

    private static ConfigDocument Parse(string text)
    {
        var r = FortiConfig.Parse(text, "seed.conf");
        Assert.True(r.Ok, string.Join("\n", r.Errors));
        return r.Value!;
    }

    [Fact]
    public void Cluster1_ha_block_parses_to_typed_values()
    {
        var ha = Parse(Cluster1Ha).Ha;
        Assert.Equal(1, ha.GroupId);
        Assert.Equal("DC2_VM12", ha.GroupName);
        Assert.Equal(HaMode.ActivePassive, ha.Mode);
        Assert.Equal("********", ha.Password!.Clear);
        Assert.Equal([new HbDev("port4", 50)], ha.HbDevs);
        Assert.True(ha.SessionPickup);
        Assert.Equal("simultaneous", ha.UpgradeMode);
        Assert.False(ha.Override);
        Assert.Equal(100, ha.Priority);
        // Defaults for what the seed leaves out.
        Assert.Equal(2, ha.HbInterval);
        Assert.Equal(20, ha.HbLostThreshold);
        Assert.Equal(TimeSpan.FromSeconds(4), ha.LostAfter);
        Assert.Equal(300, ha.HaUptimeDiffMargin);
        Assert.Empty(ha.Monitor);
    }

    [Fact]
    public void Cluster2_ha_block_expands_the_simultaneou_typo()
    {
        var ha = Parse(Cluster2Ha).Ha;
        Assert.Equal(2, ha.GroupId);
        Assert.Equal("DC2_VM34", ha.GroupName);
        Assert.Equal("simultaneous", ha.UpgradeMode);
    }

    [Fact]
    public void Fgsp_blocks_parse_with_nested_cluster_peer()
    {
        var vm1 = Parse(Vm1Fgsp).StandaloneCluster;
        Assert.Equal(2, vm1.StandaloneGroupId);
        Assert.Equal(1, vm1.GroupMemberId);
        var peer = Assert.Single(vm1.Peers);
        Assert.Equal(1, peer.Id);
        Assert.Equal("172.31.2.2", peer.PeerIp);
        Assert.Equal("root", peer.PeerVd);
        Assert.True(peer.IpsecTunnelSync);
        Assert.Equal(10, peer.HbLostThreshold);

        var vm3 = Parse(Vm3Fgsp).StandaloneCluster;
        Assert.Equal(2, vm3.GroupMemberId);
        Assert.Equal("172.31.2.1", Assert.Single(vm3.Peers).PeerIp);
    }

    [Fact]
    public void Phase1_block_parses()
    {
        var p = Assert.Single(Parse(Phase1).Phase1);
        Assert.Equal("vpn1", p.Name);
        Assert.Equal(Phase1Type.Dynamic, p.Type);
        Assert.Equal("port2", p.Interface);
        Assert.Equal(2, p.IkeVersion);
        Assert.Equal("192.168.202.35", p.LocalGw);
        Assert.Equal(90000, p.KeyLife);
        Assert.Equal(PeerType.One, p.PeerType);
        Assert.False(p.NetDevice);
        Assert.Equal(["aes128-sha1"], p.Proposal);
        Assert.False(p.AddRoute);
        Assert.Equal(DpdMode.OnIdle, p.Dpd);
        Assert.Equal([2], p.DhGroups);
        Assert.True(p.FgspSync);
        Assert.Equal(NatTraversal.Disable, p.NatTraversal);
        Assert.Equal("Nokia_Peer", p.PeerId);
        Assert.Equal("********", p.PskSecret!.Clear);
        Assert.Equal(60, p.DpdRetryInterval);
        Assert.Equal(3, p.DpdRetryCount);
        Assert.True(p.HaSyncEspSeqno);
    }

    [Fact]
    public void Phase2_block_parses_when_its_phase1_exists()
    {
        var doc = Parse(Phase1 + "\n" + Phase2);
        var p = Assert.Single(doc.Phase2);
        Assert.Equal("vpn1", p.Name);
        Assert.Equal("vpn1", p.Phase1Name);
        Assert.Equal(["aes128-sha1"], p.Proposal);
        Assert.Equal(10800, p.KeyLifeSeconds);
        Assert.True(p.Pfs);
        Assert.Equal([14, 5], p.DhGroups);
    }

    [Fact]
    public void Phase2_block_alone_is_rejected_because_phase1_is_missing()
    {
        var r = FortiConfig.Parse(Phase2, "seed.conf");
        Assert.False(r.Ok);
        var e = Assert.Single(r.Errors);
        Assert.Equal(3, e.Line);
        Assert.Contains("unknown phase1-interface", e.Message);
    }

    [Fact]
    public void Whole_dc2_vm1_config_parses_as_one_file()
    {
        var doc = Parse("#serialno=FGVM02TM22000001\n" + Cluster1Ha + "\n" + Vm1Fgsp + "\n" + Phase1 + "\n" + Phase2);
        Assert.Equal("FGVM02TM22000001", doc.SerialNumber);
        Assert.Equal("DC2_VM12", doc.Ha.GroupName);
        Assert.Equal("172.31.2.2", doc.StandaloneCluster.Peers[0].PeerIp);
        Assert.Equal("vpn1", doc.Phase2[0].Phase1Name);
        Assert.Equal(10, doc.Interfaces.Count);
    }
}
