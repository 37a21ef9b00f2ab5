namespace ClusterActors.Node.Hosting.Logs;

/// <summary>How a unit writes its log lines: today's text, or one compact JSON (CLEF) object a line (README.md here).</summary>
public enum UnitLogFormat
{
    Text,
    Json
}

public static class UnitLogFormats
{
    /// <summary>The environment variable `clusteractors node` takes its log format from when --log-format is not given.</summary>
    public const string Variable = "CLUSTERACTORS_LOG_FORMAT";

    /// <summary>
    /// The option wins over the environment, the environment over the default (text). Anything but text or json is a
    /// usage mistake (exit 2, one line naming where the value came from), never a silent fallback to text: a log
    /// pipeline expecting JSON would otherwise get text without a word.
    /// </summary>
    public static UnitLogFormat Choose(string? option, string? environment)
    {
        if (option is not null) return Parse(option, "--log-format");
        if (!string.IsNullOrEmpty(environment)) return Parse(environment, Variable);
        return UnitLogFormat.Text;
    }

    private static UnitLogFormat Parse(string value, string where) => value.Trim().ToLowerInvariant() switch
    {
        "text" => UnitLogFormat.Text,
        "json" => UnitLogFormat.Json,
        _ => throw new UsageException($"{where} '{value}': expected text or json")
    };
}
