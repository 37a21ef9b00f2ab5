using System.Collections.Concurrent;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Cli;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.Tests.Fgcp;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.History;

namespace ClusterActors.Actors.Tests.Cli;

/// <summary>
/// The `[Kernel HA information]` member lines of `diagnose sys ha status` on a unit that joins a working cluster as
/// secondary (the document's DC2_VM1 after its reboot): `ha_prio/o_ha_prio=1/1`, as the reference prints, not 1/0.
/// The unit's hello state has no operating order of its own, so it leaves no previous index behind.
/// </summary>
public sealed class KernelHaLinesSpec() : TestKit("akka.loglevel = ERROR")
{
    private const string Vm1 = "FGVM02TM22000001";
    private const string Vm2 = "FGVM02TM22000002";

    private static readonly ConfigDocument Config = FortiConfig.Parse("""
        config system global
            set hostname "DC2_VM1"
        end
        config system ha
            set group-id 1
            set group-name "DC2_VM12"
            set mode a-p
            set hbdev "port4" 50
            set hb-interval 1
            set hb-lost-threshold 10
            set ha-uptime-diff-margin 60
            set priority 200
        end
        """).Value!;


    private sealed class HistoryLines : ReceiveActor
    {
        public HistoryLines(ConcurrentQueue<string> lines) => Receive<RecordHaEvent>(e => lines.Enqueue(e.Text));
    }

    [Fact]
    public void A_unit_that_joins_a_working_cluster_as_secondary_prints_the_documents_kernel_lines()
    {
        var link = new HandFedHbdevLink();
        var lines = new ConcurrentQueue<string>();
        var history = Sys.ActorOf(Props.Create(() => new HistoryLines(lines)));
        var fgcp = Sys.ActorOf(FgcpActor.Props(Vm1, Config, new Dictionary<string, IHbdevLink> { ["port4"] = link }, history,
            ActorRefs.Nobody, CreateTestProbe().Ref));
        AwaitCondition(() => link.Datagram is not null, TimeSpan.FromSeconds(5));

        // DC2_VM2 works as primary with 400 s of HA uptime: DC2_VM1, just started, joins it as secondary.
        for (var sequence = 1; sequence <= 2; sequence++)
            link.Heard(new FgcpHeartbeat(Vm2, "DC2_VM2", 1, "DC2_VM12", FgcpActor.PasswordProof(Config.Ha), 100, false, 400_000, 0,
                HaState.Work, HaRole.Primary, Vm2, sequence, 1, [], "0123456789abcdef0123456789abcdef"));
        AwaitCondition(() => fgcp.Ask<HaStatusSnapshot>(GetHaStatus.Instance, TimeSpan.FromSeconds(3)).Result is { State: HaState.Work },
            TimeSpan.FromSeconds(5), "DC2_VM1 works");

        var status = HaDiagnostics.DiagnoseStatus(fgcp.Ask<HaStatusSnapshot>(GetHaStatus.Instance, TimeSpan.FromSeconds(3)).Result);
        // Reference, "Verify the FGCP cluster status on DC2_VM1", [Kernel HA information].
        Assert.Contains("FGVM02TM22000002:      Primary, ha_prio/o_ha_prio=0/0\nFGVM02TM22000001:    Secondary, ha_prio/o_ha_prio=1/1\n", status);
    }
}
