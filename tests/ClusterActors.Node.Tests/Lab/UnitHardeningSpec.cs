using System.Net;
using ClusterActors.Node.Drills;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace ClusterActors.Node.Tests.Lab;

/// <summary>
/// The container lab's least privilege (issue 11 item 5), read from docker-compose.yml as shipped, merge keys resolved:
/// every unit service (command unit-run) drops every capability but NET_ADMIN and NET_RAW (and the three lab-user spends
/// on the drop to the unprivileged user), sets no-new-privileges, has a read-only root, maps no device, and listens for
/// admin on its management-network address only; the client's control endpoint is on the management network, not the
/// WAN. Re-adding a capability, a device or a writable root to a unit fails here. What runs is checked as well: the
/// docker drill lab refuses units whose /proc status shows more (<see cref="UnitPrivileges"/>, specs below).
/// </summary>
public sealed class UnitHardeningSpec
{
    private static readonly string Root = DockerDrillLab.FindRoot();

    /// <summary>What the container may hold: the unit's two, and SETUID/SETGID/SETPCAP that lab-user uses to become
    /// uid 10001 and shrink the bounding set before the unit starts (Docker sets no ambient capabilities for `user:`).</summary>
    private static readonly string[] UnitContainerCaps = ["NET_ADMIN", "NET_RAW", "SETGID", "SETPCAP", "SETUID"];

