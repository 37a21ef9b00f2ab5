using ClusterActors.Protocol.Ike;

namespace ClusterActors.Protocol.Config;

/// <summary>
/// One setting. <see cref="Default"/> is in canonical words (null: no value until set).
/// <see cref="PerUnit"/> marks what FGCP does not synchronise, so each cluster member keeps its own.
/// <see cref="NotEmulated"/> says, for one canonical word FortiOS accepts, why this emulator cannot run it (null: it can).
/// </summary>
internal sealed record KeyDef(string Name, ValueType Type, string[]? Default = null, bool PerUnit = false, bool Required = false,
    Func<string, string?>? NotEmulated = null, string? Emulated = null)
{
    public bool IsSecret => Type is SecretType or PasswordHashType;
}

internal enum IdKind { None, Name, Integer }

/// <summary>
/// A `config` block: a single section (system ha) or a table (edit entries). Names may have several words
/// (`vpn ipsec phase1-interface`); nested blocks (`config cluster-peer`) are children.
/// </summary>
internal sealed record SectionDef(string Name, IdKind Id, KeyDef[] Keys, SectionDef[] Children, int IdMaxLength = 35, string[]? BuiltinEntries = null)
{
    public bool IsTable => Id != IdKind.None;
    public string[] Words { get; } = Name.Split(' ');
    public KeyDef? Key(string name) => Keys.FirstOrDefault(k => k.Name == name);
    public SectionDef? Child(string name) => Children.FirstOrDefault(c => c.Name == name);
}

/// <summary>
/// The data-driven FortiOS 7.4 subset this lab understands. Ranges and defaults follow
/// docs/shared reference fortios-ha-behaviour.md; where FortiOS varies by platform we pick the VM value.
/// </summary>
internal static class Schema
{
    public const string Global = "system global";
    public const string Admin = "system admin";
    public const string Interface = "system interface";
    public const string Ha = "system ha";
    public const string StandaloneCluster = "system standalone-cluster";
    public const string Ike = "system ike";
    public const string ClusterPeer = "cluster-peer";
    public const string Phase1 = "vpn ipsec phase1-interface";
    public const string Phase2 = "vpn ipsec phase2-interface";
    public const string RouterStatic = "router static";

    /// <summary>A FortiGate-VM always has these ten physical ports; they cannot be created or deleted.</summary>
    public static readonly string[] VmPorts = Enumerable.Range(1, 10).Select(i => $"port{i}").ToArray();

    private static readonly EnumType EnableDisable = new(["enable", "disable"]);
    private static string[] D(params string[] words) => words;
    private static readonly string[] Enable = ["enable"];
    private static readonly string[] Disable = ["disable"];

    private static readonly string[] Ciphers = ["des", "3des", "aes128", "aes192", "aes256", "aria128", "aria192", "aria256", "seed"];
    private static readonly string[] Hashes = ["md5", "sha1", "sha256", "sha384", "sha512"];
    private static readonly string[] Prfs = ["prfsha1", "prfsha256", "prfsha384", "prfsha512"];

    // IKE needs an integrity/PRF in every proposal; ESP can run null cipher or null hash (not both).
    public static readonly string[] Phase1Proposals =
        Ciphers.SelectMany(c => Hashes.Select(h => $"{c}-{h}"))
            .Concat(new[] { "aes128gcm", "aes256gcm", "chacha20poly1305" }.SelectMany(c => Prfs.Select(p => $"{c}-{p}")))
            .ToArray();

    public static readonly string[] Phase2Proposals =
        Hashes.Select(h => $"null-{h}")
            .Concat(Ciphers.SelectMany(c => Hashes.Prepend("null").Select(h => $"{c}-{h}")))
            .Concat(["aes128gcm", "aes256gcm", "chacha20poly1305"])
            .ToArray();

    public static readonly string[] DhGroups = ["1", "2", "5", "14", "15", "16", "17", "18", "19", "20", "21", "27", "28", "29", "30", "31", "32"];

    // Numbers are values, not words: `set dhgrp 3` must not silently become 30/31/32.
    private static readonly MultiEnumType DhGroupType = new(DhGroups, allowPrefix: false);

    // FortiOS keywords and groups the IKE/ESP code does not implement: refused by name at `config check`, not when a
    // client dials (src/Protocol/Ike/README.md "Proposals").
    private static string? ProposalNotEmulated(string word) => ClusterActors.Protocol.Ike.IkeSuite.Unsupported(word);

    private static string? DhGroupNotEmulated(string word) =>
        int.TryParse(word, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var g) && ClusterActors.Protocol.Ike.DhGroup.IsSupported(g)
            ? null
            : $"DH group {word} is not implemented";

    private static readonly string EmulatedDhGroups = "dhgrp " + string.Join(" ", ClusterActors.Protocol.Ike.DhGroup.Supported);

    private static string? HostnameCheck(string s) =>
        s.Length == 0 || s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') ? null : "hostname may only contain letters, digits, '-', '_' and '.'";

