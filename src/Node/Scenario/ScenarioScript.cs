using ClusterActors.Protocol.Config;
using System.Globalization;
using System.Text.RegularExpressions;

namespace ClusterActors.Node.Scenario;

/// <summary>One step of a scenario script. <see cref="Text"/> is the line as written (trailing blanks removed), which
/// the runner echoes before the step's output; <see cref="Line"/> is 1-based.</summary>
public abstract record ScenarioStep
{
    public string Text { get; init; } = "";
    public int Line { get; init; }
}

/// <summary>`UNIT> COMMAND`: a FortiOS CLI command on one unit.</summary>
public sealed record CliStep(string Unit, string Command) : ScenarioStep;

/// <summary>`dial`: the IPsec client dials in.</summary>
public sealed record DialStep : ScenarioStep;

/// <summary>`kill UNIT`: abrupt stop, as a power cut.</summary>
public sealed record KillStep(string Unit) : ScenarioStep;

/// <summary>`start UNIT`: start a killed unit again on the same data.</summary>
public sealed record StartStep(string Unit) : ScenarioStep;

/// <summary>`link UNIT PORT down|up`: pull or plug a unit's cable.</summary>
public sealed record LinkStep(string Unit, string Port, bool Up) : ScenarioStep;

/// <summary>
/// `impair UNIT PORT [delay 50ms] [jitter 10ms] [loss 5%] [duplicate 1%] [rate 10mbit]` (netem on the port's egress) or
/// `impair UNIT PORT clear` (<see cref="Spec"/> null).
/// </summary>
public sealed record ImpairStep(string Unit, string Port, ClusterActors.Actors.DataPlane.ImpairmentSpec? Spec) : ScenarioStep;

/// <summary>`traffic start PPS [SIZE]`: PC1 starts echo requests to the Server at PPS with SIZE bytes of ICMP data.</summary>
public sealed record TrafficStartStep(int PacketsPerSecond, int PayloadSize) : ScenarioStep
{
    public const int DefaultPayloadSize = 56;
    public const int MaxPacketsPerSecond = 100_000;
    public const int MaxPayloadSize = 1472;
}

/// <summary>`traffic stop`: PC1 stops sending and waits for late replies.</summary>
public sealed record TrafficStopStep : ScenarioStep;

/// <summary>`traffic report`: sent, answered, lost, longest gap, which units forwarded.</summary>
public sealed record TrafficReportStep : ScenarioStep;

/// <summary>`router`: the DC router's ECMP next hops and their probe state.</summary>
public sealed record RouterStep : ScenarioStep;

/// <summary>`pcap start`: capture every segment of the lab's fabric from now on (bounded, <see cref="ClusterActors.Node.LabHarness.Fabric.FabricCapture"/>).</summary>
public sealed record PcapStartStep : ScenarioStep;

/// <summary>`pcap save DIR`: one pcapng per segment into DIR, and the tshark command that decrypts the tunnel's ESP.</summary>
public sealed record PcapSaveStep(string Directory) : ScenarioStep;

/// <summary>`wait 500ms`.</summary>
public sealed record WaitStep(TimeSpan Duration) : ScenarioStep;

/// <summary>`expect UNIT> COMMAND ~ REGEX [within 3s]`: the command's output must match before the time is up.</summary>
public sealed record ExpectStep(string Unit, string Command, Regex Pattern, TimeSpan Within) : ScenarioStep
{
    public static readonly TimeSpan DefaultWithin = TimeSpan.FromSeconds(3);
}

/// <summary>One located script error, compiler-style like the configuration language's errors.</summary>
public sealed record ScriptError(string Source, int Line, int Column, string Token, string Message, string? Expected = null, string? DidYouMean = null)
{
    public override string ToString()
    {
        var s = $"{Source}:{Line}:{Column}: error: {Message}";
        if (Token.Length > 0) s += $": '{Token}'";
        if (Expected is not null) s += $"; expected {Expected}";
        if (DidYouMean is not null) s += $"; did you mean '{DidYouMean}'?";
        return s;
    }
}

