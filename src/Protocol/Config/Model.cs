using ClusterActors.Protocol.Ike;

namespace ClusterActors.Protocol.Config;

// Typed, read-only views of the tree, built with defaults filled in. Names follow the FortiOS settings
// (`hb-lost-threshold` -> HbLostThreshold) so the CLI reference explains each field.

public enum HaMode { Standalone, ActiveActive, ActivePassive }

public sealed record HbDev(string Interface, int Priority);

public sealed record SystemGlobal(string Hostname, string Alias, string Timezone, int AdminTimeout)
{
    /// <summary>Failed logins from one source address before it is locked out (FortiOS default 3).</summary>
    public int AdminLockoutThreshold { get; init; } = 3;

    /// <summary>How long a locked-out source address is refused (FortiOS default 60 s).</summary>
    public TimeSpan AdminLockoutDuration { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>ENC values written under the unit's own key instead of the product key.</summary>
    public bool PrivateDataEncryption { get; init; }
}

/// <summary>One `config system admin` entry: who may log in, with which password hash, from where.</summary>
public sealed record AdminAccount(string Name, string? AccProfile, AdminPasswordHash? Password, IReadOnlyList<(uint Network, int PrefixLength)> TrustHosts)
{
    /// <summary>
    /// FortiOS: with every trusthost at 0.0.0.0/0 (the default) the account may log in from anywhere; otherwise only from
    /// an address inside one of them. IPv4-mapped IPv6 counts as its IPv4 address; other IPv6 sources only when unrestricted.
    /// </summary>
    public bool Trusts(System.Net.IPAddress source)
    {
        var restricted = TrustHosts.Where(t => t.PrefixLength > 0 || t.Network != 0).ToList();
        if (restricted.Count == 0) return true;
        if (source.IsIPv4MappedToIPv6) source = source.MapToIPv4();
        if (source.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork) return false;
        var b = source.GetAddressBytes();
        var ip = (uint)b[0] << 24 | (uint)b[1] << 16 | (uint)b[2] << 8 | b[3];
        return restricted.Any(t => (ip & Ipv4.MaskOf(t.PrefixLength)) == (t.Network & Ipv4.MaskOf(t.PrefixLength)));
    }
}

/// <summary>`config system ike`: IKE settings of the whole unit (only what this lab's IKE admission uses).</summary>
/// <param name="EmbryonicLimit">Half-open IKE SAs the unit negotiates at once, in total; more IKE_SA_INIT are dropped.</param>
public sealed record SystemIke(int EmbryonicLimit);

public sealed record SystemInterface(
    string Name, string Ip, int PrefixLength, string Type, bool StatusUp, IReadOnlyList<string> AllowAccess,
    string Vdom, string Mode, string Role, string Alias, string Description, bool MtuOverride, int Mtu)
{
    public string Netmask => Ipv4.Format(Ipv4.MaskOf(PrefixLength));
}

public sealed record HaConfig(
    int GroupId, string GroupName, HaMode Mode, Secret? Password, IReadOnlyList<HbDev> HbDevs,
    bool SessionPickup, bool SessionPickupConnectionless, string UpgradeMode, bool Override, int Priority,
    IReadOnlyList<string> Monitor, int HbInterval, int HbLostThreshold, int HaUptimeDiffMargin, int HelloHolddown,
    int Arps, int ArpsInterval, int FailoverHoldTime, string HbIntervalInMilliseconds = "100ms",
    bool Authentication = false, bool Encryption = false)
{
    /// <summary>hb-interval counts 100 ms units, or 10 ms units with `hb-interval-in-milliseconds 10ms`.</summary>
    public TimeSpan HeartbeatInterval => TimeSpan.FromMilliseconds(HbInterval * (HbIntervalInMilliseconds == "10ms" ? 10 : 100));

    /// <summary>How long without heartbeats before a peer is declared dead.</summary>
    public TimeSpan LostAfter => HeartbeatInterval * HbLostThreshold;

    public TimeSpan UptimeDiffMargin => TimeSpan.FromSeconds(HaUptimeDiffMargin);
}

public sealed record ClusterPeer(
    int Id, string PeerIp, string PeerVd, IReadOnlyList<string> SyncVd, IReadOnlyList<string> DownIntfsBeforeSessSync,
    int HbInterval, int HbLostThreshold, bool IpsecTunnelSync, bool SecondaryAddIpsecRoutes)
{
    public TimeSpan HeartbeatInterval => TimeSpan.FromMilliseconds(HbInterval * 100);
    public TimeSpan LostAfter => HeartbeatInterval * HbLostThreshold;
}

public sealed record StandaloneClusterConfig(
    int StandaloneGroupId, int GroupMemberId, IReadOnlyList<ClusterPeer> Peers, string Layer2Connection,
    IReadOnlyList<string> SessionSyncDev, bool Encryption, Secret? PskSecret);

public sealed record Phase1Interface(
    string Name, Phase1Type Type, string Interface, int IkeVersion, string LocalGw, int KeyLife, PeerType PeerType,
    IReadOnlyList<string> Proposal, IReadOnlyList<int> DhGroups, DpdMode Dpd, bool FgspSync, NatTraversal NatTraversal,
    string? PeerId, Secret? PskSecret, int DpdRetryInterval, int DpdRetryCount,
    bool NetDevice, bool AddRoute, string? LocalId, string AuthMethod, string RemoteGw, bool HaSyncEspSeqno,
    bool ModeCfg, string Comments, int Keepalive);

public sealed record Phase2Interface(
    string Name, string Phase1Name, IReadOnlyList<string> Proposal, int KeyLifeSeconds, bool Pfs,
    IReadOnlyList<int> DhGroups, bool Replay, bool Keepalive, bool AutoNegotiate,
    string SrcAddrType, string SrcSubnet, int SrcPrefixLength, string DstAddrType, string DstSubnet, int DstPrefixLength);

/// <summary>
/// One `config router static` entry. <see cref="Dst"/>/<see cref="PrefixLength"/> is the destination (0.0.0.0/0: the
/// default route), <see cref="Gateway"/> the next hop, <see cref="Device"/> the outgoing interface. Lower
/// <see cref="Distance"/> wins between routes to the same destination; a disabled route is kept but not installed.
/// </summary>
public sealed record StaticRoute(int Id, string Dst, int PrefixLength, string Gateway, string Device, int Distance, bool Enabled)
{
    public string Netmask => Ipv4.Format(Ipv4.MaskOf(PrefixLength));
    public bool IsDefault => PrefixLength == 0;
    public override string ToString() => $"{Dst}/{PrefixLength} via {Gateway} dev {Device} distance {Distance}{(Enabled ? "" : " (disabled)")}";
}

/// <summary>Builds the typed records from a validated tree; every missing value comes from the schema default.</summary>
internal static class ModelBuilder
{
    private sealed class View(SectionDef def, Node node)
    {
        public IReadOnlyList<string> Words(string key)
        {
            var k = def.Key(key) ?? throw new InvalidOperationException($"schema of '{def.Name}' has no '{key}'");
            return node.Values.TryGetValue(key, out var v) ? v.Words : k.Default ?? [];
        }

