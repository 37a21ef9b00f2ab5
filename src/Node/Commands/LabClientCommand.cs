using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Hosting.Kernel;
using ClusterActors.Protocol.Config;

namespace ClusterActors.Node.Commands;

/// <summary>
/// `clusteractors client --kernel --serve HOST:PORT --config CLIENT1.conf`: the container lab's CLIENT1 and PC1 in
/// one process. CLIENT1 is a <see cref="DialupClientGateway"/> on the container's own interfaces (port1 on the WAN,
/// port2 towards PC1), PC1 a <see cref="Pc1TrafficGenerator"/> on the interface <c>--pc1-interface</c> (default pc1), the
/// other end of a veth pair with port2 in the same network namespace: no namespace is made or entered, so the container
/// needs no CAP_SYS_ADMIN (src/Node/lab/README.md, "Least privilege"). Both are driven over TCP with the admin endpoint's framing (<see cref="AdminServer"/>:
/// one command per connection, answer "exit N" then the output), so `clusteractors cli --node` talks to it too:
///   dial                 dials (again) and prints "in SPI out SPI"
///   traffic start PPS    PC1 starts echo requests to the Server
///   traffic progress     "sent N answered M"
///   traffic stop         stops the run and prints its report as JSON (EchoReport)
///   counters             "antireplay N icv N in SPI out SPI up true|false"
///   show                 the client's state and the kernel packet I/O of both
/// </summary>
public static class LabClientCommand
{
    /// <param name="Pc1Address">PC1's address (`--pc1-address`, the topology's LAB_PC1); null: the seed's 10.10.1.2/24.</param>
    public sealed record Request(string ConfigFile, IPEndPoint Serve, string Pc1Interface, string? Pc1Address = null);

    /// <summary>
    /// PC1 as the lab gives it: its address from <see cref="Request.Pc1Address"/> (the generated compose passes the
    /// topology's, LAB_PC1; before, the container's PC1 kept the seed's 10.10.1.2 whatever the topology said) and the
    /// client's LAN address as its gateway. A PC1 outside port2's subnet could never reach its gateway: refused.
    /// </summary>
    public static Pc1Settings Pc1From(Request r, DialupClientSettings client)
    {
        var pc1 = new Pc1Settings { Interface = r.Pc1Interface, Gateway = client.LanAddress.Address };
        if (r.Pc1Address is null) return pc1;
        InterfaceAddress address;
        try
        {
            address = InterfaceAddress.Parse(r.Pc1Address);
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new UsageException($"--pc1-address '{r.Pc1Address}' is not an address/prefix (e.g. 10.10.1.2/24)");
        }
        if (address.Address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || address.PrefixLength is < 1 or > 32)
            throw new UsageException($"--pc1-address '{r.Pc1Address}' is not an IPv4 address/prefix (e.g. 10.10.1.2/24)");
        if (!client.LanAddress.Subnet.Contains(address.Address) || address.Address.Equals(client.LanAddress.Address))
            throw new UsageException($"--pc1-address {address} is not a host of port2's subnet {client.LanAddress.Subnet} beside port2's {client.LanAddress.Address}");
        return pc1 with { Address = address };
    }

    /// <summary>
    /// What the namespace's kernel needs when PC1's interface and port2 are the two ends of one veth pair in it: both ends
    /// hold local addresses (10.10.1.1, 10.10.1.2), the ports resolve each other with ARP, and Linux answers an ARP
    /// request whose sender is one of its own addresses only with accept_local (else a martian source) and no strict
    /// reverse-path filter (the sender's route is the other interface). In Docker /proc/sys is read-only: compose sets
    /// them (`sysctls:`, ComposeFile). Pc1BesideClientSpec shows the ARP failing without them.
    /// </summary>
    public static readonly IReadOnlyList<(string Key, string Value)> Pc1LinkSysctls =
    [
        ("net/ipv4/conf/all/accept_local", "1"),
        ("net/ipv4/conf/all/rp_filter", "0"),
        ("net/ipv4/conf/default/rp_filter", "0"),
    ];