/// <summary>What one line parsed to: a step, nothing (blank or comment), or an error.</summary>
public readonly record struct ParsedLine(ScenarioStep? Step, ScriptError? Error)
{
    public bool IsEmpty => Step is null && Error is null;
}

/// <summary>
/// The scenario script language, one step a line:
/// <code>
/// UNIT> COMMAND                                    FortiOS CLI command on that unit
/// dial                                             the client dials in
/// kill UNIT | start UNIT                           abrupt stop | restart on the same data
/// link UNIT PORT down|up                           pull or plug a cable
/// impair UNIT PORT [delay T] [jitter T] [loss N%] [duplicate N%] [rate R] | impair UNIT PORT clear
///                                                  netem on the port's egress (e.g. delay 50ms jitter 10ms loss 5% rate 10mbit)
/// wait DURATION                                    e.g. 500ms, 3s, 1.5s, 2m
/// traffic start PPS [SIZE] | traffic stop | traffic report   PC1's echo traffic to the Server
/// router                                           the DC router's next hops and their state
/// pcap start | pcap save DIR                       capture every fabric segment | write one pcapng per segment to DIR
/// expect UNIT> COMMAND ~ REGEX [within DURATION]   default within 3s
/// # comment                                        whole-line comments only: a command or regex may contain '#'
/// </code>
/// Unit names are the scenario's, exactly as written there (a typo gets a "did you mean").
/// </summary>
public sealed partial class ScenarioScript(IReadOnlyList<string> units, string source = "script")
{
    public static readonly IReadOnlyList<string> Keywords = ["dial", "kill", "start", "link", "impair", "wait", "expect", "traffic", "router", "pcap"];

    private const string StepForms = "'UNIT> COMMAND', 'dial', 'kill UNIT', 'start UNIT', 'link UNIT PORT down|up', " +
                                     "'impair UNIT PORT [delay T] [jitter T] [loss N%] [duplicate N%] [rate R]|clear', 'wait DURATION', " +
                                     "'traffic start PPS [SIZE]', 'traffic stop', 'traffic report', 'router', 'pcap start', 'pcap save DIR' or 'expect UNIT> COMMAND ~ REGEX [within DURATION]'";

    public IReadOnlyList<string> Units { get; } = units;
    public string Source { get; } = source;

