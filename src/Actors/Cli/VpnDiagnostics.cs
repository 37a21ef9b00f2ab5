using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Cli;

/// <summary>
/// Per-tunnel print facts FortiOS shows that <see cref="DialupTunnelState"/> does not carry (TunnelState.cs is not ours
/// to change). Both are optional; without them the formatter uses the defaults documented in README.md.
/// </summary>
/// <param name="SaInstalledTimeout">
/// The first number of <c>life: … timeout=&lt;n&gt;/&lt;keylife&gt;</c>: the lifetime the kernel SA got when installed,
/// a few random seconds below keylifeseconds (10791 and 10790 in the seed). It is fixed per SA — identical on all four
/// units while their <c>expire</c> differ — and <c>expire</c> counts down from it. Default: keylife − 10.
/// </param>
/// <param name="NpuSelId">The <c>npu_selid</c> (hex). Default: 0x1b + proxyid serial (serial 1 → 1c, 3 → 1e as in the seed).</param>
public sealed record TunnelListEntry(DialupTunnelState State, int? SaInstalledTimeout = null, int? NpuSelId = null);

/// <summary>`diagnose sys ha standalone-peers`: one FGSP member's view (a unit of an FGCP-over-FGSP cluster).</summary>
/// <param name="DetectedPeers">`Detected-peers=`; default the number of kernel peers.</param>
public sealed record FgspPeersStatus(
    int StandaloneGroupId,
    int GroupMemberId,
    IReadOnlyList<FgspPeerLine> Peers,
    IReadOnlyList<FgspDevBase> DevBase,
    int? DetectedPeers = null)
{
    /// <summary>Printed after the dev_base table when encryption is enable or FGSP sync was dropped (README, lab addition).</summary>
    public FgspSyncProtection? SyncProtection { get; init; }
}

/// <summary>
/// The lab's addition to `diagnose sys ha standalone-peers`: this unit's standalone-cluster encryption, whether a
/// psksecret is set, and the FGSP sync records it dropped by cause (a settings mismatch with a peer shows here).
/// </summary>
public sealed record FgspSyncProtection(bool Encryption, bool PskSecretSet, IReadOnlyDictionary<string, long> DroppedByCause);

/// <summary>One `peerN:` block: the peer's sync endpoint (UDP/708), its member id and the sync counters.</summary>
public sealed record FgspPeerLine(
    int Vfid,
    IPAddress PeerIp,
    int Port,
    int StandaloneId,
    long SessionSend,
    long SessionRecv,
    long PacketSend,
    long PacketRecv);

/// <summary>One `standalone_id=N:` entry of the kernel dev_base: the interface MACs of member N by phyindex.</summary>
public sealed record FgspDevBase(int StandaloneId, IReadOnlyList<string> Macs);

/// <summary>
/// FortiOS's layouts for `diagnose vpn tunnel list` and `diagnose sys ha standalone-peers` as pure functions of values,
/// so they are diffed against the scenario document without a running unit. Choices are in README.md.
/// </summary>
public static class VpnDiagnostics
{
    private const string Dashes = "------------------------------------------------------";

    /// <summary>The options bits every dialup instance in the seed has (`npu frag-rfc`).</summary>
    public const uint OptionsBase = 0x2208;

    /// <summary>The bit that distinguishes 2288 from 2208: `rgwy-chg`.</summary>
    public const uint OptionRgwyChg = 0x80;

    /// <summary>Kernel HZ FortiOS's idle counters are kept in.</summary>
    private const long Hz = 100;

    /// <summary>Linux starts jiffies 300 s before wrapping 32 bits (INITIAL_JIFFIES), so "last = 0" reads as ~42.9 M s.</summary>
    private const long InitialJiffies = (1L << 32) - 300 * Hz;

    public static string TunnelList(IReadOnlyList<DialupTunnelState> tunnels, DateTimeOffset now, int vdom = 0, DateTimeOffset? bootedAt = null)
    {
        ArgumentNullException.ThrowIfNull(tunnels);
        return TunnelList(tunnels.Select(t => new TunnelListEntry(t)).ToList(), now, vdom, bootedAt);
    }

