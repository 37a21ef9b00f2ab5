using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Akka.Actor;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Packets;
using IkeSelector = ClusterActors.Protocol.Ike.TrafficSelector;

/// <summary>
/// ESP encrypt+decrypt throughput of one unit (issue 4, point 8), for inner packets of 100 and 1,400 bytes (IPv4 +
/// ICMP echo of that total length), AES-128-CBC / HMAC-SHA1-96 as the scenario's `proposal aes128-sha1`.
/// (a) The codec alone: <see cref="EspOutboundSa.Seal"/> then <see cref="EspInboundSa.TryOpen"/> on one thread.
/// (b) One dialup instance as a unit runs it: a <see cref="DialupTunnelActor"/> owning a synthetic tunnel, fed the
/// client's ESP (<see cref="EspArrived"/> → <see cref="TunnelDecrypted"/>) and traffic routed into the tunnel
/// (<see cref="EncryptForTunnel"/> → <see cref="TunnelEncrypted"/>) by a driver actor that keeps a bounded number of
/// each in flight, so the figure is the tunnel's rate and not a growing mailbox's.
/// </summary>
internal static class EspThroughput
{
    private static readonly int[] Sizes = [100, 1400];
    private const int InFlight = 256;
    private const string Owner = "FGVM02TM22000001";
    private static readonly IPAddress Pc1 = IPAddress.Parse("10.10.1.2");
    private static readonly IPAddress Server = IPAddress.Parse("10.10.101.2");

    public static async Task<int> Run(double seconds)
    {
        var warmUp = TimeSpan.FromSeconds(Math.Min(2, Math.Max(0.5, seconds / 2)));
        var measure = TimeSpan.FromSeconds(seconds);
        Console.WriteLine($"ESP throughput of one unit, aes128-sha1, {measure.TotalSeconds:0.#} s per measurement after {warmUp.TotalSeconds:0.#} s warm-up");
        Console.WriteLine($"machine: {Machine.Line()}, {Environment.OSVersion}, .NET {Environment.Version}, server GC {System.Runtime.GCSettings.IsServerGC}");
        Console.WriteLine("(a) codec alone, one thread: EspOutboundSa.Seal + EspInboundSa.TryOpen per packet");
        foreach (var size in Sizes) Codec(size, warmUp, measure);
        Console.WriteLine($"(b) one DialupTunnelActor owning the tunnel, {InFlight} decrypts + {InFlight} encrypts in flight " +
                          "(the driver actor seals the client's ESP on its own thread; routing and the fabric are not in this figure)");
        foreach (var size in Sizes)
            if (!await ThroughTunnel(size, warmUp, measure)) return 1;
        return 0;
    }

    /// <summary>An IPv4 + ICMP echo of exactly <paramref name="totalLength"/> bytes.</summary>
    internal static byte[] Echo(IPAddress from, IPAddress to, int totalLength, bool reply = false)
    {
        var data = new byte[totalLength - Ipv4Packet.MinHeaderLength - IcmpEcho.HeaderLength];
        Random.Shared.NextBytes(data);
        var echo = IcmpEcho.Request(7, 1, data);
        var bytes = (reply ? echo.ToReply() : echo).InIpv4(from, to).ToBytes();
        if (bytes.Length != totalLength) throw new InvalidOperationException($"built {bytes.Length} bytes, wanted {totalLength}");
        return bytes;
    }

    internal static EspSaKeys RandomKeys() =>
        new((uint)Random.Shared.Next(0x100, int.MaxValue), RandomNumberGenerator.GetBytes(EspSaKeys.EncKeyLength), RandomNumberGenerator.GetBytes(EspSaKeys.AuthKeyLength));

    private static string Figure(double pps, int size) => $"{pps,9:#,0} pps, {pps * size * 8 / 1e6,7:0.0} Mbit/s of inner packets";

