using System.Globalization;
using System.Text;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.History;

namespace ClusterActors.Actors.Cli;

/// <summary>
/// FortiOS's layouts for the HA diagnostics, filled with live values. Pure functions of a status snapshot so the
/// layout is tested against the scenario document without a running unit.
/// </summary>
public static class HaDiagnostics
{
    /// <summary>FortiOS's model number for a FortiGate-VM, as the scenario prints it.</summary>
    public const int VmModel = 80006;

    public static string DiagnoseStatus(HaStatusSnapshot s)
    {
        var sb = new StringBuilder();
        var traffic = s.Hbdevs.Aggregate((p: 0L, b: 0L), (acc, h) => (acc.p + h.Counters.TxPackets + h.Counters.RxPackets,
            acc.b + h.Counters.TxBytes + h.Counters.RxBytes));
        sb.Append("HA information\n");
        sb.Append("Statistics\n");
        sb.Append($"        traffic.local = s:0 p:{traffic.p} b:{traffic.b}\n");
        sb.Append($"        traffic.total = s:0 p:{traffic.p} b:{traffic.b}\n");
        sb.Append($"        activity.ha_id_changes = {s.HaIdChanges}\n");
        // Dropped heartbeats by cause (src/Actors/Fgcp/README.md), only the causes seen, so a clean unit prints FortiOS's layout.
        foreach (var (cause, count) in s.HeartbeatDrops.Where(d => d.Value > 0).OrderBy(d => d.Key))
            sb.Append($"        activity.hb_drop.{FgcpHeartbeatValidation.CounterName(cause)} = {count}\n");
        sb.Append("        activity.fdb  = c:0 q:0\n");
        sb.Append('\n');
        sb.Append($"Model={VmModel}, Mode={ModeNumber(s.Ha.Mode)} Group={s.Ha.GroupId} Debug=0\n");
        sb.Append($"nvcluster=1, ses_pickup={(s.Ha.SessionPickup ? 1 : 0)}, delay=0\n");
        sb.Append('\n');
        sb.Append("[Debug_Zone HA information]\n");
        // FortiOS prints is_manage_primary for the unit answering; the seed shows 1 on a secondary, which we treat as an erratum.
        sb.Append($"HA group member information: is_manage_primary={(s.Role == HaRole.Primary ? 1 : 0)}.\n");
        foreach (var m in s.Members)
            sb.Append($"{m.Serial}:{RoleWord(m.Role),13}, serialno_prio={m.SerialIndex}, usr_priority={m.Priority}, hostname={m.Hostname}\n");
        sb.Append('\n');
        sb.Append("[Kernel HA information]\n");
        var primary = s.Primary;
        var primaryIndex = primary?.SerialIndex ?? 0;
        sb.Append($"vcluster 1, state={(s.State == HaState.Work ? "work" : "hello")}, primary_ip=169.254.0.{primaryIndex + 1}, primary_id={primaryIndex}\n");
        foreach (var m in s.Members)
            sb.Append($"{m.Serial}:{RoleWord(m.Role),13}, ha_prio/o_ha_prio={m.OperatingIndex}/{m.PreviousOperatingIndex}\n");
        return sb.ToString();
    }

    public static string GetStatus(HaStatusSnapshot s, IReadOnlyList<HaHistoryEntry> history)
    {
        var sb = new StringBuilder();
        sb.Append($"HA Health Status: {(s.Members.Count > 1 || s.Ha.Mode == HaMode.Standalone ? "OK" : "WARNING: no peer in the cluster")}\n");
        sb.Append("Model: FortiGate-VM64\n");
        sb.Append($"Mode: {ModeName(s.Ha.Mode)}\n");
        sb.Append($"Group Name: {s.Ha.GroupName}\n");
        sb.Append($"Group ID: {s.Ha.GroupId}\n");
        sb.Append("Debug: 0\n");
        sb.Append($"Cluster Uptime: {Duration(s.HaUptime)}\n");
        if (s.StateChangedAt is { } changed) sb.Append($"Cluster state change time: {Stamp(changed)}\n");
        var lastElection = history.LastOrDefault(h => h.Text.Contains("is selected as the primary", StringComparison.Ordinal));
        if (lastElection is not null)
        {
            sb.Append("Primary selected using:\n");
            sb.Append($"    <{Stamp(lastElection.At)}> vcluster-1: {lastElection.Text}\n");
        }
        sb.Append($"ses_pickup: {(s.Ha.SessionPickup ? "enable" : "disable")}, ses_pickup_delay=disable\n");
        sb.Append($"override: {(s.Ha.Override ? "enable" : "disable")}\n");
        sb.Append("Configuration Status:\n");
        foreach (var m in s.Members)
            sb.Append($"    {m.Serial}(updated {Ago(m.LastHeard)} seconds ago): {(m.ConfigInSync ? "in-sync" : "out-of-sync")}\n");
        sb.Append("HBDEV stats:\n");
        sb.Append($"    {s.Serial}(updated 0 seconds ago):\n");
        foreach (var (iface, up, c) in s.Hbdevs)
            sb.Append($"        {iface}: physical/10000full, {(up ? "up" : "down")}, rx-bytes/packets/dropped/errors={c.RxBytes}/{c.RxPackets}/{c.RxDropped}/0, tx={c.TxBytes}/{c.TxPackets}/0/0\n");
        foreach (var m in s.Members)
            sb.Append($"{RoleWord(m.Role),-12}: {m.Hostname,-16}, {m.Serial}, HA cluster index = {m.SerialIndex}\n");
        sb.Append("number of vcluster: 1\n");
        var primaryIndex = s.Primary?.SerialIndex ?? 0;
        sb.Append($"vcluster 1: {(s.State == HaState.Work ? "work" : "hello")} 169.254.0.{primaryIndex + 1}\n");
        foreach (var m in s.Members)
            sb.Append($"{RoleWord(m.Role)}: {m.Serial}, HA operating index = {m.OperatingIndex}\n");
        return sb.ToString();
    }

