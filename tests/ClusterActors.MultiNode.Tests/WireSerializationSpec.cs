using System.Collections.Concurrent;
using System.Net;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using ClusterActors.Actors.Serialization;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Fgsp;
using ClusterActors.Protocol.History;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;
using ClusterActors.Protocol.Ipsec;
using ClusterActors.Protocol.Serialization;
using Xunit.Abstractions;
using TrafficSelector = ClusterActors.Protocol.Ike.TrafficSelector;

namespace ClusterActors.MultiNode.Tests;

/// <summary>
/// What crosses Akka remoting between units (hocon/serialization.conf): our wire messages through ProtocolSerializer,
/// Akka's own through its serializers, and nothing else. A message bound to no serializer is refused by the sender
/// instead of crossing as JSON; JSON that arrives (Akka's default serializer, id 1) is never decoded. Two or three
/// ActorSystems in one process on loopback, with the units' HOCON (hocon/cluster.conf + serialization.conf).
/// </summary>
[Collection("multi-node")]
public sealed class WireSerializationSpec(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>A message no serializer is bound to, such as a local actor message sent to another unit by mistake.</summary>
    private sealed record NotAWireMessage(string Secret);

    private readonly List<ActorSystem> _systems = new();
    private readonly ConcurrentQueue<object> _received = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var s in _systems) await s.Terminate();
    }

    private ActorSystem Unit(out int port, bool projectHocon = true)
    {
        port = LoopbackLab.FreeTcpPort();
        var endpoint = ConfigurationFactory.ParseString($$"""
            akka.loglevel = WARNING
            akka.stdout-loglevel = WARNING
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = {{port}} }
            """);
        var config = projectHocon
            ? endpoint.WithFallback(Hocon.Load("serialization.conf")).WithFallback(Hocon.Load("cluster.conf"))
            // A process on Akka's defaults: "System.Object" = Newtonsoft JSON, serializer id 1.
            : endpoint.WithFallback(ConfigurationFactory.ParseString("akka.actor.provider = remote"));
        var system = ActorSystem.Create(UnitHost.SystemName, config);
        _systems.Add(system);
        return system;
    }

    private sealed class Inbox : ReceiveActor
    {
        public Inbox(ConcurrentQueue<object> received) => ReceiveAny(m =>
        {
            if (m is Identify) return; // answered by Akka itself before it gets here
            received.Enqueue(m);
        });
    }

    /// <summary>The recipient unit: an actor at /user/inbox that keeps everything it receives.</summary>
    private ActorSelection Recipient(ActorSystem from, int port) =>
        from.ActorSelection($"akka.tcp://{UnitHost.SystemName}@127.0.0.1:{port}/user/inbox");

    private (ActorSystem Sender, ActorSystem Receiver, int ReceiverPort) TwoUnits()
    {
        var receiver = Unit(out var receiverPort);
        receiver.ActorOf(Props.Create(() => new Inbox(_received)), "inbox");
        return (Unit(out _), receiver, receiverPort);
    }

    private Task Arrived(Func<object, bool> what, string description) =>
        LoopbackLab.Eventually(() => Task.FromResult(_received.Any(what)), TimeSpan.FromSeconds(15), description);

    [Fact]
    public async Task A_message_bound_to_no_serializer_is_refused_by_the_sender_and_never_reaches_the_recipient()
    {
        var (sender, _, port) = TwoUnits();

        // Sent first, then a wire message on the same association: Akka keeps the order between two actors, so once
        // the second has arrived the first would have too.
        Recipient(sender, port).Tell(new NotAWireMessage("psksecret"));
        Recipient(sender, port).Tell(new ClusterBootstrapProbe("after"));
        await Arrived(m => m is ClusterBootstrapProbe { FromAddress: "after" }, "the wire message sent after the unbound one");

        Assert.DoesNotContain(_received, m => m is NotAWireMessage);
        var refusal = Assert.IsType<UnboundMessageRefusal>(sender.Serialization.FindSerializerForType(typeof(NotAWireMessage)));
        Assert.Equal(1, refusal.Refused[typeof(NotAWireMessage)]);
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => sender.Serialization.Serialize(new NotAWireMessage("x")));
    }

    [Fact]
    public async Task Json_from_a_process_on_akka_defaults_is_never_decoded_by_a_unit()
    {
        var (_, receiver, port) = TwoUnits();
        var defaults = Unit(out _, projectHocon: false);
        Assert.Equal(1, defaults.Serialization.FindSerializerFor(new NotAWireMessage("x")).Identifier); // it does send JSON

        Recipient(defaults, port).Tell(new NotAWireMessage("psksecret"));
        Recipient(defaults, port).Tell("after"); // Akka's primitive serializer, the same on both sides
        await Arrived(m => m is "after", "the string sent after the JSON message");

        Assert.DoesNotContain(_received, m => m is NotAWireMessage);
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() =>
            receiver.Serialization.Deserialize("{\"Secret\":\"x\"}"u8.ToArray(), 1, typeof(NotAWireMessage).AssemblyQualifiedName!));
    }

    [Fact]
    public async Task Every_wire_message_type_crosses_remoting_through_the_protocol_serializer_and_arrives_intact()
    {
        var wireTypes = WireMessageTypes();
        Assert.Equal(wireTypes.Select(t => t.FullName).Order(), Samples.Keys.Select(t => t.FullName).Order()); // a new wire type needs a sample here
        // Every type with a codec is bound to it (an IWireMessage): a codec for an unbound type would only ever be refused.
        Assert.All(WireCodecs.All, c => Assert.Contains(c.Type, wireTypes));

        var (sender, _, port) = TwoUnits();
        foreach (var (type, sample) in Samples)
        {
            Assert.Equal(type, sample.GetType());
            var serializer = sender.Serialization.FindSerializerFor(sample);
            Assert.IsType<ProtocolSerializer>(serializer);
            Assert.Equal(ProtocolSerializer.Id, serializer.Identifier);
            Assert.True(WireCodecs.TryGet(type, out var codec));
            Assert.Equal(FrozenManifests[type], codec.Manifest);
            Recipient(sender, port).Tell(sample);
        }

        await LoopbackLab.Eventually(() => Task.FromResult(_received.Count >= Samples.Count), TimeSpan.FromSeconds(15), $"{Samples.Count} wire messages");
        foreach (var (type, sample) in Samples)
        {
            var arrived = Assert.Single(_received, m => m.GetType() == type);
            Assert.Equal(WireCodecs.Encode(sample), WireCodecs.Encode(arrived)); // records holding byte[] do not compare by value
        }
        output.WriteLine($"{Samples.Count} wire message types crossed: {string.Join(", ", Samples.Keys.Select(t => t.Name))}");
    }

    [Fact]
    public async Task Akka_s_own_messages_still_cross_identify_and_cluster_membership()
    {
        var (sender, receiver, port) = TwoUnits();
        var identity = await Recipient(sender, port).Ask<ActorIdentity>(new Identify(42), TimeSpan.FromSeconds(10));
        Assert.Equal(42, identity.MessageId);
        Assert.NotNull(identity.Subject);

        Akka.Cluster.Cluster.Get(receiver).Join(Akka.Cluster.Cluster.Get(receiver).SelfAddress);
        Akka.Cluster.Cluster.Get(sender).Join(Akka.Cluster.Cluster.Get(receiver).SelfAddress);
        await LoopbackLab.Eventually(() => Task.FromResult(new[] { sender, receiver }.All(s =>
                Akka.Cluster.Cluster.Get(s).State.Members.Count(m => m.Status == MemberStatus.Up) == 2)),
            TimeSpan.FromSeconds(20), "both units Up in one Akka cluster (gossip through Akka's Protobuf serializers)");
        foreach (var s in new[] { sender, receiver })
            Assert.Empty(((UnboundMessageRefusal)s.Serialization.FindSerializerForType(typeof(object))).Refused);
    }

    /// <summary>Every type of the project's assemblies that says it crosses between units or into the journal.</summary>
    private static HashSet<Type> WireMessageTypes() =>
        new[] { typeof(IWireMessage).Assembly, typeof(ProtocolSerializer).Assembly, typeof(UnitHost).Assembly }
            .SelectMany(a => a.GetTypes())
            .Where(t => typeof(IWireMessage).IsAssignableFrom(t) && t is { IsInterface: false, IsAbstract: false })
            .ToHashSet();

    /// <summary>
    /// Manifests are written into journals next to serializer id 4711 and read by units of other versions: they never
    /// change (a new layout gets a new manifest, the old one stays readable).
    /// </summary>
    private static readonly Dictionary<Type, string> FrozenManifests = new()
    {
        [typeof(FgcpHeartbeat)] = "fgcp.hb.v3", // v2 (without the EXE_FAIL_OVER flag) stays readable: FgcpHeartbeatEnvelopeSpec
        [typeof(FgcpConfigSynced)] = "fgcp.sync.v1",
        [typeof(FgcpConfigChangeForwarded)] = "fgcp.fwd.v1",
        [typeof(ClusterBootstrapProbe)] = "boot.probe.v1",
        [typeof(ClusterBootstrapStatus)] = "boot.status.v2",
        [typeof(FgspAnnouncement)] = "fgsp.announce.v1",
        [typeof(HaHistoryEntry)] = "hahist.entry",
        [typeof(HaEventRecorded)] = "hahist.recorded",
        [typeof(HaHistorySnapshot)] = "hahist.snap",
        [typeof(ConfigChangeJournaled)] = "cfgjrnl.change",
        [typeof(JournaledConfigSnapshot)] = "cfgjrnl.snap",
        [typeof(TunnelRecord)] = "ipsec.tunnel.v2",
        [typeof(SealedTunnelRecord)] = "fgsp.sealed-tunnel.v1",
        [typeof(SignedTunnelRecord)] = "ipsec.signed-tunnel.v1",
        [typeof(TunnelReleased)] = "ipsec.tunnel-released.v1",
        [typeof(TunnelEntriesWanted)] = "ipsec.tunnel-entries-wanted.v1",
        [typeof(TunnelEntries)] = "ipsec.tunnel-entries.v1",
        [typeof(TunnelRecordBatch)] = "ipsec.tunnel-records.v1",
        [typeof(SealedTunnelRecordBatch)] = "fgsp.sealed-tunnel-records.v1",
    };

    private static readonly DateTimeOffset At = new(2026, 12, 6, 5, 30, 0, 123, TimeSpan.FromHours(1));

    private static readonly Dictionary<Type, object> Samples = new[]
    {
        (object)new FgcpHeartbeat("FGVM02TM22000001", "DC2_VM1", 1, "dc2-cluster1", [1, 2, 3, 4], 200, false, 123456, 3,
            HaState.Work, HaRole.Primary, "FGVM02TM22000001", 77, 991, [new HeardPeer("FGVM02TM22000002", 5)], "c0ffee"),
        new FgcpConfigSynced("FGVM02TM22000001", "c0ffee", "config system global\n    set hostname \"DC2_VM2\"\nend"),
        new FgcpConfigChangeForwarded("FGVM02TM22000002", "config system ha\n    set priority 100\nend"),
        new ClusterBootstrapProbe("akka.tcp://fortigate@127.0.0.1:25101"),
        new ClusterBootstrapStatus("akka.tcp://fortigate@127.0.0.1:25101", true, "akka.tcp://fortigate@127.0.0.1:25101#42",
            ["akka.tcp://fortigate@127.0.0.1:25101", "akka.tcp://fortigate@127.0.0.1:25102"]),
        new FgspAnnouncement("FGVM02TM22000001", "DC2_VM1", 1, 0, 1, "192.168.203.1", true, "akka://fortigate/user/fortigate/fgsp",
            "akka.tcp://fortigate@127.0.0.1:25101", 991),
        new HaHistoryEntry(At, "FGVM02TM22000001 is selected as the primary"),
        new HaEventRecorded(new HaHistoryEntry(At, "heartbeat lost on port4")),
        new HaHistorySnapshot([new HaHistoryEntry(At, "a"), new HaHistoryEntry(At.AddSeconds(1), "b")]),
        new ConfigChangeJournaled(42, At, "cli", "config system ha\n    set priority 200\nend"),
        new JournaledConfigSnapshot([new ConfigChangeJournaled(1, At, "sync", "a")]),
        Tunnel(),
        FgspSyncSeal.Seal(Tunnel(), "FGVM02TM22000001", FgspSyncKey.Derive("fgsp-lab-secret", 1), Bytes(12, 15)),
        TunnelRecordSignature.Wrap(Tunnel(), new TunnelRecordSigner(LabCertificateAuthority.ForSpecs("DC2_VM1", "FGVM02TM22000001").Certificate), "FGVM02TM22000001"),
        new TunnelReleased("vpn1/1/2", 4, "FGVM02TM22000003"),
        new TunnelEntriesWanted("FGVM02TM22000001"),
        new TunnelEntries("FGVM02TM22000002", "ipsec.tunnel.v2", [new TunnelEntry(Tunnel().Key,
            TunnelRecordSignature.Wrap(Tunnel(), new TunnelRecordSigner(LabCertificateAuthority.ForSpecs("DC2_VM1", "FGVM02TM22000001").Certificate), "FGVM02TM22000001"))]),
        new TunnelRecordBatch([Tunnel(), Tunnel() with { Key = "vpn1/3/4", Name = "vpn1_2", Index = 2, Ike = Tunnel().Ike with { SpiI = 3, SpiR = 4 } }]),
        new SealedTunnelRecordBatch([FgspSyncSeal.Seal(Tunnel(), "FGVM02TM22000001", FgspSyncKey.Derive("fgsp-lab-secret", 1), Bytes(12, 15)),
            FgspSyncSeal.Seal(Tunnel() with { SyncSeq = 10 }, "FGVM02TM22000001", FgspSyncKey.Derive("fgsp-lab-secret", 1), Bytes(12, 16))]),
    }.ToDictionary(m => m.GetType());

    private static TunnelRecord Tunnel()
    {
        var keys = new IkeSaKeys(Bytes(20, 1), Bytes(20, 2), Bytes(20, 3), Bytes(16, 4), Bytes(16, 5), Bytes(20, 6), Bytes(20, 7));
        var child = new ChildSaKeys(0x37f426a1, 0x10aa4d3a, Bytes(16, 8), Bytes(20, 9), Bytes(16, 10), Bytes(20, 11));
        var ike = new IkeSaState(1, 2, false, "aes128-sha1", 2, Bytes(32, 12), Bytes(32, 13), keys, 0, 2, 1, Bytes(64, 14),
            IPAddress.Parse("192.168.7.2"), "Nokia_Peer", "aes128-sha1", [child], null, 90000, 10800);
        return new TunnelRecord("vpn1/1/2", "vpn1", "vpn1_1", 1, "FGVM02TM22000001", 1, 3, 9, ike, child, 1, 4242, 4100,
            At, 10800, IPAddress.Parse("192.168.202.35"), IPAddress.Parse("192.168.7.2"), 0,
            [TrafficSelector.FromCidr("10.10.1.0/24")], [TrafficSelector.Any], false);
    }

    private static byte[] Bytes(int length, byte seed) => Enumerable.Range(0, length).Select(i => (byte)(seed * 31 + i)).ToArray();
}
