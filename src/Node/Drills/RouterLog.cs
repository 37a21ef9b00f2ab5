using System.Globalization;
using System.Text.RegularExpressions;

namespace ClusterActors.Node.Drills;

/// <summary>
/// The container lab router's own log (`clusteractors router`, container dc_router), read for the moment it withdrew a
/// next hop: it logs `HH:mm:ss.fff router: ELAPSED ADDRESS dead after N missed probes` as it marks the hop dead, stamped
/// by its own clock to the millisecond. Read with `docker logs --timestamps`, whose RFC 3339 prefix gives the date (the
/// router's stamp has none). A container shares the host's clock. Stop 21's trial: the drill's poll of the router saw
/// DC1_VM1's hop dead after 980 ms against 700, while PC1's traffic already flowed through DC1_VM3 after 352 ms: the
/// poll came back late, the router had not.
/// </summary>
public static partial class RouterLog
{
    [GeneratedRegex(@"^(?<date>\d{4}-\d{2}-\d{2})T(?<dtime>\d{2}:\d{2}:\d{2})\S*Z (?<time>\d{2}:\d{2}:\d{2}\.\d{3}) router: \S+ (?<address>\d+\.\d+\.\d+\.\d+) dead after \d+ missed probes",
        RegexOptions.Multiline)]
    private static partial Regex DeadLine();

    /// <summary>When the router marked <paramref name="address"/> dead, the first time at or after <paramref name="since"/>; null if it did not.</summary>
    public static DateTimeOffset? FirstWithdrawal(string timestampedLog, string address, DateTimeOffset since)
    {
        foreach (Match m in DeadLine().Matches(timestampedLog))
        {
            if (m.Groups["address"].Value != address) continue;
            if (!DateTime.TryParseExact(m.Groups["date"].Value + " " + m.Groups["time"].Value, "yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture,
                    DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at))
                continue;
            // Docker stamps the line when it reads it, a moment after the router's own stamp: across midnight the
            // router's time of day is the day before.
            var dockerTime = TimeSpan.ParseExact(m.Groups["dtime"].Value, @"hh\:mm\:ss", CultureInfo.InvariantCulture);
            if (at.TimeOfDay - dockerTime > TimeSpan.FromHours(12)) at = at.AddDays(-1);
            var stamped = new DateTimeOffset(at, TimeSpan.Zero);
            if (stamped >= since) return stamped;
        }
        return null;
    }
}
