using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ClusterActors.Protocol.Config;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using ClusterActors.Protocol.Packets;

namespace ClusterActors.Protocol.Topology;

/// <summary>
/// Reads a topology file (YAML, src/Protocol/Topology/README.md) into a <see cref="LabTopology"/>, or the full list of
/// located errors (file:line:col, what was expected, did-you-mean for unknown keys and names), like the config language.
/// </summary>
public static class TopologyFile
{
    /// <summary>Loads <paramref name="path"/>; unit and client configs are read relative to its folder.</summary>
    /// <param name="firstClientCount">The first client entry's `count`, in place of the file's (`drill --clients N`);
    /// null: the file's.</param>
    public static ConfigResult<LabTopology> Load(string path, int? firstClientCount = null)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ConfigResult<LabTopology>.Failure([new ConfigError(path, 0, 0, path, $"cannot read file ({e.Message})")]);
        }
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        return Parse(text, path, file => FortiConfig.ParseFile(Path.Combine(dir, file)), firstClientCount);
    }

    /// <summary>The most clients one entry's `count` expands to.</summary>
    public const int MaxClientCount = 1000;

    /// <param name="loadConfig">Reads a FortiOS config named in the file (relative path as written).</param>
    /// <param name="firstClientCount">The first client entry's `count`, in place of the file's; null: the file's.</param>
    public static ConfigResult<LabTopology> Parse(string yaml, string fileName, Func<string, ConfigResult<ConfigDocument>> loadConfig,
        int? firstClientCount = null)
    {
        if (firstClientCount is < 1 or > MaxClientCount)
            throw new ArgumentOutOfRangeException(nameof(firstClientCount), firstClientCount, $"1 to {MaxClientCount} clients");
        var reader = new Reader(fileName, loadConfig, firstClientCount);
        var topology = reader.Read(yaml);
        return reader.Errors.Count > 0 || topology is null
            ? ConfigResult<LabTopology>.Failure(reader.Errors.Count > 0
                ? reader.Errors.OrderBy(e => e.Line).ThenBy(e => e.Column).ToList()
                : [new ConfigError(fileName, 1, 1, "", "empty topology")])
            : ConfigResult<LabTopology>.Success(topology);
    }

    public static readonly IReadOnlyList<string> TopKeys = ["name", "description", "units", "segments", "heartbeat", "fgsp-link", "routers", "clients", "servers"];
    public static readonly IReadOnlyList<string> UnitKeys = ["config", "serial"];
    public static readonly IReadOnlyList<string> SegmentKeys = ["subnet", "description", "ports"];
    public static readonly IReadOnlyList<string> RouterKeys = ["legs", "routes"];
    public static readonly IReadOnlyList<string> LegKeys = ["segment", "address"];
    public static readonly IReadOnlyList<string> RouteKeys = ["to", "ecmp", "reverse-path", "probe", "hash-seed"];
    public static readonly IReadOnlyList<string> ProbeKeys = ["interval", "misses"];
    public static readonly IReadOnlyList<string> ClientKeys = ["kind", "config", "count", "wan", "lan", "pcs"];
    public static readonly IReadOnlyList<string> AttachKeys = ["segment", "address", "gateway"];
    public static readonly IReadOnlyList<string> ServerKeys = ["segment", "address", "gateway"];

    /// <summary>`misses: above-fgcp`: see <see cref="TopologyRoute"/>.</summary>
    public const string AboveFgcp = "above-fgcp";

    private sealed class Reader(string file, Func<string, ConfigResult<ConfigDocument>> loadConfig, int? firstClientCount)
    {
        public List<ConfigError> Errors { get; } = new();

        private ConfigError Located(YamlNode node, string message, string? expected = null, string? didYouMean = null) =>
            new(file, (int)node.Start.Line, (int)node.Start.Column, Token(node), message, expected, didYouMean);

        private void Error(YamlNode node, string message, string? expected = null, string? didYouMean = null) =>
            Errors.Add(Located(node, message, expected, didYouMean));

        private static string Token(YamlNode node) => node switch
        {
            YamlScalarNode s => s.Value ?? "",
            YamlMappingNode => "{…}",
            YamlSequenceNode => "[…]",
            _ => "",
        };

        public LabTopology? Read(string yaml)
        {
            var stream = new YamlStream();
            try { stream.Load(new StringReader(yaml)); }
            catch (YamlException e)
            {
                Errors.Add(new ConfigError(file, (int)e.Start.Line, (int)e.Start.Column, "", "not valid YAML (" + e.Message + ")"));
                return null;
            }
            if (stream.Documents.Count == 0)
            {
                Errors.Add(new ConfigError(file, 1, 1, "", "empty topology", "a mapping with units, segments, routers, clients, servers"));
                return null;
            }
            if (Map(stream.Documents[0].RootNode, "the topology", TopKeys) is not { } root) return null;

            var name = Str(root, "name") ?? Path.GetFileNameWithoutExtension(file);
            var description = Str(root, "description") ?? "";
            var units = Units(root);
            var segments = Segments(root, units);
            var heartbeat = Heartbeat(root, units, segments);
            var fgspLink = FgspLink(root, segments);
            var routers = Routers(root, segments);
            var servers = Servers(root, segments, routers);
            var clients = Clients(root, segments, routers);

            var wires = new List<(TopologyWire Wire, YamlNode At)>();
            foreach (var (seg, ports) in segments)
                foreach (var (port, at) in ports)
                    if (UnitAddress(units, port, seg, at) is { } a)
                        wires.Add((new TopologyWire(port.Host, port.Port, seg.Name, a), at));
            foreach (var (r, legs) in routers)
                foreach (var (leg, at) in legs)
                    wires.Add((new TopologyWire(r, leg.Name, leg.Segment, leg.Address), at));
            foreach (var (c, at) in clients)
            {
                wires.Add((new TopologyWire(c.Name, c.WanInterface, c.WanSegment, c.Wan), at));
                wires.Add((new TopologyWire(c.Name, c.LanInterface, c.LanSegment, c.Lan), at));
                foreach (var pc in c.Pcs) wires.Add((new TopologyWire(pc.Name, "eth0", c.LanSegment, pc.Address), at));
            }
            foreach (var (s, at) in servers)
                wires.Add((new TopologyWire(s.Name, "eth0", s.Segment, s.Address), at));

            CheckHosts(units, routers, clients, servers);
            // Cross checks on a broken file would mostly report echoes of the first error (a cluster "without a
            // heartbeat link" because its link named a unit wrongly), as the config language does not either.
            if (Errors.Count > 0) return null;
            var clusters = Clusters(units, heartbeat);
            CheckAddresses(wires, clusters);
            var fgsp = Fgsp(units, clusters, fgspLink, wires.Select(w => w.Wire).ToList(), root);
            if (Errors.Count > 0) return null;
            return new LabTopology(name, file, description, units.Select(u => u.Unit).ToArray(),
                segments.Select(s => s.Segment with { UnitPorts = s.Ports.Select(p => p.Port).ToArray() }).ToArray(),
                heartbeat.Select(h => h.Link).ToArray(), fgspLink, routers.Select(r => new TopologyRouter(r.Name, r.Legs.Select(l => l.Leg).ToArray(), r.Routes)).ToArray(),
                clients.Select(c => c.Client).ToArray(), servers.Select(s => s.Server).ToArray(), clusters.Select(c => c.Cluster).ToArray(), fgsp,
                wires.Select(w => w.Wire).ToArray());
        }

        // ---------------------------------------------------------------------------------------------------------
        // Sections

        private sealed record UnitEntry(TopologyUnit Unit, YamlNode At);

        private List<UnitEntry> Units(YamlMappingNode root)
        {
            var list = new List<UnitEntry>();
            if (Child(root, "units") is not { } node) { Error(root, "the topology has no units", "units: { NAME: { config: FILE } }"); return list; }
            if (Entries(node, "units") is not { } entries) return list;
            foreach (var (key, value) in entries)
            {
                if (Map(value, $"unit {key.Value}", UnitKeys) is not { } u) continue;
                var configFile = Str(u, "config");
                if (configFile is null) { Error(key, $"unit {key.Value} has no config", "config: FILE (its FortiOS configuration)"); continue; }
                var parsed = loadConfig(configFile);
                if (!parsed.Ok)
                {
                    Error(Child(u, "config")!, $"the config of unit {key.Value} is invalid ({parsed.Errors.Count} error(s), first: {parsed.Errors[0]})");
                    continue;
                }
                var config = parsed.Value!;
                var serial = Str(u, "serial") ?? config.SerialNumber;
                if (serial is null) { Error(key, $"unit {key.Value} has no serial", "serial: FGVM… here or #serialno= in its config"); continue; }
                if (!FortiConfig.IsValidSerial(serial))
                {
                    Error(Child(u, "serial") ?? key, "invalid serial number", "16 upper-case letters and digits starting with FG, e.g. FGVM02TM22000001");
                    continue;
                }
                if (list.FirstOrDefault(o => o.Unit.Serial == serial) is { } twin)
                {
                    Error(Child(u, "serial") ?? key, $"unit {key.Value} has the serial of unit {twin.Unit.Name}", "one serial number per unit");
                    continue;
                }
                if (serial != config.SerialNumber) config = config.WithSerialNumber(serial);
                list.Add(new(new TopologyUnit(key.Value!, configFile, serial, config), key));
            }
            return list;
        }

        private sealed record SegmentEntry(TopologySegment Segment, List<(PortRef Port, YamlNode At)> Ports, YamlNode At)
        {
            public void Deconstruct(out TopologySegment segment, out List<(PortRef Port, YamlNode At)> ports) => (segment, ports) = (Segment, Ports);
        }

        /// <summary>Every unit port named so far (segments and heartbeat links), to refuse a port cabled twice.</summary>
        private readonly Dictionary<PortRef, string> _cabled = new();

        /// <summary>Segment names written, valid or not: a reference to one that had its own error is no second error.</summary>
        private readonly HashSet<string> _declaredSegments = new();

        private List<SegmentEntry> Segments(YamlMappingNode root, List<UnitEntry> units)
        {
            var list = new List<SegmentEntry>();
            if (Child(root, "segments") is not { } node) return list;
            if (Entries(node, "segments") is not { } entries) return list;
            foreach (var (key, value) in entries)
            {
                if (Map(value, $"segment {key.Value}", SegmentKeys) is not { } s) continue;
                var subnetNode = Child(s, "subnet");
                _declaredSegments.Add(key.Value!);
                if (subnetNode is null) { Error(key, $"segment {key.Value} has no subnet", "subnet: A.B.C.D/N"); continue; }
                if (Prefix(subnetNode) is not { } subnet) continue;
                var ports = new List<(PortRef, YamlNode)>();
                if (Child(s, "ports") is { } portsNode && Seq(portsNode, $"the ports of segment {key.Value}") is { } seq)
                    foreach (var p in seq)
                        if (UnitPort(p, units) is { } port && Cable(port, $"segment {key.Value}", p))
                            ports.Add((port, p));
                list.Add(new(new TopologySegment(key.Value!, subnet, Str(s, "description") ?? "", []), ports, key));
            }
            return list;
        }

        private bool Cable(PortRef port, string where, YamlNode at)
        {
            if (_cabled.TryGetValue(port, out var first))
            {
                Error(at, $"{port} is already on {first}", "each unit port on one segment or heartbeat link");
                return false;
            }
            _cabled[port] = where;
            return true;
        }

        private TopologyAddress? UnitAddress(List<UnitEntry> units, PortRef port, TopologySegment seg, YamlNode at)
        {
            var unit = units.First(u => u.Unit.Name == port.Host).Unit;
            var iface = unit.Config.Interfaces.First(i => i.Name == port.Port);
            if (iface.Ip == "0.0.0.0")
            {
                Error(at, $"{port} has no address in {unit.ConfigFile}", $"set ip on {port.Port} in {seg.Subnet}");
                return null;
            }
            var a = new TopologyAddress(IPAddress.Parse(iface.Ip), iface.PrefixLength);
            if (a.Subnet != seg.Subnet)
            {
                Error(at, $"{port} has {a} in {unit.ConfigFile}, not on segment {seg.Name}", $"an address in {seg.Subnet}");
                return null;
            }
            return a;
        }

        private sealed record HeartbeatEntry(HeartbeatLink Link, YamlNode At);

        private List<HeartbeatEntry> Heartbeat(YamlMappingNode root, List<UnitEntry> units, List<SegmentEntry> segments)
        {
            var list = new List<HeartbeatEntry>();
            if (Child(root, "heartbeat") is not { } node || Entries(node, "heartbeat") is not { } entries) return list;
            foreach (var (key, value) in entries)
            {
                if (segments.Any(s => s.Segment.Name == key.Value)) { Error(key, $"heartbeat link {key.Value} has the name of a segment", "a name of its own"); continue; }
                if (Seq(value, $"heartbeat link {key.Value}") is not { } seq) continue;
                var ports = new List<PortRef>();
                foreach (var p in seq)
                {
                    if (UnitPort(p, units) is not { } port) continue;
                    var config = units.First(u => u.Unit.Name == port.Host).Unit;
                    if (config.Config.Ha.HbDevs.All(h => h.Interface != port.Port))
                    {
                        Error(p, $"{port} is not an hbdev of {port.Host}", $"one of its `set hbdev` ports ({string.Join(", ", config.Config.Ha.HbDevs.Select(h => h.Interface).DefaultIfEmpty("none"))})");
                        continue;
                    }
                    if (Cable(port, $"heartbeat link {key.Value}", p)) ports.Add(port);
                }
                list.Add(new(new HeartbeatLink(key.Value!, ports), key));
            }
            return list;
        }

        private string? FgspLink(YamlMappingNode root, List<SegmentEntry> segments)
        {
            if (Child(root, "fgsp-link") is not { } node || Scalar(node, "fgsp-link") is not { } name) return null;
            if (segments.Any(s => s.Segment.Name == name)) return name;
            Error(node, $"no segment {name}", "the segment the FGSP peers sync over", DidYouMean.Suggest(name, segments.Select(s => s.Segment.Name)));
            return null;
        }

        private sealed record RouterEntry(string Name, List<(RouterLeg Leg, YamlNode At)> Legs, List<TopologyRoute> Routes, YamlNode At)
        {
            public void Deconstruct(out string name, out List<(RouterLeg Leg, YamlNode At)> legs) => (name, legs) = (Name, Legs);
        }

        private List<RouterEntry> Routers(YamlMappingNode root, List<SegmentEntry> segments)
        {
            var list = new List<RouterEntry>();
            if (Child(root, "routers") is not { } node || Entries(node, "routers") is not { } entries) return list;
            foreach (var (key, value) in entries)
            {
                if (Map(value, $"router {key.Value}", RouterKeys) is not { } r) continue;
                var legs = new List<(RouterLeg, YamlNode)>();
                if (Child(r, "legs") is not { } legsNode) { Error(key, $"router {key.Value} has no legs", "legs: { NAME: { segment: S, address: A.B.C.D/N } }"); continue; }
                if (Entries(legsNode, $"the legs of router {key.Value}") is { } legEntries)
                    foreach (var (legKey, legValue) in legEntries)
                        if (Attach(legValue, $"leg {legKey.Value} of router {key.Value}", LegKeys, segments, gateway: false) is ({ } seg, { } address, _))
                            legs.Add((new RouterLeg(legKey.Value!, seg, address), legKey));
                var routes = new List<TopologyRoute>();
                if (Child(r, "routes") is { } routesNode && Seq(routesNode, $"the routes of router {key.Value}") is { } seq)
                    foreach (var item in seq)
                        if (Route(item, key.Value!, legs.Select(l => l.Item1).ToList()) is { } route)
                            routes.Add(route);
                list.Add(new(key.Value!, legs, routes, key));
            }
            return list;
        }

        private TopologyRoute? Route(YamlNode node, string router, List<RouterLeg> legs)
        {
            if (Map(node, $"a route of router {router}", RouteKeys) is not { } m) return null;
            var toNode = Child(m, "to");
            if (toNode is null) { Error(node, "the route has no destination", "to: A.B.C.D/N"); return null; }
            if (Prefix(toNode) is not { } to) return null;
            var ecmp = Child(m, "ecmp");
            var reverse = Child(m, "reverse-path");
            if ((ecmp is null) == (reverse is null))
            {
                Error(node, "a route needs exactly one of ecmp or reverse-path", "ecmp: [NEXT-HOP, …] or reverse-path: [NEIGHBOUR, …]");
                return null;
            }
            var kind = ecmp is not null ? TopologyRouteKind.Ecmp : TopologyRouteKind.ReversePath;
            var via = new List<IPAddress>();
            if (Seq(ecmp ?? reverse!, "the next hops") is not { } hops) return null;
            foreach (var h in hops)
            {
                if (Ip(h) is not { } ip) continue;
                if (!legs.Any(l => l.Address.Subnet.Contains(ip)))
                    Error(h, $"next hop {ip} is on no leg of router {router}", "an address on one of its legs' subnets (" + string.Join(", ", legs.Select(l => l.Address.Subnet)) + ")");
                else via.Add(ip);
            }
            if (hops.Children.Count == 0) Error(ecmp ?? reverse!, "no next hops", "at least one");
            var interval = TimeSpan.FromMilliseconds(100);
            int? misses = 3;
            if (Child(m, "probe") is { } probeNode)
            {
                if (kind != TopologyRouteKind.Ecmp) Error(probeNode, "only an ecmp route probes its next hops", "no probe on a reverse-path route");
                else if (Map(probeNode, "probe", ProbeKeys) is { } probe)
                {
                    if (Child(probe, "interval") is { } i && Duration(i) is { } d) interval = d;
                    if (Child(probe, "misses") is { } mn && Scalar(mn, "misses") is { } ms)
                    {
                        if (ms == AboveFgcp) misses = null;
                        else if (int.TryParse(ms, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 1000) misses = n;
                        else Error(mn, "not a number of missed probes", $"1 to 1000, or {AboveFgcp}");
                    }
                }
            }
            ulong seed = 0;
            if (Child(m, "hash-seed") is { } sn && Scalar(sn, "hash-seed") is { } ss && !ulong.TryParse(ss, NumberStyles.None, CultureInfo.InvariantCulture, out seed))
                Error(sn, "not a hash seed", "an unsigned 64-bit number");
            return new TopologyRoute(kind, to, via, interval, misses, seed);
        }

        private List<(TopologyServer Server, YamlNode At)> Servers(YamlMappingNode root, List<SegmentEntry> segments, List<RouterEntry> routers)
        {
            var list = new List<(TopologyServer, YamlNode)>();
            if (Child(root, "servers") is not { } node || Entries(node, "servers") is not { } entries) return list;
            foreach (var (key, value) in entries)
                if (Attach(value, $"server {key.Value}", ServerKeys, segments, gateway: true, routers) is ({ } seg, { } address, var gw))
                    list.Add((new TopologyServer(key.Value!, seg, address, gw!), key));
            return list;
        }

        private List<(TopologyClient Client, YamlNode At)> Clients(YamlMappingNode root, List<SegmentEntry> segments, List<RouterEntry> routers)
        {
            var list = new List<(TopologyClient, YamlNode)>();
            if (Child(root, "clients") is not { } node || Entries(node, "clients") is not { } entries) return list;
            var firstEntry = true;
            foreach (var (key, value) in entries)
            {
                if (Map(value, $"client {key.Value}", ClientKeys) is not { } c) continue;
                var kind = ClientKind.FortiGate;
                if (Child(c, "kind") is { } kn && Scalar(kn, "kind") is { } ks)
                {
                    if (ks == "fortigate") kind = ClientKind.FortiGate;
                    else if (ks == "strongswan") kind = ClientKind.StrongSwan;
                    else { Error(kn, "unknown client kind", "fortigate or strongswan", DidYouMean.Suggest(ks, ["fortigate", "strongswan"])); continue; }
                }
                var configFile = Str(c, "config");
                ConfigDocument? config = null;
                if (kind == ClientKind.FortiGate)
                {
                    if (configFile is null) { Error(key, $"client {key.Value} has no config", "config: FILE (the FortiGate client's FortiOS configuration)"); continue; }
                    var parsed = loadConfig(configFile);
                    if (!parsed.Ok)
                    {
                        Error(Child(c, "config")!, $"the config of client {key.Value} is invalid ({parsed.Errors.Count} error(s), first: {parsed.Errors[0]})");
                        continue;
                    }
                    config = parsed.Value;
                }
                var count = 1;
                if (Child(c, "count") is { } cn && Scalar(cn, "count") is { } cs
                    && !(int.TryParse(cs, NumberStyles.None, CultureInfo.InvariantCulture, out count) && count is >= 1 and <= MaxClientCount))
                {
                    Error(cn, "not a client count", $"1 to {MaxClientCount}");
                    continue;
                }
                if (firstEntry && firstClientCount is { } given) count = given;
                firstEntry = false;
                if (Child(c, "wan") is not { } wanNode) { Error(key, $"client {key.Value} has no wan", "wan: { segment: S, address: A.B.C.D/N }"); continue; }
                if (Child(c, "lan") is not { } lanNode) { Error(key, $"client {key.Value} has no lan", "lan: { segment: S, address: A.B.C.D/N }"); continue; }
                if (Attach(wanNode, $"the wan of client {key.Value}", AttachKeys, segments, gateway: true, routers) is not ({ } wanSeg, { } wan, var wanGw)) continue;
                if (Attach(lanNode, $"the lan of client {key.Value}", LegKeys, segments, gateway: false) is not ({ } lanSeg, { } lan, _)) continue;
                var pcs = new List<TopologyPc>();
                if (Child(c, "pcs") is { } pcsNode && Entries(pcsNode, $"the pcs of client {key.Value}") is { } pcEntries)
                    foreach (var (pcKey, pcValue) in pcEntries)
                    {
                        if (Address(pcValue) is not { } pa) continue;
                        if (pa.Subnet != lan.Subnet) { Error(pcValue, $"{pcKey.Value} is not on the lan of client {key.Value}", $"an address in {lan.Subnet}"); continue; }
                        pcs.Add(new TopologyPc(pcKey.Value!, pa));
                    }
                // count N: client i (1-based) takes the i-th WAN address from the given one, and the i-th LAN subnet of
                // the LAN's size from the given one, its PCs shifted the same; its LAN segment is `<lan>-<i>` for i > 1.
                var wanSubnet = segments.First(s => s.Segment.Name == wanSeg).Segment.Subnet;
                var lanSize = 1u << (32 - lan.PrefixLength);
                // A LAN subnet that overlaps a declared segment is skipped, as an address plan hands out free subnets: the
                // seed's 101st client would otherwise get 10.10.101.0/24, the Server's segment.
                var taken = segments.Where(s => s.Segment.Name != lanSeg).Select(s => s.Segment.Subnet).ToList();
                var lanStep = 0u;
                for (var i = 0; i < count; i++)
                {
                    var w = Shift(wan, (uint)i);
                    if (!wanSubnet.Contains(w.Address) || w.Address.Equals(LastOf(wanSubnet)))
                    {
                        Error(wanNode, $"client {i + 1} of {key.Value} would have {w.Address}, outside {wanSubnet}", $"a wan address with room for {count} clients");
                        break;
                    }
                    var suffix = count == 1 ? "" : $"-{i + 1}";
                    while (i > 0 && taken.Any(t => Overlaps(t, Shift(lan, lanStep * lanSize).Subnet))) lanStep++;
                    var lanI = Shift(lan, lanStep * lanSize);
                    var pcShift = lanStep * lanSize;
                    list.Add((new TopologyClient(key.Value + suffix, key.Value!, kind, configFile, config, wanSeg, w, wanGw!,
                        i == 0 ? lanSeg : $"{lanSeg}-{i + 1}", lanI,
                        pcs.Select(p => new TopologyPc(p.Name + suffix, Shift(p.Address, pcShift))).ToArray()), key));
                    lanStep++;
                    // Replies find every client's LAN as they find the first's: a router route whose destination holds
                    // the first client's LAN and not this one's is given again for this LAN, with the same next hops.
                    if (i > 0) RouteAsFirst(routers, lan.Subnet, lanI.Subnet);
                }
            }
            return list;
        }

        private static void RouteAsFirst(List<RouterEntry> routers, TopologyPrefix firstLan, TopologyPrefix lan)
        {
            foreach (var r in routers)
                foreach (var route in r.Routes.ToList())
                    if (route.Destination.Length <= firstLan.Length && route.Destination.Contains(firstLan.Network)
                        && !route.Destination.Contains(lan.Network))
                        r.Routes.Add(route with { Destination = lan });
        }

        private static bool Overlaps(TopologyPrefix a, TopologyPrefix b) => a.Contains(b.Network) || b.Contains(a.Network);

        private static TopologyAddress Shift(TopologyAddress a, uint by) =>
            new(Ipv4Address.ToIPAddress(Ipv4Address.ToUInt32(a.Address) + by), a.PrefixLength);

        private static IPAddress LastOf(TopologyPrefix p) => Ipv4Address.ToIPAddress(p.NetworkValue | ~p.Mask);

        /// <summary>`{ segment: S, address: A.B.C.D/N [, gateway: G] }` on a declared segment. A missing gateway is the one router leg on the segment.</summary>
        private (string Segment, TopologyAddress Address, IPAddress? Gateway)? Attach(YamlNode node, string what, IReadOnlyList<string> keys,
            List<SegmentEntry> segments, bool gateway, List<RouterEntry>? routers = null)
        {
            if (Map(node, what, keys) is not { } m) return null;
            var segNode = Child(m, "segment");
            var addrNode = Child(m, "address");
            if (segNode is null || addrNode is null) { Error(node, $"{what} needs a segment and an address", "{ segment: S, address: A.B.C.D/N }"); return null; }
            if (Scalar(segNode, "segment") is not { } segName) return null;
            var seg = segments.FirstOrDefault(s => s.Segment.Name == segName);
            if (seg is null)
            {
                if (_declaredSegments.Contains(segName)) return null;
                Error(segNode, $"no segment {segName}", "a segment declared under segments:", DidYouMean.Suggest(segName, segments.Select(s => s.Segment.Name)));
                return null;
            }
            if (Address(addrNode) is not { } address) return null;
            if (address.Subnet != seg.Segment.Subnet)
            {
                Error(addrNode, $"{address} is not on segment {segName}", $"an address in {seg.Segment.Subnet}");
                return null;
            }
            IPAddress? gw = null;
            if (gateway)
            {
                if (Child(m, "gateway") is { } gwNode)
                {
                    if (Ip(gwNode) is not { } g) return null;
                    if (!seg.Segment.Subnet.Contains(g)) { Error(gwNode, $"gateway {g} is not on segment {segName}", $"an address in {seg.Segment.Subnet}"); return null; }
                    gw = g;
                }
                else
                {
                    var legs = (routers ?? []).SelectMany(r => r.Legs).Where(l => l.Leg.Segment == segName).ToList();
                    if (legs.Count != 1) { Error(node, $"{what} has no gateway and segment {segName} has {legs.Count} router legs", "gateway: A.B.C.D"); return null; }
                    gw = legs[0].Leg.Address.Address;
                }
            }
            else if (Child(m, "gateway") is { } extra) Error(extra, "unknown key", "segment or address");
            return (segName, address, gw);
        }

        // ---------------------------------------------------------------------------------------------------------
        // Cross checks and derivations

        private void CheckHosts(List<UnitEntry> units, List<RouterEntry> routers, List<(TopologyClient Client, YamlNode At)> clients,
            List<(TopologyServer Server, YamlNode At)> servers)
        {
            var seen = new Dictionary<string, string>();
            void One(string name, string what, YamlNode at)
            {
                if (seen.TryGetValue(name, out var first)) Error(at, $"{name} is already {first}", "one name per host");
                else seen[name] = what;
            }
            foreach (var u in units) One(u.Unit.Name, "a unit", u.At);
            foreach (var r in routers) One(r.Name, "a router", r.At);
            foreach (var (c, at) in clients)
            {
                One(c.Name, "a client", at);
                foreach (var pc in c.Pcs) One(pc.Name, "a PC", at);
            }
            foreach (var (s, at) in servers) One(s.Name, "a server", at);
        }

        /// <summary>
        /// An address is on one host of the lab, except that the members of one FGCP cluster share theirs (the primary
        /// answers for the cluster's interfaces).
        /// </summary>
        private void CheckAddresses(List<(TopologyWire Wire, YamlNode At)> wires, List<ClusterEntry> clusters)
        {
            foreach (var group in wires.GroupBy(w => w.Wire.Address.Address))
            {
                var hosts = group.Select(g => g.Wire.Host).Distinct().ToList();
                if (hosts.Count < 2) continue;
                if (clusters.Any(c => hosts.All(c.Cluster.Members.Contains))) continue;
                var first = group.First().Wire;
                foreach (var (w, at) in group.Skip(1).Where(g => g.Wire.Host != first.Host))
                    Error(at, $"{w.Address.Address} of {w.Host} {w.Interface} is already {first.Host} {first.Interface}'s", "an address of its own (only the members of one FGCP cluster share one)");
            }
        }

        private sealed record ClusterEntry(FgcpCluster Cluster);

        private List<ClusterEntry> Clusters(List<UnitEntry> units, List<HeartbeatEntry> heartbeat)
        {
            var list = new List<ClusterEntry>();
            foreach (var g in units.Where(u => u.Unit.Config.Ha.Mode != HaMode.Standalone).GroupBy(u => u.Unit.Config.Ha.GroupId).OrderBy(g => g.Key))
            {
                var members = g.Select(u => u.Unit.Name).ToArray();
                list.Add(new(new FgcpCluster(g.Key, g.First().Unit.Config.Ha.GroupName, members)));
                if (members.Length < 2) continue;
                // The members must hear each other: one heartbeat link holds them all.
                if (!heartbeat.Any(h => members.All(m => h.Link.Ports.Any(p => p.Host == m))))
                    Error(g.First().At, $"FGCP cluster group-id {g.Key} ({string.Join(", ", members)}) shares no heartbeat link",
                        "heartbeat: { LINK: [UNIT PORT, …] } with an hbdev port of each member");
            }
            foreach (var h in heartbeat)
            {
                var groups = h.Link.Ports.Select(p => units.First(u => u.Unit.Name == p.Host).Unit.Config.Ha)
                    .Select(ha => ha.Mode == HaMode.Standalone ? -1 : ha.GroupId).Distinct().ToList();
                if (groups.Count > 1 || groups.Contains(-1))
                    Error(h.At, $"heartbeat link {h.Link.Name} joins units of different FGCP clusters or standalone units",
                        "the hbdev ports of one cluster's members (same `config system ha` group-id)");
            }
            return list;
        }

        private FgspPeering? Fgsp(List<UnitEntry> units, List<ClusterEntry> clusters, string? link, List<TopologyWire> wires, YamlMappingNode root)
        {
            var peers = units.Where(u => u.Unit.Config.StandaloneCluster.Peers.Count > 0).ToList();
            if (peers.Count == 0) return null;
            var members = new List<FgspMember>();
            foreach (var g in peers.GroupBy(u => clusters.FirstOrDefault(c => c.Cluster.Members.Contains(u.Unit.Name))?.Cluster.GroupName ?? u.Unit.Name))
            {
                var sc = g.First().Unit.Config.StandaloneCluster;
                members.Add(new FgspMember(g.Key, g.Select(u => u.Unit.Name).ToArray(), sc.GroupMemberId,
                    sc.Peers.Select(p => IPAddress.TryParse(p.PeerIp, out var a) ? a : IPAddress.Any).ToArray()));
            }
            var groupIds = peers.Select(u => u.Unit.Config.StandaloneCluster.StandaloneGroupId).Distinct().ToList();
            if (groupIds.Count > 1)
                Error(peers[0].At, $"the FGSP peers have different standalone-group-id ({string.Join(", ", groupIds)})", "one FGSP peering per lab");
            if (members.Count > 16)
                Error(peers[0].At, $"{members.Count} FGSP members", "2 to 16 (FortiOS's limit)");
            if (link is null)
            {
                Error(Child(root, "units") ?? root, "the units peer over FGSP (standalone-cluster) but the topology names no fgsp-link", "fgsp-link: SEGMENT");
                return null;
            }
            foreach (var u in peers)
                foreach (var p in u.Unit.Config.StandaloneCluster.Peers)
                {
                    var owner = wires.FirstOrDefault(w => w.Segment == link && w.Address.Address.ToString() == p.PeerIp);
                    if (owner is null || !units.Any(x => x.Unit.Name == owner.Host))
                        Error(u.At, $"{u.Unit.Name}'s FGSP peer {p.PeerIp} is no unit port on the FGSP link {link}", "a cluster-peer peerip of another member's port on " + link);
                }
            return new FgspPeering(groupIds[0], link, members);
        }

        // ---------------------------------------------------------------------------------------------------------
        // Values

        private PortRef? UnitPort(YamlNode node, List<UnitEntry> units)
        {
            if (Scalar(node, "a unit port") is not { } text) return null;
            var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length != 2) { Error(node, "not a unit port", "UNIT PORT, e.g. DC2_VM1 port2"); return null; }
            var unit = units.FirstOrDefault(u => u.Unit.Name == words[0]);
            if (unit is null)
            {
                Error(node, $"no unit {words[0]}", "a unit declared under units:", DidYouMean.Suggest(words[0], units.Select(u => u.Unit.Name)));
                return null;
            }
            if (unit.Unit.Config.Interfaces.All(i => i.Name != words[1]))
            {
                Error(node, $"{words[0]} has no interface {words[1]}", $"an interface of {unit.Unit.ConfigFile}",
                    DidYouMean.Suggest(words[1], unit.Unit.Config.Interfaces.Select(i => i.Name)));
                return null;
            }
            return new PortRef(words[0], words[1]);
        }

        private TopologyPrefix? Prefix(YamlNode node)
        {
            if (Address(node, "a subnet, A.B.C.D/N") is not { } a) return null;
            if (!a.Subnet.Network.Equals(a.Address))
            {
                Error(node, "host bits set in a subnet", $"the network address, {a.Subnet}");
                return null;
            }
            return a.Subnet;
        }

        private TopologyAddress? Address(YamlNode node, string expected = "an address with its prefix length, A.B.C.D/N")
        {
            if (Scalar(node, expected) is not { } text) return null;
            var slash = text.IndexOf('/');
            if (slash < 0 || !IPAddress.TryParse(text[..slash], out var ip) || ip.AddressFamily != AddressFamily.InterNetwork
                || text[..slash].Count(c => c == '.') != 3
                || !int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var len) || len > 32)
            {
                Error(node, "not an IPv4 address with prefix length", expected);
                return null;
            }
            return new TopologyAddress(ip, len);
        }

        private IPAddress? Ip(YamlNode node)
        {
            if (Scalar(node, "an IPv4 address") is not { } text) return null;
            if (IPAddress.TryParse(text, out var ip) && ip.AddressFamily == AddressFamily.InterNetwork && text.Count(c => c == '.') == 3) return ip;
            Error(node, "not an IPv4 address", "A.B.C.D");
            return null;
        }

        private TimeSpan? Duration(YamlNode node)
        {
            if (Scalar(node, "a duration") is not { } text) return null;
            var (digits, unit) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 1.0) : text.EndsWith('s') ? (text[..^1], 1000.0) : (text, -1.0);
            if (unit > 0 && double.TryParse(digits, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var v) && v > 0 && v * unit <= 60_000)
                return TimeSpan.FromMilliseconds(v * unit);
            Error(node, "not a duration", "e.g. 100ms or 1s (at most 60s)");
            return null;
        }

        private string? Str(YamlMappingNode m, string key) => Child(m, key) is { } n ? Scalar(n, key) : null;

        private string? Scalar(YamlNode node, string what)
        {
            if (node is YamlScalarNode s && !string.IsNullOrEmpty(s.Value)) return s.Value;
            Error(node, $"{what} is not a value", "a single value, not a mapping or a list");
            return null;
        }

        private static YamlNode? Child(YamlMappingNode m, string key) =>
            m.Children.FirstOrDefault(kv => kv.Key is YamlScalarNode k && k.Value == key).Value;

        private YamlMappingNode? Map(YamlNode node, string what, IReadOnlyList<string> keys)
        {
            if (node is not YamlMappingNode m)
            {
                Error(node, $"{what} is not a mapping", "KEY: VALUE lines: " + string.Join(", ", keys));
                return null;
            }
            foreach (var k in m.Children.Keys)
            {
                if (k is not YamlScalarNode ks || ks.Value is null) { Error(k, "not a key", string.Join(", ", keys)); continue; }
                if (!keys.Contains(ks.Value)) Error(k, $"unknown key in {what}", string.Join(", ", keys), DidYouMean.Suggest(ks.Value, keys));
            }
            return m;
        }

        /// <summary>A mapping of NAME: VALUE entries (units, segments, …), names being scalars.</summary>
        private List<(YamlScalarNode Key, YamlNode Value)>? Entries(YamlNode node, string what)
        {
            if (node is not YamlMappingNode m)
            {
                Error(node, $"{what} is not a mapping", "NAME: … entries");
                return null;
            }
            var list = new List<(YamlScalarNode, YamlNode)>();
            foreach (var (k, v) in m.Children)
            {
                if (k is YamlScalarNode ks && !string.IsNullOrWhiteSpace(ks.Value) && !ks.Value.Contains(' ')) list.Add((ks, v));
                else Error(k, "not a name", "a name without spaces");
            }
            return list;
        }

        private YamlSequenceNode? Seq(YamlNode node, string what)
        {
            if (node is YamlSequenceNode s) return s;
            Error(node, $"{what} is not a list", "[A, B] or - lines");
            return null;
        }
    }
}