    /// <param name="bootedAt">Unit boot time; only used for `ilast/olast` of a tunnel that never received/sent (standby copies).</param>
    public static string TunnelList(IReadOnlyList<TunnelListEntry> entries, DateTimeOffset now, int vdom = 0, DateTimeOffset? bootedAt = null)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"list all ipsec tunnel in vd {vdom}\n");
        foreach (var e in entries) AppendTunnel(sb, e, now, bootedAt ?? now);
        return sb.ToString();
    }

    private static void AppendTunnel(StringBuilder sb, TunnelListEntry e, DateTimeOffset now, DateTimeOffset bootedAt)
    {
        var t = e.State;
        var sa = t.Sa;
        var natt = !string.Equals(t.Natt.Mode, "none", StringComparison.Ordinal);
        var options = OptionsBase | (t.RemoteGatewayChanged ? OptionRgwyChg : 0);
        var optionNames = t.RemoteGatewayChanged ? "npu rgwy-chg frag-rfc" : "npu frag-rfc";
        var installed = e.SaInstalledTimeout ?? sa.LifetimeSeconds - 10;
        var expire = Math.Max(0L, installed - WholeSeconds(now - sa.EstablishedAt));
        var saTraffic = sa.Dec.Packets + sa.Enc.Packets > 0;
        var selId = e.NpuSelId ?? 0x1b + sa.ProxyIdSerial;
        var lport = natt ? t.LocalPort : 0;
        var rport = natt ? t.RemotePort : 0;

        var I = CultureInfo.InvariantCulture;
        sb.Append(Dashes).Append('\n');
        sb.Append(I, $"name={t.Name} ver=2 serial={t.Serial} {t.LocalGateway}:{lport}->{t.RemoteGateway}:{rport} tun_id={t.RemoteGateway} tun_id6={TunId6(t.Serial)} dst_mtu={t.DstMtu} dpd-link=on weight=1\n");
        sb.Append(I, $"bound_if={t.BoundInterfaceIndex} lgwy=static/1 tun=intf/0 mode=dial_inst/3 encap=none/{options} options[{options:x}]={optionNames}  run_state=0 role={RoleName(t.Role)} accept_traffic={(t.AcceptTraffic ? 1 : 0)} overlay_id=0\n");
        sb.Append('\n');
        sb.Append(I, $"parent={t.Parent} index={t.Index}\n");
        sb.Append(I, $"proxyid_num=1 child_num=0 refcnt=5 ilast={Idle(t.LastRx, now, bootedAt)} olast={Idle(t.LastTx, now, bootedAt)} ad=/0\n");
        sb.Append(I, $"stat: rxp={t.Stat.RxPackets} txp={t.Stat.TxPackets} rxb={t.Stat.RxBytes} txb={t.Stat.TxBytes}\n");
        sb.Append(I, $"dpd: mode={t.Dpd.Mode} on={(t.Dpd.On ? 1 : 0)} idle={t.Dpd.IdleMs}ms retry={t.Dpd.Retry} count={t.Dpd.Count} seqno={t.Dpd.Seqno:x}\n");
        sb.Append(I, $"natt: mode={t.Natt.Mode} draft={t.Natt.Draft} interval={t.Natt.Interval} remote_port={t.Natt.RemotePort}\n");
        sb.Append("fec: egress=0 ingress=0\n");
        sb.Append(I, $"proxyid={t.ProxyIdName} proto=0 sa=1 ref={(saTraffic ? 3 : 2)} serial={sa.ProxyIdSerial}\n");
        sb.Append(I, $"  src: {Selector(t.Src)}\n");
        sb.Append(I, $"  dst: {Selector(t.Dst)}\n");
        sb.Append(I, $"  SA:  ref=3 options=602 type=00 soft=0 mtu={sa.Mtu} expire={expire}/0B replaywin={sa.ReplayWindow}\n");
        sb.Append(I, $"       seqno={sa.NextOutboundSeq:x} esn=0 replaywin_lastseq={sa.ReplayLastSeq:x8} qat=0 rekey=0 hash_search_len=1\n");
        sb.Append(I, $"  life: type=01 bytes=0/0 timeout={installed}/{sa.LifetimeSeconds}\n");
        AppendDirection(sb, "dec", sa.Dec);
        AppendDirection(sb, "enc", sa.Enc);
        sb.Append(I, $"  dec:pkts/bytes={sa.Dec.Packets}/{sa.Dec.Bytes}, enc:pkts/bytes={sa.Enc.Packets}/{sa.Enc.Bytes}\n");
        sb.Append(I, $"  npu_flag=00 npu_rgwy={t.RemoteGateway} npu_lgwy={t.LocalGateway} npu_selid={selId:x} dec_npuid=0 enc_npuid=0\n");
    }

    private static void AppendDirection(StringBuilder sb, string label, SaDirection d)
    {
        var I = CultureInfo.InvariantCulture;
        sb.Append(I, $"  {label}: spi={d.Spi:x8} esp={EspName(d.EncKey.Length)} key={d.EncKey.Length} {Convert.ToHexStringLower(d.EncKey)}\n");
        sb.Append(I, $"       ah={AuthName(d.AuthKey.Length)} key={d.AuthKey.Length} {Convert.ToHexStringLower(d.AuthKey)}\n");
    }

    /// <summary>
    /// `diagnose vpn ike gateway list`: one block per dialup instance with an IKE SA, FortiOS 7.x's layout as published
    /// (Fortinet admin guides and field outputs: `vd:` … `IKE SA: created 1/1  established 1/1  time a/b/c ms`, then the SA's
    /// `id/spi`, `direction`, `status`, `proposal`, `message-id sent/recv`, `lifetime/rekey`, `DPD sent/recv`). Pure: the
    /// states and the time of printing in. Choices in README.md beside this file.
    /// </summary>
    /// <param name="interfaceOf">The phase1's `set interface`, by phase1 name (its ifindex is the state's bound_if).</param>
    public static string IkeGatewayList(IReadOnlyList<DialupTunnelState> tunnels, DateTimeOffset now, Func<string, string> interfaceOf, int vdom = 0)
    {
        var I = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        foreach (var t in tunnels)
        {
            if (t.Ike is not { } ike) continue;
            var (ifName, ifIndex) = (interfaceOf(t.Parent), t.BoundInterfaceIndex);
            var age = (long)Math.Max(0, (now - ike.EstablishedAt).TotalSeconds);
            sb.Append(I, $"vd: root/{vdom}\n");
            sb.Append(I, $"name: {t.Name}\n");
            sb.Append("version: 2\n");
            sb.Append(I, $"interface: {ifName} {ifIndex}\n");
            sb.Append(I, $"addr: {t.LocalGateway}:{ike.LocalPort} -> {t.RemoteGateway}:{ike.PeerPort}\n");
            sb.Append(I, $"tun_id: {t.RemoteGateway}/{TunId6(t.Serial)}\n");
            sb.Append("remote_location: 0.0.0.0\n");
            sb.Append("network-id: 0\n");
            sb.Append(I, $"created: {age}s ago\n");
            sb.Append(I, $"peer-id: {ike.PeerId}\n");
            sb.Append("peer-id-auth: no\n");
            sb.Append("PPK: no\n");
            sb.Append("IKE SA: created 1/1  established 1/1  time 0/0/0 ms\n");
            sb.Append("IPsec SA: created 1/1  established 1/1  time 0/0/0 ms\n");
            sb.Append('\n');
            sb.Append(I, $"  id/spi: {t.Serial} {ike.SpiI:x16}/{ike.SpiR:x16}\n");
            sb.Append(I, $"  direction: {(ike.IsInitiator ? "initiator" : "responder")}\n");
            sb.Append(I, $"  status: established {age}-{age}s ago = 0ms\n");
            sb.Append(I, $"  proposal: {ike.Proposal}\n");
            sb.Append("  child: no\n");
            sb.Append("  PPK: no\n");
            sb.Append(I, $"  message-id sent/recv: {ike.NextRequestId}/{ike.ExpectedPeerRequestId}\n");
            sb.Append(I, $"  lifetime/rekey: {ike.LifetimeSeconds}/{Math.Max(0, ike.LifetimeSeconds - age)}\n");
            // Requests this side sent after IKE_AUTH are its DPD probes (a responder sends no others until a delete); the
            // peer's after its IKE_SA_INIT (0) and IKE_AUTH (1) are its liveness checks we answered.
            var dpdSent = ike.IsInitiator ? Math.Max(0, (long)ike.NextRequestId - 2) : ike.NextRequestId;
            var dpdRecv = ike.IsInitiator ? ike.ExpectedPeerRequestId : Math.Max(0, (long)ike.ExpectedPeerRequestId - 2);
            sb.Append(I, $"  DPD sent/recv: {dpdSent:x8}/{dpdRecv:x8}\n");
            sb.Append(I, $"  peer-id: {ike.PeerId}\n");
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>
    /// `get vpn ipsec tunnel summary`: one line per instance, `'NAME' REMOTE:PORT  selectors(total,up): T/U  rx(pkt,err): P/E
    /// tx(pkt,err): P/E` (FortiOS's layout as published). The port is 0 without NAT-T, as `diagnose vpn tunnel list` prints it;
    /// a selector is up when its SA is installed (every unit that holds the instance has it installed, standbys too).
    /// </summary>
    public static string TunnelSummary(IReadOnlyList<DialupTunnelState> tunnels)
    {
        var I = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        foreach (var t in tunnels)
        {
            var port = t.Natt.Mode == "none" ? 0 : t.RemotePort;
            sb.Append(I, $"'{t.Name}' {t.RemoteGateway}:{port}  selectors(total,up): 1/1  rx(pkt,err): {t.Stat.RxPackets}/{t.RxErrors}  tx(pkt,err): {t.Stat.TxPackets}/{t.TxErrors}\n");
        }
        return sb.ToString();
    }

    /// <summary>`tun_id6`: the IPv4-compatible address ::10.0.0.0 + serial (serial 4 → ::10.0.0.4).</summary>
    public static string TunId6(int serial)
    {
        var v = 0x0a000000u + (uint)serial;
        return string.Create(CultureInfo.InvariantCulture, $"::{v >> 24}.{(v >> 16) & 0xff}.{(v >> 8) & 0xff}.{v & 0xff}");
    }

    /// <summary>
    /// `ilast/olast`: whole seconds since the last rx/tx; a tunnel that never did prints the kernel's (jiffies − 0)/HZ,
    /// i.e. (2^32 − 300·HZ + uptime·HZ)/HZ ≈ 42,949,373 + uptime seconds (the seed's 42975898 ⇒ ~26525 s uptime).
    /// </summary>
    public static long Idle(DateTimeOffset? last, DateTimeOffset now, DateTimeOffset bootedAt)
    {
        if (last is { } at) return Math.Max(0L, WholeSeconds(now - at));
        // Integer ticks, not TotalSeconds: 26525.04 s must be 2652504 jiffies, not 2652503.99….
        var uptimeJiffies = Math.Max(0L, (now - bootedAt).Ticks / (TimeSpan.TicksPerSecond / Hz));
        return (InitialJiffies + uptimeJiffies) / Hz;
    }

    public static string RoleName(TunnelRole role) => TunnelRoles.Word(role);

    private static string Selector(TrafficSelector s) =>
        string.Create(CultureInfo.InvariantCulture, $"{s.Protocol}:{s.Start}-{s.End}:{s.Port}");

    /// <summary>FortiOS prints the cipher family, not the key size: aes128/192/256 are all `esp=aes`.</summary>
    private static string EspName(int keyBytes) => keyBytes switch
    {
        0 => "null",
        8 => "des",
        16 or 24 or 32 => "aes",
        _ => "unknown",
    };

    private static string AuthName(int keyBytes) => keyBytes switch
    {
        0 => "null",
        16 => "md5",
        20 => "sha1",
        32 => "sha256",
        48 => "sha384",
        64 => "sha512",
        _ => "unknown",
    };

    private static long WholeSeconds(TimeSpan t) => (long)Math.Floor((decimal)t.Ticks / TimeSpan.TicksPerSecond);

    // ---------------------------------------------------------------- diagnose sys ha standalone-peers

    /// <summary>Member ids 0–15 (FortiOS 7.x `group-member-id` range); the dev_base table has one entry per id.</summary>
    public const int MaxStandaloneIds = 16;

    /// <param name="elide">
    /// true (default): a run of three or more consecutive empty ids prints as its first id, `...`, its last id — exactly
    /// how the scenario document shows ids 3–15. false: all 16 ids.
    /// </param>
    public static string StandalonePeers(FgspPeersStatus status, bool elide = true)
    {
        ArgumentNullException.ThrowIfNull(status);
        var I = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(I, $"Group={status.StandaloneGroupId}, ID={status.GroupMemberId}\n");
        sb.Append(I, $"Detected-peers={status.DetectedPeers ?? status.Peers.Count}\n");
        sb.Append(I, $"Kernel standalone-peers: num={status.Peers.Count}.\n");
        for (var i = 0; i < status.Peers.Count; i++)
        {
            var p = status.Peers[i];
            sb.Append(I, $"peer{i}: vfid={p.Vfid}, peerip:port = {p.PeerIp}:{p.Port}, standalone_id={p.StandaloneId}\n");
            sb.Append(I, $"        session-type: send={p.SessionSend}, recv={p.SessionRecv}\n");
            sb.Append(I, $"         packet-type: send={p.PacketSend}, recv={p.PacketRecv}\n");
        }
        sb.Append("Kernel standalone dev_base:\n");

        var macs = new IReadOnlyList<string>?[MaxStandaloneIds];
        foreach (var d in status.DevBase)
        {
            if (d.StandaloneId is < 0 or >= MaxStandaloneIds)
                throw new ArgumentOutOfRangeException(nameof(status), d.StandaloneId, "standalone_id must be 0..15");
            macs[d.StandaloneId] = d.Macs;
        }
        static bool Empty(IReadOnlyList<string>? m) => m is null || m.Count == 0;

        for (var id = 0; id < MaxStandaloneIds; id++)
        {
            if (elide && Empty(macs[id]))
            {
                var end = id;
                while (end + 1 < MaxStandaloneIds && Empty(macs[end + 1])) end++;
                if (end - id + 1 >= 3)
                {
                    sb.Append(I, $"        standalone_id={id}:\n");
                    sb.Append("        ...\n");
                    sb.Append(I, $"        standalone_id={end}:\n");
                    id = end;
                    continue;
                }
            }
            sb.Append(I, $"        standalone_id={id}:\n");
            var list = macs[id];
            if (list is null) continue;
            for (var j = 0; j < list.Count; j++)
                sb.Append(I, $"                phyindex={j}: mac={list[j]}, linkfail=1\n");
        }
        // Not in FortiOS's output (it has no such counters): printed only when there is something to say, so the
        // default (encryption disable, nothing dropped) keeps the scenario document's layout exactly.
        if (status.SyncProtection is { } sync && (sync.Encryption || sync.DroppedByCause.Values.Any(n => n > 0)))
        {
            sb.Append(I, $"FGSP sync: encryption={(sync.Encryption ? "enable" : "disable")}, psksecret={(sync.PskSecretSet ? "set" : "unset")}\n");
            foreach (var (cause, n) in sync.DroppedByCause.Where(kv => kv.Value > 0).OrderBy(kv => kv.Key, StringComparer.Ordinal))
                sb.Append(I, $"        dropped {cause}={n}\n");
        }
        return sb.ToString();
    }

    /// <summary>FGCP virtual MAC `00:09:0f:09:&lt;group-id&gt;:&lt;interface index&gt;` (group 88, port index 0 → …:58:00).</summary>
    public static string FgcpVirtualMac(int groupId, int interfaceIndex)
    {
        // Only the documented 00:09:0f:09 form; group ids above 255 (allowed by 7.x) use a format the reference does not give.
        ArgumentOutOfRangeException.ThrowIfNegative(groupId);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(groupId, 255);
        ArgumentOutOfRangeException.ThrowIfNegative(interfaceIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(interfaceIndex, 255);
        return Mac(0x00, 0x09, 0x0f, 0x09, (byte)groupId, (byte)interfaceIndex);
    }

    /// <summary>The VMACs of phyindex 0..count−1 of an FGCP cluster (the peer cluster's dev_base entry).</summary>
    public static IReadOnlyList<string> FgcpVirtualMacs(int groupId, int count) =>
        Enumerable.Range(0, count).Select(i => FgcpVirtualMac(groupId, i)).ToList();

    /// <summary>
    /// VMware-style physical MACs `00:0c:29:b3:b4:b5+10·i`: the NIC of phyindex i adds 10 to the last octet, modulo 256
    /// without carry (the seed's DC2_VM3 goes …:77:ff → …:77:09).
    /// </summary>
    public static IReadOnlyList<string> PhysicalMacs(uint base24, int count) =>
        Enumerable.Range(0, count)
            .Select(i => Mac(0x00, 0x0c, 0x29, (byte)(base24 >> 16), (byte)(base24 >> 8), (byte)((base24 & 0xff) + 10 * i)))
            .ToList();

    /// <summary>A stable stand-in for a unit's physical MACs: the low 24 bits come from SHA-256 of its serial number.</summary>
    public static IReadOnlyList<string> PseudoPhysicalMacs(string serial, int count) => PhysicalMacs(PseudoMacBase(serial), count);

    public static uint PseudoMacBase(string serial)
    {
        ArgumentNullException.ThrowIfNull(serial);
        var h = SHA256.HashData(Encoding.UTF8.GetBytes(serial));
        return ((uint)h[0] << 16) | ((uint)h[1] << 8) | h[2];
    }

    private static string Mac(byte a, byte b, byte c, byte d, byte e, byte f) =>
        string.Create(CultureInfo.InvariantCulture, $"{a:x2}:{b:x2}:{c:x2}:{d:x2}:{e:x2}:{f:x2}");
}
