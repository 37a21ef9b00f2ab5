using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using ClusterActors.Node.Drills;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Node.LiveView;

/// <summary>One unit as the page shows it: its FGCP role, its dialup instances and their roles, its forwarding rate.</summary>
/// <param name="Ha">primary, secondary, hello (still electing) or silent (not running, frozen, or no answer within the poll's timeout).</param>
/// <param name="Tunnels">Null when the unit did not answer.</param>
/// <param name="Pps">Packets a second it forwarded out of the tunnel over the last poll; null when not known (first poll, silent, a new lab).</param>
/// <param name="Forwarded">Its ForwardingStatus.TunnelIn so far; null when it did not answer.</param>
public sealed record UnitLive(string Unit, string Ha, IReadOnlyList<TunnelLive>? Tunnels, double? Pps, long? Forwarded);

/// <summary>One dialup instance on a unit: `vpn1_1` and `sync-primary` or `standby` (diagnose vpn tunnel list).</summary>
public sealed record TunnelLive(string Name, string Role);

/// <summary>An ECMP next hop of the DC router towards lb1, the units behind it, and whether its probes count it alive.</summary>
public sealed record NextHopLive(string Address, IReadOnlyList<string> Units, bool Alive);

/// <summary>What the page draws, once per poll.</summary>
/// <param name="Lab">What the view's lab is doing: starting, up, drill (a drill runs on it), failed.</param>
/// <param name="Drill">The drill running, or null.</param>
public sealed record LabSnapshot(DateTimeOffset At, string Topology, string Lab, string? Drill, IReadOnlyList<UnitLive> Units, IReadOnlyList<NextHopLive> NextHops);

/// <summary>One line of the page's event list.</summary>
/// <param name="Seq">Increasing from 1 in one view process: a client that reconnects skips what it has.</param>
/// <param name="Kind">role (a unit's FGCP role changed), tunnel (a dialup instance's sync-primary moved), nexthop (the
/// DC router counts a next hop alive or dead), fault (what a drill did to the lab), drill (a drill's progress line),
/// lab (the view's own lab: starting, up, replaced).</param>
/// <param name="Unit">The unit it is about, or null.</param>
/// <param name="Owner">For tunnel: the new sync-primary (null: none answers as owner).</param>
public sealed record LiveEvent(long Seq, DateTimeOffset At, string Kind, string? Unit, string Text, string? Owner = null);

/// <summary>
/// The live view's pure parts (LiveViewModelSpec): a unit's row from what the lab answered, the forwarding rate between two
/// polls, the events between two snapshots, and the JSON and server-sent-event frames the page reads.
/// </summary>
public static class LiveViewModel
{
    public const string Primary = "primary", Secondary = "secondary", Hello = "hello", Silent = "silent";

    /// <summary>The FGCP role word of `get system ha status`, lower case; <see cref="Silent"/> when the unit did not answer.</summary>
    public static string HaWord(HaView? ha) => ha switch
    {
        null => Silent,
        { Working: false } => Hello,
        { Primary: true } => Primary,
        _ => Secondary,
    };

    /// <summary>Packets a second between two readings of a unit's forwarded counter. Null when either is missing, when no
    /// time passed, or when the counter went back (the unit was started again, or the view's lab replaced by a drill's):
    /// a rate is only ever measured on one counter.</summary>
    public static double? Rate(long? before, long? now, TimeSpan elapsed)
    {
        if (before is not { } b || now is not { } n || elapsed <= TimeSpan.Zero || n < b) return null;
        return Math.Round((n - b) / elapsed.TotalSeconds, 1);
    }

    public static UnitLive Unit(string unit, HaView? ha, IReadOnlyList<TunnelView>? tunnels, long? forwarded, UnitLive? previous, TimeSpan sincePrevious) =>
        new(unit, HaWord(ha), tunnels?.Select(t => new TunnelLive(t.Name, TunnelRoles.Word(t.Role))).ToList(),
            Rate(previous?.Forwarded, forwarded, sincePrevious), forwarded);

