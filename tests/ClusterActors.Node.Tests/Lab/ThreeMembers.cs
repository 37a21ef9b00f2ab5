using ClusterActors.Node.Hosting;
using ClusterActors.Node.Drills;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.Tests.Lab;

/// <summary>
/// A topology written by hand with three FGSP members: the FGCP pair DC2_VM1+DC2_VM2 (the seed's cluster 1) and two
/// standalone units, DC2_VM3 (the seed's DC2_VM3 without `config system ha`) and DC2_VM5 (a copy on its own subnets
/// 192.168.131.0/24 and 172.31.131.0/24, FGSP 172.31.2.3). Every member lists the other two as cluster peers.
/// </summary>
public static class ThreeMembers
{
    public const string Topology = """
        name: three
        description: one FGCP pair and two standalone units peering over FGSP
        units:
          DC2_VM1: { config: DC2_VM1.conf }
          DC2_VM2: { config: DC2_VM2.conf }
          DC2_VM3: { config: DC2_VM3.conf }
          DC2_VM5: { config: DC2_VM5.conf }
        segments:
          wan: { subnet: 192.168.7.0/24 }
          a-port2: { subnet: 192.168.129.0/24, ports: [DC2_VM1 port2, DC2_VM2 port2] }
          b-port2: { subnet: 192.168.130.0/24, ports: [DC2_VM3 port2] }
          c-port2: { subnet: 192.168.131.0/24, ports: [DC2_VM5 port2] }
          a-port3: { subnet: 172.31.129.0/24, ports: [DC2_VM1 port3, DC2_VM2 port3] }
          b-port3: { subnet: 172.31.130.0/24, ports: [DC2_VM3 port3] }
          c-port3: { subnet: 172.31.131.0/24, ports: [DC2_VM5 port3] }
          server: { subnet: 10.10.101.0/24 }
          fgsp: { subnet: 172.31.2.0/24, ports: [DC2_VM1 port5, DC2_VM2 port5, DC2_VM3 port5, DC2_VM5 port5] }
          lan: { subnet: 10.10.1.0/24 }
        heartbeat:
          a-hb: [DC2_VM1 port4, DC2_VM2 port4]
        fgsp-link: fgsp
        routers:
          dc-router:
            legs:
              wan: { segment: wan, address: 192.168.7.1/24 }
              a: { segment: a-port2, address: 192.168.129.1/24 }
              b: { segment: b-port2, address: 192.168.130.1/24 }
              c: { segment: c-port2, address: 192.168.131.1/24 }
            routes:
              - { to: 192.168.202.35/32, ecmp: [192.168.129.254, 192.168.130.254, 192.168.131.254], probe: { interval: 100ms, misses: above-fgcp }, hash-seed: 1 }
          dc-core:
            legs:
              a: { segment: a-port3, address: 172.31.129.1/24 }
              b: { segment: b-port3, address: 172.31.130.1/24 }
              c: { segment: c-port3, address: 172.31.131.1/24 }
              srv: { segment: server, address: 10.10.101.1/24 }
            routes:
              - { to: 10.10.1.0/24, reverse-path: [172.31.129.254, 172.31.130.254, 172.31.131.254] }
        clients:
          CLIENT1:
            kind: fortigate
            config: CLIENT1.conf
            wan: { segment: wan, address: 192.168.7.2/24, gateway: 192.168.7.1 }
            lan: { segment: lan, address: 10.10.1.1/24 }
            pcs: { PC1: 10.10.1.2/24 }
        servers:
          Server: { segment: server, address: 10.10.101.2/24, gateway: 10.10.101.1 }
        """;

    private static string Seed(string file) => File.ReadAllText(Path.Combine(DockerDrillLab.FindRoot(), "src/Node/scenarios/seed", file));

    /// <summary>Each member's cluster-peer list: the other two members' FGSP addresses.</summary>
    private static string Peers(string own, params string[] peers) =>
        "config system standalone-cluster\n    set standalone-group-id 2\n    set group-member-id " + own + "\n    config cluster-peer\n"
        + string.Concat(peers.Select((p, i) => $"        edit {i + 1}\n            set peerip {p}\n        next\n")) + "    end\nend\n";

    private static string WithPeers(string config, string own, params string[] peers)
    {
        var start = config.IndexOf("config system standalone-cluster", StringComparison.Ordinal);
        var end = config.IndexOf("config vpn ipsec phase1-interface", StringComparison.Ordinal);
        return config[..start] + Peers(own, peers) + config[end..];
    }

    private static string Standalone(string config)
    {
        var start = config.IndexOf("config system ha\n", StringComparison.Ordinal);
        var end = config.IndexOf("config system standalone-cluster", StringComparison.Ordinal);
        return config[..start] + config[end..];
    }

    /// <summary>Writes the topology and its configs into <paramref name="dir"/> and loads it.</summary>
    public static LabTopology Write(string dir, Func<string, string>? editTopology = null, Func<string, string>? editDc2Vm5 = null)
    {
        File.WriteAllText(Path.Combine(dir, "DC2_VM1.conf"), WithPeers(Seed("DC2_VM1.conf"), "1", "172.31.2.2", "172.31.2.3"));
        File.WriteAllText(Path.Combine(dir, "DC2_VM2.conf"), WithPeers(Seed("DC2_VM2.conf"), "1", "172.31.2.2", "172.31.2.3"));
        var vm3 = Standalone(Seed("DC2_VM3.conf"));
        File.WriteAllText(Path.Combine(dir, "DC2_VM3.conf"), WithPeers(vm3, "2", "172.31.2.1", "172.31.2.3"));
        var vm5 = WithPeers(vm3, "3", "172.31.2.1", "172.31.2.2")
            .Replace("#serialno=FGVM02TM22000003", "#serialno=FGVM02TM22000005").Replace("\"DC2_VM3\"", "\"DC2_VM5\"")
            .Replace("192.168.130.", "192.168.131.").Replace("172.31.130.", "172.31.131.").Replace("set ip 172.31.2.2 ", "set ip 172.31.2.3 ");
        File.WriteAllText(Path.Combine(dir, "DC2_VM5.conf"), editDc2Vm5 is null ? vm5 : editDc2Vm5(vm5));
        File.WriteAllText(Path.Combine(dir, "CLIENT1.conf"), Seed("CLIENT1.conf"));
        var file = Path.Combine(dir, "topology.yml");
        File.WriteAllText(file, editTopology is null ? Topology : editTopology(Topology));
        return Scenarios.Topology(file);
    }
}