    private static void Codec(int size, TimeSpan warmUp, TimeSpan measure)
    {
        var keys = RandomKeys();
        var sender = new EspOutboundSa(keys);
        var receiver = new EspInboundSa(keys);
        var packet = Echo(Pc1, Server, size);
        const int batch = 256;
        var sealedBatch = new byte[batch][];

        // Seal a batch, then open it: the two halves timed apart, at a cost of two timestamps per 256 packets.
        (long Packets, long SealTicks, long OpenTicks) Loop(TimeSpan howLong)
        {
            long packets = 0, sealTicks = 0, openTicks = 0;
            var until = Stopwatch.GetTimestamp() + (long)(howLong.TotalSeconds * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < until)
            {
                var t0 = Stopwatch.GetTimestamp();
                for (var i = 0; i < batch; i++) sealedBatch[i] = sender.Seal(packet).Bytes;
                var t1 = Stopwatch.GetTimestamp();
                for (var i = 0; i < batch; i++)
                    if (!receiver.TryOpen(sealedBatch[i], out var opened, out var why) || opened.Payload.Length != size)
                        throw new InvalidOperationException($"codec round trip failed: {why}");
                var t2 = Stopwatch.GetTimestamp();
                packets += batch;
                sealTicks += t1 - t0;
                openTicks += t2 - t1;
            }
            return (packets, sealTicks, openTicks);
        }

        Loop(warmUp);
        var load = Machine.Line();
        var (n, seal, open) = Loop(measure);
        double Rate(long ticks) => n / ((double)ticks / Stopwatch.Frequency);
        Console.WriteLine($"  {size,5} B: encrypt+decrypt {Figure(Rate(seal + open), size)} " +
                          $"(encrypt alone {Rate(seal):#,0} pps, decrypt alone {Rate(open):#,0} pps; {n:#,0} packets) [{load}]");
    }

    private static TunnelRecord Record(ChildSaKeys child)
    {
        var ikeKeys = new IkeSaKeys(new byte[20], new byte[20], new byte[20], new byte[16], new byte[16], new byte[20], new byte[20]);
        var ike = new IkeSaState(1, 2, false, "aes128-sha1", 2, new byte[32], new byte[32], ikeKeys, 0, 2, 1, null,
            IPAddress.Parse("192.168.7.2"), "Nokia_Peer", "aes128-sha1", [child], null, 90000, 10800);
        return new TunnelRecord("vpn1/1/2", "vpn1", "vpn1_1", 1, Owner, 1, 1, 1, ike, child, 1, 1, 0,
            DateTimeOffset.UtcNow, 10800, IPAddress.Parse("192.168.202.35"), IPAddress.Parse("192.168.7.2"), 0,
            [IkeSelector.FromCidr("10.10.1.0/24")], [IkeSelector.Any], false);
    }

    private static async Task<bool> ThroughTunnel(int size, TimeSpan warmUp, TimeSpan measure)
    {
        var inbound = RandomKeys();
        var outbound = RandomKeys();
        var child = new ChildSaKeys(inbound.Spi, outbound.Spi, inbound.EncKey, inbound.AuthKey, outbound.EncKey, outbound.AuthKey);
        var counts = new Counts();
        var system = ActorSystem.Create("esp-throughput", "akka.loglevel = OFF\nakka.stdout-loglevel = OFF");
        try
        {
            var driver = system.ActorOf(Props.Create(() => new Driver(Record(child), counts,
                Echo(Pc1, Server, size), Echo(Server, Pc1, size, reply: true))), "driver");
            driver.Tell(Driver.Go.Instance);
            await Task.Delay(warmUp);
            if (counts.Error is { } early)
            {
                Console.WriteLine($"  {size,5} B: FAILED: {early}");
                return false;
            }

            var load = Machine.Line();
            var (dec0, enc0) = counts.Read();
            var cpu0 = Machine.CpuTime();
            var sw = Stopwatch.StartNew();
            await Task.Delay(measure);
            var (dec1, enc1) = counts.Read();
            var elapsed = sw.Elapsed.TotalSeconds;
            var cpu = (Machine.CpuTime() - cpu0).TotalSeconds / elapsed;
            driver.Tell(Driver.Halt.Instance);

            if (counts.Error is { } error)
            {
                Console.WriteLine($"  {size,5} B: FAILED: {error}");
                return false;
            }
            var decPps = (dec1 - dec0) / elapsed;
            var encPps = (enc1 - enc0) / elapsed;
            Console.WriteLine($"  {size,5} B: decrypt+encrypt pairs {Figure(Math.Min(decPps, encPps), size)} each way " +
                              $"(decrypts {decPps:#,0}/s, encrypts {encPps:#,0}/s, process CPU {cpu:0.00} cores) [{load}]");
            return true;
        }
        finally
        {
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
        }
    }