        public string Str(string key) => Words(key) is [var w, ..] ? w : "";
        public string? OptStr(string key) => node.Values.TryGetValue(key, out var v) ? v.Words[0] : null;
        public int Int(string key) => int.Parse(Str(key), System.Globalization.CultureInfo.InvariantCulture);
        public bool On(string key) => Str(key) is "enable";
        public IReadOnlyList<string> List(string key) => Words(key).ToArray().AsReadOnly();
        public IReadOnlyList<int> Ints(string key) => Words(key).Select(int.Parse).ToArray().AsReadOnly();
        public Secret? Secret(string key) => node.Values.TryGetValue(key, out var v) ? v.Secret : null;
        public (string Ip, int Prefix) Prefix(string key)
        {
            var w = Words(key);
            Ipv4.TryParse(w[1], out var mask);
            return (w[0], Ipv4.PrefixOf(mask));
        }
    }

    public static SystemGlobal Global(Node root)
    {
        var v = new View(Schema.Top(Schema.Global), root.Section(Schema.Global));
        return new SystemGlobal(v.Str("hostname"), v.Str("alias"), v.Str("timezone"), v.Int("admintimeout"))
        {
            AdminLockoutThreshold = v.Int("admin-lockout-threshold"),
            AdminLockoutDuration = TimeSpan.FromSeconds(v.Int("admin-lockout-duration")),
            PrivateDataEncryption = v.On("private-data-encryption")
        };
    }

    public static SystemIke Ike(Node root)
    {
        var v = new View(Schema.Top(Schema.Ike), root.Section(Schema.Ike));
        return new SystemIke(v.Int("embryonic-limit"));
    }

    public static IReadOnlyList<AdminAccount> Admins(Node root)
    {
        var def = Schema.Top(Schema.Admin);
        return root.Table(Schema.Admin).Entries.Select(e =>
        {
            var v = new View(def, e.Node);
            var trust = Enumerable.Range(1, 10).Select(i =>
            {
                var w = v.Words($"trusthost{i}");
                Ipv4.TryParse(w[0], out var net);
                Ipv4.TryParse(w[1], out var mask);
                return (net, Ipv4.PrefixOf(mask));
            }).ToArray();
            return new AdminAccount(e.Id, v.OptStr("accprofile"), AdminPasswordHash.TryParse(v.OptStr("password")), trust);
        }).ToArray().AsReadOnly();
    }

    public static IReadOnlyList<SystemInterface> Interfaces(Node root)
    {
        var def = Schema.Top(Schema.Interface);
        return root.Table(Schema.Interface).Entries.Select(e =>
        {
            var v = new View(def, e.Node);
            var (ip, prefix) = v.Prefix("ip");
            return new SystemInterface(e.Id, ip, prefix, v.Str("type"), v.Str("status") == "up", v.List("allowaccess"),
                v.Str("vdom"), v.Str("mode"), v.Str("role"), v.Str("alias"), v.Str("description"), v.On("mtu-override"), v.Int("mtu"));
        }).ToArray().AsReadOnly();
    }

