using System.Text;
using Akka.Actor;
using Akka.Dispatch;
using InitializeLogger = Akka.Event.InitializeLogger;
using LoggerInitialized = Akka.Event.LoggerInitialized;
using ILoggerMessageQueueSemantics = Akka.Event.ILoggerMessageQueueSemantics;
using LogEvent = Serilog.Events.LogEvent;
using ClusterActors.Actors.Telemetry;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Compact;
using Serilog.Parsing;

namespace ClusterActors.Node.Hosting.Logs;

/// <summary>
/// `--log-format json`: every line the unit writes becomes one rendered compact JSON (CLEF) object on the same stream
/// (README.md here, "Log format"). Akka's own log events come through <see cref="SerilogAkkaLogger"/>; the host's
/// own lines (today's Console.Out / Console.Error writes) through a line writer put in place of the console, so that
/// no call site changes and the text format stays byte for byte what it was.
/// </summary>
public sealed class JsonUnitLogs : IDisposable
{
    /// <summary>Akka's logging into Serilog, and no text from Akka's standard-out logger before it is up.</summary>
    public const string AkkaHocon = """
        akka.loggers = ["ClusterActors.Node.Hosting.Logs.SerilogAkkaLogger, clusteractors"]
        akka.stdout-loglevel = OFF
        """;

    private readonly TextWriter _out;
    private readonly TextWriter _err;
    private readonly LineLogWriter _outLines;
    private readonly LineLogWriter _errLines;
    private readonly Logger _logger;

    private JsonUnitLogs(TextWriter stdout, TextWriter stderr, string hostname, string serial)
    {
        _out = stdout;
        _err = stderr;
        // Two pipelines, one per stream: a line goes out on the stream it was written to, as in text.
        var toOut = Pipeline(stdout, hostname, serial);
        var toErr = Pipeline(stderr, hostname, serial);
        _logger = toOut;
        _outLines = new LineLogWriter(toOut, "stdout");
        _errLines = new LineLogWriter(toErr, "stderr");
        Akka = toOut;
        ErrLogger = toErr;
    }

    /// <summary>Where <see cref="SerilogAkkaLogger"/> writes (stdout, where Akka's standard-out logger wrote).</summary>
    internal static Serilog.ILogger? Akka { get; private set; }
    private Logger ErrLogger { get; }

    /// <summary>Replaces the console's writers until disposed. One unit per process: hostname and serial are the process's.</summary>
    public static JsonUnitLogs Install(string hostname, string serial)
    {
        var logs = new JsonUnitLogs(Console.Out, Console.Error, hostname, serial);
        Console.SetOut(TextWriter.Synchronized(logs._outLines));
        Console.SetError(TextWriter.Synchronized(logs._errLines));
        return logs;
    }

    /// <summary>Akka's side only, onto a writer: for specs of <see cref="SerilogAkkaLogger"/> in a process that keeps its console.</summary>
    public static IDisposable CaptureAkka(TextWriter to, string hostname, string serial)
    {
        var logger = Pipeline(to, hostname, serial);
        Akka = logger;
        return new Released(() =>
        {
            Akka = null;
            logger.Dispose();
        });
    }

    private sealed class Released(Action release) : IDisposable
    {
        public void Dispose() => release();
    }

    private static Logger Pipeline(TextWriter to, string hostname, string serial) => new Serilog.LoggerConfiguration()
        .MinimumLevel.Verbose() // Akka's own akka.loglevel filters before; the host's lines are all kept
        .Enrich.WithProperty("Hostname", hostname)
        .Enrich.WithProperty("Serial", serial)
        .WriteTo.Sink(new LineSink(new RenderedCompactJsonFormatter(), to))
        .CreateLogger();

    public void Dispose()
    {
        _outLines.Flush();
        _errLines.Flush();
        Console.SetOut(_out);
        Console.SetError(_err);
        Akka = null;
        _logger.Dispose();
        ErrLogger.Dispose();
    }

    /// <summary>One formatted event a line, written and flushed under a lock (Akka's logger and the host write concurrently).</summary>
    private sealed class LineSink(ITextFormatter formatter, TextWriter to) : ILogEventSink
    {
        public void Emit(LogEvent e)
        {
            var line = new StringWriter();
            formatter.Format(e, line); // the formatter ends the object with a newline
            lock (to)
            {
                to.Write(line.ToString());
                to.Flush();
            }
        }
    }