    /// <summary>
    /// The <see cref="Pc1LinkSysctls"/> that <paramref name="read"/> (a key under /proc/sys → its value, null when
    /// missing) shows otherwise, one line each naming the compose setting; empty when all are right.
    /// </summary>
    public static IReadOnlyList<string> Pc1LinkProblems(Func<string, string?> read) =>
        Pc1LinkSysctls
            .Select(s => (s.Key, s.Value, Now: read(s.Key)?.Trim()))
            .Where(s => s.Now != s.Value)
            .Select(s => $"{s.Key.Replace('/', '.')} is {s.Now ?? "missing"}, PC1 beside port2 needs {s.Value} (compose sysctls: {s.Key.Replace('/', '.')}: \"{s.Value}\")")
            .ToList();

    private sealed class State(DialupClientGateway client, Pc1TrafficGenerator pc1, KernelPacketIo clientIo, KernelPacketIo pc1Io)
    {
        public DialupClientGateway Client { get; } = client;
        public Pc1TrafficGenerator Pc1 { get; } = pc1;
        public KernelPacketIo ClientIo { get; } = clientIo;
        public KernelPacketIo Pc1Io { get; } = pc1Io;
        public EchoRun? Run;
        public readonly SemaphoreSlim Gate = new(1, 1);
    }

    /// <summary>
    /// The container client as its FortiOS config states it: the static phase1's remote-gw (the lab's lb1: the seed's
    /// 192.168.202.35, fgsp-standalone's 192.168.202.31), its interface's address as the WAN, port2's as the LAN, and the
    /// default route's gateway as the WAN next hop. What the config leaves out keeps the seed's CLIENT1 default
    /// (<see cref="DialupClientSettings"/>); for the seed's CLIENT1.conf every value is that default (LabClientSettingsSpec).
    /// </summary>
    public static DialupClientSettings SettingsFrom(ConfigDocument config)
    {
        var settings = new DialupClientSettings(ClientCommand.SettingsFrom(config));
        var p1 = config.Phase1.First(p => p.Type == Phase1Type.Static);
        if (IPAddress.TryParse(p1.RemoteGw, out var gw) && !gw.Equals(IPAddress.Any)) settings = settings with { RemoteGateway = gw };
        InterfaceAddress? AddressOf(string port) =>
            config.Interfaces.FirstOrDefault(i => i.Name == port) is { } i && IPAddress.TryParse(i.Ip, out var ip) && !ip.Equals(IPAddress.Any)
                ? new InterfaceAddress(ip, i.PrefixLength) : null;
        if (p1.Interface.Length > 0) settings = settings with { WanInterface = p1.Interface };
        if (AddressOf(settings.WanInterface) is { } wan) settings = settings with { WanAddress = wan };
        if (AddressOf(settings.LanInterface) is { } lan) settings = settings with { LanAddress = lan };
        if (config.StaticRoutes.FirstOrDefault(r => r.Enabled && r.IsDefault && r.Device == settings.WanInterface) is { } route
            && IPAddress.TryParse(route.Gateway, out var next) && !next.Equals(IPAddress.Any))
            settings = settings with { WanNextHop = next };
        return settings;
    }

