using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Hosting.Kernel;

/// <summary>
/// The network namespaces and daemons of the side-by-side benchmarks (ike-vs-strongswan, esp-vs-strongswan). Two
/// identical chains, one per responder, addressed as StrongSwanClientSpec's lab (src/Node/lab/strongswan):
///   pc1 (10.10.1.2) — client (192.168.7.2, LAN 10.10.1.1) — router (192.168.7.1 / 192.168.129.1) —
///   responder (port2 192.168.129.254, lb1 192.168.202.35, port3 172.31.129.254) — server (172.31.129.1, 10.10.101.2).
/// "ours": the responder namespace runs `clusteractors node` (DC2_VM1, packets = kernel) as the docker lab does;
/// "theirs": it runs charon (kernel-libipsec) with the same addresses, forwarding by the namespace's kernel.
/// Namespaces are vsss-PID-N (those a killed run left behind, its PID gone, are removed at the next start); every
/// process started here is killed by its own pid and every namespace deleted on <see cref="Dispose"/>, failures included.
/// </summary>
internal sealed class VsssLab : IDisposable
{
    private const string Prefix = "vsss-";
    public const string Charon = "/usr/sbin/charon-systemd";
    public const string KernelLibipsec = "/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so";

    /// <summary>Tool → Debian package: a missing one fails the benchmark with one line naming both.</summary>
    private static readonly (string Tool, string Package)[] Tools =
    [
        ("ip", "iproute2"), ("nft", "nftables"), ("sysctl", "procps"), ("swanctl", "strongswan-swanctl"),
        (Charon, "charon-systemd"), (KernelLibipsec, "libcharon-extra-plugins"),
    ];

    private readonly List<string> _namespaces = [];
    private readonly List<Daemon> _daemons = [];
    private int _counter;