    /// <summary>Parses a whole script; every error is collected so a file can be fixed in one go.</summary>
    public (IReadOnlyList<ScenarioStep> Steps, IReadOnlyList<ScriptError> Errors) Parse(string text)
    {
        var steps = new List<ScenarioStep>();
        var errors = new List<ScriptError>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var parsed = ParseLine(lines[i], i + 1);
            if (parsed.Step is not null) steps.Add(parsed.Step);
            if (parsed.Error is not null) errors.Add(parsed.Error);
        }
        return (steps, errors);
    }

    public ParsedLine ParseLine(string line, int lineNumber)
    {
        var text = line.TrimEnd('\r', '\n', ' ', '\t');
        var body = text.TrimStart();
        if (body.Length == 0 || body.StartsWith('#')) return default;
        var indent = text.Length - body.Length;
        var cursor = new Cursor(this, lineNumber, text, indent);
        try
        {
            var step = ParseStep(cursor, body) with { Text = text, Line = lineNumber };
            return new ParsedLine(step, null);
        }
        catch (ScriptErrorException e)
        {
            return new ParsedLine(null, e.Error);
        }
    }

    private ScenarioStep ParseStep(Cursor c, string body)
    {
        var prompt = PromptRegex().Match(body);
        var first = FirstWord(body);
        // `UNIT> COMMAND`: the unit is whatever precedes '>', so a mistyped unit still reads as a CLI step.
        if (prompt.Success && !Keywords.Contains(first))
        {
            var (unit, command) = ParsePrompt(c, body, 0);
            return new CliStep(unit, command);
        }

        var words = body.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        switch (first)
        {
            case "dial":
                ExpectEnd(c, body, words, 1);
                return new DialStep();
            case "kill":
                ExpectEnd(c, body, words, 2);
                return new KillStep(Unit(c, body, words, 1));
            case "start":
                ExpectEnd(c, body, words, 2);
                return new StartStep(Unit(c, body, words, 1));
            case "link":
            {
                var unit = Unit(c, body, words, 1);
                if (words.Length < 3) throw c.Error(body.Length, "", "missing port", "a port name, e.g. port2");
                var port = words[2];
                if (!PortRegex().IsMatch(port)) throw c.Error(IndexOfWord(body, 2), port, "bad port name", "a port name, e.g. port2");
                if (words.Length < 4) throw c.Error(body.Length, "", "missing link state", "down or up");
                var up = words[3] switch
                {
                    "up" => true,
                    "down" => false,
                    var other => throw c.Error(IndexOfWord(body, 3), other, "unknown link state", "down or up", Suggest(other, ["down", "up"]))
                };
                ExpectEnd(c, body, words, 4);
                return new LinkStep(unit, port, up);
            }
            case "impair":
            {
                var unit = Unit(c, body, words, 1);
                if (words.Length < 3) throw c.Error(body.Length, "", "missing port", "a port name, e.g. port4");
                var port = words[2];
                if (!PortRegex().IsMatch(port)) throw c.Error(IndexOfWord(body, 2), port, "bad port name", "a port name, e.g. port4");
                if (words.Length > 3 && words[3] == "clear")
                {
                    ExpectEnd(c, body, words, 4);
                    return new ImpairStep(unit, port, null);
                }
                var knobs = words.Skip(3).ToArray();
                if (!ClusterActors.Actors.DataPlane.ImpairmentSpec.TryParse(knobs, out var spec, out var bad, out var message, out var expected))
                {
                    var token = bad < knobs.Length ? knobs[bad] : "";
                    var column = bad < knobs.Length ? IndexOfWord(body, 3 + bad) : body.Length;
                    var suggestion = bad < knobs.Length && message == "unknown impairment"
                        ? Suggest(token, ClusterActors.Actors.DataPlane.ImpairmentSpec.Keywords.Append("clear"))
                        : null;
                    throw c.Error(column, token, message, expected, suggestion);
                }
                return new ImpairStep(unit, port, spec);
            }
            case "wait":
            {
                if (words.Length < 2) throw c.Error(body.Length, "", "missing duration", "a duration, e.g. 500ms, 3s, 1.5s, 2m");
                var d = Duration(c, body, words[1], IndexOfWord(body, 1));
                ExpectEnd(c, body, words, 2);
                return new WaitStep(d);
            }
            case "expect":
                return ParseExpect(c, body);
            case "traffic":
                return ParseTraffic(c, body, words);
            case "router":
                ExpectEnd(c, body, words, 1);
                return new RouterStep();
            case "pcap":
                return ParsePcap(c, body, words);
            default:
                throw c.Error(0, first, "unknown step", StepForms,
                    Suggest(first, Keywords) ?? (Suggest(first, Units) is { } u ? u + ">" : null));
        }
    }

    private static readonly string[] TrafficActions = ["start", "stop", "report"];
    private static readonly string[] PcapActions = ["start", "save"];

    private static ScenarioStep ParsePcap(Cursor c, string body, string[] words)
    {
        if (words.Length < 2) throw c.Error(body.Length, "", "missing pcap action", "start or save DIR");
        switch (words[1])
        {
            case "start":
                ExpectEnd(c, body, words, 2);
                return new PcapStartStep();
            case "save":
                if (words.Length < 3) throw c.Error(body.Length, "", "missing directory", "a directory for the pcapng files");
                ExpectEnd(c, body, words, 3);
                return new PcapSaveStep(words[2]);
            default:
                throw c.Error(IndexOfWord(body, 1), words[1], "unknown pcap action", "start or save DIR", Suggest(words[1], PcapActions));
        }
    }

    private static ScenarioStep ParseTraffic(Cursor c, string body, string[] words)
    {
        if (words.Length < 2) throw c.Error(body.Length, "", "missing traffic action", "start PPS [SIZE], stop or report");
        switch (words[1])
        {
            case "stop":
                ExpectEnd(c, body, words, 2);
                return new TrafficStopStep();
            case "report":
                ExpectEnd(c, body, words, 2);
                return new TrafficReportStep();
            case "start":
            {
                if (words.Length < 3) throw c.Error(body.Length, "", "missing rate", $"packets per second, 1-{TrafficStartStep.MaxPacketsPerSecond}");
                var pps = Number(c, body, words, 2, 1, TrafficStartStep.MaxPacketsPerSecond, "packets per second");
                var size = words.Length > 3
                    ? Number(c, body, words, 3, 0, TrafficStartStep.MaxPayloadSize, "ICMP data bytes")
                    : TrafficStartStep.DefaultPayloadSize;
                ExpectEnd(c, body, words, 4);
                return new TrafficStartStep(pps, size);
            }
            default:
                throw c.Error(IndexOfWord(body, 1), words[1], "unknown traffic action", "start PPS [SIZE], stop or report", Suggest(words[1], TrafficActions));
        }
    }

    private static int Number(Cursor c, string body, string[] words, int index, int min, int max, string what)
    {
        if (int.TryParse(words[index], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max) return n;
        throw c.Error(IndexOfWord(body, index), words[index], $"bad {what}", $"a whole number {min}-{max}");
    }

    private ExpectStep ParseExpect(Cursor c, string body)
    {
        var start = "expect".Length;
        while (start < body.Length && char.IsWhiteSpace(body[start])) start++;
        if (start >= body.Length) throw c.Error(body.Length, "", "missing command", "'expect UNIT> COMMAND ~ REGEX [within DURATION]'");
        var tilde = body.IndexOf(" ~ ", start, StringComparison.Ordinal);
        if (tilde < 0)
        {
            if (body.EndsWith(" ~", StringComparison.Ordinal))
                throw c.Error(body.Length, "", "missing regex", "a regular expression after ' ~ '");
            throw c.Error(body.Length, "", "missing ' ~ REGEX'", "' ~ ' and a regular expression after the command");
        }
        var (unit, command) = ParsePrompt(c, body[..tilde], start);

        var patternStart = tilde + 3;
        var pattern = body[patternStart..];
        var within = ExpectStep.DefaultWithin;
        var w = WithinRegex().Match(pattern);
        if (w.Success)
        {
            within = Duration(c, body, w.Groups["d"].Value, patternStart + w.Groups["d"].Index);
            pattern = pattern[..w.Index];
        }
        else if (BadWithinRegex().Match(pattern) is { Success: true } bad)
        {
            // ` within 3x`: surely meant as a duration, not as part of the regex.
            Duration(c, body, bad.Groups["d"].Value, patternStart + bad.Groups["d"].Index);
        }
        if (pattern.Trim().Length == 0) throw c.Error(patternStart, "", "missing regex", "a regular expression after ' ~ '");
        Regex regex;
        try
        {
            regex = new Regex(pattern, RegexOptions.Multiline | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException e)
        {
            throw c.Error(patternStart, pattern, $"bad regex ({e.Message})", "a .NET regular expression");
        }
        return new ExpectStep(unit, command, regex, within);
    }

    /// <summary>`UNIT> COMMAND` starting at <paramref name="from"/>.</summary>
    private (string Unit, string Command) ParsePrompt(Cursor c, string body, int from)
    {
        var m = PromptRegex().Match(body[from..]);
        if (!m.Success)
            throw c.Error(from, FirstWord(body[from..]), "expected 'UNIT> COMMAND'", "a unit name followed by '>' and a FortiOS command");
        var unit = m.Groups["unit"].Value;
        CheckUnit(c, unit, from);
        var command = m.Groups["command"].Value.Trim();
        if (command.Length == 0)
            throw c.Error(from + m.Groups["command"].Index, "", $"missing command after '{unit}>'", "a FortiOS command, e.g. get system status");
        return (unit, command);
    }

    private string Unit(Cursor c, string body, string[] words, int index)
    {
        if (words.Length <= index) throw c.Error(body.Length, "", "missing unit", "one of: " + string.Join(", ", Units));
        CheckUnit(c, words[index], IndexOfWord(body, index));
        return words[index];
    }

    private void CheckUnit(Cursor c, string unit, int column)
    {
        if (Units.Contains(unit)) return;
        throw c.Error(column, unit, "unknown unit", "one of: " + string.Join(", ", Units), Suggest(unit, Units));
    }

    private static void ExpectEnd(Cursor c, string body, string[] words, int count)
    {
        if (words.Length > count)
            throw c.Error(IndexOfWord(body, count), words[count], "unexpected word", "the end of the line");
    }

    private static TimeSpan Duration(Cursor c, string body, string token, int column) =>
        TryParseDuration(token, out var d)
            ? d
            : throw c.Error(column, token, "bad duration", "a number and a unit: ms, s or m (e.g. 500ms, 3s, 1.5s, 2m)");

    /// <summary>`500ms`, `3s`, `1.5s`, `2m`.</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = default;
        var m = DurationRegex().Match(text);
        if (!m.Success) return false;
        var n = double.Parse(m.Groups["n"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
        var ms = m.Groups["u"].Value switch { "ms" => n, "s" => n * 1000, _ => n * 60_000 };
        if (ms > TimeSpan.FromDays(1).TotalMilliseconds) return false;
        duration = TimeSpan.FromMilliseconds(Math.Round(ms));
        return true;
    }

    /// <summary>The shortest way to write a duration back in the script's own notation.</summary>
    public static string FormatDuration(TimeSpan d)
    {
        var ms = (long)Math.Round(d.TotalMilliseconds);
        if (ms >= 60_000 && ms % 60_000 == 0) return $"{ms / 60_000}m";
        if (ms >= 1000 && ms % 100 == 0) return (ms / 1000.0).ToString("0.#", CultureInfo.InvariantCulture) + "s";
        return $"{ms}ms";
    }

    private static string FirstWord(string s)
    {
        var t = s.TrimStart();
        var end = 0;
        while (end < t.Length && !char.IsWhiteSpace(t[end])) end++;
        return t[..end];
    }

    private static int IndexOfWord(string body, int index)
    {
        var i = 0;
        for (var w = 0; ; w++)
        {
            while (i < body.Length && char.IsWhiteSpace(body[i])) i++;
            if (w == index || i >= body.Length) return i;
            while (i < body.Length && !char.IsWhiteSpace(body[i])) i++;
        }
    }

    public static string? Suggest(string word, IEnumerable<string> options) => DidYouMean.Suggest(word, options);

    [GeneratedRegex(@"^(?<unit>[A-Za-z0-9_.\-]+)\s*>(?<command>.*)$")]
    private static partial Regex PromptRegex();

    [GeneratedRegex(@"^[A-Za-z0-9_.\-]+$")]
    private static partial Regex PortRegex();

    [GeneratedRegex(@"^(?<n>\d+(\.\d+)?)(?<u>ms|s|m)$")]
    private static partial Regex DurationRegex();

    [GeneratedRegex(@" within (?<d>\d+(\.\d+)?(ms|s|m))\s*$")]
    private static partial Regex WithinRegex();

    [GeneratedRegex(@" within (?<d>\d\S*)\s*$")]
    private static partial Regex BadWithinRegex();

    /// <summary>Turns a position within the step's body into a located error.</summary>
    private sealed class Cursor(ScenarioScript script, int line, string text, int indent)
    {
        public ScriptErrorException Error(int bodyIndex, string token, string message, string? expected = null, string? didYouMean = null) =>
            new(new ScriptError(script.Source, line, indent + bodyIndex + 1, token, message, expected, didYouMean));

        public string Text => text;
    }

    private sealed class ScriptErrorException(ScriptError error) : Exception(error.ToString())
    {
        public ScriptError Error { get; } = error;
    }
}
