using System.Collections.Immutable;
using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.DistributedData.Internal;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Ipsec;
using Xunit.Abstractions;
using IkeSelector = ClusterActors.Protocol.Ike.TrafficSelector;

namespace ClusterActors.Node.Tests;

/// <summary>
/// What Akka's replicator sends for the tunnel records must fit one remote frame, or remoting drops it and the next
/// round builds it again (src/Actors/Ipsec/README.md, "Distributed Data at scale"). Serialized here with the unit's own
/// configuration (hocon/cluster.conf as shipped, the units' serializers) and signed entries of seed-sized records whose
/// keys and SPIs are random, so that compression does not flatter them.
/// </summary>
public sealed class DistributedDataSizingSpec(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>Goal 4 of issue 13: four units holding this many tunnels.</summary>
    private const int Tunnels = 100_000;

    private ActorSystem _system = null!;
    private SignedReplicas _replicas = null!;

    public Task InitializeAsync()
    {
        var config = FortiConfig.Parse("#serialno=FGVM02TM00000001\nconfig system global\n    set hostname \"SIZING\"\nend\n").Value!;
        var options = new UnitOptions("SIZING", config, "FGVM02TM00000001", Path.GetTempPath(), new IPEndPoint(IPAddress.Loopback, 0),
            new IPEndPoint(IPAddress.Loopback, 0), [], [], []) { InsecureAkka = true };
        _system = ActorSystem.Create("sizing", UnitHost.BuildAkkaConfig(options, ClusterActors.Actors.Persistence.PersistenceHocon.ReadEmbedded("serialization.conf") + "\nakka.loglevel = WARNING"));
        var ca = LabCertificateAuthority.Create("sizing CA");
        var tls = ca.For("DC2_VM1", "FGVM02TM22000001");
        _replicas = new SignedReplicas(true, new LabCertificateTrust(tls.Ca), new TunnelRecordSigner(tls.Certificate));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _system.Terminate();

    private int MaxDeltaElements => _system.Settings.Config.GetInt("akka.cluster.distributed-data.max-delta-elements");

    private long FrameBytes => _system.Settings.Config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size") ?? 128_000;

    private byte[] Serialized(object message) => _system.Serialization.FindSerializerFor(message).ToBinary(message);

    [Fact]
    public void A_full_state_gossip_of_the_largest_shards_at_100_000_tunnels_fits_one_frame()
    {
        // The keys a dialup phase1 gives 100,000 tunnels, as spread over the shards: the fullest shards are the worst case.
        var perShard = Enumerable.Range(1, Tunnels).Select(i => TunnelRecord.KeyOf("vpn1", (ulong)i * 0x9e3779b97f4a7c15UL, (ulong)i))
            .GroupBy(FgspSync.ShardOf).Select(g => g.Count()).OrderDescending().ToList();
        var node = Cluster.Get(_system).SelfUniqueAddress;
        var gossip = GossipOf(perShard.Take(MaxDeltaElements).Select((count, shard) =>
        {
            var d = LWWDictionary<string, SignedTunnelRecord>.Empty;
            foreach (var r in Records(count)) d = d.SetItem(node, r.Key, _replicas.Wrap(r), (_, _) => TunnelOwnership.Clock(r));
            return (Key: FgspSync.ShardKey("ipsec-vpn1", shard), Data: Envelope(d));
        }).ToImmutableDictionary(x => x.Key, x => x.Data));
        var bytes = Serialized(gossip).Length;
        output.WriteLine($"{FgspSync.DataShards} shards, fullest {perShard[0]} of {Tunnels:N0} tunnels (mean {Tunnels / (double)FgspSync.DataShards:0.0}); " +
                         $"a gossip of the {MaxDeltaElements} fullest: {bytes:N0} bytes ({bytes / (double)perShard.Take(MaxDeltaElements).Sum():0} per entry); frame {FrameBytes:N0}");
        Assert.True(bytes < FrameBytes, $"a gossip of {MaxDeltaElements} shards is {bytes:N0} bytes, over the {FrameBytes:N0}-byte frame");
    }

    [Fact]
    public void The_write_budget_s_estimate_of_an_entry_is_never_under_what_a_delta_propagation_carries_nor_far_over()
    {
        // One shard written with 40 new records in one update, as a takeover's claims are: its delta, as the replicator
        // sends it to another member, against the sum of ReplicaWriteBudget.EntryBytes of its entries.
        var node = Cluster.Get(_system).SelfUniqueAddress;
        var records = Records(40).ToList();
        var entries = records.Select(r => (r.Key, Entry: _replicas.Wrap(r), Clock: TunnelOwnership.Clock(r))).ToList();
        var d = LWWDictionary<string, SignedTunnelRecord>.Empty.ResetDelta();
        foreach (var (key, entry, clock) in entries) d = d.SetItem(node, key, entry, (_, _) => clock);
        var delta = ((IDeltaReplicatedData)d).Delta!;
        var propagation = new DeltaPropagation(node, false, ImmutableDictionary<string, Delta>.Empty
            .Add(FgspSync.ShardKey("ipsec-vpn1", 0), new Delta(Envelope(delta), 1, 1)));
        var bytes = Serialized(propagation).Length;
        var estimate = entries.Sum(e => ReplicaWriteBudget.EntryBytes(e.Key, e.Entry));
        output.WriteLine($"entries: payload {entries.Average(e => e.Entry.Payload.Length):0} bytes, certificate {entries[0].Entry.SignerCertificate.Length}, " +
                         $"signature {entries[0].Entry.Signature.Length}; the same entries alone through the units' serializer: " +
                         $"{entries.Sum(e => Serialized(e.Entry).Length) / entries.Count} per entry by {_system.Serialization.FindSerializerFor(entries[0].Entry).GetType().Name}, codec alone {ClusterActors.Protocol.Serialization.WireCodecs.Encode(entries[0].Entry).Length}");
        output.WriteLine($"a delta of {entries.Count} entries: {bytes:N0} bytes ({bytes / entries.Count} per entry); estimate {estimate:N0} " +
                         $"({estimate / entries.Count} per entry, {estimate / (double)bytes:0.00}x)");
        Assert.True(estimate >= bytes, $"the estimate {estimate:N0} is under the {bytes:N0} bytes sent");
        // And not so far over that the budget would pace Distributed Data needlessly slowly.
        Assert.True(estimate <= 1.5 * bytes, $"the estimate {estimate:N0} is over 1.5x the {bytes:N0} bytes sent");
        // A window's budget then fits the frame with the message's envelope.
        Assert.True(ReplicaWriteBudget.WindowBytes + 4_096 < FrameBytes);
    }

    // The replicator's envelope and gossip are built only inside Akka (internal constructors); Akka is pinned, and a
    // changed shape fails here loudly rather than measuring something else.
    private const BindingFlags Ctor = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    private static DataEnvelope Envelope(IReplicatedData data) =>
        (DataEnvelope)Activator.CreateInstance(typeof(DataEnvelope), Ctor, null, [data, null, null], null)!;

    /// <summary>Akka's full-state gossip as a replicator answers a status with it (sendBack: the other side differs too).</summary>
    private static object GossipOf(IImmutableDictionary<string, DataEnvelope> data) =>
        Activator.CreateInstance(typeof(DataEnvelope).Assembly.GetType("Akka.DistributedData.Internal.Gossip", throwOnError: true)!,
            Ctor, null, [data, true, null, null], null)!;

    /// <summary>Seed-sized records (aes128-sha1, one child, a cached IKE_AUTH answer) with random keys, SPIs and key material.</summary>
    private static IEnumerable<TunnelRecord> Records(int count)
    {
        for (var i = 0; i < count; i++)
        {
            byte[] R(int n) => RandomNumberGenerator.GetBytes(n);
            var spiI = BitConverter.ToUInt64(R(8));
            var spiR = BitConverter.ToUInt64(R(8));
            var child = new ChildSaKeys(BitConverter.ToUInt32(R(4)), BitConverter.ToUInt32(R(4)), R(16), R(20), R(16), R(20));
            var ikeKeys = new IkeSaKeys(R(20), R(20), R(20), R(16), R(16), R(20), R(20));
            var ike = new IkeSaState(spiI, spiR, false, "aes128-sha1", 2, R(32), R(32), ikeKeys, 0, 2, 1,
                R(300), IPAddress.Parse("10.200." + (i / 250) % 250 + "." + (i % 250 + 1)), "Nokia_Peer", "aes128-sha1", [child], null, 90000, 10800);
            yield return new TunnelRecord(TunnelRecord.KeyOf("vpn1", spiI, spiR), "vpn1", $"vpn1_{i + 1}", i + 1, "FGVM02TM22000001", 1, 1, 1, ike, child,
                1, 1, 0, DateTimeOffset.UtcNow, 10800, IPAddress.Parse("192.168.202.35"), ike.PeerAddress!, 0,
                [IkeSelector.FromCidr($"10.{100 + i / 65536 % 100}.{i / 256 % 256}.{i % 256}/32")], [IkeSelector.Any], false);
        }
    }
}
