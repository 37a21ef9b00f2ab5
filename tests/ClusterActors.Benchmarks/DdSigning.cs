using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Serialization;
using IkeSelector = ClusterActors.Protocol.Ike.TrafficSelector;

/// <summary>
/// What signing Distributed Data entries costs per tunnel record (src/Actors/Ipsec/README.md, "Signed Distributed Data
/// entries"), on one thread: the writer's wrap (encode + ECDSA P-256 sign), a reader's open of a new entry (ECDSA verify
/// + decode; the certificate's chain already judged), the first entry of a writer not yet seen (chain build too), an
/// unchanged entry at the next gossip round (the cache's byte compare), and the entry's size against an unsigned one.
/// </summary>
internal static class DdSigning
{
    public static int Run(double seconds)
    {
        var budget = TimeSpan.FromSeconds(seconds);
        Console.WriteLine($"Signed Distributed Data entries, one thread, {budget.TotalSeconds:0.#} s per figure after a warm-up");
        Console.WriteLine($"machine: {Machine.Line()}, {Environment.OSVersion}, .NET {Environment.Version}");
        var ca = LabCertificateAuthority.Create("bench CA");
        var tls = ca.For("DC2_VM1", "FGVM02TM22000001");
        var signer = new TunnelRecordSigner(tls.Certificate);
        var trust = new LabCertificateTrust(tls.Ca);
        var replicas = new SignedReplicas(true, trust, signer);
        var record = Record();
        var entry = replicas.Wrap(record);

        var wrap = PerOp(budget, i => replicas.Wrap(record with { SyncSeq = i }));
        var entries = Enumerable.Range(0, 256).Select(i => replicas.Wrap(record with { SyncSeq = i })).ToArray();
        var open = PerOp(budget, i => SignedReplicas.Open(record.Key, entries[i % entries.Length], SignedReplicas.ClearManifest, true, trust));
        var firstSeen = PerOp(TimeSpan.FromSeconds(Math.Min(seconds, 2)), _ =>
            SignedReplicas.Open(record.Key, entry, SignedReplicas.ClearManifest, true, new LabCertificateTrust(tls.Ca)));
        var copy = (SignedTunnelRecord)WireCodecs.Decode("ipsec.signed-tunnel.v1", WireCodecs.Encode(entry));
        replicas.Open(record.Key, entry, SignedReplicas.ClearManifest, out _);
        var unchanged = PerOp(budget, x => replicas.Open(record.Key, copy, SignedReplicas.ClearManifest, out _));
        var decodeOnly = PerOp(budget, _ => WireCodecs.Decode(SignedReplicas.ClearManifest, entry.Payload));

        var signedBytes = WireCodecs.Encode(entry).Length;
        var unsignedBytes = WireCodecs.Encode(TunnelRecordSignature.Wrap(record, null, record.OwnerSerial)).Length;
        Console.WriteLine($"  wrap (encode + sign), by the writer:                 {wrap,8:0.0} µs per record");
        Console.WriteLine($"  open a new entry (verify + decode), by each reader:  {open,8:0.0} µs per record  (decode alone {decodeOnly:0.0} µs)");
        Console.WriteLine($"  first entry of an unseen writer (+ chain build):     {firstSeen,8:0.0} µs");
        Console.WriteLine($"  unchanged entry at a later gossip round (cached):    {unchanged,8:0.0} µs");
        Console.WriteLine($"  entry size: {signedBytes} bytes signed, {unsignedBytes} unsigned (+{signedBytes - unsignedBytes}: certificate {entry.SignerCertificate.Length}, signature {entry.Signature.Length})");
        Console.WriteLine($"  → 1,000 tunnels each synced once a second: writer ~{wrap * 1000 / 1e6:0.00} s CPU/s spread over the owners; each reader ~{open * 1000 / 1e6:0.00} s CPU/s");
        return 0;
    }

    /// <summary>Microseconds per call: a warm-up of a tenth of the budget, then as many calls as fit the budget.</summary>
    private static double PerOp(TimeSpan budget, Func<long, object?> op)
    {
        var warm = Stopwatch.StartNew();
        long i = 0;
        while (warm.Elapsed < budget / 10) op(i++);
        var sw = Stopwatch.StartNew();
        long n = 0;
        while (sw.Elapsed < budget)
        {
            for (var k = 0; k < 16; k++) op(i + n++);
        }
        return sw.Elapsed.TotalMicroseconds / n;
    }

    private static TunnelRecord Record()
    {
        var child = new ChildSaKeys(0x37f426a1, 0x10aa4d3a, RandomNumberGenerator.GetBytes(16), RandomNumberGenerator.GetBytes(20),
            RandomNumberGenerator.GetBytes(16), RandomNumberGenerator.GetBytes(20));
        var ikeKeys = new IkeSaKeys(RandomNumberGenerator.GetBytes(20), RandomNumberGenerator.GetBytes(20), RandomNumberGenerator.GetBytes(20),
            RandomNumberGenerator.GetBytes(16), RandomNumberGenerator.GetBytes(16), RandomNumberGenerator.GetBytes(20), RandomNumberGenerator.GetBytes(20));
        var ike = new IkeSaState(1, 2, false, "aes128-sha1", 2, RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(32), ikeKeys, 0, 2, 1,
            new byte[80], IPAddress.Parse("192.168.7.2"), "Nokia_Peer", "aes128-sha1", [child], null, 90000, 10800);
        return new TunnelRecord(TunnelRecord.KeyOf("vpn1", 1, 2), "vpn1", "vpn1_1", 1, "FGVM02TM22000001", 1, 1, 1, ike, child, 1, 1, 0,
            DateTimeOffset.UtcNow, 10800, IPAddress.Parse("192.168.202.35"), IPAddress.Parse("192.168.7.2"), 0,
            [IkeSelector.FromCidr("10.10.1.0/24")], [IkeSelector.Any], false);
    }
}