    /// <summary>
    /// What changed from <paramref name="previous"/> to <paramref name="current"/>, as events without their sequence number
    /// (<see cref="LiveEvent.Seq"/> 0): each unit whose FGCP role changed, each dialup instance whose sync-primary moved
    /// (owners read from the units that answered), each next hop the router now counts alive or dead. The first snapshot
    /// (no previous) is the page's starting picture, not a change: no events.
    /// </summary>
    public static IReadOnlyList<LiveEvent> Changes(LabSnapshot? previous, LabSnapshot current)
    {
        var events = new List<LiveEvent>();
        if (previous is null) return events;
        var at = current.At;
        var before = previous.Units.ToDictionary(u => u.Unit);
        foreach (var u in current.Units)
        {
            var was = before.GetValueOrDefault(u.Unit)?.Ha;
            if (was is not null && was != u.Ha)
                events.Add(new LiveEvent(0, at, "role", u.Unit, $"{u.Unit}: {was} → {u.Ha}"));
        }
        var ownersBefore = Owners(previous);
        var ownersNow = Owners(current);
        foreach (var tunnel in ownersBefore.Keys.Union(ownersNow.Keys).Order(StringComparer.Ordinal))
        {
            var was = ownersBefore.GetValueOrDefault(tunnel) ?? [];
            var now = ownersNow.GetValueOrDefault(tunnel) ?? [];
            if (was.SequenceEqual(now)) continue;
            var owner = now.Count == 1 ? now[0] : null;
            events.Add(new LiveEvent(0, at, "tunnel", owner, $"{tunnel}: sync-primary {Units(was)} → {Units(now)}", owner));
        }
        var hopsBefore = previous.NextHops.ToDictionary(h => h.Address);
        foreach (var hop in current.NextHops)
            if (hopsBefore.TryGetValue(hop.Address, out var was) && was.Alive != hop.Alive)
                events.Add(new LiveEvent(0, at, "nexthop", null,
                    $"DC router: next hop {hop.Address} ({string.Join("+", hop.Units)}) {(hop.Alive ? "alive" : "dead")}"));
        return events;
    }

    private static string Units(IReadOnlyList<string> units) => units.Count == 0 ? "none" : string.Join("+", units);

    /// <summary>Per dialup instance, the units that hold it as sync-primary, in the snapshot's unit order.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Owners(LabSnapshot snapshot)
    {
        var owners = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var u in snapshot.Units)
        foreach (var t in u.Tunnels ?? [])
        {
            if (!owners.ContainsKey(t.Name)) owners[t.Name] = new List<string>();
            if (t.Role == TunnelRoles.Word(TunnelRole.SyncPrimary)) ((List<string>)owners[t.Name]).Add(u.Unit);
        }
        return owners;
    }

    // ------------------------------------------------------------------------------------------------------------------

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string ToJson(LabSnapshot snapshot) => JsonSerializer.Serialize(snapshot, Json);

    public static string ToJson(LiveEvent e) => JsonSerializer.Serialize(e, Json);

    public static LabSnapshot? SnapshotFromJson(string json) => JsonSerializer.Deserialize<LabSnapshot>(json, Json);

    public static LiveEvent? EventFromJson(string json) => JsonSerializer.Deserialize<LiveEvent>(json, Json);

    /// <summary>One server-sent event: `id` (events only, so a reconnecting EventSource says where it was), `event`, one
    /// `data` line (the JSON has no newline), and the blank line that ends it.</summary>
    public static string Frame(string eventName, string json, long? id = null)
    {
        if (json.Contains('\n') || json.Contains('\r')) throw new ArgumentException("one data line: the JSON must not contain a newline", nameof(json));
        return (id is { } i ? "id: " + i.ToString(CultureInfo.InvariantCulture) + "\n" : "") + $"event: {eventName}\ndata: {json}\n\n";
    }

    public static string Frame(LabSnapshot snapshot) => Frame("snapshot", ToJson(snapshot));

    public static string Frame(LiveEvent e) => Frame("event", ToJson(e), e.Seq);
}