    public static HaConfig Ha(Node root)
    {
        var v = new View(Schema.Top(Schema.Ha), root.Section(Schema.Ha));
        var hb = v.Words("hbdev");
        var hbdevs = Enumerable.Range(0, hb.Count / 2).Select(i => new HbDev(hb[2 * i], int.Parse(hb[2 * i + 1]))).ToArray().AsReadOnly();
        var mode = v.Str("mode") switch { "a-a" => HaMode.ActiveActive, "a-p" => HaMode.ActivePassive, _ => HaMode.Standalone };
        return new HaConfig(v.Int("group-id"), v.Str("group-name"), mode, v.Secret("password"), hbdevs,
            v.On("session-pickup"), v.On("session-pickup-connectionless"), v.Str("upgrade-mode"), v.On("override"), v.Int("priority"),
            v.List("monitor"), v.Int("hb-interval"), v.Int("hb-lost-threshold"), v.Int("ha-uptime-diff-margin"), v.Int("hello-holddown"),
            v.Int("arps"), v.Int("arps-interval"), v.Int("failover-hold-time"), v.Str("hb-interval-in-milliseconds"),
            v.On("authentication"), v.On("encryption"));
    }

    public static StandaloneClusterConfig StandaloneCluster(Node root)
    {
        var def = Schema.Top(Schema.StandaloneCluster);
        var node = root.Section(Schema.StandaloneCluster);
        var v = new View(def, node);
        var peerDef = def.Child(Schema.ClusterPeer)!;
        var peers = node.Table(Schema.ClusterPeer).Entries.Select(e =>
        {
            var p = new View(peerDef, e.Node);
            return new ClusterPeer(int.Parse(e.Id), p.Str("peerip"), p.Str("peervd"), p.List("syncvd"), p.List("down-intfs-before-sess-sync"),
                p.Int("hb-interval"), p.Int("hb-lost-threshold"), p.On("ipsec-tunnel-sync"), p.On("secondary-add-ipsec-routes"));
        }).ToArray().AsReadOnly();
        return new StandaloneClusterConfig(v.Int("standalone-group-id"), v.Int("group-member-id"), peers, v.Str("layer2-connection"),
            v.List("session-sync-dev"), v.On("encryption"), v.Secret("psksecret"));
    }

    public static IReadOnlyList<Phase1Interface> Phase1(Node root)
    {
        var def = Schema.Top(Schema.Phase1);
        return root.Table(Schema.Phase1).Entries.Select(e =>
        {
            var v = new View(def, e.Node);
            return new Phase1Interface(e.Id, ConfigWords.Parse<Phase1Type>(v.Str("type")), v.Str("interface"), v.Int("ike-version"), v.Str("local-gw"), v.Int("keylife"),
                ConfigWords.Parse<PeerType>(v.Str("peertype")), v.List("proposal"), v.Ints("dhgrp"), ConfigWords.Parse<DpdMode>(v.Str("dpd")), v.On("fgsp-sync"), ConfigWords.Parse<NatTraversal>(v.Str("nattraversal")),
                v.OptStr("peerid"), v.Secret("psksecret"), v.Int("dpd-retryinterval"), v.Int("dpd-retrycount"),
                v.On("net-device"), v.On("add-route"), v.OptStr("localid"), v.Str("authmethod"), v.Str("remote-gw"),
                v.On("ha-sync-esp-seqno"), v.On("mode-cfg"), v.Str("comments"), v.Int("keepalive"));
        }).ToArray().AsReadOnly();
    }

    public static IReadOnlyList<StaticRoute> StaticRoutes(Node root)
    {
        var def = Schema.Top(Schema.RouterStatic);
        return root.Table(Schema.RouterStatic).Entries.Select(e =>
        {
            var v = new View(def, e.Node);
            var (dst, prefix) = v.Prefix("dst");
            return new StaticRoute(int.Parse(e.Id, System.Globalization.CultureInfo.InvariantCulture), dst, prefix, v.Str("gateway"),
                v.Str("device"), v.Int("distance"), v.On("status"));
        }).ToArray().AsReadOnly();
    }

    public static IReadOnlyList<Phase2Interface> Phase2(Node root)
    {
        var def = Schema.Top(Schema.Phase2);
        return root.Table(Schema.Phase2).Entries.Select(e =>
        {
            var v = new View(def, e.Node);
            var (src, srcLen) = v.Prefix("src-subnet");
            var (dst, dstLen) = v.Prefix("dst-subnet");
            return new Phase2Interface(e.Id, v.Str("phase1name"), v.List("proposal"), v.Int("keylifeseconds"), v.On("pfs"), v.Ints("dhgrp"),
                v.On("replay"), v.On("keepalive"), v.On("auto-negotiate"), v.Str("src-addr-type"), src, srcLen, v.Str("dst-addr-type"), dst, dstLen);
        }).ToArray().AsReadOnly();
    }
}
