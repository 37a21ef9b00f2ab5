namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>The one dialup phase1 the Ipsec and front specs run a phase1 actor on (vpn1 on port2, the scenario's PSK), on a
/// member of FGCP cluster 1 (`mode a-p`: a unit in mode standalone, the default, is nobody's FGCP peer, FgspSync.ClusterOf).</summary>
internal static class Phase1SpecConfig
{
    internal const string Dialup = """
        config system ha
            set group-id 1
            set mode a-p
        end
        config vpn ipsec phase1-interface
            edit "vpn1"
                set type dynamic
                set interface "port2"
                set ike-version 2
                set local-gw 192.168.202.35
                set peertype one
                set proposal aes128-sha1
                set dhgrp 2
                set nattraversal disable
                set peerid "Nokia_Peer"
                set psksecret "scenario-psk"
            next
        end
        config vpn ipsec phase2-interface
            edit "vpn1"
                set phase1name "vpn1"
                set proposal aes128-sha1
            next
        end
        """;
}
