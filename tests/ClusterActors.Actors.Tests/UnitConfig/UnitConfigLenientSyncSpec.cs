using Akka.Actor;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.UnitConfig;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.History;

namespace ClusterActors.Actors.Tests.UnitConfig;

/// <summary>
/// A lenient unit (`node --lenient`, issue 12 item 7) takes its FGCP primary's config with the sections the lab keeps
/// without emulating them; a strict unit still refuses such a text, as it always did.
/// </summary>
public sealed class UnitConfigLenientSyncSpec : TestKit
{
    private sealed class RecordingJournal : ReceiveActor
    {
        public RecordingJournal(IActorRef probe)
        {
            var seq = 0L;
            Receive<ReadJournaledConfig>(_ => Sender.Tell(new JournaledConfig([])));
            Receive<JournalConfigChange>(c =>
            {
                probe.Tell(c);
                Sender.Tell(new ConfigChangeAccepted(++seq));
            });
        }
    }

    private sealed class Parent : ReceiveActor
    {
        public Parent(IActorRef probe, ConfigDocument file, IActorRef journal)
        {
            var config = Context.ActorOf(UnitConfigActor.Props(file, journal), "config");
            Receive<UnitConfigReady>(m => probe.Tell(m));
            Receive<UnitConfigChanged>(m => probe.Tell(m));
            Receive<ApplySyncedConfig>(m => config.Forward(m));
        }
    }

    private const string Own = "config system global\n    set hostname \"SECONDARY\"\nend\n";

    private static readonly string Primary = FortiConfig.Parse(
        "config system global\n    set hostname \"PRIMARY\"\n    set gui-theme mariner\nend\n" +
        "config firewall address\n    edit \"LAN-NET\"\n        set subnet 10.10.30.0 255.255.255.0\n    next\nend\n", "primary.conf", lenient: true).Value!.ToText();

    private IActorRef Start(bool lenient)
    {
        var file = FortiConfig.Parse(Own, "own.conf", lenient: lenient).Value!;
        var journal = Sys.ActorOf(Props.Create(() => new RecordingJournal(TestActor)));
        var unit = Sys.ActorOf(Props.Create(() => new Parent(TestActor, file, journal)));
        ExpectMsg<UnitConfigReady>();
        return unit;
    }

    [Fact]
    public void A_lenient_unit_takes_the_primarys_kept_sections_and_keeps_its_own_hostname()
    {
        var unit = Start(lenient: true);
        unit.Tell(new ApplySyncedConfig("FGVM02TM22000002", Primary));
        var journaled = ExpectMsg<JournalConfigChange>();
        Assert.Equal(FgcpConfigSync.SyncSource, journaled.Source);
        Assert.Contains("config firewall address\n    edit \"LAN-NET\"\n", journaled.Script);
        var changed = ExpectMsg<UnitConfigChanged>();
        Assert.Equal("SECONDARY", changed.Config.Global.Hostname);
        Assert.Contains("firewall address", changed.Config.NotEmulated);
        Assert.Contains("    set gui-theme mariner\n", changed.Config.Show("system global", full: false));
    }

    [Fact]
    public void A_strict_unit_still_refuses_a_text_with_sections_it_does_not_model()
    {
        var unit = Start(lenient: false);
        unit.Tell(new ApplySyncedConfig("FGVM02TM22000002", Primary));
        ExpectNoMsg(TimeSpan.FromMilliseconds(500));
    }
}
