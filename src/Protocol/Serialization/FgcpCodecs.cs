using ClusterActors.Protocol.Fgcp;

namespace ClusterActors.Protocol.Serialization;

internal static partial class WireCatalog
{
    private static IReadOnlyList<HeardPeer> ReadHears(WireReader r) =>
        r.List(pr => new HeardPeer(pr.Str(), pr.I64()));

    private static void WriteHeartbeatV2(WireWriter w, FgcpHeartbeat m)
    {
        w.Str(m.Serial);
        w.Str(m.Hostname);
        w.I32(m.GroupId);
        w.Str(m.GroupName);
        w.Bytes(m.PasswordProof);
        w.I32(m.Priority);
        w.Bool(m.Override);
        w.I64(m.HaUptimeMs);
        w.I32(m.MonitorUp);
        w.U8((byte)m.State);
        w.U8((byte)m.Role);
        w.OptStr(m.PrimarySerial);
        w.I64(m.Sequence);
        w.I64(m.Incarnation);
        w.List(m.Hears as IReadOnlyCollection<HeardPeer> ?? [.. m.Hears], (pw, p) =>
        {
            pw.Str(p.Serial);
            pw.I64(p.Incarnation);
        });
        w.Str(m.SyncedConfigChecksum);
    }

    private static FgcpHeartbeat ReadHeartbeatV2(WireReader r) => new(
        r.Str(), r.Str(), r.I32(), r.Str(), r.Bytes(), r.I32(), r.Bool(), r.I64(), r.I32(),
        // State and role are read as sent: FgcpHeartbeatValidation drops an undefined value with its own cause.
        (HaState)r.U8(), (HaRole)r.U8(), r.OptStr(), r.I64(), r.I64(),
        // A datagram is at most 2 KB, so a corrupt count ends in "truncated" after a few entries; a long list is bad_peer_list.
        ReadHears(r), r.Str());

    static partial void RegisterFgcp()
    {
        // v2: the sender's actor path is gone (nothing received may choose where config is sent), the peers it hears came.
        // Still read (a unit of the previous version in the cluster): its heartbeats carry no EXE_FAIL_OVER flag.
        WireCodecs.Register<FgcpHeartbeat>(FgcpHeartbeatValidation.ManifestV2, WriteHeartbeatV2, ReadHeartbeatV2);
        // v3: the EXE_FAIL_OVER flag (execute ha failover set 1) follows, so the peers elect without the flagged unit, then
        // the sender's diagnose sys ha checksum figures (global, root, all), so each member prints the cluster's.
        // Registered last, so it is the layout written.
        WireCodecs.Register<FgcpHeartbeat>(FgcpHeartbeatValidation.Manifest, (w, m) =>
        {
            WriteHeartbeatV2(w, m);
            w.Bool(m.ExeFailOver);
            w.Bool(m.ConfigChecksums is not null);
            if (m.ConfigChecksums is { } sums)
            {
                w.Str(sums.Global);
                w.Str(sums.Root);
                w.Str(sums.All);
            }
        }, r => ReadHeartbeatV2(r) with
        {
            ExeFailOver = r.Bool(),
            ConfigChecksums = r.Bool() ? new HaConfigChecksums(r.Str(), r.Str(), r.Str()) : null,
        });

        WireCodecs.Register<FgcpConfigSynced>("fgcp.sync.v1", (w, m) =>
        {
            w.Str(m.FromSerial);
            w.Str(m.Checksum);
            w.Str(m.SyncedConfig);
        }, r => new FgcpConfigSynced(r.Str(), r.Str(), r.Str()));

        WireCodecs.Register<FgcpConfigChangeForwarded>("fgcp.fwd.v1", (w, m) =>
        {
            w.Str(m.FromSerial);
            w.Str(m.Script);
        }, r => new FgcpConfigChangeForwarded(r.Str(), r.Str()));

        WireCodecs.Register<ClusterBootstrapProbe>("boot.probe.v1", (w, m) => w.Str(m.FromAddress), r => new ClusterBootstrapProbe(r.Str()));
        WireCodecs.Register<ClusterBootstrapStatus>("boot.status.v2", (w, m) =>
        {
            w.Str(m.Address);
            w.Bool(m.IsMember);
            w.Str(m.UniqueAddress);
            w.List(m.LiveMembers.ToList(), (x, member) => x.Str(member));
        }, r => new ClusterBootstrapStatus(r.Str(), r.Bool(), r.Str(), r.List(x => x.Str())));
    }
}
