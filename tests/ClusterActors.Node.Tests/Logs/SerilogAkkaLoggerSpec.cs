using System.Diagnostics;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using ClusterActors.Actors.Telemetry;
using ClusterActors.Node.Hosting.Logs;
using ClusterActors.Protocol.Fgcp;

namespace ClusterActors.Node.Tests.Logs;

/// <summary>Akka's logging through <see cref="SerilogAkkaLogger"/>: an error with its cause, as one CLEF line; what is published before Akka's logger actors are up.</summary>
public sealed class SerilogAkkaLoggerSpec
{
    private sealed class Failing : ReceiveActor
    {
        public Failing() => Receive<string>(m => Logging.GetLogger(Context).Error(new InvalidOperationException("journal gone"), "could not {0}", m));
    }

    [Fact]
    public async Task An_akka_error_with_a_cause_is_one_line_with_level_exception_and_its_actor()
    {
        var lines = new StringWriter();
        using var capture = JsonUnitLogs.CaptureAkka(TextWriter.Synchronized(lines), "DC2_VM1", "FGVM02TM22000001");
        using var system = ActorSystem.Create("logs", ConfigurationFactory.ParseString(JsonUnitLogs.AkkaHocon + "\nakka.loglevel = INFO"));
        system.ActorOf(Props.Create(() => new Failing()), "failing").Tell("persist");

        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(10) && !lines.ToString().Contains("journal gone")) await Task.Delay(20);
        var line = lines.ToString().Split('\n').Single(l => l.Contains("journal gone"));
        var e = JsonDocument.Parse(line).RootElement;
        Assert.Equal("Error", e.GetProperty("@l").GetString());
        Assert.Equal("could not persist", e.GetProperty("@m").GetString());
        Assert.StartsWith("System.InvalidOperationException: journal gone", e.GetProperty("@x").GetString());
        Assert.Equal("akka://logs/user/failing", e.GetProperty("LogSource").GetString());
        Assert.Equal("akka", e.GetProperty("Origin").GetString());
        Assert.Equal("DC2_VM1", e.GetProperty("Hostname").GetString());
        Assert.Equal("FGVM02TM22000001", e.GetProperty("Serial").GetString());
    }

    /// <summary>
    /// A log call whose format does not match its arguments (Akka formats on the logging thread, here in our logger):
    /// a line with the format and the arguments, not an exception that loses it (Akka's StandardOutLogger does the same).
    /// </summary>
    [Fact]
    public void A_log_message_whose_format_does_not_match_its_arguments_is_still_one_line()
    {
        var lines = new StringWriter();
        using var capture = JsonUnitLogs.CaptureAkka(TextWriter.Synchronized(lines), "DC2_VM1", "FGVM02TM22000001");
        using var system = ActorSystem.Create("badformat", ConfigurationFactory.ParseString(JsonUnitLogs.AkkaHocon + "\nakka.loglevel = INFO"));
        Logging.GetLogger(system, "spec").Warning("peer {0} sent {1}", "FGVM02TM22000002");

        // A minimal logger writes on the thread that logs: the line is there when the call returns.
        var line = Assert.Single(lines.ToString().Split('\n'), l => l.Contains("peer {0} sent {1}"));
        var e = JsonDocument.Parse(line).RootElement;
        Assert.Equal("Warning", e.GetProperty("@l").GetString());
        Assert.Contains("FGVM02TM22000002", e.GetProperty("@m").GetString());
        Assert.StartsWith("spec", e.GetProperty("LogSource").GetString()); // Akka names a string source with its system: "spec (akka://badformat)"
    }

    /// <summary>HA events subscribed on a system that was not built for JSON would be printed by Akka's own logger as text: refused.</summary>
    [Fact]
    public void Subscribing_the_ha_events_of_a_system_without_the_json_logger_is_refused()
    {
        using var system = ActorSystem.Create("text", ConfigurationFactory.ParseString("akka.loglevel = INFO"));
        var refused = Assert.Throws<InvalidOperationException>(() => JsonUnitLogs.SubscribeHaEvents(system));
        Assert.Contains(nameof(JsonUnitLogs.AkkaHocon), refused.Message);
    }

    /// <summary>An Akka logger actor that takes 2 s to answer InitializeLogger, and says when it answered.</summary>
    public sealed class SlowToStartLogger : ReceiveActor
    {
        public static DateTime AnsweredAt;

        public SlowToStartLogger()
        {
            Receive<InitializeLogger>(_ =>
            {
                Thread.Sleep(2000);
                AnsweredAt = DateTime.UtcNow;
                Sender.Tell(new LoggerInitialized());
            });
            ReceiveAny(_ => { });
        }
    }

    /// <summary>
    /// The race behind the missing Primary (README.md, "The missing Primary"), injected: Akka's logger actors are late
    /// (one slow logger first on the loggers' only thread, logger-startup-timeout 100 ms, so ActorSystem.Create returns
    /// before they are up, as on a loaded machine), and FGCP's first role and an Akka line are published right after
    /// the system is built (and the host subscribed the HA events, as UnitHost does before the unit's actors exist). Both must still be JSON lines: an HA event selectable by EventKind=ha, and the Akka line.
    /// </summary>
    [Fact]
    public async Task An_ha_event_and_an_akka_line_published_before_akka_loggers_are_up_are_still_json_lines()
    {
        var lines = new StringWriter();
        using var capture = JsonUnitLogs.CaptureAkka(TextWriter.Synchronized(lines), "DC2_VM1", "FGVM02TM22000001");
        var loggers = ConfigurationFactory.ParseString(JsonUnitLogs.AkkaHocon + "\nakka.loglevel = INFO").GetStringList("akka.loggers");
        var slow = typeof(SlowToStartLogger).FullName + ", " + typeof(SlowToStartLogger).Assembly.GetName().Name;
        var config = ConfigurationFactory.ParseString(JsonUnitLogs.AkkaHocon + $$"""

            akka.loglevel = INFO
            akka.logger-startup-timeout = 100ms
            akka.loggers = [{{string.Join(", ", new[] { slow }.Concat(loggers).Select(l => $"\"{l}\""))}}]
            akka.loggers-dispatcher = one-thread-loggers
            one-thread-loggers { type = ForkJoinDispatcher, throughput = 100, dedicated-thread-pool.thread-count = 1 }
            """);
        SlowToStartLogger.AnsweredAt = DateTime.MaxValue;
        using var system = ActorSystem.Create("late", config);
        JsonUnitLogs.SubscribeHaEvents(system); // as the unit's host does, before the unit's actors exist
        system.EventStream.Publish(new HaRoleObserved("FGVM02TM22000001", HaState.Work, HaRole.Primary, "FGVM02TM22000001"));
        system.Log.Info("first line of {0}", "the unit");
        var publishedAt = DateTime.UtcNow;

        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(10) && !(lines.ToString().Contains("HaRoleObserved") && lines.ToString().Contains("first line of the unit")))
            await Task.Delay(20);
        // The injection held: the loggers were not up when both were published.
        Assert.True(SlowToStartLogger.AnsweredAt > publishedAt, $"the slow logger answered at {SlowToStartLogger.AnsweredAt:O}, before the publish at {publishedAt:O}");
        var all = lines.ToString().Split('\n').Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        var ha = all.SingleOrDefault(e => e.TryGetProperty("EventKind", out var k) && k.GetString() == "ha");
        Assert.True(ha.ValueKind == JsonValueKind.Object, $"not one HA event line in:\n{lines}");
        Assert.Equal("HaRoleObserved", ha.GetProperty("HaEvent").GetString());
        Assert.Equal("Primary", ha.GetProperty("HaRole").GetString());
        Assert.Equal("FGVM02TM22000001", ha.GetProperty("HaPrimarySerial").GetString());
        Assert.Contains(all, e => e.GetProperty("@m").GetString() == "first line of the unit" && e.GetProperty("Origin").GetString() == "akka");
    }
}
