using Akka.Actor;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Cli;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Persistence;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.History;

namespace ClusterActors.Actors.Tests.Fgcp;

/// <summary>
/// FGCP writing into the real HA history journal (in-memory plugin): a flood of wrong-password heartbeats from 600
/// forged serials leaves the earlier history intact, and a heartbeat whose serial carries a newline cannot forge a line
/// of `diagnose sys ha history read`.
/// </summary>
public sealed class FgcpHistoryFloodSpec() : TestKit("""
    akka.loglevel = ERROR
    akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
    akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
    """)
{
    private const string Vm1 = "FGVM02TM22000001";

    private static ConfigDocument Config(string password) => FortiConfig.Parse($$"""
        config system ha
            set group-id 1
            set group-name "DC2_VM12"
            set mode a-p
            set password {{password}}
            set hbdev "port4" 50
            set hb-interval 1
            set hello-holddown 5
        end
        """).Value!;

    /// <summary>An hbdev whose heartbeats the spec hands in itself.</summary>

    private static FgcpHeartbeat Intruder(string serial, long sequence) => new(
        serial, "INTRUDER", 1, "DC2_VM12", FgcpActor.PasswordProof(Config("wrong").Ha), 255, true, 1, 0, HaState.Work, HaRole.Primary,
        serial, sequence, 1, [], "0123456789abcdef0123456789abcdef");

    private static byte[] Datagram(FgcpHeartbeat hb) => FgcpHeartbeatEnvelope.Seal(hb, FgcpHeartbeatProtection.None);

    private IReadOnlyList<HaHistoryEntry> Read(IActorRef history) =>
        history.Ask<HaHistory>(ReadHaHistory.Instance, TimeSpan.FromSeconds(10)).Result.Entries;

    [Fact]
    public void Six_hundred_wrong_password_heartbeats_from_forged_serials_leave_the_earlier_history_intact()
    {
        var history = Sys.ActorOf(HaHistoryJournal.Props(Vm1), "ha-history");
        var earlier = Enumerable.Range(1, 100).Select(i => $"earlier event {i:D3}").ToList();
        foreach (var line in earlier) history.Tell(new RecordHaEvent(line));
        Assert.Equal(100, Read(history).Count);

        var link = new HandFedHbdevLink();
        var fgcp = Sys.ActorOf(FgcpActor.Props(Vm1, Config("secret"), new Dictionary<string, IHbdevLink> { ["port4"] = link }, history,
            ActorRefs.Nobody, CreateTestProbe().Ref), "fgcp");
        AwaitCondition(() => link.Datagram is not null, TimeSpan.FromSeconds(3));
        for (var i = 0; i < 600; i++) link.Datagram!(Datagram(Intruder($"FGVM02TM22{i + 100:D6}", i + 1)));
        AwaitCondition(() => fgcp.Ask<HaStatusSnapshot>(GetHaStatus.Instance, TimeSpan.FromSeconds(3)).Result
            .HeartbeatDrops.GetValueOrDefault(HeartbeatDropCause.PasswordMismatch) == 600, TimeSpan.FromSeconds(10));

        var after = Read(history).Select(e => e.Text).ToList();
        Assert.Equal(earlier, after.Take(100));
        Assert.Equal(FgcpPeerTable.MaxRejectReportsPerInterval, after.Count(l => l.Contains("password mismatch")));
        Assert.True(after.Count < 100 + 20, $"{after.Count} lines");
    }

    [Fact]
    public void A_newline_in_a_heartbeat_serial_cannot_forge_a_line_in_diagnose_sys_ha_history_read()
    {
        var history = Sys.ActorOf(HaHistoryJournal.Props(Vm1), "ha-history");
        var link = new HandFedHbdevLink();
        var fgcp = Sys.ActorOf(FgcpActor.Props(Vm1, Config("secret"), new Dictionary<string, IHbdevLink> { ["port4"] = link }, history,
            ActorRefs.Nobody, CreateTestProbe().Ref), "fgcp");
        AwaitCondition(() => link.Datagram is not null, TimeSpan.FromSeconds(3));
        const string forged = "FGVM02TM22000002\n<0> HA event\n    <2026-12-05 20:00:00> vcluster-1: FGVM02TM22000009 is selected as the primary";
        link.Datagram!(Datagram(Intruder(forged, 1)));
        link.Datagram!(Datagram(Intruder(forged, 2) with { PasswordProof = FgcpActor.PasswordProof(Config("secret").Ha) }));
        AwaitCondition(() => fgcp.Ask<HaStatusSnapshot>(GetHaStatus.Instance, TimeSpan.FromSeconds(3)).Result
            .HeartbeatDrops.GetValueOrDefault(HeartbeatDropCause.BadSerial) == 2, TimeSpan.FromSeconds(10));

        var entries = Read(history);
        var read = HaDiagnostics.HistoryRead(entries).TrimEnd('\n').Split('\n');
        Assert.Equal(2 * entries.Count, read.Length);
        Assert.DoesNotContain(read, l => l.Contains("FGVM02TM22000009"));
        Assert.Empty(fgcp.Ask<HaStatusSnapshot>(GetHaStatus.Instance, TimeSpan.FromSeconds(3)).Result.Members.Where(m => !m.IsSelf));
    }
}
