using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Commands;

/// <summary>`clusteractors certs create`: which units to certify, and with which serial.</summary>
public static class CertsCommand
{
    /// <summary>The seed scenario's units, whose serials come from their shipped configs.</summary>
    public static readonly string[] SeedUnits = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];

    /// <summary>NAME or NAME=SERIAL, comma or space separated; none: the seed scenario's four units.</summary>
    public static IReadOnlyList<(string Unit, string Serial)> ParseUnits(IEnumerable<string> args)
    {
        var items = args.SelectMany(a => a.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        if (items.Count == 0) items = SeedUnits.ToList();
        var units = new List<(string, string)>();
        foreach (var item in items)
        {
            var eq = item.IndexOf('=');
            if (eq > 0)
            {
                units.Add((item[..eq], item[(eq + 1)..]));
                continue;
            }
            if (!SeedUnits.Contains(item))
                throw new UsageException($"--units: '{item}' is not a seed scenario unit ({string.Join(", ", SeedUnits)}): give it as {item}=SERIAL");
            units.Add((item, LoopbackLab.ScenarioConfig(item).SerialNumber!));
        }
        var twice = units.GroupBy(u => u.Item1).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null) throw new UsageException($"--units: '{twice.Key}' given twice");
        return units;
    }
}
