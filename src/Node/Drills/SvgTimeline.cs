using System.Globalization;
using System.Text;

namespace ClusterActors.Node.Drills;

/// <summary>
/// The run's timeline as a hand-written SVG: one step line per unit (packets it forwarded out of the tunnel per 100 ms),
/// PC1's answered requests dashed, a vertical marker at each fault, detection and role change, axes in seconds, a legend.
/// </summary>
public static class SvgTimeline
{
    private const int Width = 960, Height = 440, Left = 64, Right = 24, Top = 56, Bottom = 112;
    private const int PlotWidth = Width - Left - Right, PlotHeight = Height - Top - Bottom;

    /// <summary>Average advance of a sans-serif character at 10 and 12 px, to lay labels out without measuring text.</summary>
    private const double CharWidth10 = 5.8, CharWidth12 = 7.0;

    private static readonly string[] Palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"];

    private static readonly (string Kind, string Color, string Dash, string Label)[] MarkerStyles =
    [
        ("setup", "#8c564b", "", "setup fault"),
        ("fault", "#d62728", "", "fault"),
        ("unit-up", "#7f7f7f", "1,3", "unit runs again"),
        ("detection", "#ff9900", "2,3", "detection"),
        ("role-change", "#17becf", "6,3", "role change"),
    ];