    private static YamlMappingNode Compose()
    {
        using var reader = new StringReader(File.ReadAllText(Path.Combine(Root, "docker-compose.yml")));
        var stream = new YamlStream();
        stream.Load(new MergingParser(new Parser(reader)));
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private static YamlMappingNode Map(YamlNode node, string key) => (YamlMappingNode)((YamlMappingNode)node)[key];

    private static YamlNode? Get(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;

    private static IReadOnlyList<string> Strings(YamlNode? node) => node switch
    {
        YamlSequenceNode s => s.Children.Select(c => ((YamlScalarNode)c).Value!).ToList(),
        YamlScalarNode v => [v.Value!],
        _ => [],
    };

    private static IReadOnlyList<(string Name, YamlMappingNode Service)> UnitServices(YamlMappingNode compose) =>
        Map(compose, "services").Children
            .Select(kv => (((YamlScalarNode)kv.Key).Value!, (YamlMappingNode)kv.Value))
            .Where(s => Strings(Get(s.Item2, "command")).SequenceEqual(["unit-run"]))
            .ToList();

    private static (IPAddress Network, int Length) MgmtSubnet(YamlMappingNode compose)
    {
        var config = (YamlSequenceNode)Map(Map(Map(compose, "networks"), "mgmt"), "ipam")["config"];
        var subnet = ((YamlScalarNode)((YamlMappingNode)config.Children[0])["subnet"]).Value!.Split('/');
        return (IPAddress.Parse(subnet[0]), int.Parse(subnet[1]));
    }

    private static bool InSubnet(IPAddress address, (IPAddress Network, int Length) subnet)
    {
        var a = BitConverter.ToUInt32(address.GetAddressBytes().Reverse().ToArray());
        var n = BitConverter.ToUInt32(subnet.Network.GetAddressBytes().Reverse().ToArray());
        var mask = subnet.Length == 0 ? 0u : uint.MaxValue << (32 - subnet.Length);
        return (a & mask) == (n & mask);
    }

    [Fact]
    public void Every_unit_service_drops_all_capabilities_but_the_networks_two_and_the_drops_three()
    {
        var units = UnitServices(Compose());
        Assert.Equal(["dc2_vm1", "dc2_vm2", "dc2_vm3", "dc2_vm4"], units.Select(u => u.Name).Order());
        foreach (var (name, svc) in units)
        {
            Assert.True(Strings(Get(svc, "cap_drop")).SequenceEqual(["ALL"]), $"{name}: cap_drop must be [ALL]");
            Assert.Equal(UnitContainerCaps, Strings(Get(svc, "cap_add")).Order());
            Assert.True(Get(svc, "privileged") is null or YamlScalarNode { Value: "false" }, $"{name}: privileged");
            Assert.Contains("no-new-privileges:true", Strings(Get(svc, "security_opt")));
            Assert.True(Get(svc, "read_only") is YamlScalarNode { Value: "true" }, $"{name}: read_only must be true");
            Assert.Contains(Strings(Get(svc, "tmpfs")), t => t.StartsWith("/tmp", StringComparison.Ordinal));
            Assert.True(Get(svc, "devices") is null, $"{name}: maps a device (the units open none)");
            foreach (var key in new[] { "pid", "ipc", "network_mode", "userns_mode", "cgroup_parent" })
                Assert.True(Get(svc, key) is null, $"{name}: {key} is set");
            // Not root when it runs: the command goes through lab-user with the two capabilities (its defaults).
            Assert.True(Get(svc, "user") is null, $"{name}: `user:` would leave the unit without ambient capabilities (lab-user drops)");
        }
        var unitRun = File.ReadAllText(Path.Combine(Root, "src/Node/lab/scripts/unit-run"));
        Assert.Matches(@"(?m)^exec lab-user clusteractors ", unitRun);
        var labUser = File.ReadAllText(Path.Combine(Root, "src/Node/lab/scripts/lab-user"));
        Assert.Contains("caps=${LAB_CAPS:-net_admin,net_raw}", labUser);
        Assert.Contains("--bounding-set=\"-all,$plus\"", labUser);
        Assert.Contains("user=${LAB_USER:-clusteractors}", labUser);
    }

    [Fact]
    public void Every_units_admin_endpoint_is_its_management_network_address_only()
    {
        var compose = Compose();
        var mgmt = MgmtSubnet(compose);
        foreach (var (name, svc) in UnitServices(compose))
        {
            var unit = name.ToUpperInvariant();
            var hocon = File.ReadAllText(Path.Combine(Root, "src/Node/lab/units", unit + ".hocon"));
            var admin = System.Text.RegularExpressions.Regex.Match(hocon, @"(?m)^\s*admin\s*=\s*""([^""]+)""").Groups[1].Value;
            Assert.False(string.IsNullOrEmpty(admin), $"{unit}.hocon has no admin endpoint");
            var endpoint = IPEndPoint.Parse(admin);
            Assert.True(InSubnet(endpoint.Address, mgmt), $"{unit}: admin {admin} is not on the management network");
            var env = Map(svc, "environment");
            Assert.Equal(admin, ((YamlScalarNode)env["LAB_ADMIN"]).Value); // what `docker exec … cli` dials
            var attached = Map(Map(svc, "networks"), "mgmt");
            Assert.Equal(endpoint.Address.ToString(), ((YamlScalarNode)attached["ipv4_address"]).Value);
            Assert.Contains("mgmt=", ((YamlScalarNode)env["LAB_IFACES"]).Value);
        }
        Assert.True(Get(Map(Map(compose, "networks"), "mgmt"), "internal") is YamlScalarNode { Value: "true" }, "mgmt must be internal");
    }

    [Fact]
    public void The_clients_control_endpoint_is_on_the_management_network_not_the_wan()
    {
        var compose = Compose();
        var client = Map(Map(compose, "services"), "client");
        var serve = IPEndPoint.Parse(((YamlScalarNode)Map(client, "environment")["LAB_CLIENT_SERVE"]).Value!);
        Assert.True(InSubnet(serve.Address, MgmtSubnet(compose)), $"client control {serve} is not on the management network");
        // The script's own default, when the variable is missing, is loopback: never every address.
        Assert.Contains("${LAB_CLIENT_SERVE:-127.0.0.1:8023}", File.ReadAllText(Path.Combine(Root, "src/Node/lab/scripts/client-run")));
    }

    [Fact]
    public void The_client_is_hardened_as_a_unit_without_SYS_ADMIN_and_runs_as_the_lab_user()
    {
        // PC1 is the veth peer of port2 in the client's own namespace: no namespace made or entered, so nothing needs
        // SYS_ADMIN; the client process drops to uid 10001 with the two capabilities, as a unit does.
        var client = Map(Map(Compose(), "services"), "client");
        Assert.True(Strings(Get(client, "cap_drop")).SequenceEqual(["ALL"]), "client: cap_drop must be [ALL]");
        Assert.Equal(UnitContainerCaps, Strings(Get(client, "cap_add")).Order());
        Assert.Contains("no-new-privileges:true", Strings(Get(client, "security_opt")));
        Assert.True(Get(client, "read_only") is YamlScalarNode { Value: "true" }, "client: read_only must be true");
        Assert.True(Get(client, "devices") is null, "client: maps a device");
        Assert.True(Get(client, "user") is null, "client: `user:` would leave the client without ambient capabilities (lab-user drops)");
        var clientRun = File.ReadAllText(Path.Combine(Root, "src/Node/lab/scripts/client-run"));
        Assert.Matches(@"(?m)^exec lab-user clusteractors client --kernel ", clientRun);
        Assert.DoesNotMatch(@"(?m)^[^#]*\bip (-n|netns)\b", clientRun);
        // The kernel answers ARP between port2 and PC1's interface, both its own addresses, only with these.
        var sysctls = Map(client, "sysctls");
        foreach (var (key, value) in ClusterActors.Node.Commands.LabClientCommand.Pc1LinkSysctls)
            Assert.Equal(value, ((YamlScalarNode)sysctls[key.Replace('/', '.')]).Value);
    }

    [Fact]
    public void The_dc_router_runs_as_the_lab_user_once_set_up_and_can_write_its_status()
    {
        // router-run (root) sets the DC core's rules and the niceness, then the router drops to uid 10001 with the two;
        // its status file (/run/clusteractors-router.status) needs a /run the lab user may write.
        var router = Map(Map(Compose(), "services"), "dc_router");
        Assert.Equal(["NET_ADMIN", "NET_RAW", "SETGID", "SETPCAP", "SETUID", "SYS_NICE"], Strings(Get(router, "cap_add")).Order());
        Assert.Contains(Strings(Get(router, "tmpfs")), t => t.StartsWith("/run:", StringComparison.Ordinal) && t.Contains(",uid=10001,gid=10001", StringComparison.Ordinal));
        Assert.Equal("/run/clusteractors-router.status", ClusterActors.Node.Commands.RouterCommand.DefaultStatus);
        var routerRun = File.ReadAllText(Path.Combine(Root, "src/Node/lab/scripts/router-run"));
        Assert.Matches(@"(?m)^exec ""\$\{nice\[@\]\}"" lab-user clusteractors router ", routerRun);
        Assert.DoesNotMatch(@"(?m)^\s*exec (""\$\{nice\[@\]\}"" )?(clusteractors|idle)\b", routerRun);
    }

    /// <summary>Capabilities no service of the lab may be given: SYS_ADMIN (mount, namespaces, setns: next to root), and ALL.</summary>
    private static readonly string[] Forbidden = ["SYS_ADMIN", "CAP_SYS_ADMIN", "ALL"];

    /// <summary>The root file, and the generated files of the seed and of a three-member topology.</summary>
    private static IEnumerable<(string What, YamlMappingNode Compose)> EveryComposeFile()
    {
        yield return ("docker-compose.yml", Compose());
        var dir = Directory.CreateTempSubdirectory("clusteractors-hardening-").FullName;
        try
        {
            var seed = ClusterActors.Node.Hosting.Scenarios.Topology(Path.Combine(Root, "src/Node/scenarios/seed/topology.yml"));
            foreach (var (what, topology) in new[] { ("generated seed", seed), ("generated three-member", ThreeMembers.Write(dir)) })
            {
                var yaml = ClusterActors.Node.DockerLab.ComposeFile.Render(ClusterActors.Node.DockerLab.DockerLabPlan.From(topology),
                    ClusterActors.Node.DockerLab.ComposePaths.RepoRoot);
                var stream = new YamlStream();
                stream.Load(new MergingParser(new Parser(new StringReader(yaml))));
                yield return (what, (YamlMappingNode)stream.Documents[0].RootNode);
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void No_service_of_any_compose_file_has_SYS_ADMIN_or_privileged_and_every_lab_container_is_hardened()
    {
        var checkedServices = 0;
        foreach (var (what, compose) in EveryComposeFile())
        {
            foreach (var (key, value) in Map(compose, "services").Children)
            {
                var name = $"{what}: {((YamlScalarNode)key).Value}";
                var svc = (YamlMappingNode)value;
                checkedServices++;
                var added = Strings(Get(svc, "cap_add")).Select(c => c.ToUpperInvariant()).ToList();
                Assert.True(!added.Intersect(Forbidden).Any(), $"{name} adds {string.Join(", ", added.Intersect(Forbidden))}");
                Assert.True(Get(svc, "privileged") is null or YamlScalarNode { Value: "false" }, $"{name}: privileged");
                foreach (var opt in Strings(Get(svc, "security_opt")))
                    Assert.False(opt.Contains("unconfined", StringComparison.Ordinal), $"{name}: security_opt {opt}");
                // Every container: all capabilities dropped but what it adds, no new privileges, a read-only root; a device
                // only for the strongSwan client (kernel-libipsec's TUN: these kernels have no ESP).
                Assert.True(Strings(Get(svc, "cap_drop")).SequenceEqual(["ALL"]), $"{name}: cap_drop must be [ALL]");
                Assert.True(Strings(Get(svc, "security_opt")).Contains("no-new-privileges:true"), $"{name}: no-new-privileges");
                Assert.True(Get(svc, "read_only") is YamlScalarNode { Value: "true" }, $"{name}: read_only must be true");
                var devices = Strings(Get(svc, "devices"));
                Assert.True(devices.Count == 0 || ((YamlScalarNode)key).Value == "strongswan" && devices.SequenceEqual(["/dev/net/tun:/dev/net/tun"]),
                    $"{name}: maps {string.Join(", ", devices)}");
            }
        }
        Assert.True(checkedServices >= 3 * 7, $"only {checkedServices} services read");
    }

    private const string Hardened = "Name:\tclusteractors\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t10001\t10001\t10001\t10001\n"
        + "Gid:\t10001\t10001\t10001\t10001\nGroups:\t\nCapInh:\t0000000000003000\nCapPrm:\t0000000000003000\n"
        + "CapEff:\t0000000000003000\nCapBnd:\t0000000000003000\nCapAmb:\t0000000000003000\nNoNewPrivs:\t1\nSeccomp:\t2\n";

    [Fact]
    public void A_unit_process_with_the_two_capabilities_as_uid_10001_and_no_new_privs_passes()
    {
        Assert.Null(UnitPrivileges.Problem(Hardened));
    }

    [Theory]
    [InlineData("Uid:\t10001\t10001\t10001\t10001", "Uid:\t0\t0\t0\t0", "uid")]
    [InlineData("CapEff:\t0000000000003000", "CapEff:\t00000000000031c0", "CapEff")]
    [InlineData("CapBnd:\t0000000000003000", "CapBnd:\t00000000a80425fb", "CapBnd")]
    [InlineData("CapAmb:\t0000000000003000", "CapAmb:\t0000000000000000", "CapAmb")]
    [InlineData("NoNewPrivs:\t1", "NoNewPrivs:\t0", "no_new_privs")]
    public void A_unit_process_with_more_is_refused(string line, string instead, string named)
    {
        var problem = UnitPrivileges.Problem(Hardened.Replace(line, instead, StringComparison.Ordinal));
        Assert.NotNull(problem);
        Assert.Contains(named, problem);
    }
}
