using System.Net;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.Commands;
using ClusterActors.Node.Hosting.Kernel;
using ClusterActors.Protocol.Packets;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Kernel;

/// <summary>
/// The client container's PC1 without a network namespace of its own (issue 11 item 5: no SYS_ADMIN): port2 and PC1's
/// interface `pc1` are the two ends of one veth pair in ONE namespace, CLIENT1's port and PC1's
/// <see cref="Pc1TrafficGenerator"/> each a <see cref="KernelPacketIo"/> there, as `clusteractors client --kernel` runs
/// them. Both ends hold local addresses of the same kernel, and each port resolves the other through the kernel's ARP
/// answer; Linux gives that answer only with <see cref="LabClientCommand.Pc1LinkSysctls"/> (accept_local=1, no strict
/// rp_filter). Gratuitous ARPs are off here so that only the kernel's answers can teach the ports (in the lab they
/// would hide the problem for the first 30 s, until a neighbour is asked again).
/// </summary>
[Collection("kernel-io")]
public sealed class Pc1BesideClientSpec(ITestOutputHelper output) : IDisposable
{
    private readonly NetnsLab _lab = new();
    private readonly List<IDisposable> _owned = new();

    private void Log(string line)
    {
        try { output.WriteLine(line); } catch (InvalidOperationException) { /* after the test */ }
    }

    public void Dispose()
    {
        try
        {
            for (var i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        }
        finally
        {
            _lab.Dispose();
        }
    }

    private static void Sysctl(string ns, string key, string value)
    {
        var r = SystemCommand.Run("ip", ["netns", "exec", ns, "sh", "-c", $"echo {value} > /proc/sys/{key}"]);
        if (!r.Ok) throw new InvalidOperationException(r.ToString());
    }

    /// <summary>
    /// One namespace as client-run lays it out, with <paramref name="sysctls"/> applied; PC1 pings the Server through
    /// a stand-in for CLIENT1 on port2 that answers every echo request itself (the tunnel and the Server are not what
    /// is tested). Returns PC1's report.
    /// </summary>
    private async Task<EchoReport> Pc1PingsThroughPort2(IEnumerable<(string Key, string Value)> sysctls)
    {
        RequiredTool.Check("ip", "nft");
        var ns = _lab.Namespace();
        NetnsLab.Ip(ns, "link", "add", "name", "port2", "type", "veth", "peer", "name", "pc1");
        NetnsLab.Ip(ns, "link", "set", "dev", "port2", "up");
        NetnsLab.Ip(ns, "link", "set", "dev", "pc1", "up");
        foreach (var (key, value) in sysctls) Sysctl(ns, key, value);

        var clientIo = new KernelPacketIo(new KernelPacketIoOptions { Namespace = ns, GratuitousArps = 0, Log = Log });
        _owned.Add(clientIo);
        clientIo.PrepareNamespace(["port2", "pc1"]); // as LabClientCommand: arp_ignore=1, the kernel answers no echo
        var pc1Address = IPAddress.Parse("10.10.1.2");
        clientIo.Open("port2", [InterfaceAddress.Parse("10.10.1.1/24")], (port, bytes) =>
        {
            if (IcmpEcho.TryReply(bytes, out var reply)) port.Send(pc1Address, reply);
        });
        var pc1Io = new KernelPacketIo(new KernelPacketIoOptions { Namespace = ns, GratuitousArps = 0, Log = Log });
        _owned.Add(pc1Io);
        var pc1 = new Pc1TrafficGenerator(pc1Io, new Pc1Settings { Interface = "pc1" });
        _owned.Add(pc1);

        var report = await pc1.RunAsync(new EchoRunOptions { RatePps = 100, Count = 20, Duration = TimeSpan.FromSeconds(1), Grace = TimeSpan.FromMilliseconds(500) });
        Log($"PC1: {report}");
        Log(clientIo.Describe() + pc1Io.Describe());
        return report;
    }

    [Fact]
    public async Task With_the_client_containers_sysctls_PC1_and_port2_resolve_each_other_and_every_echo_is_answered()
    {
        var report = await Pc1PingsThroughPort2([("net/ipv4/conf/all/rp_filter", "1"), ("net/ipv4/conf/default/rp_filter", "1"), .. LabClientCommand.Pc1LinkSysctls]);
        Assert.Equal((20, 20), (report.Sent, report.Answered));
    }

    [Theory]
    [InlineData("0", "0")] // a new namespace's default: the ARP request's sender is a local address, a martian source
    [InlineData("1", "1")] // accept_local alone: strict reverse-path filtering still refuses it (wrong interface)
    public async Task Without_them_the_kernel_answers_no_ARP_between_its_own_addresses_and_nothing_is_answered(string acceptLocal, string rpFilter)
    {
        var report = await Pc1PingsThroughPort2([
            ("net/ipv4/conf/all/accept_local", acceptLocal), ("net/ipv4/conf/all/rp_filter", rpFilter), ("net/ipv4/conf/default/rp_filter", rpFilter)]);
        Assert.Equal((20, 0), (report.Sent, report.Answered));
    }

    [Fact]
    public void The_client_refuses_to_start_naming_each_sysctl_that_is_not_as_PC1s_link_needs()
    {
        var ok = LabClientCommand.Pc1LinkSysctls.ToDictionary(s => s.Key, s => s.Value);
        Assert.Empty(LabClientCommand.Pc1LinkProblems(k => ok.GetValueOrDefault(k) + "\n"));
        var bad = new Dictionary<string, string>(ok) { ["net/ipv4/conf/all/accept_local"] = "0" };
        bad.Remove("net/ipv4/conf/default/rp_filter");
        var problems = LabClientCommand.Pc1LinkProblems(k => bad.GetValueOrDefault(k));
        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("net.ipv4.conf.all.accept_local is 0, PC1 beside port2 needs 1", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("net.ipv4.conf.default.rp_filter is missing", StringComparison.Ordinal));
    }
}
