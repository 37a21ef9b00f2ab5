using ClusterActors.Actors.Cli;
using ClusterActors.Actors.Fgcp;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Fgcp;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Actors.Tests.Fgcp;

/// <summary>
/// Heartbeats attacked on the hbdev link, against two peer tables that exchange real datagrams under a
/// <see cref="FakeTimeProvider"/> (no actor system): a genuine heartbeat replayed after its sender died, modified,
/// replayed from an older incarnation, replayed to a unit that restarted, a forged serial carrying a captured password
/// proof, and 1,000 byte flips. With `set authentication enable` none of them changes a role or keeps a dead unit alive.
/// </summary>
public sealed class FgcpHeartbeatSecuritySpec
{
    private const string Vm1 = "FGVM02TM22000001";
    private const string Vm2 = "FGVM02TM22000002";
    private const string Forged = "FGVM02TM22999999";
    private const string Checksum = "0123456789abcdef0123456789abcdef";

    /// <summary>hb-interval 2 (200 ms) × hb-lost-threshold 5: lost after 1 s; hello-holddown 5 s.</summary>
    private static HaConfig Ha(int priority, bool authentication = true, bool encryption = false, string password = "secret") => FortiConfig.Parse($$"""
        config system ha
            set group-id 1
            set group-name "DC2_VM12"
            set mode a-p
            set password {{password}}
            set hbdev "port4" 50
            set authentication {{(authentication ? "enable" : "disable")}}
            set encryption {{(encryption ? "enable" : "disable")}}
            set hb-interval 2
            set hb-lost-threshold 5
            set hello-holddown 5
            set ha-uptime-diff-margin 1
            set priority {{priority}}
        end
        """).Value!.Ha;