    public string Work { get; } = Path.Combine(Path.GetTempPath(), "vsss-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N")[..6]);

    /// <summary>The one line naming what is missing (tool and Debian package), or null when everything is installed.</summary>
    public static string? MissingTools()
    {
        var missing = Tools.Where(t => (t.Tool.StartsWith('/') ? File.Exists(t.Tool) : SystemCommand.Find(t.Tool) is not null) is false)
            .Select(t => $"{t.Tool} (Debian package {t.Package})").ToList();
        if (Environment.UserName != "root" && missing.Count == 0) return "the benchmark builds network namespaces: run it as root";
        return missing.Count == 0 ? null
            : $"{string.Join(", ", missing)} {(missing.Count == 1 ? "is" : "are")} not installed: run .ci/test-prerequisites as root";
    }

    public VsssLab()
    {
        Directory.CreateDirectory(Work);
        Sweep();
    }

    /// <summary>Whether this kernel does ESP in xfrm (the issue asked for it); the answer is printed with the figures.</summary>
    public string KernelXfrmEsp()
    {
        var ns = Namespace();
        var r = SystemCommand.Ip(ns, "xfrm", "state", "add", "src", "192.168.255.1", "dst", "192.168.255.2", "proto", "esp", "spi", "0x100",
            "mode", "tunnel", "enc", "cbc(aes)", "0x00112233445566778899aabbccddeeff", "auth", "hmac(sha1)", "0x00112233445566778899aabbccddeeff00112233");
        return r.Ok ? "available" : $"not available ({r.Error.Trim()})";
    }

    public string Namespace()
    {
        var name = $"{Prefix}{Environment.ProcessId}-{++_counter}";
        var r = SystemCommand.Run("ip", ["netns", "add", name]);
        if (!r.Ok) throw new InvalidOperationException($"cannot create network namespace {name} (needs root): {r}");
        _namespaces.Add(name);
        Sh(name, "ip link set lo up");
        return name;
    }

    public void Cable(string nsA, string ifA, string nsB, string ifB)
    {
        SystemCommand.IpOrThrow(nsA, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", nsB);
        SystemCommand.IpOrThrow(nsA, "link", "set", ifA, "up");
        SystemCommand.IpOrThrow(nsB, "link", "set", ifB, "up");
    }

    public static string Sh(string ns, string script)
    {
        var r = SystemCommand.Run("ip", ["netns", "exec", ns, "sh", "-c", script]);
        if (!r.Ok) throw new InvalidOperationException($"{ns}: {script}: {r}\n{r.Output}");
        return r.Output;
    }

    /// <summary>One chain: pc1 — client — router — responder — server; the responder's namespace is left bare for its daemon.</summary>
    public Chain BuildChain(bool responderForwards)
    {
        var c = new Chain(Namespace(), Namespace(), Namespace(), Namespace(), Namespace());
        Cable(c.Pc1, "eth0", c.Client, "lan");
        Cable(c.Client, "wan", c.Router, "r7");
        Cable(c.Router, "c1", c.Responder, "port2");
        Cable(c.Responder, "port3", c.Server, "s1");
        Sh(c.Client, "ip addr add 192.168.7.2/24 dev wan; ip route add default via 192.168.7.1; ip addr add 10.10.1.1/24 dev lan; sysctl -qw net.ipv4.ip_forward=1");
        Sh(c.Pc1, "ip addr add 10.10.1.2/24 dev eth0; ip route add default via 10.10.1.1");
        Sh(c.Router, "ip addr add 192.168.7.1/24 dev r7; ip addr add 192.168.129.1/24 dev c1; ip route add 192.168.202.35/32 via 192.168.129.254; sysctl -qw net.ipv4.ip_forward=1");
        Sh(c.Server, "ip addr add 172.31.129.1/24 dev s1; ip addr add 10.10.101.2/32 dev lo; ip route add default via 172.31.129.254");
        if (responderForwards)
            // strongSwan's gateway: DC2_VM1's addresses and static routes, forwarding done by this namespace's kernel.
            Sh(c.Responder, "ip addr add 192.168.129.254/24 dev port2; ip addr add 192.168.202.35/32 dev lo; ip addr add 172.31.129.254/24 dev port3;"
                            + " ip route add default via 192.168.129.1; ip route add 10.10.101.0/24 via 172.31.129.1; sysctl -qw net.ipv4.ip_forward=1");
        return c;
    }

    /// <summary><paramref name="program"/> in <paramref name="ns"/> (`ip netns exec` execs it: its pid is the daemon's own).</summary>
    public Daemon Start(string name, string ns, string program, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["netns", "exec", ns, program, .. args]) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        var d = new Daemon(name, Process.Start(psi) ?? throw new InvalidOperationException($"could not start {program}"));
        _daemons.Add(d);
        return d;
    }

    /// <summary>A UDP socket created inside <paramref name="ns"/> (it stays there; I/O on it works from any thread).</summary>
    public static Socket UdpSocket(string ns, IPEndPoint bind) => InNamespace(ns, () =>
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(bind);
        return s;
    });

    /// <summary>The node's own namespace entry (<c>LinuxNet.InNamespace</c>: a thread of its own enters the namespace
    /// and ends with the work), not a copy of it.</summary>
    public static T InNamespace<T>(string ns, Func<T> work) => LinuxNet.InNamespace(ns, work);

    public void Dispose()
    {
        foreach (var d in _daemons) d.Kill();
        foreach (var ns in _namespaces) SystemCommand.Run("ip", ["netns", "del", ns]);
        _namespaces.Clear();
        try { Directory.Delete(Work, true); } catch (IOException) { }
    }

    /// <summary>vsss-PID-N namespaces whose PID is gone: a killed run's leftovers.</summary>
    private static void Sweep()
    {
        foreach (var line in SystemCommand.Run("ip", ["netns", "list"]).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(' ')[0];
            if (!name.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            if (int.TryParse(name[Prefix.Length..].Split('-')[0], out var pid) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
                SystemCommand.Run("ip", ["netns", "del", name]);
        }
    }

    /// <summary>
    /// strongSwan's charon with its own strongswan.conf and vici socket in <paramref name="dir"/>; loads
    /// <paramref name="swanctl"/> once vici is up. Logging at level 0 (SA up/down), the last lines kept for a failure.
    /// </summary>
    public async Task<Charon> StartCharon(string name, string ns, string swanctl, bool installRoutes)
    {
        var dir = Path.Combine(Work, name);
        Directory.CreateDirectory(dir);
        var vici = Path.Combine(dir, "charon.vici");
        File.WriteAllText(Path.Combine(dir, "strongswan.conf"), $$"""
            # The lab client's plugins (src/Node/lab/strongswan/strongswan.conf); this kernel has no ESP in xfrm, so
            # kernel-libipsec (userspace ESP on a TUN device) is the IPsec backend, ESP always in UDP 4500.
            charon {
              load = random nonce openssl aes sha1 sha2 hmac gmp kdf pem pkcs1 x509 pubkey kernel-libipsec kernel-netlink socket-default vici
              install_routes = {{(installRoutes ? "yes" : "no")}}
              retransmit_tries = 2
              retransmit_timeout = 2.0
              plugins {
                vici {
                  socket = unix://{{vici}}
                }
              }
              filelog {
                stderr {
                  path = stderr
                  default = 0
                  cfg = {{(Environment.GetEnvironmentVariable("VSSS_DEBUG") is null ? 0 : 2)}}
                  knl = {{(Environment.GetEnvironmentVariable("VSSS_DEBUG") is null ? 0 : 2)}}
                  chd = {{(Environment.GetEnvironmentVariable("VSSS_DEBUG") is null ? 0 : 2)}}
                  time_format = %H:%M:%S
                }
              }
            }
            charon-systemd {
              journal {
                default = -1
              }
            }
            """);
        File.WriteAllText(Path.Combine(dir, "swanctl.conf"), swanctl);
        var daemon = Start(name, ns, Charon, [], new Dictionary<string, string> { ["STRONGSWAN_CONF"] = Path.Combine(dir, "strongswan.conf") });
        var sw = Stopwatch.StartNew();
        while (!File.Exists(vici))
        {
            if (daemon.Exited || sw.Elapsed > TimeSpan.FromSeconds(20))
                throw new InvalidOperationException($"{name}: charon did not open its vici socket:\n{daemon.Tail()}");
            await Task.Delay(50);
        }
        var charon = new Charon(daemon, ns, vici);
        charon.Swanctl("--load-all", "--file", Path.Combine(dir, "swanctl.conf"));
        return charon;
    }
}

internal sealed record Chain(string Pc1, string Client, string Router, string Responder, string Server);

/// <summary>A process this benchmark started: its output kept (last lines), killed by its own pid only.</summary>
internal sealed class Daemon
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    public Daemon(string name, Process process)
    {
        Name = name;
        _process = process;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }
    public int Pid => _process.Id;
    public bool Exited => _process.HasExited;

    private void Keep(string? line)
    {
        if (line is null) return;
        _lines.Enqueue(line);
        while (_lines.Count > 400) _lines.TryDequeue(out _);
    }

    public string Tail() => $"---- {Name} (pid {Pid}{(Exited ? $", exited {_process.ExitCode}" : "")}) ----\n" + string.Join('\n', _lines);

    /// <summary>User + system CPU of the process (all its threads) so far, from /proc.</summary>
    public TimeSpan Cpu()
    {
        _process.Refresh();
        return _process.TotalProcessorTime;
    }

    /// <summary>Resident set size, from /proc.</summary>
    public long Rss()
    {
        _process.Refresh();
        return _process.WorkingSet64;
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: false);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException) { /* gone */ }
    }
}