    public static async Task<int> RunAsync(Request r, TextWriter output, CancellationToken cancel)
    {
        var parsed = FortiConfig.ParseFile(r.ConfigFile);
        if (!parsed.Ok) throw new ConfigInvalidException(parsed.Errors);
        var settings = SettingsFrom(parsed.Value!);
        var pc1Settings = Pc1From(r, settings);
        void Log(string line)
        {
            lock (output)
            {
                output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} client: {line}");
                output.Flush();
            }
        }
        // PC1's link is inside this namespace: without these its ARP is never answered (a clear refusal instead of a lab
        // where PC1's traffic never flows). /proc/sys/net follows the process's namespace.
        var problems = Pc1LinkProblems(key => File.Exists("/proc/sys/" + key) ? File.ReadAllText("/proc/sys/" + key) : null);
        if (problems.Count > 0) throw new UsageException("PC1 on " + r.Pc1Interface + " beside port2: " + string.Join("; ", problems));
        using var clientIo = new KernelPacketIo(new KernelPacketIoOptions { AnsweringOnOpen = true, Log = Log });
        // The client's kernel must leave ESP, IKE and ping on its addresses to CLIENT1 (no ICMP unreachable for ESP), and
        // PC1's pings to PC1 (the process answers them).
        Log(clientIo.PrepareNamespace(["port1", "port2", r.Pc1Interface]).ToString());
        using var pc1Io = new KernelPacketIo(new KernelPacketIoOptions { AnsweringOnOpen = true, Log = Log });
        using var client = new DialupClientGateway(clientIo, settings);
        using var pc1 = new Pc1TrafficGenerator(pc1Io, pc1Settings);
        var state = new State(client, pc1, clientIo, pc1Io);

        var listener = new TcpListener(r.Serve);
        try { listener.Start(); }
        catch (SocketException e) { throw new UsageException($"--serve {r.Serve}: {e.Message}"); }
        Log($"CLIENT1 {client.Settings.WanAddress} (lan {client.Settings.LanAddress}), PC1 {pc1Settings.Address} on {r.Pc1Interface}; control on {r.Serve}");

