using System.Net;
using Akka.Configuration;
using ClusterActors.Protocol.Config;

namespace ClusterActors.Node.Hosting;

/// <summary>
/// Turns what the user typed into <see cref="UnitOptions"/>: either a config file plus the unit's wiring in HOCON
/// (`clusteractors.unit { akka, admin, metrics, contacts, hbdev.portN { bind, peers } }`), or a shipped scenario's unit.
/// Command-line values win over HOCON.
/// </summary>
public static class UnitOptionsResolver
{
    public sealed record Request(
        string? ConfigFile = null,
        string? Scenario = null,
        string? Unit = null,
        string? DataDir = null,
        string? Admin = null,
        string? Akka = null,
        string? Serial = null,
        IReadOnlyList<string>? HoconFiles = null,
        IReadOnlyList<string>? Contacts = null,
        string? Certs = null,
        bool InsecureAkka = false,
        bool Lenient = false);

    public static UnitOptions Resolve(Request r)
    {
        var hoconFiles = (r.HoconFiles ?? []).Select(Path.GetFullPath).ToList();
        foreach (var f in hoconFiles)
            if (!File.Exists(f)) throw new UsageException($"--hocon: no such file '{f}'");

        Akka.Configuration.Config wiring;
        string configFile;
        string unitName;
        IReadOnlyList<string> scenarioContacts = [];
        if (r.Scenario is not null)
        {
            if (r.ConfigFile is not null) throw new UsageException("give either --config or --scenario, not both");
            if (r.Unit is null) throw new UsageException("--scenario needs --unit (e.g. --unit DC2_VM1)");
            var units = Scenarios.Wiring(r.Scenario).GetConfig("units");
            var names = Scenarios.Units(r.Scenario);
            if (!names.Contains(r.Unit)) throw new UsageException($"scenario '{r.Scenario}' has no unit '{r.Unit}' (units: {string.Join(", ", names)})");
            wiring = units.GetConfig(r.Unit);
            configFile = Path.Combine(Scenarios.Directory(r.Scenario), wiring.GetString("config"));
            unitName = r.Unit;
            scenarioContacts = names.Select(n => UnitHost.AkkaAddress(Endpoints.Parse(units.GetConfig(n).GetString("akka"), $"{n}.akka"))).ToList();
        }
        else
        {
            configFile = r.ConfigFile ?? throw new UsageException("give --config FILE or --scenario NAME --unit UNIT");
            var merged = ConfigurationFactory.Empty;
            foreach (var f in hoconFiles.AsEnumerable().Reverse()) merged = merged.WithFallback(ConfigurationFactory.ParseString(File.ReadAllText(f)));
            wiring = merged.GetConfig("clusteractors.unit") ?? ConfigurationFactory.Empty;
            unitName = Path.GetFileNameWithoutExtension(configFile);
        }

        // --lenient: a whole FortiOS backup; what the lab does not model is kept and reported once by the runner.
        var parsed = FortiConfig.ParseFile(configFile, r.Lenient);
        if (!parsed.Ok) throw new ConfigInvalidException(parsed.Errors);
        var config = parsed.Value!;
        var serial = r.Serial ?? config.SerialNumber
            ?? throw new UsageException($"{configFile}: no serial number: add '#serialno=FGVM02TM22000001' at the top or pass --serial");
        if (!SerialNumbers.IsValid(serial)) throw new UsageException($"--serial: '{serial}' is not a FortiGate serial number (e.g. FGVM02TM22000001)");

        var akka = Endpoints.Parse(r.Akka ?? wiring.GetString("akka", "127.0.0.1:0"), "akka endpoint");
        var admin = Endpoints.Parse(r.Admin ?? wiring.GetString("admin", "127.0.0.1:0"), "--admin");
        var hbdevs = new List<HbdevWiring>();
        var hbConfig = wiring.GetConfig("hbdev");
        if (hbConfig is not null)
            foreach (var iface in hbConfig.Root.GetObject().Items.Keys)
            {
                var link = hbConfig.GetConfig(iface);
                hbdevs.Add(new HbdevWiring(iface, Endpoints.Parse(link.GetString("bind"), $"hbdev.{iface}.bind"),
                    link.GetStringList("peers").Select(p => Endpoints.Parse(p, $"hbdev.{iface}.peers")).ToList()));
            }
        IReadOnlyList<string> contacts = r.Contacts is { Count: > 0 } ? r.Contacts
            : scenarioContacts.Count > 0 ? scenarioContacts
            : wiring.GetStringList("contacts")?.ToList() ?? [];
        var dataDir = Path.GetFullPath(r.DataDir ?? Path.Combine("data", r.Scenario ?? "units", unitName));
        var ike = wiring.GetString("ike", null) is { } ikeText ? Endpoints.Parse(ikeText, "ike endpoint") : null;
        var metrics = wiring.GetString("metrics", null) is { Length: > 0 } metricsText ? Endpoints.Parse(metricsText, "clusteractors.unit.metrics") : null;
        var packets = wiring.GetString("packets", "none");
        if (packets is not ("none" or "kernel"))
            throw new UsageException($"clusteractors.unit.packets = {packets}: expected none or kernel");
        // Akka TLS: DIR/ca.crt, DIR/UNIT.crt, DIR/UNIT.key from --certs or clusteractors.unit.certs; none and no
        // --insecure-akka: UnitHost refuses to start with one line saying what to give.
        // A shipped scenario's units default to data/<scenario>/certs (`clusteractors certs create --out data/seed/certs`).
        var certs = r.Certs ?? wiring.GetString("certs", null) ?? (r.Scenario is not null ? Path.Combine("data", r.Scenario, "certs") : null);
        var tls = !r.InsecureAkka && certs is { Length: > 0 } ? AkkaTls.Load(Path.GetFullPath(certs), unitName) : null;
        return new UnitOptions(unitName, config, serial, dataDir, akka, admin, hbdevs, contacts.ToList(), hoconFiles)
        {
            Ike = ike, Metrics = metrics, Packets = packets, Tls = tls, InsecureAkka = r.InsecureAkka
        };
    }
}

/// <summary>The config file did not parse: every located error is printed, nothing is started.</summary>
public sealed class ConfigInvalidException(IReadOnlyList<ConfigError> errors)
    : Exception($"{errors.Count} error(s) in the configuration")
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;
}

public static class SerialNumbers
{
    /// <summary>FortiGate serials are 16 upper-case letters and digits, e.g. FGVM02TM22000001.</summary>
    public static bool IsValid(string serial) => serial.Length == 16 && serial.All(c => c is >= 'A' and <= 'Z' or >= '0' and <= '9');
}