    public static readonly SectionDef Root = new("", IdKind.None, [],
    [
        new(Global, IdKind.None,
        [
            new("hostname", new StringType(35, 0, HostnameCheck), D("FortiGate-VM64"), PerUnit: true),
            new("alias", new StringType(35), D("")),
            new("timezone", new StringType(63), D("UTC")),
            new("admintimeout", new IntType(1, 480), D("5")),
            // FortiOS: 1-10 failed logins from one source address, then that address is locked out for the duration.
            new("admin-lockout-threshold", new IntType(1, 10), D("3")),
            // FortiOS documents 1-4294967295 s; capped at int range here (68 years).
            new("admin-lockout-duration", new IntType(1, int.MaxValue), D("60")),
            // Per unit: the key is the unit's own (generated at its first start), so is the choice to write under it.
            new("private-data-encryption", EnableDisable, Disable, PerUnit: true),
        ], []),
        // FGCP synchronises administrator accounts; the password is only ever a one-way hash (ENC PB2…).
        new(Admin, IdKind.Name,
        [
            new("accprofile", new StringType(35)),
            new("vdom", new StringListType(31)),
            new("password", new PasswordHashType(1, 128)),
            .. Enumerable.Range(1, 10).Select(i => new KeyDef($"trusthost{i}", new IpMaskType(), D("0.0.0.0", "0.0.0.0"))),
            new("comments", new StringType(255)),
        ], [], IdMaxLength: 64),
        new(Interface, IdKind.Name,
        [
            new("vdom", new StringType(31), D("root")),
            new("mode", new EnumType(["static", "dhcp"]), D("static")),
            new("ip", new IpMaskType(), D("0.0.0.0", "0.0.0.0")),
            new("allowaccess", new MultiEnumType(["ping", "https", "ssh", "http", "snmp", "fgfm", "telnet"])),
            new("status", new EnumType(["up", "down"]), D("up")),
            new("type", new EnumType(["physical", "loopback", "vlan", "aggregate", "tunnel"]), D("physical")),
            new("alias", new StringType(25), D("")),
            new("description", new StringType(255), D("")),
            new("role", new EnumType(["lan", "wan", "dmz", "undefined"]), D("undefined")),
            new("mtu-override", EnableDisable, Disable),
            new("mtu", new IntType(68, 9216), D("1500")),
        ], [], IdMaxLength: 15, BuiltinEntries: VmPorts),
        new(Ha, IdKind.None,
        [
            new("group-id", new IntType(0, 1023), D("0")),
            new("group-name", new StringType(32), D("")),
            new("mode", new EnumType(["standalone", "a-a", "a-p"]), D("standalone")),
            new("password", new SecretType(1, 128)),
            new("hbdev", new HbDevType()),
            // FortiOS: heartbeat authentication and encryption are disabled by default (KB 192517, FortiOS 5.0-7.4 HA
            // guides); keys are derived from `password` and the group (src/Actors/Fgcp/README.md, "Heartbeat security").
            new("authentication", EnableDisable, Disable),
            new("encryption", EnableDisable, Disable),
            new("session-pickup", EnableDisable, Disable),
            new("session-pickup-connectionless", EnableDisable, Disable),
            new("upgrade-mode", new EnumType(["simultaneous", "uninterruptible", "local-only", "secondary-only"]), D("uninterruptible")),
            new("hb-interval", new IntType(1, 20), D("2")),
            new("hb-interval-in-milliseconds", new EnumType(["100ms", "10ms"]), D("100ms")),
            // 20 (not the classic 6): the FortiOS 7.x schema and VM platforms use 20, and this lab emulates VMs.
            new("hb-lost-threshold", new IntType(1, 60), D("20")),
            new("hello-holddown", new IntType(5, 300), D("20")),
            new("arps", new IntType(1, 60), D("5")),
            new("arps-interval", new IntType(1, 20), D("8")),
            new("ha-uptime-diff-margin", new IntType(1, 65535), D("300")),
            new("failover-hold-time", new IntType(0, 300), D("0")),
            new("override", EnableDisable, Disable, PerUnit: true),
            new("priority", new IntType(0, 255), D("128"), PerUnit: true),
            new("monitor", new InterfaceRefType(list: true)),
        ], []),
        new(StandaloneCluster, IdKind.None,
        [
            new("standalone-group-id", new IntType(0, 255), D("0")),
            new("group-member-id", new IntType(0, 15), D("0")),
            new("layer2-connection", new EnumType(["available", "unavailable"]), D("unavailable")),
            new("session-sync-dev", new InterfaceRefType(list: true)),
            new("encryption", EnableDisable, Disable),
            new("psksecret", new SecretType(1, 128)),
        ],
        [
            new(ClusterPeer, IdKind.Integer,
            [
                new("peervd", new StringType(31), D("root")),
                new("peerip", new IpType(), D("0.0.0.0")),
                new("syncvd", new StringListType(31)),
                new("down-intfs-before-sess-sync", new InterfaceRefType(list: true)),
                new("hb-interval", new IntType(1, 20), D("2")),
                new("hb-lost-threshold", new IntType(1, 60), D("10")),
                new("ipsec-tunnel-sync", EnableDisable, Enable),
                new("secondary-add-ipsec-routes", EnableDisable, Enable),
            ], []),
        ]),
        // FortiOS 7.0+: "maximum number of IPsec tunnels to negotiate simultaneously", 50-20000. The 7.0.0 New Features
        // guide gives default 1000 and says the default is tuned per platform (mid- and high-end differ); a VM's is
        // not documented, so this lab takes the documented 1000 (src/Protocol/Ike/README.md "Admission under flood").
        // FGCP-synced like the rest of `config system`, so both members shed at the same count.
        new(Ike, IdKind.None,
        [
            new("embryonic-limit", new IntType(50, 20000), D("1000")),
        ], []),
        new(Phase1, IdKind.Name,
        [
            new("type", new EnumType(ConfigWords.Of<Phase1Type>()), D("static")),
            new("interface", new InterfaceRefType(list: false), Required: true),
            new("ike-version", new EnumType(["1", "2"], allowPrefix: false), D("1")),
            new("local-gw", new IpType(), D("0.0.0.0")),
            new("keylife", new IntType(120, 172800), D("86400")),
            new("peertype", new EnumType(ConfigWords.Of<PeerType>()), D("peer")),
            new("net-device", EnableDisable, Disable),
            new("proposal", new MultiEnumType(Phase1Proposals), Required: true, NotEmulated: ProposalNotEmulated, Emulated: ClusterActors.Protocol.Ike.IkeSuite.Emulated),
            new("add-route", EnableDisable, Enable),
            new("localid", new StringType(63)),
            new("dpd", new EnumType(ConfigWords.Of<DpdMode>()), D("on-demand")),
            new("dhgrp", DhGroupType, D("14", "5"), NotEmulated: DhGroupNotEmulated, Emulated: EmulatedDhGroups),
            new("fgsp-sync", EnableDisable, Disable),
            new("nattraversal", new EnumType(ConfigWords.Of<NatTraversal>()), D("enable")),
            // NAT-T keepalive frequency in seconds; only used while NAT-T is active on a tunnel.
            new("keepalive", new IntType(5, 900), D("10")),
            new("remote-gw", new IpType(), D("0.0.0.0")),
            new("authmethod", new EnumType(["psk", "signature"]), D("psk")),
            new("peerid", new StringType(255)),
            new("psksecret", new SecretType(6, 128)),
            new("dpd-retrycount", new IntType(0, 10), D("3")),
            new("dpd-retryinterval", new IntType(1, 3600), D("20")),
            new("ha-sync-esp-seqno", EnableDisable, Enable),
            new("mode-cfg", EnableDisable, Disable),
            new("comments", new StringType(1023), D("")),
        ], [], IdMaxLength: 15),
        new(Phase2, IdKind.Name,
        [
            new("phase1name", new Phase1RefType(), Required: true),
            new("proposal", new MultiEnumType(Phase2Proposals),
                D("aes128-sha1", "aes256-sha1", "aes128-sha256", "aes256-sha256", "aes128gcm", "aes256gcm", "chacha20poly1305"),
                NotEmulated: ProposalNotEmulated, Emulated: ClusterActors.Protocol.Ike.IkeSuite.Emulated),
            new("pfs", EnableDisable, Enable),
            new("dhgrp", DhGroupType, D("14", "5"), NotEmulated: DhGroupNotEmulated, Emulated: EmulatedDhGroups),
            new("replay", EnableDisable, Enable),
            new("keepalive", EnableDisable, Disable),
            new("auto-negotiate", EnableDisable, Disable),
            new("keylifeseconds", new IntType(120, 172800), D("43200")),
            new("src-addr-type", new EnumType(["subnet", "range", "ip", "name"]), D("subnet")),
            new("src-subnet", new IpMaskType(), D("0.0.0.0", "0.0.0.0")),
            new("dst-addr-type", new EnumType(["subnet", "range", "ip", "name"]), D("subnet")),
            new("dst-subnet", new IpMaskType(), D("0.0.0.0", "0.0.0.0")),
        ], [], IdMaxLength: 35),
        // FGCP synchronises routing configuration, so no key here is PerUnit: a secondary takes the primary's table.
        new(RouterStatic, IdKind.Integer,
        [
            new("status", EnableDisable, Enable),
            new("dst", new IpMaskType(), D("0.0.0.0", "0.0.0.0")),
            new("gateway", new IpType(), D("0.0.0.0")),
            new("distance", new IntType(1, 255), D("10")),
            new("device", new InterfaceRefType(list: false), Required: true),
        ], []),
    ]);

    public static SectionDef Top(string name) => Root.Child(name)!;
}
