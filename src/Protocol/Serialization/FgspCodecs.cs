using ClusterActors.Protocol.Fgsp;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Protocol.Serialization;

internal static partial class WireCatalog
{
    static partial void RegisterFgsp()
    {
        WireCodecs.Register<FgspAnnouncement>("fgsp.announce.v1", (w, m) =>
        {
            w.Str(m.Serial);
            w.Str(m.Hostname);
            w.I32(m.StandaloneGroupId);
            w.I32(m.GroupMemberId);
            w.I32(m.FgcpGroupId);
            w.Str(m.FgspAddress);
            w.Bool(m.IsFgcpPrimary);
            w.Str(m.ActorPath);
            w.Str(m.AkkaAddress);
            w.I64(m.Incarnation);
        }, r => new FgspAnnouncement(r.Str(), r.Str(), r.I32(), r.I32(), r.I32(), r.Str(), r.Bool(), r.Str(), r.Str(), r.I64()));
        // A tunnel record sealed under the standalone group's psksecret (FgspSyncSeal); opened only by FgspSyncSeal.Open.
        WireCodecs.Register<SealedTunnelRecord>("fgsp.sealed-tunnel.v1", WriteSealed, ReadSealed);
        // Sealed records pushed at once (src/Actors/Ipsec/README.md "Batched sync").
        WireCodecs.Register<SealedTunnelRecordBatch>("fgsp.sealed-tunnel-records.v1",
            (w, m) => w.List(m.Records as IReadOnlyCollection<SealedTunnelRecord> ?? [.. m.Records], WriteSealed),
            r => new SealedTunnelRecordBatch(r.List(ReadSealed)));
    }

    private static void WriteSealed(WireWriter w, SealedTunnelRecord m)
    {
        w.Str(m.Key);
        w.Str(m.Phase1);
        w.Str(m.SenderSerial);
        w.I64(m.Generation);
        w.I64(m.SyncSeq);
        w.Bytes(m.Nonce);
        w.Bytes(m.Ciphertext);
        w.Bytes(m.Tag);
    }

    private static SealedTunnelRecord ReadSealed(WireReader r) => new(r.Str(), r.Str(), r.Str(), r.I64(), r.I64(), r.Bytes(), r.Bytes(), r.Bytes());
}
