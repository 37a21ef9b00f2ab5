using System.Diagnostics;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using ClusterActors.Node.Hosting.Logs;

namespace ClusterActors.Node.Tests.Logs;

/// <summary>Akka's logging through <see cref="SerilogAkkaLogger"/>: an error with its cause, as one CLEF line.</summary>
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
}