    /// <summary>`execute ha failover status`: "failover status: set" (Fortinet KB 196696); "unset" otherwise (not shown by Fortinet: our choice).</summary>
    public static string FailoverStatus(bool set) => $"failover status: {(set ? "set" : "unset")}\n";

    /// <summary>FortiOS's caution before `execute ha failover set|unset`, answered y (Fortinet KB 196696, admin guide 6.4.5).</summary>
    public static string FailoverConfirmation(bool set) =>
        $"Caution: This command {(set ? "will" : "may")} trigger an HA failover.\nIt is intended for testing purposes.\nDo you want to continue? (y/n)y\n";

    /// <summary>
    /// `diagnose sys ha checksum show`: this unit's figures, FortiOS's layout (FortiGate 7000F 7.0 handbook "Viewing more
    /// details about HA cluster synchronization"): the primary flags, then `debugzone` and `checksum`, each with global,
    /// root and all as 16 bytes in hex. Both blocks print the same figures: a change is written at once here, so nothing
    /// is ever pending (the debugzone/checksum difference of Fortinet KB 244456 does not occur).
    /// </summary>
    public static string ChecksumShow(bool primary, HaConfigChecksums sums)
    {
        var sb = new StringBuilder();
        sb.Append($"is_manage_primary()={(primary ? 1 : 0)}, is_root_primary()={(primary ? 1 : 0)}\n");
        foreach (var block in new[] { "debugzone", "checksum" })
        {
            sb.Append(block).Append('\n');
            sb.Append($"global: {Bytes(sums.Global)}\n");
            sb.Append($"root: {Bytes(sums.Root)}\n");
            sb.Append($"all: {Bytes(sums.All)}\n");
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>
    /// `diagnose sys ha checksum cluster`: every member's block under a `================== SERIAL ==================` line, by
    /// HA cluster index; a peer's figures are those its last heartbeat carried. A member that sends none (an older unit)
    /// says so instead of figures.
    /// </summary>
    public static string ChecksumCluster(HaStatusSnapshot s)
    {
        var sb = new StringBuilder();
        foreach (var m in s.Members.OrderBy(m => m.SerialIndex))
        {
            sb.Append($"================== {m.Serial} ==================\n");
            sb.Append(s.Checksums.GetValueOrDefault(m.Serial) is { } sums
                ? ChecksumShow(m.Role == HaRole.Primary, sums)
                : "no checksums: its heartbeats carry none\n\n");
        }
        return sb.ToString();
    }

    /// <summary>32 hex digits as FortiOS prints a checksum: 16 bytes separated by spaces, a space after the last.</summary>
    private static string Bytes(string hex) =>
        string.Concat(Enumerable.Range(0, hex.Length / 2).Select(i => hex.Substring(2 * i, 2) + " "));

    public static string HistoryRead(IReadOnlyList<HaHistoryEntry> entries)
    {
        var sb = new StringBuilder();
        // Newest first, as FortiOS lists its HA history, each with its index in the 512-entry ring.
        for (var i = entries.Count - 1; i >= 0; i--)
        {
            var e = entries[i];
            sb.Append($"<{entries.Count - 1 - i}> HA event\n");
            sb.Append($"    <{Stamp(e.At)}> vcluster-1: {e.Text}\n");
        }
        return sb.ToString();
    }

    public static string SystemStatus(ConfigDocument config, HaStatusSnapshot s)
    {
        var sb = new StringBuilder();
        sb.Append("Version: FortiGate-VM64 v7.4.1,build2463,230830 (GA.F) [ClusterActors emulation]\n");
        sb.Append($"Serial-Number: {s.Serial}\n");
        sb.Append($"Hostname: {config.Global.Hostname}\n");
        sb.Append("Operation Mode: NAT\n");
        sb.Append($"Current HA mode: {ModeName(s.Ha.Mode).ToLowerInvariant()}, {RoleWord(s.Role).ToLowerInvariant()}\n");
        sb.Append($"Cluster uptime: {Duration(s.HaUptime)}\n");
        return sb.ToString();
    }

    public static string RoleWord(HaRole role) => role == HaRole.Primary ? "Primary" : "Secondary";

    private static int ModeNumber(HaMode mode) => mode switch
    {
        HaMode.ActivePassive => 2,
        HaMode.ActiveActive => 1,
        _ => 0
    };

    private static string ModeName(HaMode mode) => mode switch
    {
        HaMode.ActivePassive => "HA A-P",
        HaMode.ActiveActive => "HA A-A",
        _ => "Standalone"
    };

    private static string Stamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static string Duration(TimeSpan t) => $"{t.Days} days {t.Hours}:{t.Minutes:00}:{t.Seconds:00}";

    private static long Ago(DateTimeOffset at) => Math.Max(0, (long)(DateTimeOffset.UtcNow - at).TotalSeconds);
}