    public static string Render(DrillRunResult r)
    {
        var c = CultureInfo.InvariantCulture;
        var tl = r.Timeline;
        var markers = r.Events.Where(e => MarkerStyles.Any(m => m.Kind == e.Kind)).ToList();
        var lastMs = Math.Max(1000, Math.Max(tl.AtMs.Count > 0 ? tl.AtMs[^1] : 0, r.Events.Count > 0 ? r.Events.Max(e => e.AtMs) : 0));
        var step = NiceStep(lastMs / 1000, [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300], 12);
        var tMax = Math.Ceiling(lastMs / 1000 / step) * step;
        // Samples are not exactly an interval apart on a busy machine: each count is drawn per nominal interval, so a
        // late sample does not show as a spike after a dip. The JSON keeps the raw counts and their times.
        var forwarded = tl.Units.ToDictionary(u => u, u => PerInterval(tl, tl.Forwarded[u]));
        var answered = PerInterval(tl, tl.Answered);
        var peak = forwarded.Values.SelectMany(v => v).Concat(answered).DefaultIfEmpty(0).Max();
        var yStep = NiceStep(Math.Max(peak, r.RatePps * tl.IntervalMs / 1000) * 1.1, [5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000], 6);
        var yMax = Math.Ceiling(Math.Max(peak, r.RatePps * tl.IntervalMs / 1000) * 1.1 / yStep) * yStep;
        double X(double ms) => Left + ms / 1000 / tMax * PlotWidth;
        double Y(double v) => Top + PlotHeight - v / yMax * PlotHeight;
        string N(double v) => v.ToString("0.#", c);

        var sb = new StringBuilder();
        sb.Append(c, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append(c, $"<title>{X_(r.Drill)} run {r.Run}: {(r.Passed ? "PASS" : "FAIL")}</title>\n");
        sb.Append(c, $"<desc>{X_(r.Title)}. Packets per {N(tl.IntervalMs)} ms forwarded out of the tunnel by each unit (each sample's count scaled to {N(tl.IntervalMs)} ms), PC1's answered echo requests, and the drill's faults, detections and role changes.</desc>\n");
        sb.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        sb.Append(c, $"<text x=\"{Left}\" y=\"24\" font-size=\"16\" font-weight=\"bold\">{X_(r.Drill)} run {r.Run}: {(r.Passed ? "PASS" : "FAIL")}</text>\n");
        sb.Append(c, $"<text x=\"{Left}\" y=\"42\" fill=\"#444\">{X_(r.Title)}; PC1 at {N(r.RatePps)} pps, packets per {N(tl.IntervalMs)} ms through each unit</text>\n");

        // Grid and axes.
        sb.Append("<g class=\"axes\" stroke=\"#ccc\" stroke-width=\"1\">\n");
        for (var v = 0.0; v <= yMax + 1e-9; v += yStep)
            sb.Append(c, $"<line x1=\"{Left}\" y1=\"{N(Y(v))}\" x2=\"{Left + PlotWidth}\" y2=\"{N(Y(v))}\"/>\n");
        for (var s = 0.0; s <= tMax + 1e-9; s += step)
            sb.Append(c, $"<line x1=\"{N(X(s * 1000))}\" y1=\"{Top}\" x2=\"{N(X(s * 1000))}\" y2=\"{Top + PlotHeight}\"/>\n");
        sb.Append("</g>\n");
        sb.Append(c, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{PlotWidth}\" height=\"{PlotHeight}\" fill=\"none\" stroke=\"#333\"/>\n");
        sb.Append("<g class=\"tick-labels\" fill=\"#333\">\n");
        for (var v = 0.0; v <= yMax + 1e-9; v += yStep)
            sb.Append(c, $"<text x=\"{Left - 6}\" y=\"{N(Y(v) + 4)}\" text-anchor=\"end\">{N(v)}</text>\n");
        for (var s = 0.0; s <= tMax + 1e-9; s += step)
            sb.Append(c, $"<text x=\"{N(X(s * 1000))}\" y=\"{Top + PlotHeight + 16}\" text-anchor=\"middle\">{N(s)} s</text>\n");
        sb.Append("</g>\n");
        sb.Append(c, $"<text class=\"axis-label\" x=\"{Left + PlotWidth / 2}\" y=\"{Top + PlotHeight + 36}\" text-anchor=\"middle\">time since the tunnel came up (s)</text>\n");
        sb.Append(c, $"<text class=\"axis-label\" transform=\"translate(16 {Top + PlotHeight / 2}) rotate(-90)\" text-anchor=\"middle\">packets per {N(tl.IntervalMs)} ms</text>\n");

        // Series: a step per interval, from the previous sample to this one.
        string Steps(IReadOnlyList<double> values)
        {
            var points = new StringBuilder();
            var previous = 0.0;
            for (var i = 0; i < values.Count && i < tl.AtMs.Count; i++)
            {
                var y = N(Y(values[i]));
                points.Append(c, $"{N(X(previous))},{y} {N(X(tl.AtMs[i]))},{y} ");
                previous = tl.AtMs[i];
            }
            return points.ToString().TrimEnd();
        }
        sb.Append("<g class=\"series\" fill=\"none\" stroke-width=\"1.5\">\n");
        for (var i = 0; i < tl.Units.Count; i++)
        {
            var unit = tl.Units[i];
            sb.Append(c, $"<polyline data-unit=\"{X_(unit)}\" stroke=\"{Palette[i % Palette.Length]}\" points=\"{Steps(forwarded[unit])}\"/>\n");
        }
        sb.Append(c, $"<polyline data-series=\"PC1 answered\" stroke=\"#999\" stroke-dasharray=\"4,3\" points=\"{Steps(answered)}\"/>\n");
        sb.Append("</g>\n");

        // Markers, labelled across the top of the plot in rows, so that close ones stay readable.
        sb.Append("<g class=\"markers\" font-size=\"10\">\n");
        var rowEnds = new List<double>();
        foreach (var e in markers.OrderBy(e => e.AtMs))
        {
            var style = MarkerStyles.First(m => m.Kind == e.Kind);
            var x = X(e.AtMs);
            var label = $"{e.Text} ({(e.AtMs / 1000).ToString("0.000", c)} s)";
            var width = label.Length * CharWidth10;
            // Past the middle a label reads leftwards from its line, so it stays inside the plot.
            var leftwards = x + 3 + width > Left + PlotWidth;
            var (from, to) = leftwards ? (x - 3 - width, x) : (x, x + 3 + width);
            var row = rowEnds.FindIndex(end => end < from);
            if (row < 0)
            {
                row = rowEnds.Count;
                rowEnds.Add(to);
            }
            else rowEnds[row] = to;
            var dash = style.Dash.Length > 0 ? $" stroke-dasharray=\"{style.Dash}\"" : "";
            sb.Append(c, $"<line class=\"marker {e.Kind}\" x1=\"{N(x)}\" y1=\"{Top}\" x2=\"{N(x)}\" y2=\"{Top + PlotHeight}\" stroke=\"{style.Color}\" stroke-width=\"1.5\"{dash}><title>{X_(label)}</title></line>\n");
            sb.Append(c, $"<text class=\"marker-label {e.Kind}\" x=\"{N(leftwards ? x - 3 : x + 3)}\" y=\"{Top + 12 + row % 8 * 13}\"{(leftwards ? " text-anchor=\"end\"" : "")} ");
            sb.Append(c, $"fill=\"{style.Color}\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\">{X_(label)}</text>\n");
        }
        sb.Append("</g>\n");

        // Legend: units, PC1, the marker kinds present.
        sb.Append("<g class=\"legend\">\n");
        var lx = (double)Left;
        var ly = Top + PlotHeight + 62;
        void Item(string text, string color, string dash, string cls)
        {
            var d = dash.Length > 0 ? $" stroke-dasharray=\"{dash}\"" : "";
            sb.Append(c, $"<line class=\"{cls}\" x1=\"{N(lx)}\" y1=\"{ly - 4}\" x2=\"{N(lx + 22)}\" y2=\"{ly - 4}\" stroke=\"{color}\" stroke-width=\"2\"{d}/>\n");
            sb.Append(c, $"<text x=\"{N(lx + 28)}\" y=\"{ly}\">{X_(text)}</text>\n");
            lx += 40 + text.Length * CharWidth12;
            if (lx > Width - 160)
            {
                lx = Left;
                ly += 18;
            }
        }
        for (var i = 0; i < tl.Units.Count; i++) Item(tl.Units[i], Palette[i % Palette.Length], "", "legend-unit");
        Item("PC1 answered", "#999", "4,3", "legend-pc1");
        foreach (var m in MarkerStyles.Where(m => markers.Any(e => e.Kind == m.Kind))) Item(m.Label, m.Color, m.Dash, "legend-marker");
        sb.Append("</g>\n");
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    /// <summary>Each interval's count scaled to the nominal interval (the sample's real interval is at least half of it).</summary>
    public static IReadOnlyList<double> PerInterval(Timeline tl, IReadOnlyList<long> counts)
    {
        var result = new double[Math.Min(counts.Count, tl.AtMs.Count)];
        for (var i = 0; i < result.Length; i++)
        {
            var span = i == 0 ? tl.IntervalMs : tl.AtMs[i] - tl.AtMs[i - 1];
            result[i] = counts[i] * tl.IntervalMs / Math.Max(span, tl.IntervalMs / 2);
        }
        return result;
    }

    /// <summary>The smallest step from <paramref name="steps"/> that divides <paramref name="range"/> into at most <paramref name="ticks"/> parts.</summary>
    private static double NiceStep(double range, double[] steps, int ticks) =>
        steps.FirstOrDefault(s => range / s <= ticks, steps[^1] * Math.Ceiling(range / steps[^1] / ticks));

    private static string X_(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;");
}