    /// <summary>Written by the driver only, read by the measuring thread.</summary>
    private sealed class Counts
    {
        private long _decrypted, _encrypted;
        public volatile string? Error;

        public void Decrypted() => Volatile.Write(ref _decrypted, _decrypted + 1);
        public void Encrypted() => Volatile.Write(ref _encrypted, _encrypted + 1);
        public (long Decrypted, long Encrypted) Read() => (Volatile.Read(ref _decrypted), Volatile.Read(ref _encrypted));
    }

    /// <summary>
    /// The tunnel's phase1 (its parent, which absorbs the sequence syncs) and its forwarding plane (the sender it
    /// replies to). It plays the client: seals a fresh request per decrypt, so the tunnel's replay window accepts every
    /// one; and checks the first replies of each kind against what was sent.
    /// </summary>
    private sealed class Driver : ReceiveActor
    {
        public sealed record Go
        {
            public static readonly Go Instance = new();
        }

        public sealed record Halt
        {
            public static readonly Halt Instance = new();
        }

        private const int Checked = 16;
        private readonly IActorRef _tunnel;
        private readonly EspOutboundSa _toGateway;
        private readonly EspInboundSa _fromGateway;
        private readonly byte[] _request, _reply;
        private readonly EncryptForTunnel _encrypt;
        private long _decrypted, _encrypted;
        private bool _halted;

        public Driver(TunnelRecord record, Counts counts, byte[] request, byte[] reply)
        {
            _request = request;
            _reply = reply;
            _encrypt = new EncryptForTunnel(reply);
            _toGateway = new EspOutboundSa(new EspSaKeys(record.Child.InboundSpi, record.Child.InboundEncKey, record.Child.InboundAuthKey));
            _fromGateway = new EspInboundSa(new EspSaKeys(record.Child.OutboundSpi, record.Child.OutboundEncKey, record.Child.OutboundAuthKey));
            _tunnel = Context.ActorOf(DialupTunnelActor.Props(Owner, record, 6), "vpn1_1");

            Receive<Go>(_ =>
            {
                for (var i = 0; i < InFlight; i++)
                {
                    SendEsp();
                    _tunnel.Tell(_encrypt);
                }
            });
            Receive<Halt>(_ => _halted = true);
            Receive<TunnelDecrypted>(d =>
            {
                if (_decrypted++ < Checked && !d.InnerPacket.AsSpan().SequenceEqual(_request))
                    counts.Error ??= "the tunnel decrypted something other than the request sealed";
                counts.Decrypted();
                if (!_halted) SendEsp();
            });
            Receive<TunnelEncrypted>(e =>
            {
                if (_encrypted++ < Checked)
                {
                    if (!Ipv4Packet.TryParse(e.OuterPacket, out var outer, out var parseError) || outer.Protocol != Ipv4Packet.ProtocolEsp)
                        counts.Error ??= $"the tunnel's output is not ESP in IPv4 ({parseError})";
                    else if (!_fromGateway.TryOpen(outer.Payload, out var opened, out var why) || !opened.Payload.AsSpan().SequenceEqual(_reply))
                        counts.Error ??= $"the client cannot open the tunnel's ESP ({why})";
                }
                counts.Encrypted();
                if (!_halted) _tunnel.Tell(_encrypt);
            });
            Receive<SyncTunnelSequence>(_ => { });
            Receive<ClaimTunnelByTraffic>(_ => counts.Error ??= "the tunnel claimed itself: it did not see itself as owner");
        }

        private void SendEsp() => _tunnel.Tell(new EspArrived(_toGateway.Seal(_request).Bytes, LoopbackLabClient, 0, false));

        private static readonly IPAddress LoopbackLabClient = IPAddress.Parse("192.168.7.2");
    }
}
