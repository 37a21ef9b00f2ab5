using System.Diagnostics;
using ClusterActors.Node.LabHarness.Client;
using ClusterActors.Actors.Unit;
using ClusterActors.Node.Drills;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// An in-memory lab whose faults take effect at once, as the code says they should: a killed primary's partner is
/// primary, the tunnel follows the cluster's primary, a shut uplink moves it to the other cluster. For the runner's
/// flow and the command's exit codes without the seconds a real lab takes.
/// </summary>
internal sealed class FakeDrillLab : IDrillLab
{
    private static readonly (string A, string B)[] Clusters = [("DC2_VM1", "DC2_VM2"), ("DC2_VM3", "DC2_VM4")];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly HashSet<string> _running = new();
    private readonly HashSet<string> _primaries = new();
    private readonly Dictionary<string, long> _forwarded = new();
    private readonly object _gate = new();
    private string? _owner;
    private bool _cluster1Routed = true;
    private DateTimeOffset? _cluster1WithdrawnAt;
    private double _rate;
    private TimeSpan? _trafficFrom;
    private TimeSpan _lastCount;

    public List<string> Calls { get; } = new();

    /// <summary>How long after the dial the standby copies appear on the other units (SA sync); null: never.</summary>
    public TimeSpan? SyncedAfter { get; set; } = TimeSpan.Zero;

    private TimeSpan? _dialedAt;

    /// <summary>CLIENT1's anti-replay drops to report: a lab where something is wrong.</summary>
    public long AntiReplayDrops { get; set; }

