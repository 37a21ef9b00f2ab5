using ClusterActors.Actors.DataPlane;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Topology;

namespace ClusterActors.Node.Scenario;

/// <summary>
/// `impair UNIT PORT …` in the embedded lab: netem's knobs (<see cref="NetemModel"/>) on the egress of a port cabled on the
/// in-memory fabric, or of a running unit's heartbeat device (port4: its own UDP link, not on the fabric). The draws come
/// from the lab's seed and the port's name (<see cref="NetemModel.RandomFor"/>), so a script or drill replays. What the
/// container lab would run for the same step is printed beside it (<see cref="ImpairmentSpec.TcArguments"/>).
/// </summary>
public static class LabImpairment
{
    public static string Apply(LoopbackLab lab, LabTopology topology, string unit, string port, ImpairmentSpec? spec, long seed)
    {
        var random = NetemModel.RandomFor(seed, unit, port);
        Func<ImpairmentCounters?> counters;
        if (topology.Wires.Any(w => w.Host == unit && w.Interface == port))
        {
            var fabric = lab.Net?.Fabric ?? throw new InvalidOperationException("the lab has no packet fabric");
            fabric.Impair(unit, port, spec, random);
            counters = () => fabric.Impairment(unit, port);
        }
        else if (lab.Units.TryGetValue(unit, out var host) && host.Hbdevs.TryGetValue(port, out var hbdev))
        {
            hbdev.Impair(spec, random);
            counters = () => hbdev.Impairment;
        }
        else
        {
            var ports = topology.Wires.Where(w => w.Host == unit).Select(w => w.Interface)
                .Concat(lab.Units.TryGetValue(unit, out var h) ? h.Hbdevs.Keys : []).Distinct().ToList();
            throw new ArgumentException($"{unit} {port} is neither cabled on the packet fabric nor a running unit's heartbeat device"
                                        + (ports.Count == 0 ? "" : $" ({unit}: {string.Join(", ", ports)})"));
        }
        var tc = "tc " + string.Join(" ", spec is null ? ImpairmentSpec.TcClearArguments(port) : spec.TcArguments(port));
        return spec is null
            ? $"{unit} {port}: impairment cleared; {counters()?.ToString() ?? "it had none"}\n  container lab: {tc}"
            : $"{unit} {port}: netem {spec.NetemArguments} on egress (seed {seed})\n  container lab: {tc}";
    }

    /// <summary>Every impaired port of the lab with what its impairment dropped by cause (the operator's view).</summary>
    public static string Describe(LoopbackLab lab)
    {
        var lines = new List<string>();
        if (lab.Net?.Fabric is { } fabric)
            lines.AddRange(fabric.Wiring.Where(c => c.Impairment is not null).Select(c => $"{c.Host} {c.Interface}: {c.Impairment}"));
        foreach (var (unit, host) in lab.Units.OrderBy(u => u.Key, StringComparer.Ordinal))
            lines.AddRange(host.Hbdevs.Where(h => h.Value.Impairment is not null).Select(h => $"{unit} {h.Key}: {h.Value.Impairment}"));
        return lines.Count == 0 ? "no impairments" : string.Join("\n", lines);
    }
}
