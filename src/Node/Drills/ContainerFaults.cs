using System.ComponentModel;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using ClusterActors.Node.Hosting.Kernel;

namespace ClusterActors.Node.Drills;

/// <summary>
/// The container lab's faults as system calls from this host, with no program started in between: the drill stamps
/// the fault's time just before the call, so the fault must take effect then. Through `docker kill -s STOP`, `nsenter …
/// ip link` or `docker exec` it took effect after a fork, an exec and (for docker) a round trip to the daemon: measured
/// on the shared 2-core machine, SIGSTOP reached the unit ~0.9 s after the stamp (docker chaos seed 1 run 20: its peer
/// declared it lost 2.2 s after the stamp with FGCP's 1.2 s), and the heartbeat cut's split brain was seen 4.36–4.67 s
/// after the stamp with FGCP's 4 s, while a kill -9 (already a direct signal) was seen after 3.94–4.05 s.
/// </summary>
public static class ContainerFaults
{
    private const int SigCont = 18;
    private const int SigStop = 19;
    private const int SigKill = 9;

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    /// <summary>
    /// SIGSTOP (<paramref name="stop"/>) or SIGCONT to <paramref name="pid"/>, a container's PID 1 seen from this host's
    /// PID namespace: from an ancestor namespace SIGSTOP reaches a PID 1 (what `docker kill -s STOP` has the daemon do).
    /// </summary>
    public static void Signal(int pid, bool stop)
    {
        if (pid <= 0) throw new ArgumentOutOfRangeException(nameof(pid), pid, "no process to signal");
        if (kill(pid, stop ? SigStop : SigCont) != 0)
            throw new InvalidOperationException($"kill({pid}, {(stop ? "SIGSTOP" : "SIGCONT")}): {new Win32Exception(Marshal.GetLastPInvokeError()).Message}");
    }

    /// <summary>
    /// SIGKILL to <paramref name="pid"/> by kill(2), the call <see cref="Warm"/> has already made once: through
    /// Process.GetProcessById + Kill the first kill of a drill landed 356 ms after the fault's stamp (the class's first
    /// use: JIT and /proc parsing), measured by where PC1's gap began. False when the process is already gone.
    /// </summary>
    public static bool Kill(int pid)
    {
        if (pid <= 0) return false;
        return kill(pid, SigKill) == 0;
    }

    /// <summary>
    /// `ip link set <paramref name="ifname"/> up|down` in the network namespace <paramref name="netns"/> (a path such as
    /// /proc/PID/ns/net, or a name under /run/netns): a thread of its own enters the namespace (setns, CAP_SYS_ADMIN),
    /// sets the interface's IFF_UP with an ioctl on a socket made there, and ends.
    /// </summary>
    public static void SetLink(string netns, string ifname, bool up) =>
        LinuxNet.InNamespace(netns, () =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            LinuxNet.SetUp(socket, ifname, up);
            return true;
        });

    /// <summary>
    /// Runs both paths once without changing anything (signal 0 to <paramref name="pid"/>, the flags of `lo` read in its
    /// namespace), so that the first fault does not pay for the JIT, the P/Invoke stubs and libc's loading: measured,
    /// the first SetLink of a drill returned 617 ms after the stamp, the second 3 ms (load average 22).
    /// </summary>
    public static void Warm(int pid)
    {
        if (pid <= 0) return;
        _ = kill(pid, 0);
        LinuxNet.InNamespace(NetnsOf(pid), () =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            return LinuxNet.Flags(socket, "lo");
        });
    }

    /// <summary>The network namespace of a process seen from this host.</summary>
    public static string NetnsOf(int pid) => $"/proc/{pid}/ns/net";
}