    private static readonly TimeSpan Check = TimeSpan.FromMilliseconds(25);
    private static readonly TimeSpan Beat = TimeSpan.FromMilliseconds(200);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 5, 20, 0, 0, TimeSpan.Zero));

    /// <summary>One unit as FgcpActor drives it: its table, and its heartbeats as FgcpActor builds and seals them.</summary>
    private sealed class Unit(string serial, HaConfig ha, TimeProvider time)
    {
        public HaConfig Ha { get; private set; } = ha;
        public FgcpPeerTable Table { get; } = Started(new FgcpPeerTable(serial, ha, 0, time, Check));
        public bool Alive = true;
        public readonly List<string> History = new();
        private long _sequence;

        private static FgcpPeerTable Started(FgcpPeerTable t)
        {
            t.SyncedChecksum = Checksum;
            t.Start();
            return t;
        }

        public FgcpHeartbeat Heartbeat() => new(
            Table.Serial, "DC2_VM", Ha.GroupId, Ha.GroupName, Table.PasswordProof, Ha.Priority, Ha.Override,
            (long)Table.Uptime.TotalMilliseconds, Table.MonitorUp, Table.State, Table.Role,
            Table.State == HaState.Work ? Table.PrimarySerial : null, ++_sequence, Table.Incarnation, Table.Hears, Checksum);

        public byte[] Datagram() => Table.Seal(Heartbeat());

        public void Hear(byte[] datagram, string hbdev = "port4") => History.AddRange(Table.Received(datagram, hbdev).History);

        public void Tick() => History.AddRange(Table.Tick().History);

        public void Reconfigure(HaConfig ha)
        {
            Ha = ha;
            History.AddRange(Table.LocalChanged(ha, 0).History);
        }
    }

    private Unit NewUnit(string serial, HaConfig ha) => new(serial, ha, _time);

    /// <summary>
    /// Runs the heartbeat segment for <paramref name="duration"/> in 25 ms checks: every 200 ms each live unit's heartbeat
    /// reaches the others (and <paramref name="tap"/>, the attacker's capture), then <paramref name="inject"/> may add
    /// datagrams of its own; <paramref name="until"/> ends it early. Returns the time it ran.
    /// </summary>
    private TimeSpan Run(IReadOnlyList<Unit> units, TimeSpan duration, Action<string, byte[]>? tap = null,
        Func<IEnumerable<(Unit To, byte[] Datagram)>>? inject = null, Func<bool>? until = null)
    {
        var elapsed = TimeSpan.Zero;
        var sinceBeat = Beat;
        while (elapsed < duration)
        {
            if (sinceBeat >= Beat)
            {
                sinceBeat = TimeSpan.Zero;
                foreach (var from in units.Where(u => u.Alive))
                {
                    var datagram = from.Datagram();
                    tap?.Invoke(from.Table.Serial, datagram);
                    foreach (var to in units.Where(u => u != from && u.Alive)) to.Hear(datagram);
                }
                if (inject is not null)
                    foreach (var (to, datagram) in inject()) to.Hear(datagram);
            }
            foreach (var u in units.Where(u => u.Alive)) u.Tick();
            if (until?.Invoke() == true) return elapsed;
            _time.Advance(Check);
            elapsed += Check;
            sinceBeat += Check;
        }
        return elapsed;
    }

    /// <summary>DC2_VM1 (priority 100) and DC2_VM2 (priority 200) formed: VM2 primary. The attacker's capture of VM2's heartbeats.</summary>
    private (Unit Vm1, Unit Vm2, List<byte[]> Captured) Formed(bool authentication = true, bool encryption = false)
    {
        var vm1 = NewUnit(Vm1, Ha(100, authentication, encryption));
        var vm2 = NewUnit(Vm2, Ha(200, authentication, encryption));
        var captured = new List<byte[]>();
        Run([vm1, vm2], TimeSpan.FromSeconds(3), tap: (serial, d) => { if (serial == Vm2) captured.Add(d); });
        Assert.Equal((HaState.Work, HaRole.Secondary, Vm2), (vm1.Table.State, vm1.Table.Role, vm1.Table.PrimarySerial));
        Assert.Equal((HaState.Work, HaRole.Primary), (vm2.Table.State, vm2.Table.Role));
        return (vm1, vm2, captured);
    }

    private static IEnumerable<(Unit, byte[])> Cycle(Unit to, List<byte[]> captured, int[] next, int perBeat = 1)
    {
        for (var i = 0; i < perBeat; i++) yield return (to, captured[next[0]++ % captured.Count]);
    }

    [Fact]
    public void A_genuine_heartbeat_replayed_after_its_sender_died_does_not_keep_it_alive()
    {
        var (vm1, vm2, captured) = Formed();
        vm2.Alive = false; // power cut: the attacker on the hbdev link replays what it captured, newest first then round again
        captured.Reverse();
        var next = new[] { 0 };
        var bound = Ha(100).LostAfter + TimeSpan.FromMilliseconds(500);

        var took = Run([vm1, vm2], TimeSpan.FromSeconds(10), inject: () => Cycle(vm1, captured, next, perBeat: 3),
            until: () => vm1.Table.Role == HaRole.Primary);

        Assert.True(vm1.Table.Role == HaRole.Primary, "the replayed heartbeats kept the dead primary alive");
        Assert.True(took <= bound, $"takeover after {took.TotalMilliseconds} ms, bound {bound.TotalMilliseconds} ms");
        Assert.Empty(vm1.Table.Peers);
        Assert.True(vm1.Table.Drops[HeartbeatDropCause.Replayed] > 0);
        Assert.Contains(vm1.History, l => l.Contains($"heartbeat from '{Vm2}' on port4 dropped (replayed)"));
    }

    [Fact]
    public void Without_authentication_the_same_replay_keeps_the_dead_primary_alive_the_FortiOS_default_risk()
    {
        var (vm1, vm2, captured) = Formed(authentication: false);
        vm2.Alive = false;
        var next = new[] { 0 };
        Run([vm1, vm2], TimeSpan.FromSeconds(5), inject: () => Cycle(vm1, captured, next));
        Assert.Equal(HaRole.Secondary, vm1.Table.Role);
        Assert.True(vm1.Table.Peers.ContainsKey(Vm2));
    }

    [Fact]
    public void A_modified_heartbeat_is_dropped_as_auth_failed_and_changes_nothing()
    {
        var (vm1, vm2, captured) = Formed();
        // The body is in clear with authentication alone: change one of its bytes in place (the config checksum's last digit).
        var modified = vm2.Datagram();
        var body = modified.AsSpan(FgcpHeartbeatEnvelope.HeaderBytes, modified.Length - FgcpHeartbeatEnvelope.HeaderBytes - FgcpHeartbeatEnvelope.MacBytes);
        var opened = FgcpHeartbeatEnvelope.Open(modified, vm2.Table.Protection).Heartbeat!;
        modified[FgcpHeartbeatEnvelope.HeaderBytes + body.Length - 1] ^= 0x01;
        vm1.Hear(modified);
        Assert.Equal(1, vm1.Table.Drops[HeartbeatDropCause.AuthFailed]);
        Assert.Equal((HaRole.Secondary, Vm2), (vm1.Table.Role, vm1.Table.PrimarySerial));
        Assert.Equal(opened.Sequence - 1, vm1.Table.Peers[Vm2].Last.Sequence); // the genuine one before it is still the last heard
        Assert.Contains(vm1.History, l => l.Contains("hbdev port4: heartbeat dropped (auth_failed)"));
    }

    /// <summary>The attack measured on the published binary: a forged serial, MonitorUp 100, the captured password proof.</summary>
    private static FgcpHeartbeat ForgedPrimary(FgcpHeartbeat captured) => captured with
    {
        Serial = Forged, MonitorUp = 100, State = HaState.Work, Role = HaRole.Primary, PrimarySerial = Forged, Sequence = 1, Incarnation = 1,
    };

    /// <summary>What the attacker can read of a captured datagram sent with authentication alone: the clear body.</summary>
    private static FgcpHeartbeat Stripped(byte[] datagram)
    {
        var clear = datagram[..^FgcpHeartbeatEnvelope.MacBytes];
        clear[5] = 0;
        return FgcpHeartbeatEnvelope.Open(clear, FgcpHeartbeatProtection.None).Heartbeat!;
    }

    [Fact]
    public void A_forged_serial_with_a_replayed_password_proof_is_dropped_and_changes_no_role()
    {
        var (vm1, vm2, captured) = Formed();
        var forged = ForgedPrimary(Stripped(captured[^1]));
        var guessedKey = FgcpHeartbeatKeys.Derive("guess", 1, "DC2_VM12");
        Run([vm1, vm2], TimeSpan.FromSeconds(2), inject: () =>
        [
            (vm1, FgcpHeartbeatEnvelope.Seal(forged, FgcpHeartbeatProtection.None)),
            (vm1, FgcpHeartbeatEnvelope.Seal(forged, new FgcpHeartbeatProtection(true, false, guessedKey))),
            (vm2, FgcpHeartbeatEnvelope.Seal(forged, FgcpHeartbeatProtection.None)),
        ]);
        Assert.Equal((HaRole.Secondary, Vm2), (vm1.Table.Role, vm1.Table.PrimarySerial));
        Assert.Equal((HaRole.Primary, Vm2), (vm2.Table.Role, vm2.Table.PrimarySerial));
        Assert.DoesNotContain(Forged, vm1.Table.Peers.Keys);
        Assert.DoesNotContain(Forged, vm2.Table.Peers.Keys);
        Assert.True(vm1.Table.Drops[HeartbeatDropCause.AuthMissing] >= 10);
        Assert.True(vm1.Table.Drops[HeartbeatDropCause.AuthFailed] >= 10);
    }

    [Fact]
    public void Without_authentication_the_forged_serial_becomes_primary_as_measured_on_the_published_binary()
    {
        var (vm1, vm2, captured) = Formed(authentication: false);
        var forged = ForgedPrimary(FgcpHeartbeatEnvelope.Open(captured[^1], FgcpHeartbeatProtection.None).Heartbeat!);
        var sequence = 0L;
        Run([vm1, vm2], TimeSpan.FromSeconds(2), inject: () =>
            [(vm1, FgcpHeartbeatEnvelope.Seal(forged with { Sequence = ++sequence }, FgcpHeartbeatProtection.None))]);
        Assert.Equal(Forged, vm1.Table.PrimarySerial);
    }

    [Fact]
    public void A_thousand_byte_flips_of_a_captured_heartbeat_never_change_a_role_and_the_unit_keeps_beating()
    {
        var (vm1, vm2, captured) = Formed();
        var random = new Random(11);
        var variants = Enumerable.Range(0, 1000).Select(_ =>
        {
            var bytes = (byte[])captured[random.Next(captured.Count)].Clone();
            bytes[random.Next(bytes.Length)] ^= (byte)random.Next(1, 256);
            return bytes;
        }).ToList();
        var sent = 0;
        var beats = 0;
        Run([vm1, vm2], TimeSpan.FromSeconds(5), inject: () =>
        {
            beats++;
            Assert.Equal((HaRole.Secondary, Vm2), (vm1.Table.Role, vm1.Table.PrimarySerial));
            Assert.Equal((HaRole.Primary, Vm2), (vm2.Table.Role, vm2.Table.PrimarySerial));
            var batch = variants.Skip(sent).Take(50).ToList();
            sent += batch.Count;
            return batch.SelectMany(d => new[] { (vm1, d), (vm2, d) });
        });
        Assert.Equal(1000, sent);
        Assert.Equal(2000, vm1.Table.Drops.Values.Sum() + vm2.Table.Drops.Values.Sum());
        Assert.Equal((HaRole.Secondary, HaRole.Primary), (vm1.Table.Role, vm2.Table.Role));
        Assert.Equal([Vm2], vm1.Table.Peers.Keys);
        // Both still produce heartbeats their peer accepts: the flips left no state that stops them.
        var before = vm1.Table.Peers[Vm2].HeardCount;
        vm1.Hear(vm2.Datagram());
        Assert.Equal(before + 1, vm1.Table.Peers[Vm2].HeardCount);
        Assert.True(beats >= 25);
    }

    [Fact]
    public void A_heartbeat_of_an_older_incarnation_is_dropped_once_the_peer_restarted()
    {
        var (vm1, vm2, oldIncarnation) = Formed();
        // VM2 restarts: a new table, a newer incarnation. It rejoins once it has heard VM1 and echoes its incarnation.
        var vm2b = NewUnit(Vm2, Ha(200));
        Assert.True(vm2b.Table.Incarnation > vm2.Table.Incarnation);
        vm2.Alive = false;
        Run([vm1, vm2b], TimeSpan.FromSeconds(3));
        Assert.Equal(vm2b.Table.Incarnation, vm1.Table.Peers[Vm2].Last.Incarnation);
        var roles = (vm1.Table.Role, vm1.Table.PrimarySerial);
        var joins = vm1.History.Count(l => l.Contains($"new member '{Vm2}' joins"));

        var next = new[] { 0 };
        Run([vm1, vm2b], TimeSpan.FromSeconds(3), inject: () => Cycle(vm1, oldIncarnation, next, perBeat: 2));

        Assert.True(vm1.Table.Drops[HeartbeatDropCause.StaleIncarnation] >= 20);
        Assert.Equal(vm2b.Table.Incarnation, vm1.Table.Peers[Vm2].Last.Incarnation);
        Assert.Equal(joins, vm1.History.Count(l => l.Contains($"new member '{Vm2}' joins")));
        Assert.Equal(roles, (vm1.Table.Role, vm1.Table.PrimarySerial));
    }

    [Fact]
    public void A_unit_that_restarted_does_not_admit_a_dead_peer_from_replayed_heartbeats()
    {
        var (vm1, vm2, captured) = Formed();
        // The attacker captures long enough to replay a fresh-looking stream (rising sequences) for longer than hello-holddown.
        Run([vm1, vm2], TimeSpan.FromSeconds(8), tap: (serial, d) => { if (serial == Vm2) captured.Add(d); });
        vm2.Alive = false;
        // VM1's FGCP restarts (a new table: no replay memory) while the attacker replays VM2's captured heartbeats in order.
        var vm1b = NewUnit(Vm1, Ha(100));
        var next = new[] { 0 };
        Run([vm1b], TimeSpan.FromSeconds(6), inject: () => Cycle(vm1b, captured, next));
        Assert.True(next[0] < captured.Count, "the replayed stream wrapped around: make the capture longer");

        Assert.Empty(vm1b.Table.Peers);
        Assert.Equal((HaState.Work, HaRole.Primary), (vm1b.Table.State, vm1b.Table.Role));
        Assert.Contains(vm1b.History, l => l.Contains("because it's the only member in the cluster"));
    }

    [Fact]
    public void A_datagram_on_an_interface_that_is_not_an_hbdev_is_dropped()
    {
        var (vm1, vm2, _) = Formed();
        vm1.Hear(vm2.Datagram(), "port2");
        Assert.Equal(1, vm1.Table.Drops[HeartbeatDropCause.NotHbdev]);
        Assert.Contains(vm1.History, l => l.Contains("hbdev port2: heartbeat dropped (not_hbdev)"));
    }

    [Fact]
    public void An_encrypted_cluster_forms_and_a_unit_of_another_password_is_dropped()
    {
        var (vm1, vm2, captured) = Formed(authentication: false, encryption: true);
        Assert.True(FgcpHeartbeatEnvelope.Open(captured[^1], vm1.Table.Protection).Encrypted);
        var stranger = NewUnit("FGVM02TM22000003", Ha(250, authentication: false, encryption: true, password: "other"));
        Run([vm1, vm2, stranger], TimeSpan.FromSeconds(2));
        Assert.DoesNotContain(stranger.Table.Serial, vm1.Table.Peers.Keys);
        Assert.True(vm1.Table.Drops[HeartbeatDropCause.DecryptFailed] > 0);
        Assert.Equal((HaRole.Secondary, Vm2), (vm1.Table.Role, vm1.Table.PrimarySerial));
    }

    [Fact]
    public void Authentication_can_be_switched_on_one_unit_at_a_time_without_losing_the_cluster()
    {
        var (vm1, vm2, _) = Formed(authentication: false);
        vm2.Reconfigure(Ha(200)); // the primary first; config sync brings it to the secondary a moment later
        Run([vm1, vm2], TimeSpan.FromMilliseconds(600));
        vm1.Reconfigure(Ha(100));
        Run([vm1, vm2], TimeSpan.FromSeconds(2));
        Assert.Equal((HaRole.Secondary, Vm2), (vm1.Table.Role, vm1.Table.PrimarySerial));
        Assert.Equal((HaRole.Primary, Vm2), (vm2.Table.Role, vm2.Table.PrimarySerial));
        Assert.DoesNotContain(vm1.History, l => l.Contains("is lost"));
        Assert.DoesNotContain(vm2.History, l => l.Contains("is lost"));
        Assert.True(FgcpHeartbeatEnvelope.Open(vm2.Datagram(), vm1.Table.Protection).Authenticated);
        Assert.True(FgcpHeartbeatEnvelope.Open(vm1.Datagram(), vm2.Table.Protection).Authenticated);
    }

    [Fact]
    public void Replayed_heartbeats_get_one_history_line_per_sender_per_minute_and_a_counter_in_diagnose_sys_ha_status()
    {
        var (vm1, vm2, captured) = Formed();
        var next = new[] { 0 };
        Run([vm1, vm2], TimeSpan.FromSeconds(10), inject: () => Cycle(vm1, captured, next, perBeat: 5));
        Assert.Equal(1, vm1.History.Count(l => l.Contains($"heartbeat from '{Vm2}' on port4 dropped (replayed)")));
        var replayed = vm1.Table.Drops[HeartbeatDropCause.Replayed];
        Assert.True(replayed >= 200, $"{replayed} replays counted");
        var snapshot = new HaStatusSnapshot(Vm1, "DC2_VM1", vm1.Ha, vm1.Table.State, vm1.Table.Role, vm1.Table.PrimarySerial, [],
            vm1.Table.Uptime, null, null, 0, []) { HeartbeatDrops = vm1.Table.Drops };
        Assert.Contains($"        activity.hb_drop.replayed = {replayed}\n", HaDiagnostics.DiagnoseStatus(snapshot));
    }
}