internal sealed class Charon(Daemon daemon, string ns, string vici)
{
    public Daemon Daemon => daemon;

    public string Swanctl(params string[] args)
    {
        var r = SystemCommand.Run("ip", ["netns", "exec", ns, SystemCommand.Find("swanctl")!, .. args, "--uri", "unix://" + vici]);
        if (!r.Ok) throw new InvalidOperationException($"swanctl {string.Join(' ', args)}: {r}\n{r.Output}\n{daemon.Tail()}");
        return r.Output;
    }
}

/// <summary>DC2_VM1 as a `clusteractors node` process in a chain's responder namespace, its ports the namespace's interfaces.</summary>
internal static class OurResponder
{
    /// <summary>Starts the unit and waits until it is primary (192.168.129.254 on port2, as the docker lab's units show it).</summary>
    public static async Task<Daemon> Start(VsssLab lab, string ns, string change, TimeSpan within)
    {
        var dir = Path.Combine(lab.Work, "DC2_VM1");
        Directory.CreateDirectory(dir);
        var config = LoopbackLab.ScenarioConfig("DC2_VM1", change);
        var certs = Path.Combine(dir, "certs");
        LabCertificateAuthority.Create().WriteTo(certs, [("DC2_VM1", config.SerialNumber!)]);
        File.WriteAllText(Path.Combine(dir, "DC2_VM1.conf"), config.ToText());
        // In its own namespace: fixed loopback ports are free. No peers: primary alone after hello-holddown.
        File.WriteAllText(Path.Combine(dir, "wiring.hocon"), $$"""
            clusteractors.unit {
              akka = "127.0.0.1:2552"
              admin = "127.0.0.1:8443"
              contacts = ["{{UnitHost.AkkaAddress(new IPEndPoint(IPAddress.Loopback, 2552))}}"]
              hbdev.port4 { bind = "127.0.0.1:7030", peers = [] }
              packets = "kernel"
              certs = "{{certs}}"
            }
            akka.loglevel = ERROR
            akka.stdout-loglevel = OFF
            """);
        var dll = Path.Combine(AppContext.BaseDirectory, "clusteractors.dll");
        var unit = lab.Start("DC2_VM1", ns, SystemCommand.Find("dotnet") ?? "dotnet",
            [dll, "node", "--config", Path.Combine(dir, "DC2_VM1.conf"), "--hocon", Path.Combine(dir, "wiring.hocon"), "--data", Path.Combine(dir, "data")]);
        var sw = Stopwatch.StartNew();
        while (!SystemCommand.Ip(ns, "-o", "-4", "addr", "show", "dev", "port2").Output.Contains("192.168.129.254/24"))
        {
            if (unit.Exited || sw.Elapsed > within)
                throw new InvalidOperationException($"DC2_VM1 did not become primary within {within.TotalSeconds:0} s:\n{unit.Tail()}");
            await Task.Delay(200);
        }
        return unit;
    }
}