    public string Mode => "embedded";
    public IReadOnlyList<string> Units { get; } = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];
    public DrillTimers Timers { get; } = DrillSamples.Fast;

    public Task<string> Up(IReadOnlyList<string> primaries, CancellationToken ct)
    {
        lock (_gate)
        {
            _running.UnionWith(Units);
            _primaries.UnionWith(primaries);
        }
        return Task.FromResult("4 units (fake)");
    }

    public Task<DialInfo> Dial(CancellationToken ct)
    {
        lock (_gate)
        {
            _owner = "DC2_VM1";
            _dialedAt = _clock.Elapsed;
        }
        return Task.FromResult(new DialInfo(0xdcba, 0xabcd, "192.168.129.254", ["DC2_VM1", "DC2_VM2"]));
    }

    /// <summary>Counts the traffic so far to the unit that owns the tunnel. Under the gate.</summary>
    private void Count()
    {
        var now = _clock.Elapsed;
        if (_trafficFrom is not null && _owner is not null && _running.Contains(_owner))
            _forwarded[_owner] = _forwarded.GetValueOrDefault(_owner) + (long)((now - _lastCount).TotalSeconds * _rate);
        _lastCount = now;
    }

    public void TrafficStart(double packetsPerSecond)
    {
        lock (_gate)
        {
            Count();
            _rate = packetsPerSecond;
            _trafficFrom = _clock.Elapsed;
        }
    }

    /// <summary>Every heal leaves PC1's traffic unanswered from then on, in this lab: a lab a fault broke for good.</summary>
    public bool HealBreaksTraffic { get; set; }

    private long? _answeredSince;

    private void Heal()
    {
        if (HealBreaksTraffic) _answeredSince ??= TrafficProgressUnlocked().Sent;
    }

    public TrafficProgress TrafficProgress()
    {
        lock (_gate) return TrafficProgressUnlocked();
    }

    private TrafficProgress TrafficProgressUnlocked()
    {
        if (_trafficFrom is not { } from) return new(0, 0);
        var sent = (long)((_clock.Elapsed - from).TotalSeconds * _rate);
        return new(sent, _answeredSince is { } broken ? Math.Min(broken, sent) : sent);
    }

    public Task<EchoReport> TrafficStop()
    {
        var p = TrafficProgress();
        lock (_gate)
        {
            Count();
            _trafficFrom = null;
        }
        var lost = _faults > 0 ? Math.Min(LostPerFault, p.Answered) : 0;
        return Task.FromResult(new EchoReport(p.Sent, p.Answered - lost, lost, 0, TimeSpan.FromMilliseconds(3), TimeSpan.Zero, TimeSpan.FromSeconds(1), null, null, null));
    }

    /// <summary>PC1's requests lost once a unit was killed or an uplink taken down (none before).</summary>
    public long LostPerFault { get; set; }

    public Task<IReadOnlyDictionary<string, long>> TunnelForwarded()
    {
        lock (_gate)
        {
            Count();
            return Task.FromResult<IReadOnlyDictionary<string, long>>(_running.ToDictionary(u => u, u => _forwarded.GetValueOrDefault(u)));
        }
    }

    private static string PartnerOf(string unit) => Clusters.Select(c => c.A == unit ? c.B : c.B == unit ? c.A : null).First(p => p is not null)!;

    public Task Kill(string unit)
    {
        lock (_gate)
        {
            Calls.Add($"kill {unit}");
            _faults++;
            AntiReplayDrops += AntiReplayDropsPerFault;
            Count();
            _running.Remove(unit);
            _forwarded.Remove(unit);
            if (_primaries.Remove(unit))
            {
                _primaries.Add(PartnerOf(unit));
                _roleLog.Add((PartnerOf(unit), true, DateTimeOffset.UtcNow + RoleLoggedAfter));
            }
            if (_owner == unit) _owner = PartnerOf(unit);
        }
        return Task.CompletedTask;
    }

    public Task Start(string unit)
    {
        lock (_gate)
        {
            Calls.Add($"start {unit}");
            Heal();
            _running.Add(unit);
        }
        return Task.CompletedTask;
    }

    /// <summary>Added to CLIENT1's anti-replay drops by every fault (not by its heal): a lab that breaks an invariant.</summary>
    public long AntiReplayDropsPerFault { get; set; }

    public Task Link(string unit, string port, bool up)
    {
        lock (_gate)
        {
            Calls.Add($"{unit} {port} cable {(up ? "in" : "out")}");
            if (up) Heal();
            if (!up) AntiReplayDrops += AntiReplayDropsPerFault;
        }
        return Task.CompletedTask;
    }

    public Task SetInterfaceStatus(string unit, string port, bool up)
    {
        lock (_gate)
        {
            Calls.Add($"{unit} {port} {(up ? "up" : "down")}");
            Count();
            _cluster1Routed = up;
            _cluster1WithdrawnAt = up ? null : DateTimeOffset.UtcNow + RouterWithdrawsAfter;
            if (!up)
            {
                _owner = "DC2_VM3";
                _faults++;
            }
        }
        return Task.CompletedTask;
    }

    public Task SetHeartbeat(string unit, bool up)
    {
        lock (_gate)
        {
            Calls.Add($"{unit} heartbeat {(up ? "in" : "out")}");
            if (up) Heal();
            if (!up) AntiReplayDrops += AntiReplayDropsPerFault;
        }
        return Task.CompletedTask;
    }

    /// <summary>Cutting only the Akka path changes nothing FGCP sees, so nothing here: recorded, then healed.</summary>
    public Task CutAkkaAsync(string unitA, string unitB)
    {
        lock (_gate) Calls.Add($"akka cut {unitA} {unitB}");
        return Task.CompletedTask;
    }

    public Task HealAkkaAsync(string unitA, string unitB)
    {
        lock (_gate)
        {
            Calls.Add($"akka heal {unitA} {unitB}");
            Heal();
        }
        return Task.CompletedTask;
    }

    private readonly HashSet<string> _dbStopped = new();

    /// <summary>A config change on a unit whose database is stopped is refused, as UnitConfigActor refuses it; unless set,
    /// in a lab where something is wrong (the change taken without its journal).</summary>
    public bool AcceptsChangesWithoutDatabase { get; set; }

    /// <summary>After the database returns, this many changes are still refused (a journal slow to come back).</summary>
    public int RefusedAfterReturn { get; set; }

    public Task StopDatabaseAsync(string unit)
    {
        lock (_gate)
        {
            Calls.Add($"database stop {unit}");
            _dbStopped.Add(unit);
        }
        return Task.CompletedTask;
    }

    public Task StartDatabaseAsync(string unit)
    {
        lock (_gate)
        {
            Calls.Add($"database start {unit}");
            _dbStopped.Remove(unit);
            Heal();
        }
        return Task.CompletedTask;
    }

    public Task Freeze(string unit, bool frozen)
    {
        lock (_gate)
        {
            Calls.Add($"{(frozen ? "freeze" : "thaw")} {unit}");
            if (!frozen) Heal();
            if (frozen) AntiReplayDrops += AntiReplayDropsPerFault;
        }
        return Task.CompletedTask;
    }

    public Task<string?> ConfigChecksum(string unit)
    {
        lock (_gate) return Task.FromResult(_running.Contains(unit) ? "0123456789abcdef0123456789abcdef" : null);
    }

    /// <summary>Every unit's HA history: one line, as a unit that started and was never disturbed would have.</summary>
    public Task<CliResult> Cli(string unit, string command)
    {
        if (command == "diagnose sys ha history read")
            return Task.FromResult(new CliResult("<0> HA event\n    <2026-12-05 20:00:00> vcluster-1: hatalk started\n", 0));
        if (command != ChaosCatalog.DatabaseProbeChange) throw new NotSupportedException();
        lock (_gate)
        {
            Calls.Add($"change {unit}");
            if (_dbStopped.Contains(unit) && !AcceptsChangesWithoutDatabase)
                return Task.FromResult(new CliResult("change not applied: the config journal did not confirm it within 4 s\n", -61));
            if (!_dbStopped.Contains(unit) && RefusedAfterReturn > 0)
            {
                RefusedAfterReturn--;
                return Task.FromResult(new CliResult("change not applied: the config journal is restarting\n", -61));
            }
            return Task.FromResult(new CliResult("", 0));
        }
    }

    /// <summary>How long each HA answer takes to come back, read at the ask: a poll over a busy admin endpoint.</summary>
    public TimeSpan HaAnswerDelay { get; set; }

    /// <summary>Whether the units log their role changes with their own clock (the container lab does; the embedded does not).</summary>
    public bool KeepsRoleLog { get; set; }

    /// <summary>
    /// A heartbeat-loss step at this loss (%) makes the owner's FGCP peer primary for less than a poll and back: only its
    /// own log (<see cref="KeepsRoleLog"/>) shows it, the HA view never does (container CI trial 15, 40 % loss).
    /// </summary>
    public double? FlapsAtLoss { get; set; }

    public List<string> Impairments { get; } = new();

    public Task Impair(string unit, string port, ClusterActors.Actors.DataPlane.ImpairmentSpec? spec, long seed)
    {
        lock (_gate)
        {
            Impairments.Add($"{unit} {port} {spec?.ToString() ?? "cleared"}");
            if (spec is not null && FlapsAtLoss is { } at && Math.Abs(spec.LossPercent - at) < 1e-9 && unit == "DC2_VM1")
                _roleLog.Add(("DC2_VM2", true, DateTimeOffset.UtcNow));
        }
        return Task.CompletedTask;
    }

    /// <summary>With <see cref="KeepsRoleLog"/>: how long after the kill the surviving unit's log stamps it Primary (its
    /// own detection time, whatever the load on the machine running the spec).</summary>
    public TimeSpan RoleLoggedAfter { get; set; }

    /// <summary>How long after the router withdraws cluster 1 a read of its next hops shows it dead.</summary>
    public TimeSpan RouterSeenAfter { get; set; }

    /// <summary>Whether the router stamps its withdrawals with its own clock (the embedded lab's does).</summary>
    public bool KeepsRouterStamp { get; set; }

    /// <summary>How long after the fault the router withdraws cluster 1 (its probe rounds ran late meanwhile).</summary>
    public TimeSpan RouterWithdrawsAfter { get; set; }

    /// <summary>How late the router's probe rounds ran in all once cluster 1's uplink is down (none before); null: the
    /// lab's router does not say.</summary>
    public TimeSpan? RouterLate { get; set; }

    /// <summary>How late every running unit's timers ran with each kill or uplink taken down (none before the first);
    /// null: the lab does not say.</summary>
    public TimeSpan? UnitLate { get; set; }

    /// <summary>Kills and uplinks taken down so far: each adds <see cref="UnitLate"/> to every running unit's lateness.</summary>
    private int _faults;

    /// <summary>The lateness given is the machine's stalls (the container lab's <see cref="MachineStalls"/>).</summary>
    public bool LatenessIsMachineWide { get; set; }

    public TimeSpan? UnitTimersLate(string unit)
    {
        if (UnitLate is not { } late) return null;
        lock (_gate) return !_running.Contains(unit) ? null : late * _faults;
    }

    public TimeSpan? RouterProbesLate()
    {
        if (RouterLate is not { } late) return null;
        lock (_gate) return _cluster1WithdrawnAt is null ? TimeSpan.Zero : late;
    }

    private readonly List<(string Unit, bool Primary, DateTimeOffset At)> _roleLog = new();

    public async Task<HaView?> Ha(string unit)
    {
        HaView? view;
        lock (_gate)
        {
            if (!_running.Contains(unit)) view = null;
            else
            {
                var primary = _primaries.Contains(unit) ? unit : PartnerOf(unit);
                var members = _running.Contains(PartnerOf(unit)) ? 2 : 1;
                view = new HaView(unit, true, primary == unit, primary, members);
            }
        }
        if (HaAnswerDelay > TimeSpan.Zero) await Task.Delay(HaAnswerDelay);
        return view;
    }

    public Task<DateTimeOffset?> RoleChangedAt(string unit, bool primary, DateTimeOffset since)
    {
        lock (_gate)
            return Task.FromResult(KeepsRoleLog
                ? _roleLog.Where(c => c.Unit == unit && c.Primary == primary && c.At >= since).Select(c => (DateTimeOffset?)c.At).FirstOrDefault()
                : null);
    }

    public Task<IReadOnlyList<TunnelView>?> Tunnels(string unit)
    {
        lock (_gate)
        {
            if (!_running.Contains(unit)) return Task.FromResult<IReadOnlyList<TunnelView>?>(null);
            if (_owner == unit) return Task.FromResult<IReadOnlyList<TunnelView>?>([new TunnelView("vpn1_1", TunnelRole.SyncPrimary, 0xabcd, 0xdcba)]);
            var synced = _dialedAt is { } at && SyncedAfter is { } delay && _clock.Elapsed - at >= delay;
            return Task.FromResult<IReadOnlyList<TunnelView>?>(synced ? [new TunnelView("vpn1_1", TunnelRole.Standby, 0xabcd, 0xdcba)] : []);
        }
    }

    /// <summary>Whether the router logs its withdrawals with its own clock (the container lab's does, RouterLog).</summary>
    public bool KeepsRouterLog { get; set; }

    public Task<DateTimeOffset?> RouterWithdrewAt(string address, DateTimeOffset since)
    {
        lock (_gate)
            return Task.FromResult(KeepsRouterLog && address == "192.168.129.254" && _cluster1WithdrawnAt is { } at && at >= since && DateTimeOffset.UtcNow >= at
                ? at : (DateTimeOffset?)null);
    }

    public IReadOnlyList<NextHopView> RouterNextHops()
    {
        lock (_gate)
        {
            // A slow reader (a poll of the router's table on two busy cores) sees the withdrawal only RouterSeenAfter later.
            var seen = _cluster1Routed || _cluster1WithdrawnAt is { } at && DateTimeOffset.UtcNow - at < RouterSeenAfter;
            if (_cluster1WithdrawnAt is { } stamp && DateTimeOffset.UtcNow < stamp) seen = true; // not withdrawn yet
            return [new("192.168.129.254", ["DC2_VM1", "DC2_VM2"], seen, seen || !KeepsRouterStamp ? null : _cluster1WithdrawnAt),
                new("192.168.130.254", ["DC2_VM3", "DC2_VM4"], true)];
        }
    }

    public ClientView Client() => new(AntiReplayDrops, 0, 0xdcba, 0xabcd, true);

    public bool Disposed { get; private set; }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }
}
