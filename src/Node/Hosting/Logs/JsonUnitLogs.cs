using System.Text;
using Akka.Actor;
using MinimalLogger = Akka.Event.MinimalLogger;
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
    /// <remarks>
    /// Akka's standard-out logger is ours (<see cref="SerilogAkkaLogger"/>), and it is the only logger (a minimal
    /// logger named in akka.loggers keeps it, as hocon/cluster.conf keeps Akka's own for text), at akka.loglevel.
    /// The HA events: <see cref="SubscribeHaEvents"/>, once the ActorSystem is built and before the unit's actors exist.
    /// </remarks>
    public const string AkkaHocon = """
        akka.stdout-logger-class = "ClusterActors.Node.Hosting.Logs.SerilogAkkaLogger, clusteractors"
        akka.loggers = ["ClusterActors.Node.Hosting.Logs.SerilogAkkaLogger, clusteractors"]
        akka.stdout-loglevel = ${akka.loglevel}
        """;

    private readonly TextWriter _out;
    private readonly TextWriter _err;
    private readonly LineLogWriter _outLines;
    private readonly LineLogWriter _errLines;
    private readonly Logger _logger;

    private readonly TextWriter _originalOut = Console.Out;
    private readonly TextWriter _originalErr = Console.Error;

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

    /// <summary>
    /// Subscribes the system's <see cref="SerilogAkkaLogger"/> to the HA events: called by the host right after
    /// ActorSystem.Create (UnitHost's systemBuilt, on every incarnation), before any actor of the unit exists, so that
    /// FGCP's first role is a line whatever the timing (the metrics are subscribed at the same point for the same reason).
    /// </summary>
    /// <exception cref="InvalidOperationException">The system was not built with <see cref="AkkaHocon"/>: Akka's own
    /// standard-out logger would print the events as text.</exception>
    public static void SubscribeHaEvents(ActorSystem system)
    {
        if (system.Settings.StdoutLogger is not SerilogAkkaLogger logger)
            throw new InvalidOperationException($"the ActorSystem's standard-out logger is {system.Settings.StdoutLogger.GetType().Name}, not {nameof(SerilogAkkaLogger)}: build it with {nameof(JsonUnitLogs)}.{nameof(AkkaHocon)}");
        system.EventStream.Subscribe(logger, typeof(IUnitTelemetryEvent));
    }

    /// <summary>Replaces the console's writers until disposed. One unit per process: hostname and serial are the process's.</summary>
    /// <remarks>
    /// The JSON lines go to the process's file descriptors 1 and 2 through writers of their own, never through the
    /// console's: on Unix every write of a console stream takes the lock of <see cref="Console.Out"/>
    /// (ConsolePal.Write), which is here the synchronized line writer the host's lines hold while they wait for the
    /// sink's lock. A unit whose host printed its "up" line while Akka logged deadlocked on those two locks and wrote
    /// nothing more (1 start in 40 here, twice in CI: JsonLogsProcessSpec, README.md here "The silent start").
    /// </remarks>
    public static JsonUnitLogs Install(string hostname, string serial)
    {
        var logs = new JsonUnitLogs(Descriptor(1, Console.OpenStandardOutput), Descriptor(2, Console.OpenStandardError), hostname, serial);
        Console.SetOut(TextWriter.Synchronized(logs._outLines));
        Console.SetError(TextWriter.Synchronized(logs._errLines));
        return logs;
    }

    /// <summary>A writer straight onto a file descriptor the process inherited (a pipe, a file, a terminal), not owned:
    /// the console's stream where the descriptor cannot be opened so (not Unix).</summary>
    private static TextWriter Descriptor(int fd, Func<Stream> console)
    {
        Stream stream;
        try
        {
            stream = OperatingSystem.IsWindows()
                ? console()
                : new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: false), FileAccess.Write, bufferSize: 0);
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            stream = console();
        }
        return new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)) { AutoFlush = false };
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
        Console.SetOut(_originalOut);
        Console.SetError(_originalErr);
        Akka = null;
        _logger.Dispose();
        ErrLogger.Dispose();
        lock (_out) _out.Flush();
        lock (_err) _err.Flush();
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
/// Akka's logger in JSON (akka.stdout-logger-class and akka.loggers): level, rendered message, log source (the actor
/// path or the extension), log class and the cause, into the unit's Serilog pipeline; and the HA events of the event
/// stream (the ones `diagnose sys ha history` and the metrics are made from) as lines a pipeline selects by
/// EventKind=ha. A <see cref="MinimalLogger"/>, as Akka's StandardOutLogger that the text format uses: it writes on
/// the thread that publishes, and it is subscribed while the ActorSystem is built (Akka's log events) and right after
/// (the HA events, <see cref="JsonUnitLogs.SubscribeHaEvents"/>), before any actor of the unit exists.
/// Not a logger actor: Akka subscribes a logger actor only once it answered InitializeLogger, and does not wait for
/// that longer than logger-startup-timeout, so what was published before (FGCP's first role, Akka's first lines) was
/// lost without a trace (README.md here, "The missing Primary").
/// </summary>
public sealed class SerilogAkkaLogger : MinimalLogger
{
    protected override void Log(object message)
    {
        switch (message)
        {
            case Akka.Event.LogEvent e:
                // Akka's log filters (LogFilterSetup), as its StandardOutLogger applies them.
                if (!Filter.ShouldTryKeepMessage(e, out _)) return;
                Write(Level(e.LogLevel()), e.Timestamp, e.Cause, Rendered(e),
                    [new LogEventProperty("LogSource", new ScalarValue(e.LogSource)), ..
                    // Akka's placeholder class for string sources says nothing: left out.
                    e.LogClass is { } c && c != typeof(Akka.Event.DummyClassForStringSources)
                        ? new[] { new LogEventProperty("LogClass", new ScalarValue(c.FullName)) }
                        : []]);
                break;
            case HaRoleObserved or HaElectionObserved or HaMembersObserved or HaMemberLostObserved:
                // The record's fields as properties (Serial, Role, PrimarySerial, Why, ...): no secret is in an HA event.
                var fields = message.GetType().GetProperties().Select(p => new LogEventProperty("Ha" + p.Name, new ScalarValue(p.GetValue(message)?.ToString())));
                Write(LogEventLevel.Information, DateTime.UtcNow, null, message.ToString() ?? "",
                    [new LogEventProperty("EventKind", new ScalarValue("ha")), new LogEventProperty("HaEvent", new ScalarValue(message.GetType().Name)), .. fields]);
                break;
            // Other telemetry (tunnel roles, ...) is for the metrics; nothing else is sent to a logger.
        }
    }

    /// <summary>
    /// The message as Akka renders it; a format string that does not match its arguments is a line all the same (the
    /// format and the arguments, as Akka's StandardOutLogger prints them), never an exception on the logging thread.
    /// </summary>
    private static string Rendered(Akka.Event.LogEvent e)
    {
        try
        {
            return e.Message?.ToString() ?? "";
        }
        catch (FormatException)
        {
            return e.Message is Akka.Event.LogMessage m ? $"{m.Format} (arguments: {m.Unformatted()})" : "";
        }
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
