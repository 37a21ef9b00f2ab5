using System.Globalization;
using System.Text.RegularExpressions;

namespace ClusterActors.Node.Hosting.Metrics;

/// <summary>One sample of a scrape: the series' name, its labels and its value.</summary>
public sealed record MetricSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    /// <summary>Whether every one of <paramref name="labels"/> ("role=primary") is on this sample.</summary>
    public bool Has(params string[] labels) => labels.All(l =>
    {
        var eq = l.IndexOf('=');
        return Labels.TryGetValue(l[..eq], out var v) && v == l[(eq + 1)..];
    });
}

/// <summary>
/// Reads Prometheus's text exposition format (what a unit's /metrics serves), so that specs and drills can read a
/// unit's figures as Prometheus would. Comment lines and anything that is not a sample are skipped, never thrown on.
/// </summary>
public static partial class PrometheusText
{
    public static IReadOnlyList<MetricSample> Parse(string text)
    {
        var samples = new List<MetricSample>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#') continue;
            var m = Sample().Match(line);
            if (!m.Success) continue;
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Match l in Label().Matches(m.Groups["labels"].Value))
                labels[l.Groups[1].Value] = l.Groups[2].Value.Replace("\\\"", "\"").Replace("\\n", "\n").Replace("\\\\", "\\");
            var value = m.Groups["value"].Value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                var v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : double.NaN
            };
            samples.Add(new MetricSample(m.Groups["name"].Value, labels, value));
        }
        return samples;
    }

    /// <summary>The value of the one sample named <paramref name="name"/> with <paramref name="labels"/>; null when there is none.</summary>
    public static double? Value(IReadOnlyList<MetricSample> samples, string name, params string[] labels) =>
        samples.FirstOrDefault(s => s.Name == name && s.Has(labels))?.Value;

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\d+)?$")]
    private static partial Regex Sample();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex Label();
}