        var stopped = new TaskCompletionSource();
        using var reg = cancel.Register(() => stopped.TrySetResult());
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            stopped.TrySetResult();
        });
        using var stop = new CancellationTokenSource();
        var accept = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                TcpClient tcp;
                try { tcp = await listener.AcceptTcpClientAsync(stop.Token); }
                catch (Exception) when (stop.IsCancellationRequested) { return; }
                catch (SocketException) { continue; }
                _ = Serve(tcp, state, Log, stop.Token);
            }
        });
        await stopped.Task;
        stop.Cancel();
        listener.Stop();
        state.Run?.Stop();
        Log("stopping");
        return 0;
    }

    private static async Task Serve(TcpClient tcp, State state, Action<string> log, CancellationToken stop)
    {
        using (tcp)
        {
            try
            {
                var stream = tcp.GetStream();
                using var reader = new StreamReader(stream, Encoding.UTF8, leaveOpen: true);
                var received = await reader.ReadToEndAsync(stop).WaitAsync(TimeSpan.FromSeconds(30), stop);
                // `clusteractors cli` with a password set sends a login line first (AdminProtocol): not used here.
                var command = (AdminProtocol.TryDecode(Encoding.UTF8.GetBytes(received), out _)?.Command ?? received).Trim();
                string text;
                int code;
                try
                {
                    text = await Execute(command, state, log);
                    code = 0;
                }
                catch (Exception e)
                {
                    text = e.Message + "\n";
                    code = 1;
                }
                await stream.WriteAsync(Encoding.UTF8.GetBytes($"exit {code}\n{text}"), stop);
            }
            catch (Exception) { /* the caller went away */ }
        }
    }

    /// <summary>One control command (see the class summary); throws with a message the caller prints.</summary>
    private static async Task<string> Execute(string command, State s, Action<string> log)
    {
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var c = CultureInfo.InvariantCulture;
        switch (words)
        {
            case ["dial"]:
            {
                await s.Gate.WaitAsync();
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                    var est = await s.Client.DialAsync(timeout.Token);
                    log($"dialed: in spi {est.Child.InboundSpi:x8}, out spi {est.Child.OutboundSpi:x8}");
                    return string.Create(c, $"in {est.Child.InboundSpi} out {est.Child.OutboundSpi}\n");
                }
                finally { s.Gate.Release(); }
            }
            case ["traffic", "start", var pps]:
            {
                if (!double.TryParse(pps, NumberStyles.Float, c, out var rate) || rate <= 0) throw new ArgumentException($"traffic start PPS, not '{pps}'");
                if (s.Run is { IsSending: true }) throw new InvalidOperationException("a run is going on: traffic stop first");
                s.Run = s.Pc1.Start(new EchoRunOptions { RatePps = rate, Duration = TimeSpan.FromMinutes(10), Grace = TimeSpan.FromMilliseconds(500) });
                log(string.Create(c, $"traffic started at {rate} pps"));
                return "started\n";
            }
            case ["traffic", "progress"]:
                return s.Run is { } current ? string.Create(c, $"sent {current.Sent} answered {current.Answered}\n") : "sent 0 answered 0\n";
            case ["traffic", "stop"]:
            {
                var run = s.Run ?? throw new InvalidOperationException("no traffic was started");
                run.Stop();
                var report = await run.Completion.WaitAsync(TimeSpan.FromSeconds(30));
                log($"traffic stopped: {report}");
                return JsonSerializer.Serialize(report) + "\n";
            }
            case ["counters"]:
            {
                var k = s.Client.Counters;
                var est = s.Client.Established;
                return string.Create(c, $"antireplay {k.AntiReplayDrops} icv {k.IcvFailures} in {est?.Child.InboundSpi ?? 0} out {est?.Child.OutboundSpi ?? 0} up {(est is not null).ToString().ToLowerInvariant()}"
                                        + $" ike {est?.Sa.SpiI ?? 0} {est?.Sa.SpiR ?? 0} rekeys {k.ChildSaRekeys}\n");
            }
            case ["drops"]:
                // CLIENT1's last anti-replay drops, one per line, oldest first (the drills print them for a violation;
                // in the container lab the run's pcaps then name the unit that sent each one).
                return string.Concat(s.Client.RecentAntiReplayDrops.Select(d => string.Create(c, $"{d.At:HH:mm:ss.fff} {d}\n")));
            case ["show"]:
                return $"state {s.Client.State}, last error {s.Client.LastError ?? "none"}\n{s.Client.Counters}\n{s.ClientIo.Describe()}{s.Pc1Io.Describe()}";
            default:
                throw new ArgumentException($"unknown command '{command}' (dial, traffic start PPS, traffic progress, traffic stop, counters, drops, show)");
        }
    }

    /// <summary>
    /// A "counters" answer as the drills' client view; the IKE SA (`ike SPII SPIR`, 0 0 while down) and the CHILD SA rekeys
    /// (`rekeys N`) are optional, so an older client in a running lab still parses (they read as unknown).
    /// </summary>
    public static Drills.ClientView ClientViewOf(string text)
    {
        var (antiReplay, icv, inSpi, outSpi, up) = ParseCounters(text);
        var w = text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var c = CultureInfo.InvariantCulture;
        var ike = Array.IndexOf(w, "ike");
        (ulong, ulong)? spis = ike >= 0 && ike + 2 < w.Length && ulong.TryParse(w[ike + 1], NumberStyles.None, c, out var i)
                                                        && ulong.TryParse(w[ike + 2], NumberStyles.None, c, out var r) && (i, r) != (0, 0)
            ? (i, r) : null;
        var rk = Array.IndexOf(w, "rekeys");
        long? rekeys = rk >= 0 && rk + 1 < w.Length && long.TryParse(w[rk + 1], NumberStyles.None, c, out var n) ? n : null;
        return new Drills.ClientView(antiReplay, icv, inSpi, outSpi, up, spis, rekeys);
    }

    /// <summary>Parses a "counters" answer: (antireplay, icv, in, out, up).</summary>
    public static (long AntiReplay, long Icv, uint In, uint Out, bool Up) ParseCounters(string text)
    {
        var w = text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string Get(string key)
        {
            var i = Array.IndexOf(w, key);
            return i >= 0 && i + 1 < w.Length ? w[i + 1] : throw new FormatException($"no '{key}' in '{text.Trim()}'");
        }
        return (long.Parse(Get("antireplay"), CultureInfo.InvariantCulture), long.Parse(Get("icv"), CultureInfo.InvariantCulture),
            uint.Parse(Get("in"), CultureInfo.InvariantCulture), uint.Parse(Get("out"), CultureInfo.InvariantCulture), Get("up") == "true");
    }
}
