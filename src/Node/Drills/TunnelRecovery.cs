namespace ClusterActors.Node.Drills;

/// <summary>
/// One other client's probe (its PC's echo requests to the Server) as the drill reads it after a phase: each request's
/// send time and first reply time, in milliseconds from the phase's fault (negative: before it); a null reply: none yet.
/// </summary>
public sealed record ClientProbes(string Name, string Address, IReadOnlyList<double> SentMs, IReadOnlyList<double?> ReplyMs);

/// <summary>
/// Many clients, per phase (issue 13 goal 5): when each tunnel forwarded again after the fault, measured per tunnel from
/// its own client's probe: the reply to the first answered request sent after the last request lost since the fault (a
/// tunnel that lost none: its first request's reply; a moved one: once its new owner forwards). The distribution is over the
/// tunnels whose owner changed in the phase (census before against census after); the others are counted apart, with
/// those that lost a request after the fault. A tunnel is back no later than its time here and no earlier than one
/// probe interval before it (<see cref="ProbeIntervalMs"/>). Pure: the lab gives the probes, the census the owners.
/// </summary>
/// <param name="Label">The phase, as its census is labelled.</param>
/// <param name="Moved">Tunnels whose owner differs before and after the phase.</param>
/// <param name="Back">Of <paramref name="Moved"/>, those answered again.</param>
/// <param name="FirstMs">After the fault: the first moved tunnel back; null when none is.</param>
/// <param name="MedianMs">The median over the moved tunnels back (the lower middle of an even count).</param>
/// <param name="LastMs">The last moved tunnel back; null when one is not back at all.</param>
/// <param name="BoundMs">What every moved tunnel must keep to: the phase's detection bound + 100 ms.</param>
/// <param name="NotBack">Moved tunnels with no answered request after the fault ("CLIENT1-7 (192.168.7.8)").</param>
/// <param name="Late">Moved tunnels back after <paramref name="BoundMs"/> + one probe interval, slowest first.</param>
/// <param name="Stayed">Tunnels with the same owner before and after.</param>
/// <param name="StayedLosing">Of <paramref name="Stayed"/>, those that lost at least one request sent after the fault.</param>
public sealed record TunnelRecovery(string Label, int Moved, int Back, double? FirstMs, double? MedianMs, double? LastMs,
    double BoundMs, double ProbeIntervalMs, IReadOnlyList<string> NotBack, IReadOnlyList<string> Late, int Stayed, int StayedLosing)
{
    /// <summary>Every moved tunnel is back, none later than the bound by more than the probe's own granularity.</summary>
    public bool Holds => NotBack.Count == 0 && Late.Count == 0;

    /// <summary>A request sent this close to the read may still be in flight: unanswered, it is not counted lost.</summary>
    public const double InFlightMs = 1000;

    /// <param name="ownerBefore">Per client name, its owner in the census before the phase (null: none).</param>
    /// <param name="ownerAfter">Per client name, its owner in the census after the phase.</param>
    /// <param name="readAtMs">When the probes were read, from the fault.</param>
    public static TunnelRecovery Of(string label, IReadOnlyList<ClientProbes> probes, IReadOnlyDictionary<string, string?> ownerBefore,
        IReadOnlyDictionary<string, string?> ownerAfter, double boundMs, double probeIntervalMs, double readAtMs)
    {
        var back = new List<(string Who, double Ms)>();
        var notBack = new List<string>();
        int moved = 0, stayed = 0, stayedLosing = 0;
        foreach (var p in probes)
        {
            var who = $"{p.Name} ({p.Address})";
            // Back for good: the first answered request after the last one lost since the fault. A request answered in the
            // first ms after the stamp, before the fault took effect (the embedded kill returns ~100 ms later), is not a
            // return; an outage after the failover pushes the tunnel's return to its end.
            double? firstBack = null;
            var lost = 0;
            for (var i = 0; i < p.SentMs.Count; i++)
            {
                if (p.SentMs[i] < 0) continue;
                if (p.ReplyMs[i] is { } r) { firstBack ??= r; continue; }
                if (p.SentMs[i] > readAtMs - InFlightMs) continue;
                lost++;
                firstBack = null;
            }
            var isMoved = ownerBefore.GetValueOrDefault(p.Name) != ownerAfter.GetValueOrDefault(p.Name);
            if (!isMoved)
            {
                stayed++;
                if (lost > 0) stayedLosing++;
                continue;
            }
            moved++;
            if (firstBack is { } ms) back.Add((who, ms));
            else notBack.Add(who);
        }
        var sorted = back.OrderBy(b => b.Ms).ToList();
        double? Round(double? v) => v is { } x ? Math.Round(x, 1) : null;
        return new TunnelRecovery(label, moved, sorted.Count,
            Round(sorted.Count > 0 ? sorted[0].Ms : null),
            Round(sorted.Count > 0 ? sorted[(sorted.Count - 1) / 2].Ms : null),
            Round(notBack.Count == 0 && sorted.Count > 0 ? sorted[^1].Ms : null),
            boundMs, probeIntervalMs, notBack,
            sorted.Where(b => b.Ms > boundMs + probeIntervalMs).OrderByDescending(b => b.Ms).Select(b => $"{b.Who} {Math.Round(b.Ms):0} ms").ToList(),
            stayed, stayedLosing);
    }
}
