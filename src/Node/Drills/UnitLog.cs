using System.Globalization;
using System.Text.RegularExpressions;

namespace ClusterActors.Node.Drills;

/// <summary>
/// A unit's own log, read for the moments it changed role: FgcpActor logs `FGCP: SERIAL is now Primary|Secondary
/// (primary P)` as the change happens, and Akka stamps each line when it is logged (`[INFO][MM/dd/yyyy
/// HH:mm:ss.fffZ]…`, UTC). A container shares the host's clock, so that stamp says when the unit changed, to the
/// millisecond, whatever the drill's polls cost to come back (README, "Detection in the container lab").
/// </summary>
public static partial class UnitLog
{
    /// <summary>One role change as the unit logged it.</summary>
    public sealed record RoleChange(DateTimeOffset At, bool Primary);

    [GeneratedRegex(@"^\[[A-Z]+\]\[(?<at>\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}\.\d{1,7})(?<utc>Z?)\][^\n]*?\bFGCP: \S+ is now (?<role>Primary|Secondary) \(", RegexOptions.Multiline)]
    private static partial Regex RoleLine();

    /// <summary>Every role change in <paramref name="text"/>, in the order logged; lines that are not one are ignored.</summary>
    public static IReadOnlyList<RoleChange> RoleChanges(string text)
    {
        var changes = new List<RoleChange>();
        foreach (Match m in RoleLine().Matches(text))
        {
            // Akka logs DateTime.UtcNow with the K specifier: "Z". A line without it is not one this parser knows.
            if (m.Groups["utc"].Value != "Z") continue;
            if (!DateTime.TryParseExact(m.Groups["at"].Value, ["MM/dd/yyyy HH:mm:ss.fff", "MM/dd/yyyy HH:mm:ss.FFFFFFF"], CultureInfo.InvariantCulture,
                    DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at))
                continue;
            changes.Add(new RoleChange(new DateTimeOffset(at, TimeSpan.Zero), m.Groups["role"].Value == "Primary"));
        }
        return changes;
    }

    /// <summary>The first change to <paramref name="primary"/> at or after <paramref name="since"/>; null if none.</summary>
    public static DateTimeOffset? FirstChange(string text, bool primary, DateTimeOffset since) =>
        RoleChanges(text).Where(c => c.Primary == primary && c.At >= since).Select(c => (DateTimeOffset?)c.At).FirstOrDefault();
}
