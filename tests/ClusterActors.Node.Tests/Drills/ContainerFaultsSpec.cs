using System.Diagnostics;
using ClusterActors.Node.Drills;
using ClusterActors.Node.Tests.Kernel;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// The docker lab's faults as system calls from the drill's own process (<see cref="ContainerFaults"/>): a link set
/// down in another process's network namespace is down, its cable's other end without carrier, when the call returns;
/// SIGSTOP and SIGCONT to a process seen from this host stop and resume it. Before, the lab ran `nsenter … ip
/// link` and `docker kill -s STOP`, which took effect up to ~0.9 s after the drill had stamped the fault.
/// </summary>
[Collection("kernel-io")]
public sealed class ContainerFaultsSpec : IDisposable
{
    private readonly NetnsLab _lab = new();

    public void Dispose() => _lab.Dispose();

    [Fact]
    public void A_link_set_from_this_process_in_another_processs_namespace_is_down_when_the_call_returns_and_up_again()
    {
        var unit = _lab.Namespace();
        var peer = _lab.Namespace();
        _lab.Cable(unit, "port4", peer, "hb0");
        // A process living in the unit's namespace, as a container's PID 1 does: reached by /proc/PID/ns/net.
        using var sleeper = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", unit, "sleep", "30"]))!;
        try
        {
            var netns = ContainerFaults.NetnsOf(sleeper.Id);
            WaitUntil(() => File.Exists(netns) && new FileInfo(netns).LinkTarget != new FileInfo("/proc/self/ns/net").LinkTarget);
            Assert.Contains("LOWER_UP", NetnsLab.Ip(peer, "link", "show", "hb0"));

            ContainerFaults.SetLink(netns, "port4", up: false);
            Assert.DoesNotContain(",UP", NetnsLab.Ip(unit, "link", "show", "port4"));
            Assert.Contains("NO-CARRIER", NetnsLab.Ip(peer, "link", "show", "hb0"));
            ContainerFaults.SetLink(netns, "port4", up: true);
            Assert.Contains(",UP", NetnsLab.Ip(unit, "link", "show", "port4"));
            WaitUntil(() => !NetnsLab.Ip(peer, "link", "show", "hb0").Contains("NO-CARRIER", StringComparison.Ordinal));

            // An interface the namespace does not have: an error naming it, nothing changed elsewhere.
            var e = Assert.Throws<InvalidOperationException>(() => ContainerFaults.SetLink(netns, "port9", up: false));
            Assert.Contains("port9", e.Message);
        }
        finally
        {
            sleeper.Kill();
        }
    }

    [Fact]
    public void SIGSTOP_and_SIGCONT_from_this_host_stop_and_resume_the_process()
    {
        using var sleeper = Process.Start(new ProcessStartInfo("sleep", ["30"]))!;
        try
        {
            ContainerFaults.Signal(sleeper.Id, stop: true);
            WaitUntil(() => State(sleeper.Id) == 'T');
            ContainerFaults.Signal(sleeper.Id, stop: false);
            WaitUntil(() => State(sleeper.Id) is 'S' or 'R');
        }
        finally
        {
            sleeper.Kill();
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => ContainerFaults.Signal(0, stop: true));
    }

    /// <summary>The state letter of /proc/PID/stat (after the command's closing parenthesis).</summary>
    private static char State(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[stat.LastIndexOf(')') + 2];
    }

    private static void WaitUntil(Func<bool> condition)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(10)) throw new Xunit.Sdk.XunitException("not within 10 s");
            Thread.Sleep(20);
        }
    }
}
