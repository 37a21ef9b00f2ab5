using System.Collections.Concurrent;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.History;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Actors.Tests.Fgcp;

/// <summary>
/// HA uptime is the host's, like the hbdev sockets: a FGCP actor restarted by its supervisor after a failure keeps
/// counting from the unit's start, so it still wins the election its uptime wins (override disabled compares uptime
/// before priority). With the start kept inside the actor, the restarted unit came back with uptime 0 and lost.
/// </summary>
public sealed class HaUptimeContinuitySpec() : TestKit("akka.loglevel = ERROR")
{
    private const string Vm1 = "FGVM02TM22000001";
    private const string Vm2 = "FGVM02TM22000002";

    /// <summary>DC2_VM1 with priority 200, margin 60 s.</summary>
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
            set hello-holddown 5
            set ha-uptime-diff-margin 60
            set priority 200
        end
        """).Value!;

    /// <summary>Fake time that throws once from the next timestamp read when armed: a fault injected into FGCP.</summary>
    private sealed class FaultyFakeClock(DateTimeOffset start) : FakeTimeProvider(start)
    {
        private int _armed;
        public void Arm() => Interlocked.Exchange(ref _armed, 1);

        public override long GetTimestamp() =>
            Interlocked.Exchange(ref _armed, 0) == 1 ? throw new InvalidOperationException("injected fault") : base.GetTimestamp();
    }


    private sealed class HistoryLines : ReceiveActor
    {
        public HistoryLines(ConcurrentQueue<string> lines) => Receive<RecordHaEvent>(e => lines.Enqueue(e.Text));
    }

    private HaStatusSnapshot Status(IActorRef fgcp) => fgcp.Ask<HaStatusSnapshot>(GetHaStatus.Instance, TimeSpan.FromSeconds(3)).Result;

    [Fact]
    public void A_restarted_FGCP_actor_keeps_the_units_HA_uptime_and_wins_the_election_its_uptime_wins()
    {
        var clock = new FaultyFakeClock(new DateTimeOffset(2026, 12, 5, 23, 0, 0, TimeSpan.Zero));
        var lines = new ConcurrentQueue<string>();
        var link = new HandFedHbdevLink();
        var history = Sys.ActorOf(Props.Create(() => new HistoryLines(lines)));
        // As FortiGateUnit builds it: one HA uptime start for every FGCP actor the supervisor starts.
        var uptime = new HaUptime(clock);
        var fgcp = Sys.ActorOf(FgcpActor.Supervised(FgcpActor.Props(Vm1, Config, new Dictionary<string, IHbdevLink> { ["port4"] = link },
            history, ActorRefs.Nobody, CreateTestProbe().Ref, clock, uptime)), "fgcp");
        AwaitCondition(() => lines.Count(l => l == "hatalk started") == 1, TimeSpan.FromSeconds(5));

        clock.Advance(TimeSpan.FromSeconds(120));
        AwaitCondition(() => Status(fgcp) is { State: HaState.Work, Role: HaRole.Primary }, TimeSpan.FromSeconds(5), "DC2_VM1 works alone");
        Assert.True(Status(fgcp).HaUptime >= TimeSpan.FromSeconds(120));

        clock.Arm();
        AwaitCondition(() => lines.Count(l => l == "hatalk started") == 2, TimeSpan.FromSeconds(10), "FGCP was not started again after the fault");
        var restarted = Status(fgcp);
        Assert.Equal(HaState.Hello, restarted.State);
        Assert.True(restarted.HaUptime >= TimeSpan.FromSeconds(120), $"HA uptime after the restart: {restarted.HaUptime} (expected it to continue from 120 s)");

        // DC2_VM2 (priority 250, HA uptime 10 s) is heard twice: the cluster forms and uptime decides (110 s > margin 60 s).
        for (var sequence = 1; sequence <= 2; sequence++)
            link.Heard(new FgcpHeartbeat(Vm2, "DC2_VM2", 1, "DC2_VM12", FgcpActor.PasswordProof(Config.Ha), 250, false, 10_000, 0,
                HaState.Hello, HaRole.Secondary, null, sequence, 1, [], "0123456789abcdef0123456789abcdef"));
        AwaitCondition(() => Status(fgcp) is { State: HaState.Work }, TimeSpan.FromSeconds(5), "the cluster forms with DC2_VM2");
        var elected = Status(fgcp);
        Assert.True(elected.Role == HaRole.Primary, $"DC2_VM1 should stay primary by uptime; history: {string.Join(" | ", lines)}");
        Assert.Contains(lines, l => l.Contains($"{Vm1} is selected as the primary because its uptime is larger than peer member {Vm2}"));
    }
}