    internal static readonly MessageTemplate HostTemplate = new MessageTemplateParser().Parse("{Line:l}");
    internal static readonly MessageTemplate AkkaTemplate = new MessageTemplateParser().Parse("{AkkaMessage:l}");

    /// <summary>The host's text lines as events: each completed line is one Information event with Origin=host and its stream.</summary>
    private sealed class LineLogWriter(Serilog.ILogger logger, string stream) : TextWriter
    {
        private readonly StringBuilder _line = new();
        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            if (value == '\n') Emit();
            else if (value != '\r') _line.Append(value);
        }

        public override void Write(string? value)
        {
            if (value is null) return;
            foreach (var c in value) Write(c);
        }

        public override void Flush()
        {
            if (_line.Length > 0) Emit();
        }

        private void Emit()
        {
            var text = _line.ToString();
            _line.Clear();
            logger.Write(new LogEvent(DateTimeOffset.Now, LogEventLevel.Information, null, HostTemplate,
            [
                new LogEventProperty("Line", new ScalarValue(text)),
                new LogEventProperty("Origin", new ScalarValue("host")),
                new LogEventProperty("Stream", new ScalarValue(stream))
            ]));
        }
    }
}

/// <summary>
/// Akka's logger (akka.loggers) writing into the unit's Serilog pipeline: level, rendered message, log source (the
/// actor path or the extension), log class and the cause. It also turns the HA events of the event stream (the ones
/// `diagnose sys ha history` and the metrics are made from) into lines a pipeline selects by EventKind=ha.
/// </summary>
public sealed class SerilogAkkaLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    public SerilogAkkaLogger()
    {
        Receive<InitializeLogger>(_ =>
        {
            Context.System.EventStream.Subscribe(Self, typeof(IUnitTelemetryEvent));
            Sender.Tell(new LoggerInitialized());
        });
        Receive<Akka.Event.LogEvent>(e => Write(Level(e.LogLevel()), e.Timestamp, e.Cause, e.Message?.ToString() ?? "",
            [new LogEventProperty("LogSource", new ScalarValue(e.LogSource)), ..
            // Akka's placeholder class for string sources says nothing: left out.
            e.LogClass is { } c && c != typeof(Akka.Event.DummyClassForStringSources)
                ? new[] { new LogEventProperty("LogClass", new ScalarValue(c.FullName)) }
                : []]));
        Receive<IUnitTelemetryEvent>(e =>
        {
            if (e is not (HaRoleObserved or HaElectionObserved or HaMembersObserved or HaMemberLostObserved)) return;
            // The record's fields as properties (Serial, Role, PrimarySerial, Why, ...): no secret is in an HA event.
            var fields = e.GetType().GetProperties().Select(p => new LogEventProperty("Ha" + p.Name, new ScalarValue(p.GetValue(e)?.ToString())));
            Write(LogEventLevel.Information, DateTime.UtcNow, null, e.ToString() ?? "",
                [new LogEventProperty("EventKind", new ScalarValue("ha")), new LogEventProperty("HaEvent", new ScalarValue(e.GetType().Name)), .. fields]);
        });
    }

    private static void Write(LogEventLevel level, DateTime timestamp, Exception? cause, string message, IEnumerable<LogEventProperty> more)
    {
        if (JsonUnitLogs.Akka is not { } logger) return;
        logger.Write(new Serilog.Events.LogEvent(new DateTimeOffset(DateTime.SpecifyKind(timestamp, DateTimeKind.Utc)), level, cause,
            JsonUnitLogs.AkkaTemplate,
            [new LogEventProperty("AkkaMessage", new ScalarValue(message)), new LogEventProperty("Origin", new ScalarValue("akka")), .. more]));
    }

    private static LogEventLevel Level(Akka.Event.LogLevel level) => level switch
    {
        Akka.Event.LogLevel.DebugLevel => LogEventLevel.Debug,
        Akka.Event.LogLevel.InfoLevel => LogEventLevel.Information,
        Akka.Event.LogLevel.WarningLevel => LogEventLevel.Warning,
        _ => LogEventLevel.Error
    };
}
