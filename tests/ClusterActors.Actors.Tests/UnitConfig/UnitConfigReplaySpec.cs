using Akka.Actor;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.UnitConfig;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.History;

namespace ClusterActors.Actors.Tests.UnitConfig;

/// <summary>
/// A secondary restarted on its data replays the primary's synced configuration as sync applies it: the settings FGCP
/// never synchronises (hostname, ha priority) stay the unit's own. (Found in the container lab: a restarted DC2_VM1
/// called itself DC2_VM2.)
/// </summary>
public sealed class UnitConfigReplaySpec : TestKit
{
    private sealed class FakeJournal : ReceiveActor
    {
        public FakeJournal(IReadOnlyList<ConfigChangeJournaled> changes) =>
            Receive<ReadJournaledConfig>(_ => Sender.Tell(new JournaledConfig(changes)));
    }

    private static ConfigDocument Config(string hostname, int priority) =>
        FortiConfig.Parse($"config system global\nset hostname \"{hostname}\"\nend\nconfig system ha\nset group-id 1\nset mode a-p\nset priority {priority}\nend\n", "t").Value!;

    [Fact]
    public void A_journaled_sync_from_the_primary_keeps_this_units_hostname_and_priority_but_takes_the_synced_settings()
    {
        var primaryText = FortiConfig.Parse(
            "config system global\nset hostname \"DC2_VM2\"\nend\nconfig system ha\nset group-id 1\nset mode a-p\nset priority 100\nset hb-lost-threshold 6\nend\n", "p").Value!.ToText();
        var journal = Sys.ActorOf(Props.Create(() => new FakeJournal(new List<ConfigChangeJournaled>
        {
            new ConfigChangeJournaled(1, DateTimeOffset.UtcNow, FgcpConfigSync.SyncSource, primaryText),
        })));

        Sys.ActorOf(Props.Create(() => new Parent(TestActor, Config("DC2_VM1", 200), journal)));

        var ready = ExpectMsg<UnitConfigReady>();
        Assert.Equal("DC2_VM1", ready.Config.Global.Hostname);
        Assert.Equal(200, ready.Config.Ha.Priority);
        Assert.Equal(6, ready.Config.Ha.HbLostThreshold);
    }

    /// <summary>The config actor reports to its parent; this parent passes that on to the test.</summary>
    private sealed class Parent : ReceiveActor
    {
        public Parent(IActorRef probe, ConfigDocument file, IActorRef journal)
        {
            Context.ActorOf(UnitConfigActor.Props(file, journal), "config");
            ReceiveAny(m => probe.Tell(m));
        }
    }
}
