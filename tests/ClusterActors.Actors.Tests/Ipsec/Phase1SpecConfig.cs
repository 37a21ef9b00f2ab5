namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>The one dialup phase1 the Ipsec and front specs run a phase1 actor on (vpn1 on port2, the scenario's PSK), on a
/// member of FGCP cluster 1 (`mode a-p`: a unit in mode standalone, the default, is nobody's FGCP peer, FgspSync.ClusterOf).</summary>
internal static class Phase1SpecConfig
{
    /// <summary>An ActorSystem of the cluster provider on a free loopback port: what a phase1 actor needs (Distributed Data).</summary>
    internal const string ClusterHocon = """
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp.hostname = 127.0.0.1
        akka.remote.dot-netty.tcp.port = 0
        akka.loglevel = WARNING
        """;

    /// <summary><see cref="ClusterHocon"/> with the units' own serializer bindings, for specs whose messages cross
    /// remoting between two ActorSystems as across the real cluster (Akka's JSON cannot carry a record).</summary>
    internal static Akka.Configuration.Config WireConfig() =>
        Akka.Configuration.ConfigurationFactory.ParseString(ClusterHocon)
            .WithFallback(Akka.Configuration.ConfigurationFactory.ParseString(ClusterActors.Actors.Persistence.PersistenceHocon.ReadEmbedded("serialization.conf")));

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
