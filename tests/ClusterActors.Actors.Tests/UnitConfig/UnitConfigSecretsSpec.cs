using Akka.Actor;
using Akka.TestKit.Xunit2;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Actors.UnitConfig;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.History;

namespace ClusterActors.Actors.Tests.UnitConfig;

/// <summary>
/// What the config actor hands its journal (issue 11, item 5): a typed script with its secrets as ENC, never as typed;
/// a synced config with its secrets under this unit's key when private-data-encryption is on here; and what it tells
/// FGCP to forward to the primary carries product-key ENC, which every unit reads.
/// </summary>
public sealed class UnitConfigSecretsSpec : TestKit
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
        public Parent(IActorRef probe, ConfigDocument file, IActorRef journal, PrivateDataKey key)
        {
            var config = Context.ActorOf(UnitConfigActor.Props(file, journal, unitKey: key), "config");
            Receive<UnitConfigReady>(m => probe.Tell(m));
            Receive<UnitConfigChanged>(m => probe.Tell(m));
            Receive<ApplyConfigScript>(m => config.Forward(m));
            Receive<ApplySyncedConfig>(m => config.Forward(m));
        }
    }

    private static IEnumerable<string> Enc(string script) =>
        System.Text.RegularExpressions.Regex.Matches(script, @"ENC (\S+)").Select(m => m.Groups[1].Value);

    private (IActorRef Unit, PrivateDataKey Key) Start(bool privateData)
    {
        var key = PrivateDataKey.Generate();
        var file = FortiConfig.Parse($"config system global\n    set private-data-encryption {(privateData ? "enable" : "disable")}\nend\n").Value!;
        var journal = Sys.ActorOf(Props.Create(() => new RecordingJournal(TestActor)));
        var unit = Sys.ActorOf(Props.Create(() => new Parent(TestActor, file, journal, key)));
        ExpectMsg<UnitConfigReady>();
        return (unit, key);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_typed_secret_is_journaled_as_ENC_under_the_units_choice_of_key_and_forwarded_under_the_product_key(bool privateData)
    {
        var (unit, key) = Start(privateData);
        unit.Tell(new ApplyConfigScript("config system ha\n    set password \"Typed-HA-pw\"\nend\n", "cli"), TestActor);

        var journaled = ExpectMsg<JournalConfigChange>();
        Assert.DoesNotContain("Typed-HA-pw", journaled.Script);
        var enc = Assert.Single(Enc(journaled.Script));
        Assert.Equal(!privateData, Secret.TryFromEncrypted(enc, null, out _));
        Assert.True(Secret.TryFromEncrypted(enc, key, out var s));
        Assert.Equal("Typed-HA-pw", s!.Clear);

        // The parent's report and the caller's answer, in either order.
        var two = ReceiveN(2);
        var changed = two.OfType<UnitConfigChanged>().Single();
        Assert.DoesNotContain("Typed-HA-pw", changed.Script);
        Assert.True(Secret.TryFromEncrypted(Assert.Single(Enc(changed.Script!)), null, out _));
        Assert.True(two.OfType<ConfigApplied>().Single().Ok);
    }

    [Fact]
    public void A_synced_config_is_journaled_with_its_secrets_under_this_units_key_when_private_data_encryption_is_on()
    {
        var (unit, key) = Start(privateData: true);
        var primary = FortiConfig.Parse("config system ha\n    set group-id 1\n    set password \"Synced-HA-pw\"\nend\n").Value!.ToText();
        unit.Tell(new ApplySyncedConfig("FGVM02TM22000002", primary));

        var journaled = ExpectMsg<JournalConfigChange>();
        Assert.Equal(FgcpConfigSync.SyncSource, journaled.Source);
        var enc = Assert.Single(Enc(journaled.Script));
        Assert.False(Secret.TryFromEncrypted(enc, null, out _), "the synced secret is journaled under the product key");
        Assert.True(Secret.TryFromEncrypted(enc, key, out var s));
        Assert.Equal("Synced-HA-pw", s!.Clear);
    }
}
