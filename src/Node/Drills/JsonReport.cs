using System.Text.Encodings.Web;
using System.Text.Json;

namespace ClusterActors.Node.Drills;

/// <summary>
/// A run's report as JSON: the same data as the Markdown, machine readable. Field names are the result's properties in
/// snake_case (`verdict`, `drill`, `phases[].detection_ms`, `roles[].actual_ha`, `timeline.forwarded.DC2_VM1[]` …);
/// times are milliseconds, on the timeline (since the tunnel came up) unless the name says after the fault.
/// </summary>
public static class JsonReport
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // ≤, ×, ✓ and the units' names as they are: the file is read by people too.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Render(DrillRunResult result) => JsonSerializer.Serialize(result, Options) + "\n";
}
